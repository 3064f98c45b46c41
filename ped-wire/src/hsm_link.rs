//! The HSM link: how an HSM asks the pedclient on its host to reach a Remote PED, and
//! learns when that link ends (frame types `28`-`2b`), and how it hands pedclient its
//! audit records (`2c`: pedclient is the HSM's logging daemon, seed 5390). Once the link is up, the HSM's
//! handshake and record frames pass over the same connection, and pedclient relays
//! them unread to pedserver. Nothing here is secret.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::frame::{self, Frame, FrameType};
use crate::wire::{Reader, WriteExt};
use crate::{DecodeError, ErrorCode};

/// Longest host name or address.
pub const MAX_HOST_LEN: usize = 255;
/// Longest HSM serial number.
pub const MAX_SERIAL_LEN: usize = 32;
/// Longest message text.
pub const MAX_MESSAGE_LEN: usize = 200;

/// Longest audit event text.
pub const MAX_AUDIT_EVENT_LEN: usize = 200;
/// Length of an audit record's chain value (SHA-256).
pub const AUDIT_HASH_LEN: usize = 32;

/// One record of the HSM's audit log. The HSM chains them: `prev` is the SHA-256 of the
/// previous record's [`AuditRecord::body`] (zeros before the first), so a reader holding
/// the records in order can tell an edited, missing or reordered one (hsm-emu's
/// `audit verify`). This crate only carries and prints them; it hashes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// 1 for the HSM's first record, then one more each time.
    pub seq: u64,
    /// When the event happened, Unix seconds on the HSM's clock.
    pub time: u64,
    /// The HSM's serial number: printable ASCII without spaces, 1 to [`MAX_SERIAL_LEN`].
    pub hsm_serial: String,
    /// What happened and how it ended: printable ASCII, at most [`MAX_AUDIT_EVENT_LEN`].
    pub event: String,
    /// SHA-256 of the previous record's body.
    pub prev: [u8; AUDIT_HASH_LEN],
}

impl AuditRecord {
    /// The canonical bytes the chain hashes: the frame's body,
    /// `seq u64 ‖ time u64 ‖ len8 serial ‖ len8 event ‖ prev[32]`.
    pub fn body(&self) -> Result<Vec<u8>, DecodeError> {
        let mut body = Vec::with_capacity(8 + 8 + 2 + self.hsm_serial.len() + self.event.len() + AUDIT_HASH_LEN);
        body.extend_from_slice(&self.seq.to_be_bytes());
        body.extend_from_slice(&self.time.to_be_bytes());
        if self.hsm_serial.is_empty() || self.hsm_serial.bytes().any(|b| b == b' ') {
            return Err(DecodeError::InvalidValue("hsm serial"));
        }
        put_text(&mut body, &self.hsm_serial, MAX_SERIAL_LEN, "hsm serial")?;
        put_text(&mut body, &self.event, MAX_AUDIT_EVENT_LEN, "audit event")?;
        body.extend_from_slice(&self.prev);
        Ok(body)
    }

    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let seq = u64::from_be_bytes(r.array("seq")?);
        let time = u64::from_be_bytes(r.array("time")?);
        let hsm_serial = text(r, MAX_SERIAL_LEN, "hsm serial")?;
        if hsm_serial.is_empty() || hsm_serial.contains(' ') {
            return Err(DecodeError::InvalidValue("hsm serial"));
        }
        let event = text(r, MAX_AUDIT_EVENT_LEN, "audit event")?;
        Ok(AuditRecord { seq, time, hsm_serial, event, prev: r.array("prev")? })
    }

    /// The record as one line of pedclient's audit log file (no newline):
    /// `SEQ TIME SERIAL PREV-HEX EVENT`, decimal numbers, lowercase hex, the event last
    /// (it may hold spaces). Every field of the body is there, so a reader rebuilds the
    /// body exactly ([`AuditRecord::from_line`]).
    pub fn to_line(&self) -> String {
        let mut line = String::with_capacity(48 + 2 * AUDIT_HASH_LEN + self.event.len());
        let _ = write!(line, "{} {} {} ", self.seq, self.time, self.hsm_serial);
        for b in self.prev {
            let _ = write!(line, "{b:02x}");
        }
        line.push(' ');
        line.push_str(&self.event);
        line
    }

    /// Parses one line of an audit log file (without its newline); total: any text yields
    /// a record or a typed error naming the field.
    pub fn from_line(line: &str) -> Result<Self, DecodeError> {
        let mut fields = line.splitn(5, ' ');
        let mut next = |field| fields.next().ok_or(DecodeError::Truncated(field));
        let number = |s: &str, field| {
            if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DecodeError::InvalidValue(field));
            }
            s.parse::<u64>().map_err(|_| DecodeError::InvalidValue(field))
        };
        let seq = number(next("seq")?, "seq")?;
        let time = number(next("time")?, "time")?;
        let hsm_serial = next("hsm serial")?;
        let prev_hex = next("prev")?.as_bytes();
        let event = next("audit event")?;
        if prev_hex.len() != 2 * AUDIT_HASH_LEN {
            return Err(DecodeError::InvalidValue("prev"));
        }
        let mut prev = [0u8; AUDIT_HASH_LEN];
        for (out, pair) in prev.iter_mut().zip(prev_hex.chunks_exact(2)) {
            *out = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        let record = AuditRecord { seq, time, hsm_serial: hsm_serial.into(), event: event.into(), prev };
        // The same rules as the wire's: a line the HSM could not have sent is refused.
        record.body()?;
        Ok(record)
    }
}

fn hex_digit(c: u8) -> Result<u8, DecodeError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(DecodeError::InvalidValue("prev")),
    }
}

/// An HSM link control message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HsmLinkMessage {
    /// HSM → pedclient: reach the pedserver at `host:port`, or, with an empty `host`,
    /// the one mapped to this HSM's serial (`pedclient -mode assignid`).
    Connect {
        /// The HSM's serial number.
        hsm_serial: String,
        /// pedserver's address or host name; empty for the assigned mapping.
        host: String,
        /// pedserver's port (1503 by default); ignored with an empty host.
        port: u16,
    },
    /// pedclient → HSM: the relay to pedserver is up and a PED is attached.
    Connected {
        /// The PED's firmware version, as pedserver reported it.
        firmware_version: String,
        /// Which pedserver, as pedclient sees it (`HOST:PORT`, at most
        /// [`MAX_HOST_LEN`]): the address it dialled, or the one a PED-initiated
        /// pedserver connected from. The HSM asked for an address, or for none (a PED ID
        /// mapping, PED-initiated mode); this is the one that answered.
        pedserver: String,
        /// pedserver connected to pedclient (PED-initiated mode), not the other way.
        ped_initiated: bool,
    },
    /// HSM → pedclient: end the remote link (`ped disconnect`).
    Disconnect,
    /// pedclient → HSM: the link could not be made, or it ended.
    Closed {
        /// Why, as a stable code (`CKR_PED_UNPLUGGED`, `RC_SOCKET_ERROR`,
        /// `RC_OPERATION_TIMED_OUT` …); `0` for a deliberate disconnect.
        code: u32,
        /// A sentence for the HSM's log and console.
        message: String,
    },
    /// HSM → pedclient: an audit record to write to the audit log. Sent whenever the HSM
    /// link is open, whatever else is in progress on it; no answer.
    Audit(AuditRecord),
    /// HSM → pedclient: rotate this HSM's audit log before a file would pass
    /// `rotate_size` bytes, keeping `rotate_count` files (1-1000). The HSM sends it only
    /// for a logged-in Auditor (`audit config`); no answer.
    AuditConfig {
        /// Bytes, at least 1.
        rotate_size: u64,
        /// Files kept, the current one included: 1 to [`MAX_AUDIT_FILES`].
        rotate_count: u32,
    },
}

/// The most audit log files an HSM may ask pedclient to keep.
pub const MAX_AUDIT_FILES: u32 = 1000;

impl HsmLinkMessage {
    /// A Closed message for a stable code, with the code's advice as text.
    pub fn closed(code: ErrorCode) -> Self {
        HsmLinkMessage::Closed { code: code.value(), message: String::from(code.advice()) }
    }

    /// The frame type that carries this message.
    pub fn frame_type(&self) -> FrameType {
        match self {
            HsmLinkMessage::Connect { .. } => FrameType::LinkConnect,
            HsmLinkMessage::Connected { .. } => FrameType::LinkConnected,
            HsmLinkMessage::Disconnect => FrameType::LinkDisconnect,
            HsmLinkMessage::Closed { .. } => FrameType::LinkClosed,
            HsmLinkMessage::Audit(_) => FrameType::LinkAudit,
            HsmLinkMessage::AuditConfig { .. } => FrameType::LinkAuditConfig,
        }
    }

    /// The whole frame.
    pub fn encode(&self) -> Result<Vec<u8>, DecodeError> {
        let mut body = Vec::new();
        match self {
            HsmLinkMessage::Connect { hsm_serial, host, port } => {
                put_text(&mut body, hsm_serial, MAX_SERIAL_LEN, "hsm serial")?;
                put_text(&mut body, host, MAX_HOST_LEN, "host")?;
                body.put_u16(*port);
            }
            HsmLinkMessage::Connected { firmware_version, pedserver, ped_initiated } => {
                put_text(&mut body, firmware_version, MAX_SERIAL_LEN, "firmware version")?;
                put_text(&mut body, pedserver, MAX_HOST_LEN, "pedserver")?;
                body.put_u8(u8::from(*ped_initiated));
            }
            HsmLinkMessage::Disconnect => {}
            HsmLinkMessage::Closed { code, message } => {
                body.put_u32(*code);
                put_text(&mut body, message, MAX_MESSAGE_LEN, "message")?;
            }
            HsmLinkMessage::Audit(record) => body = record.body()?,
            HsmLinkMessage::AuditConfig { rotate_size, rotate_count } => {
                if *rotate_size == 0 || !(1..=MAX_AUDIT_FILES).contains(rotate_count) {
                    return Err(DecodeError::InvalidValue("audit rotation"));
                }
                body.extend_from_slice(&rotate_size.to_be_bytes());
                body.put_u32(*rotate_count);
            }
        }
        Ok(frame::encode(self.frame_type(), &body))
    }

    /// Decodes an HSM link control frame; other frame types are [`DecodeError::UnexpectedFrame`].
    pub fn decode(frame: Frame<'_>) -> Result<Self, DecodeError> {
        let mut r = Reader::new(frame.body);
        let message = match frame.frame_type {
            FrameType::LinkConnect => HsmLinkMessage::Connect {
                hsm_serial: text(&mut r, MAX_SERIAL_LEN, "hsm serial")?,
                host: text(&mut r, MAX_HOST_LEN, "host")?,
                port: r.u16("port")?,
            },
            FrameType::LinkConnected => HsmLinkMessage::Connected {
                firmware_version: text(&mut r, MAX_SERIAL_LEN, "firmware version")?,
                pedserver: text(&mut r, MAX_HOST_LEN, "pedserver")?,
                ped_initiated: match r.u8("ped-initiated")? {
                    0 => false,
                    1 => true,
                    _ => return Err(DecodeError::InvalidValue("ped-initiated")),
                },
            },
            FrameType::LinkDisconnect => HsmLinkMessage::Disconnect,
            FrameType::LinkClosed => {
                HsmLinkMessage::Closed { code: r.u32("code")?, message: text(&mut r, MAX_MESSAGE_LEN, "message")? }
            }
            FrameType::LinkAudit => HsmLinkMessage::Audit(AuditRecord::decode_body(&mut r)?),
            FrameType::LinkAuditConfig => {
                let rotate_size = u64::from_be_bytes(r.array("rotate size")?);
                let rotate_count = r.u32("rotate count")?;
                if rotate_size == 0 || !(1..=MAX_AUDIT_FILES).contains(&rotate_count) {
                    return Err(DecodeError::InvalidValue("audit rotation"));
                }
                HsmLinkMessage::AuditConfig { rotate_size, rotate_count }
            }
            other => return Err(DecodeError::UnexpectedFrame(other.to_byte())),
        };
        r.finish()?;
        Ok(message)
    }
}

/// Printable ASCII only: these strings reach consoles and logs.
fn put_text(out: &mut Vec<u8>, s: &str, max: usize, field: &'static str) -> Result<(), DecodeError> {
    if s.len() > max || !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(DecodeError::InvalidValue(field));
    }
    out.put_bytes_u8(s.as_bytes());
    Ok(())
}

fn text(r: &mut Reader<'_>, max: usize, field: &'static str) -> Result<String, DecodeError> {
    let bytes = r.bytes_u8(field, max)?;
    if !bytes.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Err(DecodeError::InvalidValue(field));
    }
    Ok(bytes.iter().map(|&b| char::from(b)).collect())
}
