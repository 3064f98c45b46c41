//! `ped-sim`: the PED on a laptop. The `ped-firmware` core, unchanged, driven by
//! threads that stand in for the board: a terminal UI or a script for the keypad and
//! the LCD, `ikey-emu`'s key port for the PED keys, a local socket for the USB link,
//! files for the firmware flash, the system clock for ticks.
//!
//! One thread ([`driver::Driver`]) owns the core and is the only one to feed it;
//! everything else sends it [`driver::Input`]s, so the core sees one ordered stream
//! of events as on the board. docs/firmware.md ("Simulator") has the command line,
//! the script language and the outputs.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod board;
pub mod command;
pub mod config;
pub mod display;
pub mod driver;
pub mod endpoint;
pub mod tui;
