//! Both ends of the legacy handshake (seed 3787-3803), as chains of states that each
//! consume themselves.
//!
//! ```text
//! HSM                                                         PED
//! HsmHello      {marker, firmware, IDV, orange keysets, Yv} ──>
//!                         <── PedKeyShare   {IDU, orange keyset, Yu}
//! HsmFinished   E(Ke, R1 ‖ P1)                               ──>
//!                         <── PedKeyShare   E(Ke, R2 ‖ R1)
//! HsmFinished   E(Ke, P2 ‖ R2)                               ──>
//! ```
//!
//! `E` is AES-256 on one block; P1 and P2 are random padding. Ke and the two stream
//! keys come from HKDF-SHA-256 with the RPV as salt (see [`derive_keys`]).

use alloc::vec::Vec;

use aes::Aes256;
use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::dh::DhKeyPair;
use super::messages::{FirmwareVersion, LegacyHello, LegacyShare, NONCE_BLOCK_LEN, NONCE_LEN, decode_nonce_block};
use super::stream::Stream;
use crate::error::Error;
use crate::frame::{self, Frame, FrameType};
use crate::orange::{RpkCredential, RpkEntry};
use crate::quorum::KeysetId;
use crate::record::{ChannelSession, Role};
use crate::secrets::Rpv;

/// HKDF's `info` prefix; the hashes of the hello and the share follow it.
pub const KDF_LABEL: &[u8] = b"PED legacy 7.4.2 channel";

/// What HKDF-SHA-256 gives: the DEK of the nonce exchange and one OFB key per direction.
pub struct LegacyKeys {
    /// Ke: encrypts the nonce blocks.
    pub ke: Zeroizing<[u8; 32]>,
    /// The HSM → PED stream's key.
    pub hsm_to_ped: Zeroizing<[u8; 32]>,
    /// The PED → HSM stream's key.
    pub ped_to_hsm: Zeroizing<[u8; 32]>,
}

impl core::fmt::Debug for LegacyKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("LegacyKeys")
    }
}

/// `OKM = HKDF-SHA-256(salt = RPV, IKM = Z, info = KDF_LABEL ‖ SHA-256(hello body) ‖
/// SHA-256(share body), 96)`, split as Ke ‖ K(HSM→PED) ‖ K(PED→HSM). The hashes bind
/// every field of both messages: a hello or share altered in transit gives the two
/// ends different keys, and R1 does not come back.
pub fn derive_keys(z: &[u8], rpv: &Rpv, hello_body: &[u8], share_body: &[u8]) -> LegacyKeys {
    let mut info = Vec::with_capacity(KDF_LABEL.len() + 64);
    info.extend_from_slice(KDF_LABEL);
    info.extend_from_slice(&Sha256::digest(hello_body));
    info.extend_from_slice(&Sha256::digest(share_body));
    let mut okm = Zeroizing::new([0u8; 96]);
    // 96 bytes is far below HKDF-SHA-256's limit of 8160: expand cannot fail.
    let _ = Hkdf::<Sha256>::new(Some(rpv.expose()), z).expand(&info, okm.as_mut_slice());
    let part = |i: usize| {
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(&okm[32 * i..32 * (i + 1)]);
        k
    };
    LegacyKeys { ke: part(0), hsm_to_ped: part(1), ped_to_hsm: part(2) }
}

/// Opens a legacy channel: the hello with a fresh ephemeral value.
pub fn hsm_start<R: CryptoRng + ?Sized>(
    hsm_id: &[u8],
    firmware: FirmwareVersion,
    rpks: &[RpkEntry],
    rng: &mut R,
) -> Result<(HsmAwaitingShare, Vec<u8>), Error> {
    let ephemeral = DhKeyPair::generate(rng);
    let hello = LegacyHello {
        firmware,
        hsm_id: hsm_id.to_vec(),
        orange_keysets: rpks.iter().map(|e| e.keyset_id).collect(),
        public: *ephemeral.public(),
    };
    let body = hello.encode()?;
    let frame = frame::encode(FrameType::HsmHello, &body);
    Ok((HsmAwaitingShare { hello_body: body, ephemeral }, frame))
}

/// The HSM awaits the PED's public value.
#[derive(Debug)]
pub struct HsmAwaitingShare {
    hello_body: Vec<u8>,
    ephemeral: DhKeyPair,
}

impl HsmAwaitingShare {
    /// Takes the PED's share, derives the keys with the RPV of the orange keyset it
    /// names ([`Error::UnknownRpk`] for one not among `rpks`) and sends R1.
    pub fn receive_share<R: CryptoRng + ?Sized>(
        self,
        frame: Frame<'_>,
        rpks: &[RpkEntry],
        rng: &mut R,
    ) -> Result<(HsmAwaitingEcho, Vec<u8>), Error> {
        let body = expect(frame, FrameType::PedKeyShare)?;
        let share = LegacyShare::decode(body)?;
        let entry = rpks.iter().find(|e| e.keyset_id == share.orange_keyset).ok_or(Error::UnknownRpk)?;
        let z = self.ephemeral.agree(&share.public);
        let keys = derive_keys(z.as_slice(), &entry.rpv, &self.hello_body, body);
        let (r1, p1) = (nonce(rng), nonce(rng));
        let challenge = encrypt(&keys.ke, &concat(&r1, &p1));
        Ok((HsmAwaitingEcho { keys, r1 }, frame::encode(FrameType::HsmFinished, &challenge)))
    }
}

/// The HSM awaits `E(Ke, R2 ‖ R1)`.
pub struct HsmAwaitingEcho {
    keys: LegacyKeys,
    r1: [u8; NONCE_LEN],
}

impl core::fmt::Debug for HsmAwaitingEcho {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HsmAwaitingEcho")
    }
}

impl HsmAwaitingEcho {
    /// Checks that R1 came back ([`Error::NonceMismatch`] otherwise: a wrong RPV or an
    /// altered message) and proves R2 to the PED; the channel is open at the HSM.
    pub fn receive_echo<R: CryptoRng + ?Sized>(
        self,
        frame: Frame<'_>,
        rng: &mut R,
    ) -> Result<(ChannelSession, Vec<u8>), Error> {
        let block = decrypt(&self.keys.ke, &decode_nonce_block(expect(frame, FrameType::PedKeyShare)?)?);
        let (r2, echoed) = split(&block);
        if !bool::from(echoed.ct_eq(&self.r1)) {
            return Err(Error::NonceMismatch);
        }
        let proof = encrypt(&self.keys.ke, &concat(&nonce(rng), &r2));
        let session = ChannelSession::legacy(
            Role::Hsm,
            Stream::new(&self.keys.hsm_to_ped, &concat(&self.r1, &r2)),
            Stream::new(&self.keys.ped_to_hsm, &concat(&r2, &self.r1)),
        );
        Ok((session, frame::encode(FrameType::HsmFinished, &proof)))
    }
}

/// The PED has a legacy hello: it needs the orange key before it can answer.
#[derive(Debug)]
pub struct PedHelloReceived {
    hello: LegacyHello,
    hello_body: Vec<u8>,
}

/// Whether a hello's body is a legacy one (its first byte), before decoding it.
pub fn is_legacy_hello(body: &[u8]) -> bool {
    body.first() == Some(&super::messages::LEGACY_HELLO_MARKER)
}

impl PedHelloReceived {
    /// Takes the HSM's legacy hello.
    pub fn receive(frame: Frame<'_>) -> Result<Self, Error> {
        let body = expect(frame, FrameType::HsmHello)?;
        Ok(PedHelloReceived { hello: LegacyHello::decode(body)?, hello_body: body.to_vec() })
    }

    /// The HSM's firmware, as its hello states it.
    pub fn firmware(&self) -> FirmwareVersion {
        self.hello.firmware
    }

    /// The HSM's serial number, as its hello states it (nothing certifies it).
    pub fn hsm_id(&self) -> &[u8] {
        &self.hello.hsm_id
    }

    /// The orange keysets whose RPV the HSM holds.
    pub fn orange_keysets(&self) -> Vec<KeysetId> {
        self.hello.orange_keysets.clone()
    }

    /// Answers with a fresh ephemeral value and the RPV of `rpk`, whose keyset the
    /// hello must list ([`Error::UnknownRpk`] otherwise, before anything is drawn).
    pub fn respond<R: CryptoRng + ?Sized>(
        self,
        ped_id: &[u8],
        rpk: &RpkCredential,
        rng: &mut R,
    ) -> Result<(PedAwaitingChallenge, Vec<u8>), Error> {
        if !self.hello.orange_keysets.contains(&rpk.keyset_id) {
            return Err(Error::UnknownRpk);
        }
        let ephemeral = DhKeyPair::generate(rng);
        let share = LegacyShare { ped_id: ped_id.to_vec(), orange_keyset: rpk.keyset_id, public: *ephemeral.public() };
        let body = share.encode()?;
        let z = ephemeral.agree(&self.hello.public);
        let keys = derive_keys(z.as_slice(), &rpk.rpv, &self.hello_body, &body);
        Ok((PedAwaitingChallenge { keys }, frame::encode(FrameType::PedKeyShare, &body)))
    }
}

/// The PED awaits `E(Ke, R1 ‖ P1)`.
pub struct PedAwaitingChallenge {
    keys: LegacyKeys,
}

impl core::fmt::Debug for PedAwaitingChallenge {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PedAwaitingChallenge")
    }
}

impl PedAwaitingChallenge {
    /// Decrypts R1 and answers `E(Ke, R2 ‖ R1)` with a fresh R2. Nothing here can
    /// tell a wrong key: P1 is random, so that a PED impersonator learns nothing that
    /// would test an RPV guess.
    pub fn receive_challenge<R: CryptoRng + ?Sized>(
        self,
        frame: Frame<'_>,
        rng: &mut R,
    ) -> Result<(PedAwaitingProof, Vec<u8>), Error> {
        let block = decrypt(&self.keys.ke, &decode_nonce_block(expect(frame, FrameType::HsmFinished)?)?);
        let (r1, _) = split(&block);
        let r2 = nonce(rng);
        let echo = encrypt(&self.keys.ke, &concat(&r2, &r1));
        Ok((PedAwaitingProof { keys: self.keys, r1, r2 }, frame::encode(FrameType::PedKeyShare, &echo)))
    }
}

/// The PED awaits `E(Ke, P2 ‖ R2)`.
pub struct PedAwaitingProof {
    keys: LegacyKeys,
    r1: [u8; NONCE_LEN],
    r2: [u8; NONCE_LEN],
}

impl core::fmt::Debug for PedAwaitingProof {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PedAwaitingProof")
    }
}

impl PedAwaitingProof {
    /// Checks that R2 came back ([`Error::NonceMismatch`] otherwise); the channel is open.
    pub fn receive_proof(self, frame: Frame<'_>) -> Result<ChannelSession, Error> {
        let block = decrypt(&self.keys.ke, &decode_nonce_block(expect(frame, FrameType::HsmFinished)?)?);
        let (_, r2) = split(&block);
        if !bool::from(r2.ct_eq(&self.r2)) {
            return Err(Error::NonceMismatch);
        }
        Ok(ChannelSession::legacy(
            Role::Ped,
            Stream::new(&self.keys.ped_to_hsm, &concat(&self.r2, &self.r1)),
            Stream::new(&self.keys.hsm_to_ped, &concat(&self.r1, &self.r2)),
        ))
    }
}

fn expect(frame: Frame<'_>, wanted: FrameType) -> Result<&[u8], Error> {
    match frame.frame_type {
        t if t == wanted => Ok(frame.body),
        FrameType::HandshakeFailed => Err(Error::PeerFailed),
        _ => Err(Error::UnexpectedMessage),
    }
}

fn nonce<R: CryptoRng + ?Sized>(rng: &mut R) -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut n);
    n
}

fn concat(a: &[u8; NONCE_LEN], b: &[u8; NONCE_LEN]) -> [u8; NONCE_BLOCK_LEN] {
    let mut out = [0u8; NONCE_BLOCK_LEN];
    out[..NONCE_LEN].copy_from_slice(a);
    out[NONCE_LEN..].copy_from_slice(b);
    out
}

fn split(block: &[u8; NONCE_BLOCK_LEN]) -> ([u8; NONCE_LEN], [u8; NONCE_LEN]) {
    let mut a = [0u8; NONCE_LEN];
    let mut b = [0u8; NONCE_LEN];
    a.copy_from_slice(&block[..NONCE_LEN]);
    b.copy_from_slice(&block[NONCE_LEN..]);
    (a, b)
}

fn encrypt(ke: &[u8; 32], block: &[u8; NONCE_BLOCK_LEN]) -> [u8; NONCE_BLOCK_LEN] {
    let mut b = aes::Block::from(*block);
    Aes256::new(ke.into()).encrypt_block(&mut b);
    b.into()
}

fn decrypt(ke: &[u8; 32], block: &[u8; NONCE_BLOCK_LEN]) -> Zeroizing<[u8; NONCE_BLOCK_LEN]> {
    let mut b = aes::Block::from(*block);
    Aes256::new(ke.into()).decrypt_block(&mut b);
    Zeroizing::new(b.into())
}
