//! pedserver: bridges one PIN Entry Device (a real one on USB, or the emulated endpoint
//! of `ped-sim`) to TCP, so that a remote HSM's pedclient can use it.
//!
//! The server is a blind relay: it frames, routes, times out and logs, and never holds
//! a key of the end-to-end channel between HSM and PED. It uses only ped-proto's wire
//! formats (`frame`, `relay`, `device`, `usb`, `error`); see docs/pedserver.md.
//!
//! The pure parts (arguments, configuration, the relay session state machine, the status
//! block) are separate from their thin tokio adapters. What pedclient needs too (argv
//! normalisation, configuration files, logs, the admin port, background start and stop,
//! frame streams, pinned TLS) is the ped-daemon crate.
#![forbid(unsafe_code)]

pub mod admin;
mod appliance_config;
pub mod args;
pub mod cli;
pub mod config;
pub mod device;
mod outbound;
pub mod server;
pub mod session;
pub mod status;
pub mod tls;
pub mod update;
