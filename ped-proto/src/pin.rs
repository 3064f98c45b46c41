//! PED PINs and the binding of a PIN to the split written on a PED key.
//!
//! A key holder may set a PIN of 4 to 48 digits, first digit not 0, when the key is
//! created; pressing Enter twice sets none. The PED never stores the PIN and never
//! checks it. What it writes on the key is the split masked under a key derived from
//! the PIN:
//!
//! `masked = value XOR PBKDF2-HMAC-SHA-512(PIN, salt ‖ keyset_id ‖ index, PIN_ITERATIONS, len(value))`
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
//! it was made for, even if a faulty RNG repeated a salt. All three fields have fixed
//! lengths (16 + 16 + 1 bytes), so the concatenation is unambiguous.

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

/// PBKDF2-HMAC-SHA-512 iterations of one PIN binding or check.
///
/// The PED does the derivation, and the PED is a microcontroller with a heap budget of
/// about 64 KiB, so a memory-hard function is ruled out there: Argon2id at OWASP's
/// smallest recommended setting wants 19 MiB. PBKDF2-HMAC-SHA-512 needs a few hundred
/// bytes, and 210,000 iterations is OWASP's 2023 recommendation for it (Password
/// Storage Cheat Sheet); this takes it as is. Measured on the development machine (one
/// core of an AMD EPYC virtual machine, release build, one 32-byte split, so one 64-byte
/// PBKDF2 block): 90-93 ms per PIN check (`cargo run --release -p ped-proto --example
/// quorum_bench`, `pin_check`). A split longer than 64 bytes needs a second block and
/// twice the time. A PED microcontroller without SHA-512 hardware will take seconds; it
/// does so once per key presented, while its holder waits at the keypad anyway.
///
/// What the iterations protect against is narrow, by design of the binding:
/// - A single stolen key gives no offline PIN test at all: its masked split is
///   uniformly random and carries no check value, so every PIN is equally plausible.
/// - An attacker who also holds M-1 other splits (unmasked) and the HSM's verifier can
///   test each guess: unmask, reassemble, hash. The verifier never leaves the HSM.
/// - An attacker who holds two keys of the same split made with different PINs (the
///   duplicates a keyset may get at creation, one per person) learns the XOR of their
///   two masks and can search both PIN spaces against it, meet-in-the-middle, for about
///   twice the cost of one PIN space. For a 1-of-N keyset that yields the secret itself.
///
/// In the last two cases the iteration count is all that slows the search: a 4-digit
/// PIN is 10^4 guesses, about 15 minutes of one such core (30 for the pair of PINs of
/// two duplicates). Long PINs are what protect a key holder there; the HSM's
/// failed-login counter is what limits guesses made through the HSM.
///
/// Changing this value makes every PIN-bound key unreadable, so it is part of the key
/// format: a key format that records its own count should pass it to
/// [`apply_pin_mask_with_iterations`].
pub const PIN_ITERATIONS: NonZeroU32 = NonZeroU32::new(210_000).expect("non-zero");

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

/// Binds or unbinds a PIN: returns `value XOR PBKDF2-HMAC-SHA-512(PIN, salt ‖
/// keyset_id ‖ index, PIN_ITERATIONS, len(value))`, or a copy of `value` when `pin` is
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
        let mut kdf_salt = [0u8; SALT_LEN + KEYSET_ID_LEN + 1];
        kdf_salt[..SALT_LEN].copy_from_slice(&salt.0);
        kdf_salt[SALT_LEN..SALT_LEN + KEYSET_ID_LEN].copy_from_slice(split.keyset_id().as_bytes());
        kdf_salt[SALT_LEN + KEYSET_ID_LEN] = split.index();
        let mut mask = Zeroizing::new(vec![0u8; value.len()]);
        // HMAC takes keys of any length, so this cannot fail.
        pbkdf2::pbkdf2::<Hmac<Sha512>>(pin.expose(), &kdf_salt, iterations.get(), &mut mask)
            .expect("HMAC accepts any key length");
        out.iter_mut().zip(mask.iter()).for_each(|(o, m)| *o ^= m);
    }
    Ok(out)
}
