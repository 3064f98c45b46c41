//! The daemons' process helpers, one copy in ped-testkit: a fake PED on pedserver's
//! emulated USB endpoint, pedserver and pedclient processes, an HSM played by the test
//! over pedclient's HSM link.
#![allow(unused_imports, reason = "a module shared by test files; each uses part of it")]

pub(crate) use ped_testkit::process::*;
