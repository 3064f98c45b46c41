//! `ped-testkit`: what the tests of the whole system share (dev-only, never shipped).
//!
//! - [`process`]: the daemons as real processes on loopback, and a fake PED on the
//!   emulated USB endpoint, for the tests that only a process shows (binaries, sockets,
//!   argv spellings, log and config files, crash safety).
#![forbid(unsafe_code)]

pub mod process;
