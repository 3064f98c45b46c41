//! `hsm-emu`: the emulated HSM, the other end of every PED channel.
//!
//! [`hsm`] is the HSM's logic, sans-IO: roles, keysets, failed-login rules and each
//! lunacm command as a state machine over PED commands. [`channel`] opens the three
//! kinds of channel, [`state`] persists everything atomically in a directory.
//! [`lunacm`] parses the command words, [`conductor`] conducts one PED link and
//! [`console`] the commands over it (which may run now, the link's life across them),
//! all sans-IO. [`transport`] carries frames to a PED (Local PED-USB straight to its
//! emulated endpoint, or Remote through pedclient's HSM link), [`server`] runs the HSM
//! as a process with a control socket, and [`cli`] is the lunacm-style command line
//! that talks to it.
//! docs/hsm-emu.md is the operator's guide.

pub mod audit;
pub mod channel;
pub mod cli;
pub mod conductor;
pub mod console;
pub mod error;
pub mod hsm;
pub mod lunacm;
pub mod server;
pub mod state;
pub mod transport;

pub use error::{Code, HsmCode, HsmError};
pub use hsm::{Hsm, Operation, Request, RoleName, Step};
