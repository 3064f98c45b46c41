//! The two ways the HSM reaches a PED, as whole frames over a local stream socket.
//!
//! - Local PED-USB: straight to the PED's (emulated) USB endpoint, each 64-byte packet
//!   as `u8 len ‖ packet` (docs/usb.md).
//! - Remote: pedclient's HSM link (protocol §15.2): Connect, then Connected or Closed,
//!   then the channel's frames unchanged (the [`Conductor`](crate::conductor::Conductor)
//!   speaks the link's messages); a Closed from pedclient ends the link.
//!
//! A thread reads each link all the time and hands what comes to the pump as it comes
//! ([`Arrival`]), so a link's end (pedclient's idle timeout, a cut, a PED unplugged) is
//! known when it happens, between commands too.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;

use ped_proto::ErrorCode;
use ped_proto::frame::Frame;
use ped_proto::usb::{StreamDecoder, frame_records};

use crate::conductor::closed;
use crate::console::LinkKind;
use crate::error::HsmError;

/// Why pedclient's HSM link could not be reached, and what to check. Permission denied
/// means pedclient runs but this user may not use its socket: asking whether pedclient
/// runs would send the administrator the wrong way.
fn link_refused(path: &Path, e: &io::Error) -> String {
    let at = path.display();
    if e.kind() == io::ErrorKind::PermissionDenied {
        return format!(
            "permission denied on pedclient's HSM link at {at} ({e}); this user must be in the socket's group \
(pedclient's -hsmlinkgroup, hsmusers under the shipped unit) and able to enter its directory"
        );
    }
    format!("pedclient's HSM link at {at} refused ({e}); is pedclient running?")
}

/// What a link's reader thread hands on.
#[derive(Debug)]
pub enum Arrival {
    /// A whole frame.
    Frame(Vec<u8>),
    /// The link is over, and why; nothing comes after.
    Ended(HsmError),
}

/// Where a reader thread hands its [`Arrival`]s; `false` once nobody listens.
pub type Deliver = Box<dyn FnMut(Arrival) -> bool + Send>;

/// A frame link to a PED. Dropping it closes the connection (and ends its reader).
#[derive(Debug)]
pub struct Transport {
    stream: UnixStream,
    kind: LinkKind,
}

impl Transport {
    /// Opens a link of `kind` at `path`; its reader thread hands what comes to `deliver`.
    pub fn open(kind: LinkKind, path: &Path, deliver: Deliver) -> Result<Self, HsmError> {
        let stream = UnixStream::connect(path).map_err(|e| match kind {
            LinkKind::Local => HsmError::ped(ErrorCode::CkrPedUnplugged),
            LinkKind::Pedclient => HsmError::ped_with(ErrorCode::RcSocketError, link_refused(path, &e)),
        })?;
        let reader = stream.try_clone().map_err(|_| HsmError::ped(ErrorCode::RcSocketError))?;
        let name = match kind {
            LinkKind::Local => "ped-usb",
            LinkKind::Pedclient => "pedclient-link",
        };
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || read(kind, reader, deliver))
            .map_err(|_| HsmError::ped(ErrorCode::RcSocketError))?;
        Ok(Transport { stream, kind })
    }

    /// Sends one whole frame.
    pub fn send(&mut self, frame: &[u8]) -> Result<(), HsmError> {
        let bytes = match self.kind {
            LinkKind::Local => frame_records(frame),
            LinkKind::Pedclient => frame.to_vec(),
        };
        self.stream.write_all(&bytes).map_err(|_| HsmError::ped(ErrorCode::CkrPedUnplugged))
    }
}

impl Drop for Transport {
    /// The reader thread holds a clone of the socket: shutting it down (not just closing
    /// this descriptor) ends the connection for the other end and ends the thread.
    fn drop(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// One link's reader: frames in order, then the link's end.
fn read(kind: LinkKind, mut stream: UnixStream, mut deliver: Deliver) {
    let mut frames = Frames::new(kind);
    let mut chunk = [0u8; 4096];
    let why = 'read: loop {
        loop {
            match frames.next() {
                Ok(Some(frame)) => {
                    // pedclient's Closed ends the link with its code and sentence.
                    if kind == LinkKind::Pedclient
                        && let Some(closed) = closed(&frame)
                    {
                        break 'read closed;
                    }
                    if !deliver(Arrival::Frame(frame)) {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => break 'read e,
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) => {
                break match kind {
                    LinkKind::Local => HsmError::ped(ErrorCode::CkrPedUnplugged),
                    LinkKind::Pedclient => HsmError::ped_with(
                        ErrorCode::CkrPedUnplugged,
                        "pedclient closed the HSM link (was it stopped?); run ped connect again",
                    ),
                };
            }
            Ok(n) => frames.feed(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break HsmError::ped(ErrorCode::CkrPedUnplugged),
        }
    };
    deliver(Arrival::Ended(why));
}

/// Whole frames out of a link's byte stream: USB records, or pedclient's bare frames.
enum Frames {
    Usb(StreamDecoder),
    Pedclient(Vec<u8>),
}

impl Frames {
    fn new(kind: LinkKind) -> Self {
        match kind {
            LinkKind::Local => Frames::Usb(StreamDecoder::new()),
            LinkKind::Pedclient => Frames::Pedclient(Vec::new()),
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        match self {
            Frames::Usb(decoder) => decoder.feed(bytes),
            Frames::Pedclient(buf) => buf.extend_from_slice(bytes),
        }
    }

    fn next(&mut self) -> Result<Option<Vec<u8>>, HsmError> {
        match self {
            Frames::Usb(decoder) => decoder.next_frame().map_err(|_| HsmError::ped(ErrorCode::PedProtocolError)),
            Frames::Pedclient(buf) => match Frame::parse(buf) {
                Err(_) => Err(HsmError::ped(ErrorCode::PedProtocolError)),
                Ok(Some((_, used))) => Ok(Some(buf.drain(..used).collect())),
                Ok(None) => Ok(None),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket this user may not write (root passes any mode, so the refusal the kernel
    /// gives another user is played here), and no socket at all.
    #[test]
    fn permission_denied_says_so_and_what_to_check() {
        let path = Path::new("/run/pedclient/hsmlink.sock");
        let denied = link_refused(path, &io::Error::from_raw_os_error(13));
        assert!(denied.starts_with("permission denied on pedclient's HSM link at /run/pedclient/hsmlink.sock"));
        assert!(denied.contains("-hsmlinkgroup") && denied.contains("hsmusers"), "{denied}");
        assert!(!denied.contains("is pedclient running"), "{denied}");

        let dir = tempfile::tempdir().unwrap();
        let absent = Transport::open(LinkKind::Pedclient, &dir.path().join("hsmlink.sock"), Box::new(|_| true));
        let absent = absent.unwrap_err().detail;
        assert!(absent.ends_with("is pedclient running?"), "{absent}");
    }
}
