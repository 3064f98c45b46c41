//! The one error every decoder of the PED crates returns for input it does not accept.

use core::fmt;

/// Why a byte string could not be decoded. Every decoder of this crate returns one of
/// these for any input it does not accept; none of them panics.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended before the named field was complete.
    Truncated(&'static str),
    /// A PED key written in an older format (the PED asks for it to be re-created).
    OldKeyFormat(u8),
    /// Bytes were left over after the last field.
    TrailingBytes,
    /// A length field exceeded its documented maximum.
    TooLong {
        /// The field whose length was refused.
        field: &'static str,
        /// The largest length allowed.
        max: usize,
    },
    /// The frame did not start with the magic bytes.
    BadMagic,
    /// The frame format version is not one this implementation reads.
    UnsupportedFrameVersion(u8),
    /// The type byte is not defined.
    UnknownType(u8),
    /// A field held a value outside its defined range.
    InvalidValue(&'static str),
    /// A well-formed frame of a type this decoder does not read (the caller routes it
    /// elsewhere, or refuses it).
    UnexpectedFrame(u8),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated(field) => write!(f, "input ends inside field `{field}`"),
            DecodeError::OldKeyFormat(v) => {
                write!(f, "PED key format {v} is older than this PED reads: re-create the key")
            }
            DecodeError::TrailingBytes => f.write_str("unexpected bytes after the last field"),
            DecodeError::TooLong { field, max } => {
                write!(f, "field `{field}` is longer than its maximum of {max} bytes")
            }
            DecodeError::BadMagic => f.write_str("not a PED link frame (bad magic)"),
            DecodeError::UnsupportedFrameVersion(v) => write!(f, "frame format version {v} is not supported"),
            DecodeError::UnknownType(t) => write!(f, "unknown type 0x{t:02x}"),
            DecodeError::InvalidValue(field) => write!(f, "field `{field}` holds an invalid value"),
            DecodeError::UnexpectedFrame(t) => write!(f, "a frame of type 0x{t:02x} where another was expected"),
        }
    }
}

impl core::error::Error for DecodeError {}
