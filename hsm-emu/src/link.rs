//! The two ways the HSM reaches a PED, as whole frames over a local stream socket.
//!
//! - Local PED-USB: straight to the PED's (emulated) USB endpoint, each 64-byte packet
//!   as `u8 len ‖ packet` (docs/usb.md).
//! - Remote: pedclient's HSM link (protocol §15.2): Connect, then Connected or Closed,
//!   then the channel's frames unchanged; a Closed from pedclient ends the link.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use ped_proto::ErrorCode;
use ped_proto::frame::{Frame, FrameType};
use ped_proto::hsm_link::HsmLinkMessage;
use ped_proto::usb::{Reassembler, SocketPacketReader, packets, socket_record};

use crate::error::HsmError;

/// A frame link to a PED.
#[derive(Debug)]
pub struct Link {
    stream: UnixStream,
    kind: LinkKind,
    buf: Vec<u8>,
}

#[derive(Debug)]
enum LinkKind {
    Usb { records: SocketPacketReader, transfer: Reassembler },
    Pedclient,
}

impl Link {
    /// Plugs into the PED's emulated USB endpoint.
    pub fn usb(path: &Path) -> Result<Self, HsmError> {
        let stream = UnixStream::connect(path).map_err(|_| HsmError::ped(ErrorCode::CkrPedUnplugged))?;
        Ok(Link {
            stream,
            kind: LinkKind::Usb { records: SocketPacketReader::new(), transfer: Reassembler::new() },
            buf: Vec::new(),
        })
    }

    /// Asks pedclient (at `path`) to reach pedserver `host:port`; returns the link and
    /// the PED's firmware version once pedclient says Connected.
    pub fn pedclient(
        path: &Path,
        serial: &str,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<(Self, String), HsmError> {
        let stream = UnixStream::connect(path).map_err(|e| {
            let mut err = HsmError::ped(ErrorCode::RcSocketError);
            err.detail = format!("pedclient's HSM link at {} refused ({e}); is pedclient running?", path.display());
            err
        })?;
        let mut link = Link { stream, kind: LinkKind::Pedclient, buf: Vec::new() };
        let connect = HsmLinkMessage::Connect { hsm_serial: serial.into(), host: host.into(), port };
        link.send(&connect.encode()?)?;
        let frame = link.recv(timeout)?;
        match HsmLinkMessage::decode(Frame::decode_exact(&frame).map_err(ped_proto::Error::from)?)? {
            HsmLinkMessage::Connected { firmware_version } => Ok((link, firmware_version)),
            _ => Err(HsmError::ped(ErrorCode::PedProtocolError)),
        }
    }

    /// Whether this is a Remote PED link.
    pub fn is_remote(&self) -> bool {
        matches!(self.kind, LinkKind::Pedclient)
    }

    /// Sends one whole frame.
    pub fn send(&mut self, frame: &[u8]) -> Result<(), HsmError> {
        let bytes = match self.kind {
            LinkKind::Usb { .. } => packets(frame).flat_map(socket_record).collect(),
            LinkKind::Pedclient => frame.to_vec(),
        };
        self.stream.write_all(&bytes).map_err(|e| self.io_error(&e))
    }

    /// The next whole frame, within `timeout`. From pedclient, a Closed frame ends the
    /// link with its code.
    pub fn recv(&mut self, timeout: Duration) -> Result<Vec<u8>, HsmError> {
        self.stream.set_read_timeout(Some(timeout.max(Duration::from_millis(1)))).map_err(|e| self.io_error(&e))?;
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(frame) = self.take_frame()? {
                if let Ok(parsed) = Frame::decode_exact(&frame)
                    && parsed.frame_type == FrameType::LinkClosed
                    && self.is_remote()
                {
                    return Err(match HsmLinkMessage::decode(parsed)? {
                        HsmLinkMessage::Closed { code, message } => HsmError {
                            code: crate::error::Code::Ped(
                                ErrorCode::from_value(code).unwrap_or(ErrorCode::CkrPedUnplugged),
                            ),
                            detail: if message.is_empty() { "the remote PED link closed".into() } else { message },
                        },
                        _ => HsmError::ped(ErrorCode::PedProtocolError),
                    });
                }
                return Ok(frame);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(HsmError::ped(ErrorCode::CkrPedUnplugged)),
                Ok(n) => match &mut self.kind {
                    LinkKind::Usb { records, .. } => records.extend(&chunk[..n]),
                    LinkKind::Pedclient => self.buf.extend_from_slice(&chunk[..n]),
                },
                Err(e) => return Err(self.io_error(&e)),
            }
        }
    }

    /// Tells pedclient to end the remote link (`ped disconnect`); best effort.
    pub fn disconnect(mut self) {
        if self.is_remote()
            && let Ok(frame) = HsmLinkMessage::Disconnect.encode()
        {
            let _ = self.stream.write_all(&frame);
        }
    }

    fn take_frame(&mut self) -> Result<Option<Vec<u8>>, HsmError> {
        let protocol = |_| HsmError::ped(ErrorCode::PedProtocolError);
        match &mut self.kind {
            LinkKind::Usb { records, transfer } => {
                while let Some(packet) = records.next_packet().map_err(protocol)? {
                    if let Some(frame) = transfer.push(&packet).map_err(protocol)? {
                        return Ok(Some(frame));
                    }
                }
                Ok(None)
            }
            LinkKind::Pedclient => match Frame::parse(&self.buf).map_err(protocol)? {
                Some((_, used)) => {
                    let frame = self.buf[..used].to_vec();
                    self.buf.drain(..used);
                    Ok(Some(frame))
                }
                None => Ok(None),
            },
        }
    }

    fn io_error(&self, e: &io::Error) -> HsmError {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => HsmError::ped(ErrorCode::RcOperationTimedOut),
            _ => HsmError::ped(ErrorCode::CkrPedUnplugged),
        }
    }
}
