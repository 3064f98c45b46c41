//! ped-daemon: what the two relay daemons, pedserver (the PED's host) and pedclient (the
//! HSM's host), share. Each daemon keeps its own command set, configuration keys, status
//! block and relay state machine; this crate holds the plumbing under them:
//!
//! - [`args`]: the seed's command-line spellings (`-mode start`, `mode start`,
//!   `-set KEY VALUE`) rewritten for clap, the `0|1` and port value parsers, and the
//!   usage-error exit;
//! - [`settings`]: the flags and configuration keys both daemons share (timeouts, pings,
//!   log), flattened into each one's command line and file;
//! - [`seconds`]: timeouts and intervals in seconds, fractions allowed, range-checked
//!   alike on the command line and in the file;
//! - [`broken_pipe`]: a command line whose reader went away ends quietly;
//! - [`config_file`]: TOML configuration files written atomically, the per-user and
//!   system default locations, and private (0600) files for keys;
//! - [`logging`]: the size-rotated log file and the seed's four level switches;
//! - [`admin`]: the admin port's one-line request/answer protocol, both ends;
//! - [`admission`]: which connections may wait for their hello or TLS handshake, and
//!   which one makes room when too many wait; [`accept`]: the listeners' queue and pace
//!   under a flood;
//! - [`modes`]: the modes both daemons have, as the seed prints them: `-mode start` (a
//!   background copy, waited for until it answers), `-mode stop`, `-mode config
//!   -show/-set`, and the foreground run's runtime and signal handling;
//! - [`frames`]: the frame stream reader with its slow-frame timer, keepalive pings and
//!   the encoding of relay control messages;
//! - [`tls`]: PED-initiated mode's mutual TLS with both certificates pinned;
//! - `packaging` (feature `packaging`): the man page and the shell completions, with the
//!   seed's single-dash forms, that the daemons' `packaging` examples write.
//!
//! Like the daemons it is blind: it uses ped-proto's wire formats only.
#![forbid(unsafe_code)]

pub mod accept;
pub mod admin;
pub mod admission;
pub mod args;
pub mod broken_pipe;
pub mod config_file;
pub mod frames;
pub mod logging;
pub mod modes;
#[cfg(feature = "packaging")]
pub mod packaging;
pub mod seconds;
pub mod settings;
pub mod tls;
