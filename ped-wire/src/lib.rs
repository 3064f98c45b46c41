//! `ped-wire`: everything of the PED protocol that is not cryptography. Link frames
//! (docs/protocol.md §2), the relay, HSM-link and device control messages (§15), the
//! emulated USB endpoint's packets (docs/usb.md), the stable error codes (§9) and the
//! decoders' error.
//!
//! The relays (`pedserver`, `pedclient`, `ped-daemon`) depend on this crate alone: they
//! route frames by type and never link the code that derives, holds or uses a channel
//! key (DESIGN.md rule 2). CI checks it (`cargo tree -e normal` of each relay shows no
//! elliptic curve, key wrap or certificate crate). `ped-proto` re-exports every module,
//! so the endpoints see one protocol crate.
//!
//! Sans-IO and total: bytes in, typed values or a [`DecodeError`] out; lengths are
//! checked before anything is allocated.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod code;
mod decode;
pub mod device;
pub mod frame;
pub mod hsm_link;
pub mod relay;
pub mod usb;
pub mod wire;

pub use code::ErrorCode;
pub use decode::DecodeError;
