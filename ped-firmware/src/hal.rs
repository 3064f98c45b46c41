//! The hardware the PED core drives, as traits (DESIGN.md rule 3): the PED-key port and
//! its key types, re-exported from `ped-hal` (which the emulators share without
//! depending on the firmware), and its in-memory port. The firmware flash's trait is in
//! [`crate::update::slots`].

pub use ped_hal::key::{InsertedKey, KeyContent, KeyPort, KeyPortError, KeySerial};
pub use ped_hal::memory_keys::{MemoryKey, MemoryKeys};
