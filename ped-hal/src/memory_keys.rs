//! A key port of keys in memory: a drawer of PED keys, one of which may sit in the port.
//! What the firmware's tests, an in-memory network and a key holder's closures use in
//! place of a key reader; the flash's counterpart is the firmware's `MemorySlots`.

use alloc::vec::Vec;
use core::ops::{Index, IndexMut};

use crate::key::{InsertedKey, KeyContent, KeyPort, KeyPortError, KeySerial};

/// The capacity of a key that [`MemoryKeys::add`] makes: room for any payload the PED
/// writes.
pub const DEFAULT_CAPACITY: usize = 8192;

/// The serial of a drawer's first key; each next key has the next serial.
pub const FIRST_SERIAL: u64 = 1000;

/// A PED key in the drawer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryKey {
    /// Its serial number.
    pub serial: KeySerial,
    /// The most payload bytes it holds.
    pub capacity: usize,
    /// Its payload; `None` for a blank key.
    pub content: Option<KeyContent>,
}

/// A drawer of keys and the port they go into, one at a time. Keys are named by their
/// index in the drawer (the order they were added); `drawer[i]` is key `i`.
#[derive(Clone, Debug, Default)]
pub struct MemoryKeys {
    keys: Vec<MemoryKey>,
    inserted: Option<usize>,
}

impl MemoryKeys {
    /// An empty drawer; nothing in the port.
    pub fn new() -> Self {
        MemoryKeys::default()
    }

    /// Adds a key holding `content` (`None`: blank), of [`DEFAULT_CAPACITY`], with the
    /// next serial ([`FIRST_SERIAL`] plus its index); returns its index.
    pub fn add(&mut self, content: Option<KeyContent>) -> usize {
        let serial = KeySerial(FIRST_SERIAL + self.keys.len() as u64);
        self.add_key(MemoryKey { serial, capacity: DEFAULT_CAPACITY, content })
    }

    /// Adds `key` as it is; returns its index.
    pub fn add_key(&mut self, key: MemoryKey) -> usize {
        self.keys.push(key);
        self.keys.len() - 1
    }

    /// The index of the key with `serial`, if the drawer has it.
    pub fn position(&self, serial: KeySerial) -> Option<usize> {
        self.keys.iter().position(|k| k.serial == serial)
    }

    /// Puts key `index` in the port, pulling out any other first; returns what the port
    /// now reports.
    ///
    /// # Panics
    /// If the drawer has no key `index`.
    pub fn insert(&mut self, index: usize) -> InsertedKey {
        let key = &self.keys[index];
        self.inserted = Some(index);
        InsertedKey { serial: key.serial, capacity: key.capacity }
    }

    /// Pulls the key out of the port; returns its index, if one was in.
    pub fn remove(&mut self) -> Option<usize> {
        self.inserted.take()
    }

    /// The index of the key in the port.
    pub fn inserted_index(&self) -> Option<usize> {
        self.inserted
    }

    /// How many keys the drawer holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the drawer holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, by index.
    pub fn iter(&self) -> core::slice::Iter<'_, MemoryKey> {
        self.keys.iter()
    }

    fn in_port(&mut self) -> Result<&mut MemoryKey, KeyPortError> {
        let index = self.inserted.ok_or(KeyPortError::NoKey)?;
        Ok(&mut self.keys[index])
    }
}

impl Index<usize> for MemoryKeys {
    type Output = MemoryKey;

    fn index(&self, index: usize) -> &MemoryKey {
        &self.keys[index]
    }
}

impl IndexMut<usize> for MemoryKeys {
    fn index_mut(&mut self, index: usize) -> &mut MemoryKey {
        &mut self.keys[index]
    }
}

impl KeyPort for MemoryKeys {
    fn inserted(&mut self) -> Result<Option<InsertedKey>, KeyPortError> {
        Ok(self.inserted.map(|i| InsertedKey { serial: self.keys[i].serial, capacity: self.keys[i].capacity }))
    }

    fn read(&mut self) -> Result<Option<KeyContent>, KeyPortError> {
        Ok(self.in_port()?.content.clone())
    }

    fn write(&mut self, payload: &[u8]) -> Result<(), KeyPortError> {
        let key = self.in_port()?;
        if payload.len() > key.capacity {
            return Err(KeyPortError::TooLarge { capacity: key.capacity });
        }
        key.content = Some(KeyContent::from(payload.to_vec()));
        Ok(())
    }

    fn erase(&mut self) -> Result<(), KeyPortError> {
        self.in_port()?.content = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;

    #[test]
    fn a_key_is_read_and_written_only_while_in_the_port() {
        let mut drawer = MemoryKeys::new();
        let blank = drawer.add(None);
        let full = drawer.add(Some(KeyContent::from(vec![1, 2, 3])));
        assert_eq!(drawer.inserted(), Ok(None));
        assert_eq!(drawer.read(), Err(KeyPortError::NoKey));
        assert_eq!(drawer.write(&[9]), Err(KeyPortError::NoKey));

        assert_eq!(drawer.insert(full), InsertedKey { serial: KeySerial(1001), capacity: DEFAULT_CAPACITY });
        assert_eq!(drawer.read(), Ok(Some(KeyContent::from(vec![1, 2, 3]))));
        drawer.insert(blank);
        assert_eq!(drawer.inserted(), Ok(Some(InsertedKey { serial: KeySerial(1000), capacity: DEFAULT_CAPACITY })));
        assert_eq!(drawer.read(), Ok(None));
        assert_eq!(drawer.write(&[7, 7]), Ok(()));
        assert_eq!(drawer.remove(), Some(blank));
        assert_eq!(drawer.erase(), Err(KeyPortError::NoKey));

        assert_eq!(drawer[blank].content, Some(KeyContent::from(vec![7, 7])));
        assert_eq!(drawer[full].content, Some(KeyContent::from(vec![1, 2, 3])), "only the key in the port changes");
        assert_eq!(drawer.position(KeySerial(1001)), Some(full));
    }

    #[test]
    fn a_payload_beyond_the_capacity_leaves_the_key_as_it_was() {
        let mut drawer = MemoryKeys::new();
        let small = drawer.add_key(MemoryKey { serial: KeySerial(7), capacity: 2, content: None });
        drawer.insert(small);
        assert_eq!(drawer.write(&[1, 2, 3]), Err(KeyPortError::TooLarge { capacity: 2 }));
        assert_eq!(drawer.read(), Ok(None));
        assert_eq!(drawer.write(&[1, 2]), Ok(()));
        assert_eq!(drawer.erase(), Ok(()));
        assert_eq!(drawer.read(), Ok(None));
    }
}
