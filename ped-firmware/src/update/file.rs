//! Flash in files, for the simulator: the PED's firmware survives the process, so an
//! update saved before "unplug and reconnect" boots after it. Behind the `std`
//! feature; the core itself never touches a file (DESIGN.md rule 1).
//!
//! A directory holds `slot-a.bin`, `slot-b.bin`, `record-1.bin` and `record-2.bin`.
//! Bytes past the end of a file read as erased (0xff), so an erase is a truncation
//! and a fresh directory is blank flash. Every write is synced before it returns, so
//! an operation reported done survives a crash of the host; one cut short by a crash
//! leaves at most its own file torn, which the boot record's checksum and the image's
//! signature catch, as on the board.

extern crate std;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::slots::{FlashError, ImageSlots, RECORD_LEN, RecordCopy, Slot};

/// The PED's firmware flash as files in a directory.
#[derive(Debug)]
pub struct FileSlots {
    dir: PathBuf,
    capacity: usize,
}

impl FileSlots {
    /// Opens the flash in `dir` (created if missing; empty means blank flash) with
    /// slots of `capacity` bytes.
    pub fn open(dir: &Path, capacity: usize) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        Ok(FileSlots { dir: dir.to_path_buf(), capacity })
    }

    fn slot_path(&self, slot: Slot) -> PathBuf {
        self.dir.join(match slot {
            Slot::A => "slot-a.bin",
            Slot::B => "slot-b.bin",
        })
    }

    fn record_path(&self, copy: RecordCopy) -> PathBuf {
        self.dir.join(match copy {
            RecordCopy::First => "record-1.bin",
            RecordCopy::Second => "record-2.bin",
        })
    }

    fn check_range(&self, offset: usize, len: usize) -> Result<(), FlashError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.capacity => Ok(()),
            _ => Err(FlashError::OutOfBounds),
        }
    }
}

/// Any I/O failure is the flash failing: the update reports it and the PED keeps the
/// image it runs.
fn hardware(_: io::Error) -> FlashError {
    FlashError::Hardware
}

/// Fills `buf` from `path` at `offset`; what the file does not hold reads as erased.
fn read_at(path: &Path, offset: usize, buf: &mut [u8]) -> io::Result<()> {
    buf.fill(0xff);
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    file.seek(SeekFrom::Start(offset as u64))?;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(())
}

/// Writes `data` at `offset` of `path` and syncs it; a gap before `offset` is filled
/// with erased bytes (a plain extension would fill it with zeros, which are not).
fn write_at(path: &Path, offset: usize, data: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
    let len = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
    if len < offset {
        file.seek(SeekFrom::Start(len as u64))?;
        file.write_all(&std::vec![0xff; offset - len])?;
    }
    file.seek(SeekFrom::Start(offset as u64))?;
    file.write_all(data)?;
    file.sync_data()
}

impl ImageSlots for FileSlots {
    fn capacity(&self) -> usize {
        self.capacity
    }

    fn erase(&mut self, slot: Slot) -> Result<(), FlashError> {
        let file = OpenOptions::new().create(true).truncate(true).write(true).open(self.slot_path(slot));
        file.and_then(|f| f.sync_all()).map_err(hardware)
    }

    fn write(&mut self, slot: Slot, offset: usize, data: &[u8]) -> Result<(), FlashError> {
        self.check_range(offset, data.len())?;
        write_at(&self.slot_path(slot), offset, data).map_err(hardware)
    }

    fn read(&mut self, slot: Slot, offset: usize, buf: &mut [u8]) -> Result<(), FlashError> {
        self.check_range(offset, buf.len())?;
        read_at(&self.slot_path(slot), offset, buf).map_err(hardware)
    }

    fn read_record(&mut self, copy: RecordCopy, buf: &mut [u8; RECORD_LEN]) -> Result<(), FlashError> {
        read_at(&self.record_path(copy), 0, buf).map_err(hardware)
    }

    fn write_record(&mut self, copy: RecordCopy, record: &[u8; RECORD_LEN]) -> Result<(), FlashError> {
        write_at(&self.record_path(copy), 0, record).map_err(hardware)
    }
}
