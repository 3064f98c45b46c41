//! One emulated PED key: a serial number fixed at manufacture, a label, a capacity,
//! a write counter, the faults a rig set on it, and at most one payload (what a PED
//! wrote: one secret's split, see `ped_proto::pedkey`).

use std::fmt;
use std::str::FromStr;

use ped_hal::KeySerial;
use ped_proto::pedkey::{self, KeyColour, PedKeyPayload};
use zeroize::Zeroizing;

use crate::faults::Faults;

/// The capacity of a key made without `--capacity`, in payload bytes: 8 KiB, the
/// memory class of the small USB tokens PED keys are built on (the seed gives no
/// figure; this one is ours). The largest payload a PED writes is
/// [`pedkey::MAX_PAYLOAD_LEN`] bytes and fits.
pub const DEFAULT_CAPACITY: u32 = 8192;
/// The largest capacity a key can be made with.
pub const MAX_CAPACITY: u32 = 65_536;
/// The longest label, in bytes.
pub const MAX_LABEL_LEN: usize = 32;

const _: () = assert!(pedkey::MAX_PAYLOAD_LEN <= DEFAULT_CAPACITY as usize);

/// Why a key's field was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// The label breaks the rules of [`Label`].
    #[error(
        "a label is 1-{MAX_LABEL_LEN} printable ASCII characters, not all digits (those name serials), \
         without spaces at either end"
    )]
    Label,
    /// The serial number is not a positive decimal number.
    #[error("a serial number is a positive decimal number of at most 20 digits, e.g. 1234567890")]
    Serial,
    /// The capacity is out of range.
    #[error("a key's capacity is 1-{MAX_CAPACITY} bytes")]
    Capacity,
}

/// A key's label, as written on its sticker: it names the key on the command line
/// instead of its serial, so it is printable, trimmed and never all digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(String);

impl Label {
    /// The label's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `text` would be a valid label.
    pub fn is_valid(text: &str) -> bool {
        (1..=MAX_LABEL_LEN).contains(&text.len())
            && text.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
            && !text.starts_with(' ')
            && !text.ends_with(' ')
            && !text.bytes().all(|b| b.is_ascii_digit())
    }
}

impl FromStr for Label {
    type Err = FieldError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if Label::is_valid(text) { Ok(Label(text.to_owned())) } else { Err(FieldError::Label) }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a serial number as typed on the command line (leading zeros allowed).
pub fn parse_serial(text: &str) -> Result<KeySerial, FieldError> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::Serial);
    }
    match text.parse::<u64>() {
        Ok(0) | Err(_) => Err(FieldError::Serial),
        Ok(n) => Ok(KeySerial(n)),
    }
}

/// A PED key.
#[derive(Clone)]
pub struct Key {
    serial: KeySerial,
    label: Option<Label>,
    capacity: u32,
    write_count: u64,
    faults: Faults,
    payload: Option<Zeroizing<Vec<u8>>>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("serial", &self.serial)
            .field("label", &self.label)
            .field("capacity", &self.capacity)
            .field("write_count", &self.write_count)
            .field("faults", &self.faults)
            .field("payload_len", &self.payload_len())
            .finish()
    }
}

/// A payload longer than the key's capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLarge {
    /// The payload's length.
    pub len: usize,
    /// The key's capacity.
    pub capacity: u32,
}

impl Key {
    /// A blank key, as it leaves the factory.
    pub fn blank(serial: KeySerial, label: Option<Label>, capacity: u32) -> Result<Key, FieldError> {
        if serial.0 == 0 {
            return Err(FieldError::Serial);
        }
        if capacity == 0 || capacity > MAX_CAPACITY {
            return Err(FieldError::Capacity);
        }
        Ok(Key { serial, label, capacity, write_count: 0, faults: Faults::NONE, payload: None })
    }

    /// Rebuilds a key read from its file; the caller has checked every field.
    pub(crate) fn from_parts(
        serial: KeySerial,
        label: Option<Label>,
        capacity: u32,
        write_count: u64,
        faults: Faults,
        payload: Option<Zeroizing<Vec<u8>>>,
    ) -> Key {
        Key { serial, label, capacity, write_count, faults, payload }
    }

    /// The serial number, fixed at manufacture.
    pub fn serial(&self) -> KeySerial {
        self.serial
    }

    /// The label, if the key has one.
    pub fn label(&self) -> Option<&Label> {
        self.label.as_ref()
    }

    /// The most payload bytes the key holds.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// How many times the key's content was written (each PED write and each wipe).
    pub fn write_count(&self) -> u64 {
        self.write_count
    }

    /// The faults a rig set on the key.
    pub fn faults(&self) -> Faults {
        self.faults
    }

    /// The payload; `None` for a blank key. It holds a (PIN-masked) split: never print it.
    pub fn payload(&self) -> Option<&[u8]> {
        self.payload.as_deref().map(Vec::as_slice)
    }

    /// The payload's length (0 when blank).
    pub fn payload_len(&self) -> usize {
        self.payload().map_or(0, <[u8]>::len)
    }

    /// Whether the key holds no secret.
    pub fn is_blank(&self) -> bool {
        self.payload.is_none()
    }

    /// Replaces the content, counting one write; an empty payload makes the key blank.
    /// A payload over capacity is refused and the key is left as it was.
    pub fn write(&mut self, payload: &[u8]) -> Result<(), TooLarge> {
        if payload.len() > self.capacity as usize {
            return Err(TooLarge { len: payload.len(), capacity: self.capacity });
        }
        self.payload = (!payload.is_empty()).then(|| Zeroizing::new(payload.to_vec()));
        self.write_count = self.write_count.saturating_add(1);
        Ok(())
    }

    /// Sets the faults (not a write of the content: the counter does not move).
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    /// What the payload says, decoded with `ped_proto::pedkey` (never its secret part).
    pub fn content(&self) -> Content {
        let Some(bytes) = self.payload() else { return Content::Blank };
        match PedKeyPayload::decode(bytes) {
            Ok(p) => Content::Split(SplitSummary {
                colour: p.colour,
                pin_protected: p.pin_protected,
                keyset_id: *p.split.keyset_id().as_bytes(),
                m: p.split.quorum().m(),
                n: p.split.quorum().n(),
                index: p.split.index(),
            }),
            // The decode error's own words: the advice of its protocol code is for links.
            Err(e) => {
                let reason = match e {
                    ped_proto::Error::Decode(d) => d.to_string(),
                    other => other.to_string(),
                };
                Content::Unrecognised { colour: pedkey::identify(bytes).ok(), reason }
            }
        }
    }
}

/// A key's content as the PED's "List types" and this emulator's `show` describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// No secret.
    Blank,
    /// One split of a keyset.
    Split(SplitSummary),
    /// Bytes that are not a PED key payload this implementation reads (a PED of another
    /// format, or a rig that wrote garbage through the port).
    Unrecognised {
        /// The colour, if the first seven bytes still say it.
        colour: Option<KeyColour>,
        /// Why the payload did not decode.
        reason: String,
    },
}

/// The public facts of a written key: no split value, no salt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitSummary {
    /// The secret's type.
    pub colour: KeyColour,
    /// Whether the PED will ask for a PIN.
    pub pin_protected: bool,
    /// The keyset's identity (not secret: it names the keyset).
    pub keyset_id: [u8; 16],
    /// Splits needed to log in.
    pub m: u8,
    /// Splits in the keyset.
    pub n: u8,
    /// This key's split index, 1..=N.
    pub index: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for ok in ["a", "SO key 1", "orange-01", "1a", &"x".repeat(MAX_LABEL_LEN)] {
            assert!(ok.parse::<Label>().is_ok(), "{ok:?}");
        }
        for bad in ["", " a", "a ", "123", "tab\there", "é", &"x".repeat(MAX_LABEL_LEN + 1)] {
            assert_eq!(bad.parse::<Label>(), Err(FieldError::Label), "{bad:?}");
        }
    }

    #[test]
    fn serials() {
        assert_eq!(parse_serial("0000000042"), Ok(KeySerial(42)));
        assert_eq!(parse_serial("18446744073709551615"), Ok(KeySerial(u64::MAX)));
        for bad in ["", "0", "000", "-1", "+1", "1e3", "18446744073709551616", "abc"] {
            assert_eq!(parse_serial(bad), Err(FieldError::Serial), "{bad:?}");
        }
    }

    #[test]
    fn writes_count_and_capacity_is_enforced() {
        let mut k = Key::blank(KeySerial(7), None, 10).unwrap();
        assert!(k.is_blank());
        k.write(b"0123456789").unwrap();
        assert_eq!((k.write_count(), k.payload_len()), (1, 10));
        assert_eq!(k.write(&[0; 11]), Err(TooLarge { len: 11, capacity: 10 }));
        assert_eq!((k.write_count(), k.payload()), (1, Some(&b"0123456789"[..])));
        k.write(&[]).unwrap();
        assert!(k.is_blank());
        assert_eq!(k.write_count(), 2);
    }

    #[test]
    fn debug_never_shows_the_payload() {
        let mut k = Key::blank(KeySerial(7), None, 100).unwrap();
        k.write(b"SECRETSPLIT").unwrap();
        let text = format!("{k:?}");
        assert!(!text.contains("SECRETSPLIT") && !text.contains("83, 69"), "{text}");
    }

    #[test]
    fn unrecognised_content_is_described_not_trusted() {
        let mut k = Key::blank(KeySerial(7), None, 100).unwrap();
        k.write(b"PEDK\x02\x03\x00short").unwrap();
        match k.content() {
            Content::Unrecognised { colour, .. } => assert_eq!(colour, Some(KeyColour::Orange)),
            other => panic!("{other:?}"),
        }
    }
}
