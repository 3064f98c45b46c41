//! The legacy handshake's messages: their fields, encoders and total decoders.

use alloc::vec::Vec;

use super::dh::{DH_LEN, DhPublic};
use crate::error::{DecodeError, Error};
use crate::quorum::KeysetId;
use crate::wire::{Reader, WriteExt};

/// The first byte of a legacy hello's body, where a current hello has its channel kind
/// (0x01-0x03): a PED tells the two apart by it alone.
pub const LEGACY_HELLO_MARKER: u8 = 0x74;
/// Longest party identifier, as in the current hello.
pub const MAX_ID_LEN: usize = 32;
/// Most orange keysets one legacy hello may list.
pub const MAX_ORANGE_KEYSETS: usize = 4;
/// Length of R1 and R2.
pub const NONCE_LEN: usize = 8;
/// Length of each nonce message: one AES block.
pub const NONCE_BLOCK_LEN: usize = 16;

/// An HSM firmware version, `major.minor.patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FirmwareVersion {
    /// Major.
    pub major: u8,
    /// Minor.
    pub minor: u8,
    /// Patch.
    pub patch: u8,
}

impl FirmwareVersion {
    /// 7.4.2, the newest firmware that speaks only the legacy channel (seed 3787).
    pub const LEGACY_NEWEST: FirmwareVersion = FirmwareVersion { major: 7, minor: 4, patch: 2 };
    /// 7.7.0, the first firmware of the current channel (seed 3656).
    pub const CURRENT_OLDEST: FirmwareVersion = FirmwareVersion { major: 7, minor: 7, patch: 0 };

    /// Parses `7.4.2`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.').map(|p| p.parse::<u8>().ok());
        let version = FirmwareVersion { major: parts.next()??, minor: parts.next()??, patch: parts.next()?? };
        parts.next().is_none().then_some(version)
    }

    /// Whether this firmware speaks the legacy channel (7.4.2 and older).
    pub fn is_legacy(self) -> bool {
        self <= Self::LEGACY_NEWEST
    }
}

impl core::fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// HSM → PED, the first message (frame type HsmHello).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyHello {
    /// The HSM's firmware: 7.4.2 or older, or the hello is refused.
    pub firmware: FirmwareVersion,
    /// The HSM's serial number, printable ASCII.
    pub hsm_id: Vec<u8>,
    /// The orange keysets whose RPV the HSM holds (1 to [`MAX_ORANGE_KEYSETS`]).
    pub orange_keysets: Vec<KeysetId>,
    /// The HSM's ephemeral public value.
    pub public: DhPublic,
}

impl LegacyHello {
    /// The body bytes.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        check_id(&self.hsm_id, "hsm id")?;
        check_count(self.orange_keysets.len(), MAX_ORANGE_KEYSETS, "orange keysets")?;
        if !self.firmware.is_legacy() {
            return Err(Error::LegacyRefused);
        }
        let mut out = Vec::with_capacity(6 + self.hsm_id.len() + 16 * self.orange_keysets.len() + DH_LEN);
        out.put_u8(LEGACY_HELLO_MARKER);
        out.extend_from_slice(&[self.firmware.major, self.firmware.minor, self.firmware.patch]);
        out.put_bytes_u8(&self.hsm_id);
        out.put_u8(self.orange_keysets.len() as u8);
        for id in &self.orange_keysets {
            out.extend_from_slice(id.as_bytes());
        }
        out.extend_from_slice(self.public.as_bytes());
        Ok(out)
    }

    /// Decodes a body. A hello that claims firmware 7.7.0 or newer is refused
    /// ([`Error::LegacyRefused`]): such an HSM never speaks this channel.
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        if r.u8("legacy marker")? != LEGACY_HELLO_MARKER {
            return Err(DecodeError::InvalidValue("legacy marker").into());
        }
        let [major, minor, patch] = r.array("firmware version")?;
        let firmware = FirmwareVersion { major, minor, patch };
        let hsm_id = r.bytes_u8("hsm id", MAX_ID_LEN)?.to_vec();
        check_id(&hsm_id, "hsm id")?;
        let count = usize::from(r.u8("orange keyset count")?);
        check_count(count, MAX_ORANGE_KEYSETS, "orange keysets")?;
        let mut orange_keysets = Vec::with_capacity(count);
        for _ in 0..count {
            orange_keysets.push(KeysetId::from_bytes(r.array("orange keyset")?));
        }
        let public = DhPublic::from_bytes(r.take(DH_LEN, "hsm public value")?)?;
        r.finish()?;
        if !firmware.is_legacy() {
            return Err(Error::LegacyRefused);
        }
        Ok(LegacyHello { firmware, hsm_id, orange_keysets, public })
    }
}

/// PED → HSM, the second message (frame type PedKeyShare).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyShare {
    /// The PED's serial number, printable ASCII.
    pub ped_id: Vec<u8>,
    /// The orange keyset whose RPV the PED mixed in, one the hello listed.
    pub orange_keyset: KeysetId,
    /// The PED's ephemeral public value.
    pub public: DhPublic,
}

impl LegacyShare {
    /// The body bytes.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        check_id(&self.ped_id, "ped id")?;
        let mut out = Vec::with_capacity(1 + self.ped_id.len() + 16 + DH_LEN);
        out.put_bytes_u8(&self.ped_id);
        out.extend_from_slice(self.orange_keyset.as_bytes());
        out.extend_from_slice(self.public.as_bytes());
        Ok(out)
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let ped_id = r.bytes_u8("ped id", MAX_ID_LEN)?.to_vec();
        check_id(&ped_id, "ped id")?;
        let orange_keyset = KeysetId::from_bytes(r.array("orange keyset")?);
        let public = DhPublic::from_bytes(r.take(DH_LEN, "ped public value")?)?;
        r.finish()?;
        Ok(LegacyShare { ped_id, orange_keyset, public })
    }
}

/// One nonce message's body: one AES block, nothing else.
pub fn decode_nonce_block(body: &[u8]) -> Result<[u8; NONCE_BLOCK_LEN], Error> {
    let mut r = Reader::new(body);
    let block = r.array("nonce block")?;
    r.finish()?;
    Ok(block)
}

fn check_count(len: usize, max: usize, field: &'static str) -> Result<(), Error> {
    match len {
        0 => Err(DecodeError::InvalidValue(field).into()),
        n if n > max => Err(DecodeError::TooLong { field, max }.into()),
        _ => Ok(()),
    }
}

fn check_id(id: &[u8], field: &'static str) -> Result<(), Error> {
    check_count(id.len(), MAX_ID_LEN, field)?;
    if id.iter().all(|b| (0x20..0x7f).contains(b)) { Ok(()) } else { Err(DecodeError::InvalidValue(field).into()) }
}
