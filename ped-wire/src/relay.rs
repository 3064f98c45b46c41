//! Relay control: the messages pedclient and pedserver exchange outside the
//! end-to-end channel (frame types `20`-`27`). They carry no secret: versions, liveness,
//! the PED's status, and why a connection is refused or ended.

use alloc::string::String;
use alloc::vec::Vec;

use crate::frame::{self, Frame, FrameType};
use crate::wire::{Reader, WriteExt};
use crate::{DecodeError, ErrorCode};

/// The relay protocol version of this implementation.
pub const RELAY_VERSION: u16 = 1;
/// Longest text field (software version, firmware version, a serial).
pub const MAX_TEXT_LEN: usize = 64;
/// Longest error message.
pub const MAX_MESSAGE_LEN: usize = 200;
/// Most RPK serials a status lists.
pub const MAX_RPK_SERIALS: usize = 16;

/// Which daemon speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayRole {
    /// pedclient, on the HSM host.
    Client,
    /// pedserver, on the PED's host.
    Server,
}

/// What `pedserver -mode show` reports about its PED, sent on request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PedStatus {
    /// Whether a PED is attached and answering.
    pub ped_connected: bool,
    /// The PED's firmware version, e.g. "2.9.0"; empty when no PED is attached.
    pub firmware_version: String,
    /// The PED channel protocol version the PED speaks; 0 when unknown.
    pub protocol_version: u16,
    /// How many RPKs the PED has cached.
    pub rpk_count: u8,
    /// Serial numbers of the HSMs whose RPKs are cached.
    pub rpk_serials: Vec<String>,
}

/// A relay control message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelayMessage {
    /// First message of each side: versions and software.
    Hello {
        /// Relay protocol version.
        version: u16,
        /// The sender's role.
        role: RelayRole,
        /// The sender's software and version, e.g. "pedserver 0.1.0".
        software: String,
    },
    /// Liveness probe; the peer answers Pong with the same nonce.
    Ping {
        /// Echoed in the Pong.
        nonce: u64,
    },
    /// Answer to Ping.
    Pong {
        /// The Ping's nonce.
        nonce: u64,
    },
    /// Asks pedserver for its PED's status.
    StatusRequest,
    /// pedserver's answer to StatusRequest.
    Status(PedStatus),
    /// pedserver already serves another HSM; the connection will close.
    Busy,
    /// The sender ends the connection deliberately.
    Bye,
    /// The sender ends the connection because of an error.
    Error {
        /// The stable code (`ErrorCode::value`).
        code: u32,
        /// A sentence for the log.
        message: String,
    },
}

impl RelayMessage {
    /// The frame type that carries this message.
    pub fn frame_type(&self) -> FrameType {
        match self {
            RelayMessage::Hello { .. } => FrameType::RelayHello,
            RelayMessage::Ping { .. } => FrameType::RelayPing,
            RelayMessage::Pong { .. } => FrameType::RelayPong,
            RelayMessage::StatusRequest => FrameType::RelayStatusRequest,
            RelayMessage::Status(_) => FrameType::RelayStatus,
            RelayMessage::Busy => FrameType::RelayBusy,
            RelayMessage::Bye => FrameType::RelayBye,
            RelayMessage::Error { .. } => FrameType::RelayError,
        }
    }

    /// An error message for a stable code, with the code's own advice as text.
    pub fn error(code: ErrorCode) -> Self {
        RelayMessage::Error { code: code.value(), message: String::from(code.advice()) }
    }

    /// The whole frame.
    pub fn encode(&self) -> Result<Vec<u8>, DecodeError> {
        let mut body = Vec::new();
        match self {
            RelayMessage::Hello { version, role, software } => {
                body.put_u16(*version);
                body.put_u8(match role {
                    RelayRole::Client => 1,
                    RelayRole::Server => 2,
                });
                put_text(&mut body, software, MAX_TEXT_LEN, "software")?;
            }
            RelayMessage::Ping { nonce } | RelayMessage::Pong { nonce } => body.extend_from_slice(&nonce.to_be_bytes()),
            RelayMessage::StatusRequest | RelayMessage::Busy | RelayMessage::Bye => {}
            RelayMessage::Status(s) => {
                body.put_u8(u8::from(s.ped_connected));
                put_text(&mut body, &s.firmware_version, MAX_TEXT_LEN, "firmware version")?;
                body.put_u16(s.protocol_version);
                body.put_u8(s.rpk_count);
                if s.rpk_serials.len() > MAX_RPK_SERIALS {
                    return Err(DecodeError::TooLong { field: "rpk serials", max: MAX_RPK_SERIALS });
                }
                body.put_u8(s.rpk_serials.len() as u8);
                for serial in &s.rpk_serials {
                    put_text(&mut body, serial, MAX_TEXT_LEN, "rpk serial")?;
                }
            }
            RelayMessage::Error { code, message } => {
                body.put_u32(*code);
                put_text(&mut body, message, MAX_MESSAGE_LEN, "message")?;
            }
        }
        Ok(frame::encode(self.frame_type(), &body))
    }

    /// Decodes a relay control frame. Frames of other types are refused with
    /// [`DecodeError::UnexpectedFrame`] so a caller can route them elsewhere first.
    pub fn decode(frame: Frame<'_>) -> Result<Self, DecodeError> {
        let mut r = Reader::new(frame.body);
        let message = match frame.frame_type {
            FrameType::RelayHello => {
                let version = r.u16("version")?;
                let role = match r.u8("role")? {
                    1 => RelayRole::Client,
                    2 => RelayRole::Server,
                    _ => return Err(DecodeError::InvalidValue("role")),
                };
                RelayMessage::Hello { version, role, software: text(&mut r, MAX_TEXT_LEN, "software")? }
            }
            FrameType::RelayPing => RelayMessage::Ping { nonce: u64::from_be_bytes(r.array("nonce")?) },
            FrameType::RelayPong => RelayMessage::Pong { nonce: u64::from_be_bytes(r.array("nonce")?) },
            FrameType::RelayStatusRequest => RelayMessage::StatusRequest,
            FrameType::RelayStatus => {
                let ped_connected = match r.u8("ped connected")? {
                    0 => false,
                    1 => true,
                    _ => return Err(DecodeError::InvalidValue("ped connected")),
                };
                let firmware_version = text(&mut r, MAX_TEXT_LEN, "firmware version")?;
                let protocol_version = r.u16("protocol version")?;
                let rpk_count = r.u8("rpk count")?;
                let n = usize::from(r.u8("rpk serial count")?);
                if n > MAX_RPK_SERIALS {
                    return Err(DecodeError::TooLong { field: "rpk serials", max: MAX_RPK_SERIALS });
                }
                let mut rpk_serials = Vec::with_capacity(n);
                for _ in 0..n {
                    rpk_serials.push(text(&mut r, MAX_TEXT_LEN, "rpk serial")?);
                }
                RelayMessage::Status(PedStatus {
                    ped_connected,
                    firmware_version,
                    protocol_version,
                    rpk_count,
                    rpk_serials,
                })
            }
            FrameType::RelayBusy => RelayMessage::Busy,
            FrameType::RelayBye => RelayMessage::Bye,
            FrameType::RelayError => {
                RelayMessage::Error { code: r.u32("code")?, message: text(&mut r, MAX_MESSAGE_LEN, "message")? }
            }
            other => return Err(DecodeError::UnexpectedFrame(other.to_byte())),
        };
        r.finish()?;
        Ok(message)
    }
}

/// Printable ASCII only, so nothing a peer sends can forge log lines or terminal
/// escapes when it is printed.
fn is_printable(s: &[u8]) -> bool {
    s.iter().all(|b| (0x20..0x7f).contains(b))
}

fn put_text(out: &mut Vec<u8>, s: &str, max: usize, field: &'static str) -> Result<(), DecodeError> {
    if s.len() > max {
        return Err(DecodeError::TooLong { field, max });
    }
    if !is_printable(s.as_bytes()) {
        return Err(DecodeError::InvalidValue(field));
    }
    out.put_bytes_u8(s.as_bytes());
    Ok(())
}

fn text(r: &mut Reader<'_>, max: usize, field: &'static str) -> Result<String, DecodeError> {
    let bytes = r.bytes_u8(field, max)?;
    if !is_printable(bytes) {
        return Err(DecodeError::InvalidValue(field));
    }
    // Printable ASCII is valid UTF-8.
    Ok(bytes.iter().map(|&b| char::from(b)).collect())
}
