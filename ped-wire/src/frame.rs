//! Link frames: the unit that crosses USB and TCP between the HSM, the relays and the PED.
//!
//! ```text
//! 0      2        3      4                8
//! +------+--------+------+----------------+----------------------+
//! | "PD" | format | type | body length BE | body (≤ MAX_BODY_LEN) |
//! +------+--------+------+----------------+----------------------+
//! ```
//!
//! The relays route by `type` and never look inside a body.

use alloc::vec::Vec;

use crate::DecodeError;
use crate::wire::Reader;

/// The two bytes that open every frame.
pub const MAGIC: [u8; 2] = *b"PD";
/// The frame format this implementation reads and writes.
pub const FORMAT_VERSION: u8 = 1;
/// Length of the frame header.
pub const HEADER_LEN: usize = 8;
/// The largest body accepted: a 16 KiB record plus its overhead, or a hello with a full
/// certificate chain, fit with room to spare. A larger length is refused before any
/// allocation.
pub const MAX_BODY_LEN: usize = 32 * 1024;

/// What a frame carries.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// HSM → PED: the first handshake message.
    HsmHello,
    /// PED → HSM: the PED's ephemeral key (and, remote, its key-confirmation tag).
    PedKeyShare,
    /// HSM → PED: the HSM's key-confirmation tag.
    HsmFinished,
    /// Either way: the handshake failed; the body is empty and says nothing more.
    HandshakeFailed,
    /// Either way: a protected record of an established channel.
    Record,
    /// Relay control (pedclient ↔ pedserver): hello with versions.
    RelayHello,
    /// Relay control: liveness probe.
    RelayPing,
    /// Relay control: answer to a ping.
    RelayPong,
    /// Relay control: asks for the PED's status.
    RelayStatusRequest,
    /// Relay control: the PED's status.
    RelayStatus,
    /// Relay control: pedserver serves another HSM.
    RelayBusy,
    /// Relay control: deliberate end of the connection.
    RelayBye,
    /// Relay control: end of the connection because of an error.
    RelayError,
    /// HSM link (HSM → pedclient): reach a pedserver.
    LinkConnect,
    /// HSM link (pedclient → HSM): the remote link is up.
    LinkConnected,
    /// HSM link (HSM → pedclient): end the remote link.
    LinkDisconnect,
    /// HSM link (pedclient → HSM): the remote link could not be made, or ended.
    LinkClosed,
    /// HSM link (HSM → pedclient): one audit record for pedclient's audit log.
    LinkAudit,
    /// HSM link (HSM → pedclient): the audit log's rotation, as the Auditor set it.
    LinkAuditConfig,
    /// Device control (host → PED): who are you?
    DeviceInfoRequest,
    /// Device control (PED → host): firmware version, serial, mode, cached RPKs.
    DeviceInfo,
    /// Device control (host → PED): a firmware image follows.
    UpdateBegin,
    /// Device control (host → PED): a piece of the image.
    UpdateChunk,
    /// Device control (host → PED): the whole image was sent.
    UpdateEnd,
    /// Device control (PED → host): where the update stands.
    UpdateStatus,
    /// Device control (host → PED): the host's session with an HSM ended.
    SessionEnded,
}

impl FrameType {
    /// The type byte.
    pub const fn to_byte(self) -> u8 {
        match self {
            FrameType::HsmHello => 0x01,
            FrameType::PedKeyShare => 0x02,
            FrameType::HsmFinished => 0x03,
            FrameType::HandshakeFailed => 0x04,
            FrameType::Record => 0x10,
            FrameType::RelayHello => 0x20,
            FrameType::RelayPing => 0x21,
            FrameType::RelayPong => 0x22,
            FrameType::RelayStatusRequest => 0x23,
            FrameType::RelayStatus => 0x24,
            FrameType::RelayBusy => 0x25,
            FrameType::RelayBye => 0x26,
            FrameType::RelayError => 0x27,
            FrameType::LinkConnect => 0x28,
            FrameType::LinkConnected => 0x29,
            FrameType::LinkDisconnect => 0x2a,
            FrameType::LinkClosed => 0x2b,
            FrameType::LinkAudit => 0x2c,
            FrameType::LinkAuditConfig => 0x2d,
            FrameType::DeviceInfoRequest => 0x30,
            FrameType::DeviceInfo => 0x31,
            FrameType::UpdateBegin => 0x32,
            FrameType::UpdateChunk => 0x33,
            FrameType::UpdateEnd => 0x34,
            FrameType::UpdateStatus => 0x35,
            FrameType::SessionEnded => 0x36,
        }
    }

    /// Whether the relays consume this frame themselves (types `20`-`2f`) rather than
    /// forward it unread between the HSM and the PED.
    pub const fn is_relay_control(self) -> bool {
        self.to_byte() & 0xf0 == 0x20
    }

    /// Whether this frame is device control (types `30`-`3f`), for the PED itself
    /// rather than for an HSM channel.
    pub const fn is_device_control(self) -> bool {
        self.to_byte() & 0xf0 == 0x30
    }

    /// The type for a byte, if it is defined.
    pub const fn from_byte(b: u8) -> Result<Self, DecodeError> {
        Ok(match b {
            0x01 => FrameType::HsmHello,
            0x02 => FrameType::PedKeyShare,
            0x03 => FrameType::HsmFinished,
            0x04 => FrameType::HandshakeFailed,
            0x10 => FrameType::Record,
            0x20 => FrameType::RelayHello,
            0x21 => FrameType::RelayPing,
            0x22 => FrameType::RelayPong,
            0x23 => FrameType::RelayStatusRequest,
            0x24 => FrameType::RelayStatus,
            0x25 => FrameType::RelayBusy,
            0x26 => FrameType::RelayBye,
            0x27 => FrameType::RelayError,
            0x28 => FrameType::LinkConnect,
            0x29 => FrameType::LinkConnected,
            0x2a => FrameType::LinkDisconnect,
            0x2b => FrameType::LinkClosed,
            0x2c => FrameType::LinkAudit,
            0x2d => FrameType::LinkAuditConfig,
            0x30 => FrameType::DeviceInfoRequest,
            0x31 => FrameType::DeviceInfo,
            0x32 => FrameType::UpdateBegin,
            0x33 => FrameType::UpdateChunk,
            0x34 => FrameType::UpdateEnd,
            0x35 => FrameType::UpdateStatus,
            0x36 => FrameType::SessionEnded,
            other => return Err(DecodeError::UnknownType(other)),
        })
    }
}

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// What the body is.
    pub frame_type: FrameType,
    /// The body's length, already checked against [`MAX_BODY_LEN`].
    pub body_len: usize,
}

impl FrameHeader {
    /// Decodes and validates a header: magic, format version, type and length bound.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        if r.array::<2>("magic")? != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let version = r.u8("format")?;
        if version != FORMAT_VERSION {
            return Err(DecodeError::UnsupportedFrameVersion(version));
        }
        let frame_type = FrameType::from_byte(r.u8("type")?)?;
        let body_len = usize::try_from(r.u32("length")?).unwrap_or(usize::MAX);
        if body_len > MAX_BODY_LEN {
            return Err(DecodeError::TooLong { field: "frame body", max: MAX_BODY_LEN });
        }
        Ok(FrameHeader { frame_type, body_len })
    }

    /// The eight header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..2].copy_from_slice(&MAGIC);
        out[2] = FORMAT_VERSION;
        out[3] = self.frame_type.to_byte();
        // body_len ≤ MAX_BODY_LEN < 2^32 for every header this crate builds.
        out[4..].copy_from_slice(&(self.body_len as u32).to_be_bytes());
        out
    }
}

/// A frame borrowed from a receive buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// What the body is.
    pub frame_type: FrameType,
    /// The body bytes.
    pub body: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Parses one frame from the front of a stream buffer.
    ///
    /// `Ok(None)` means more bytes are needed (the header, once complete, has already
    /// been validated, so a bad length is refused before the body arrives);
    /// `Ok(Some((frame, n)))` consumed `n` bytes.
    pub fn parse(buf: &'a [u8]) -> Result<Option<(Frame<'a>, usize)>, DecodeError> {
        let Some(header_bytes) = buf.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let header = FrameHeader::decode(header_bytes)?;
        let total = HEADER_LEN + header.body_len;
        match buf.get(HEADER_LEN..total) {
            Some(body) => Ok(Some((Frame { frame_type: header.frame_type, body }, total))),
            None => Ok(None),
        }
    }

    /// Decodes a buffer that must hold exactly one whole frame (a USB transfer, a test).
    pub fn decode_exact(buf: &'a [u8]) -> Result<Frame<'a>, DecodeError> {
        match Self::parse(buf)? {
            Some((frame, used)) if used == buf.len() => Ok(frame),
            Some(_) => Err(DecodeError::TrailingBytes),
            None => Err(DecodeError::Truncated("frame")),
        }
    }

    /// The header this frame would be sent with.
    pub fn header(&self) -> FrameHeader {
        FrameHeader { frame_type: self.frame_type, body_len: self.body.len() }
    }
}

/// Encodes a frame. Panics only if `body` exceeds [`MAX_BODY_LEN`], which every
/// producer in this crate rules out by construction.
pub fn encode(frame_type: FrameType, body: &[u8]) -> Vec<u8> {
    assert!(body.len() <= MAX_BODY_LEN, "frame body over MAX_BODY_LEN");
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&FrameHeader { frame_type, body_len: body.len() }.encode());
    out.extend_from_slice(body);
    out
}

/// The frame either end sends when a handshake fails. It is the same whatever failed,
/// so the peer learns nothing about which check it did not pass.
pub fn handshake_failed() -> Vec<u8> {
    encode(FrameType::HandshakeFailed, &[])
}
