//! PED PINs and the binding of a PIN to the split written on a PED key.
//!
//! A key holder may set a PIN of 4 to 48 digits, first digit not 0, when the key is
//! created; pressing Enter twice sets none. The PED never stores the PIN and never
//! checks it. What it writes on the key is the split masked under a key derived from
//! the PIN:
//!
//! `masked = value XOR PBKDF2-HMAC-SHA-512(PIN, "PED PIN v2" ‖ salt ‖ keyset_id ‖ index, PIN_ITERATIONS, len(value))`
//!
//! with a fresh 16-byte random [`PinSalt`] per key, written beside the masked value;
//! without a PIN, `masked = value`. XOR is its own inverse, so [`apply_pin_mask`] both
//! binds (at creation) and unbinds (at login). No check value is stored: a wrong PIN
//! unmasks to a wrong split with no error at the PED, and only the HSM, reassembling
//! the quorum and checking the keyset's [`Verifier`](crate::quorum::Verifier), finds
//! out. That is the seed's behaviour ("PIN entry will appear to succeed and the
//! authentication operation will only fail when all M PED keys have been presented").
//!
//! The random salt alone makes every key's mask independent. The keyset identifier and
//! the split index are added to the PBKDF2 salt so that a mask stays tied to the split
//! it was made for, even if a faulty RNG repeated a salt. All four fields have fixed
//! lengths (10 + 16 + 16 + 1 bytes), so the concatenation is unambiguous.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::num::NonZeroU32;

use hmac::Hmac;
use rand_core::CryptoRng;
use sha2::Sha512;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::quorum::{KEYSET_ID_LEN, MAX_SECRET_LEN, QuorumError, SplitInfo};

/// The fewest digits a PIN may have.
pub const PIN_MIN_DIGITS: usize = 4;
/// The most digits a PIN may have.
pub const PIN_MAX_DIGITS: usize = 48;
/// Length of a [`PinSalt`].
pub const SALT_LEN: usize = 16;

/// PBKDF2-HMAC-SHA-512 iterations of one PIN binding or unbinding.
///
/// The count is set by the PED's processor, not by password-storage guidance, because
/// the binding is built so that stretching is not what stops an offline search:
/// - A single stolen key of any colour gives no offline PIN test at all: its masked
///   split is uniformly random, no check value is stored anywhere on the key, and
///   every unmasked value is a valid split (for the orange key, a valid seed: see
///   [`crate::orange`]). Every PIN candidate is equally plausible, whatever the count.
/// - Captured traffic adds nothing: splits cross the links wrapped under channel keys
///   that depend on ephemeral private keys, and the orange key's RPK public key is
///   never sent (docs/security.md, "Offline PIN guessing").
/// - Guesses through the HSM are counted by its failed-login rules.
///
/// What the count still slows is the residual cases docs/security.md lists: two
/// duplicates of one split made with different PINs, or a key together with the
/// HSM's stored verifier. For short PINs no count helps there (10^4 guesses); long
/// PINs do.
///
/// The budget is the PED's: at most 20 × 10^6 Cortex-M4 instructions per key unlock.
/// One unlock of a split of up to 64 bytes is one PBKDF2 block: 2 SHA-512 compressions
/// for the HMAC key pads, 2 for the first iteration and 2 for each further one, so
/// `2 + 2c` compressions. At about 10,500 instructions per compression (measured on
/// a Cortex-M4 under QEMU, `-icount shift=0`), 600 iterations cost 1,202 compressions,
/// about 12.6 × 10^6 instructions (0.08-0.15 s at 168 MHz), leaving a third of the
/// budget for reading the key and wrapping the split.
///
/// Changing this value makes every PIN-bound key unreadable, so it is part of the key
/// format ([`crate::pedkey::FORMAT`]).
pub const PIN_ITERATIONS: NonZeroU32 = NonZeroU32::new(600).expect("non-zero");

/// The label that opens the PBKDF2 salt, so that no other use of PBKDF2 over a PIN can
/// yield the same mask.
pub const PIN_LABEL: &[u8; 10] = b"PED PIN v2";

/// SHA-512 compressions of one unlock of a `len`-byte split: 2 for the HMAC key pads
/// (computed once), then 2 per iteration for each 64-byte PBKDF2 block.
pub const fn compressions_per_unlock(len: usize, iterations: u32) -> u64 {
    let blocks = len.div_ceil(64) as u64;
    if blocks == 0 { 0 } else { 2 + blocks * 2 * iterations as u64 }
}

/// Why a typed PIN was refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinError {
    /// Fewer than [`PIN_MIN_DIGITS`] digits.
    TooShort,
    /// More than [`PIN_MAX_DIGITS`] digits.
    TooLong,
    /// A character other than an ASCII digit.
    NotDigits,
    /// The first digit is 0.
    LeadingZero,
}

impl fmt::Display for PinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PinError::TooShort => write!(f, "the PIN is too short; enter {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits"),
            PinError::TooLong => write!(f, "the PIN is too long; enter {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits"),
            PinError::NotDigits => f.write_str("a PIN has digits only; enter digits 0-9"),
            PinError::LeadingZero => f.write_str("a PIN may not start with 0; enter a different first digit"),
        }
    }
}

impl core::error::Error for PinError {}

/// A PED PIN: 4 to 48 ASCII digits, the first not 0. Wiped on drop, compared in
/// constant time, never printed. "No PIN" is `Option::<Pin>::None`, not an empty PIN.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Pin {
    // Fixed storage, so the PIN is never reallocated (leaving a copy behind) and its
    // length shows only through `len`. Bytes past `len` stay zero.
    digits: [u8; PIN_MAX_DIGITS],
    len: u8,
}

impl Pin {
    /// Parses a PIN as typed on the keypad. The checks run in this order, and the first
    /// that fails is reported: characters ([`PinError::NotDigits`]), length
    /// ([`PinError::TooShort`], [`PinError::TooLong`]), first digit
    /// ([`PinError::LeadingZero`]).
    pub fn parse(text: &str) -> Result<Self, PinError> {
        let bytes = text.as_bytes();
        if !bytes.iter().all(u8::is_ascii_digit) {
            return Err(PinError::NotDigits);
        }
        if bytes.len() < PIN_MIN_DIGITS {
            return Err(PinError::TooShort);
        }
        if bytes.len() > PIN_MAX_DIGITS {
            return Err(PinError::TooLong);
        }
        if bytes[0] == b'0' {
            return Err(PinError::LeadingZero);
        }
        let mut digits = [0u8; PIN_MAX_DIGITS];
        digits[..bytes.len()].copy_from_slice(bytes);
        // At most 48 after the check above.
        let len = u8::try_from(bytes.len()).map_err(|_| PinError::TooLong)?;
        Ok(Pin { digits, len })
    }

    /// The ASCII digits, for the key derivation.
    pub fn expose(&self) -> &[u8] {
        &self.digits[..usize::from(self.len)]
    }
}

impl PartialEq for Pin {
    fn eq(&self, other: &Self) -> bool {
        (self.digits.ct_eq(&other.digits) & self.len.ct_eq(&other.len)).into()
    }
}
impl Eq for Pin {}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(..)")
    }
}

/// The random salt of one key's PIN binding: 16 bytes drawn by the PED when it writes
/// the key, stored in clear beside the masked split. Not secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PinSalt([u8; SALT_LEN]);

impl PinSalt {
    /// A fresh random salt, for each key written (each duplicate made at creation gets
    /// its own; an Admin-mode copy keeps the original's).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; SALT_LEN];
        rng.fill_bytes(&mut bytes);
        PinSalt(bytes)
    }

    /// A salt read from a key.
    pub const fn from_bytes(bytes: [u8; SALT_LEN]) -> Self {
        PinSalt(bytes)
    }

    /// The salt's bytes, for writing onto a key.
    pub const fn as_bytes(&self) -> &[u8; SALT_LEN] {
        &self.0
    }
}

impl fmt::Debug for PinSalt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinSalt(")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        f.write_str(")")
    }
}

/// Binds or unbinds a PIN: returns `value XOR PBKDF2-HMAC-SHA-512(PIN, "PED PIN v2" ‖
/// salt ‖ keyset_id ‖ index, PIN_ITERATIONS, len(value))`, or a copy of `value` when `pin` is
/// `None`. At creation `value` is the split and the result is written on the key; at
/// login `value` is what the key holds and the result is the split (a wrong one if the
/// PIN is wrong; nothing here can tell).
///
/// `value` must be 1 to [`MAX_SECRET_LEN`] bytes ([`QuorumError::SecretLength`]
/// otherwise), so that a damaged key cannot ask for an unbounded derivation.
pub fn apply_pin_mask(
    value: &[u8],
    pin: Option<&Pin>,
    salt: &PinSalt,
    split: &SplitInfo,
) -> Result<Zeroizing<Vec<u8>>, QuorumError> {
    apply_pin_mask_with_iterations(value, pin, salt, split, PIN_ITERATIONS)
}

/// [`apply_pin_mask`] with an explicit PBKDF2 iteration count. Below
/// [`PIN_ITERATIONS`] this is for tests only (it keeps PIN property tests fast); above,
/// for a future key format that records a larger count.
pub fn apply_pin_mask_with_iterations(
    value: &[u8],
    pin: Option<&Pin>,
    salt: &PinSalt,
    split: &SplitInfo,
    iterations: NonZeroU32,
) -> Result<Zeroizing<Vec<u8>>, QuorumError> {
    if value.is_empty() || value.len() > MAX_SECRET_LEN {
        return Err(QuorumError::SecretLength { len: value.len() });
    }
    let mut out = Zeroizing::new(value.to_vec());
    if let Some(pin) = pin {
        const L: usize = PIN_LABEL.len();
        let mut kdf_salt = [0u8; L + SALT_LEN + KEYSET_ID_LEN + 1];
        kdf_salt[..L].copy_from_slice(PIN_LABEL);
        kdf_salt[L..L + SALT_LEN].copy_from_slice(&salt.0);
        kdf_salt[L + SALT_LEN..L + SALT_LEN + KEYSET_ID_LEN].copy_from_slice(split.keyset_id().as_bytes());
        kdf_salt[L + SALT_LEN + KEYSET_ID_LEN] = split.index();
        let mut mask = Zeroizing::new(vec![0u8; value.len()]);
        // HMAC takes keys of any length, so this cannot fail.
        pbkdf2::pbkdf2::<Hmac<Sha512>>(pin.expose(), &kdf_salt, iterations.get(), &mut mask)
            .expect("HMAC accepts any key length");
        out.iter_mut().zip(mask.iter()).for_each(|(o, m)| *o ^= m);
    }
    Ok(out)
}
