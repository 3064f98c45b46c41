//! The admin port's protocol: one request line, one answer line, then close. Each daemon
//! decides what its requests mean; this module is both ends of the exchange: [`request`]
//! for the command line, [`serve`] for the running daemon.
//!
//! The admin port listens on localhost unless `-eadmin 1`: anyone who can reach it can
//! stop the daemon, as in the original, so it should stay local.

use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream as AsyncTcpStream};
use tokio::sync::{Semaphore, watch};

/// Sends one request and returns the answer line (client side, used by the command line).
pub fn request(addr: SocketAddr, line: &str, timeout: Duration) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(line.as_bytes())?;
    stream.write_all(b"\n")?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    if answer.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the admin port closed without answering"));
    }
    Ok(answer.trim_end().to_string())
}

/// How the server side treats its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdminLimits {
    /// The request line must arrive within this; otherwise the connection is closed
    /// unanswered.
    pub read_timeout: Duration,
    /// The answer must be sent within this.
    pub write_timeout: Duration,
    /// Connections served at once; more are closed unanswered. `None`: no bound.
    pub max_connections: Option<usize>,
    /// Longest request line read, in bytes; the rest is not read. `None`: no bound.
    pub max_request_len: Option<u64>,
}

/// Serves the admin port until `stop` turns true: each connection's request line,
/// trimmed, goes to `answer`, whose result is sent back as one line.
pub async fn serve<A, F>(listener: TcpListener, mut stop: watch::Receiver<bool>, limits: AdminLimits, answer: A)
where
    A: Fn(String) -> F + Send + Sync + 'static,
    F: Future<Output = String> + Send,
{
    let answer = Arc::new(answer);
    let slots = limits.max_connections.map(|n| Arc::new(Semaphore::new(n)));
    loop {
        tokio::select! {
            _ = stop.wait_for(|stopping| *stopping) => break,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let permit = match &slots {
                    Some(slots) => match Arc::clone(slots).try_acquire_owned() {
                        Ok(permit) => Some(permit),
                        Err(_) => {
                            tracing::warn!(
                                "admin connection from {peer} refused: {} already open",
                                limits.max_connections.unwrap_or_default()
                            );
                            continue;
                        }
                    },
                    None => None,
                };
                let answer = Arc::clone(&answer);
                tokio::spawn(async move {
                    answer_one(stream, limits, answer.as_ref()).await;
                    drop(permit);
                });
            }
        }
    }
}

/// One connection: its request line in, `answer`'s reply out; silence closes it unanswered.
async fn answer_one<A, F>(stream: AsyncTcpStream, limits: AdminLimits, answer: &A)
where
    A: Fn(String) -> F,
    F: Future<Output = String>,
{
    let (reader, mut writer) = stream.into_split();
    // Unbounded is a bound no request reaches.
    let reader = reader.take(limits.max_request_len.unwrap_or(u64::MAX));
    let (mut reader, mut line) = (tokio::io::BufReader::new(reader), String::new());
    if !matches!(tokio::time::timeout(limits.read_timeout, reader.read_line(&mut line)).await, Ok(Ok(_))) {
        return;
    }
    let reply = answer(line.trim().to_string()).await;
    let _ = tokio::time::timeout(limits.write_timeout, writer.write_all(format!("{reply}\n").as_bytes())).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_connections: Option<usize>, max_request_len: Option<u64>) -> AdminLimits {
        let second = Duration::from_secs(1);
        AdminLimits { read_timeout: second, write_timeout: second, max_connections, max_request_len }
    }

    async fn serving(limits: AdminLimits) -> (SocketAddr, watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopping) = watch::channel(false);
        tokio::spawn(serve(listener, stopping, limits, |line: String| async move { format!("got {line}") }));
        (addr, stop)
    }

    #[tokio::test]
    async fn one_line_in_one_line_out_bounded_or_not() {
        for limits in [limits(None, None), limits(Some(8), Some(4200))] {
            let (addr, stop) = serving(limits).await;
            let answer = tokio::task::spawn_blocking(move || request(addr, "  show ", Duration::from_secs(2)));
            assert_eq!(answer.await.unwrap().unwrap(), "got show");
            stop.send_replace(true);
        }
    }
}
