//! The fixed 64 KiB heap, wrapped to count its high-water mark and to notice when it
//! runs out.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use embedded_alloc::LlffHeap;

/// The PED's heap: 64 KiB.
pub const HEAP_SIZE: usize = 64 * 1024;

/// The allocator: embedded-alloc's linked-list first fit, plus counters.
pub struct CountingHeap {
    inner: LlffHeap,
    peak: AtomicUsize,
    exhausted: AtomicBool,
}

impl CountingHeap {
    /// An allocator without memory yet; see [`CountingHeap::init`].
    pub const fn empty() -> CountingHeap {
        CountingHeap { inner: LlffHeap::empty(), peak: AtomicUsize::new(0), exhausted: AtomicBool::new(false) }
    }

    /// Gives the allocator its memory.
    ///
    /// # Safety
    /// Once, before any allocation; `start..start + size` is valid memory used by
    /// nothing else for the rest of the program.
    pub unsafe fn init(&self, start: usize, size: usize) {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.inner.init(start, size) }
    }

    /// Bytes in use now (blocks as the allocator rounds them).
    pub fn used(&self) -> usize {
        self.inner.used()
    }

    /// The most bytes ever in use at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Whether an allocation has failed: the panic that follows is heap exhaustion.
    pub fn exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Relaxed)
    }
}

// SAFETY: every method forwards to LlffHeap, a GlobalAlloc, with the caller's
// arguments unchanged; the counters only observe the results.
unsafe impl GlobalAlloc for CountingHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees (non-zero size layout).
        let ptr = unsafe { self.inner.alloc(layout) };
        if ptr.is_null() {
            self.exhausted.store(true, Ordering::Relaxed);
        } else {
            self.peak.fetch_max(self.inner.used(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded: `ptr` came from this allocator with this layout.
        unsafe { self.inner.dealloc(ptr, layout) }
    }
}
