//! AES Key Wrap with Padding (SP 800-38F §6.3, RFC 5649), the CSP wrapping of the channel.

use aes_kw::{KeyInit, KwpAes128, KwpAes192, KwpAes256};
use alloc::vec;
use alloc::vec::Vec;
use zeroize::Zeroizing;

use crate::error::Error;

/// The largest plaintext this crate wraps: a record's worth. KWP itself allows 2^32-1.
pub const MAX_WRAP_INPUT: usize = 1 << 16;

/// Length of the wrapping of `len` plaintext bytes: padded to 8, plus the 8-byte ICV.
pub const fn wrapped_len(len: usize) -> usize {
    len.div_ceil(8) * 8 + 8
}

/// Wraps `plaintext` (1 to [`MAX_WRAP_INPUT`] bytes) under a 16-, 24- or 32-byte key.
pub fn wrap(key: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    if plaintext.is_empty() || plaintext.len() > MAX_WRAP_INPUT {
        return Err(Error::KeyLengthInvalid);
    }
    let mut out = vec![0u8; wrapped_len(plaintext.len())];
    let written = match key.len() {
        16 => KwpAes128::new_from_slice(key)
            .map_err(|_| Error::KeyLengthInvalid)?
            .wrap_key(plaintext, &mut out)
            .map(<[u8]>::len),
        24 => KwpAes192::new_from_slice(key)
            .map_err(|_| Error::KeyLengthInvalid)?
            .wrap_key(plaintext, &mut out)
            .map(<[u8]>::len),
        32 => KwpAes256::new_from_slice(key)
            .map_err(|_| Error::KeyLengthInvalid)?
            .wrap_key(plaintext, &mut out)
            .map(<[u8]>::len),
        _ => return Err(Error::KeyLengthInvalid),
    }
    .map_err(|_| Error::KeyLengthInvalid)?;
    out.truncate(written);
    Ok(out)
}

/// Unwraps and checks the integrity of `wrapped`; any failure is [`Error::CspUnwrapFailed`].
pub fn unwrap(key: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    if wrapped.len() < 16 || !wrapped.len().is_multiple_of(8) || wrapped.len() > wrapped_len(MAX_WRAP_INPUT) {
        return Err(Error::CspUnwrapFailed);
    }
    let mut out = Zeroizing::new(vec![0u8; wrapped.len()]);
    let len = match key.len() {
        16 => KwpAes128::new_from_slice(key)
            .map_err(|_| Error::KeyLengthInvalid)?
            .unwrap_key(wrapped, &mut out)
            .map(<[u8]>::len),
        24 => KwpAes192::new_from_slice(key)
            .map_err(|_| Error::KeyLengthInvalid)?
            .unwrap_key(wrapped, &mut out)
            .map(<[u8]>::len),
        32 => KwpAes256::new_from_slice(key)
            .map_err(|_| Error::KeyLengthInvalid)?
            .unwrap_key(wrapped, &mut out)
            .map(<[u8]>::len),
        _ => return Err(Error::KeyLengthInvalid),
    }
    .map_err(|_| Error::CspUnwrapFailed)?;
    out.truncate(len);
    Ok(out)
}
