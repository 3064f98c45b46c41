//! What a PED writes on a PED key: the key's colour, which keyset and split it holds,
//! and the PIN-bound split. Nothing else: in particular nothing derived from the
//! split's value, so that a stolen key offers no test of a PIN guess (crate::pin).
//!
//! ```text
//! "PEDK" ‖ u8 format=2 ‖ u8 colour ‖ u8 flags ‖ keyset id[16] ‖ u8 M ‖ u8 N ‖ u8 index
//!        ‖ salt[16] ‖ len16(masked split)
//! ```
//!
//! The first seven bytes identify the key without its PIN (the PED's "List types").
//! Format 1 (before the PIN binding was redesigned) carried an orange key's RPK
//! certificate in clear, which confirmed PIN guesses; such keys are refused with
//! [`DecodeError::OldKeyFormat`], never read.

use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

use crate::error::{DecodeError, Error};
use crate::pin::{PinSalt, SALT_LEN};
use crate::quorum::{KeysetId, Quorum, SplitInfo};
use crate::wire::{Reader, WriteExt};

/// The four bytes that open every payload.
pub const MAGIC: [u8; 4] = *b"PEDK";
/// The payload format this implementation writes and reads.
pub const FORMAT: u8 = 2;
/// Longest split (a role secret of up to 128 bytes).
pub const MAX_SPLIT_LEN: usize = 128;
/// Largest payload.
pub const MAX_PAYLOAD_LEN: usize = 4 + 3 + 16 + 3 + SALT_LEN + 2 + MAX_SPLIT_LEN;

const FLAG_PIN: u8 = 0x01;

/// The type of secret on a key, as the PED sees it (by colour). Black covers CO, CU
/// and LCO alike: the PED cannot tell a gray sticker from a black one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyColour {
    /// HSM SO or Partition SO.
    Blue,
    /// HSM or partition cloning domain.
    Red,
    /// Remote PED Vector and RPK static key.
    Orange,
    /// Crypto Officer, Crypto User or Limited Crypto Officer.
    Black,
    /// Auditor.
    White,
}

impl KeyColour {
    /// Every colour, in byte order.
    pub const ALL: [KeyColour; 5] =
        [KeyColour::Blue, KeyColour::Red, KeyColour::Orange, KeyColour::Black, KeyColour::White];

    /// The colour byte.
    pub const fn to_byte(self) -> u8 {
        match self {
            KeyColour::Blue => 0x01,
            KeyColour::Red => 0x02,
            KeyColour::Orange => 0x03,
            KeyColour::Black => 0x04,
            KeyColour::White => 0x05,
        }
    }

    /// The colour for a byte.
    pub const fn from_byte(b: u8) -> Result<Self, DecodeError> {
        match b {
            0x01 => Ok(KeyColour::Blue),
            0x02 => Ok(KeyColour::Red),
            0x03 => Ok(KeyColour::Orange),
            0x04 => Ok(KeyColour::Black),
            0x05 => Ok(KeyColour::White),
            _ => Err(DecodeError::InvalidValue("key colour")),
        }
    }

    /// The secret's name on the PED's "Found keys:" screen.
    pub const fn secret_name(self) -> &'static str {
        match self {
            KeyColour::Blue => "SO",
            KeyColour::Red => "Domain",
            KeyColour::Orange => "Remote PED",
            KeyColour::Black => "User",
            KeyColour::White => "Audit",
        }
    }

    /// The colour in capitals, as in "PED Key (BLUE)".
    pub const fn name(self) -> &'static str {
        match self {
            KeyColour::Blue => "BLUE",
            KeyColour::Red => "RED",
            KeyColour::Orange => "ORANGE",
            KeyColour::Black => "BLACK",
            KeyColour::White => "WHITE",
        }
    }
}

/// The content of one written PED key.
pub struct PedKeyPayload {
    /// What the key is.
    pub colour: KeyColour,
    /// Which split of which keyset it holds.
    pub split: SplitInfo,
    /// Whether a PIN was set at creation (the PED then asks for it).
    pub pin_protected: bool,
    /// The salt of the PIN binding.
    pub salt: PinSalt,
    /// The split, bound to the PIN (see `pin`); equal to the split when no PIN is set.
    pub masked_split: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for PedKeyPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PedKeyPayload")
            .field("colour", &self.colour)
            .field("split", &self.split)
            .field("pin_protected", &self.pin_protected)
            .finish_non_exhaustive()
    }
}

impl PedKeyPayload {
    /// The bytes to write on the key.
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        if self.masked_split.is_empty() || self.masked_split.len() > MAX_SPLIT_LEN {
            return Err(DecodeError::TooLong { field: "split", max: MAX_SPLIT_LEN }.into());
        }
        let mut out = Zeroizing::new(Vec::with_capacity(64 + self.masked_split.len()));
        out.extend_from_slice(&MAGIC);
        out.put_u8(FORMAT);
        out.put_u8(self.colour.to_byte());
        out.put_u8(if self.pin_protected { FLAG_PIN } else { 0 });
        out.extend_from_slice(self.split.keyset_id().as_bytes());
        out.put_u8(self.split.quorum().m());
        out.put_u8(self.split.quorum().n());
        out.put_u8(self.split.index());
        out.extend_from_slice(self.salt.as_bytes());
        out.put_bytes_u16(&self.masked_split);
        Ok(out)
    }

    /// Decodes a key's content; every field is range-checked (M ≤ N ≤ 16, 1 ≤ index ≤ N).
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        // The header first (7 bytes, bounded): a key of an older format, longer than
        // any this format writes, is told apart from a damaged one.
        let mut r = Reader::new(bytes);
        let colour = header(&mut r)?;
        if bytes.len() > MAX_PAYLOAD_LEN {
            return Err(DecodeError::TooLong { field: "payload", max: MAX_PAYLOAD_LEN }.into());
        }
        let flags = r.u8("flags")?;
        if flags & !FLAG_PIN != 0 {
            return Err(DecodeError::InvalidValue("flags").into());
        }
        let keyset_id = KeysetId::from_bytes(r.array("keyset id")?);
        let quorum = Quorum::new(r.u8("M")?, r.u8("N")?).map_err(|_| DecodeError::InvalidValue("M of N"))?;
        let split =
            SplitInfo::new(keyset_id, r.u8("index")?, quorum).map_err(|_| DecodeError::InvalidValue("index"))?;
        let salt = PinSalt::from_bytes(r.array("salt")?);
        let masked = r.bytes_u16("split", MAX_SPLIT_LEN)?;
        if masked.is_empty() {
            return Err(DecodeError::InvalidValue("split").into());
        }
        r.finish()?;
        Ok(PedKeyPayload {
            colour,
            split,
            pin_protected: flags & FLAG_PIN != 0,
            salt,
            masked_split: Zeroizing::new(masked.to_vec()),
        })
    }
}

/// Reads only the colour of a key, without its PIN and without decoding the rest
/// (the PED's "List types").
pub fn identify(bytes: &[u8]) -> Result<KeyColour, Error> {
    Ok(header(&mut Reader::new(bytes))?)
}

fn header(r: &mut Reader<'_>) -> Result<KeyColour, DecodeError> {
    if r.array::<4>("magic")? != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let format = r.u8("format")?;
    if format == FORMAT - 1 {
        return Err(DecodeError::OldKeyFormat(format));
    }
    if format != FORMAT {
        return Err(DecodeError::UnsupportedFrameVersion(format));
    }
    KeyColour::from_byte(r.u8("colour")?)
}
