//! PED-initiated mode: the server connects out to a registered appliance's pedclient over
//! pinned mutual TLS (`tls`), retrying up to [`MAX_ATTEMPTS`] times, then relays exactly
//! as for an inbound pedclient: [`Server::drive`] over the TLS stream. pedserver still
//! speaks first and still plays the relay's server role; only the TCP direction changes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::config::{self, Appliance, Config, ConfigError, LinkConfig, TomlConfig};
use crate::server::Server;
use crate::status::LinkReport;
use crate::tls::{self, Identity, MAX_ATTEMPTS};

/// One PED-initiated link, from the first attempt until its session ends.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) name: String,
    address: SocketAddr,
    /// Its timeouts, pings and retry delay: the appliance's own, else the server's.
    pub(crate) config: LinkConfig,
    /// The attempt in progress; 0 once the relay hellos are exchanged.
    attempt: Mutex<u32>,
    /// Told by `-mode disconnect`.
    end: Notify,
    /// Set when the link task has finished, so that disconnect can wait for it.
    done: watch::Sender<bool>,
    /// Told by the session when the pedclient's hello has arrived.
    established: Mutex<Option<oneshot::Sender<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Link {
    /// Called by the session when the relay hellos are exchanged.
    pub(crate) fn established(&self) {
        *lock(&self.attempt) = 0;
        if let Some(tx) = lock(&self.established).take() {
            let _ = tx.send(());
        }
    }

    /// Resolves when `-mode disconnect` asks the link to end.
    pub(crate) async fn ended(&self) {
        self.end.notified().await;
    }

    pub(crate) fn report(&self) -> LinkReport {
        let attempt = *lock(&self.attempt);
        LinkReport {
            name: self.name.clone(),
            address: self.address.to_string(),
            connected: attempt == 0,
            state: if attempt == 0 {
                "connected".to_string()
            } else {
                format!("connecting, attempt {attempt} of {MAX_ATTEMPTS}")
            },
        }
    }
}

/// Why `-mode connect` or `-mode disconnect` could not be carried out; the admin port
/// answers it as `error MESSAGE`, which the command line prints.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LinkError {
    /// The configuration file the command names could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No appliance has this name.
    #[error("no appliance named {name:?} is registered in {}", file.display())]
    NoAppliance {
        /// The name asked for.
        name: String,
        /// The configuration file.
        file: PathBuf,
    },
    /// `-regen` has not been run.
    #[error("this server has no client certificate yet: run pedserver -regen -commonname NAME first")]
    NoClientCertificate,
    /// This server's identity or the appliance's certificate could not be loaded.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The stored certificate is not the one registered.
    #[error("the stored certificate of {0:?} does not match its registered fingerprint: delete and register it again")]
    PinMismatch(String),
    /// One link at a time.
    #[error("already linked to appliance {0:?}: run pedserver -mode disconnect -name {0} first")]
    AlreadyLinked(String),
    /// The link's task ended without an answer.
    #[error("the link ended unexpectedly")]
    Vanished,
    /// `-mode disconnect` of an appliance not linked.
    #[error("appliance {0:?} is not connected")]
    NotConnected(String),
    /// The link did not end in time.
    #[error("the link to {name} did not end within {grace:?}")]
    DidNotEnd {
        /// The appliance.
        name: String,
        /// How long it was given.
        grace: Duration,
    },
    /// `-mode disconnect` came first.
    #[error("disconnected before the link was up")]
    Disconnected,
    /// The server is shutting down.
    #[error("the server is stopping")]
    Stopping,
    /// TLS refused the handshake (a certificate does not match): not retried.
    #[error("{0}; check that the fingerprints match on both sides")]
    TlsRefused(String),
    /// Every attempt failed.
    #[error("no connection to {name} ({address}) after {MAX_ATTEMPTS} attempts: {last}")]
    GaveUp {
        /// The appliance.
        name: String,
        /// Its pedclient.
        address: SocketAddr,
        /// Why the last attempt failed.
        last: String,
    },
    /// The TLS connection closed before the relay hellos.
    #[error(
        "the appliance ended the connection before its relay hello ({0}); check that it registered this server's \
client certificate"
    )]
    EndedBeforeHello(String),
}

/// The longest configuration file read at `-mode connect`: far more than hundreds of
/// appliances take.
const MAX_CONFIG_FILE: usize = 1 << 20;

/// The server's configuration file as it is now, read bounded: a regular file of at most
/// [`MAX_CONFIG_FILE`] bytes (a missing one is the defaults), never a FIFO or a device.
fn read_config(file: &Path) -> Result<Config, ConfigError> {
    use std::io::{Error, ErrorKind};
    let io = |source| ConfigError::Io { path: file.into(), source };
    let bytes = match ped_fs::read_regular(file, MAX_CONFIG_FILE) {
        Ok(bytes) => bytes,
        Err(ped_fs::ReadError::NotFound) => return Ok(Config::default()),
        Err(ped_fs::ReadError::NotAFile) => return Err(io(Error::new(ErrorKind::InvalidInput, "not a regular file"))),
        Err(ped_fs::ReadError::Oversized(n)) => {
            let why = format!("{n} bytes, more than the {MAX_CONFIG_FILE} a configuration file may have");
            return Err(io(Error::new(ErrorKind::InvalidData, why)));
        }
        Err(ped_fs::ReadError::Io(e)) => return Err(io(e)),
    };
    let text = std::str::from_utf8(&bytes).map_err(|e| io(Error::new(ErrorKind::InvalidData, e)))?;
    Config::from_toml(text).map_err(|source| ConfigError::Parse { path: file.into(), source })
}

/// What the link needs, resolved from the server's configuration file.
struct Target {
    appliance: Appliance,
    tls: Arc<rustls::ClientConfig>,
}

/// Reads the appliance, this server's client identity and the pinned certificate; checks
/// the stored certificate against the fingerprint registered with it.
fn target(name: &str, config_file: &Path) -> Result<Target, LinkError> {
    let config = read_config(config_file)?;
    let appliance = config
        .appliances
        .iter()
        .find(|a| a.name == name)
        .cloned()
        .ok_or_else(|| LinkError::NoAppliance { name: name.to_string(), file: config_file.to_path_buf() })?;
    let cn = config.client_common_name.ok_or(LinkError::NoClientCertificate)?;
    let cert_dir = config::cert_dir(config_file);
    let (cert_file, key_file) = tls::client_files(&cert_dir, &cn);
    let identity = Identity::load(&cert_file, &key_file)?;
    let pinned = tls::read_certificate(&tls::appliance_file(&cert_dir, name))?;
    if tls::fingerprint(&pinned) != appliance.fingerprint {
        return Err(LinkError::PinMismatch(name.to_string()));
    }
    let tls = tls::client_config(&identity, pinned)?;
    Ok(Target { appliance, tls })
}

/// Why one attempt failed.
enum AttemptError {
    /// Worth another attempt: the pedclient may not be listening yet.
    Retry(String),
    /// TLS refused: the certificates do not match; retrying cannot help.
    Fatal(String),
}

async fn attempt(connector: &TlsConnector, address: SocketAddr) -> Result<TlsStream<TcpStream>, AttemptError> {
    let tcp = TcpStream::connect(address).await.map_err(|e| AttemptError::Retry(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    // The name is not checked (the pin is), but TLS wants one: the address it dialled.
    connector.connect(ServerName::IpAddress(address.ip().into()), tcp).await.map_err(|e| {
        match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            // Our own pin check's reason reads better than rustls's wrapping of it.
            Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(why))) => {
                AttemptError::Fatal(format!("TLS handshake refused: {}", why.0))
            }
            Some(tls) => AttemptError::Fatal(format!("TLS handshake refused: {tls}")),
            None => AttemptError::Retry(e.to_string()),
        }
    })
}

/// Resolves when a link that is not up yet must stop trying: `-mode disconnect`, or the
/// server stopping.
async fn interrupted(link: &Link, shutdown: &mut watch::Receiver<bool>) -> LinkError {
    tokio::select! {
        _ = link.ended() => LinkError::Disconnected,
        _ = shutdown.changed() => LinkError::Stopping,
    }
}

impl Server {
    /// `-mode connect`: starts the link to an appliance registered in the server's own
    /// configuration file and answers once its relay session is up, or with why it could
    /// not be brought up.
    pub(crate) async fn connect_appliance(self: &Arc<Self>, name: &str) -> Result<String, LinkError> {
        let target = target(name, &self.config_file)?;
        let address = SocketAddr::new(target.appliance.ip, target.appliance.port);
        let (outcome_tx, outcome_rx) = oneshot::channel();
        let link = {
            let mut slot = self.link_slot();
            if let Some(existing) = slot.as_ref() {
                return Err(LinkError::AlreadyLinked(existing.name.clone()));
            }
            let link = Arc::new(Link {
                name: name.to_string(),
                address,
                config: target.appliance.link.over(&self.config),
                attempt: Mutex::new(1),
                end: Notify::new(),
                done: watch::channel(false).0,
                established: Mutex::new(None),
            });
            *slot = Some(Arc::clone(&link));
            link
        };
        tokio::spawn(Arc::clone(self).run_link(link, target.tls, outcome_tx));
        outcome_rx.await.unwrap_or(Err(LinkError::Vanished))
    }

    /// `-mode disconnect`: ends the link's session (the pedclient gets Bye) and waits for it.
    pub(crate) async fn disconnect_appliance(&self, name: &str) -> Result<String, LinkError> {
        let link = self.link_slot().clone().filter(|l| l.name == name);
        let Some(link) = link else {
            return Err(LinkError::NotConnected(name.to_string()));
        };
        let mut done = link.done.subscribe();
        link.end.notify_one();
        let grace = self.config.internal_shutdown_timeout.get().max(Duration::from_secs(1));
        match tokio::time::timeout(grace, done.wait_for(|d| *d)).await {
            Ok(_) => Ok(format!("link to {name} ended")),
            Err(_) => Err(LinkError::DidNotEnd { name: name.to_string(), grace }),
        }
    }

    async fn run_link(
        self: Arc<Self>,
        link: Arc<Link>,
        tls: Arc<rustls::ClientConfig>,
        outcome: oneshot::Sender<Result<String, LinkError>>,
    ) {
        let connector = TlsConnector::from(tls);
        let per_attempt = link.config.common.socket_read_timeout.get();
        let delay = Duration::from_millis(link.config.connect_retry_delay_ms);
        let mut shutdown = self.shutdown.subscribe();
        let (name, address) = (link.name.clone(), link.address);
        let mut last = String::new();
        let mut result = None;
        let mut session = None;
        for n in 1..=MAX_ATTEMPTS {
            *lock(&link.attempt) = n;
            let tried = tokio::select! {
                r = tokio::time::timeout(per_attempt, attempt(&connector, address)) => r,
                why = interrupted(&link, &mut shutdown) => {
                    result = Some(Err(why));
                    break;
                }
            };
            match tried {
                Ok(Ok(stream)) => {
                    let (up, running) = self.relay_link(&link, stream, n).await;
                    (result, session) = (Some(up), running);
                    break;
                }
                Ok(Err(AttemptError::Fatal(why))) => {
                    tracing::warn!("link to {name} ({address}): {why}");
                    result = Some(Err(LinkError::TlsRefused(why)));
                    break;
                }
                Ok(Err(AttemptError::Retry(why))) => last = why,
                Err(_) => last = format!("no TLS connection within {per_attempt:?}"),
            }
            if n == MAX_ATTEMPTS {
                break;
            }
            tracing::info!("link to {name} ({address}): attempt {n} of {MAX_ATTEMPTS} failed ({last}); retrying");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                why = interrupted(&link, &mut shutdown) => {
                    result = Some(Err(why));
                    break;
                }
            }
        }
        let result = result.unwrap_or_else(|| Err(LinkError::GaveUp { name: name.clone(), address, last }));
        if let Err(why) = &result {
            tracing::warn!("link to {name} ({address}) failed: {why}");
        }
        let _ = outcome.send(result);
        // The link holds its slot (and `show` reports it) until its session ends.
        if let Some(session) = session {
            let _ = session.await;
        }
        let mut slot = self.link_slot();
        if slot.as_ref().is_some_and(|l| Arc::ptr_eq(l, &link)) {
            *slot = None;
        }
        drop(slot);
        link.done.send_replace(true);
    }

    /// Starts the relay session over the TLS stream. The answer to `-mode connect` is the
    /// session's hello exchange: `Ok` and the still running session as soon as it succeeds,
    /// `Err` if the session ends before it.
    async fn relay_link(
        self: &Arc<Self>,
        link: &Arc<Link>,
        stream: TlsStream<TcpStream>,
        n: u32,
    ) -> (Result<String, LinkError>, Option<JoinHandle<String>>) {
        let (tx, rx) = oneshot::channel();
        *lock(&link.established) = Some(tx);
        let peer = format!("appliance {} ({})", link.name, link.address);
        let mut session = tokio::spawn(Arc::clone(self).drive(stream, peer, None, Some(Arc::clone(link))));
        tokio::select! {
            Ok(()) = rx => {
                tracing::info!("link to {} ({}) up after {n} attempt(s)", link.name, link.address);
                let up = format!("{} after {n} attempt(s)", link.address);
                (Ok(up), Some(session))
            }
            ended = &mut session => {
                let reason = ended.unwrap_or_else(|e| e.to_string());
                (Err(LinkError::EndedBeforeHello(reason)), None)
            }
        }
    }
}
