//! The record layer of an established channel, and CSP wrapping.
//!
//! Every kind: encrypt-then-MAC. `ciphertext = AES-256-CTR(DEK, seq ‖ 0^64, content)`,
//! `tag = HMAC-SHA-512(DMK, seq ‖ frame header ‖ ciphertext)`. CSPs inside records are
//! wrapped with AES-256-KWP under the CWK, a key of their own.
//!
//! `content = content type ‖ payload`, `seq` is an implicit 64-bit counter per
//! direction, and keys differ per direction. A record replayed, reordered, reflected,
//! truncated or altered fails its check; the first failure poisons the session.

use alloc::vec::Vec;

use zeroize::Zeroizing;

use crate::ctr::{BLOCK_LEN, aes256_ctr_apply};
use crate::error::Error;
use crate::frame::{self, FrameHeader, FrameType, HEADER_LEN};
use crate::handshake::ChannelKind;
use crate::handshake::schedule::DirectionKeys;
use crate::kwp;
use crate::mac::{self, TAG_LEN};

/// Largest payload one record carries.
pub const MAX_PAYLOAD_LEN: usize = 16 * 1024;
/// Records one direction may carry before the session must be re-established.
///
/// With at most 1 025 AES blocks per record the counter blocks under one DEK stay
/// below 2^42, far from CTR's and HMAC's bounds, and `seq` can never wrap.
pub const MAX_RECORDS: u64 = 1 << 32;

const CONTENT_DATA: u8 = 0x01;
const CONTENT_CLOSE: u8 = 0x02;
const SEQ_LEN: usize = 8;

/// Which end of the channel a session belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The HSM (party V).
    Hsm,
    /// The PED (party U).
    Ped,
}

/// What [`ChannelSession::open`] found in a record.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// Application data (a PED command or its answer).
    Data(Zeroizing<Vec<u8>>),
    /// The peer closed the channel on purpose; nothing follows.
    Closed,
}

/// How one direction's records are protected.
#[cfg_attr(fuzzing, derive(Clone))]
enum Protection {
    /// AES-256-CTR then HMAC-SHA-512, CSPs under AES-256-KWP: every current kind.
    CtrHmac(DirectionKeys),
    /// The legacy channel of HSMs on firmware 7.4.2 and older (protocol §17): one
    /// AES-256-OFB stream with a SHA-256 digest inside each record.
    #[cfg(feature = "legacy-7-4")]
    LegacyOfb(alloc::boxed::Box<crate::legacy::stream::Stream>),
}

/// One direction's protection and sequence number.
#[cfg_attr(fuzzing, derive(Clone))]
struct Direction {
    keys: Protection,
    seq: u64,
}

/// An established channel: seals and opens records, wraps and unwraps CSPs.
///
/// Not `Clone`: two copies would seal under the same key and sequence numbers. The
/// fuzz targets (`cfg(fuzzing)`) clone sessions built once, since a refused record
/// poisons a session and each input needs a fresh one.
#[cfg_attr(fuzzing, derive(Clone))]
pub struct ChannelSession {
    kind: ChannelKind,
    role: Role,
    send: Direction,
    recv: Direction,
    max_records: u64,
    failed: bool,
    peer_closed: bool,
}

impl core::fmt::Debug for ChannelSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChannelSession")
            .field("kind", &self.kind)
            .field("role", &self.role)
            .field("sent", &self.send.seq)
            .field("received", &self.recv.seq)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl ChannelSession {
    pub(crate) fn new(kind: ChannelKind, role: Role, send: DirectionKeys, recv: DirectionKeys) -> Self {
        ChannelSession {
            kind,
            role,
            send: Direction { keys: Protection::CtrHmac(send), seq: 0 },
            recv: Direction { keys: Protection::CtrHmac(recv), seq: 0 },
            max_records: MAX_RECORDS,
            failed: false,
            peer_closed: false,
        }
    }

    /// A session of the legacy channel (protocol §17). Its kind is
    /// [`ChannelKind::RemoteRpv`]: a remote channel authenticated by the RPV.
    #[cfg(feature = "legacy-7-4")]
    pub(crate) fn legacy(role: Role, send: crate::legacy::stream::Stream, recv: crate::legacy::stream::Stream) -> Self {
        ChannelSession {
            kind: ChannelKind::RemoteRpv,
            role,
            send: Direction { keys: Protection::LegacyOfb(alloc::boxed::Box::new(send)), seq: 0 },
            recv: Direction { keys: Protection::LegacyOfb(alloc::boxed::Box::new(recv)), seq: 0 },
            max_records: MAX_RECORDS,
            failed: false,
            peer_closed: false,
        }
    }

    /// Whether this is a session of the legacy channel of firmware 7.4.2 and older.
    pub fn is_legacy(&self) -> bool {
        match self.send.keys {
            Protection::CtrHmac(_) => false,
            #[cfg(feature = "legacy-7-4")]
            Protection::LegacyOfb(_) => true,
        }
    }

    /// Lowers the per-direction record limit (never above [`MAX_RECORDS`]); used by
    /// operators who want shorter sessions and by tests of the limit.
    pub fn with_record_limit(mut self, limit: u64) -> Self {
        self.max_records = limit.min(MAX_RECORDS);
        self
    }

    /// The channel kind this session was established as.
    pub fn kind(&self) -> ChannelKind {
        self.kind
    }

    /// Which end this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the peer has closed the channel.
    pub fn is_closed(&self) -> bool {
        self.peer_closed
    }

    /// Seals `payload` into a whole record frame.
    pub fn seal(&mut self, payload: &[u8]) -> Result<Vec<u8>, Error> {
        if payload.len() > MAX_PAYLOAD_LEN {
            return Err(Error::RecordTooLarge);
        }
        self.seal_content(CONTENT_DATA, payload)
    }

    /// Seals the close record that tells the peer the end of the stream is deliberate.
    pub fn seal_close(&mut self) -> Result<Vec<u8>, Error> {
        self.seal_content(CONTENT_CLOSE, &[])
    }

    /// Opens one record frame. Any failure poisons the session: every later call fails.
    pub fn open(&mut self, frame: frame::Frame<'_>) -> Result<Opened, Error> {
        if self.failed {
            return Err(Error::RecordIntegrity);
        }
        if self.peer_closed {
            return Err(Error::ChannelClosed);
        }
        if frame.frame_type != FrameType::Record {
            self.failed = true;
            return Err(Error::UnexpectedMessage);
        }
        if self.recv.seq >= self.max_records {
            self.failed = true;
            return Err(Error::SessionLimitReached);
        }
        let opened = match &mut self.recv.keys {
            Protection::CtrHmac(keys) => open_ctr_hmac(keys, self.recv.seq, frame),
            #[cfg(feature = "legacy-7-4")]
            Protection::LegacyOfb(stream) => stream.open(self.recv.seq, frame),
        };
        let mut content = match opened {
            Ok(content) => content,
            Err(e) => {
                self.failed = true;
                return Err(e);
            }
        };
        self.recv.seq += 1;
        match content.split_first() {
            Some((&CONTENT_DATA, payload)) if payload.len() <= MAX_PAYLOAD_LEN => {
                // The payload stays where it was decrypted (no second copy of a record
                // of up to 16 KiB on a PED's heap): the content type goes.
                content.remove(0);
                Ok(Opened::Data(content))
            }
            Some((&CONTENT_CLOSE, [])) => {
                self.peer_closed = true;
                Ok(Opened::Closed)
            }
            _ => {
                // Authentic but malformed: the peer is broken, not the network.
                self.failed = true;
                Err(Error::UnexpectedMessage)
            }
        }
    }

    /// Wraps a CSP (a split, a secret) under this end's sending CWK, so that it stays
    /// wrapped inside the record and after it is opened.
    pub fn wrap_csp(&self, csp: &[u8]) -> Result<Vec<u8>, Error> {
        match &self.send.keys {
            Protection::CtrHmac(keys) => kwp::wrap(&keys.cwk, csp),
            #[cfg(feature = "legacy-7-4")]
            Protection::LegacyOfb(_) => Ok(crate::legacy::stream::wrap_csp(csp)),
        }
    }

    /// Unwraps a CSP wrapped by the peer.
    pub fn unwrap_csp(&self, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        match &self.recv.keys {
            Protection::CtrHmac(keys) => kwp::unwrap(&keys.cwk, wrapped),
            #[cfg(feature = "legacy-7-4")]
            Protection::LegacyOfb(_) => crate::legacy::stream::unwrap_csp(wrapped),
        }
    }

    fn seal_content(&mut self, content_type: u8, payload: &[u8]) -> Result<Vec<u8>, Error> {
        if self.failed {
            return Err(Error::RecordIntegrity);
        }
        if self.send.seq >= self.max_records {
            return Err(Error::SessionLimitReached);
        }
        let seq = self.send.seq;
        let frame = match &mut self.send.keys {
            Protection::CtrHmac(keys) => seal_ctr_hmac(keys, seq, content_type, payload),
            #[cfg(feature = "legacy-7-4")]
            Protection::LegacyOfb(stream) => {
                let mut content = Zeroizing::new(Vec::with_capacity(1 + payload.len()));
                content.push(content_type);
                content.extend_from_slice(payload);
                stream.seal(seq, &content)
            }
        };
        self.send.seq += 1;
        Ok(frame)
    }
}

/// The counter block of record `seq`: the sequence number in the high 64 bits and the
/// block index in the low 64, so blocks of different records never overlap.
fn counter_block(seq: u64) -> [u8; BLOCK_LEN] {
    let mut block = [0u8; BLOCK_LEN];
    block[..SEQ_LEN].copy_from_slice(&seq.to_be_bytes());
    block
}

fn record_mac(dmk: &[u8], seq: u64, header: &[u8; HEADER_LEN], ciphertext: &[u8]) -> [u8; TAG_LEN] {
    mac::hmac_sha512(dmk, &[&seq.to_be_bytes(), header, ciphertext])
}

fn seal_ctr_hmac(keys: &DirectionKeys, seq: u64, content_type: u8, payload: &[u8]) -> Vec<u8> {
    let (dek, dmk) = (&keys.dek, &keys.dmk);
    let body_len = 1 + payload.len() + TAG_LEN;
    let header = FrameHeader { frame_type: FrameType::Record, body_len }.encode();
    let mut out = Vec::with_capacity(HEADER_LEN + body_len);
    out.extend_from_slice(&header);
    out.push(content_type);
    out.extend_from_slice(payload);
    aes256_ctr_apply(dek, &counter_block(seq), &mut out[HEADER_LEN..]);
    let tag = record_mac(dmk, seq, &header, &out[HEADER_LEN..]);
    out.extend_from_slice(&tag);
    out
}

fn open_ctr_hmac(keys: &DirectionKeys, seq: u64, frame: frame::Frame<'_>) -> Result<Zeroizing<Vec<u8>>, Error> {
    let (dek, dmk) = (&keys.dek, &keys.dmk);
    if frame.body.len() < 1 + TAG_LEN {
        return Err(Error::RecordIntegrity);
    }
    let (ciphertext, tag) = frame.body.split_at(frame.body.len() - TAG_LEN);
    let expected = record_mac(dmk, seq, &frame.header().encode(), ciphertext);
    if !mac::tags_equal(&expected, tag) {
        return Err(Error::RecordIntegrity);
    }
    let mut content = Zeroizing::new(ciphertext.to_vec());
    aes256_ctr_apply(dek, &counter_block(seq), &mut content);
    Ok(content)
}
