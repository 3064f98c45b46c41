//! pedclient: the service on the HSM host. An HSM (its driver, or `hsm-emu`) asks it,
//! over a local socket, to reach a Remote PED's pedserver; pedclient opens the TCP
//! connection (or adopts the one pedserver opened in PED-initiated mode), exchanges the
//! relay hellos, and then relays the HSM's frames unread both ways. It also keeps the
//! PED ID mappings of `-mode setid/assignid/releaseid/deleteid/testid`.
//!
//! It is a blind relay like pedserver: it links ped-wire, the protocol's formats without
//! cryptography, and never holds a key of the end-to-end channel. The
//! pure parts (arguments, configuration and mappings, the link state machine, the status
//! block) are separate from their thin tokio adapters; see docs/pedclient.md. What
//! pedserver needs too (argv normalisation, configuration files, logs, the admin port,
//! background start and stop, frame streams, pinned TLS) is the ped-daemon crate.
#![forbid(unsafe_code)]

pub mod args;
pub mod audit_log;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod hsm_session;
pub mod pedinit;
pub mod probe;
pub mod relay_client;
pub mod status;
