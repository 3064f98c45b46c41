//! The remote channel of HSMs on firmware 7.4.2 and older (seed 3787-3803), behind
//! the `legacy-7-4` feature: Diffie-Hellman (ffdhe2048) with the RPV mixed in,
//! mutual authentication by the 8-byte nonces R1 and R2 exchanged under the derived
//! key, then one AES-256-OFB stream per direction, its feedback buffer started from
//! the nonces, and a SHA-256 digest inside each record. docs/protocol.md §17 gives
//! every byte and the parameters the seed leaves open.
//!
//! An HSM on 7.7.0 or newer never speaks it; a PED speaks it only when the HSM's
//! hello asks for it (its first byte, [`LEGACY_HELLO_MARKER`]).

pub mod dh;
pub mod handshake;
pub mod messages;
pub(crate) mod stream;

pub use handshake::{
    HsmAwaitingEcho, HsmAwaitingShare, LegacyKeys, PedAwaitingChallenge, PedAwaitingProof, PedHelloReceived,
    derive_keys, hsm_start, is_legacy_hello,
};
pub use messages::{FirmwareVersion, LEGACY_HELLO_MARKER, LegacyHello, LegacyShare};
pub use stream::DIGEST_LEN;
