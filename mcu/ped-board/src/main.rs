//! `ped-board`: the PED's firmware image on QEMU's `mps2-an386` (a Cortex-M4F).
//!
//! The unchanged `ped_firmware::Ped` core on `ped_firmware::Board`, the effect loop
//! that ped-sim and the tests drive too: the USB link is UART1 (the emulated endpoint's
//! packet stream of docs/usb.md), the display, keypad and key port are UART2 (the
//! peripheral link of docs/board.md), the debug console is UART0. SysTick is the
//! millisecond clock, a fixed 64 KiB heap the memory, a fixed-seed ChaCha20 the
//! (QEMU-only) RNG. All of the unsafe code the PED needs is in this crate.
#![no_std]
#![no_main]

extern crate alloc;

mod clock;
mod heap;
mod link;
mod rng;
mod stack;
mod uart;

use alloc::vec::Vec;
use core::fmt::Write as _;
use core::mem::MaybeUninit;
use core::num::NonZeroU32;
use core::panic::PanicInfo;
use core::ptr::{read_volatile, write_volatile};

use cortex_m::peripheral::NVIC;
use cortex_m_rt::{ExceptionFrame, entry, exception};
use ped_firmware::board::Output;
use ped_firmware::io::Event;
use ped_firmware::peripheral_link::{self, BootReason, ToBoard, ToHost};
use ped_firmware::screen::Screen;
use ped_firmware::{Board, Ped, PedConfig};
use ped_proto::device::PedMode;
use ped_proto::usb::{Reassembler, SocketPacketReader, packets};

use crate::clock::Monotonic;
use crate::heap::{CountingHeap, HEAP_SIZE};
use crate::link::{PERIPHERALS, PeripheralLink};
use crate::rng::QemuDeterministicRng;
use crate::uart::Uart;

#[global_allocator]
static HEAP: CountingHeap = CountingHeap::empty();

const DEBUG: Uart = Uart::at(uart::UART0);
const USB: Uart = Uart::at(uart::UART1);
/// Main-loop passes without input before the core sleeps until an interrupt.
const SPIN_BEFORE_SLEEP: u32 = 2_000;

/// Block RAM (16 KiB at 0x0100_0000), unused by the image: QEMU keeps its content across
/// a system reset (only the image's own segments are reloaded), so it carries why the
/// board restarted. A board port uses a backup register or a no-init RAM word.
const RESET_REASON: *mut u32 = 0x0100_0000 as *mut u32;
const RESTARTED_OUT_OF_MEMORY: u32 = 0x00AA_0E0E;

/// The screen shown after a restart for heap exhaustion, until a key is pressed.
const OUT_OF_MEMORY: [&str; 5] = ["Out of memory.", "", "The PED restarted.", "", "Press a key."];

#[entry]
fn main() -> ! {
    stack::paint();
    {
        static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: called once, first thing after painting, before any allocation;
        // HEAP_MEM is named nowhere else, so the allocator owns those bytes for good.
        unsafe { HEAP.init(&raw mut HEAP_MEM as usize, HEAP_SIZE) }
    }
    let Some(core) = cortex_m::Peripherals::take() else { halt("core peripherals already taken") };
    for uart in [DEBUG, USB, PERIPHERALS] {
        uart.enable();
    }
    for irq in uart::RX_IRQS {
        // SAFETY: the UART receive interrupts only wake the core; DefaultHandler
        // acknowledges them and touches no state the main loop holds, so unmasking them
        // breaks no critical section.
        unsafe { NVIC::unmask(Irq(irq)) };
    }
    // SAFETY: read and cleared once at start-up, before anything else uses block RAM
    // (nothing else does); the address is RAM on mps2-an386.
    let reason = unsafe {
        let word = read_volatile(RESET_REASON);
        write_volatile(RESET_REASON, 0);
        word
    };
    let reason = if reason == RESTARTED_OUT_OF_MEMORY { BootReason::OutOfMemory } else { BootReason::PowerOn };
    // Keep the SYST handle alive in `clock`; the rest of the core peripherals are unused.
    clock::start(core.SYST);
    let _ = writeln!(
        debug(),
        "ped-board: up ({reason:?}); heap {HEAP_SIZE} bytes; UART1 USB link, UART2 peripheral link; \
         send 's' for heap_peak_bytes/stack_peak_bytes"
    );
    Device::new(reason).run()
}

/// The debug console, for `writeln!`.
fn debug() -> Uart {
    DEBUG
}

/// The interrupt number of a UART's receive interrupt.
#[derive(Clone, Copy)]
struct Irq(u16);

// SAFETY: `number` returns the IRQ number it was built with, one of the board's
// external interrupts (0, 2, 4), below the 240 that cortex-m-rt's vector table holds.
unsafe impl cortex_m::interrupt::InterruptNumber for Irq {
    fn number(self) -> u16 {
        self.0
    }
}

/// Every external interrupt: the UART receive interrupts, which only wake the core from
/// `wfi`; the main loop reads the bytes.
#[exception]
unsafe fn DefaultHandler(_irqn: i16) {
    for base in [uart::UART0, uart::UART1, uart::UART2] {
        Uart::at(base).clear_rx_interrupt();
    }
}

/// The image: the core on its [`Board`] once provisioned, the RNG and clock, the USB
/// link, and what the peripheral host has been told.
struct Device {
    /// The core once provisioned; its key port is the peripheral link.
    board: Option<Board<PeripheralLink>>,
    /// The peripheral link until provisioning hands it to the board.
    link: PeripheralLink,
    rng: QemuDeterministicRng,
    clock: Monotonic,
    /// The wall clock at provisioning, and the monotonic time then.
    unix_at: (u64, u64),
    usb_records: SocketPacketReader,
    usb_transfer: Reassembler,
    usb_seen: bool,
    status: Option<(PedMode, bool)>,
    /// "Out of memory." is shown over the core's screen until a key is pressed.
    out_of_memory_shown: bool,
    reason: BootReason,
}

impl Device {
    fn new(reason: BootReason) -> Device {
        Device {
            board: None,
            link: PeripheralLink::default(),
            rng: QemuDeterministicRng::new(),
            clock: Monotonic::default(),
            unix_at: (0, 0),
            usb_records: SocketPacketReader::new(),
            usb_transfer: Reassembler::new(),
            usb_seen: false,
            status: None,
            out_of_memory_shown: false,
            reason,
        }
    }

    fn run(mut self) -> ! {
        link::send(&ToHost::Booted(self.reason));
        let mut idle = 0u32;
        loop {
            let mut busy = false;
            if let Some(byte) = DEBUG.try_read() {
                busy = true;
                debug_command(byte);
            }
            while let Some(message) = self.link().next_message() {
                busy = true;
                self.message(message);
            }
            // Until it is provisioned the board leaves the USB bytes in the socket.
            if self.board.is_some() {
                while let Some(byte) = USB.try_read() {
                    busy = true;
                    self.usb_byte(byte);
                }
            }
            // The core is ticked when it asks (and before each input, in `feed`).
            let now = self.clock.now_ms();
            if self.board.as_ref().and_then(|b| b.poll_timeout()).is_some_and(|due| now >= due) {
                self.tick();
            }
            if busy {
                idle = 0;
            } else if idle < SPIN_BEFORE_SLEEP {
                idle += 1;
            } else {
                // With interrupts masked, a byte that arrives between the check and
                // `wfi` still wakes it (the interrupt pends); SysTick wakes it each ms.
                let usb = self.board.is_some();
                let held = self.link().holds_messages();
                cortex_m::interrupt::free(|_| {
                    if !(held || DEBUG.has_byte() || PERIPHERALS.has_byte() || (usb && USB.has_byte())) {
                        cortex_m::asm::wfi();
                    }
                });
            }
        }
    }

    fn link(&mut self) -> &mut PeripheralLink {
        match &mut self.board {
            Some(board) => board.port_mut(),
            None => &mut self.link,
        }
    }

    #[inline(never)]
    fn message(&mut self, message: ToBoard) {
        let seq = match message {
            ToBoard::Provision(provision) => return self.provision(&provision),
            ToBoard::Press { seq, button } => {
                if self.out_of_memory_shown {
                    // The key that clears the notice does nothing else, as the core's own
                    // notices.
                    self.out_of_memory_shown = false;
                    if let Some(board) = &self.board {
                        link::send(&ToHost::Draw(board.ped().screen().clone()));
                    }
                } else {
                    self.feed(Event::Pressed(button));
                }
                seq
            }
            ToBoard::ClearHeld { seq } => {
                self.feed(Event::ClearHeld);
                seq
            }
            ToBoard::KeyInserted { seq, key } => {
                self.feed(Event::KeyInserted(key));
                seq
            }
            ToBoard::KeyRemoved { seq } => {
                self.feed(Event::KeyRemoved);
                seq
            }
            ToBoard::KeyRead(_) | ToBoard::KeyWritten(_) => {
                let _ = writeln!(debug(), "ped-board: a key-port answer nobody asked for, ignored");
                return;
            }
        };
        link::send(&ToHost::Done { seq });
    }

    fn provision(&mut self, provision: &peripheral_link::Provision) {
        if let Some(board) = &self.board {
            // A host that (re)connected: show it the PED as it is.
            let screen =
                if self.out_of_memory_shown { Screen::new(&OUT_OF_MEMORY) } else { board.ped().screen().clone() };
            link::send(&ToHost::Draw(screen));
            self.status = None;
            self.send_status();
            return;
        }
        let mut config = PedConfig::new(&provision.serial, &provision.firmware_version, provision.trusted_root.clone());
        config.key_timeout_ms = provision.key_timeout_ms;
        config.pin_iterations = NonZeroU32::new(provision.pin_iterations).unwrap_or(config.pin_iterations);
        let now = self.clock.now_ms();
        self.unix_at = (provision.unix_seconds, now);
        self.board = Some(Board::new(Ped::new(config), core::mem::take(&mut self.link)));
        let _ = writeln!(debug(), "ped-board: provisioned as {}", provision.serial);
        self.carry_out(Event::PowerOn);
        self.tick();
        if self.reason == BootReason::OutOfMemory {
            self.out_of_memory_shown = true;
            link::send(&ToHost::Draw(Screen::new(&OUT_OF_MEMORY)));
        }
    }

    /// One byte of the USB link; a whole frame goes to the core.
    fn usb_byte(&mut self, byte: u8) {
        self.usb_records.extend(&[byte]);
        loop {
            match self.usb_records.next_packet() {
                Ok(Some(packet)) => match self.usb_transfer.push(&packet) {
                    Ok(Some(frame)) => {
                        self.usb_seen = true;
                        self.feed(Event::HostFrame(frame));
                    }
                    Ok(None) => {}
                    // docs/usb.md: the transfer is refused, the next one starts afresh.
                    Err(e) => {
                        let _ = writeln!(debug(), "ped-board: usb: transfer refused: {e:?}");
                    }
                },
                Ok(None) => return,
                Err(e) => {
                    // A UART cannot be unplugged: forget the partial record and go on.
                    let _ = writeln!(debug(), "ped-board: usb: not an emulated USB host ({e:?}); resynchronising");
                    self.usb_records = SocketPacketReader::new();
                    self.usb_transfer = Reassembler::new();
                    return;
                }
            }
        }
    }

    /// Gives the core the time: the monotonic clock, and the wall clock as Provision's
    /// plus the time since.
    fn tick(&mut self) {
        let now = self.clock.now_ms();
        let unix_seconds = self.unix_at.0 + now.saturating_sub(self.unix_at.1) / 1000;
        self.carry_out(Event::Tick { monotonic_ms: now, unix_seconds });
    }

    /// Feeds one input, after a tick: what it starts (the PED-key action timeout)
    /// counts from now.
    fn feed(&mut self, event: Event) {
        self.tick();
        self.carry_out(event);
    }

    /// Feeds one event through the board (whose key port asks the host and waits),
    /// then draws and sends what it output.
    fn carry_out(&mut self, event: Event) {
        let Some(board) = &mut self.board else { return };
        board.handle(event, &mut self.rng);
        while let Some(output) = board.poll_output() {
            match output {
                Output::Draw(screen) => {
                    self.out_of_memory_shown = false;
                    link::send(&ToHost::Draw(screen));
                }
                Output::SendFrame(frame) => send_usb(&frame),
            }
        }
        self.send_status();
    }

    fn send_status(&mut self) {
        let Some(board) = &self.board else { return };
        let now = (board.ped().mode(), self.usb_seen);
        if self.status != Some(now) {
            self.status = Some(now);
            link::send(&ToHost::Status { mode: now.0, usb: now.1 });
        }
    }
}

/// A frame to the host as the emulated endpoint's records: `u8 length ‖ packet`.
fn send_usb(frame: &[u8]) {
    for packet in packets(frame) {
        USB.write_all(&[packet.len() as u8]);
        USB.write_all(packet);
    }
}

/// The debug console's commands: `s` prints the figures; `m` exhausts the heap on
/// purpose (to check that the PED restarts and says "Out of memory."); `p` panics (to
/// check that the host sees the PED vanish). The console is the board's debug UART:
/// whoever reaches it has the board in hand anyway.
fn debug_command(byte: u8) {
    let mut out = DEBUG;
    match byte {
        b's' => {
            let _ = writeln!(out, "heap_used_bytes {}", HEAP.used());
            let _ = writeln!(out, "heap_peak_bytes {}", HEAP.peak());
            let _ = writeln!(out, "stack_peak_bytes {}", stack::peak());
        }
        b'm' => {
            let _ = writeln!(out, "ped-board: exhausting the heap on request");
            let mut hog: Vec<Vec<u8>> = Vec::new();
            loop {
                let mut block = Vec::new();
                block.resize(4096, 0xA5u8);
                hog.push(block);
            }
        }
        b'p' => panic!("a panic requested on the debug console"),
        b'\r' | b'\n' => {}
        other => {
            let _ = writeln!(
                out,
                "ped-board: unknown command {:?}: s (figures), m (exhaust the heap), p (panic)",
                other as char
            );
        }
    }
}

/// Formats into a fixed buffer, cutting what does not fit: the panic path allocates
/// nothing.
struct Fixed<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> core::fmt::Write for Fixed<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(N - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    cortex_m::interrupt::disable();
    let mut debug = DEBUG;
    if HEAP.exhausted() {
        // Heap exhaustion: say so on the display, then restart. A no_std allocation
        // failure cannot be returned to the core (its Vecs abort), so the PED survives
        // it the way a device does: a reset, with the reason kept in block RAM.
        let _ = writeln!(debug, "ped-board: out of memory ({info}); restarting");
        peripheral_link::write_draw(&OUT_OF_MEMORY, |b| PERIPHERALS.write_all(b));
        // SAFETY: block RAM is unused by the image; the word survives the reset below.
        unsafe { write_volatile(RESET_REASON, RESTARTED_OUT_OF_MEMORY) };
        cortex_m::peripheral::SCB::sys_reset();
    }
    let _ = writeln!(debug, "ped-board: PANIC: {info}");
    let mut reason = Fixed::<200> { buf: [0; 200], len: 0 };
    let _ = write!(reason, "{info}");
    peripheral_link::write_frame(0x88, &[&reason.buf[..reason.len]], |b| PERIPHERALS.write_all(b));
    halt("panicked")
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    let _ = writeln!(debug(), "ped-board: HARD FAULT at pc {:#010x}", frame.pc());
    halt("hard fault")
}

/// Stops the board for good, saying why on the debug console ([`ped_mcu_rt::stop`]: the
/// host sees the PED's sockets close).
fn halt(why: &str) -> ! {
    let _ = writeln!(debug(), "ped-board: halted: {why}");
    ped_mcu_rt::stop()
}
