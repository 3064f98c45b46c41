//! The virtual key port: a named slot (one per PED) into which one key at a time is
//! inserted, implementing the firmware's [`KeyPort`] over the key store.
//!
//! A port's state is a small JSON file in `DIR/ports/NAME.port`,
//! `{"format":1,"key":"0000000042","insertions":3}` (`"key":null` when empty), replaced
//! atomically like a key. `insertions` counts the insertions into the port, so that a
//! write can tell the key it started on from the same key pulled out and put back. Every operation reads it afresh, so the CLI in one process inserts and
//! removes keys while the PED simulator in another reads and writes them. A key is in
//! at most one port at a time, as a physical token is.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use ped_hal::{InsertedKey, KeyContent, KeyPort, KeyPortError, KeySerial};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Damage, Error};
use crate::fsutil::{self, Lock, ReadError, Staged};
use crate::key::{Key, parse_serial};
use crate::store::KeyStore;

const PORT_EXTENSION: &str = "port";
const STATE_FORMAT: u32 = 1;
/// A state file is a few dozen bytes; anything much larger is not one.
const MAX_STATE_LEN: usize = 1024;
const MAX_NAME_LEN: usize = 64;

/// A port's name: 1-64 of `A-Z a-z 0-9 . _ -`, not starting with `.` (it is a file name).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortName(String);

impl FromStr for PortName {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let ok = (1..=MAX_NAME_LEN).contains(&text.len())
            && !text.starts_with('.')
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if ok { Ok(PortName(text.to_owned())) } else { Err(Error::PortName(text.to_owned())) }
    }
}

impl fmt::Display for PortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PortState {
    format: u32,
    key: Option<String>,
    insertions: u64,
}

/// What a port holds: a key (or none), and which insertion of it this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    key: Option<KeySerial>,
    insertions: u64,
}

/// One virtual key port.
#[derive(Clone, Debug)]
pub struct Port {
    store: KeyStore,
    name: PortName,
}

impl Port {
    /// Opens port `name`, creating it empty if it was never used (a PED simulator
    /// opens its port at start-up).
    pub fn open(store: &KeyStore, name: &str) -> Result<Port, Error> {
        let port = Port { store: store.clone(), name: name.parse()? };
        let _ports = port.lock()?;
        if port.state()?.is_none() {
            port.save(Slot { key: None, insertions: 0 })?;
        }
        Ok(port)
    }

    /// Opens port `name`, which must exist.
    pub fn existing(store: &KeyStore, name: &str) -> Result<Port, Error> {
        let port = Port { store: store.clone(), name: name.parse()? };
        match port.state()? {
            Some(_) => Ok(port),
            None => Err(Error::NoSuchPort { name: name.to_owned(), dir: store.dir().to_owned() }),
        }
    }

    /// The port's name.
    pub fn name(&self) -> &PortName {
        &self.name
    }

    /// The port's state file.
    pub fn path(&self) -> PathBuf {
        self.store.port_dir().join(format!("{}.{PORT_EXTENSION}", self.name))
    }

    /// The key store behind the port.
    pub fn store(&self) -> &KeyStore {
        &self.store
    }

    fn lock(&self) -> Result<Lock, Error> {
        // One lock for all ports: inserting a key checks every other port for it.
        self.store.lock("ports.lock", || "the key ports".to_owned())
    }

    /// The port's state; `None` if the port was never opened.
    fn state(&self) -> Result<Option<Slot>, Error> {
        let path = self.path();
        let bytes = match fsutil::read_regular(&path, MAX_STATE_LEN) {
            Ok(bytes) => bytes,
            Err(ReadError::NotFound) => return Ok(None),
            Err(ReadError::Io(e)) => return Err(Error::io(path, e)),
            Err(ReadError::NotAFile) => return Err(Error::damaged(path, Damage::NotAFile)),
            Err(ReadError::Oversized(len)) => {
                return Err(Error::damaged(path, Damage::PortState(format!("{len} bytes, not a port state"))));
            }
        };
        let bad = |why: String| Error::damaged(&path, Damage::PortState(why));
        let state: PortState = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if state.format != STATE_FORMAT {
            return Err(bad(format!("format {} (this ikey-emu reads {STATE_FORMAT})", state.format)));
        }
        let key = state.key.map(|s| parse_serial(&s).map_err(|_| bad(format!("key {s:?} is not a serial number"))));
        Ok(Some(Slot { key: key.transpose()?, insertions: state.insertions }))
    }

    fn save(&self, slot: Slot) -> Result<(), Error> {
        let path = self.path();
        let state =
            PortState { format: STATE_FORMAT, key: slot.key.map(|s| s.to_string()), insertions: slot.insertions };
        let mut json = serde_json::to_vec(&state).map_err(|e| Error::io(&path, e.into()))?;
        json.push(b'\n');
        let tmp = self.store.port_dir().join(format!(".{}.{PORT_EXTENSION}.tmp", self.name));
        let staged = Staged::write(tmp, &json).map_err(|e| Error::io(&path, e))?;
        staged.commit(&path).map_err(|e| Error::io(&path, e))
    }

    /// The key in the port, if any.
    pub fn key(&self) -> Result<Option<KeySerial>, Error> {
        Ok(self.state()?.and_then(|slot| slot.key))
    }

    fn key_or_empty(&self) -> Result<KeySerial, Error> {
        self.key()?.ok_or_else(|| Error::PortEmpty { port: self.name.to_string() })
    }

    fn occupied_slot(&self) -> Result<(KeySerial, Slot), Error> {
        match self.state()? {
            Some(slot @ Slot { key: Some(serial), .. }) => Ok((serial, slot)),
            _ => Err(Error::PortEmpty { port: self.name.to_string() }),
        }
    }

    /// Inserts key `serial`. The key must exist (a damaged one may be inserted: the PED
    /// then finds it unreadable), the port must be empty and the key in no other port.
    /// Inserting the key that is already in the port changes nothing.
    pub fn insert(&self, serial: KeySerial) -> Result<(), Error> {
        if !self.store.contains(serial) {
            return Err(Error::NoSuchKey { key: serial.to_string(), dir: self.store.dir().to_owned(), unreadable: 0 });
        }
        let _ports = self.lock()?;
        let insertions = match self.state()? {
            Some(Slot { key: Some(current), .. }) if current == serial => return Ok(()),
            Some(Slot { key: Some(current), .. }) => {
                return Err(Error::PortOccupied { port: self.name.to_string(), serial: current });
            }
            Some(Slot { key: None, insertions }) => insertions,
            None => 0,
        };
        if let Some(other) = self.store.port_of(serial)? {
            return Err(Error::KeyInOtherPort { serial, port: other.to_string() });
        }
        self.save(Slot { key: Some(serial), insertions: insertions.wrapping_add(1) })
    }

    /// Removes the key in the port and says which it was. A write in progress on it
    /// either committed before (new content) or is abandoned (old content).
    pub fn remove(&self) -> Result<KeySerial, Error> {
        let _ports = self.lock()?;
        let (serial, slot) = self.occupied_slot()?;
        self.save(Slot { key: None, ..slot })?;
        Ok(serial)
    }

    /// The key in the port, read whole.
    pub fn inserted_key(&self) -> Result<Option<Key>, Error> {
        self.key()?.map(|serial| self.store.load(serial)).transpose()
    }

    /// The payload of the key in the port, as a PED reads it (the read fault applies);
    /// `None` if the key is blank.
    pub fn read_payload(&self) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        let serial = self.key_or_empty()?;
        let key = self.store.load(serial)?;
        if key.faults().read_error {
            return Err(Error::InjectedReadFault { serial });
        }
        Ok(key.payload().map(|p| Zeroizing::new(p.to_vec())))
    }

    /// Writes `payload` on the key in the port, as a PED does (the key's faults apply);
    /// an empty payload makes it blank. If the key leaves the port before the write
    /// commits, even if it is put back, the write is abandoned and the key keeps its
    /// old content, as a token pulled out mid-write does.
    pub fn write_payload(&self, payload: &[u8]) -> Result<Key, Error> {
        let (serial, at_start) = self.occupied_slot()?;
        self.store.device_write(serial, payload, || {
            let ports = self.lock()?;
            if self.state()? == Some(at_start) {
                Ok(ports)
            } else {
                Err(Error::RemovedDuringWrite { serial, port: self.name.to_string() })
            }
        })
    }
}

/// A port found in the key directory.
#[derive(Debug)]
pub struct PortEntry {
    /// Its name.
    pub name: PortName,
    /// The key in it, or why its state does not read.
    pub key: Result<Option<KeySerial>, Error>,
}

impl KeyStore {
    /// Every port in the directory with the key in it, by name; a port whose state
    /// does not read comes with its error.
    pub fn ports(&self) -> Result<Vec<PortEntry>, Error> {
        let dir = self.port_dir();
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut ports = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str().and_then(|n| n.strip_suffix(".port")) else { continue };
            let Ok(name) = name.parse::<PortName>() else { continue };
            let port = Port { store: self.clone(), name: name.clone() };
            ports.push(PortEntry { key: port.key(), name });
        }
        ports.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(ports)
    }

    /// The port key `serial` is in, if any (ports whose state does not read are
    /// skipped: `status` reports them).
    pub fn port_of(&self, serial: KeySerial) -> Result<Option<PortName>, Error> {
        Ok(self.ports()?.into_iter().find(|p| matches!(p.key, Ok(Some(s)) if s == serial)).map(|p| p.name))
    }
}

/// What the firmware's port error is for a store or port error: the PED only needs to
/// know whether to re-prompt for a key, report a bad key, or report a failed write.
pub fn key_port_error(e: &Error) -> KeyPortError {
    match e {
        Error::PortEmpty { .. } | Error::RemovedDuringWrite { .. } => KeyPortError::NoKey,
        Error::Busy { .. } => KeyPortError::Busy,
        Error::TooLarge { capacity, .. } => KeyPortError::TooLarge { capacity: *capacity as usize },
        Error::InjectedWriteFault { .. } => KeyPortError::WriteFailed,
        _ => KeyPortError::ReadFailed,
    }
}

impl KeyPort for Port {
    fn inserted(&mut self) -> Result<Option<InsertedKey>, KeyPortError> {
        let key = self.inserted_key().map_err(|e| key_port_error(&e))?;
        Ok(key.map(|k| InsertedKey { serial: k.serial(), capacity: k.capacity() as usize }))
    }

    fn read(&mut self) -> Result<Option<KeyContent>, KeyPortError> {
        let payload = self.read_payload().map_err(|e| key_port_error(&e))?;
        Ok(payload.map(KeyContent::new))
    }

    fn write(&mut self, payload: &[u8]) -> Result<(), KeyPortError> {
        self.write_payload(payload).map(drop).map_err(|e| write_error(&e))
    }

    fn erase(&mut self) -> Result<(), KeyPortError> {
        self.write_payload(&[]).map(drop).map_err(|e| write_error(&e))
    }
}

/// A write that failed for a reason of the file system is a failed write, not a bad key.
fn write_error(e: &Error) -> KeyPortError {
    match e {
        Error::Io { .. } => KeyPortError::WriteFailed,
        other => key_port_error(other),
    }
}
