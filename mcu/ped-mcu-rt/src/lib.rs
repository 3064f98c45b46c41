//! `ped-mcu-rt`: what the MCU images share to start and to stop on QEMU `mps2-an386`.
//! The memory map (`memory.x`, put on the link path by this crate's build script for
//! cortex-m-rt's `link.x`) and [`stop`], the end of every image's panic, fault and halt.
#![no_std]

/// Stops the image for good: QEMU exits with a failure status (semihosting SYS_EXIT), so
/// the host sees its sockets close; without semihosting the core sleeps forever.
pub fn stop() -> ! {
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
