//! PED-initiated mode, pedclient's end: pedserver connects here over TLS with both
//! certificates pinned (ped-daemon's `tls::server_config`: one verification code path for
//! both ends), says its relay hello, and gets pedclient's. The connection is then
//! *parked*: pedclient answers its pings until an HSM asks for a link, and the HSM's
//! [`Link`](crate::hsm_session::Link) adopts it (no second hello: status request, then relay).
//!
//! One pedserver at a time: a second connection while one is parked or in use is closed.
//! When the HSM's link ends, the adopted connection ends with it (pedserver gets Bye) and
//! pedserver must `-mode connect` again.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use ped_daemon::frames::{FrameReader, READ_CHUNK, relay_control};
use ped_daemon::tls::{self, Identity, TlsError};
use ped_wire::DecodeError;
use ped_wire::frame::Frame;
use ped_wire::relay::{RELAY_VERSION, RelayMessage, RelayRole};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::{self, Config};
use crate::daemon::{Daemon, ServerStream, lock, stopped};
use crate::relay_client::client_hello;

/// This pedclient's certificate and key (`-regen`): `cert/server/CN.pem`, `CNKey.pem`
/// beside the configuration file (it is the TLS server).
pub fn identity_files(config_file: &Path, common_name: &str) -> (PathBuf, PathBuf) {
    tls::identity_files(&config::cert_dir(config_file).join("server"), common_name)
}

/// The registered pedserver's certificate (`-register`), DER: a copy for people, written
/// after the configuration, which holds the certificate with its pin. A configuration
/// written before it held the certificate relies on this file.
pub fn pedserver_file(config_file: &Path) -> PathBuf {
    config::cert_dir(config_file).join("client").join("pedserver.der")
}

/// Why PED-initiated mode cannot listen; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// `-regen` has not been run.
    #[error("PED-initiated mode needs a certificate: run pedclient -regen -commonname NAME first")]
    NoIdentity,
    /// `-register` has not been run.
    #[error("PED-initiated mode needs pedserver's certificate: run pedclient -register -certificate FILE first")]
    NoPedserver,
    /// The identity or the pinned certificate could not be loaded.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The stored certificate is not the one registered.
    #[error("the stored pedserver certificate does not match its registered fingerprint: register it again")]
    PinMismatch,
}

/// The TLS configuration: this pedclient's identity, and only the registered pedserver
/// accepted, its stored certificate checked against the registered fingerprint.
pub fn acceptor(config: &Config, config_file: &Path) -> Result<TlsAcceptor, ListenError> {
    let cn = config.common_name.as_deref().ok_or(ListenError::NoIdentity)?;
    let registered = config.pedserver.as_ref().ok_or(ListenError::NoPedserver)?;
    let (cert_file, key_file) = identity_files(config_file, cn);
    let identity = Identity::load(&cert_file, &key_file)?;
    let pinned = match &registered.certificate {
        Some(pem) => tls::certificate_from_pem(pem, config_file)?,
        None => tls::read_certificate(&pedserver_file(config_file))?,
    };
    if tls::fingerprint(&pinned) != registered.fingerprint {
        return Err(ListenError::PinMismatch);
    }
    let server_config = tls::server_config(&identity, pinned)?;
    Ok(TlsAcceptor::from(server_config))
}

/// A pedserver connection taken over by an HSM.
pub(crate) struct Claimed {
    pub(crate) stream: ServerStream,
    /// Bytes received after the hello and not yet handled.
    pub(crate) leftover: Vec<u8>,
    /// Its address and software, for messages.
    pub(crate) peer: String,
    /// Its address alone, for the HSM.
    pub(crate) address: String,
}

impl std::fmt::Debug for Claimed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claimed").field("peer", &self.peer).finish_non_exhaustive()
    }
}

/// The parked connection's handle: send it a reply channel to take the stream over.
#[derive(Debug)]
pub(crate) struct Parked {
    generation: u64,
    claim: oneshot::Sender<oneshot::Sender<Claimed>>,
}

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// Takes the parked connection over, if there is one.
pub(crate) async fn claim(daemon: &Daemon) -> Option<Claimed> {
    let parked = lock(&daemon.parked).take()?;
    let (tx, rx) = oneshot::channel();
    parked.claim.send(tx).ok()?;
    rx.await.ok()
}

/// After the TLS handshake (the daemon's listener): the relay hellos, then parking.
pub(crate) async fn admit(daemon: Arc<Daemon>, mut stream: TlsStream<TcpStream>, peer: SocketAddr) {
    let timeout = daemon.config().common.socket_read_timeout.get();
    // The bytes after the hello are handed over whole to the HSM's link that adopts it.
    let mut pending = FrameReader::default();
    let mut buf = vec![0u8; READ_CHUNK];
    // pedserver speaks first, as it does to an inbound pedclient.
    let hello = async {
        loop {
            if let Some((_, frame)) = pending.next_frame().map_err(|e| format!("malformed frame: {e:?}"))? {
                return Frame::decode_exact(&frame)
                    .and_then(RelayMessage::decode)
                    .map_err(|e| format!("not a relay hello: {e:?}"));
            }
            match stream.read(&mut buf).await {
                Ok(0) => return Err("closed before its hello".to_string()),
                Ok(n) => pending.feed(Instant::now(), &buf[..n]),
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    let software = match tokio::time::timeout(timeout, hello).await {
        Ok(Ok(RelayMessage::Hello { version: RELAY_VERSION, role: RelayRole::Server, software })) => software,
        Ok(Ok(other)) => return tracing::warn!("PED-initiated: {peer} sent {other:?} instead of its hello"),
        Ok(Err(why)) => return tracing::warn!("PED-initiated: {peer}: {why}"),
        Err(_) => return tracing::warn!("PED-initiated: {peer} sent no hello in time"),
    };
    if stream.write_all(&relay_control(&client_hello())).await.is_err() || stream.flush().await.is_err() {
        return tracing::warn!("PED-initiated: {peer} closed during the hellos");
    }
    let description = format!("{peer} ({software}, TLS)");
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
    let (claim_tx, mut claim_rx) = oneshot::channel::<oneshot::Sender<Claimed>>();
    {
        let mut link = lock(&daemon.ped_link);
        if link.is_some() {
            return tracing::warn!("PED-initiated: refused {peer}: a pedserver is already connected");
        }
        *link = Some(description.clone());
        *lock(&daemon.parked) = Some(Parked { generation, claim: claim_tx });
    }
    tracing::info!("PED-initiated: pedserver connected from {description}; waiting for an HSM");
    let mut stop = daemon.stopping();
    let why = loop {
        tokio::select! {
            claimed = &mut claim_rx => {
                let Ok(reply) = claimed else { break "its handle was dropped".to_string() };
                let leftover = pending.take_buffered();
                let stream = Guarded { inner: stream, _guard: InUse(Arc::clone(&daemon)) };
                let claimed =
                    Claimed { stream: Box::new(stream), leftover, peer: description.clone(), address: peer.to_string() };
                if reply.send(claimed).is_err() {
                    break "the HSM went away while taking it over".to_string();
                }
                tracing::info!("PED-initiated: an HSM took over the connection from {description}");
                // In use by the HSM's link until it ends; then the next pedserver may come.
                return;
            }
            _ = stopped(&mut stop) => {
                let _ = stream.write_all(&RelayMessage::Bye.encode().unwrap_or_default()).await;
                break "pedclient is stopping".to_string();
            }
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => break "it closed the connection".to_string(),
                Ok(n) => {
                    pending.feed(Instant::now(), &buf[..n]);
                    if let Err(why) = answer_parked(&mut pending, &mut stream).await {
                        break why.to_string();
                    }
                }
            },
        }
    };
    if lock(&daemon.parked).as_ref().is_some_and(|p| p.generation == generation) {
        *lock(&daemon.parked) = None;
    }
    *lock(&daemon.ped_link) = None;
    tracing::info!("PED-initiated: the connection from {description} ended: {why}");
}

/// Why a parked connection ended, for the log.
#[derive(Debug, thiserror::Error)]
enum ParkedEnd {
    /// A frame that does not parse.
    #[error("malformed frame: {0:?}")]
    Malformed(DecodeError),
    /// The pong could not be sent.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// pedserver ended the connection in order.
    #[error("pedserver said bye")]
    Bye,
    /// pedserver reported an error.
    #[error("pedserver reported: {0}")]
    Reported(String),
    /// Anything else than a ping or an end.
    #[error("unexpected while no HSM uses it: {0}")]
    Unexpected(String),
}

/// While parked, only pings (answered) and an orderly end are expected.
async fn answer_parked<S: AsyncWrite + Unpin>(pending: &mut FrameReader, stream: &mut S) -> Result<(), ParkedEnd> {
    while let Some((_, frame)) = pending.next_frame().map_err(ParkedEnd::Malformed)? {
        let message = Frame::decode_exact(&frame).and_then(RelayMessage::decode);
        match message {
            Ok(RelayMessage::Ping { nonce }) => {
                let pong = RelayMessage::Pong { nonce }.encode().unwrap_or_default();
                stream.write_all(&pong).await?;
                stream.flush().await?;
            }
            Ok(RelayMessage::Bye) => return Err(ParkedEnd::Bye),
            Ok(RelayMessage::Error { message, .. }) => return Err(ParkedEnd::Reported(message)),
            other => return Err(ParkedEnd::Unexpected(format!("{other:?}"))),
        }
    }
    Ok(())
}

/// Marks PED-initiated mode's connection as in use while an HSM's link holds it; the
/// next pedserver may connect once it is dropped.
#[derive(Debug)]
struct InUse(Arc<Daemon>);

impl Drop for InUse {
    fn drop(&mut self) {
        *lock(&self.0.ped_link) = None;
    }
}

/// An adopted stream that carries its [`InUse`] mark.
struct Guarded<S> {
    inner: S,
    _guard: InUse,
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
