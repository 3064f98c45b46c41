//! PED device control (frame types `30`-`36`): what a host program says to the PED
//! itself, outside any HSM channel — asking who it is (pedserver's `show`), loading a
//! firmware image (the Admin menu's Software Update), and telling it that the HSM
//! session it relayed has ended. Nothing here is
//! secret; a firmware image is trusted only through its signature, which the PED
//! checks.

use alloc::string::String;
use alloc::vec::Vec;

use crate::DecodeError;
use crate::frame::{self, Frame, FrameType};
use crate::wire::{Reader, WriteExt};

/// Longest text field.
pub const MAX_TEXT_LEN: usize = 64;
/// Most bytes of image one chunk carries.
pub const MAX_CHUNK_LEN: usize = 16 * 1024;
/// Largest firmware image accepted.
pub const MAX_IMAGE_LEN: u32 = 16 * 1024 * 1024;
/// Most protocol versions or RPK serials an Info lists.
pub const MAX_LIST_LEN: usize = 16;

/// The PED's mode, as its menus name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PedMode {
    /// At the Select Mode menu, or booting.
    SelectMode,
    /// Local PED-USB: plugged into the HSM.
    LocalUsb,
    /// Remote PED: behind pedserver.
    Remote,
    /// Admin mode.
    Admin,
    /// Local PED-SCP (legacy; refused by this firmware).
    LocalScp,
}

impl PedMode {
    const fn to_byte(self) -> u8 {
        match self {
            PedMode::SelectMode => 0,
            PedMode::LocalUsb => 1,
            PedMode::Remote => 2,
            PedMode::Admin => 3,
            PedMode::LocalScp => 4,
        }
    }

    const fn from_byte(b: u8) -> Result<Self, DecodeError> {
        match b {
            0 => Ok(PedMode::SelectMode),
            1 => Ok(PedMode::LocalUsb),
            2 => Ok(PedMode::Remote),
            3 => Ok(PedMode::Admin),
            4 => Ok(PedMode::LocalScp),
            _ => Err(DecodeError::InvalidValue("mode")),
        }
    }
}

/// Who the PED is and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PedInfo {
    /// Firmware version, e.g. "2.9.0-1".
    pub firmware_version: String,
    /// The PED's serial number.
    pub serial: String,
    /// Its current mode.
    pub mode: PedMode,
    /// Channel protocol versions it speaks.
    pub protocol_versions: Vec<u16>,
    /// Serial numbers of the HSMs whose RPK it has cached.
    pub rpk_serials: Vec<String>,
}

/// Where a firmware update stands, as the PED reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateState {
    /// The key holder accepted "Upload Image?"; send chunks.
    Uploading,
    /// The image verified; the PED asks "Save Image? YES/NO".
    AwaitingConfirmation,
    /// The image is saved and will boot next time.
    Success,
    /// The key holder said No, or the PED is not in Admin → Software Update.
    Refused,
    /// The image failed its checks ("Failure (VERIFY)").
    VerifyFailed,
    /// Saving failed; the previous image still boots.
    SaveFailed,
    /// The image is older than the PED's minimum security version ("Failure
    /// (ROLLBACK)", anti-rollback).
    Rollback,
}

impl UpdateState {
    const ALL: [UpdateState; 7] = [
        UpdateState::Uploading,
        UpdateState::AwaitingConfirmation,
        UpdateState::Success,
        UpdateState::Refused,
        UpdateState::VerifyFailed,
        UpdateState::SaveFailed,
        UpdateState::Rollback,
    ];

    const fn to_byte(self) -> u8 {
        match self {
            UpdateState::Uploading => 1,
            UpdateState::AwaitingConfirmation => 2,
            UpdateState::Success => 3,
            UpdateState::Refused => 4,
            UpdateState::VerifyFailed => 5,
            UpdateState::SaveFailed => 6,
            UpdateState::Rollback => 7,
        }
    }
}

/// Why the host's session with an HSM ended, as [`DeviceMessage::SessionEnded`] says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEndReason {
    /// The HSM side ended it (`ped disconnect`; pedclient said Bye).
    HsmDisconnected,
    /// No traffic for the host's idle timeout.
    IdleTimeout,
    /// The link to the HSM broke (closed, unanswered, garbled).
    LinkLost,
    /// The host itself ended it (stopping, or told to disconnect).
    HostEnded,
}

impl SessionEndReason {
    const ALL: [SessionEndReason; 4] = [
        SessionEndReason::HsmDisconnected,
        SessionEndReason::IdleTimeout,
        SessionEndReason::LinkLost,
        SessionEndReason::HostEnded,
    ];

    const fn to_byte(self) -> u8 {
        match self {
            SessionEndReason::HsmDisconnected => 1,
            SessionEndReason::IdleTimeout => 2,
            SessionEndReason::LinkLost => 3,
            SessionEndReason::HostEnded => 4,
        }
    }
}

/// A device control message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceMessage {
    /// Host → PED: who are you?
    InfoRequest,
    /// PED → host: the answer.
    Info(PedInfo),
    /// Host → PED: an image of this many bytes follows.
    UpdateBegin {
        /// Total image length (1..=MAX_IMAGE_LEN).
        image_len: u32,
    },
    /// Host → PED: the bytes at `offset`.
    UpdateChunk {
        /// Where these bytes go in the image.
        offset: u32,
        /// 1..=MAX_CHUNK_LEN bytes.
        data: Vec<u8>,
    },
    /// Host → PED: the whole image was sent.
    UpdateEnd,
    /// PED → host: where the update stands.
    UpdateStatus {
        /// The state.
        state: UpdateState,
        /// What the PED's screen says, for the host's log.
        detail: String,
    },
    /// Host → PED: the HSM session this host relayed is over; the PED's channel with
    /// that HSM is gone. Not answered.
    SessionEnded {
        /// Why.
        reason: SessionEndReason,
    },
}

impl DeviceMessage {
    /// The frame type that carries this message.
    pub fn frame_type(&self) -> FrameType {
        match self {
            DeviceMessage::InfoRequest => FrameType::DeviceInfoRequest,
            DeviceMessage::Info(_) => FrameType::DeviceInfo,
            DeviceMessage::UpdateBegin { .. } => FrameType::UpdateBegin,
            DeviceMessage::UpdateChunk { .. } => FrameType::UpdateChunk,
            DeviceMessage::UpdateEnd => FrameType::UpdateEnd,
            DeviceMessage::UpdateStatus { .. } => FrameType::UpdateStatus,
            DeviceMessage::SessionEnded { .. } => FrameType::SessionEnded,
        }
    }

    /// The whole frame.
    pub fn encode(&self) -> Result<Vec<u8>, DecodeError> {
        let mut body = Vec::new();
        match self {
            DeviceMessage::InfoRequest | DeviceMessage::UpdateEnd => {}
            DeviceMessage::Info(info) => {
                put_text(&mut body, &info.firmware_version, "firmware version")?;
                put_text(&mut body, &info.serial, "serial")?;
                body.put_u8(info.mode.to_byte());
                check_list(info.protocol_versions.len(), "protocol versions")?;
                body.put_u8(info.protocol_versions.len() as u8);
                for v in &info.protocol_versions {
                    body.put_u16(*v);
                }
                check_list(info.rpk_serials.len(), "rpk serials")?;
                body.put_u8(info.rpk_serials.len() as u8);
                for s in &info.rpk_serials {
                    put_text(&mut body, s, "rpk serial")?;
                }
            }
            DeviceMessage::UpdateBegin { image_len } => {
                if *image_len == 0 || *image_len > MAX_IMAGE_LEN {
                    return Err(DecodeError::InvalidValue("image length"));
                }
                body.put_u32(*image_len);
            }
            DeviceMessage::UpdateChunk { offset, data } => {
                if data.is_empty() || data.len() > MAX_CHUNK_LEN {
                    return Err(DecodeError::InvalidValue("chunk"));
                }
                body.put_u32(*offset);
                body.extend_from_slice(data);
            }
            DeviceMessage::UpdateStatus { state, detail } => {
                body.put_u8(state.to_byte());
                put_text(&mut body, detail, "detail")?;
            }
            DeviceMessage::SessionEnded { reason } => body.put_u8(reason.to_byte()),
        }
        Ok(frame::encode(self.frame_type(), &body))
    }

    /// Decodes a device control frame; other frame types are [`DecodeError::UnexpectedFrame`].
    pub fn decode(frame: Frame<'_>) -> Result<Self, DecodeError> {
        let mut r = Reader::new(frame.body);
        let message = match frame.frame_type {
            FrameType::DeviceInfoRequest => DeviceMessage::InfoRequest,
            FrameType::DeviceInfo => {
                let firmware_version = text(&mut r, "firmware version")?;
                let serial = text(&mut r, "serial")?;
                let mode = PedMode::from_byte(r.u8("mode")?)?;
                let n = usize::from(r.u8("protocol version count")?);
                check_list(n, "protocol versions")?;
                let mut protocol_versions = Vec::with_capacity(n);
                for _ in 0..n {
                    protocol_versions.push(r.u16("protocol version")?);
                }
                let n = usize::from(r.u8("rpk serial count")?);
                check_list(n, "rpk serials")?;
                let mut rpk_serials = Vec::with_capacity(n);
                for _ in 0..n {
                    rpk_serials.push(text(&mut r, "rpk serial")?);
                }
                DeviceMessage::Info(PedInfo { firmware_version, serial, mode, protocol_versions, rpk_serials })
            }
            FrameType::UpdateBegin => {
                let image_len = r.u32("image length")?;
                if image_len == 0 || image_len > MAX_IMAGE_LEN {
                    return Err(DecodeError::InvalidValue("image length"));
                }
                DeviceMessage::UpdateBegin { image_len }
            }
            FrameType::UpdateChunk => {
                let offset = r.u32("offset")?;
                let data = r.take(frame.body.len().saturating_sub(4), "chunk")?;
                if data.is_empty() || data.len() > MAX_CHUNK_LEN {
                    return Err(DecodeError::InvalidValue("chunk"));
                }
                DeviceMessage::UpdateChunk { offset, data: data.to_vec() }
            }
            FrameType::UpdateEnd => DeviceMessage::UpdateEnd,
            FrameType::UpdateStatus => {
                let b = r.u8("state")?;
                let state = UpdateState::ALL
                    .into_iter()
                    .find(|s| s.to_byte() == b)
                    .ok_or(DecodeError::InvalidValue("state"))?;
                DeviceMessage::UpdateStatus { state, detail: text(&mut r, "detail")? }
            }
            FrameType::SessionEnded => {
                let b = r.u8("reason")?;
                let reason = SessionEndReason::ALL
                    .into_iter()
                    .find(|s| s.to_byte() == b)
                    .ok_or(DecodeError::InvalidValue("reason"))?;
                DeviceMessage::SessionEnded { reason }
            }
            other => return Err(DecodeError::UnexpectedFrame(other.to_byte())),
        };
        r.finish()?;
        Ok(message)
    }
}

fn check_list(n: usize, field: &'static str) -> Result<(), DecodeError> {
    if n > MAX_LIST_LEN { Err(DecodeError::TooLong { field, max: MAX_LIST_LEN }) } else { Ok(()) }
}

/// Printable ASCII only: these strings are shown on screens and written to logs.
fn put_text(out: &mut Vec<u8>, s: &str, field: &'static str) -> Result<(), DecodeError> {
    if s.len() > MAX_TEXT_LEN || !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(DecodeError::InvalidValue(field));
    }
    out.put_bytes_u8(s.as_bytes());
    Ok(())
}

fn text(r: &mut Reader<'_>, field: &'static str) -> Result<String, DecodeError> {
    let bytes = r.bytes_u8(field, MAX_TEXT_LEN)?;
    if !bytes.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Err(DecodeError::InvalidValue(field));
    }
    Ok(bytes.iter().map(|&b| char::from(b)).collect())
}
