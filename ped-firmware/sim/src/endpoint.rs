//! Local stream sockets: the emulated USB endpoint (docs/usb.md) and the control
//! socket. Both listen on a Unix socket or on TCP at a loopback address.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread;

// The driver writes frames with the same encoding the host reads them with.
pub(crate) use ped_proto::usb::frame_records;
use ped_proto::usb::{StreamDecoder, StreamError};

use crate::config::Endpoint;
use crate::driver::Input;

/// One accepted connection.
#[derive(Debug)]
pub enum Stream {
    /// Over a Unix socket.
    Unix(UnixStream),
    /// Over TCP.
    Tcp(TcpStream),
}

impl Stream {
    /// Another handle on the same connection (one thread reads, another writes).
    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
        })
    }

    /// Closes both directions; the reader of the other handle sees the end.
    pub fn shutdown(&self) {
        // Already closed by the peer is as good as closed by us.
        let _ = match self {
            Stream::Unix(s) => s.shutdown(Shutdown::Both),
            Stream::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
        }
    }
}

/// A listening socket.
#[derive(Debug)]
pub enum Listener {
    /// A Unix socket and its path, removed when the listener is dropped.
    Unix(UnixListener, PathBuf),
    /// TCP on loopback.
    Tcp(TcpListener),
}

impl Listener {
    /// Listens at `endpoint`. A Unix socket file left by an earlier run is replaced;
    /// any other file at the path is an error.
    ///
    /// A Unix socket appears at its path only once it listens: it is bound and
    /// listening under a staging name in the same directory, then renamed into place.
    /// Binding at the path itself creates the file a moment before `listen`, and a
    /// client that waits for the file (the test rig, pedserver's `-device socket:`)
    /// and connects in that moment is refused.
    pub fn bind(endpoint: &Endpoint) -> io::Result<Listener> {
        match endpoint {
            Endpoint::Unix(path) => {
                let stale = match fs::symlink_metadata(path) {
                    Ok(m) if !m.file_type().is_socket() => {
                        return Err(io::Error::new(io::ErrorKind::AlreadyExists, "a file that is not a socket"));
                    }
                    found => found.is_ok(),
                };
                let staging = path.with_file_name(format!(".ped-sim-{:x}", std::process::id()));
                // Left only by a crashed run of a process with this pid.
                if fs::symlink_metadata(&staging).is_ok_and(|m| m.file_type().is_socket()) {
                    let _ = fs::remove_file(&staging);
                }
                match UnixListener::bind(&staging) {
                    Ok(listener) => match fs::rename(&staging, path) {
                        Ok(()) => Ok(Listener::Unix(listener, path.clone())),
                        Err(e) => {
                            let _ = fs::remove_file(&staging);
                            Err(e)
                        }
                    },
                    // A path within a few bytes of the socket address limit, with a
                    // name shorter than the staging one: bound in place, as before.
                    Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                        if stale {
                            fs::remove_file(path)?;
                        }
                        Ok(Listener::Unix(UnixListener::bind(path)?, path.clone()))
                    }
                    Err(e) => Err(e),
                }
            }
            Endpoint::Tcp(addr) => Ok(Listener::Tcp(TcpListener::bind(addr)?)),
        }
    }

    /// Where it listens, in the `socket:`/`tcp:` spelling (the real port for port 0).
    pub fn describe(&self) -> String {
        match self {
            Listener::Unix(_, path) => format!("socket:{}", path.display()),
            Listener::Tcp(l) => l.local_addr().map_or_else(|e| format!("tcp:? ({e})"), |a| format!("tcp:{a}")),
        }
    }

    /// The next connection.
    pub fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Unix(l, _) => l.accept().map(|(s, _)| Stream::Unix(s)),
            Listener::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = self {
            // Best effort: a socket file left behind is replaced by the next run.
            let _ = fs::remove_file(path);
        }
    }
}

/// Serves the USB endpoint: one host at a time (a second connection is closed at once,
/// as a second cable cannot be plugged into one PED), its frames sent to the driver.
pub fn spawn_usb(listener: Listener, inputs: Sender<Input>) -> io::Result<()> {
    thread::Builder::new().name("usb-listen".into()).spawn(move || {
        let plugged = Arc::new(AtomicBool::new(false));
        let mut next_id = 0u64;
        loop {
            let Ok(stream) = listener.accept() else { continue };
            if plugged.swap(true, Ordering::SeqCst) {
                stream.shutdown();
                continue;
            }
            next_id += 1;
            let id = next_id;
            let reader = match stream.try_clone() {
                Ok(reader) => reader,
                Err(e) => {
                    eprintln!("ped-sim: usb: {e}");
                    plugged.store(false, Ordering::SeqCst);
                    continue;
                }
            };
            if inputs.send(Input::HostConnected { id, link: stream }).is_err() {
                return;
            }
            let (inputs, plugged) = (inputs.clone(), Arc::clone(&plugged));
            let spawned = thread::Builder::new().name(format!("usb-host-{id}")).spawn(move || {
                read_host(id, reader, &inputs);
                // HostGone is queued before the next host may plug in, so the driver
                // never sees two hosts at once.
                let _ = inputs.send(Input::HostGone { id });
                plugged.store(false, Ordering::SeqCst);
            });
            if let Err(e) = spawned {
                eprintln!("ped-sim: usb: {e}");
            }
        }
    })?;
    Ok(())
}

/// Reads packets until the host goes; whole frames go to the driver.
fn read_host(id: u64, mut stream: Stream, inputs: &Sender<Input>) {
    let mut decoder = StreamDecoder::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        decoder.feed(&buf[..n]);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    if inputs.send(Input::HostFrame { id, frame }).is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                // docs/usb.md: the transfer is refused, the next one starts afresh.
                Err(StreamError::TransferRefused(e)) => eprintln!("ped-sim: usb: transfer refused: {e}"),
                Err(StreamError::NotAnEndpoint(e)) => {
                    eprintln!("ped-sim: usb: not an emulated USB host ({e}); unplugged");
                    stream.shutdown();
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// A client that connects the moment the socket file appears, as the test rig
    /// does, is never refused. Bound in place, 19 of 3000 such connects were refused
    /// on a loaded two-core machine; so many tries make a regression show.
    #[test]
    fn a_unix_socket_appears_only_once_it_listens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl.sock");
        for attempt in 0..1000 {
            let watched = path.clone();
            let watcher = thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(10);
                while !watched.exists() {
                    assert!(Instant::now() < deadline, "the socket never appeared");
                    thread::yield_now();
                }
                UnixStream::connect(&watched).map(drop)
            });
            let listener = Listener::bind(&Endpoint::Unix(path.clone())).unwrap();
            let connected = watcher.join().unwrap();
            assert!(connected.is_ok(), "attempt {attempt}: {connected:?}");
            drop(listener);
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "no staging file is left");
    }

    #[test]
    fn a_stale_socket_is_replaced_and_any_other_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usb.sock");
        // A killed run leaves its socket file behind.
        drop(UnixListener::bind(&path).unwrap());
        let listener = Listener::bind(&Endpoint::Unix(path.clone())).unwrap();
        UnixStream::connect(&path).unwrap();
        assert_eq!(listener.describe(), format!("socket:{}", path.display()));
        drop(listener);
        assert!(!path.exists(), "removed when the listener goes");

        fs::write(&path, "notes").unwrap();
        let refused = Listener::bind(&Endpoint::Unix(path.clone())).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(&path).unwrap(), "notes");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
