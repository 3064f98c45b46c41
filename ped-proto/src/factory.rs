//! The emulated HSM factory: the root → MIC → HOC chain an HSM receives at
//! manufacture, and the certificates its HOC issues afterwards (the HSM static key at
//! every start, the RPK static key at RPV initialisation). Seed lines 7055-7152.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use rand_core::CryptoRng;

use crate::cert::{CertificateAuthority, IssueError, LeafRole};
use crate::ecdh::{EcdhKeyPair, EcdhPublicKey};
use crate::handshake::hsm::HsmIdentity;

/// One year, in seconds.
const YEAR: u64 = 365 * 24 * 3600;
/// Certificates are back-dated a day so a clock slightly behind still accepts them.
const SKEW: u64 = 24 * 3600;

/// An HSM's factory-issued authorities.
#[derive(Debug)]
pub struct Factory {
    /// The manufacturer's root (self-signed); PEDs trust its certificate.
    pub root: CertificateAuthority,
    /// The Manufacturing Integrity Certificate's authority, signed by the root.
    pub mic: CertificateAuthority,
    /// The HSM's Hardware Origin Certificate's authority, signed by the MIC.
    pub hoc: CertificateAuthority,
}

impl Factory {
    /// Manufactures the chain of HSM `serial` at time `now` (Unix seconds), in a
    /// factory of its own (a new root and MIC).
    pub fn manufacture<R: CryptoRng + ?Sized>(rng: &mut R, serial: &str, now: u64) -> Result<Self, IssueError> {
        let from = now.saturating_sub(SKEW);
        let root = CertificateAuthority::new_root(rng, "PED emulated manufacturer root", from, now + 30 * YEAR)?;
        let mic = root.issue_ca(rng, "PED emulated MIC", 1, from, now + 25 * YEAR)?;
        Self::manufacture_under(root, mic, rng, serial, now)
    }

    /// Manufactures HSM `serial` in an existing factory: a new HOC under `mic`, so that
    /// its chain ends in the same root as every other HSM of that factory (as real HSMs
    /// of one manufacturer do, and as one PED serving several HSMs needs).
    pub fn manufacture_under<R: CryptoRng + ?Sized>(
        root: CertificateAuthority,
        mic: CertificateAuthority,
        rng: &mut R,
        serial: &str,
        now: u64,
    ) -> Result<Self, IssueError> {
        let hoc = mic.issue_ca(rng, &format!("HOC {serial}"), 0, now.saturating_sub(SKEW), now + 20 * YEAR)?;
        Ok(Factory { root, mic, hoc })
    }

    /// A fresh static ECDH key for HSM `serial` with its HOC-signed certificate (role
    /// [`LeafRole::HsmStatic`]), as the HSM makes at every start.
    pub fn hsm_identity<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        serial: &str,
        now: u64,
    ) -> Result<HsmIdentity, IssueError> {
        let static_key = EcdhKeyPair::generate(rng);
        let leaf = self.hoc.issue_key_agreement_cert(
            rng,
            LeafRole::HsmStatic,
            &format!("HSM {serial} static ECDH"),
            Some(serial),
            static_key.public(),
            now.saturating_sub(SKEW),
            now + 10 * YEAR,
        )?;
        Ok(HsmIdentity {
            id: serial.as_bytes().to_vec(),
            static_key,
            chain: vec![leaf, self.hoc.certificate_der().to_vec(), self.mic.certificate_der().to_vec()],
        })
    }

    /// The HOC-signed certificate of an RPK static public key (seed 3780: both static
    /// keys chain to the HOC). The HSM keeps it; it is never written on an orange key
    /// nor sent, since it would let the key's holder test PIN guesses against it
    /// (crate::orange). Its role is [`LeafRole::RpkStatic`], never the HSM's.
    pub fn certify_rpk<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        serial: &str,
        rpk_public: &EcdhPublicKey,
        now: u64,
    ) -> Result<Vec<u8>, IssueError> {
        self.hoc.issue_key_agreement_cert(
            rng,
            LeafRole::RpkStatic,
            &format!("HSM {serial} RPK static ECDH"),
            Some(serial),
            rpk_public,
            now.saturating_sub(SKEW),
            now + 10 * YEAR,
        )
    }
}
