//! `-mode testid`: reaches the pedserver of a PED ID, opens a relay session as the HSM
//! link would ([`RelayClient`]: the same checks, the same codes), and says Bye. Blocking
//! I/O: one short exchange from the command line.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use ped_daemon::frames::{FrameReader, relay_control};
use ped_wire::ErrorCode;
use ped_wire::frame::Frame;
use ped_wire::relay::{PedStatus, RelayMessage};

use crate::hsm_session::host_port;
use crate::relay_client::{Answer, RelayClient};

/// What pedserver said about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeReport {
    /// Its software string, e.g. "pedserver 0.1.0".
    pub software: String,
    /// Its relay protocol version.
    pub relay_version: u16,
    /// Its PED's status.
    pub status: PedStatus,
}

/// Why the probe failed: a stable code and what happened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({code})")]
pub struct ProbeError {
    /// The code the HSM would have been told.
    pub code: ErrorCode,
    /// What happened, naming the address.
    pub message: String,
}

fn error(code: ErrorCode, message: String) -> ProbeError {
    ProbeError { code, message }
}

fn io_error(target: &str, what: &str, e: &std::io::Error) -> ProbeError {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            error(ErrorCode::RcOperationTimedOut, format!("pedserver at {target} did not answer {what} in time"))
        }
        std::io::ErrorKind::UnexpectedEof => {
            error(ErrorCode::CkrPedUnplugged, format!("pedserver at {target} closed the connection during {what}"))
        }
        _ => error(ErrorCode::RcSocketError, format!("{what} with pedserver at {target} failed: {e}")),
    }
}

struct Conn {
    stream: TcpStream,
    reader: FrameReader,
    target: String,
}

impl Conn {
    fn send(&mut self, bytes: &[u8], what: &str) -> Result<(), ProbeError> {
        self.stream.write_all(bytes).map_err(|e| io_error(&self.target, what, &e))
    }

    /// The next relay message; pings are answered on the way.
    fn next(&mut self, what: &str) -> Result<RelayMessage, ProbeError> {
        let mut buf = [0u8; 4096];
        loop {
            let garbage = |why: String| error(ErrorCode::CkrCallbackError, why);
            match self.reader.next_frame() {
                Ok(Some((_, frame))) => {
                    let message = Frame::decode_exact(&frame)
                        .and_then(RelayMessage::decode)
                        .map_err(|e| garbage(format!("pedserver at {} sent garbage: {e:?}", self.target)))?;
                    match message {
                        RelayMessage::Ping { nonce } => {
                            self.send(&relay_control(&RelayMessage::Pong { nonce }), what)?;
                            continue;
                        }
                        RelayMessage::Pong { .. } => continue,
                        _ => {}
                    }
                    return Ok(message);
                }
                Ok(None) => {}
                Err(e) => return Err(garbage(format!("pedserver at {} sent garbage: {e:?}", self.target))),
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(io_error(&self.target, what, &std::io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => self.reader.feed(Instant::now(), &buf[..n]),
                Err(e) => return Err(io_error(&self.target, what, &e)),
            }
        }
    }
}

/// Probes `host:port`, each step bounded by `timeout`.
pub fn probe(host: &str, port: u16, timeout: Duration) -> Result<ProbeReport, ProbeError> {
    let target = host_port(host, port);
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| error(ErrorCode::RcSocketError, format!("cannot resolve {host}: {e}")))?
        .collect();
    let mut last = error(ErrorCode::RcSocketError, format!("{host} has no address"));
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = io_error(&target, "the connection", &e),
        }
    }
    let stream = stream.ok_or(last)?;
    let _ = stream.set_nodelay(true);
    stream.set_read_timeout(Some(timeout)).map_err(|e| io_error(&target, "setup", &e))?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| io_error(&target, "setup", &e))?;
    let mut conn = Conn { stream, reader: FrameReader::default(), target: target.clone() };
    let (mut client, first) = RelayClient::dialled(target);
    conn.send(&relay_control(&first), client.awaiting())?;
    loop {
        let what = client.awaiting();
        match client.handle(conn.next(what)?) {
            Answer::Send(next) => conn.send(&relay_control(&next), client.awaiting())?,
            Answer::Ready(ready) => {
                // A courtesy: the session ends at once instead of at pedserver's timeout.
                let _ = conn.send(&relay_control(&RelayMessage::Bye), "bye");
                return Ok(ProbeReport {
                    software: ready.software.unwrap_or_default(),
                    relay_version: ready.relay_version.unwrap_or_default(),
                    status: ready.status,
                });
            }
            Answer::Refused(refusal) => {
                if let Some(last) = refusal.last {
                    let _ = conn.send(&relay_control(&last), "the last message");
                }
                return Err(error(refusal.code, refusal.message));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn nothing_listening_is_a_socket_error_and_silence_a_timeout() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let e = probe("127.0.0.1", port, Duration::from_secs(2)).unwrap_err();
        assert_eq!(e.code, ErrorCode::RcSocketError, "{e}");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let e = probe("127.0.0.1", port, Duration::from_millis(300)).unwrap_err();
        assert_eq!(e.code, ErrorCode::RcOperationTimedOut, "{e}");
    }

    #[test]
    fn garbage_is_a_callback_error() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").unwrap();
            std::thread::sleep(Duration::from_millis(200));
        });
        let e = probe("127.0.0.1", port, Duration::from_secs(2)).unwrap_err();
        assert_eq!(e.code, ErrorCode::CkrCallbackError, "{e}");
        t.join().unwrap();
    }
}
