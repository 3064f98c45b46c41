//! A chaos proxy for the pedclient ↔ pedserver TCP link: it relays and records every
//! byte like the recorder, and a test switches a [`Fault`] on and off while it runs.
//!
//! The proxy reads whole link frames (8-byte header, then the body), so that a fault
//! hits one frame of the HSM's channel and not an arbitrary TCP segment. Frame faults
//! act on Record frames (type `10`) travelling pedserver → pedclient, the PED's
//! answers: relay control (pings, status) passes untouched and does not use a fault up.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The link frame type of an end-to-end Record.
const RECORD: u8 = 0x10;

/// What the proxy does to the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Relays every frame as it comes.
    Pass,
    /// Closes every relayed connection, both directions, as the fault is switched on.
    Drop,
    /// Sends each Record's header, waits this long, then sends its body: a slow link,
    /// or, past pedclient's `socketreadtimeout`, a started frame never completed.
    Delay(Duration),
    /// Sends a Record's header and half its body, then closes the connection.
    Truncate,
    /// Flips one byte in the middle of a Record's body.
    Corrupt,
    /// Ends the pedserver → pedclient direction at the next Record (pedclient reads end
    /// of stream) while pedclient → pedserver stays open.
    HalfClose,
    /// Sends the connection's first Record again just before each Record: an old but
    /// authentic frame, so only the receiver's sequence check can refuse it, and the
    /// genuine Record still follows, so a receiver that skipped it would go on unharmed.
    Replay,
}

/// Every stream recorded so far, one per connection and direction.
type Streams = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

/// A running chaos proxy; its accept thread ends with the test process.
#[derive(Debug, Clone)]
pub struct Chaos {
    fault: Arc<Mutex<Fault>>,
    streams: Streams,
    /// Both ends of every connection relayed, for [`Fault::Drop`].
    live: Arc<Mutex<Vec<TcpStream>>>,
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
        let chaos =
            Chaos { fault: Arc::new(Mutex::new(Fault::Pass)), streams: Streams::default(), live: Arc::default() };
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
        if fault == Fault::Drop {
            for s in lock(&self.live).drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
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
        lock(&self.live).extend([client, server]);
        for (from, to, faulty) in [(c_in, s_out, false), (s_in, c_out, true)] {
            let record = Arc::new(Mutex::new(Vec::new()));
            lock(&self.streams).push(record.clone());
            let fault = faulty.then(|| self.fault.clone());
            std::thread::spawn(move || pump(from, to, &record, fault.as_deref()));
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
#[derive(Clone)]
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

/// Copies frames `from` → `to`, recording, with `fault` applied to Records when given;
/// when either side ends, closes both so that the other direction ends too.
fn pump(mut from: TcpStream, mut to: TcpStream, record: &Mutex<Vec<u8>>, fault: Option<&Mutex<Fault>>) {
    // Kept from the start, faulty or not, so that a Replay switched on later has a frame
    // from an earlier command of the same connection to send.
    let mut first: Option<Frame> = None;
    while let Some(mut frame) = Frame::read(&mut from) {
        {
            let mut r = lock(record);
            r.extend_from_slice(&frame.header);
            r.extend_from_slice(&frame.body);
        }
        let now = match fault {
            Some(f) if frame.header[3] == RECORD => *lock(f),
            _ => Fault::Pass,
        };
        let is_first = frame.header[3] == RECORD && first.is_none();
        if is_first {
            first = Some(frame.clone());
        }
        let sent = match now {
            Fault::Pass | Fault::Drop => frame.write(&mut to),
            Fault::Delay(pause) => to.write_all(&frame.header).and_then(|()| {
                std::thread::sleep(pause);
                to.write_all(&frame.body)
            }),
            Fault::Truncate => {
                let _ = to.write_all(&frame.header);
                let _ = to.write_all(&frame.body[..frame.body.len() / 2]);
                break;
            }
            Fault::Corrupt => {
                let middle = frame.body.len() / 2;
                frame.body[middle] ^= 0x01;
                frame.write(&mut to)
            }
            Fault::HalfClose => {
                // pedclient reads end of stream; its own writes still reach pedserver.
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Fault::Replay => {
                // The first Record has nothing older before it: it passes, to be replayed later.
                let old = first.as_ref().filter(|_| !is_first);
                old.map_or(Ok(()), |o| o.write(&mut to)).and_then(|()| frame.write(&mut to))
            }
        };
        if sent.is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
