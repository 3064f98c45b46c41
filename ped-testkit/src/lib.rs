//! `ped-testkit`: what the tests of the whole system share (dev-only, never shipped).
//!
//! - [`Net`]: the whole system (HSM, pedclient, pedserver, the Remote PED and the HSM's
//!   Local PED-USB, their PED keys) as one deterministic in-memory network of the
//!   products' own sans-IO cores, on a virtual clock, with faults a test can put on
//!   any hop ([`wire`]).
//! - [`KeyHolder`]: the people at a PED, for the net's PEDs and for ped-sim processes
//!   alike, and the ceremony steps written once over it.
//! - [`process`]: the daemons as real processes on loopback, and a fake PED on the
//!   emulated USB endpoint, for the tests that only a process shows (binaries, sockets,
//!   argv spellings, log and config files, crash safety).
#![forbid(unsafe_code)]

pub mod ceremony;
pub mod holder;
pub mod net;
mod ped;
pub mod process;
pub mod wire;

pub use holder::{KeyHolder, KeySpec, NetHolder};
pub use net::{CliResult, Net, Settings, Which};
pub use ped::Drawer;
pub use wire::{Fault, Hop, Match, Packet, Tap, Toward};
