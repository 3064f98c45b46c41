//! The daemons' process helpers, one copy in ped-testkit: a fake PED on the emulated USB
//! endpoint, pedserver and pedclient processes, a relay client.
#![allow(unused_imports, reason = "a module shared by test files; each uses part of it")]

pub(crate) use ped_testkit::process::*;
