//! The PED's firmware flash: two image slots and a boot record kept in two copies
//! (DESIGN.md rule 3: hardware behind a trait; rule 7: nothing lost on a crash). The
//! trait and its types ([`ImageSlots`], [`Slot`], [`RecordCopy`], [`FlashError`],
//! [`RECORD_LEN`]) are `ped-hal`'s, re-exported here; the record's format, the boot
//! loader's choice and [`MemorySlots`] are the firmware's.
//!
//! The boot record names the slot to boot and carries a sequence number, the PED's
//! minimum security version (anti-rollback) and a checksum. A save writes a new record, with the next sequence number, over the
//! *older* copy only, so a power cut while writing it leaves the newer copy whole:
//! after the cut one copy is torn (its checksum fails) and the other still names the
//! previous slot. The boot loader takes the valid copy with the highest sequence, and
//! then the other valid copy; a slot no valid copy names does not boot.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

pub use ped_hal::slots::{FlashError, ImageSlots, RECORD_LEN, RecordCopy, Slot};
use sha2::{Digest, Sha512};

const RECORD_MAGIC: [u8; 4] = *b"PEDB";
const RECORD_FORMAT: u8 = 1;
const CHECKSUM_OFFSET: usize = 16;

/// Which slot to boot, how recent that choice is, and the oldest image the PED takes.
///
/// ```text
/// offset len field
///      0   4 magic     "PEDB"
///      4   1 format    1
///      5   1 slot      0 = A, 1 = B
///      6   2 minimum   u16 big-endian: the lowest security version the PED installs or boots
///      8   8 sequence  u64 big-endian; the higher valid copy wins
///     16   8 checksum  the first 8 bytes of SHA-512(bytes 0..16)
/// ```
///
/// Bytes 6..8 were reserved (zero) before anti-rollback: a record written then reads
/// as minimum 0, which is what it meant.
///
/// The checksum detects a torn or erased copy, not an attacker: whoever can write the
/// flash can write a valid record. What boots is still only a vendor-signed image,
/// because the boot loader verifies the slot the record names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootRecord {
    /// The slot to boot.
    pub slot: Slot,
    /// Incremented by every save.
    pub sequence: u64,
    /// The PED's minimum security version (docs/firmware.md, "Anti-rollback").
    pub minimum: u16,
}

impl BootRecord {
    /// The record's bytes, checksum included.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut out = [0u8; RECORD_LEN];
        out[..4].copy_from_slice(&RECORD_MAGIC);
        out[4] = RECORD_FORMAT;
        out[5] = self.slot.index() as u8;
        out[6..8].copy_from_slice(&self.minimum.to_be_bytes());
        out[8..16].copy_from_slice(&self.sequence.to_be_bytes());
        let checksum = Sha512::digest(&out[..CHECKSUM_OFFSET]);
        out[CHECKSUM_OFFSET..].copy_from_slice(&checksum[..RECORD_LEN - CHECKSUM_OFFSET]);
        out
    }

    /// `None` for a copy that is erased, torn or otherwise not a record.
    pub fn decode(bytes: &[u8; RECORD_LEN]) -> Option<Self> {
        let checksum = Sha512::digest(&bytes[..CHECKSUM_OFFSET]);
        if bytes[CHECKSUM_OFFSET..] != checksum[..RECORD_LEN - CHECKSUM_OFFSET]
            || bytes[..4] != RECORD_MAGIC
            || bytes[4] != RECORD_FORMAT
        {
            return None;
        }
        let slot = match bytes[5] {
            0 => Slot::A,
            1 => Slot::B,
            _ => return None,
        };
        let mut sequence = [0u8; 8];
        sequence.copy_from_slice(&bytes[8..16]);
        let minimum = u16::from_be_bytes([bytes[6], bytes[7]]);
        Some(BootRecord { slot, sequence: u64::from_be_bytes(sequence), minimum })
    }
}

/// No update flash: the flash of a PED built with [`crate::Ped::new`], whose Software
/// Update refuses every image ("This PED has no update flash"). It has no value: such a
/// PED never touches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoFlash {}

impl ImageSlots for NoFlash {
    fn capacity(&self) -> usize {
        match *self {}
    }

    fn erase(&mut self, _: Slot) -> Result<(), FlashError> {
        match *self {}
    }

    fn write(&mut self, _: Slot, _: usize, _: &[u8]) -> Result<(), FlashError> {
        match *self {}
    }

    fn read(&mut self, _: Slot, _: usize, _: &mut [u8]) -> Result<(), FlashError> {
        match *self {}
    }

    fn read_record(&mut self, _: RecordCopy, _: &mut [u8; RECORD_LEN]) -> Result<(), FlashError> {
        match *self {}
    }

    fn write_record(&mut self, _: RecordCopy, _: &[u8; RECORD_LEN]) -> Result<(), FlashError> {
        match *self {}
    }
}

/// When [`MemorySlots`] loses power.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PowerCut {
    /// The operation that is interrupted, counted from 0 over every call of the
    /// [`ImageSlots`] methods except `capacity` (see [`MemorySlots::operations`]).
    pub operation: u64,
    /// How far that operation gets: the first `bytes_done` bytes of a write, a record
    /// write or an erase take effect (`usize::MAX`: all of it; power is lost right
    /// after). A read returns nothing.
    pub bytes_done: usize,
}

/// Flash in RAM, for tests and the simulator, with power cuts on demand.
///
/// It keeps NOR flash's rules, so the update logic cannot rely on what real flash
/// would not give it: programming only clears bits (a byte written twice without an
/// erase holds the AND of both), an erased byte is 0xff, and a record write erases
/// its copy before programming it. After a cut, every operation fails with
/// [`FlashError::PowerLost`] until [`power_on`](Self::power_on).
#[derive(Clone)]
pub struct MemorySlots {
    slots: [Vec<u8>; 2],
    records: [[u8; RECORD_LEN]; 2],
    operations: u64,
    cut: Option<PowerCut>,
    powered: bool,
}

impl MemorySlots {
    /// Erased flash (no image, no boot record) with slots of `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        MemorySlots {
            slots: [vec![0xff; capacity], vec![0xff; capacity]],
            records: [[0xff; RECORD_LEN]; 2],
            operations: 0,
            cut: None,
            powered: true,
        }
    }

    /// Operations counted so far; the next operation has this number.
    pub fn operations(&self) -> u64 {
        self.operations
    }

    /// Arranges for power to be lost during a later operation.
    pub fn cut_power(&mut self, cut: PowerCut) {
        self.cut = Some(cut);
    }

    /// Restores power (and forgets a cut that has not happened yet).
    pub fn power_on(&mut self) {
        self.powered = true;
        self.cut = None;
    }

    /// Whether power is on.
    pub fn is_powered(&self) -> bool {
        self.powered
    }

    /// The raw bytes of a slot, to simulate bit rot or inspect what was written.
    pub fn slot_mut(&mut self, slot: Slot) -> &mut [u8] {
        &mut self.slots[slot.index()]
    }

    /// Starts an operation: counts it and says how many bytes of it may take effect
    /// (`None`: none, and the operation fails).
    fn start(&mut self) -> Result<Option<usize>, FlashError> {
        let number = self.operations;
        self.operations += 1;
        if !self.powered {
            return Err(FlashError::PowerLost);
        }
        match self.cut {
            Some(cut) if cut.operation == number => {
                self.powered = false;
                self.cut = None;
                Ok(Some(cut.bytes_done))
            }
            _ => Ok(None),
        }
    }

    fn range(&self, offset: usize, len: usize) -> Result<core::ops::Range<usize>, FlashError> {
        let end = offset.checked_add(len).filter(|&end| end <= self.slots[0].len()).ok_or(FlashError::OutOfBounds)?;
        Ok(offset..end)
    }
}

/// The result of an operation that power cut part-way (`Some` limit: the caller has
/// applied that much) or that ran whole (`None`).
fn finish_op(limit: Option<usize>) -> Result<(), FlashError> {
    if limit.is_some() { Err(FlashError::PowerLost) } else { Ok(()) }
}

impl ImageSlots for MemorySlots {
    fn capacity(&self) -> usize {
        self.slots[0].len()
    }

    fn erase(&mut self, slot: Slot) -> Result<(), FlashError> {
        let limit = self.start()?;
        let bytes = &mut self.slots[slot.index()];
        let n = limit.unwrap_or(usize::MAX).min(bytes.len());
        bytes[..n].fill(0xff);
        finish_op(limit)
    }

    fn write(&mut self, slot: Slot, offset: usize, data: &[u8]) -> Result<(), FlashError> {
        let limit = self.start()?;
        let range = self.range(offset, data.len())?;
        let n = limit.unwrap_or(usize::MAX).min(data.len());
        for (cell, &byte) in self.slots[slot.index()][range].iter_mut().zip(&data[..n]) {
            *cell &= byte;
        }
        finish_op(limit)
    }

    fn read(&mut self, slot: Slot, offset: usize, buf: &mut [u8]) -> Result<(), FlashError> {
        if self.start()?.is_some() {
            return Err(FlashError::PowerLost);
        }
        let range = self.range(offset, buf.len())?;
        buf.copy_from_slice(&self.slots[slot.index()][range]);
        Ok(())
    }

    fn read_record(&mut self, copy: RecordCopy, buf: &mut [u8; RECORD_LEN]) -> Result<(), FlashError> {
        if self.start()?.is_some() {
            return Err(FlashError::PowerLost);
        }
        *buf = self.records[copy.index()];
        Ok(())
    }

    fn write_record(&mut self, copy: RecordCopy, record: &[u8; RECORD_LEN]) -> Result<(), FlashError> {
        let limit = self.start()?;
        let n = limit.unwrap_or(usize::MAX).min(RECORD_LEN);
        let stored = &mut self.records[copy.index()];
        *stored = [0xff; RECORD_LEN];
        stored[..n].copy_from_slice(&record[..n]);
        finish_op(limit)
    }
}

impl fmt::Debug for MemorySlots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySlots")
            .field("capacity", &self.capacity())
            .field("records", &self.records.map(|r| BootRecord::decode(&r)))
            .field("operations", &self.operations)
            .field("cut", &self.cut)
            .field("powered", &self.powered)
            .finish_non_exhaustive()
    }
}
