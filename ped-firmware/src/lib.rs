//! `ped-firmware`: the PIN Entry Device.
//!
//! The core is `no_std` + `alloc` and deterministic; the hardware it drives (display,
//! keypad, PED-key port, host link, flash, clock, RNG) is reached through its
//! [`io::Effect`]s and the traits of `ped-hal` (re-exported as [`hal`] and
//! [`update::slots`]), so the same logic runs on a board, in the simulator and in tests.
//! [`Ped`] is the whole device: feed it [`io::Event`]s, carry out the [`io::Effect`]s
//! it returns, tick it at [`Ped::poll_timeout`]. [`Board`] is that effect loop, once:
//! it owns the core and a key port, carries out the key-port operations and queues the
//! screens and frames for its driver (ped-sim, the tests, the MCU image).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod admin;
pub mod board;
mod channel;
pub mod config;
mod core;
mod entry;
mod flows;
pub mod hal;
pub mod io;
pub mod log;
pub mod peripheral_link;
pub mod screen;
pub mod screens;
mod software_update;
pub mod update;

pub use crate::board::Board;
pub use crate::channel::RPK_CACHE_CAPACITY;
pub use crate::config::PedConfig;
pub use crate::core::Ped;
pub use crate::update::slots::NoFlash;
