//! The legacy channel's record protection: one AES-256-OFB stream per direction whose
//! feedback buffer starts at the nonces, and a SHA-256 digest inside the stream.
//!
//! ```text
//! record body = OFB(content ‖ SHA-256(seq ‖ frame header ‖ content))
//! ```
//!
//! The stream runs on from record to record (the feedback buffer is never reset), so
//! a record dropped, replayed or reordered decrypts to noise and fails its digest.
//! An attacker who knows a record's whole plaintext can still rewrite it and its
//! digest (OFB is malleable and the digest has no key): the weakness for which
//! firmware 7.7.0 replaced this scheme, and why it is off by default.

use alloc::vec::Vec;

use aes::Aes256;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::frame::{Frame, FrameHeader, FrameType, HEADER_LEN};

/// Length of the SHA-256 digest.
pub const DIGEST_LEN: usize = 32;

/// One direction's OFB stream (SP 800-38A §6.4), written out over the `aes` block
/// cipher: the `ofb` crate's stream is not `Clone`, and the fuzz targets clone sessions
/// (`cfg(fuzzing)`). tests/legacy.rs checks it against the `ofb` crate.
#[cfg_attr(fuzzing, derive(Clone))]
pub(crate) struct Stream {
    cipher: Aes256,
    /// The feedback buffer: the last output block, whose bytes from `used` on are
    /// the keystream not yet spent.
    feedback: Zeroizing<[u8; 16]>,
    used: usize,
}

impl core::fmt::Debug for Stream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Stream")
    }
}

impl Stream {
    pub(crate) fn new(key: &[u8; 32], iv: &[u8; 16]) -> Self {
        // `used` at the end: the first byte encrypts the IV.
        Stream { cipher: Aes256::new(key.into()), feedback: Zeroizing::new(*iv), used: 16 }
    }

    /// XORs the next `data.len()` keystream bytes into `data`.
    pub(crate) fn apply_keystream(&mut self, data: &mut [u8]) {
        for byte in data {
            if self.used == self.feedback.len() {
                let mut block = aes::Block::from(*self.feedback);
                self.cipher.encrypt_block(&mut block);
                self.feedback.copy_from_slice(&block);
                self.used = 0;
            }
            *byte ^= self.feedback[self.used];
            self.used += 1;
        }
    }

    /// Seals `content` (content type ‖ payload) as record `seq`: a whole frame.
    pub(crate) fn seal(&mut self, seq: u64, content: &[u8]) -> Vec<u8> {
        let header = FrameHeader { frame_type: FrameType::Record, body_len: content.len() + DIGEST_LEN }.encode();
        let digest = record_digest(seq, &header, content);
        let mut out = Vec::with_capacity(HEADER_LEN + content.len() + DIGEST_LEN);
        out.extend_from_slice(&header);
        out.extend_from_slice(content);
        out.extend_from_slice(&digest);
        self.apply_keystream(&mut out[HEADER_LEN..]);
        out
    }

    /// Opens record `seq`: its content, once the digest matches.
    pub(crate) fn open(&mut self, seq: u64, frame: Frame<'_>) -> Result<Zeroizing<Vec<u8>>, Error> {
        if frame.body.len() < 1 + DIGEST_LEN {
            return Err(Error::RecordIntegrity);
        }
        let mut plain = Zeroizing::new(frame.body.to_vec());
        self.apply_keystream(&mut plain);
        let content_len = plain.len() - DIGEST_LEN;
        let expected = record_digest(seq, &frame.header().encode(), &plain[..content_len]);
        if !bool::from(expected.ct_eq(&plain[content_len..])) {
            return Err(Error::RecordIntegrity);
        }
        plain.truncate(content_len);
        Ok(plain)
    }
}

fn record_digest(seq: u64, header: &[u8; HEADER_LEN], content: &[u8]) -> [u8; DIGEST_LEN] {
    Sha256::new().chain_update(seq.to_be_bytes()).chain_update(header).chain_update(content).finalize().into()
}

/// A CSP as the legacy channel carries it: `csp ‖ SHA-256(csp)`, so that a split keeps
/// its integrity check after its record is opened (the stream gives it secrecy).
pub(crate) fn wrap_csp(csp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(csp.len() + DIGEST_LEN);
    out.extend_from_slice(csp);
    out.extend_from_slice(&Sha256::digest(csp));
    out
}

/// The CSP of [`wrap_csp`], once its digest matches.
pub(crate) fn unwrap_csp(wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    let Some(csp_len) = wrapped.len().checked_sub(DIGEST_LEN) else { return Err(Error::CspUnwrapFailed) };
    let (csp, digest) = wrapped.split_at(csp_len);
    if bool::from(Sha256::digest(csp).as_slice().ct_eq(digest)) {
        Ok(Zeroizing::new(csp.to_vec()))
    } else {
        Err(Error::CspUnwrapFailed)
    }
}
