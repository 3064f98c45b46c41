//! Finite-field Diffie-Hellman over RFC 7919's ffdhe2048 group.
//!
//! The seed names "the Diffie-Hellman key establishment algorithm" and no group; the
//! group is RFC 7919 appendix A.1's: a safe prime `p` (its only small subgroup is
//! {1, p−1}), generator 2, approved for SP 800-56A Rev.3 in its appendix D. Private
//! exponents are 256 bits, above the 225 that RFC 7919 §5.2 asks of this group, so
//! that a PED's exponentiation costs 256 squarings rather than 2048.

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, U256, U2048};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::error::Error;

/// Length of a public value and of the shared secret: `p` in bytes, big-endian,
/// leading zeros kept.
pub const DH_LEN: usize = 256;
/// Length of a private exponent.
pub const EXPONENT_LEN: usize = 32;

/// RFC 7919 appendix A.1, ffdhe2048's `p`.
const FFDHE2048_P: Odd<U2048> = Odd::<U2048>::from_be_hex(concat!(
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695",
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A",
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935",
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A",
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4",
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61",
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005",
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B423861285C97FFFFFFFFFFFFFFFF",
));

/// A public value `g^x mod p`, checked to lie in [2, p−2] (RFC 7919 §5.1).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DhPublic([u8; DH_LEN]);

impl core::fmt::Debug for DhPublic {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "DhPublic({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

impl DhPublic {
    /// A peer's value from the wire; 0, 1, p−1 and anything not below `p` are refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let value: [u8; DH_LEN] = bytes.try_into().map_err(|_| Error::InvalidPublicKey)?;
        let y = U2048::from_be_slice(&value);
        let p_minus_1 = FFDHE2048_P.get().wrapping_sub(&U2048::ONE);
        if y <= U2048::ONE || y >= p_minus_1 {
            return Err(Error::InvalidPublicKey);
        }
        Ok(DhPublic(value))
    }

    /// The big-endian bytes.
    pub fn as_bytes(&self) -> &[u8; DH_LEN] {
        &self.0
    }
}

/// An ephemeral key pair; the exponent is wiped on drop and never shown.
#[derive(Clone)]
pub struct DhKeyPair {
    exponent: Zeroizing<[u8; EXPONENT_LEN]>,
    public: DhPublic,
}

impl core::fmt::Debug for DhKeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DhKeyPair").field("public", &self.public).finish_non_exhaustive()
    }
}

impl DhKeyPair {
    /// A fresh pair from `rng`.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        loop {
            let mut exponent = Zeroizing::new([0u8; EXPONENT_LEN]);
            rng.fill_bytes(exponent.as_mut_slice());
            if let Ok(pair) = Self::from_exponent(&exponent) {
                return pair;
            }
        }
    }

    /// The pair of a given exponent (known-answer tests); 0 and 1 are refused.
    pub fn from_exponent(exponent: &[u8; EXPONENT_LEN]) -> Result<Self, Error> {
        if U256::from_be_slice(exponent) <= U256::ONE {
            return Err(Error::InvalidPrivateKey);
        }
        let public = power(&U2048::from_u8(2), exponent);
        Ok(DhKeyPair { exponent: Zeroizing::new(*exponent), public: DhPublic(*public) })
    }

    /// `g^x mod p`.
    pub fn public(&self) -> &DhPublic {
        &self.public
    }

    /// Z = `peer^x mod p`, 256 bytes big-endian.
    pub fn agree(&self, peer: &DhPublic) -> Zeroizing<[u8; DH_LEN]> {
        power(&U2048::from_be_slice(&peer.0), &self.exponent)
    }
}

fn power(base: &U2048, exponent: &[u8; EXPONENT_LEN]) -> Zeroizing<[u8; DH_LEN]> {
    let params = FixedMontyParams::new_vartime(FFDHE2048_P);
    let x = Zeroizing::new(U256::from_be_slice(exponent));
    let result = Zeroizing::new(FixedMontyForm::new(base, &params).pow(&*x).retrieve());
    let mut out = Zeroizing::new([0u8; DH_LEN]);
    out.copy_from_slice(result.to_be_bytes().as_ref());
    out
}
