//! A recording proxy: placed on a link between two components, it relays every byte
//! unchanged and keeps a copy, so a test can search all that crossed the link.
//!
//! Each connection's two directions are kept apart, so that a secret is searched for in
//! one contiguous stream and not across interleaved writes of different links.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Every stream recorded so far, one per connection and direction.
type Streams = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

/// A running recorder; its accept thread ends with the test process.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    streams: Streams,
}

/// The two halves of a relayed connection, whatever the socket type.
trait Conn: Read + Write + Send + Sized + 'static {
    fn twin(&self) -> std::io::Result<Self>;
    fn close(&self);
}

impl Conn for UnixStream {
    fn twin(&self) -> std::io::Result<Self> {
        self.try_clone()
    }
    fn close(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Recorder {
    /// A Unix-socket recorder listening at `listen`, relaying to `upstream`. A refused
    /// upstream closes the accepted connection, so an unplugged PED looks unplugged.
    pub fn unix(listen: &Path, upstream: &Path) -> Recorder {
        let listener = UnixListener::bind(listen).expect("the recorder's socket");
        let recorder = Recorder::default();
        let (r, upstream) = (recorder.clone(), PathBuf::from(upstream));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                match UnixStream::connect(&upstream) {
                    Ok(server) => r.relay(client, server),
                    Err(_) => client.close(),
                }
            }
        });
        recorder
    }

    fn relay<C: Conn>(&self, client: C, server: C) {
        for (from, to) in [(client.twin(), server.twin()), (server.twin(), client.twin())] {
            let (Ok(from), Ok(to)) = (from, to) else {
                client.close();
                server.close();
                return;
            };
            let record = Arc::new(Mutex::new(Vec::new()));
            self.streams.lock().expect("the recorder's lock").push(record.clone());
            std::thread::spawn(move || pump(from, to, &record));
        }
    }

    /// Everything recorded so far, one buffer per connection and direction.
    pub fn streams(&self) -> Vec<Vec<u8>> {
        let streams = self.streams.lock().expect("the recorder's lock");
        streams.iter().map(|s| s.lock().expect("a stream's lock").clone()).collect()
    }

    /// How many bytes were recorded in all.
    pub fn total(&self) -> usize {
        self.streams().iter().map(Vec::len).sum()
    }
}

/// Copies `from` to `to`, recording, until either side ends; then closes both so the
/// other direction ends too.
fn pump<C: Conn>(mut from: C, mut to: C, record: &Mutex<Vec<u8>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        record.lock().expect("a stream's lock").extend_from_slice(&buf[..n]);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    from.close();
    to.close();
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
