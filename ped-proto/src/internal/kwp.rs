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

/// AES-KWP under one of the three AES key sizes.
enum Kwp {
    Aes128(KwpAes128),
    Aes192(KwpAes192),
    Aes256(KwpAes256),
}

impl Kwp {
    fn new(key: &[u8]) -> Result<Self, Error> {
        let bad_key = |_| Error::KeyLengthInvalid;
        Ok(match key.len() {
            16 => Kwp::Aes128(KwpAes128::new_from_slice(key).map_err(bad_key)?),
            24 => Kwp::Aes192(KwpAes192::new_from_slice(key).map_err(bad_key)?),
            32 => Kwp::Aes256(KwpAes256::new_from_slice(key).map_err(bad_key)?),
            _ => return Err(Error::KeyLengthInvalid),
        })
    }

    fn wrap(&self, plaintext: &[u8], out: &mut [u8]) -> Result<usize, aes_kw::Error> {
        match self {
            Kwp::Aes128(k) => k.wrap_key(plaintext, out),
            Kwp::Aes192(k) => k.wrap_key(plaintext, out),
            Kwp::Aes256(k) => k.wrap_key(plaintext, out),
        }
        .map(<[u8]>::len)
    }

    fn unwrap(&self, wrapped: &[u8], out: &mut [u8]) -> Result<usize, aes_kw::Error> {
        match self {
            Kwp::Aes128(k) => k.unwrap_key(wrapped, out),
            Kwp::Aes192(k) => k.unwrap_key(wrapped, out),
            Kwp::Aes256(k) => k.unwrap_key(wrapped, out),
        }
        .map(<[u8]>::len)
    }
}

/// Wraps `plaintext` (1 to [`MAX_WRAP_INPUT`] bytes) under a 16-, 24- or 32-byte key.
pub fn wrap(key: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    if plaintext.is_empty() || plaintext.len() > MAX_WRAP_INPUT {
        return Err(Error::KeyLengthInvalid);
    }
    let kwp = Kwp::new(key)?;
    let mut out = vec![0u8; wrapped_len(plaintext.len())];
    let written = kwp.wrap(plaintext, &mut out).map_err(|_| Error::KeyLengthInvalid)?;
    out.truncate(written);
    Ok(out)
}

/// Unwraps and checks the integrity of `wrapped`; any failure is [`Error::CspUnwrapFailed`].
pub fn unwrap(key: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    if wrapped.len() < 16 || !wrapped.len().is_multiple_of(8) || wrapped.len() > wrapped_len(MAX_WRAP_INPUT) {
        return Err(Error::CspUnwrapFailed);
    }
    let kwp = Kwp::new(key)?;
    let mut out = Zeroizing::new(vec![0u8; wrapped.len()]);
    let len = kwp.unwrap(wrapped, &mut out).map_err(|_| Error::CspUnwrapFailed)?;
    out.truncate(len);
    Ok(out)
}
