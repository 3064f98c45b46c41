//! The HSM link: how an HSM asks the pedclient on its host to reach a Remote PED, and
//! learns when that link ends (frame types `28`-`2b`). Once the link is up, the HSM's
//! handshake and record frames pass over the same connection, and pedclient relays
//! them unread to pedserver. Nothing here is secret.

use alloc::string::String;
use alloc::vec::Vec;

use crate::frame::{self, Frame, FrameType};
use crate::wire::{Reader, WriteExt};
use crate::{DecodeError, ErrorCode};

/// Longest host name or address.
pub const MAX_HOST_LEN: usize = 255;
/// Longest HSM serial number.
pub const MAX_SERIAL_LEN: usize = 32;
/// Longest message text.
pub const MAX_MESSAGE_LEN: usize = 200;

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
}

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
