//! P-521 ECC CDH (SP 800-56A Rev.3 §5.7.1.2) with full public-key validation.

use p521::elliptic_curve::PrimeField;
use p521::elliptic_curve::sec1::ToSec1Point;
use p521::{FieldBytes, NistP521, NonZeroScalar, PublicKey, SecretKey};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::error::Error;

/// Length of an uncompressed SEC1 point: `04 ‖ X ‖ Y`.
pub const PUBLIC_KEY_LEN: usize = 133;
/// Length of a field element, of a private scalar and of the shared secret Z.
pub const FIELD_LEN: usize = 66;

/// A validated P-521 public key: on the curve, not the identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EcdhPublicKey(PublicKey);

impl EcdhPublicKey {
    /// Decodes the uncompressed form, the only one used on the wire
    /// (SP 800-56A §5.6.2.3.3 full validation: length, prefix, range, curve, not identity).
    pub fn from_uncompressed(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != PUBLIC_KEY_LEN || bytes[0] != 0x04 {
            return Err(Error::InvalidPublicKey);
        }
        Self::from_sec1(bytes)
    }

    /// Decodes any SEC1 encoding (compressed or uncompressed), with the same validation.
    /// For interoperating with stored keys and test vectors; the wire uses
    /// [`from_uncompressed`](Self::from_uncompressed).
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, Error> {
        PublicKey::from_sec1_bytes(bytes).map(Self).map_err(|_| Error::InvalidPublicKey)
    }

    /// Wraps a key that the p521 crate has already validated.
    pub fn from_p521(key: PublicKey) -> Self {
        Self(key)
    }

    /// The uncompressed SEC1 encoding, `04 ‖ X ‖ Y`.
    pub fn to_uncompressed(&self) -> [u8; PUBLIC_KEY_LEN] {
        let point = self.0.as_affine().to_sec1_point(false);
        let mut out = [0u8; PUBLIC_KEY_LEN];
        out.copy_from_slice(point.as_bytes());
        out
    }

    /// The p521 crate's view of the key (for certificates).
    pub fn as_p521(&self) -> &PublicKey {
        &self.0
    }
}

/// A P-521 key pair for ECC CDH. The private scalar is wiped on drop (by `SecretKey`).
#[derive(Clone)]
pub struct EcdhKeyPair {
    secret: SecretKey,
    public: EcdhPublicKey,
}

impl core::fmt::Debug for EcdhKeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EcdhKeyPair").field("public", &self.public).finish_non_exhaustive()
    }
}

impl EcdhKeyPair {
    /// Generates a key pair by rejection sampling (FIPS 186-5 A.4.2): 66 random
    /// bytes with the top 7 bits cleared, retried while the value is 0 or ≥ n.
    ///
    /// p521's own generator draws 528-bit candidates from the RNG about 128 times per
    /// key; masking to 521 bits first gives the same uniform distribution on
    /// [1, n-1] and almost never retries (n is within 2^-260 of 2^521).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut candidate = Zeroizing::new([0u8; FIELD_LEN]);
        loop {
            rng.fill_bytes(candidate.as_mut_slice());
            candidate[0] &= 0x01;
            // `SecretKey::from_bytes` refuses 0 and values ≥ n in constant time, so
            // the rejection test leaks nothing about a candidate that is kept.
            if let Ok(pair) = Self::from_private_bytes(candidate.as_slice()) {
                return pair;
            }
        }
    }

    /// Loads a private scalar (big-endian, exactly 66 bytes, in [1, n-1]).
    pub fn from_private_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let field: &FieldBytes = bytes.try_into().map_err(|_| Error::InvalidPrivateKey)?;
        let secret = SecretKey::from_bytes(field).map_err(|_| Error::InvalidPrivateKey)?;
        let public = EcdhPublicKey(secret.public_key());
        Ok(EcdhKeyPair { secret, public })
    }

    /// The private scalar, big-endian (for writing onto an orange key; handle with care).
    pub fn private_bytes(&self) -> Zeroizing<[u8; FIELD_LEN]> {
        let mut out = Zeroizing::new([0u8; FIELD_LEN]);
        out.copy_from_slice(&self.secret.to_bytes());
        out
    }

    /// The public half.
    pub fn public(&self) -> &EcdhPublicKey {
        &self.public
    }

    /// ECC CDH: Z is the x-coordinate of d·Q, 66 bytes big-endian. P-521 has
    /// cofactor 1 and `peer` is validated, so the product is never the identity.
    pub fn diffie_hellman(&self, peer: &EcdhPublicKey) -> SharedSecret {
        let shared = self.secret.diffie_hellman(&peer.0);
        let mut z = Zeroizing::new([0u8; FIELD_LEN]);
        z.copy_from_slice(shared.raw_secret_bytes());
        SharedSecret(z)
    }
}

/// A P-521 private key without its public half: the RPK static key at the PED, which
/// needs only `d·Q_HSM` and so never pays for `d·G`. Wiped on drop.
#[derive(Clone)]
pub struct EcdhPrivateKey(NonZeroScalar);

impl core::fmt::Debug for EcdhPrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("EcdhPrivateKey(..)")
    }
}

impl Drop for EcdhPrivateKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl EcdhPrivateKey {
    /// A private key from a scalar already known to be in [1, n-1].
    pub fn from_scalar(scalar: NonZeroScalar) -> Self {
        EcdhPrivateKey(scalar)
    }

    /// The public half, `d·G` (one scalar multiplication).
    pub fn public_key(&self) -> EcdhPublicKey {
        EcdhPublicKey(PublicKey::from_secret_scalar(&self.0))
    }

    /// The private scalar, big-endian (for test vectors; handle with care).
    pub fn private_bytes(&self) -> Zeroizing<[u8; FIELD_LEN]> {
        let mut out = Zeroizing::new([0u8; FIELD_LEN]);
        out.copy_from_slice(&self.0.to_repr());
        out
    }

    /// ECC CDH, as [`EcdhKeyPair::diffie_hellman`].
    pub fn diffie_hellman(&self, peer: &EcdhPublicKey) -> SharedSecret {
        let shared = p521::elliptic_curve::ecdh::diffie_hellman(&self.0, peer.0.as_affine());
        let mut z = Zeroizing::new([0u8; FIELD_LEN]);
        z.copy_from_slice(shared.raw_secret_bytes());
        SharedSecret(z)
    }
}

/// The shared secret Z of one ECC CDH computation. Wiped on drop, never printed.
pub struct SharedSecret(Zeroizing<[u8; FIELD_LEN]>);

impl SharedSecret {
    /// The 66 bytes of Z.
    pub fn as_bytes(&self) -> &[u8; FIELD_LEN] {
        &self.0
    }
}

impl core::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SharedSecret(..)")
    }
}

/// The curve type, re-exported so that users need not name p521.
pub type Curve = NistP521;
