//! The orange key's secret and the HSM's RPV rotation.
//!
//! An orange keyset carries one secret, split M of N like every other:
//! `RPV[32] ‖ RPK static private scalar[66]`, 98 bytes. No single orange key thus
//! holds the RPV or the RPK private key; the PED reassembles both from a quorum of
//! orange keys (the one secret a PED ever reassembles, because it must run the
//! C(2e,2s) handshake with them) and keeps them as its RPK cache. The RPK certificate
//! is public and is written whole beside each split.

use alloc::vec::Vec;

use zeroize::Zeroizing;

use crate::ecdh::{EcdhKeyPair, FIELD_LEN};
use crate::error::Error;
use crate::handshake::hsm::RpkEntry;
use crate::handshake::ped::RpkCredential;
use crate::secrets::{RPV_LEN, Rpv};

/// Length of the orange keyset's secret.
pub const ORANGE_SECRET_LEN: usize = RPV_LEN + FIELD_LEN;

/// The orange keyset's secret for an RPV and its RPK static key.
pub fn orange_secret(rpv: &Rpv, rpk_static: &EcdhKeyPair) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(ORANGE_SECRET_LEN));
    out.extend_from_slice(rpv.expose());
    out.extend_from_slice(rpk_static.private_bytes().as_slice());
    out
}

/// What the PED rebuilds from a reassembled orange secret and the certificate read
/// beside it. The certificate's key must match the private scalar (checked here; its
/// chain is checked against the HSM's at connection time).
pub fn rpk_credential(secret: &[u8], cert_der: &[u8]) -> Result<RpkCredential, Error> {
    if secret.len() != ORANGE_SECRET_LEN {
        return Err(Error::InvalidPrivateKey);
    }
    let (rpv, scalar) = secret.split_at(RPV_LEN);
    let mut rpv_bytes = Zeroizing::new([0u8; RPV_LEN]);
    rpv_bytes.copy_from_slice(rpv);
    Ok(RpkCredential {
        rpv: Rpv::from_bytes(*rpv_bytes),
        static_key: EcdhKeyPair::from_private_bytes(scalar)?,
        cert_der: cert_der.to_vec(),
    })
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
