//! The emulated HSM factory: the root → MIC → HOC chain an HSM receives at
//! manufacture, and the certificates its HOC issues afterwards (the HSM static key at
//! every start, the RPK static key at RPV initialisation). Seed lines 7055-7152.

use alloc::format;
use alloc::vec;

use rand_core::CryptoRng;

use crate::cert::{CertificateAuthority, IssueError, LeafRole};
use crate::ecdh::EcdhKeyPair;
use crate::handshake::hsm::{HsmIdentity, RpkEntry};
use crate::handshake::ped::RpkCredential;
use crate::secrets::Rpv;

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
    /// Manufactures the chain of HSM `serial` at time `now` (Unix seconds).
    pub fn manufacture<R: CryptoRng + ?Sized>(rng: &mut R, serial: &str, now: u64) -> Result<Self, IssueError> {
        let from = now.saturating_sub(SKEW);
        let root = CertificateAuthority::new_root(rng, "PED emulated manufacturer root", from, now + 30 * YEAR)?;
        let mic = root.issue_ca(rng, "PED emulated MIC", 1, from, now + 25 * YEAR)?;
        let hoc = mic.issue_ca(rng, &format!("HOC {serial}"), 0, from, now + 20 * YEAR)?;
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

    /// A new RPV with its RPK static key and HOC-signed certificate, as made at
    /// `ped vector init`: the HSM keeps the [`RpkEntry`], the orange key carries the
    /// [`RpkCredential`]. The certificate's role is [`LeafRole::RpkStatic`], so that
    /// whoever holds the orange key cannot present it as the HSM's.
    pub fn new_rpk<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        serial: &str,
        now: u64,
    ) -> Result<(RpkEntry, RpkCredential), IssueError> {
        let rpv = Rpv::generate(rng);
        let static_key = EcdhKeyPair::generate(rng);
        let cert_der = self.hoc.issue_key_agreement_cert(
            rng,
            LeafRole::RpkStatic,
            &format!("HSM {serial} RPK static ECDH"),
            Some(serial),
            static_key.public(),
            now.saturating_sub(SKEW),
            now + 10 * YEAR,
        )?;
        let entry = RpkEntry { rpv: rpv.clone(), cert_der: cert_der.clone(), public_key: *static_key.public() };
        Ok((entry, RpkCredential { rpv, static_key, cert_der }))
    }
}
