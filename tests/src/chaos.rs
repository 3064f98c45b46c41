//! A chaos proxy for the pedclient ↔ pedserver TCP link: it relays and records every
//! byte like the recorder, and a test switches a [`Fault`] on and off while it runs.
//!
//! The proxy reads whole link frames (8-byte header, then the body), so that a fault
//! hits one frame of the HSM's channel and not an arbitrary TCP segment. Each fault acts
//! in one [`Direction`], on the channel's Record frames (type `10`): relay control
//! (hellos, pings, status) passes untouched and does not use a fault up. Only what a
//! socket shows is here (end of stream, half-close, a stall); the faults inside the
//! stream (truncated, corrupted, replayed, reordered frames) are the in-memory net's
//! taps (ped-testkit's `wire`).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The link frame type of an end-to-end Record.
const RECORD: u8 = 0x10;

/// Which way the faulted frames travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// pedserver → pedclient: the PED's answers, on their way to the HSM.
    ToHsm,
    /// pedclient → pedserver: the HSM's hellos and commands, on their way to the PED.
    ToPed,
}

/// What the proxy does to the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Relays every frame as it comes.
    Pass,
    /// Cuts the connection, both directions, as the next Record going this way reaches
    /// the proxy; that Record is lost with it. (TCP cannot lose one frame and carry on:
    /// a lost frame is a cut link.)
    Drop(Direction),
    /// Sends the next Record's header and never its body, nor anything after it this
    /// way: a started frame that never completes, until the receiving daemon's
    /// `socketreadtimeout` gives up on it and closes the connection (the proxy then
    /// closes the other side too).
    Stall(Direction),
    /// Ends this direction at the next Record (its receiver reads end of stream) while
    /// the other direction stays open.
    HalfClose(Direction),
}

impl Fault {
    /// The direction it acts in (none for [`Fault::Pass`]).
    pub fn direction(self) -> Option<Direction> {
        match self {
            Fault::Pass => None,
            Fault::Drop(d) | Fault::Stall(d) | Fault::HalfClose(d) => Some(d),
        }
    }
}

/// Every stream recorded so far, one per connection and direction.
type Streams = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

/// A running chaos proxy; its accept thread ends with the test process.
#[derive(Debug, Clone)]
pub struct Chaos {
    fault: Arc<Mutex<Fault>>,
    streams: Streams,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Chaos {
    /// A proxy on an OS-chosen loopback port relaying to `upstream`, faultless; returns
    /// it and its port.
    pub fn tcp(upstream: u16) -> (Chaos, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        let chaos = Chaos { fault: Arc::new(Mutex::new(Fault::Pass)), streams: Streams::default() };
        let c = chaos.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                match TcpStream::connect(("127.0.0.1", upstream)) {
                    Ok(server) => c.relay(client, server),
                    // Nothing listens upstream: the client sees a closed connection.
                    Err(_) => drop(client.shutdown(Shutdown::Both)),
                }
            }
        });
        (chaos, port)
    }

    /// Switches `fault` on, replacing the one before ([`Fault::Pass`] clears it).
    pub fn set(&self, fault: Fault) {
        *lock(&self.fault) = fault;
    }

    fn relay(&self, client: TcpStream, server: TcpStream) {
        // Frames go out as header then body: with Nagle's algorithm on, the body would
        // wait for the peer's delayed ACK of the header (~40 ms per frame on Linux), a
        // delay the daemons themselves avoid with TCP_NODELAY.
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let handles = [client.try_clone(), server.try_clone(), server.try_clone(), client.try_clone()];
        let [Ok(c_in), Ok(s_out), Ok(s_in), Ok(c_out)] = handles else {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            return;
        };
        for (from, to, direction) in [(c_in, s_out, Direction::ToPed), (s_in, c_out, Direction::ToHsm)] {
            let record = Arc::new(Mutex::new(Vec::new()));
            lock(&self.streams).push(record.clone());
            let fault = self.fault.clone();
            std::thread::spawn(move || pump(from, to, &record, &fault, direction));
        }
    }

    /// Everything recorded so far (as received, before any fault), one buffer per
    /// connection and direction.
    pub fn streams(&self) -> Vec<Vec<u8>> {
        lock(&self.streams).iter().map(|s| lock(s).clone()).collect()
    }

    /// How many bytes were recorded in all.
    pub fn total(&self) -> usize {
        self.streams().iter().map(Vec::len).sum()
    }
}

/// One link frame as read: its 8 header bytes and its body.
struct Frame {
    header: [u8; 8],
    body: Vec<u8>,
}

impl Frame {
    fn read(from: &mut TcpStream) -> Option<Frame> {
        let mut header = [0u8; 8];
        from.read_exact(&mut header).ok()?;
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let mut body = vec![0u8; usize::try_from(len).ok()?];
        from.read_exact(&mut body).ok()?;
        Some(Frame { header, body })
    }

    fn write(&self, to: &mut TcpStream) -> std::io::Result<()> {
        to.write_all(&self.header)?;
        to.write_all(&self.body)
    }
}

/// Copies frames `from` → `to` (going `direction`), recording, with the fault applied
/// when it acts this way; when either side ends, closes both so that the other
/// direction ends too.
fn pump(mut from: TcpStream, mut to: TcpStream, record: &Mutex<Vec<u8>>, fault: &Mutex<Fault>, direction: Direction) {
    while let Some(frame) = Frame::read(&mut from) {
        {
            let mut r = lock(record);
            r.extend_from_slice(&frame.header);
            r.extend_from_slice(&frame.body);
        }
        let now = match *lock(fault) {
            f if f.direction() == Some(direction) && frame.header[3] == RECORD => f,
            _ => Fault::Pass,
        };
        let sent = match now {
            Fault::Pass => frame.write(&mut to),
            Fault::Drop(_) => break,
            Fault::Stall(_) => {
                let _ = to.write_all(&frame.header);
                stall(&mut from, record);
                break;
            }
            Fault::HalfClose(_) => {
                // The receiver reads end of stream; the other direction still carries.
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
        };
        if sent.is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// Holds everything that comes `from` back (recorded, never sent) until the connection
/// ends: the receiver that gave up on the stalled frame closes its side, the other
/// direction's pump then shuts this socket down, and the read here returns.
fn stall(from: &mut TcpStream, record: &Mutex<Vec<u8>>) {
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = from.read(&mut buf) {
        lock(record).extend_from_slice(&buf[..n]);
    }
}
