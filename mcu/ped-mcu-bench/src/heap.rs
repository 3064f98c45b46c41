//! Two heaps, so that the PED's own memory can be measured in an image that also plays
//! the HSM: allocations made while [`ped_side`] is on come from the PED's 64 KiB arena
//! (the board's heap), all others from a large host arena. A block is freed (or grown)
//! in the arena its address lies in, whoever frees it, so a frame the PED allocates and
//! the bench later drops returns to the PED's arena. The PED arena's high-water mark is
//! kept: it is `bench_ped_heap_peak_bytes`.

use core::alloc::{GlobalAlloc, Layout};
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use embedded_alloc::LlffHeap;

/// The PED's heap on the device: 64 KiB (the budget for its peak is 48 KiB).
pub const PED_HEAP_SIZE: usize = 64 * 1024;
/// The host side (the HSM, certificate issuance, fixtures): plenty.
const HOST_HEAP_SIZE: usize = 1024 * 1024;

/// The bench's global allocator.
pub struct Arenas {
    ped: LlffHeap,
    host: LlffHeap,
    ped_start: AtomicUsize,
    ped_side: AtomicBool,
    ped_peak: AtomicUsize,
}

impl Arenas {
    pub const fn new() -> Self {
        Arenas {
            ped: LlffHeap::empty(),
            host: LlffHeap::empty(),
            ped_start: AtomicUsize::new(0),
            ped_side: AtomicBool::new(false),
            ped_peak: AtomicUsize::new(0),
        }
    }

    /// Hands both arenas their memory. Call once, first thing, before any allocation.
    pub fn init(&self) {
        static mut PED_MEM: [MaybeUninit<u8>; PED_HEAP_SIZE] = [MaybeUninit::uninit(); PED_HEAP_SIZE];
        static mut HOST_MEM: [MaybeUninit<u8>; HOST_HEAP_SIZE] = [MaybeUninit::uninit(); HOST_HEAP_SIZE];
        let ped = &raw mut PED_MEM as usize;
        self.ped_start.store(ped, Ordering::Relaxed);
        // SAFETY: `init` runs once, before any allocation (main calls it first); the two
        // statics are named only here, so each allocator owns its bytes for good.
        unsafe {
            self.ped.init(ped, PED_HEAP_SIZE);
            self.host.init(&raw mut HOST_MEM as usize, HOST_HEAP_SIZE);
        }
    }

    fn in_ped(&self, ptr: *mut u8) -> bool {
        let start = self.ped_start.load(Ordering::Relaxed);
        (start..start + PED_HEAP_SIZE).contains(&(ptr as usize))
    }

    fn note_ped_use(&self) {
        self.ped_peak.fetch_max(self.ped.used(), Ordering::Relaxed);
    }

    /// Bytes in use in the PED's arena now.
    pub fn ped_used(&self) -> usize {
        self.ped.used()
    }

    /// The PED arena's high-water mark since start.
    pub fn ped_peak(&self) -> usize {
        self.ped_peak.load(Ordering::Relaxed)
    }

    /// Whether new allocations go to the PED's arena.
    pub fn set_ped_side(&self, on: bool) {
        self.ped_side.store(on, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to one of two sound allocators; a block is always
// returned (or resized) by the allocator whose arena holds its address, which is the
// one that handed it out, since the arenas do not overlap.
unsafe impl GlobalAlloc for Arenas {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if self.ped_side.load(Ordering::Relaxed) {
            // SAFETY: the caller's contract for `alloc` is passed on unchanged.
            let ptr = unsafe { self.ped.alloc(layout) };
            self.note_ped_use();
            ptr
        } else {
            // SAFETY: as above.
            unsafe { self.host.alloc(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from the arena its address lies in (see the impl's note).
        unsafe { if self.in_ped(ptr) { self.ped.dealloc(ptr, layout) } else { self.host.dealloc(ptr, layout) } }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let in_ped = self.in_ped(ptr);
        let heap = if in_ped { &self.ped } else { &self.host };
        // SAFETY: `realloc`'s contract gives a valid, non-zero `new_size` for this
        // alignment; the block stays in its own arena: allocated there, copied, freed.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = heap.alloc(new_layout);
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                heap.dealloc(ptr, layout);
            }
            if in_ped {
                self.note_ped_use();
            }
            new
        }
    }
}
