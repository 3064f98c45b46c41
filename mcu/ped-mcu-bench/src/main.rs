//! The MCU bench image: the PED's crypto primitives on an emulated Cortex-M4F
//! (QEMU `mps2-an386`), one `<name> <instructions>` line per operation on the
//! semihosting console, then a semihosting exit.
//!
//! Lines starting with `#` are notes (calibration, checks), not figures. Run it with
//! `mcu/bench.sh`; the method is in `mcu/README.md`.
#![no_std]
#![no_main]

extern crate alloc;

mod clock;
mod heap;
mod ops;
mod ped_ops;
mod stack;

use core::panic::PanicInfo;

use cortex_m_rt::{ExceptionFrame, entry, exception};
use cortex_m_semihosting::{debug, hprintln};

use crate::clock::Calibration;
use crate::heap::Arenas;

/// The PED's 64 KiB arena and the host side's (the HSM played in this image).
#[global_allocator]
static HEAP: Arenas = Arenas::new();

#[entry]
fn main() -> ! {
    HEAP.init();

    let Some(peripherals) = cortex_m::Peripherals::take() else { halt("core peripherals already taken") };
    clock::start(peripherals.SYST);
    probe_dwt(peripherals.DCB, peripherals.DWT);

    let calibration = Calibration::measure();
    hprintln!(
        "# calibration: {} instructions of a known loop took {} SysTick ticks ({}.{:05} instructions/tick; 40 expected: 1 ns per instruction, SysTick at 25 MHz); an empty span is {} ticks",
        calibration.known_instructions,
        calibration.ticks,
        calibration.known_instructions / calibration.ticks.max(1),
        (calibration.known_instructions % calibration.ticks.max(1)) * 100_000 / calibration.ticks.max(1),
        calibration.empty_ticks
    );
    if calibration.ticks == 0 {
        halt("SysTick did not count: no calibration");
    }

    let mut report = |name: &str, instructions: u64| hprintln!("{} {}", name, instructions);
    ops::run(&calibration, &mut report);
    let stack_peak = ped_ops::run(&calibration, &mut report);
    // The PED's own memory in this bench (not the PED image's: see mcu/README.md).
    hprintln!("bench_ped_heap_peak_bytes {}", HEAP.ped_peak());
    hprintln!("bench_ped_stack_peak_bytes {}", stack_peak);
    hprintln!("# PED arena in use at the end: {} of {} bytes", HEAP.ped_used(), heap::PED_HEAP_SIZE);

    debug::exit(debug::EXIT_SUCCESS);
    halt("semihosting exit returned")
}

/// Reports whether the DWT cycle counter counts on this (emulated) core. QEMU's
/// M-profile models no DWT: CYCCNT reads as zero there.
fn probe_dwt(mut dcb: cortex_m::peripheral::DCB, mut dwt: cortex_m::peripheral::DWT) {
    dcb.enable_trace();
    dwt.enable_cycle_counter();
    let before = cortex_m::peripheral::DWT::cycle_count();
    cortex_m::asm::delay(1000);
    let after = cortex_m::peripheral::DWT::cycle_count();
    hprintln!(
        "# dwt: has_cycle_counter={} CYCCNTENA reads back {} after being set, CYCCNT {} -> {} across 2002 instructions ({})",
        cortex_m::peripheral::DWT::has_cycle_counter(),
        cortex_m::peripheral::DWT::cycle_counter_enabled(),
        before,
        after,
        if after == before { "not counting: SysTick is used" } else { "counting" }
    );
}

/// Prints `reason` on the semihosting console and stops QEMU with a failure status.
fn halt(reason: &str) -> ! {
    cortex_m::interrupt::disable();
    hprintln!("# halt: {}", reason);
    ped_mcu_rt::stop()
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    cortex_m::interrupt::disable();
    // The message and its location; heap exhaustion arrives here too (Rust's default
    // alloc error handler panics with "memory allocation of N bytes failed").
    hprintln!("# panic: {}", info);
    ped_mcu_rt::stop()
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("# hard fault: {:?}", frame);
    ped_mcu_rt::stop()
}
