//! The primitives under the channel: AES-256-CTR, the one-step KDF, the HMAC key
//! confirmation tags, AES key wrap with padding, P-521 ECDH. Public only for the fuzz
//! targets, the ACVP harness, the benches and the known-answer tests: an endpoint uses the
//! handshakes, records and CSP wrapping built on them, never a primitive alone, so the
//! crate's documented API does not offer them (rustls keeps its primitives behind the
//! same kind of door). The key types an endpoint holds, [`EcdhKeyPair`] and
//! [`EcdhPublicKey`], are re-exported at the crate's root.
//!
//! [`EcdhKeyPair`]: crate::EcdhKeyPair
//! [`EcdhPublicKey`]: crate::EcdhPublicKey

pub mod ctr;
pub mod ecdh;
pub mod kdf;
pub mod kwp;
pub mod mac;
