//! The MCU bench image: the PED's crypto primitives on an emulated Cortex-M4F
//! (QEMU `mps2-an386`), one `<name> <instructions>` line per operation on the
//! semihosting console, then a semihosting exit.
//!
//! Lines starting with `#` are notes (calibration, checks), not figures. Run it with
//! `mcu/bench.sh`; the method is in `mcu/README.md`.
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

mod clock;
mod ops;

use core::mem::MaybeUninit;
use core::panic::PanicInfo;

use cortex_m_rt::{ExceptionFrame, entry, exception};
use cortex_m_semihosting::{debug, hprintln};
use embedded_alloc::LlffHeap as Heap;

use crate::clock::Calibration;

/// The PED's heap budget on the device: 64 KiB.
const HEAP_SIZE: usize = 64 * 1024;

#[global_allocator]
static HEAP: Heap = Heap::empty();

#[entry]
fn main() -> ! {
    {
        static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: called once, first thing in `main`, before any allocation; HEAP_MEM
        // is used by nothing else (this block is its only mention), so the allocator
        // owns those HEAP_SIZE bytes for the rest of the program.
        unsafe { HEAP.init(&raw mut HEAP_MEM as usize, HEAP_SIZE) }
    }

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

    ops::run(&calibration, &mut |name, instructions| hprintln!("{} {}", name, instructions));
    hprintln!("# heap in use at the end: {} of {} bytes", HEAP.used(), HEAP_SIZE);

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
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    cortex_m::interrupt::disable();
    // The message and its location; heap exhaustion arrives here too (Rust's default
    // alloc error handler panics with "memory allocation of N bytes failed").
    hprintln!("# panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("# hard fault: {:?}", frame);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
