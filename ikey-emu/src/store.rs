//! The key directory: one file per key, every write atomic and locked.
//!
//! ```text
//! DIR/                      0700
//!   0123456789.ikey         one key (format: `keyfile`), 0600
//!   .0123456789.ikey.tmp    a write in progress (or the remains of a killed one)
//!   .locks/0123456789.lock  the key's advisory lock; store.lock, ports.lock
//!   ports/ped1.port         a virtual key port's state (see `port`)
//! ```
//!
//! Readers take no lock: a key file is only ever replaced by a rename, so a reader
//! sees the old file or the new one, whole. Writers of one key hold its lock from the
//! read of the current content to the rename of the new, so no write is lost.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use ped_hal::KeySerial;

use crate::error::{Damage, Error};
use crate::faults::Faults;
use crate::fsutil::{self, Lock, LockError, ReadError, Staged};
use crate::key::{DEFAULT_CAPACITY, Key, Label, TooLarge, parse_serial};
use crate::keyfile::{self, FormatError};

/// How long a writer waits for another to finish with a key before it gives up.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);
/// The extension of key files.
pub const KEY_EXTENSION: &str = "ikey";
const LOCK_DIR: &str = ".locks";
pub(crate) const PORT_DIR: &str = "ports";
/// Random serials are drawn with ten digits, as printed on the seed's keys' labels.
const SERIAL_RANGE: (u64, u64) = (1_000_000_000, 9_999_999_999);

/// A key directory.
#[derive(Clone, Debug)]
pub struct KeyStore {
    dir: PathBuf,
    lock_timeout: Duration,
}

/// What a new key is made with.
#[derive(Clone, Debug)]
pub struct NewKey {
    /// The serial number; `None` draws a free ten-digit one.
    pub serial: Option<KeySerial>,
    /// The label, unique in the directory.
    pub label: Option<Label>,
    /// The capacity in bytes.
    pub capacity: u32,
}

impl Default for NewKey {
    fn default() -> Self {
        NewKey { serial: None, label: None, capacity: DEFAULT_CAPACITY }
    }
}

/// Everything in a key directory.
#[derive(Debug)]
pub struct Listing {
    /// The keys that read, by serial.
    pub keys: Vec<Key>,
    /// Each file that is not a readable key, with what is wrong with it, by name.
    pub problems: Vec<Error>,
}

impl KeyStore {
    /// Opens `dir`, creating it (owner-only) if needed.
    pub fn open(dir: impl Into<PathBuf>) -> Result<KeyStore, Error> {
        let dir = dir.into();
        for sub in [dir.join(LOCK_DIR), dir.join(PORT_DIR)] {
            fsutil::private_dir(&sub).map_err(|e| Error::io(&sub, e))?;
        }
        Ok(KeyStore { dir, lock_timeout: DEFAULT_LOCK_TIMEOUT })
    }

    /// The same store with another bound on waits for a lock.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> KeyStore {
        self.lock_timeout = timeout;
        self
    }

    /// The key directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of key `serial`.
    pub fn key_path(&self, serial: KeySerial) -> PathBuf {
        self.dir.join(format!("{serial}.{KEY_EXTENSION}"))
    }

    fn tmp_path(&self, serial: KeySerial) -> PathBuf {
        // One fixed name per key: only the holder of the key's lock writes it, so a
        // temporary file left by a killed writer is simply overwritten by the next.
        self.dir.join(format!(".{serial}.{KEY_EXTENSION}.tmp"))
    }

    pub(crate) fn port_dir(&self) -> PathBuf {
        self.dir.join(PORT_DIR)
    }

    pub(crate) fn lock(&self, name: &str, what: impl FnOnce() -> String) -> Result<Lock, Error> {
        let path = self.dir.join(LOCK_DIR).join(name);
        fsutil::lock(&path, self.lock_timeout).map_err(|e| match e {
            LockError::Busy(waited) => {
                Error::Busy { what: what(), waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX) }
            }
            LockError::Io(e) => Error::io(path, e),
        })
    }

    fn lock_key(&self, serial: KeySerial) -> Result<Lock, Error> {
        self.lock(&format!("{serial}.lock"), || format!("key {serial}"))
    }

    /// Whether a file for key `serial` is there (readable or not).
    pub fn contains(&self, serial: KeySerial) -> bool {
        fs::symlink_metadata(self.key_path(serial)).is_ok()
    }

    /// Reads key `serial`.
    pub fn load(&self, serial: KeySerial) -> Result<Key, Error> {
        self.load_file(&self.key_path(serial), serial)
    }

    fn load_file(&self, path: &Path, named: KeySerial) -> Result<Key, Error> {
        let key = read_key_file(path).map_err(|e| match e {
            FileError::Read(ReadError::NotFound) => {
                Error::NoSuchKey { key: named.to_string(), dir: self.dir.clone(), unreadable: 0 }
            }
            other => other.into_error(path),
        })?;
        if key.serial() != named {
            return Err(Error::damaged(path, Damage::SerialMismatch { named, inside: key.serial() }));
        }
        Ok(key)
    }

    /// Every key in the directory, and every file there that is not one.
    pub fn list(&self) -> Result<Listing, Error> {
        let entries = fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let mut listing = Listing { keys: Vec::new(), problems: Vec::new() };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&self.dir, e))?;
            let name = entry.file_name();
            let path = entry.path();
            let name = name.to_str().unwrap_or("");
            if name.starts_with('.') || (name == PORT_DIR && path.is_dir()) {
                continue;
            }
            match serial_of_file_name(name) {
                Some(serial) => match self.load_file(&path, serial) {
                    Ok(key) => listing.keys.push(key),
                    // Deleted since read_dir listed it: no longer there, not a problem.
                    Err(Error::NoSuchKey { .. }) => {}
                    Err(e) => listing.problems.push(e),
                },
                None => listing.problems.push(Error::damaged(path, Damage::ForeignName)),
            }
        }
        listing.keys.sort_by_key(Key::serial);
        listing.problems.sort_by(|a, b| a.path().cmp(&b.path()));
        Ok(listing)
    }

    /// The key that `text` names: a serial number if it is all digits, else a label.
    pub fn resolve(&self, text: &str) -> Result<KeySerial, Error> {
        let not_found = |unreadable| Error::NoSuchKey { key: text.to_owned(), dir: self.dir.clone(), unreadable };
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            let serial = parse_serial(text)?;
            return if self.contains(serial) { Ok(serial) } else { Err(not_found(0)) };
        }
        let listing = self.list()?;
        let matching: Vec<KeySerial> =
            listing.keys.iter().filter(|k| k.label().is_some_and(|l| l.as_str() == text)).map(Key::serial).collect();
        match matching.as_slice() {
            [] => Err(not_found(listing.problems.len())),
            [one] => Ok(*one),
            many => Err(Error::AmbiguousLabel {
                label: text.to_owned(),
                serials: many.iter().map(KeySerial::to_string).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// Manufactures a blank key.
    pub fn create(&self, new: NewKey) -> Result<Key, Error> {
        let _store = self.lock("store.lock", || "the key directory".to_owned())?;
        self.check_label_free(new.label.as_ref(), None)?;
        let serial = match new.serial {
            Some(serial) => serial,
            None => self.free_serial()?,
        };
        let key = Key::blank(serial, new.label, new.capacity)?;
        self.put_new(&key)?;
        Ok(key)
    }

    fn free_serial(&self) -> Result<KeySerial, Error> {
        let (low, high) = SERIAL_RANGE;
        loop {
            let draw = getrandom::u64().map_err(|e| Error::io(&self.dir, io::Error::other(e.to_string())))?;
            let serial = KeySerial(low + draw % (high - low + 1));
            // Nine billion serials: a directory of a few thousand keys hits a taken one
            // less than once in a million draws, so this loop ends.
            if !self.contains(serial) {
                return Ok(serial);
            }
        }
    }

    fn check_label_free(&self, label: Option<&Label>, except: Option<KeySerial>) -> Result<(), Error> {
        let Some(label) = label else { return Ok(()) };
        let taken = self.list()?.keys.into_iter().find(|k| k.label() == Some(label) && Some(k.serial()) != except);
        match taken {
            Some(other) => Err(Error::LabelTaken { label: label.to_string(), serial: other.serial() }),
            None => Ok(()),
        }
    }

    fn put_new(&self, key: &Key) -> Result<(), Error> {
        let serial = key.serial();
        let _lock = self.lock_key(serial)?;
        let path = self.key_path(serial);
        let taken = || Error::SerialTaken { serial, dir: self.dir.clone() };
        if self.contains(serial) {
            return Err(taken());
        }
        let staged = Staged::write(self.tmp_path(serial), &keyfile::encode(key)).map_err(|e| Error::io(&path, e))?;
        staged.commit_new(&path).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => taken(),
            _ => Error::io(&path, e),
        })
    }

    /// Reads key `serial`, changes it, and writes it back atomically, all under its lock.
    fn update(&self, serial: KeySerial, change: impl FnOnce(&mut Key) -> Result<(), Error>) -> Result<Key, Error> {
        let _lock = self.lock_key(serial)?;
        let mut key = self.load(serial)?;
        change(&mut key)?;
        let path = self.key_path(serial);
        let staged = Staged::write(self.tmp_path(serial), &keyfile::encode(&key)).map_err(|e| Error::io(&path, e))?;
        staged.commit(&path).map_err(|e| Error::io(&path, e))?;
        Ok(key)
    }

    /// Writes a payload as the rig would provision a key, without the key's faults.
    /// A payload over capacity is refused before anything is written.
    pub fn write(&self, serial: KeySerial, payload: &[u8]) -> Result<Key, Error> {
        self.update(serial, |key| key.write(payload).map_err(|e| too_large(serial, e)))
    }

    /// Makes key `serial` blank (one more write).
    pub fn wipe(&self, serial: KeySerial) -> Result<Key, Error> {
        self.write(serial, &[])
    }

    /// Sets the faults of key `serial` (its content and write count are unchanged).
    pub fn set_faults(&self, serial: KeySerial, faults: Faults) -> Result<Key, Error> {
        if !faults.is_valid() {
            return Err(Error::Latency(faults.write_latency_ms));
        }
        self.update(serial, |key| {
            key.set_faults(faults);
            Ok(())
        })
    }

    /// A write as a PED makes it through a port: the key's faults apply, and `gate`
    /// runs last, just before the commit, holding whatever it returns across it (the
    /// port's lock, so that a removal lands wholly before or wholly after).
    pub(crate) fn device_write<G>(
        &self,
        serial: KeySerial,
        payload: &[u8],
        gate: impl FnOnce() -> Result<G, Error>,
    ) -> Result<Key, Error> {
        let _lock = self.lock_key(serial)?;
        let mut key = self.load(serial)?;
        let faults = key.faults();
        key.write(payload).map_err(|e| too_large(serial, e))?;
        let bytes = keyfile::encode(&key);
        let path = self.key_path(serial);
        let io_err = |e| Error::io(&path, e);
        if let Some(after) = faults.write_cut(payload.len()) {
            // The first bytes reach the key, then it stops answering; what was staged is
            // never committed, so the key keeps its old content.
            let partial = Staged::write(self.tmp_path(serial), &bytes[..keyfile::payload_offset(&key) + after]);
            thread::sleep(faults.write_latency());
            drop(partial.map_err(io_err)?);
            return Err(Error::InjectedWriteFault { serial, after });
        }
        let staged = Staged::write(self.tmp_path(serial), &bytes).map_err(io_err)?;
        thread::sleep(faults.write_latency());
        let _gate = gate()?;
        staged.commit(&path).map_err(io_err)?;
        Ok(key)
    }

    /// Copies key `serial` to `dest` (a new file, owner-only) to move it to another
    /// rig; the faults stay behind, they belong to this rig.
    pub fn export(&self, serial: KeySerial, dest: &Path) -> Result<Key, Error> {
        let mut key = self.load(serial)?;
        key.set_faults(Faults::NONE);
        let exists = || Error::FileExists { path: dest.to_owned() };
        if fs::symlink_metadata(dest).is_ok() {
            return Err(exists());
        }
        let name = dest
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::io(dest, io::Error::new(io::ErrorKind::InvalidInput, "not a file name")))?;
        let tmp = dest.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let staged = Staged::write(tmp, &keyfile::encode(&key)).map_err(|e| Error::io(dest, e))?;
        staged.commit_new(dest).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => exists(),
            _ => Error::io(dest, e),
        })?;
        Ok(key)
    }

    /// Adds the key exported to `src`; with `replace`, over a key of the same serial.
    /// Its faults are cleared (they belong to the rig it came from).
    pub fn import(&self, src: &Path, replace: bool) -> Result<Key, Error> {
        let mut key = read_key_file(src).map_err(|e| e.into_error(src))?;
        key.set_faults(Faults::NONE);
        let _store = self.lock("store.lock", || "the key directory".to_owned())?;
        self.check_label_free(key.label(), Some(key.serial()))?;
        if !replace {
            return self.put_new(&key).map(|()| key);
        }
        let serial = key.serial();
        let _lock = self.lock_key(serial)?;
        let path = self.key_path(serial);
        let staged = Staged::write(self.tmp_path(serial), &keyfile::encode(&key)).map_err(|e| Error::io(&path, e))?;
        staged.commit(&path).map_err(|e| Error::io(&path, e))?;
        Ok(key)
    }
}

fn too_large(serial: KeySerial, e: TooLarge) -> Error {
    Error::TooLarge { serial, len: e.len, capacity: e.capacity }
}

/// The serial a key file's name stands for: exactly `<serial as printed>.ikey`, so
/// that a key has one file name and a lookup by serial finds what a listing finds.
fn serial_of_file_name(name: &str) -> Option<KeySerial> {
    let stem = name.strip_suffix(KEY_EXTENSION)?.strip_suffix('.')?;
    let serial = parse_serial(stem).ok()?;
    (serial.to_string() == stem).then_some(serial)
}

enum FileError {
    Read(ReadError),
    Format(FormatError),
}

impl FileError {
    fn into_error(self, path: &Path) -> Error {
        match self {
            FileError::Read(ReadError::NotFound) => Error::NoSuchFile { path: path.to_owned() },
            FileError::Read(ReadError::Io(e)) => Error::io(path, e),
            FileError::Read(ReadError::NotAFile) => Error::damaged(path, Damage::NotAFile),
            FileError::Read(ReadError::Oversized(len)) => Error::damaged(path, FormatError::Oversized { len }),
            FileError::Format(e) => Error::damaged(path, e),
        }
    }
}

fn read_key_file(path: &Path) -> Result<Key, FileError> {
    let bytes = fsutil::read_regular(path, keyfile::MAX_FILE_LEN).map_err(FileError::Read)?;
    keyfile::decode(&bytes).map_err(FileError::Format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(serial_of_file_name("0000000042.ikey"), Some(KeySerial(42)));
        assert_eq!(serial_of_file_name("1234567890.ikey"), Some(KeySerial(1_234_567_890)));
        for foreign in ["42.ikey", "0000000042.ikey.tmp", "0000000042", "notes.txt", "0000000000.ikey", ".ikey"] {
            assert_eq!(serial_of_file_name(foreign), None, "{foreign}");
        }
    }
}
