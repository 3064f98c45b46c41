//! The orange keyset: one random seed from which the RPV and the RPK static key are
//! derived, and the HSM's RPV rotation.
//!
//! An orange keyset carries one secret, split M of N like every other: a 32-byte
//! **orange seed**. Everything the Remote PED needs comes from it:
//!
//! ```text
//! RPV       = SHA-512("PED orange RPV v2" ‖ seed)[0..32]
//! RPK d     = DeriveKeyPair(seed, info = "RPK static key")      RFC 9497 §3.2.1, P-521,
//!             DST = "DeriveKeyPair" ‖ "PED-ORANGE-V2-P521-SHA512"  HashToScalar = RFC 9380
//!                                                                   hash_to_field, SHA-512
//! ```
//!
//! The layout is chosen so that a wrong PIN cannot be noticed by anyone holding the
//! key: every 32-byte value is a valid seed, and every seed gives a valid RPV and a
//! valid scalar (DeriveKeyPair's wide reduction never fails in practice: it retries
//! on zero, probability 2^-521). The key carries nothing else derived from the seed:
//! no RPK certificate, no public key, no check value. What tells a PED that an orange
//! key is meant for an HSM is the keyset identity (16 random bytes, unrelated to the
//! seed), which the HSM lists in its hello. The RPK public key exists only in the HSMs
//! that accept the keyset and is never sent: a wrong PIN gives another RPV and another
//! scalar, and only the HSM's check of the PED's key-confirmation tag finds out.
//!
//! The PED derives the scalar but never its public key (it needs only `d·Q_HSM`),
//! so the derivation costs it a few SHA-512 compressions, not a scalar multiplication.

use p521::elliptic_curve::array::typenum::U98;
use p521::hash2curve::{ExpandMsgXmd, hash_to_scalar};
use p521::{NistP521, NonZeroScalar};
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use crate::ecdh::{EcdhPrivateKey, EcdhPublicKey};
use crate::error::Error;
use crate::quorum::KeysetId;
use crate::secrets::{RPV_LEN, Rpv};

/// Length of the orange seed, the orange keyset's secret.
pub const ORANGE_SEED_LEN: usize = 32;

/// The RPV derivation's label.
pub const RPV_LABEL: &[u8] = b"PED orange RPV v2";
/// The RFC 9497 context string of the RPK derivation.
pub const RPK_CONTEXT: &[u8] = b"PED-ORANGE-V2-P521-SHA512";
/// The RFC 9497 `info` of the RPK derivation.
pub const RPK_INFO: &[u8] = b"RPK static key";

/// What an orange keyset gives the PED once its seed is reassembled: the keyset it
/// came from, the RPV and the RPK static private key.
#[derive(Debug, Clone)]
pub struct RpkCredential {
    /// The orange keyset's identity, as on its keys.
    pub keyset_id: KeysetId,
    /// The RPV.
    pub rpv: Rpv,
    /// The RPK static private key.
    pub static_key: EcdhPrivateKey,
}

impl RpkCredential {
    /// Derives the credential from a reassembled orange seed. Any 32 bytes are a seed;
    /// other lengths are refused (a damaged key or a keyset of another colour).
    pub fn from_seed(keyset_id: KeysetId, seed: &[u8]) -> Result<Self, Error> {
        if seed.len() != ORANGE_SEED_LEN {
            return Err(Error::InvalidPrivateKey);
        }
        let digest =
            Zeroizing::new(<[u8; 64]>::from(Sha512::new().chain_update(RPV_LABEL).chain_update(seed).finalize()));
        let mut rpv = Zeroizing::new([0u8; RPV_LEN]);
        rpv.copy_from_slice(&digest[..RPV_LEN]);
        let mut dst = Zeroizing::new([0u8; 13 + RPK_CONTEXT.len()]);
        dst[..13].copy_from_slice(b"DeriveKeyPair");
        dst[13..].copy_from_slice(RPK_CONTEXT);
        let scalar = derive_key_pair(seed, RPK_INFO, dst.as_slice())?;
        Ok(RpkCredential { keyset_id, rpv: Rpv::from_bytes(*rpv), static_key: EcdhPrivateKey::from_scalar(scalar) })
    }
}

/// RFC 9497 §3.2.1 DeriveKeyPair for P521-SHA512, the private half: `HashToScalar(seed ‖
/// I2OSP(len(info), 2) ‖ info ‖ I2OSP(counter, 1), dst)` for counter = 0, 1, … until
/// non-zero. `dst` is `"DeriveKeyPair" ‖ contextString`. Public so that the RFC's own
/// test vectors can check it.
pub fn derive_key_pair(seed: &[u8], info: &[u8], dst: &[u8]) -> Result<NonZeroScalar, Error> {
    let info_len = u16::try_from(info.len()).map_err(|_| Error::KdfLengthInvalid)?.to_be_bytes();
    for counter in 0..=u8::MAX {
        let scalar =
            hash_to_scalar::<NistP521, ExpandMsgXmd<Sha512>, U98>(&[seed, &info_len, info, &[counter]], &[dst])
                .map_err(|_| Error::KdfLengthInvalid)?;
        if let Some(nonzero) = Option::from(NonZeroScalar::new(scalar)) {
            return Ok(nonzero);
        }
    }
    Err(Error::InvalidPrivateKey)
}

/// An RPV an HSM accepts: the orange keyset it came from, the RPV and the RPK static
/// public key. During RPV rotation the HSM holds the old and the new one.
#[derive(Debug, Clone)]
pub struct RpkEntry {
    /// The orange keyset's identity (listed in the HSM's hello).
    pub keyset_id: KeysetId,
    /// The RPV.
    pub rpv: Rpv,
    /// The RPK static public key.
    pub public_key: EcdhPublicKey,
}

impl RpkEntry {
    /// The HSM's entry for an orange seed: the credential's RPV and the public half of
    /// its static key (one scalar multiplication, done by the HSM at `ped vector init`).
    pub fn from_seed(keyset_id: KeysetId, seed: &[u8]) -> Result<Self, Error> {
        let credential = RpkCredential::from_seed(keyset_id, seed)?;
        Ok(RpkEntry { keyset_id, public_key: credential.static_key.public_key(), rpv: credential.rpv })
    }
}

/// The RPVs an HSM accepts, and a rotation in progress.
///
/// `ped vector init` on an HSM that already has an RPV writes a new orange keyset while
/// the old RPV keeps authenticating (the channel the keys are written over may be
/// using it). The new RPV replaces the old only when the PED reports the whole new
/// keyset written; an interrupted rotation leaves the old RPV in force.
#[derive(Debug, Default)]
pub struct RpvRing {
    current: Option<RpkEntry>,
    pending: Option<RpkEntry>,
}

impl RpvRing {
    /// A ring holding `current`, if any.
    pub fn new(current: Option<RpkEntry>) -> Self {
        RpvRing { current, pending: None }
    }

    /// The RPVs a handshake may use now: the current one only.
    pub fn accepted(&self) -> &[RpkEntry] {
        self.current.as_slice()
    }

    /// The RPV in force.
    pub fn current(&self) -> Option<&RpkEntry> {
        self.current.as_ref()
    }

    /// Starts a rotation to `next`; a rotation already pending is abandoned.
    pub fn begin(&mut self, next: RpkEntry) {
        self.pending = Some(next);
    }

    /// The rotation in progress.
    pub fn pending(&self) -> Option<&RpkEntry> {
        self.pending.as_ref()
    }

    /// Puts `entry` in force at once (a reused orange keyset: nothing is written).
    pub fn replace(&mut self, entry: RpkEntry) {
        self.pending = None;
        self.current = Some(entry);
    }

    /// Forgets every RPV (too many failed RPV logins, a factory reset).
    pub fn erase(&mut self) {
        self.pending = None;
        self.current = None;
    }

    /// Completes the rotation once `written` of the new keyset's `n` keys are on orange
    /// keys; with fewer, the old RPV stays and the rotation is dropped. Returns whether
    /// the new RPV is now in force.
    pub fn complete(&mut self, written: u8, n: u8) -> bool {
        match self.pending.take() {
            Some(next) if written >= n && n > 0 => {
                self.current = Some(next);
                true
            }
            _ => false,
        }
    }
}
