//! The PED's stack use, by painting: before a measured PED call the stack below the
//! current stack pointer is filled with a pattern, after it the deepest word that lost
//! the pattern gives the depth the call reached (`bench_ped_stack_peak_bytes`, relative
//! to the caller's frame: a board's main loop adds its own few frames).

/// Bytes painted below the stack pointer; a call that reaches the last of them is
/// reported as overflowing the measurement.
pub const PAINTED: usize = 48 * 1024;
const PATTERN: u32 = 0xDEAD_C0DE;

/// Paints [`PAINTED`] bytes below the stack pointer; returns the stack pointer.
#[inline(never)]
pub fn paint() -> usize {
    let sp = cortex_m::register::msp::read() as usize;
    // Leave this function's own frame (and a margin) alone.
    let top = (sp - 64) & !3;
    let mut addr = top - PAINTED;
    while addr < top {
        // SAFETY: the words below the stack pointer belong to no live frame (Arm has no
        // red zone) and the RAM region is 4 MiB with the stack at its top, far above
        // the statics; an exception taken meanwhile pushes its frame below `sp` too,
        // which only makes the measurement count it.
        unsafe { core::ptr::write_volatile(addr as *mut u32, PATTERN) };
        addr += 4;
    }
    top
}

/// The depth below `top` (a [`paint`] result) that the stack reached since.
pub fn depth(top: usize) -> usize {
    let mut addr = top - PAINTED;
    while addr < top {
        // SAFETY: the same words `paint` wrote, still below any live frame of this
        // function's callers; reading them disturbs nothing.
        if unsafe { core::ptr::read_volatile(addr as *const u32) } != PATTERN {
            break;
        }
        addr += 4;
    }
    top - addr
}
