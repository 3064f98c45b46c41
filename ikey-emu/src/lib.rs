//! `ikey-emu`: emulated PED keys that behave like the real tokens.
//!
//! A PED key holds at most one secret (seed lines 3291-3400): blank, or one split of a
//! blue, red, orange, black or white keyset, as a PED wrote it (`ped_proto::pedkey`).
//! Beside that payload a key has a serial number fixed at manufacture, a label, a
//! write counter and a capacity.
//!
//! - [`key`]: the model ([`Key`]), and what its payload says, never its secret part;
//! - [`keyfile`]: the file format, sans-IO, with a total decoder;
//! - [`faults`]: read errors, write errors and write latency a rig injects.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod faults;
pub mod key;
pub mod keyfile;

pub use faults::Faults;
pub use key::{Content, Key, Label};
pub use ped_firmware::hal::KeySerial;
