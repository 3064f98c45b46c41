//! The key file format, sans-IO: a [`Key`] to bytes and back. Byte by byte (all
//! integers big-endian; `docs/ikey-emu.md` has the same table):
//!
//! ```text
//! off   len  field
//!   0     4  magic "IKEY" (49 4b 45 59)
//!   4     1  format version, 01
//!   5     1  flags, 00 (reserved)
//!   6     8  serial number, u64, ≥ 1
//!  14     4  capacity, u32, 1..=65536
//!  18     8  write count, u64
//!  26     1  fault flags: bit 0 read error, bit 1 write error armed; others 0
//!  27     4  write error after N payload bytes, u32 (0 unless bit 1)
//!  31     4  write latency in ms, u32, ≤ 600000
//!  35     1  label length L, 0..=32 (0: no label)
//!  36     L  label, printable ASCII
//! 36+L    4  payload length P, u32, ≤ capacity (0: blank)
//! 40+L    P  payload, as the PED wrote it
//! 40+L+P 32  SHA-256 of bytes 0 .. 40+L+P
//! ```
//!
//! [`decode`] is total: any byte string gives a key or a [`FormatError`]. It checks
//! the length before it allocates, and the integrity check before it trusts a field, so
//! a flipped bit reads as damage, never as a different key.

use ped_hal::KeySerial;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::faults::{Faults, MAX_WRITE_LATENCY_MS};
use crate::key::{Key, Label, MAX_CAPACITY, MAX_LABEL_LEN};

/// The four bytes that open every key file.
pub const MAGIC: [u8; 4] = *b"IKEY";
/// The format this implementation writes and reads.
pub const VERSION: u8 = 1;
/// Bytes before the label.
const FIXED_HEAD: usize = 36;
/// The SHA-256 trailer.
const DIGEST_LEN: usize = 32;
/// The smallest file: no label, blank.
pub const MIN_FILE_LEN: usize = FIXED_HEAD + 4 + DIGEST_LEN;
/// The largest file: a full label and a payload at the largest capacity. Longer
/// files are refused before they are read whole.
pub const MAX_FILE_LEN: usize = MIN_FILE_LEN + MAX_LABEL_LEN + MAX_CAPACITY as usize;

const FAULT_READ: u8 = 0x01;
const FAULT_WRITE: u8 = 0x02;

/// Why bytes are not a key file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The bytes do not start with the magic: some other file.
    #[error("not an ikey-emu key file (no \"IKEY\" magic)")]
    Foreign,
    /// A newer (or unknown) format.
    #[error("key file format {0} is not supported (this ikey-emu reads format {VERSION})")]
    UnsupportedVersion(u8),
    /// The file ends before its fields do.
    #[error("truncated: {len} bytes where the fields need {need}")]
    Truncated {
        /// Bytes present.
        len: usize,
        /// Bytes the fields call for.
        need: usize,
    },
    /// Bytes follow the integrity check.
    #[error("{extra} unexpected bytes after the integrity check")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// Larger than any key file can be.
    #[error("{len} bytes, more than the {MAX_FILE_LEN} of the largest key file")]
    Oversized {
        /// The length found (at least this many).
        len: usize,
    },
    /// The SHA-256 over the content does not match: damaged on disk.
    #[error("integrity check failed (SHA-256 mismatch)")]
    Checksum,
    /// A field holds a value no writer produces, although the check matched.
    #[error("invalid {0}")]
    InvalidField(&'static str),
}

/// Where the payload starts in `key`'s file: what a write cut short has written
/// before its first payload byte.
pub fn payload_offset(key: &Key) -> usize {
    FIXED_HEAD + key.label().map_or(0, |l| l.as_str().len()) + 4
}

/// The file's bytes for `key`. They hold the payload, so they are wiped on drop.
pub fn encode(key: &Key) -> Zeroizing<Vec<u8>> {
    let label = key.label().map_or(&[][..], |l| l.as_str().as_bytes());
    let payload = key.payload().unwrap_or(&[]);
    let mut out = Zeroizing::new(Vec::with_capacity(MIN_FILE_LEN + label.len() + payload.len()));
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(0);
    out.extend_from_slice(&key.serial().0.to_be_bytes());
    out.extend_from_slice(&key.capacity().to_be_bytes());
    out.extend_from_slice(&key.write_count().to_be_bytes());
    let faults = key.faults();
    let flags = if faults.read_error { FAULT_READ } else { 0 }
        | if faults.write_error_after.is_some() { FAULT_WRITE } else { 0 };
    out.push(flags);
    out.extend_from_slice(&faults.write_error_after.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&faults.write_latency_ms.to_be_bytes());
    // Both lengths fit their fields: a Label is at most 32 bytes, a payload at most the
    // capacity (u32), both enforced by the types that hold them.
    out.push(label.len() as u8);
    out.extend_from_slice(label);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    let digest = Sha256::digest(&out[..]);
    out.extend_from_slice(&digest);
    out
}

/// Reads a key file's bytes.
pub fn decode(bytes: &[u8]) -> Result<Key, FormatError> {
    if !bytes.starts_with(&MAGIC) {
        return Err(if MAGIC.starts_with(bytes) {
            FormatError::Truncated { len: bytes.len(), need: MIN_FILE_LEN }
        } else {
            FormatError::Foreign
        });
    }
    if bytes.len() > MAX_FILE_LEN {
        return Err(FormatError::Oversized { len: bytes.len() });
    }
    match bytes.get(4) {
        Some(&VERSION) => {}
        Some(&other) => return Err(FormatError::UnsupportedVersion(other)),
        None => return Err(FormatError::Truncated { len: bytes.len(), need: MIN_FILE_LEN }),
    }
    let truncated = |need: usize| FormatError::Truncated { len: bytes.len(), need };
    let label_len = usize::from(*bytes.get(FIXED_HEAD - 1).ok_or(truncated(MIN_FILE_LEN))?);
    let len_at = FIXED_HEAD + label_len;
    let payload_len = bytes.get(len_at..len_at + 4).ok_or(truncated(MIN_FILE_LEN + label_len))?;
    // u32 → usize cannot lose bits on the 32- and 64-bit targets this runs on; the sum is
    // bounded by MAX_FILE_LEN once the payload length is checked against it.
    let payload_len = u32::from_be_bytes(payload_len.try_into().map_err(|_| truncated(len_at + 4))?) as usize;
    if payload_len > MAX_CAPACITY as usize {
        return Err(FormatError::InvalidField("payload length"));
    }
    let body_len = len_at + 4 + payload_len;
    let total = body_len + DIGEST_LEN;
    if bytes.len() < total {
        return Err(truncated(total));
    }
    if bytes.len() > total {
        return Err(FormatError::TrailingBytes { extra: bytes.len() - total });
    }
    let (body, digest) = bytes.split_at(body_len);
    if Sha256::digest(body)[..] != *digest {
        return Err(FormatError::Checksum);
    }
    fields(body, label_len, payload_len)
}

/// The fields of a body whose length and integrity check are already verified.
fn fields(body: &[u8], label_len: usize, payload_len: usize) -> Result<Key, FormatError> {
    let u32_at = |at: usize| u32::from_be_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]]);
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&body[at..at + 8]);
        u64::from_be_bytes(b)
    };
    if body[5] != 0 {
        return Err(FormatError::InvalidField("flags"));
    }
    let serial = u64_at(6);
    if serial == 0 {
        return Err(FormatError::InvalidField("serial number"));
    }
    let capacity = u32_at(14);
    if capacity == 0 || capacity > MAX_CAPACITY {
        return Err(FormatError::InvalidField("capacity"));
    }
    let write_count = u64_at(18);
    let flags = body[26];
    if flags & !(FAULT_READ | FAULT_WRITE) != 0 {
        return Err(FormatError::InvalidField("fault flags"));
    }
    let after = u32_at(27);
    if flags & FAULT_WRITE == 0 && after != 0 {
        return Err(FormatError::InvalidField("write error offset"));
    }
    let write_latency_ms = u32_at(31);
    if write_latency_ms > MAX_WRITE_LATENCY_MS {
        return Err(FormatError::InvalidField("write latency"));
    }
    let faults = Faults {
        read_error: flags & FAULT_READ != 0,
        write_error_after: (flags & FAULT_WRITE != 0).then_some(after),
        write_latency_ms,
    };
    let label = match label_len {
        0 => None,
        _ => {
            let text = core::str::from_utf8(&body[FIXED_HEAD..FIXED_HEAD + label_len])
                .map_err(|_| FormatError::InvalidField("label"))?;
            Some(text.parse::<Label>().map_err(|_| FormatError::InvalidField("label"))?)
        }
    };
    if payload_len > capacity as usize {
        return Err(FormatError::InvalidField("payload length (over capacity)"));
    }
    let payload_at = FIXED_HEAD + label_len + 4;
    let payload = (payload_len > 0).then(|| Zeroizing::new(body[payload_at..payload_at + payload_len].to_vec()));
    Ok(Key::from_parts(KeySerial(serial), label, capacity, write_count, faults, payload))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::key::DEFAULT_CAPACITY;

    fn sample() -> Key {
        let mut k = Key::blank(KeySerial(1_234_567_890), Some("SO 1".parse().unwrap()), DEFAULT_CAPACITY).unwrap();
        k.write(b"PEDK payload").unwrap();
        k.set_faults(Faults { read_error: true, write_error_after: Some(9), write_latency_ms: 6000 });
        k
    }

    fn same(a: &Key, b: &Key) -> bool {
        (a.serial(), a.label(), a.capacity(), a.write_count(), a.faults(), a.payload())
            == (b.serial(), b.label(), b.capacity(), b.write_count(), b.faults(), b.payload())
    }

    /// Re-seals a body whose fields a test changed, so that only the field checks see it.
    fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
        let body = bytes.len() - DIGEST_LEN;
        let digest = Sha256::digest(&bytes[..body]);
        bytes[body..].copy_from_slice(&digest);
        bytes
    }

    #[test]
    fn layout_is_as_documented() {
        let k = sample();
        let b = encode(&k);
        assert_eq!(&b[0..6], b"IKEY\x01\x00");
        assert_eq!(&b[6..14], &1_234_567_890u64.to_be_bytes());
        assert_eq!(&b[14..18], &8192u32.to_be_bytes());
        assert_eq!(&b[18..26], &1u64.to_be_bytes());
        assert_eq!(b[26], 0x03);
        assert_eq!(&b[27..31], &9u32.to_be_bytes());
        assert_eq!(&b[31..35], &6000u32.to_be_bytes());
        assert_eq!(b[35], 4);
        assert_eq!(&b[36..40], b"SO 1");
        assert_eq!(&b[40..44], &12u32.to_be_bytes());
        assert_eq!(payload_offset(&k), 44);
        assert_eq!(&b[44..56], b"PEDK payload");
        assert_eq!(&b[56..], &Sha256::digest(&b[..56])[..]);
        assert_eq!(b.len(), MIN_FILE_LEN + 4 + 12);
    }

    #[test]
    fn blank_unlabelled_key_is_the_smallest_file() {
        let k = Key::blank(KeySerial(1), None, 1).unwrap();
        let b = encode(&k);
        assert_eq!(b.len(), MIN_FILE_LEN);
        assert!(same(&decode(&b).unwrap(), &k));
    }

    #[test]
    fn typed_errors() {
        let good = encode(&sample()).to_vec();
        assert_eq!(decode(b"").unwrap_err(), FormatError::Truncated { len: 0, need: MIN_FILE_LEN });
        assert_eq!(decode(b"IK").unwrap_err(), FormatError::Truncated { len: 2, need: MIN_FILE_LEN });
        assert_eq!(decode(b"{\"json\": true}").unwrap_err(), FormatError::Foreign);
        assert_eq!(
            decode(&good[..good.len() - 1]).unwrap_err(),
            FormatError::Truncated { len: good.len() - 1, need: good.len() }
        );
        let mut long = good.clone();
        long.push(0);
        assert_eq!(decode(&long).unwrap_err(), FormatError::TrailingBytes { extra: 1 });
        let mut v2 = good.clone();
        v2[4] = 2;
        assert_eq!(decode(&v2).unwrap_err(), FormatError::UnsupportedVersion(2));
        let mut flipped = good.clone();
        flipped[46] ^= 0x20;
        assert_eq!(decode(&flipped).unwrap_err(), FormatError::Checksum);
        let mut huge = b"IKEY".to_vec();
        huge.resize(MAX_FILE_LEN + 1, 0);
        assert_eq!(decode(&huge).unwrap_err(), FormatError::Oversized { len: MAX_FILE_LEN + 1 });
    }

    #[test]
    fn sealed_but_invalid_fields_are_refused() {
        let good = encode(&sample()).to_vec();
        let cases: [(usize, u8, &str); 6] = [
            (5, 1, "flags"),
            (26, 0x07, "fault flags"),
            (14, 0xff, "capacity"),
            (31, 0xff, "write latency"),
            (36, b'\t', "label"),
            (37, 0xc3, "label"),
        ];
        for (at, value, field) in cases {
            let mut b = good.clone();
            b[at] = value;
            let err = decode(&reseal(b)).unwrap_err();
            assert_eq!(err, FormatError::InvalidField(field), "byte {at}");
        }
        let mut huge_payload = good.clone();
        huge_payload[40..44].fill(0xff);
        assert_eq!(decode(&huge_payload).unwrap_err(), FormatError::InvalidField("payload length"));
        let mut zero_serial = good.clone();
        zero_serial[6..14].fill(0);
        assert_eq!(decode(&reseal(zero_serial)).unwrap_err(), FormatError::InvalidField("serial number"));
        let mut digits = good.clone();
        digits[36..40].copy_from_slice(b"1234");
        assert_eq!(decode(&reseal(digits)).unwrap_err(), FormatError::InvalidField("label"));
        let mut stray = good.clone();
        stray[26] = 0x01;
        assert_eq!(decode(&reseal(stray)).unwrap_err(), FormatError::InvalidField("write error offset"));
        // A payload over the key's capacity, sealed: capacity 8 for a 12-byte payload.
        let mut over = good;
        over[14..18].copy_from_slice(&8u32.to_be_bytes());
        assert_eq!(decode(&reseal(over)).unwrap_err(), FormatError::InvalidField("payload length (over capacity)"));
    }

    fn arb_key() -> impl Strategy<Value = Key> {
        (
            1u64..,
            proptest::option::of("[!-~]([ -~]{0,30}[!-~])?"),
            1u32..=MAX_CAPACITY,
            any::<u64>(),
            (any::<bool>(), proptest::option::of(any::<u32>()), 0..=MAX_WRITE_LATENCY_MS),
            proptest::collection::vec(any::<u8>(), 0..600),
        )
            .prop_filter_map("label all digits or payload over capacity", |(s, l, c, wc, f, p)| {
                let label = match l {
                    Some(text) => Some(text.parse::<Label>().ok()?),
                    None => None,
                };
                if p.len() > c as usize {
                    return None;
                }
                let payload = (!p.is_empty()).then(|| Zeroizing::new(p));
                let faults = Faults { read_error: f.0, write_error_after: f.1, write_latency_ms: f.2 };
                Some(Key::from_parts(KeySerial(s), label, c, wc, faults, payload))
            })
    }

    proptest! {
        #[test]
        fn round_trip(key in arb_key()) {
            let bytes = encode(&key);
            let back = decode(&bytes).unwrap();
            prop_assert!(same(&key, &back));
            prop_assert_eq!(encode(&back), bytes);
        }

        #[test]
        fn any_bytes_give_a_key_or_a_typed_error(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
            let mut with_magic = MAGIC.to_vec();
            with_magic.push(VERSION);
            with_magic.extend_from_slice(&bytes);
            let _ = decode(&with_magic);
        }

        #[test]
        fn any_damage_to_a_valid_file_is_caught(key in arb_key(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let mut bytes = encode(&key).to_vec();
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
            prop_assert!(decode(&bytes).is_err());
        }

        #[test]
        fn every_truncation_is_an_error(key in arb_key(), at in any::<prop::sample::Index>()) {
            let bytes = encode(&key);
            let cut = at.index(bytes.len());
            prop_assert!(decode(&bytes[..cut]).is_err());
        }
    }
}
