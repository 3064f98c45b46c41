//! The peripheral link (UART2, docs/board.md): the host's keypad and key-port messages
//! in, the display and key-port requests out. It is also the PED's key port: a key-port
//! operation sends its request and waits for the host's answer, keeping the messages
//! that arrive meanwhile for the main loop.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt::Write as _;

use ped_firmware::hal::{InsertedKey, KeyContent, KeyPort, KeyPortError};
use ped_firmware::peripheral_link::{Decoder, ToBoard, ToHost};

use crate::uart::{self, Uart};
use crate::{clock, debug};

/// The peripheral link's UART.
pub const PERIPHERALS: Uart = Uart::at(uart::UART2);

/// How long a key-port operation waits for the host's answer.
const KEY_PORT_TIMEOUT_MS: u32 = 10_000;

/// The decoder of the link and what it holds back.
#[derive(Debug, Default)]
pub struct PeripheralLink {
    decoder: Decoder,
    /// Messages that arrived while a key-port operation waited for its answer.
    queued: VecDeque<ToBoard>,
    /// The key the host last said is in the port.
    inserted: Option<InsertedKey>,
}

impl PeripheralLink {
    /// The next message from the host: those held back first, then the UART's. `None`
    /// once the received bytes are used up (a message may be half read).
    pub fn next_message(&mut self) -> Option<ToBoard> {
        let message = match self.queued.pop_front() {
            Some(message) => message,
            None => loop {
                if let Some(message) = self.byte(PERIPHERALS.try_read()?) {
                    break message;
                }
            },
        };
        match &message {
            ToBoard::KeyInserted { key, .. } => self.inserted = Some(*key),
            ToBoard::KeyRemoved { .. } => self.inserted = None,
            _ => {}
        }
        Some(message)
    }

    /// Whether messages are held back (a key-port operation since the last
    /// [`next_message`](Self::next_message) that returned `None`).
    pub fn holds_messages(&self) -> bool {
        !self.queued.is_empty()
    }

    /// One byte of the link; a whole message when one ends.
    fn byte(&mut self, byte: u8) -> Option<ToBoard> {
        let decoded = self.decoder.push(byte)?.and_then(|raw| ToBoard::decode(&raw));
        decoded.map_err(|e| writeln!(debug(), "ped-board: peripheral link: {e}")).ok()
    }

    /// Sends `request` and waits for the host's KeyRead (`read`) or KeyWritten; other
    /// messages are held back.
    fn ask(&mut self, request: &ToHost, read: bool) -> Option<ToBoard> {
        send(request);
        let start = clock::millis32();
        while clock::millis32().wrapping_sub(start) < KEY_PORT_TIMEOUT_MS {
            let Some(byte) = PERIPHERALS.try_read() else { continue };
            match self.byte(byte) {
                Some(answer @ ToBoard::KeyRead(_)) if read => return Some(answer),
                Some(answer @ ToBoard::KeyWritten(_)) if !read => return Some(answer),
                Some(other) => self.queued.push_back(other),
                None => {}
            }
        }
        let _ = writeln!(debug(), "ped-board: the key port did not answer in {KEY_PORT_TIMEOUT_MS} ms");
        None
    }

    fn written(&mut self, request: &ToHost) -> Result<(), KeyPortError> {
        match self.ask(request, false) {
            Some(ToBoard::KeyWritten(result)) => result,
            _ => Err(KeyPortError::WriteFailed),
        }
    }
}

impl KeyPort for PeripheralLink {
    fn inserted(&mut self) -> Result<Option<InsertedKey>, KeyPortError> {
        Ok(self.inserted)
    }

    fn read(&mut self) -> Result<Option<KeyContent>, KeyPortError> {
        match self.ask(&ToHost::ReadKey, true) {
            Some(ToBoard::KeyRead(result)) => result,
            _ => Err(KeyPortError::ReadFailed),
        }
    }

    fn write(&mut self, payload: &[u8]) -> Result<(), KeyPortError> {
        self.written(&ToHost::WriteKey(KeyContent::from(Vec::from(payload))))
    }

    fn erase(&mut self) -> Result<(), KeyPortError> {
        self.written(&ToHost::EraseKey)
    }
}

/// Sends one message to the host.
pub fn send(message: &ToHost) {
    PERIPHERALS.write_all(&message.encode());
}
