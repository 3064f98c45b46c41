//! The bench clock: SysTick on the core clock, extended to 64 bits by counting wraps.
//!
//! Under `qemu-system-arm -icount shift=0` every guest instruction advances QEMU's
//! virtual clock by exactly 1 ns, and SysTick (CLKSOURCE = core) is clocked by the
//! board's 25 MHz SYSCLK on that virtual clock: one tick is 40 instructions. The factor
//! is not assumed: [`Calibration`] measures it against a loop of known instruction
//! count (see mcu/README.md).

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{SCB, SYST};
use cortex_m_rt::exception;

/// SysTick is a 24-bit down-counter; reloading with the maximum makes one wrap
/// 2^24 ticks (671 M instructions at 40 per tick).
const RELOAD: u32 = 0x00FF_FFFF;

/// Wraps of SysTick since [`start`], counted by its exception.
static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::AcqRel);
}

/// Starts SysTick free-running on the core clock with its wrap exception enabled.
pub fn start(mut syst: SYST) {
    syst.disable_counter();
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Ticks since [`start`].
///
/// A wrap that has happened but whose exception has not run yet shows as SysTick's
/// pending bit; it is counted when the bit reads the same before and after the
/// counter, and the read is retried whenever the exception ran in between.
pub fn ticks() -> u64 {
    loop {
        let wraps_before = WRAPS.load(Ordering::Acquire);
        let pending_before = SCB::is_pendst_pending();
        let current = SYST::get_current();
        let pending_after = SCB::is_pendst_pending();
        let wraps_after = WRAPS.load(Ordering::Acquire);
        if wraps_before == wraps_after && pending_before == pending_after {
            let wraps = u64::from(wraps_before) + u64::from(pending_before);
            return wraps * (u64::from(RELOAD) + 1) + u64::from(RELOAD - current);
        }
    }
}

/// The measured instructions-per-tick factor and the cost of an empty measurement.
#[derive(Clone, Copy, Debug)]
pub struct Calibration {
    /// Instructions in the calibration's known loop difference.
    pub known_instructions: u64,
    /// Ticks that difference took.
    pub ticks: u64,
    /// Ticks of an empty [`Calibration::span`] (the reading's own cost).
    pub empty_ticks: u64,
}

/// Calibration loop lengths: `cortex_m::asm::delay(n)` runs `n + 1` iterations of
/// `subs; bne` (two instructions), so the difference of two runs is exactly
/// `2 * (LONG - SHORT)` instructions, whatever the call overhead.
const SHORT: u32 = 1_000_000;
const LONG: u32 = 101_000_000;

impl Calibration {
    /// Measures the tick-to-instruction factor with two runs of a known loop.
    pub fn measure() -> Self {
        let empty_ticks = (0..8).map(|_| raw_span(|| ())).min().unwrap_or(0);
        let short = raw_span(|| cortex_m::asm::delay(SHORT));
        let long = raw_span(|| cortex_m::asm::delay(LONG));
        Calibration { known_instructions: 2 * u64::from(LONG - SHORT), ticks: long.saturating_sub(short), empty_ticks }
    }

    /// Instructions per tick, as a fraction `known_instructions / ticks`.
    pub fn to_instructions(&self, ticks: u64) -> u64 {
        let net = ticks.saturating_sub(self.empty_ticks);
        if self.ticks == 0 {
            return 0;
        }
        // Rounded to the nearest instruction.
        (net * self.known_instructions + self.ticks / 2) / self.ticks
    }

    /// Runs `f` and returns its result and the instructions it took.
    pub fn span<T>(&self, f: impl FnOnce() -> T) -> (T, u64) {
        let start = ticks();
        let out = core::hint::black_box(f());
        let end = ticks();
        (out, self.to_instructions(end - start))
    }
}

/// Ticks taken by `f`, uncorrected.
fn raw_span(f: impl FnOnce()) -> u64 {
    let start = ticks();
    f();
    ticks() - start
}
