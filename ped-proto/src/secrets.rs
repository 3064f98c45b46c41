//! The shared secrets that authenticate a remote channel: the RPV and the one-time
//! password. Both are wiped on drop, compared in constant time and never printed.

use core::fmt;

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of a Remote PED Vector.
pub const RPV_LEN: usize = 32;
/// Number of digits of the one-time password the HSM shows for remote RPV initialisation.
pub const PASSWORD_DIGITS: usize = 8;
/// Failed tries after which the HSM burns a one-time password.
pub const PASSWORD_MAX_FAILURES: u8 = 3;

/// The Remote PED Vector: 256 random bits made by the HSM at `ped vector init` and
/// carried to the PED on the orange key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Rpv([u8; RPV_LEN]);

impl Rpv {
    /// A fresh random RPV.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; RPV_LEN];
        rng.fill_bytes(&mut bytes);
        Rpv(bytes)
    }

    /// An RPV from its bytes (read back from an orange key).
    pub fn from_bytes(bytes: [u8; RPV_LEN]) -> Self {
        Rpv(bytes)
    }

    /// The secret bytes, for the key derivation and for writing onto a key.
    pub fn expose(&self) -> &[u8; RPV_LEN] {
        &self.0
    }
}

impl PartialEq for Rpv {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for Rpv {}

impl fmt::Debug for Rpv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rpv(..)")
    }
}

/// Eight decimal digits, as typed on the PED keypad.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PasswordDigits([u8; PASSWORD_DIGITS]);

impl PasswordDigits {
    /// Parses exactly eight ASCII digits.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes: [u8; PASSWORD_DIGITS] = text.as_bytes().try_into().ok()?;
        bytes.iter().all(u8::is_ascii_digit).then_some(PasswordDigits(bytes))
    }

    /// Eight uniformly random digits (rejection sampling on bytes, so no digit is favoured).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut digits = [0u8; PASSWORD_DIGITS];
        let mut filled = 0;
        let mut byte = [0u8; 1];
        while filled < PASSWORD_DIGITS {
            rng.fill_bytes(&mut byte);
            // 250 is the largest multiple of 10 below 256.
            if byte[0] < 250 {
                digits[filled] = b'0' + byte[0] % 10;
                filled += 1;
            }
        }
        byte.zeroize();
        PasswordDigits(digits)
    }

    /// The ASCII digits, for the key derivation and for showing on the HSM's console.
    pub fn expose(&self) -> &[u8; PASSWORD_DIGITS] {
        &self.0
    }
}

impl fmt::Debug for PasswordDigits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordDigits(..)")
    }
}

/// The HSM's one-time password for remote RPV initialisation, with its failure count.
/// It can authenticate one channel; three failed tries burn it.
#[derive(Debug)]
pub struct OneTimePassword {
    digits: PasswordDigits,
    failures: u8,
    spent: bool,
}

impl OneTimePassword {
    /// A password given by the administrator (`ped connect -password 12345678`) or generated.
    pub fn new(digits: PasswordDigits) -> Self {
        OneTimePassword { digits, failures: 0, spent: false }
    }

    /// Whether the password can no longer authenticate a channel.
    pub fn is_burnt(&self) -> bool {
        self.spent || self.failures >= PASSWORD_MAX_FAILURES
    }

    /// Failed tries so far.
    pub fn failures(&self) -> u8 {
        self.failures
    }

    pub(crate) fn digits(&self) -> &PasswordDigits {
        &self.digits
    }

    /// Counts a failed try and says how many remain.
    pub(crate) fn record_failure(&mut self) -> u8 {
        self.failures = self.failures.saturating_add(1);
        PASSWORD_MAX_FAILURES.saturating_sub(self.failures)
    }

    /// Marks the password used: one password, one channel.
    pub(crate) fn spend(&mut self) {
        self.spent = true;
    }
}
