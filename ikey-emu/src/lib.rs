//! `ikey-emu`: emulated PED keys that behave like the real tokens.
//!
//! A PED key holds at most one secret (seed lines 3291-3400): blank, or one split of a
//! blue, red, orange, black or white keyset, as a PED wrote it (`ped_proto::pedkey`).
//! Beside that payload a key has a serial number fixed at manufacture, a label, a
//! write counter and a capacity. This crate keeps such keys durably, one file per key,
//! and lets a PED simulator use them through a virtual key port:
//!
//! - [`key`]: the model ([`Key`]), and what its payload says, never its secret part;
//! - [`keyfile`]: the file format, sans-IO, with a total decoder;
//! - [`store`]: the key directory ([`KeyStore`]): atomic, locked, crash-safe writes;
//! - [`port`]: named ports ([`Port`]), the firmware's `KeyPort` over the store;
//! - [`faults`]: read errors, write errors and write latency a rig injects;
//! - [`report`]: what the CLI prints, as text and JSON.
//!
//! `docs/ikey-emu.md` has the file format byte by byte, the CLI and its exit codes.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod faults;
mod fsutil;
pub mod key;
pub mod keyfile;
pub mod port;
pub mod report;
pub mod store;

pub use error::{Damage, Error, ErrorKind};
pub use faults::Faults;
pub use key::{Content, Key, Label};
pub use ped_hal::KeySerial;
pub use port::{Port, PortEntry, PortName};
pub use store::{KeyStore, NewKey};
