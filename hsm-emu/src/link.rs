//! The two ways the HSM reaches a PED, as whole frames over a local stream socket.
//!
//! - Local PED-USB: straight to the PED's (emulated) USB endpoint, each 64-byte packet
//!   as `u8 len ‖ packet` (docs/usb.md).
//! - Remote: pedclient's HSM link (protocol §15.2): Connect, then Connected or Closed,
//!   then the channel's frames unchanged (the [`Conductor`](crate::conductor::Conductor)
//!   speaks the link's messages); a Closed from pedclient ends the link. A thread
//!   reads this link all the time, so its end (pedclient's idle timeout, a cut) is known
//!   when it happens, between commands too ([`Link::ended`]), not at the next command.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use ped_proto::ErrorCode;
use ped_proto::frame::Frame;
use ped_proto::usb::{StreamDecoder, frame_records};

use crate::conductor::closed;
use crate::error::HsmError;

/// A frame link to a PED. Dropping it closes the connection.
#[derive(Debug)]
pub struct Link {
    stream: UnixStream,
    kind: LinkKind,
}

#[derive(Debug)]
enum LinkKind {
    Usb(StreamDecoder),
    /// Frames from pedclient's reader thread; its end once the link is over.
    Pedclient {
        frames: mpsc::Receiver<Vec<u8>>,
        end: Arc<Mutex<Option<HsmError>>>,
    },
}

impl Link {
    /// Plugs into the PED's emulated USB endpoint.
    pub fn usb(path: &Path) -> Result<Self, HsmError> {
        let stream = UnixStream::connect(path).map_err(|_| HsmError::ped(ErrorCode::CkrPedUnplugged))?;
        Ok(Link { stream, kind: LinkKind::Usb(StreamDecoder::new()) })
    }

    /// Opens pedclient's HSM link at `path`; the [`Conductor`](crate::conductor::Conductor)
    /// then sends Connect and waits for Connected.
    pub fn pedclient(path: &Path) -> Result<Self, HsmError> {
        let stream = UnixStream::connect(path).map_err(|e| {
            let mut err = HsmError::ped(ErrorCode::RcSocketError);
            err.detail = format!("pedclient's HSM link at {} refused ({e}); is pedclient running?", path.display());
            err
        })?;
        let reader = stream.try_clone().map_err(|_| HsmError::ped(ErrorCode::RcSocketError))?;
        let (tx, frames) = mpsc::channel();
        let end = Arc::new(Mutex::new(None));
        let ended = Arc::clone(&end);
        std::thread::Builder::new()
            .name("pedclient-link".into())
            .spawn(move || read_pedclient(reader, &tx, &ended))
            .map_err(|_| HsmError::ped(ErrorCode::RcSocketError))?;
        Ok(Link { stream, kind: LinkKind::Pedclient { frames, end } })
    }

    /// Whether this is a Remote PED link.
    pub fn is_remote(&self) -> bool {
        matches!(self.kind, LinkKind::Pedclient { .. })
    }

    /// Why the remote link is over, once it is (pedclient's Closed, or the HSM link cut);
    /// `None` while it is up, and for Local PED-USB. Does not wait.
    pub fn ended(&self) -> Option<HsmError> {
        match &self.kind {
            LinkKind::Pedclient { end, .. } => lock(end).clone(),
            LinkKind::Usb(_) => None,
        }
    }

    /// Sends one whole frame.
    pub fn send(&mut self, frame: &[u8]) -> Result<(), HsmError> {
        let bytes = match self.kind {
            LinkKind::Usb(_) => frame_records(frame),
            LinkKind::Pedclient { .. } => frame.to_vec(),
        };
        self.stream.write_all(&bytes).map_err(|e| self.io_error(&e))
    }

    /// The next whole frame, within `timeout`. From pedclient, a Closed frame ends the
    /// link with its code.
    pub fn recv(&mut self, timeout: Duration) -> Result<Vec<u8>, HsmError> {
        if let LinkKind::Pedclient { frames, end } = &self.kind {
            return match frames.recv_timeout(timeout) {
                Ok(frame) => Ok(frame),
                Err(mpsc::RecvTimeoutError::Timeout) => Err(HsmError::ped(ErrorCode::RcOperationTimedOut)),
                // The reader sets the end before it hangs up.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    Err(lock(end).clone().unwrap_or_else(|| HsmError::ped(ErrorCode::CkrPedUnplugged)))
                }
            };
        }
        self.stream.set_read_timeout(Some(timeout.max(Duration::from_millis(1)))).map_err(|e| self.io_error(&e))?;
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(frame) = self.take_frame()? {
                return Ok(frame);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(HsmError::ped(ErrorCode::CkrPedUnplugged)),
                Ok(n) => {
                    if let LinkKind::Usb(decoder) = &mut self.kind {
                        decoder.feed(&chunk[..n]);
                    }
                }
                Err(e) => return Err(self.io_error(&e)),
            }
        }
    }

    /// A whole frame the PED has already sent, without waiting: between commands the PED
    /// sends only to end its channel (its key holder left the mode), so the HSM looks
    /// before it uses the channel again. `Ok(None)` when nothing waits.
    pub fn pending(&mut self) -> Result<Option<Vec<u8>>, HsmError> {
        if let LinkKind::Pedclient { frames, .. } = &self.kind {
            // A link that ended is reported by `ended`, not here.
            return Ok(frames.try_recv().ok());
        }
        self.stream.set_nonblocking(true).map_err(|e| self.io_error(&e))?;
        let mut chunk = [0u8; 4096];
        let read = loop {
            if let Some(frame) = self.take_frame()? {
                break Ok(Some(frame));
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => break Err(HsmError::ped(ErrorCode::CkrPedUnplugged)),
                Ok(n) => {
                    if let LinkKind::Usb(decoder) = &mut self.kind {
                        decoder.feed(&chunk[..n]);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(None),
                Err(e) => break Err(self.io_error(&e)),
            }
        };
        self.stream.set_nonblocking(false).map_err(|e| self.io_error(&e))?;
        read
    }

    fn take_frame(&mut self) -> Result<Option<Vec<u8>>, HsmError> {
        match &mut self.kind {
            LinkKind::Usb(decoder) => decoder.next_frame().map_err(|_| HsmError::ped(ErrorCode::PedProtocolError)),
            LinkKind::Pedclient { .. } => Ok(None),
        }
    }

    fn io_error(&self, e: &io::Error) -> HsmError {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => HsmError::ped(ErrorCode::RcOperationTimedOut),
            _ => HsmError::ped(ErrorCode::CkrPedUnplugged),
        }
    }
}

impl Drop for Link {
    /// The reader thread holds a clone of the socket: shutting it down (not just closing
    /// this descriptor) ends the connection for pedclient and ends the thread.
    fn drop(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// pedclient's side of the link, read until it ends: frames go to `frames` in order;
/// then its end goes to `end` (a Closed's code and message, or the socket's end), set
/// before `frames` hangs up so a waiting [`Link::recv`] finds it.
fn read_pedclient(mut stream: UnixStream, frames: &mpsc::Sender<Vec<u8>>, end: &Mutex<Option<HsmError>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let why = loop {
        match Frame::parse(&buf) {
            Err(_) => break HsmError::ped(ErrorCode::PedProtocolError),
            Ok(Some((_, used))) => {
                let frame: Vec<u8> = buf.drain(..used).collect();
                if let Some(closed) = closed(&frame) {
                    break closed;
                }
                if frames.send(frame).is_err() {
                    return; // The link was dropped.
                }
                continue;
            }
            Ok(None) => {}
        }
        match stream.read(&mut chunk) {
            Ok(0) => {
                let mut e = HsmError::ped(ErrorCode::CkrPedUnplugged);
                e.detail = "pedclient closed the HSM link (was it stopped?); run ped connect again".into();
                break e;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break HsmError::ped(ErrorCode::CkrPedUnplugged),
        }
    };
    *lock(end) = Some(why);
}

/// The end is plain data, usable after a panic elsewhere.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
