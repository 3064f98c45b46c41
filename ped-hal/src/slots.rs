//! The PED's firmware flash, as a trait (DESIGN.md rule 3: hardware behind a trait;
//! rule 7: nothing lost on a crash): two image slots and two copies of the boot record.
//! What the record holds and how the copies are kept (the A/B rule, the boot loader) is
//! the firmware's (`ped_firmware::update`); a board driver or an emulator implements
//! [`ImageSlots`].

use core::fmt;

/// One of the two image slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// The first slot, where the factory puts the PED's image: the only slot boot
    /// tries on a PED that has no boot record yet.
    A,
    /// The second slot.
    B,
}

impl Slot {
    /// The other slot.
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    /// 0 for A, 1 for B: the slot's byte in the boot record, and an index.
    pub const fn index(self) -> usize {
        match self {
            Slot::A => 0,
            Slot::B => 1,
        }
    }
}

/// One of the two copies of the boot record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordCopy {
    /// The first copy.
    First,
    /// The second copy.
    Second,
}

impl RecordCopy {
    /// Both copies, in the order ties are broken.
    pub const BOTH: [RecordCopy; 2] = [RecordCopy::First, RecordCopy::Second];

    /// The other copy.
    pub fn other(self) -> RecordCopy {
        match self {
            RecordCopy::First => RecordCopy::Second,
            RecordCopy::Second => RecordCopy::First,
        }
    }

    /// 0 for the first copy, 1 for the second.
    pub const fn index(self) -> usize {
        match self {
            RecordCopy::First => 0,
            RecordCopy::Second => 1,
        }
    }
}

/// Length of an encoded boot record (one copy).
pub const RECORD_LEN: usize = 24;

/// Why a flash operation failed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashError {
    /// Power was lost; the operation may have been done in part.
    PowerLost,
    /// The range lies outside the slot.
    OutOfBounds,
    /// The flash reported a failure (program or erase error, worn sector).
    Hardware,
}

impl fmt::Display for FlashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlashError::PowerLost => f.write_str("power lost during a flash operation"),
            FlashError::OutOfBounds => f.write_str("flash access outside the image slot"),
            FlashError::Hardware => f.write_str("the flash reported an error"),
        }
    }
}

impl core::error::Error for FlashError {}

/// The PED's firmware flash: two image slots of [`capacity`](Self::capacity) bytes
/// and two boot-record copies of [`RECORD_LEN`] bytes.
///
/// The contract the update logic relies on, which a board driver must keep:
/// - each operation touches only what it names: a slot write changes no other bytes,
///   no other slot and no record copy; a record write changes no other copy;
/// - an erased slot reads as 0xff; a slot byte is written once between erases;
/// - an interrupted operation may leave its own target in any state, nothing else.
pub trait ImageSlots {
    /// Bytes in each slot.
    fn capacity(&self) -> usize;

    /// Erases a whole slot.
    fn erase(&mut self, slot: Slot) -> Result<(), FlashError>;

    /// Programs `data` at `offset` of an erased region of `slot`.
    fn write(&mut self, slot: Slot, offset: usize, data: &[u8]) -> Result<(), FlashError>;

    /// Reads `buf.len()` bytes at `offset` of `slot`.
    fn read(&mut self, slot: Slot, offset: usize, buf: &mut [u8]) -> Result<(), FlashError>;

    /// Reads one copy of the boot record, valid or not.
    fn read_record(&mut self, copy: RecordCopy, buf: &mut [u8; RECORD_LEN]) -> Result<(), FlashError>;

    /// Replaces one copy of the boot record (erase and program of its own sector).
    fn write_record(&mut self, copy: RecordCopy, record: &[u8; RECORD_LEN]) -> Result<(), FlashError>;
}
