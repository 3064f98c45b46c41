//! The stack's high-water mark: the free RAM below the stack is painted at reset and
//! scanned on request.

use core::ptr::{read_volatile, write_volatile};

/// The paint.
const PAINT: u32 = 0xDEAD_BEEF;
/// How far below the stack pointer at reset the paint reaches (the budget is 24 KiB).
const WINDOW: usize = 256 * 1024;

unsafe extern "C" {
    /// cortex-m-rt: the initial stack pointer, the top of RAM.
    static _stack_start: u32;
    /// cortex-m-rt: the first byte after .data and .bss.
    static __sheap: u32;
}

fn top() -> usize {
    &raw const _stack_start as usize
}

fn bottom() -> usize {
    let sheap = &raw const __sheap as usize;
    top().saturating_sub(WINDOW).max(sheap).next_multiple_of(4)
}

/// Paints from the bottom of the window up to a little below the current stack pointer.
/// Called first thing in `main`.
pub fn paint() {
    let sp = cortex_m::register::msp::read() as usize;
    let mut at = bottom();
    while at + 64 < sp {
        // SAFETY: `at` is word-aligned RAM between the end of .bss (`__sheap`) and 64
        // bytes below the live stack pointer: memory no object of the program occupies
        // (the heap is a static inside .bss), so writing it disturbs nothing.
        unsafe { write_volatile(at as *mut u32, PAINT) };
        at += 4;
    }
}

/// The deepest the stack has been since [`paint`], in bytes from the top of RAM.
pub fn peak() -> usize {
    let mut at = bottom();
    let sp = cortex_m::register::msp::read() as usize;
    while at < sp {
        // SAFETY: as in `paint`: word-aligned RAM of the stack window, below the live
        // stack pointer; reading it has no effect.
        if unsafe { read_volatile(at as *const u32) } != PAINT {
            break;
        }
        at += 4;
    }
    top() - at
}
