//! `ped-image`: a stand-in for the PED's firmware image, built only to measure its
//! flash and static RAM until the board image (mcu/ped-board) reports its own. It links
//! the whole ped-firmware core the way a PED does: one `Ped`, every event kind fed from
//! a link the compiler cannot see through (UART0's data register, read volatile), every
//! effect carried out to it, a 64 KiB heap, the update slots, a vendor key and a
//! trusted root read at start-up, so no flow of the core can be optimised away. Its
//! link encoding is a minimal one of its own (not docs/usb.md's): the board's USB and
//! peripheral links add their codecs on top of this. It is not meant to be run.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use core::mem::MaybeUninit;
use core::panic::PanicInfo;

use cortex_m_rt::entry;
use embedded_alloc::LlffHeap;
use ped_firmware::hal::{InsertedKey, KeyContent, KeyPortError, KeySerial};
use ped_firmware::io::{Button, Effect, Event};
use ped_firmware::update::image::VendorKey;
use ped_firmware::update::slots::MemorySlots;
use ped_firmware::{Ped, PedConfig};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const HEAP_SIZE: usize = 64 * 1024;

#[global_allocator]
static HEAP: LlffHeap = LlffHeap::empty();

/// CMSDK APB UART0 of mps2-an386: data and state registers.
const UART_DATA: *mut u32 = 0x4000_4000 as *mut u32;
const UART_STATE: *const u32 = 0x4000_4004 as *const u32;

fn read_byte() -> u8 {
    // SAFETY: UART0's registers on mps2-an386 are always mapped; reading them has no
    // effect beyond the UART's own (taking a received byte).
    unsafe {
        while core::ptr::read_volatile(UART_STATE) & 2 == 0 {}
        core::ptr::read_volatile(UART_DATA) as u8
    }
}

fn write_byte(b: u8) {
    // SAFETY: as in `read_byte`; writing the data register sends a byte.
    unsafe {
        while core::ptr::read_volatile(UART_STATE) & 1 != 0 {}
        core::ptr::write_volatile(UART_DATA, u32::from(b));
    }
}

fn read_u32() -> u32 {
    u32::from_le_bytes([read_byte(), read_byte(), read_byte(), read_byte()])
}

fn read_bytes() -> Vec<u8> {
    let len = (read_u32() & 0xffff) as usize;
    (0..len).map(|_| read_byte()).collect()
}

fn write_bytes(tag: u8, bytes: &[u8]) {
    write_byte(tag);
    (bytes.len() as u32).to_le_bytes().into_iter().for_each(write_byte);
    bytes.iter().copied().for_each(write_byte);
}

#[entry]
fn main() -> ! {
    {
        static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: once, before any allocation; HEAP_MEM is named nowhere else.
        unsafe { HEAP.init(&raw mut HEAP_MEM as usize, HEAP_SIZE) }
    }
    let serial: alloc::string::String = read_bytes().into_iter().map(char::from).collect();
    let mut config = PedConfig::new(&serial, "7.8.0", read_bytes());
    config.vendor_key = VendorKey::from_sec1(&read_bytes()).ok();
    let slots = MemorySlots::new(read_u32() as usize);
    let mut seed = [0u8; 32];
    seed.iter_mut().for_each(|b| *b = read_byte());
    // A stand-in for the board's TRNG: never for production.
    let mut rng = ChaCha20Rng::from_seed(seed);
    let mut ped = Ped::with_flash(config, Some(slots));
    let mut pending = Vec::new();
    loop {
        let event = pending.pop().unwrap_or_else(|| match read_byte() {
            0 => Event::PowerOn,
            1 => Event::Pressed(match read_byte() {
                d @ 0..=9 => Button::Digit(d),
                10 => Button::Clear,
                11 => Button::Back,
                12 => Button::Log,
                13 => Button::Yes,
                14 => Button::No,
                _ => Button::Enter,
            }),
            2 => Event::ClearHeld,
            3 => Event::KeyInserted(InsertedKey { serial: KeySerial(u64::from(read_u32())), capacity: 8192 }),
            4 => Event::KeyRemoved,
            5 => Event::HostFrame(read_bytes()),
            6 => Event::HostDisconnected,
            7 => Event::KeyRead(match read_byte() {
                0 => Ok(None),
                1 => Ok(Some(KeyContent::from(read_bytes()))),
                _ => Err(KeyPortError::NoKey),
            }),
            8 => Event::KeyWritten(if read_byte() == 0 { Ok(()) } else { Err(KeyPortError::NoKey) }),
            _ => Event::Tick { monotonic_ms: u64::from(read_u32()), unix_seconds: u64::from(read_u32()) },
        });
        for effect in ped.handle(event, &mut rng) {
            match effect {
                Effect::Draw(screen) => {
                    for line in screen.text_lines() {
                        write_bytes(1, line.as_bytes());
                    }
                }
                Effect::SendFrame(frame) => write_bytes(2, &frame),
                Effect::ReadKey => write_byte(3),
                Effect::WriteKey(content) => write_bytes(4, &content),
                Effect::EraseKey => write_byte(5),
            }
        }
        if pending.is_empty() && read_byte() == 0xff {
            pending.push(Event::HostDisconnected);
        }
    }
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    cortex_m::interrupt::disable();
    loop {
        cortex_m::asm::wfi();
    }
}
