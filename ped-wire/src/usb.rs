//! How link frames cross USB between a host and a PED, and how the emulated USB
//! endpoint carries the same packets over a local socket (docs/usb.md).
//!
//! One frame is one bulk transfer: full-speed packets of [`PACKET_LEN`] bytes, ended
//! by a short packet — a zero-length one when the frame is a multiple of
//! [`PACKET_LEN`]. The emulated endpoint sends each packet as `u8 length ‖ bytes`, so a
//! socket carries exactly what the wire would, packet boundaries included.

use alloc::vec::Vec;

use crate::DecodeError;
use crate::frame::{FrameHeader, HEADER_LEN, MAX_BODY_LEN};

/// Bulk packet size of a full-speed USB device.
pub const PACKET_LEN: usize = 64;
/// The USB vendor id this firmware enumerates with (pid.codes' open-source vendor).
pub const VENDOR_ID: u16 = 0x1209;
/// The USB product id (pid.codes' test range; a production PED would register its own).
pub const PRODUCT_ID: u16 = 0x0001;
/// Bulk OUT endpoint (host → PED).
pub const ENDPOINT_OUT: u8 = 0x01;
/// Bulk IN endpoint (PED → host).
pub const ENDPOINT_IN: u8 = 0x81;

/// The packets of one frame's bulk transfer, the final short (possibly empty) packet
/// included.
pub fn packets(frame: &[u8]) -> impl Iterator<Item = &[u8]> {
    let full = frame.len() / PACKET_LEN;
    (0..=full).map(move |i| &frame[i * PACKET_LEN..frame.len().min((i + 1) * PACKET_LEN)])
}

/// Rebuilds frames from received packets. The frame header is checked as soon as its
/// eight bytes are in, so an oversized or foreign transfer is refused before its body
/// is buffered.
#[derive(Debug, Default)]
pub struct Reassembler {
    buf: Vec<u8>,
    expected: Option<usize>,
}

impl Reassembler {
    /// An empty reassembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one packet; returns a whole frame when the transfer ends. On an error the
    /// partial transfer is dropped and the next packet starts a new one.
    pub fn push(&mut self, packet: &[u8]) -> Result<Option<Vec<u8>>, DecodeError> {
        let result = self.take(packet);
        if !matches!(result, Ok(None)) {
            self.buf.clear();
            self.expected = None;
        }
        result
    }

    fn take(&mut self, packet: &[u8]) -> Result<Option<Vec<u8>>, DecodeError> {
        if packet.len() > PACKET_LEN {
            return Err(DecodeError::TooLong { field: "usb packet", max: PACKET_LEN });
        }
        self.buf.extend_from_slice(packet);
        if self.expected.is_none()
            && let Some(header) = self.buf.first_chunk::<HEADER_LEN>()
        {
            self.expected = Some(HEADER_LEN + FrameHeader::decode(header)?.body_len);
        }
        if self.buf.len() > HEADER_LEN + MAX_BODY_LEN || self.expected.is_some_and(|n| self.buf.len() > n) {
            return Err(DecodeError::TrailingBytes);
        }
        if packet.len() == PACKET_LEN {
            return Ok(None);
        }
        match self.expected {
            Some(n) if n == self.buf.len() => {
                self.expected = None;
                Ok(Some(core::mem::take(&mut self.buf)))
            }
            _ => Err(DecodeError::Truncated("usb transfer")),
        }
    }
}

/// One packet as the emulated endpoint sends it: `u8 length ‖ bytes`.
pub fn socket_record(packet: &[u8]) -> Vec<u8> {
    assert!(packet.len() <= PACKET_LEN, "a USB packet is at most 64 bytes");
    let mut out = Vec::with_capacity(1 + packet.len());
    out.push(packet.len() as u8);
    out.extend_from_slice(packet);
    out
}

/// Splits the emulated endpoint's byte stream back into packets.
#[derive(Debug, Default)]
pub struct SocketPacketReader {
    buf: Vec<u8>,
}

impl SocketPacketReader {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes read from the socket.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole packet, if one has arrived. A length byte above 64 means the peer
    /// is not an emulated PED endpoint; the connection should be dropped.
    pub fn next_packet(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        let Some(&len) = self.buf.first() else { return Ok(None) };
        let len = usize::from(len);
        if len > PACKET_LEN {
            return Err(DecodeError::TooLong { field: "usb packet", max: PACKET_LEN });
        }
        if self.buf.len() < 1 + len {
            return Ok(None);
        }
        let packet = self.buf[1..1 + len].to_vec();
        self.buf.drain(..1 + len);
        Ok(Some(packet))
    }
}

/// One frame as the emulated endpoint's byte stream carries it: its packets, each as a
/// [`socket_record`].
pub fn frame_records(frame: &[u8]) -> Vec<u8> {
    packets(frame).flat_map(socket_record).collect()
}

/// What went wrong in the emulated endpoint's byte stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// The peer does not speak the emulated endpoint's records (a length byte above the
    /// packet size): drop the connection.
    NotAnEndpoint(DecodeError),
    /// One transfer was refused (a foreign or oversized frame header); it is dropped and
    /// the next packet starts a new transfer (docs/usb.md).
    TransferRefused(DecodeError),
}

/// Frames out of the emulated endpoint's byte stream: records, then packets, then the
/// bulk transfers that are frames. Every reader of that stream (the PED simulator, the
/// HSM's Local PED-USB, the test rigs' fake PEDs) decodes it through this one type.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    records: SocketPacketReader,
    transfer: Reassembler,
}

impl StreamDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes read from the stream.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.records.extend(bytes);
    }

    /// The next whole frame, if its last packet has arrived. After
    /// [`StreamError::TransferRefused`] the caller may call again; after
    /// [`StreamError::NotAnEndpoint`] the stream is beyond repair.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, StreamError> {
        while let Some(packet) = self.records.next_packet().map_err(StreamError::NotAnEndpoint)? {
            if let Some(frame) = self.transfer.push(&packet).map_err(StreamError::TransferRefused)? {
                return Ok(Some(frame));
            }
        }
        Ok(None)
    }
}
