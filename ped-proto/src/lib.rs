//! `ped-proto`: the wire formats and the end-to-end secure channel between an HSM and
//! a PIN Entry Device (PED).
//!
//! The crate is sans-IO: it never touches a socket, a file, a clock or a thread.
//! Bytes and events go in, bytes and effects come out; time (`now`, Unix seconds) and
//! randomness (a [`rand_core::CryptoRng`]) are passed in by the caller. The daemons
//! (`pedserver`, `pedclient`), the PED firmware and the emulated HSM are thin adapters
//! around it. docs/protocol.md specifies every byte it produces.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod cert;
pub mod command;
pub mod error;
pub mod factory;
pub mod handshake;
#[cfg(feature = "legacy-7-4")]
pub mod legacy;
pub mod orange;
pub mod pedkey;
pub mod pin;
pub mod quorum;
pub mod record;
pub mod secrets;

pub use ecdh::{EcdhKeyPair, EcdhPublicKey, PUBLIC_KEY_LEN};
pub use error::{CertificateError, DecodeError, Error, ErrorCode};

/// The primitives under the channel, for the fuzz targets, the ACVP harness, the benches
/// and the known-answer tests only (see the module).
#[doc(hidden)]
pub mod internal;
// The crate's own modules name them as they always did.
use internal::{ctr, ecdh, kdf, kwp, mac};
// The wire formats without cryptography live in `ped-wire`, which the relays link
// alone; the endpoints see them here, under the same paths as ever.
pub(crate) use ped_wire::wire;
pub use ped_wire::{device, frame, hsm_link, relay, usb};
