//! The CMSDK APB UART of the MPS2 board (ARM DDI0479C; QEMU `hw/char/cmsdk-apb-uart.c`):
//! one receive byte, one transmit byte, polled, with the receive interrupt only to wake
//! the core from `wfi`.

use core::fmt;
use core::ptr::{read_volatile, write_volatile};

const DATA: usize = 0x00;
const STATE: usize = 0x04;
const CTRL: usize = 0x08;
const INTSTATUS: usize = 0x0C;
const BAUDDIV: usize = 0x10;

const STATE_TXFULL: u32 = 1 << 0;
const STATE_RXFULL: u32 = 1 << 1;
const CTRL_TX_EN: u32 = 1 << 0;
const CTRL_RX_EN: u32 = 1 << 1;
const CTRL_RX_INTEN: u32 = 1 << 3;
const INT_RX: u32 = 1 << 1;

/// The board's 25 MHz peripheral clock over 115200 baud. QEMU does not pace the line;
/// it only requires a divider of at least 16.
const BAUDDIV_115200: u32 = 25_000_000 / 115_200;

/// UART0: the debug console.
pub const UART0: usize = 0x4000_4000;
/// UART1: the USB link.
pub const UART1: usize = 0x4000_5000;
/// UART2: the peripheral link.
pub const UART2: usize = 0x4000_6000;
/// Their receive IRQ numbers (`hw/arm/mps2.c`: RX 0, 2, 4; TX one more).
pub const RX_IRQS: [u16; 3] = [0, 2, 4];

/// One UART, by its base address.
#[derive(Clone, Copy, Debug)]
pub struct Uart {
    base: usize,
}

impl Uart {
    /// UART at `base`, which must be one of [`UART0`], [`UART1`], [`UART2`].
    pub const fn at(base: usize) -> Uart {
        Uart { base }
    }

    fn read(self, offset: usize) -> u32 {
        // SAFETY: `base` is one of the three CMSDK UARTs of the mps2-an386 memory map
        // (constructors take only the constants above) and `offset` one of its 32-bit,
        // word-aligned registers; device memory, read with a volatile access.
        unsafe { read_volatile((self.base + offset) as *const u32) }
    }

    fn write(self, offset: usize, value: u32) {
        // SAFETY: as in `read`: a register of a UART of this board's memory map.
        unsafe { write_volatile((self.base + offset) as *mut u32, value) }
    }

    /// Sets the divider, enables both directions and the receive interrupt.
    pub fn enable(self) {
        self.write(BAUDDIV, BAUDDIV_115200);
        self.write(CTRL, CTRL_TX_EN | CTRL_RX_EN | CTRL_RX_INTEN);
    }

    /// A received byte, if one waits.
    pub fn try_read(self) -> Option<u8> {
        if self.read(STATE) & STATE_RXFULL == 0 {
            return None;
        }
        Some(self.read(DATA) as u8)
    }

    /// Whether a received byte waits.
    pub fn has_byte(self) -> bool {
        self.read(STATE) & STATE_RXFULL != 0
    }

    /// Sends bytes, waiting for the transmit buffer each time.
    pub fn write_all(self, bytes: &[u8]) {
        for &b in bytes {
            while self.read(STATE) & STATE_TXFULL != 0 {}
            self.write(DATA, u32::from(b));
        }
    }

    /// Acknowledges the receive interrupt (the byte stays in DATA for the main loop).
    pub fn clear_rx_interrupt(self) {
        self.write(INTSTATUS, INT_RX);
    }
}

impl fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_all(s.as_bytes());
        Ok(())
    }
}
