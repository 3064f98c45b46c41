//! The board's peripheral link: the framed byte protocol between a PED board (its
//! firmware, `mcu/ped-board`) and the host program that plays its peripherals (the
//! display, the keypad and the PED-key port: `ped-sim --board`). On QEMU's `mps2-an386`
//! it runs over a CMSDK UART; docs/board.md has it byte by byte.
//!
//! ```text
//! frame = 0xA5 ‖ type u8 ‖ len u16 BE ‖ body[len] ‖ crc u16 BE
//! crc   = CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over type ‖ len ‖ body
//! ```
//!
//! [`Decoder`] is total: any byte stream yields frames or typed errors, never a panic,
//! and it never holds more than [`MAX_BODY`] + 6 bytes. A byte that cannot start a frame
//! is skipped, so the stream resynchronises after garbage or a peer that restarted
//! mid-frame. Messages that carry PED-key content are wiped on drop.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use ped_proto::device::PedMode;
use zeroize::{Zeroize, Zeroizing};

use crate::hal::{InsertedKey, KeyContent, KeyPortError, KeySerial};
use crate::io::Button;
use crate::screen::{LINES, Screen};

/// The first byte of every frame.
pub const SYNC: u8 = 0xA5;
/// The largest body a frame may carry.
pub const MAX_BODY: usize = 9216;
/// Bytes of a frame around its body: sync, type, length, CRC.
pub const OVERHEAD: usize = 6;

/// Why a frame or a message was refused. The stream goes on after each of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// The length field exceeds [`MAX_BODY`]; the frame's sync byte is skipped.
    TooLong(u16),
    /// The CRC does not match; the frame is dropped.
    BadCrc,
    /// A frame type this side does not take.
    UnknownType(u8),
    /// The body does not decode as its type says (too short, too long, a bad value).
    BadBody(u8),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::TooLong(n) => write!(f, "frame body of {n} bytes exceeds {MAX_BODY}"),
            LinkError::BadCrc => f.write_str("frame CRC mismatch"),
            LinkError::UnknownType(t) => write!(f, "unknown frame type 0x{t:02x}"),
            LinkError::BadBody(t) => write!(f, "malformed body of frame type 0x{t:02x}"),
        }
    }
}

impl core::error::Error for LinkError {}

/// CRC-16/CCITT-FALSE, fed piecewise.
#[derive(Clone, Copy, Debug)]
pub struct Crc16(u16);

impl Default for Crc16 {
    fn default() -> Self {
        Crc16(0xFFFF)
    }
}

impl Crc16 {
    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u16::from(b) << 8;
            for _ in 0..8 {
                self.0 = if self.0 & 0x8000 != 0 { (self.0 << 1) ^ 0x1021 } else { self.0 << 1 };
            }
        }
    }

    /// The CRC so far.
    pub fn value(self) -> u16 {
        self.0
    }
}

/// Writes one frame of `kind` whose body is the concatenation of `parts`, byte by byte
/// into `out`, without allocating (the board's panic handler uses it). Returns `false`,
/// writing nothing, if the body exceeds [`MAX_BODY`].
pub fn write_frame(kind: u8, parts: &[&[u8]], mut out: impl FnMut(&[u8])) -> bool {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let Ok(len16) = u16::try_from(len) else { return false };
    if len > MAX_BODY {
        return false;
    }
    let head = [kind, (len16 >> 8) as u8, len16 as u8];
    let mut crc = Crc16::default();
    crc.update(&head);
    out(&[SYNC]);
    out(&head);
    for part in parts {
        crc.update(part);
        out(part);
    }
    out(&crc.value().to_be_bytes());
    true
}

fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + OVERHEAD);
    write_frame(kind, &[body], |b| out.extend_from_slice(b));
    out
}

/// Splits a byte stream into frames: `(type, body)`. The body is wiped when dropped.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Zeroizing<Vec<u8>>,
}

/// One raw frame: its type and body.
#[derive(Debug, PartialEq, Eq)]
pub struct RawFrame {
    /// The frame type.
    pub kind: u8,
    /// The body, wiped on drop.
    pub body: Zeroizing<Vec<u8>>,
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one byte; returns a frame or an error when one ends. Skipped bytes before a
    /// sync byte are not reported.
    pub fn push(&mut self, byte: u8) -> Option<Result<RawFrame, LinkError>> {
        if self.buf.is_empty() && byte != SYNC {
            return None;
        }
        self.buf.push(byte);
        if self.buf.len() < 4 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]]));
        if len > MAX_BODY {
            self.buf.clear();
            return Some(Err(LinkError::TooLong(len as u16)));
        }
        if self.buf.len() == 4 {
            // One allocation of the frame's size: no doubling on a board's small heap.
            self.buf.reserve_exact(len + OVERHEAD - 4);
        }
        if self.buf.len() < len + OVERHEAD {
            return None;
        }
        let mut crc = Crc16::default();
        crc.update(&self.buf[1..4 + len]);
        let got = u16::from_be_bytes([self.buf[4 + len], self.buf[5 + len]]);
        let kind = self.buf[1];
        let result = if crc.value() == got {
            Ok(RawFrame { kind, body: Zeroizing::new(self.buf[4..4 + len].to_vec()) })
        } else {
            Err(LinkError::BadCrc)
        };
        self.buf.clear();
        Some(result)
    }

    /// Whether part of a frame is buffered.
    pub fn in_frame(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Forgets a partial frame (the peer went away).
    pub fn reset(&mut self) {
        self.buf.clear();
    }
}

/// What a board is given at power-on in place of a factory configuration: on QEMU the
/// peripheral host provisions it (docs/board.md, "Provisioning").
#[derive(Clone, PartialEq, Eq)]
pub struct Provision {
    /// The wall clock now, Unix seconds.
    pub unix_seconds: u64,
    /// The PED-key action timeout.
    pub key_timeout_ms: u64,
    /// PBKDF2 iterations of the PIN binding.
    pub pin_iterations: u32,
    /// The PED's serial (1..=32 printable ASCII bytes in the handshake).
    pub serial: String,
    /// The firmware version shown.
    pub firmware_version: String,
    /// The DER root certificate every HSM chain must end in.
    pub trusted_root: Vec<u8>,
}

impl fmt::Debug for Provision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provision")
            .field("unix_seconds", &self.unix_seconds)
            .field("key_timeout_ms", &self.key_timeout_ms)
            .field("pin_iterations", &self.pin_iterations)
            .field("serial", &self.serial)
            .field("firmware_version", &self.firmware_version)
            .field("trusted_root", &format_args!("<{} bytes>", self.trusted_root.len()))
            .finish()
    }
}

/// From the peripheral host to the board. Events carry a `seq` that the board echoes in
/// [`ToHost::Done`] once the PED has handled the event and every key-port operation it
/// caused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToBoard {
    /// 0x01: the board's configuration (answered with the current screen if the board
    /// already runs).
    Provision(Provision),
    /// 0x02: a keypad key.
    Press {
        /// Echoed in Done.
        seq: u16,
        /// The key.
        button: Button,
    },
    /// 0x03: Clear held five seconds.
    ClearHeld {
        /// Echoed in Done.
        seq: u16,
    },
    /// 0x04: a key was put in the port.
    KeyInserted {
        /// Echoed in Done.
        seq: u16,
        /// What the port says about it.
        key: InsertedKey,
    },
    /// 0x05: the port is empty.
    KeyRemoved {
        /// Echoed in Done.
        seq: u16,
    },
    /// 0x06: the answer to [`ToHost::ReadKey`].
    KeyRead(Result<Option<KeyContent>, KeyPortError>),
    /// 0x07: the answer to [`ToHost::WriteKey`] or [`ToHost::EraseKey`].
    KeyWritten(Result<(), KeyPortError>),
}

/// Why the board (re)started, in [`ToHost::Booted`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootReason {
    /// Power-on or reset.
    PowerOn,
    /// The board restarted itself after its heap ran out.
    OutOfMemory,
}

/// From the board to the peripheral host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToHost {
    /// 0x81: the board started and waits for [`ToBoard::Provision`].
    Booted(BootReason),
    /// 0x82: show this screen.
    Draw(Screen),
    /// 0x83: the PED's mode, and whether a USB host has sent a frame since boot (a UART
    /// has no plug signal).
    Status {
        /// The mode.
        mode: PedMode,
        /// A frame arrived on the USB link since boot.
        usb: bool,
    },
    /// 0x84: read the key in the port; answer [`ToBoard::KeyRead`].
    ReadKey,
    /// 0x85: write this payload; answer [`ToBoard::KeyWritten`].
    WriteKey(KeyContent),
    /// 0x86: make the key blank; answer [`ToBoard::KeyWritten`].
    EraseKey,
    /// 0x87: the event `seq` is handled.
    Done {
        /// The event's seq.
        seq: u16,
    },
    /// 0x88: the board stopped: the reason (a panic message).
    Halted(String),
}

const BUTTONS: [(Button, u8); 6] = [
    (Button::Clear, 0x10),
    (Button::Back, 0x11),
    (Button::Log, 0x12),
    (Button::Yes, 0x13),
    (Button::No, 0x14),
    (Button::Enter, 0x15),
];

fn button_byte(button: Button) -> u8 {
    match button {
        Button::Digit(d) => d.min(9),
        other => BUTTONS.iter().find(|(b, _)| *b == other).map_or(0xFF, |(_, v)| *v),
    }
}

fn button_of(byte: u8) -> Option<Button> {
    match byte {
        0..=9 => Some(Button::Digit(byte)),
        _ => BUTTONS.iter().find(|(_, v)| *v == byte).map(|(b, _)| *b),
    }
}

/// The mode's byte on the link (the same values as the Info message's).
pub fn mode_byte(mode: PedMode) -> u8 {
    match mode {
        PedMode::SelectMode => 0,
        PedMode::LocalUsb => 1,
        PedMode::Remote => 2,
        PedMode::Admin => 3,
        PedMode::LocalScp => 4,
    }
}

fn mode_of(byte: u8) -> Option<PedMode> {
    Some(match byte {
        0 => PedMode::SelectMode,
        1 => PedMode::LocalUsb,
        2 => PedMode::Remote,
        3 => PedMode::Admin,
        4 => PedMode::LocalScp,
        _ => return None,
    })
}

fn port_error(error: KeyPortError, out: &mut Vec<u8>) {
    match error {
        KeyPortError::NoKey => out.push(0x10),
        KeyPortError::ReadFailed => out.push(0x11),
        KeyPortError::WriteFailed => out.push(0x12),
        KeyPortError::TooLarge { capacity } => {
            out.push(0x13);
            out.extend_from_slice(&u32::try_from(capacity).unwrap_or(u32::MAX).to_be_bytes());
        }
        // Busy and any later kind.
        _ => out.push(0x14),
    }
}

/// A cursor over a body; every read is checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes)
    }
    fn str8(&mut self) -> Option<String> {
        let n = usize::from(self.u8()?);
        core::str::from_utf8(self.take(n)?).ok().map(String::from)
    }
    fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.0)
    }
    fn end(&self) -> Option<()> {
        self.0.is_empty().then_some(())
    }
    fn port_error(&mut self, status: u8) -> Option<KeyPortError> {
        Some(match status {
            0x10 => KeyPortError::NoKey,
            0x11 => KeyPortError::ReadFailed,
            0x12 => KeyPortError::WriteFailed,
            0x13 => KeyPortError::TooLarge { capacity: usize::try_from(self.u32()?).ok()? },
            0x14 => KeyPortError::Busy,
            _ => return None,
        })
    }
}

fn push_str8(out: &mut Vec<u8>, s: &str) {
    // Strings are cut to 255 bytes at a character boundary.
    let mut end = s.len().min(255);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.push(end as u8);
    out.extend_from_slice(&s.as_bytes()[..end]);
}

impl ToBoard {
    /// The frame of this message. Bodies are built in a buffer that is wiped on drop.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Zeroizing::new(Vec::new());
        let kind = match self {
            ToBoard::Provision(p) => {
                body.extend_from_slice(&p.unix_seconds.to_be_bytes());
                body.extend_from_slice(&p.key_timeout_ms.to_be_bytes());
                body.extend_from_slice(&p.pin_iterations.to_be_bytes());
                push_str8(&mut body, &p.serial);
                push_str8(&mut body, &p.firmware_version);
                body.extend_from_slice(&p.trusted_root);
                0x01
            }
            ToBoard::Press { seq, button } => {
                body.extend_from_slice(&seq.to_be_bytes());
                body.push(button_byte(*button));
                0x02
            }
            ToBoard::ClearHeld { seq } => {
                body.extend_from_slice(&seq.to_be_bytes());
                0x03
            }
            ToBoard::KeyInserted { seq, key } => {
                body.extend_from_slice(&seq.to_be_bytes());
                body.extend_from_slice(&key.serial.0.to_be_bytes());
                body.extend_from_slice(&u32::try_from(key.capacity).unwrap_or(u32::MAX).to_be_bytes());
                0x04
            }
            ToBoard::KeyRemoved { seq } => {
                body.extend_from_slice(&seq.to_be_bytes());
                0x05
            }
            ToBoard::KeyRead(result) => {
                match result {
                    Ok(Some(content)) => {
                        body.push(0x00);
                        body.extend_from_slice(content.as_bytes());
                    }
                    Ok(None) => body.push(0x01),
                    Err(e) => port_error(*e, &mut body),
                }
                0x06
            }
            ToBoard::KeyWritten(result) => {
                match result {
                    Ok(()) => body.push(0x00),
                    Err(e) => port_error(*e, &mut body),
                }
                0x07
            }
        };
        frame(kind, &body)
    }

    /// The message of a frame.
    pub fn decode(raw: &RawFrame) -> Result<ToBoard, LinkError> {
        let kind = raw.kind;
        let mut r = Reader(&raw.body);
        let bad = LinkError::BadBody(kind);
        let message = match kind {
            0x01 => {
                let unix_seconds = r.u64().ok_or(bad)?;
                let key_timeout_ms = r.u64().ok_or(bad)?;
                let pin_iterations = r.u32().filter(|&n| n > 0).ok_or(bad)?;
                let serial = r.str8().ok_or(bad)?;
                let firmware_version = r.str8().ok_or(bad)?;
                let trusted_root = r.rest().to_vec();
                ToBoard::Provision(Provision {
                    unix_seconds,
                    key_timeout_ms,
                    pin_iterations,
                    serial,
                    firmware_version,
                    trusted_root,
                })
            }
            0x02 => {
                let seq = r.u16().ok_or(bad)?;
                let button = r.u8().and_then(button_of).ok_or(bad)?;
                ToBoard::Press { seq, button }
            }
            0x03 => ToBoard::ClearHeld { seq: r.u16().ok_or(bad)? },
            0x04 => {
                let seq = r.u16().ok_or(bad)?;
                let serial = KeySerial(r.u64().ok_or(bad)?);
                let capacity = r.u32().and_then(|c| usize::try_from(c).ok()).ok_or(bad)?;
                ToBoard::KeyInserted { seq, key: InsertedKey { serial, capacity } }
            }
            0x05 => ToBoard::KeyRemoved { seq: r.u16().ok_or(bad)? },
            0x06 => {
                let status = r.u8().ok_or(bad)?;
                ToBoard::KeyRead(match status {
                    0x00 => Ok(Some(KeyContent::from(r.rest().to_vec()))),
                    0x01 => Ok(None),
                    s => Err(r.port_error(s).ok_or(bad)?),
                })
            }
            0x07 => {
                let status = r.u8().ok_or(bad)?;
                ToBoard::KeyWritten(match status {
                    0x00 => Ok(()),
                    s => Err(r.port_error(s).ok_or(bad)?),
                })
            }
            other => return Err(LinkError::UnknownType(other)),
        };
        r.end().ok_or(bad)?;
        Ok(message)
    }
}

/// Writes the frame of a [`ToHost::Draw`] of `lines` (at most [`LINES`]; missing ones
/// are blank) byte by byte into `out`, without allocating: the board's panic handler
/// draws "Out of memory." with it.
pub fn write_draw(lines: &[&str], mut out: impl FnMut(&[u8])) {
    let mut lens = [0u8; LINES];
    let mut texts: [&[u8]; LINES] = [&[]; LINES];
    for (i, line) in lines.iter().take(LINES).enumerate() {
        let mut end = line.len().min(255);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        lens[i] = end as u8;
        texts[i] = &line.as_bytes()[..end];
    }
    let mut parts: [&[u8]; 2 * LINES] = [&[]; 2 * LINES];
    for i in 0..LINES {
        parts[2 * i] = core::slice::from_ref(&lens[i]);
        parts[2 * i + 1] = texts[i];
    }
    write_frame(0x82, &parts, &mut out);
}

impl ToHost {
    /// The frame of this message.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Zeroizing::new(Vec::new());
        let kind = match self {
            ToHost::Booted(reason) => {
                body.push(match reason {
                    BootReason::PowerOn => 0,
                    BootReason::OutOfMemory => 1,
                });
                0x81
            }
            ToHost::Draw(screen) => {
                let lines: Vec<&str> = screen.lines().iter().map(String::as_str).collect();
                let mut out = Vec::new();
                write_draw(&lines, |b| out.extend_from_slice(b));
                return out;
            }
            ToHost::Status { mode, usb } => {
                body.push(mode_byte(*mode));
                body.push(u8::from(*usb));
                0x83
            }
            ToHost::ReadKey => 0x84,
            ToHost::WriteKey(content) => {
                body.extend_from_slice(content.as_bytes());
                0x85
            }
            ToHost::EraseKey => 0x86,
            ToHost::Done { seq } => {
                body.extend_from_slice(&seq.to_be_bytes());
                0x87
            }
            ToHost::Halted(reason) => {
                body.extend_from_slice(reason.as_bytes());
                0x88
            }
        };
        frame(kind, &body)
    }

    /// The message of a frame.
    pub fn decode(raw: &RawFrame) -> Result<ToHost, LinkError> {
        let kind = raw.kind;
        let mut r = Reader(&raw.body);
        let bad = LinkError::BadBody(kind);
        let message = match kind {
            0x81 => ToHost::Booted(match r.u8().ok_or(bad)? {
                0 => BootReason::PowerOn,
                1 => BootReason::OutOfMemory,
                _ => return Err(bad),
            }),
            0x82 => {
                let mut lines: [String; LINES] = Default::default();
                for line in &mut lines {
                    *line = r.str8().ok_or(bad)?;
                }
                ToHost::Draw(Screen::new(&lines))
            }
            0x83 => {
                let mode = r.u8().and_then(mode_of).ok_or(bad)?;
                let usb = match r.u8().ok_or(bad)? {
                    0 => false,
                    1 => true,
                    _ => return Err(bad),
                };
                ToHost::Status { mode, usb }
            }
            0x84 => ToHost::ReadKey,
            0x85 => ToHost::WriteKey(KeyContent::from(r.rest().to_vec())),
            0x86 => ToHost::EraseKey,
            0x87 => ToHost::Done { seq: r.u16().ok_or(bad)? },
            0x88 => ToHost::Halted(String::from_utf8_lossy(r.rest()).into_owned()),
            other => return Err(LinkError::UnknownType(other)),
        };
        r.end().ok_or(bad)?;
        Ok(message)
    }
}

impl Drop for Provision {
    fn drop(&mut self) {
        // Not a secret, but the board's heap is small and shared: nothing lingers.
        self.trusted_root.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use proptest::prelude::*;

    use super::*;

    fn decode_all(bytes: &[u8]) -> Vec<Result<RawFrame, LinkError>> {
        let mut d = Decoder::new();
        bytes.iter().filter_map(|&b| d.push(b)).collect()
    }

    fn samples_to_board() -> Vec<ToBoard> {
        vec![
            ToBoard::Provision(Provision {
                unix_seconds: 1_790_000_000,
                key_timeout_ms: 60_000,
                pin_iterations: 600,
                serial: "REMOTE".into(),
                firmware_version: "2.9.0-1".into(),
                trusted_root: vec![0x30, 0x82, 1, 2, 3],
            }),
            ToBoard::Press { seq: 7, button: Button::Digit(9) },
            ToBoard::Press { seq: 8, button: Button::Enter },
            ToBoard::ClearHeld { seq: 9 },
            ToBoard::KeyInserted { seq: 10, key: InsertedKey { serial: KeySerial(1001), capacity: 8192 } },
            ToBoard::KeyRemoved { seq: 11 },
            ToBoard::KeyRead(Ok(Some(KeyContent::from(vec![1, 2, 3])))),
            ToBoard::KeyRead(Ok(None)),
            ToBoard::KeyRead(Err(KeyPortError::TooLarge { capacity: 77 })),
            ToBoard::KeyWritten(Ok(())),
            ToBoard::KeyWritten(Err(KeyPortError::Busy)),
        ]
    }

    fn samples_to_host() -> Vec<ToHost> {
        vec![
            ToHost::Booted(BootReason::OutOfMemory),
            ToHost::Draw(Screen::new(&["Out of memory.", "", "Press a key."])),
            ToHost::Status { mode: PedMode::Remote, usb: true },
            ToHost::ReadKey,
            ToHost::WriteKey(KeyContent::from(vec![9; 300])),
            ToHost::EraseKey,
            ToHost::Done { seq: 65535 },
            ToHost::Halted("panicked at src/main.rs:1:1".into()),
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for m in samples_to_board() {
            let frames = decode_all(&m.encode());
            assert_eq!(frames.len(), 1);
            assert_eq!(ToBoard::decode(frames[0].as_ref().unwrap()).unwrap(), m);
        }
        for m in samples_to_host() {
            let frames = decode_all(&m.encode());
            assert_eq!(ToHost::decode(frames[0].as_ref().unwrap()).unwrap(), m);
        }
    }

    #[test]
    fn exact_bytes_of_a_press_and_a_draw() {
        let press = ToBoard::Press { seq: 0x0102, button: Button::Enter }.encode();
        let mut crc = Crc16::default();
        crc.update(&[0x02, 0x00, 0x03, 0x01, 0x02, 0x15]);
        let mut want = vec![0xA5, 0x02, 0x00, 0x03, 0x01, 0x02, 0x15];
        want.extend_from_slice(&crc.value().to_be_bytes());
        assert_eq!(press, want);
        // The check value of CRC-16/CCITT-FALSE.
        let mut check = Crc16::default();
        check.update(b"123456789");
        assert_eq!(check.value(), 0x29B1);
        let draw = ToHost::Draw(Screen::new(&["AB"])).encode();
        assert_eq!(&draw[..8], &[0xA5, 0x82, 0x00, 0x0A, 0x02, b'A', b'B', 0x00]);
        assert_eq!(draw.len(), OVERHEAD + 10);
    }

    #[test]
    fn garbage_is_skipped_and_errors_are_typed() {
        let good = ToHost::Done { seq: 1 }.encode();
        let mut stream = vec![0x00, 0xFF, 0x13];
        stream.extend_from_slice(&good);
        let mut corrupted = good.clone();
        corrupted[5] ^= 1;
        stream.extend_from_slice(&corrupted);
        stream.extend_from_slice(&[SYNC, 0x82, 0xFF, 0xFF]);
        stream.extend_from_slice(&good);
        let frames = decode_all(&stream);
        assert_eq!(frames.len(), 4);
        assert!(frames[0].is_ok());
        assert_eq!(frames[1], Err(LinkError::BadCrc));
        assert_eq!(frames[2], Err(LinkError::TooLong(0xFFFF)));
        assert!(frames[3].is_ok());
        let raw = RawFrame { kind: 0x02, body: Zeroizing::new(vec![0, 1, 0x77]) };
        assert_eq!(ToBoard::decode(&raw), Err(LinkError::BadBody(0x02)));
        let raw = RawFrame { kind: 0x87, body: Zeroizing::new(vec![0, 1, 2]) };
        assert_eq!(ToHost::decode(&raw), Err(LinkError::BadBody(0x87)));
        let raw = RawFrame { kind: 0x42, body: Zeroizing::new(vec![]) };
        assert_eq!(ToBoard::decode(&raw), Err(LinkError::UnknownType(0x42)));
    }

    proptest! {
        /// Any byte string: no panic, bounded buffering, and every frame that comes out
        /// decodes to a message or a typed error on either side.
        #[test]
        fn the_decoder_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let mut d = Decoder::new();
            for &b in &bytes {
                if let Some(Ok(raw)) = d.push(b) {
                    let _ = ToBoard::decode(&raw);
                    let _ = ToHost::decode(&raw);
                }
                prop_assert!(d.buf.len() <= MAX_BODY + OVERHEAD);
            }
        }

        /// Any body under any type byte decodes or is refused; a decoded message encodes
        /// back to a frame that decodes to itself.
        #[test]
        fn bodies_decode_or_are_refused(kind in any::<u8>(), body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let raw = RawFrame { kind, body: Zeroizing::new(body) };
            if let Ok(m) = ToBoard::decode(&raw) {
                let again = decode_all(&m.encode());
                prop_assert_eq!(ToBoard::decode(again[0].as_ref().unwrap()).unwrap(), m);
            }
            if let Ok(m) = ToHost::decode(&raw) {
                let again = decode_all(&m.encode());
                prop_assert_eq!(ToHost::decode(again[0].as_ref().unwrap()).unwrap(), m);
            }
        }

        /// A valid frame after arbitrary garbage is still found, unless the garbage ends
        /// inside what looks like a frame header claiming more bytes.
        #[test]
        fn frames_after_garbage_are_found(garbage in proptest::collection::vec(any::<u8>().prop_filter("no sync", |b| *b != SYNC), 0..64), seq in any::<u16>()) {
            let mut stream = garbage;
            stream.extend_from_slice(&ToHost::Done { seq }.encode());
            let frames = decode_all(&stream);
            prop_assert_eq!(frames.len(), 1);
            prop_assert_eq!(ToHost::decode(frames[0].as_ref().unwrap()).unwrap(), ToHost::Done { seq });
        }
    }
}
