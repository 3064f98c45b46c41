//! The one-step key-derivation function of SP 800-56C Rev.2 §4.1, with H = SHA-512
//! (option 1) or H = HMAC-SHA-512 (option 2).
//!
//! Written here rather than taken from a crate: RustCrypto's `concat-kdf` implements
//! option 1 only and is built on digest 0.10, a generation behind the hashes used
//! everywhere else in this workspace. The function is a dozen lines and is checked
//! against every SHA2-512 and HMAC-SHA2-512 case of the NIST ACVP KDA samples.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha512};

use crate::error::Error;

/// SHA-512's output length in bytes.
pub const HASH_LEN: usize = 64;
/// The default salt of the HMAC variant: zero bytes, one SHA-512 block long (§4.1).
pub const DEFAULT_HMAC_SALT: [u8; 128] = [0u8; 128];
/// The largest output this crate ever asks for (the C(2e,2s) key block is 320 bytes);
/// a bound far below the standard's (2^32-1)·64, so a bad length cannot spin.
pub const MAX_OUTPUT_LEN: usize = 4096;

/// The auxiliary function H of the one-step KDF.
#[derive(Clone, Copy, Debug)]
pub enum AuxFunction<'a> {
    /// H(x) = SHA-512(x).
    Sha512,
    /// H(x) = HMAC-SHA-512(salt, x).
    HmacSha512 {
        /// The salt (the HMAC key); [`DEFAULT_HMAC_SALT`] when none is agreed.
        salt: &'a [u8],
    },
}

/// Fills `out` with `K(1) ‖ K(2) ‖ …` truncated, where `K(i) = H(i as u32 BE ‖ Z ‖ FixedInfo)`.
pub fn one_step(aux: AuxFunction<'_>, z: &[u8], fixed_info: &[u8], out: &mut [u8]) -> Result<(), Error> {
    if out.is_empty() || out.len() > MAX_OUTPUT_LEN {
        return Err(Error::KdfLengthInvalid);
    }
    for (i, chunk) in out.chunks_mut(HASH_LEN).enumerate() {
        let counter = u32::try_from(i + 1).map_err(|_| Error::KdfLengthInvalid)?.to_be_bytes();
        let block = match aux {
            AuxFunction::Sha512 => {
                Sha512::new().chain_update(counter).chain_update(z).chain_update(fixed_info).finalize()
            }
            AuxFunction::HmacSha512 { salt } => <Hmac<Sha512> as KeyInit>::new_from_slice(salt)
                .map_err(|_| Error::KeyLengthInvalid)?
                .chain_update(counter)
                .chain_update(z)
                .chain_update(fixed_info)
                .finalize()
                .into_bytes(),
        };
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
    Ok(())
}
