//! `ped-hal`: the hardware the PED core drives, as traits (DESIGN.md rule 3), in a
//! crate of its own so that the firmware (`ped-firmware`) and the emulators
//! (`ikey-emu`'s key store, the simulator's flash) share them without depending on each
//! other.
//!
//! - [`key`]: the PED-key port ([`KeyPort`]) and what crosses it: [`KeySerial`],
//!   [`KeyContent`], [`InsertedKey`], [`KeyPortError`].
//! - [`memory_keys`]: [`MemoryKeys`], a key port of keys in memory (tests, in-memory
//!   networks).
//! - [`slots`]: the firmware flash ([`ImageSlots`]): two image slots ([`Slot`]) and two
//!   copies of the boot record ([`RecordCopy`], [`RECORD_LEN`] bytes), [`FlashError`].
//!
//! No I/O, no clock, no randomness; `no_std` + `alloc`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod key;
pub mod memory_keys;
pub mod slots;

pub use crate::key::{InsertedKey, KeyContent, KeyPort, KeyPortError, KeySerial};
pub use crate::memory_keys::{MemoryKey, MemoryKeys};
pub use crate::slots::{FlashError, ImageSlots, RECORD_LEN, RecordCopy, Slot};
