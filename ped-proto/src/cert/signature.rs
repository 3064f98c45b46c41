//! ECDSA P-521 with SHA-512 verification (FIPS 186-5 §6.4.2), the only signature
//! algorithm of the certificate chain. Checked against every Wycheproof
//! `ecdsa_secp521r1_sha512` case, DER and P1363.

use p521::ecdsa::signature::Verifier;
use p521::ecdsa::{DerSignature, Signature, VerifyingKey};

use crate::ecdh::EcdhPublicKey;

/// Verifies an ASN.1 DER `ECDSA-Sig-Value` (the X.509 form) over `msg` hashed with
/// SHA-512. `public_key_sec1` is a SEC1 point, compressed or not. Any malformed input
/// (key off the curve, BER instead of DER, r or s out of range, trailing bytes) is
/// simply a signature that does not verify.
pub fn verify_ecdsa_p521_sha512(public_key_sec1: &[u8], msg: &[u8], der_sig: &[u8]) -> bool {
    EcdhPublicKey::from_sec1(public_key_sec1).is_ok_and(|key| verify_der_signature(&key, msg, der_sig))
}

/// Verifies an IEEE P1363 signature, `r ‖ s` as two 66-byte big-endian integers
/// (132 bytes in all), over `msg` hashed with SHA-512.
pub fn verify_ecdsa_p521_sha512_p1363(public_key_sec1: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let Ok(key) = EcdhPublicKey::from_sec1(public_key_sec1) else {
        return false;
    };
    Signature::from_slice(sig).is_ok_and(|sig| VerifyingKey::from(key.as_p521()).verify(msg, &sig).is_ok())
}

/// The DER verification the chain verifier uses, on a key that is already validated.
pub(super) fn verify_der_signature(key: &EcdhPublicKey, msg: &[u8], der_sig: &[u8]) -> bool {
    DerSignature::from_bytes(der_sig).is_ok_and(|sig| VerifyingKey::from(key.as_p521()).verify(msg, &sig).is_ok())
}
