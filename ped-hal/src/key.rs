//! The PED-key port and the key types that cross it (DESIGN.md rule 3). Real
//! implementations (a USB key reader) and emulated ones (`ikey-emu`'s key store) are
//! chosen at start-up; the logic above them is the same.

use alloc::vec::Vec;
use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A PED key's serial number, fixed at manufacture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeySerial(pub u64);

impl fmt::Display for KeySerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:010}", self.0)
    }
}

/// The content of a PED key as it crosses the key port: the PIN-bound split, or the
/// split itself on a key without a PIN. Wiped on drop, compared in constant time, never
/// printed.
#[derive(Clone)]
pub struct KeyContent(Zeroizing<Vec<u8>>);

impl KeyContent {
    /// Takes ownership of the bytes (they are wiped when this is dropped).
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        KeyContent(bytes)
    }

    /// The bytes, for decoding or writing.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, still wiped on drop.
    pub fn into_inner(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl core::ops::Deref for KeyContent {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for KeyContent {
    fn from(bytes: Vec<u8>) -> Self {
        KeyContent(Zeroizing::new(bytes))
    }
}

impl PartialEq for KeyContent {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && bool::from(self.0.ct_eq(&other.0))
    }
}

impl Eq for KeyContent {}

impl fmt::Debug for KeyContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyContent(<{} bytes>)", self.0.len())
    }
}

/// What the port can say about the key in it, without reading its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InsertedKey {
    /// The key's serial number.
    pub serial: KeySerial,
    /// The most payload bytes the key can hold.
    pub capacity: usize,
}

/// Why a key-port operation failed. None of these is a wrong key or a wrong PIN: those
/// are only seen by the HSM.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPortError {
    /// No key is inserted, or it was removed before the operation completed (a write
    /// cut short that way leaves the key's old content, whole).
    NoKey,
    /// The key did not answer a read, or its content failed its integrity check.
    ReadFailed,
    /// The write did not complete; the key holds its old content, whole.
    WriteFailed,
    /// The payload is larger than the key's capacity; nothing was written.
    TooLarge {
        /// The key's capacity in bytes.
        capacity: usize,
    },
    /// Another writer holds the key.
    Busy,
}

impl fmt::Display for KeyPortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPortError::NoKey => f.write_str("no PED key inserted"),
            KeyPortError::ReadFailed => f.write_str("the PED key could not be read"),
            KeyPortError::WriteFailed => f.write_str("the PED key could not be written; its old content is intact"),
            KeyPortError::TooLarge { capacity } => write!(f, "the payload exceeds the key's {capacity} bytes"),
            KeyPortError::Busy => f.write_str("the PED key is being written by someone else"),
        }
    }
}

impl core::error::Error for KeyPortError {}

/// The PED-key port on top of the PED: one key at a time.
///
/// Every write is atomic: after a power cut or a key pulled out at any instant, the
/// key holds its old content or its new content, whole.
pub trait KeyPort {
    /// The key now in the port, if any.
    fn inserted(&mut self) -> Result<Option<InsertedKey>, KeyPortError>;

    /// The key's payload; `None` for a blank key.
    fn read(&mut self) -> Result<Option<KeyContent>, KeyPortError>;

    /// Replaces the key's payload.
    fn write(&mut self, payload: &[u8]) -> Result<(), KeyPortError>;

    /// Makes the key blank.
    fn erase(&mut self) -> Result<(), KeyPortError>;
}

/// A PED without a key port (a simulator started without one): no key is ever in it.
impl<P: KeyPort> KeyPort for Option<P> {
    fn inserted(&mut self) -> Result<Option<InsertedKey>, KeyPortError> {
        self.as_mut().map_or(Ok(None), P::inserted)
    }

    fn read(&mut self) -> Result<Option<KeyContent>, KeyPortError> {
        self.as_mut().map_or(Err(KeyPortError::NoKey), P::read)
    }

    fn write(&mut self, payload: &[u8]) -> Result<(), KeyPortError> {
        self.as_mut().map_or(Err(KeyPortError::NoKey), |p| p.write(payload))
    }

    fn erase(&mut self) -> Result<(), KeyPortError> {
        self.as_mut().map_or(Err(KeyPortError::NoKey), P::erase)
    }
}
