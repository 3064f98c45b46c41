//! X.509 certificates of the HSM's identity: the emulated factory that issues them and
//! the verifier the PED runs on them.
//!
//! The chain mirrors the seed's (chapter 9): a root authority certifies the
//! Manufacturing Integrity Certificate (MIC), the MIC certifies each HSM's Hardware
//! Origin Certificate (HOC), and the HOC certifies the HSM's static ECDH key and the
//! RPK static key written onto the orange key (seed lines 3766-3786):
//!
//! ```text
//! root ──> MIC ──> HOC ──┬──> HSM static ECDH key
//!                        └──> RPK static ECDH key
//! ```
//!
//! Every certificate is DER X.509 v3 signed with ECDSA P-521/SHA-512, and every key in
//! it is a P-521 key; nothing else is accepted. The profile, which `openssl verify`
//! accepts:
//!
//! | certificate | basicConstraints (critical) | keyUsage (critical) | extendedKeyUsage (critical) | key identifiers |
//! |---|---|---|---|---|
//! | root | CA, pathLen 2 | keyCertSign, cRLSign | — | SKI |
//! | MIC | CA, pathLen 1 | keyCertSign, cRLSign | — | SKI, AKI |
//! | HOC | CA, pathLen 0 | keyCertSign, cRLSign | — | SKI, AKI |
//! | HSM static key | not a CA | keyAgreement | the HSM-static purpose only | SKI, AKI |
//! | RPK static key | not a CA | keyAgreement | the RPK-static purpose only | SKI, AKI |
//!
//! The two static-key certificates differ only in their purpose ([`LeafRole`]), and
//! that difference is what keeps the holder of an orange key from passing for the HSM:
//! every verifier is told which role it expects.
//!
//! Key identifiers are the leftmost 160 bits of SHA-512 over the subjectPublicKey bits
//! (RFC 7093 §2, method 3). Names are `O=ped-proto emulated factory, CN=…`, plus the
//! HSM serial number as the X.520 `serialNumber` attribute on the static-key
//! certificates that carry one.
//!
//! Verification is deliberately narrower than RFC 5280 path validation: the chain is
//! given in order (leaf first, root not sent), names must match byte for byte, and an
//! unknown critical extension rejects the certificate. Anything outside this profile is
//! refused rather than interpreted.

mod cache;
mod issue;
mod parse;
mod role;
mod signature;
mod verify;

pub use cache::ChainCache;
pub use issue::{CertificateAuthority, IssueError};
pub use role::{HSM_STATIC_KEY_PURPOSE_UUID, LeafRole, RPK_STATIC_KEY_PURPOSE_UUID};
pub use signature::{verify_ecdsa_p521_sha512, verify_ecdsa_p521_sha512_p1363};
pub use verify::{VerifiedHsmChain, verify_chain, verify_hsm_chain, verify_rpk_cert};

/// The organization (`O`) of every name the emulated factory issues.
pub const FACTORY_ORGANIZATION: &str = "ped-proto emulated factory";

/// The longest chain [`verify_chain`] accepts, not counting the trusted root:
/// the static-key leaf, HOC, MIC and one spare level.
pub const MAX_CHAIN_LEN: usize = 4;

/// The largest certificate the verifier decodes. The factory's certificates are under
/// 1 KiB; the bound keeps a hostile peer from making the decoder allocate much.
pub const MAX_CERT_LEN: usize = 4096;

/// Length of a key identifier (SKI/AKI), in bytes.
const KEY_ID_LEN: usize = 20;

/// RFC 7093 §2 method 3: the leftmost 160 bits of SHA-512 over the subjectPublicKey
/// bits. SHA-1 (RFC 5280's example) is avoided so that no SHA-1 digest appears anywhere
/// in the product.
fn key_identifier(subject_public_key: &[u8]) -> [u8; KEY_ID_LEN] {
    use sha2::{Digest, Sha512};
    let digest = Sha512::digest(subject_public_key);
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&digest[..KEY_ID_LEN]);
    id
}
