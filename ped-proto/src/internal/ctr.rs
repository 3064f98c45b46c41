//! AES-256 in counter mode (SP 800-38A §6.5) with a full 128-bit big-endian counter block.

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};

/// Length of an AES-256 key.
pub const KEY_LEN: usize = 32;
/// Length of the counter block.
pub const BLOCK_LEN: usize = 16;

/// XORs the keystream that starts at `counter_block` into `data` (encrypts or decrypts).
pub fn aes256_ctr_apply(key: &[u8; KEY_LEN], counter_block: &[u8; BLOCK_LEN], data: &mut [u8]) {
    let mut cipher = ctr::Ctr128BE::<Aes256>::new(key.into(), counter_block.into());
    cipher.apply_keystream(data);
}
