//! `ped-firmware`: the PIN Entry Device.
//!
//! The core is `no_std` + `alloc` and deterministic; the hardware it drives (display,
//! keypad, PED-key port, host link, clock, RNG) sits behind the traits of [`hal`], so
//! the same logic runs on a board, in the simulator and in tests.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod hal;
pub mod io;
pub mod screen;
pub mod update;
