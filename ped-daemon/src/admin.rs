//! The admin port's protocol: one request line, one answer line, then close. Each daemon
//! decides what its requests mean; this module is both ends of the exchange: [`request`]
//! and [`authorized_request`] for the command line, [`serve`] for the running daemon.
//!
//! # Who may do what
//!
//! `show` is open to anyone who reaches the port: the status report holds no secret, and
//! `-mode show` works for every user. Every other request (`stop`, pedserver's `connect`
//! and `disconnect`, and any request added later) changes the daemon, and is carried out
//! only with the daemon's admin token: `auth TOKEN REQUEST`. The daemon makes a new token
//! at each start and writes it to [`token_file`] (beside its configuration file), mode
//! 0640 with the daemon's group: its own user, root and the members of its group can read
//! it, and so stop or change the daemon; anyone else is refused. A token rather than a
//! Unix socket with peer credentials because the admin port is TCP (the seed's port 1502,
//! `-eadmin 1` for a remote administrator, who then needs a copy of the token file), and
//! the file's mode and group are the access rule an administrator already knows how to
//! read and change (`ls -l`, `chgrp`).
//!
//! # Idle connections
//!
//! A connection waits for its request line in a waiting room of `max_waiting` places
//! (ped-daemon's [`Admission`]): when a newcomer finds it full, the connection that has
//! waited longest is closed to make room. A command line writes its request as soon as it
//! connects, so idle connections only ever push each other out, and `-mode show` always
//! gets its answer.

use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream as AsyncTcpStream};
use tokio::sync::{oneshot, watch};
use zeroize::Zeroizing;

use crate::admission::Admission;

/// The one request open to anyone.
const OPEN_REQUEST: &str = "show";
/// The prefix of a request that carries the token.
const AUTH: &str = "auth";
/// Random bytes in a token; the file holds them in hex.
const TOKEN_BYTES: usize = 32;
/// The longest token file read: the hex and a line end, with room for an editor's extra
/// whitespace.
const MAX_TOKEN_FILE: usize = 4 * TOKEN_BYTES;

/// Where a daemon started with `config_file` keeps its admin token: beside it, with the
/// extension `admin-token` (`/etc/pedserver/pedserver.admin-token`), so that one
/// `-configfile` keeps a whole installation together, as the certificates' `cert/` does.
pub fn token_file(config_file: &Path) -> PathBuf {
    config_file.with_extension("admin-token")
}

/// Why the admin token could not be written (daemon) or read (command line); the message
/// says what to do.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The daemon could not write its token file.
    #[error("cannot write the admin token {}: {source}; the daemon's user must be able to write that directory", path.display())]
    Write {
        /// The token file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The command line may not read the token file: this user may not stop or change
    /// the daemon.
    #[error(
        "this user may not read the admin token {}: only the daemon's own user, root and the members of the \
file's group (ls -l shows it) may stop or change the daemon",
        path.display()
    )]
    Denied {
        /// The token file.
        path: PathBuf,
    },
    /// The token file is missing, or not a token: the daemon was started with another
    /// configuration file, or not at all.
    #[error(
        "no admin token in {}: {why}; run this command with the -configfile the daemon was started with",
        path.display()
    )]
    Missing {
        /// The token file.
        path: PathBuf,
        /// What was found instead.
        why: String,
    },
}

/// The secret that allows a request to stop or change the daemon, and the file it is in.
pub struct AdminToken {
    hex: Zeroizing<String>,
    file: PathBuf,
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminToken").field("file", &self.file).finish_non_exhaustive()
    }
}

impl AdminToken {
    /// A new random token, written atomically to `file` (mode 0640, the daemon's group)
    /// in place of the previous start's. The daemon calls it once its admin port is bound,
    /// so a second copy that fails to bind leaves the running daemon's token alone.
    pub fn issue(file: &Path) -> Result<AdminToken, TokenError> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let failed = |source| TokenError::Write { path: file.to_path_buf(), source };
        let mut secret = Zeroizing::new([0u8; TOKEN_BYTES]);
        getrandom::fill(secret.as_mut()).map_err(|e| failed(std::io::Error::other(e.to_string())))?;
        let hex = Zeroizing::new(hex::encode(secret.as_ref()));
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new().recursive(true).mode(0o750).create(dir).map_err(failed)?;
        }
        let line = Zeroizing::new(format!("{}\n", hex.as_str()));
        let staged = ped_fs::Staged::write_with(ped_fs::temp_path(file), line.as_bytes(), |f| {
            f.set_permissions(std::fs::Permissions::from_mode(0o640))
        })
        .map_err(failed)?;
        staged.commit(file).map_err(failed)?;
        Ok(AdminToken { hex, file: file.to_path_buf() })
    }

    /// The token the running daemon wrote to `file`, read with this user's rights.
    pub fn read(file: &Path) -> Result<AdminToken, TokenError> {
        let missing = |why: &str| TokenError::Missing { path: file.to_path_buf(), why: why.to_string() };
        let bytes = match ped_fs::read_regular(file, MAX_TOKEN_FILE) {
            Ok(bytes) => bytes,
            Err(ped_fs::ReadError::NotFound) => return Err(missing("no such file")),
            Err(ped_fs::ReadError::NotAFile) => return Err(missing("not a regular file")),
            Err(ped_fs::ReadError::Oversized(_)) => return Err(missing("the file is too long")),
            Err(ped_fs::ReadError::Io(e)) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(TokenError::Denied { path: file.to_path_buf() });
            }
            Err(ped_fs::ReadError::Io(e)) => return Err(missing(&e.to_string())),
        };
        let text = std::str::from_utf8(&bytes).map(str::trim).unwrap_or_default();
        if text.len() != 2 * TOKEN_BYTES || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(missing("the file holds no token"));
        }
        Ok(AdminToken { hex: Zeroizing::new(text.to_ascii_lowercase()), file: file.to_path_buf() })
    }

    /// The file the token is in.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Whether `presented` is this token, in time independent of where they differ.
    fn accepts(&self, presented: &str) -> bool {
        self.hex.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

/// Sends one open request (`show`) and returns the answer line (client side, used by the
/// command line).
pub fn request(addr: SocketAddr, line: &str, timeout: Duration) -> std::io::Result<String> {
    exchange(addr, line.as_bytes(), timeout)
}

/// Sends one request that stops or changes the daemon, with its token, and returns the
/// answer line.
pub fn authorized_request(
    addr: SocketAddr,
    token: &AdminToken,
    line: &str,
    timeout: Duration,
) -> std::io::Result<String> {
    let with_token = Zeroizing::new(format!("{AUTH} {} {line}", token.hex.as_str()));
    exchange(addr, with_token.as_bytes(), timeout)
}

fn exchange(addr: SocketAddr, line: &[u8], timeout: Duration) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(&[line, b"\n"].concat())?;
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
    /// Connections waiting for their request line at once; a newcomer that finds them
    /// all taken closes the one that has waited longest.
    pub max_waiting: usize,
    /// Longest request line read, in bytes; the rest is not read.
    pub max_request_len: u64,
}

impl AdminLimits {
    /// Connections waiting for their request line at once: a handful of administrators'
    /// commands.
    pub const MAX_WAITING: usize = 8;
    /// The longest request: a verb, a token and a name.
    pub const MAX_REQUEST_LEN: u64 = 512;

    /// The limits with these timeouts and the default bounds.
    pub fn with_timeouts(read_timeout: Duration, write_timeout: Duration) -> AdminLimits {
        AdminLimits {
            read_timeout,
            write_timeout,
            max_waiting: Self::MAX_WAITING,
            max_request_len: Self::MAX_REQUEST_LEN,
        }
    }
}

/// What a request line asks once its token, if any, is checked.
#[derive(Debug, PartialEq, Eq)]
enum Asked {
    /// Carried out: the open request, or any request with the right token.
    Allowed(String),
    /// Refused unheard: the request that needs the token and lacks it.
    Refused(String),
}

fn check(line: &str, token: &AdminToken) -> Asked {
    let line = line.trim();
    let Some(rest) = line.strip_prefix(AUTH).and_then(|r| r.strip_prefix(' ')) else {
        return if line == OPEN_REQUEST { Asked::Allowed(line.to_string()) } else { Asked::Refused(line.to_string()) };
    };
    let (presented, request) = rest.trim_start().split_once(' ').unwrap_or((rest, ""));
    let request = request.trim().to_string();
    if token.accepts(presented) || request == OPEN_REQUEST { Asked::Allowed(request) } else { Asked::Refused(request) }
}

/// The answer to a request refused for want of the token.
fn refusal(request: &str, token: &AdminToken) -> String {
    let verb = request.split(' ').next().unwrap_or_default();
    format!(
        "error {verb:?} needs the admin token of {}: only the daemon's own user, root and the members of that \
file's group may stop or change the daemon",
        token.file.display()
    )
}

/// Serves the admin port until `stop` turns true: each connection's request line,
/// trimmed and allowed (see the module's documentation), goes to `answer`, whose result
/// is sent back as one line.
pub async fn serve<A, F>(
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
    limits: AdminLimits,
    token: AdminToken,
    answer: A,
) where
    A: Fn(String) -> F + Send + Sync + 'static,
    F: Future<Output = String> + Send,
{
    let answer = Arc::new(answer);
    let token = Arc::new(token);
    let waiting: Arc<Mutex<Admission<oneshot::Sender<()>>>> = Arc::new(Mutex::new(Admission::new(limits.max_waiting)));
    let mut next_id = 0u64;
    loop {
        tokio::select! {
            _ = stop.wait_for(|stopping| *stopping) => break,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let id = next_id;
                next_id += 1;
                let (evict, evicted) = oneshot::channel();
                if let Some(out) = lock(&waiting).admit(Instant::now(), id, peer.ip(), evict) {
                    tracing::warn!("admin connection closed after {:?} without a request: {} were waiting", out.waited, limits.max_waiting);
                    let _ = out.handle.send(());
                }
                let (answer, token, waiting) = (Arc::clone(&answer), Arc::clone(&token), Arc::clone(&waiting));
                tokio::spawn(async move {
                    let line = tokio::select! {
                        line = read_request(stream, limits) => line,
                        _ = evicted => None,
                    };
                    lock(&waiting).closed(id);
                    if let Some((line, writer)) = line {
                        let reply = match check(&line, &token) {
                            Asked::Allowed(request) => answer(request).await,
                            Asked::Refused(request) => {
                                tracing::warn!("admin request {request:?} from {peer} refused: no valid token");
                                refusal(&request, &token)
                            }
                        };
                        send_reply(writer, &reply, limits).await;
                    }
                });
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One connection's request line, if it arrives in time, and the half to answer on.
async fn read_request(
    stream: AsyncTcpStream,
    limits: AdminLimits,
) -> Option<(String, tokio::net::tcp::OwnedWriteHalf)> {
    let (reader, writer) = stream.into_split();
    let (mut reader, mut line) = (tokio::io::BufReader::new(reader.take(limits.max_request_len)), String::new());
    match tokio::time::timeout(limits.read_timeout, reader.read_line(&mut line)).await {
        Ok(Ok(_)) => Some((line, writer)),
        _ => None,
    }
}

async fn send_reply(mut writer: tokio::net::tcp::OwnedWriteHalf, reply: &str, limits: AdminLimits) {
    let _ = tokio::time::timeout(limits.write_timeout, writer.write_all(format!("{reply}\n").as_bytes())).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> AdminLimits {
        AdminLimits::with_timeouts(Duration::from_secs(1), Duration::from_secs(1))
    }

    async fn serving(dir: &Path) -> (SocketAddr, watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopping) = watch::channel(false);
        let token = AdminToken::issue(&dir.join("d.admin-token")).unwrap();
        tokio::spawn(serve(listener, stopping, limits(), token, |line: String| async move { format!("got {line}") }));
        (addr, stop)
    }

    async fn ask(addr: SocketAddr, line: &str, token: Option<AdminToken>) -> String {
        let line = line.to_string();
        tokio::task::spawn_blocking(move || match token {
            Some(token) => authorized_request(addr, &token, &line, Duration::from_secs(2)),
            None => request(addr, &line, Duration::from_secs(2)),
        })
        .await
        .unwrap()
        .unwrap()
    }

    #[tokio::test]
    async fn show_is_open_and_everything_else_needs_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let (addr, stop) = serving(dir.path()).await;
        let file = dir.path().join("d.admin-token");
        assert_eq!(ask(addr, "  show ", None).await, "got show");
        let refused = ask(addr, "stop", None).await;
        assert!(refused.starts_with("error \"stop\" needs the admin token of"), "{refused}");
        assert!(refused.contains(&file.display().to_string()), "{refused}");
        assert_eq!(ask(addr, "stop", Some(AdminToken::read(&file).unwrap())).await, "got stop");
        let forged = dir.path().join("forged");
        std::fs::write(&forged, format!("{}\n", "ab".repeat(TOKEN_BYTES))).unwrap();
        assert!(ask(addr, "connect x", Some(AdminToken::read(&forged).unwrap())).await.starts_with("error "));
        assert_eq!(ask(addr, "show", Some(AdminToken::read(&forged).unwrap())).await, "got show");
        stop.send_replace(true);
    }

    #[test]
    fn the_token_file_is_0640_new_at_each_start_and_read_bounded() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = token_file(&dir.path().join("etc/pedserver.toml"));
        assert_eq!(file, dir.path().join("etc/pedserver.admin-token"));
        let first = AdminToken::issue(&file).unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o640);
        let second = AdminToken::issue(&file).unwrap();
        assert!(!second.accepts(&first.hex) && AdminToken::read(&file).unwrap().accepts(&second.hex));
        assert!(format!("{second:?}").contains("admin-token") && !format!("{second:?}").contains(second.hex.as_str()));
        std::fs::write(&file, vec![b'a'; 1 << 20]).unwrap();
        assert!(matches!(AdminToken::read(&file), Err(TokenError::Missing { .. })));
        assert!(matches!(AdminToken::read(&dir.path().join("none")), Err(TokenError::Missing { .. })));
        assert!(matches!(AdminToken::read(dir.path()), Err(TokenError::Missing { .. })));
    }

    #[tokio::test]
    async fn idle_connections_never_keep_show_out() {
        let dir = tempfile::tempdir().unwrap();
        let (addr, stop) = serving(dir.path()).await;
        let idle: Vec<_> = (0..3 * AdminLimits::MAX_WAITING).map(|_| TcpStream::connect(addr).unwrap()).collect();
        for _ in 0..3 {
            assert_eq!(ask(addr, "show", None).await, "got show");
        }
        drop(idle);
        stop.send_replace(true);
    }
}
