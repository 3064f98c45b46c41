//! The total decoder of one certificate: DER in, the facts the verifier needs out, or a
//! [`CertificateError`] naming what is wrong. Chain rules live in `verify`; this module
//! only judges a certificate on its own.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, PrintableStringRef};
use der::oid::AssociatedOid;
use der::oid::db::rfc4519::SERIAL_NUMBER;
use der::{Decode, Reader, SliceReader, Tag, Tagged};
use p521::NistP521;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::certificate::Version;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use x509_cert::name::Name;

use super::signature::verify_der_signature;
use super::{LeafRole, MAX_CERT_LEN};
use crate::ecdh::EcdhPublicKey;
use crate::error::CertificateError;

/// A certificate that decoded and passed every check that needs no other certificate.
#[derive(Debug)]
pub(super) struct ParsedCert<'a> {
    der: &'a [u8],
    /// The exact signed bytes: the signature covers these, not a re-encoding of them.
    tbs: &'a [u8],
    signature: &'a [u8],
    cert: Certificate,
    key: EcdhPublicKey,
    not_before: u64,
    not_after: u64,
    constraints: Constraints,
}

/// What the basicConstraints, keyUsage and extendedKeyUsage extensions allow.
#[derive(Clone, Copy, Debug, Default)]
struct Constraints {
    ca: bool,
    path_len: Option<u8>,
    key_usage: Option<KeyUsage>,
    /// The leaf role named by an extendedKeyUsage that holds exactly one purpose, a
    /// project one; `None` when the extension is absent or says anything else.
    leaf_role: Option<LeafRole>,
}

impl<'a> ParsedCert<'a> {
    /// Decodes `der` and checks its algorithms, key and extensions.
    pub(super) fn parse(der: &'a [u8]) -> Result<Self, CertificateError> {
        if der.len() > MAX_CERT_LEN {
            return Err(CertificateError::Malformed);
        }
        let cert = Certificate::from_der(der).map_err(|_| CertificateError::Malformed)?;
        let (tbs, signature) = signed_parts(der).map_err(|_| CertificateError::Malformed)?;
        let body = cert.tbs_certificate();
        if body.version() != Version::V3 {
            return Err(CertificateError::Malformed);
        }
        check_signature_algorithm(cert.signature_algorithm(), body.signature())?;
        let key = p521_key(body.subject_public_key_info())?;
        let constraints = constraints(body.extensions().map_or(&[], |e| e.as_slice()))?;
        let validity = body.validity();
        Ok(ParsedCert {
            der,
            tbs,
            signature,
            key,
            not_before: validity.not_before.to_unix_duration().as_secs(),
            not_after: validity.not_after.to_unix_duration().as_secs(),
            constraints,
            cert,
        })
    }

    pub(super) fn der(&self) -> &'a [u8] {
        self.der
    }

    pub(super) fn key(&self) -> &EcdhPublicKey {
        &self.key
    }

    pub(super) fn subject(&self) -> &Name {
        self.cert.tbs_certificate().subject()
    }

    pub(super) fn path_len(&self) -> Option<u8> {
        self.constraints.path_len
    }

    /// The validity period, inclusive at both ends (RFC 5280 §4.1.2.5).
    pub(super) fn validity(&self) -> (u64, u64) {
        (self.not_before, self.not_after)
    }

    pub(super) fn check_valid_at(&self, now: u64) -> Result<(), CertificateError> {
        if (self.not_before..=self.not_after).contains(&now) { Ok(()) } else { Err(CertificateError::Expired) }
    }

    /// Checks that `issuer` issued this certificate: names chain and the signature
    /// verifies under the issuer's key. Whether the issuer may issue is
    /// [`check_can_issue`](Self::check_can_issue)'s business.
    pub(super) fn check_issued_by(&self, issuer: &ParsedCert<'_>) -> Result<(), CertificateError> {
        if self.cert.tbs_certificate().issuer() != issuer.subject() {
            return Err(CertificateError::NameMismatch);
        }
        if !verify_der_signature(&issuer.key, self.tbs, self.signature) {
            return Err(CertificateError::BadSignature);
        }
        Ok(())
    }

    /// Checks that this certificate may sign certificates with `cas_below` further CA
    /// certificates between it and the leaf (RFC 5280 §4.2.1.9: the leaf itself does
    /// not count).
    pub(super) fn check_can_issue(&self, cas_below: usize) -> Result<(), CertificateError> {
        if !self.constraints.ca {
            return Err(CertificateError::NotACa);
        }
        if !self.constraints.key_usage.is_some_and(|ku| ku.key_cert_sign()) {
            return Err(CertificateError::KeyUsage);
        }
        match self.constraints.path_len {
            Some(max) if usize::from(max) < cas_below => Err(CertificateError::NotACa),
            _ => Ok(()),
        }
    }

    /// Checks that this is an end-entity certificate for key agreement in `role`, and
    /// in no other: its extendedKeyUsage names `role`'s purpose and nothing more. A CA
    /// key used for key agreement is refused too: one key, one purpose.
    pub(super) fn check_key_agreement_leaf(&self, role: LeafRole) -> Result<(), CertificateError> {
        let agrees = self.constraints.key_usage.is_some_and(|ku| ku.key_agreement());
        if self.constraints.ca || !agrees || self.constraints.leaf_role != Some(role) {
            return Err(CertificateError::KeyUsage);
        }
        Ok(())
    }

    /// The X.520 serialNumber attribute of the subject, if present.
    pub(super) fn subject_serial_number(&self) -> Result<Option<String>, CertificateError> {
        let serial: Option<PrintableStringRef<'_>> =
            self.subject().by_oid(SERIAL_NUMBER).map_err(|_| CertificateError::Malformed)?;
        Ok(serial.map(|s| s.as_str().to_string()))
    }
}

/// The TBSCertificate's encoding exactly as received, and the signature's bytes.
fn signed_parts(der: &[u8]) -> der::Result<(&[u8], &[u8])> {
    let mut reader = SliceReader::new(der)?;
    let parts = reader.sequence(|outer| {
        let tbs = outer.tlv_bytes()?;
        outer.tlv_bytes()?; // signatureAlgorithm, checked on the decoded form
        let signature = BitStringRef::decode(outer)?;
        Ok::<_, der::Error>((tbs, signature))
    })?;
    reader.finish()?;
    let (tbs, signature) = parts;
    // An ECDSA signature is a whole number of octets (RFC 5480 §2.2).
    let signature = signature.as_bytes().ok_or_else(|| Tag::BitString.value_error())?;
    Ok((tbs, signature))
}

/// Both AlgorithmIdentifiers must be ecdsa-with-SHA512 with absent parameters
/// (RFC 5758 §3.2), and equal (RFC 5280 §4.1.1.2).
fn check_signature_algorithm(
    outer: &AlgorithmIdentifierOwned,
    inner: &AlgorithmIdentifierOwned,
) -> Result<(), CertificateError> {
    if outer != inner || outer.oid != ecdsa::ECDSA_SHA512_OID || outer.parameters.is_some() {
        return Err(CertificateError::UnsupportedAlgorithm);
    }
    Ok(())
}

/// id-ecPublicKey on namedCurve secp521r1 (RFC 5480 §2.1.1), uncompressed, and a valid
/// point (SP 800-56A §5.6.2.3.3 full validation).
fn p521_key(spki: &SubjectPublicKeyInfoOwned) -> Result<EcdhPublicKey, CertificateError> {
    let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    if spki.algorithm.oid != p521::elliptic_curve::ALGORITHM_OID || curve != Some(NistP521::OID) {
        return Err(CertificateError::UnsupportedKey);
    }
    let point = spki.subject_public_key.as_bytes().ok_or(CertificateError::UnsupportedKey)?;
    EcdhPublicKey::from_uncompressed(point).map_err(|_| CertificateError::UnsupportedKey)
}

/// Reads basicConstraints, keyUsage and extendedKeyUsage, refusing duplicates
/// (RFC 5280 §4.2) and any critical extension this profile does not define.
fn constraints(extensions: &[Extension]) -> Result<Constraints, CertificateError> {
    let mut out = Constraints::default();
    for (i, ext) in extensions.iter().enumerate() {
        if extensions[..i].iter().any(|earlier| earlier.extn_id == ext.extn_id) {
            return Err(CertificateError::Malformed);
        }
        let value = ext.extn_value.as_bytes();
        match ext.extn_id {
            BasicConstraints::OID => {
                let bc = BasicConstraints::from_der(value).map_err(|_| CertificateError::Malformed)?;
                out.ca = bc.ca;
                // A path length on a non-CA certificate means nothing (RFC 5280 §4.2.1.9).
                out.path_len = bc.path_len_constraint.filter(|_| bc.ca);
            }
            KeyUsage::OID => {
                out.key_usage = Some(KeyUsage::from_der(value).map_err(|_| CertificateError::Malformed)?);
            }
            ExtendedKeyUsage::OID => out.leaf_role = leaf_role(value)?,
            SubjectKeyIdentifier::OID | AuthorityKeyIdentifier::OID => {}
            _ if ext.critical => return Err(CertificateError::Malformed),
            _ => {}
        }
    }
    Ok(out)
}

/// Reads an extendedKeyUsage value, `SEQUENCE SIZE (1..MAX) OF KeyPurposeId`, and
/// returns the leaf role it names if it holds exactly one purpose and that purpose is
/// one of [`LeafRole`]'s. Purposes are compared as DER contents: ours have a 128-bit
/// arc that `const-oid` cannot decode, and any other purpose, however encoded, is not
/// ours. The list is bounded by [`MAX_CERT_LEN`].
fn leaf_role(value: &[u8]) -> Result<Option<LeafRole>, CertificateError> {
    let purposes = Vec::<AnyRef<'_>>::from_der(value).map_err(|_| CertificateError::Malformed)?;
    if purposes.is_empty() || purposes.iter().any(|purpose| purpose.tag() != Tag::ObjectIdentifier) {
        return Err(CertificateError::Malformed);
    }
    Ok(match purposes.as_slice() {
        [only] => LeafRole::from_purpose_oid(only.value()),
        _ => None,
    })
}
