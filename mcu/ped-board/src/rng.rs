//! The `rand_core` adapter for the board's random number generator.
//!
//! **NOT FOR PRODUCTION.** QEMU's mps2-an386 has no TRNG, so on QEMU the "RNG" is a
//! ChaCha20 stream from a fixed seed: every boot draws the same ephemeral keys. A board
//! port replaces [`QemuDeterministicRng`] with its TRNG (or a DRBG seeded from it) behind
//! the same traits; nothing else changes.

use core::convert::Infallible;

use rand_chacha::ChaCha20Rng;
use rand_core::{SeedableRng, TryCryptoRng, TryRng};

/// The fixed seed of the stand-in. Public knowledge: it protects nothing.
const STAND_IN_SEED: [u8; 32] = *b"ped-board QEMU stand-in: NOT RNG";

/// A deterministic, fixed-seed stand-in for a TRNG: for QEMU only, never production.
#[derive(Debug)]
pub struct QemuDeterministicRng(ChaCha20Rng);

impl QemuDeterministicRng {
    /// The stand-in, from its fixed seed.
    pub fn new() -> QemuDeterministicRng {
        QemuDeterministicRng(ChaCha20Rng::from_seed(STAND_IN_SEED))
    }
}

impl TryRng for QemuDeterministicRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.0.try_next_u32()
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0.try_next_u64()
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.try_fill_bytes(dst)
    }
}

impl TryCryptoRng for QemuDeterministicRng {}
