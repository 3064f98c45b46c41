//! The monotonic millisecond clock: SysTick on the 25 MHz core clock, one exception per
//! millisecond. Without `-icount` QEMU's virtual clock follows the host's, so these are
//! real milliseconds.

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;

/// The core clock of mps2-an386.
const CORE_HZ: u32 = 25_000_000;

static MILLIS: AtomicU32 = AtomicU32::new(0);

/// Starts SysTick: an exception every millisecond.
pub fn start(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(CORE_HZ / 1000 - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

/// Milliseconds since [`start`], wrapping every 49.7 days: for spans
/// (`wrapping_sub`), or widened to 64 bits by a [`Monotonic`].
pub fn millis32() -> u32 {
    MILLIS.load(Ordering::Relaxed)
}

/// A 64-bit millisecond count: the 32-bit counter wraps every 49.7 days; reading it at
/// least that often (the main loop reads it every pass) carries the wraps.
#[derive(Debug, Default)]
pub struct Monotonic {
    last: u32,
    high: u64,
}

impl Monotonic {
    /// Milliseconds since the clock started, never going back.
    pub fn now_ms(&mut self) -> u64 {
        let now = millis32();
        if now < self.last {
            self.high += 1 << 32;
        }
        self.last = now;
        self.high | u64::from(now)
    }
}
