//! A bounds-checked cursor for the PED crates' decoders (this one's and ped-proto's) and a
//! matching writer.
//!
//! Decoders read through [`Reader`] only, so every length is checked against the
//! remaining input (and its documented maximum) before anything is allocated.

use alloc::vec::Vec;

use crate::DecodeError;

/// A cursor over untrusted bytes.
#[derive(Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Truncated(field));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    /// A `u8`.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    /// A big-endian `u16`.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    /// A big-endian `u32`.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    /// A field preceded by a one-byte length, refused above `max`.
    pub fn bytes_u8(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = usize::from(self.u8(field)?);
        if len > max {
            return Err(DecodeError::TooLong { field, max });
        }
        self.take(len, field)
    }

    /// A field preceded by a two-byte big-endian length, refused above `max`.
    pub fn bytes_u16(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = usize::from(self.u16(field)?);
        if len > max {
            return Err(DecodeError::TooLong { field, max });
        }
        self.take(len, field)
    }

    /// Succeeds only if every byte was read.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.rest.is_empty() { Ok(()) } else { Err(DecodeError::TrailingBytes) }
    }
}

/// Appends big-endian fields to a buffer. Lengths are the caller's invariants: every
/// encoder checks them against the same maxima its decoder enforces.
pub trait WriteExt {
    /// Appends a `u8`.
    fn put_u8(&mut self, v: u8);
    /// Appends a big-endian `u16`.
    fn put_u16(&mut self, v: u16);
    /// Appends a big-endian `u32`.
    fn put_u32(&mut self, v: u32);
    /// Appends `len8(b)`.
    fn put_bytes_u8(&mut self, b: &[u8]);
    /// Appends `len16(b)`.
    fn put_bytes_u16(&mut self, b: &[u8]);
}

impl WriteExt for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_bytes_u8(&mut self, b: &[u8]) {
        let len = u8::try_from(b.len()).expect("field length checked by the encoder against its maximum");
        self.push(len);
        self.extend_from_slice(b);
    }
    fn put_bytes_u16(&mut self, b: &[u8]) {
        let len = u16::try_from(b.len()).expect("field length checked by the encoder against its maximum");
        self.put_u16(len);
        self.extend_from_slice(b);
    }
}
