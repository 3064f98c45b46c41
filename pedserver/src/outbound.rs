//! PED-initiated mode: the server connects out to a registered appliance's pedclient over
//! pinned mutual TLS (`tls`), retrying up to [`MAX_ATTEMPTS`] times, then relays exactly
//! as for an inbound pedclient: [`Server::drive`] over the TLS stream. pedserver still
//! speaks first and still plays the relay's server role; only the TCP direction changes.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::config::{self, Appliance, Config, TomlConfig};
use crate::server::Server;
use crate::status::LinkReport;
use crate::tls::{self, Identity, MAX_ATTEMPTS};

/// One PED-initiated link, from the first attempt until its session ends.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) name: String,
    address: SocketAddr,
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

/// What the link needs, resolved from the configuration file the command names.
struct Target {
    appliance: Appliance,
    tls: Arc<rustls::ClientConfig>,
}

/// Reads the appliance, this server's client identity and the pinned certificate; checks
/// the stored certificate against the fingerprint registered with it.
fn target(name: &str, config_file: &Path) -> Result<Target, String> {
    let config = Config::load(config_file).map_err(|e| e.to_string())?;
    let appliance = config
        .appliances
        .iter()
        .find(|a| a.name == name)
        .cloned()
        .ok_or_else(|| format!("no appliance named {name:?} is registered in {}", config_file.display()))?;
    let cn = config
        .client_common_name
        .ok_or("this server has no client certificate yet: run pedserver -regen -commonname NAME first")?;
    let cert_dir = config::cert_dir(config_file);
    let (cert_file, key_file) = tls::client_files(&cert_dir, &cn);
    let identity = Identity::load(&cert_file, &key_file).map_err(|e| e.to_string())?;
    let pinned = tls::read_certificate(&tls::appliance_file(&cert_dir, name)).map_err(|e| e.to_string())?;
    if tls::fingerprint(&pinned) != appliance.fingerprint {
        return Err(format!(
            "the stored certificate of {name:?} does not match its registered fingerprint: delete and register it again"
        ));
    }
    let tls = tls::client_config(&identity, pinned).map_err(|e| e.to_string())?;
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

impl Server {
    /// `-mode connect`: starts the link and answers once its relay session is up, or
    /// with why it could not be brought up.
    pub(crate) async fn connect_appliance(self: &Arc<Self>, name: &str, config_file: &Path) -> Result<String, String> {
        let target = target(name, config_file)?;
        let address = SocketAddr::new(target.appliance.ip, target.appliance.port);
        let (outcome_tx, outcome_rx) = oneshot::channel();
        let link = {
            let mut slot = self.link_slot();
            if let Some(existing) = slot.as_ref() {
                return Err(format!(
                    "already linked to appliance {:?}: run pedserver -mode disconnect -name {} first",
                    existing.name, existing.name
                ));
            }
            let link = Arc::new(Link {
                name: name.to_string(),
                address,
                attempt: Mutex::new(1),
                end: Notify::new(),
                done: watch::channel(false).0,
                established: Mutex::new(None),
            });
            *slot = Some(Arc::clone(&link));
            link
        };
        tokio::spawn(Arc::clone(self).run_link(link, target.tls, outcome_tx));
        outcome_rx.await.unwrap_or_else(|_| Err("the link ended unexpectedly".to_string()))
    }

    /// `-mode disconnect`: ends the link's session (the pedclient gets Bye) and waits for it.
    pub(crate) async fn disconnect_appliance(&self, name: &str) -> Result<String, String> {
        let link = self.link_slot().clone().filter(|l| l.name == name);
        let Some(link) = link else {
            return Err(format!("appliance {name:?} is not connected"));
        };
        let mut done = link.done.subscribe();
        link.end.notify_one();
        let grace = self.config.internal_shutdown_timeout.get().max(Duration::from_secs(1));
        match tokio::time::timeout(grace, done.wait_for(|d| *d)).await {
            Ok(_) => Ok(format!("link to {name} ended")),
            Err(_) => Err(format!("the link to {name} did not end within {grace:?}")),
        }
    }

    async fn run_link(
        self: Arc<Self>,
        link: Arc<Link>,
        tls: Arc<rustls::ClientConfig>,
        outcome: oneshot::Sender<Result<String, String>>,
    ) {
        let connector = TlsConnector::from(tls);
        let per_attempt = self.config.common.socket_read_timeout.get();
        let delay = Duration::from_millis(self.config.connect_retry_delay_ms);
        let mut shutdown = self.shutdown.subscribe();
        let (name, address) = (link.name.clone(), link.address);
        let mut last = String::new();
        let mut result = None;
        let mut session = None;
        for n in 1..=MAX_ATTEMPTS {
            *lock(&link.attempt) = n;
            let tried = tokio::select! {
                r = tokio::time::timeout(per_attempt, attempt(&connector, address)) => r,
                _ = link.ended() => {
                    result = Some(Err("disconnected before the link was up".to_string()));
                    break;
                }
                _ = shutdown.changed() => {
                    result = Some(Err("the server is stopping".to_string()));
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
                    result = Some(Err(format!("{why}; check that the fingerprints match on both sides")));
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
                _ = link.ended() => {
                    result = Some(Err("disconnected before the link was up".to_string()));
                    break;
                }
                _ = shutdown.changed() => {
                    result = Some(Err("the server is stopping".to_string()));
                    break;
                }
            }
        }
        let result = result.unwrap_or_else(|| {
            Err(format!("no connection to {name} ({address}) after {MAX_ATTEMPTS} attempts: {last}"))
        });
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
    ) -> (Result<String, String>, Option<JoinHandle<String>>) {
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
                let why = format!(
                    "the appliance ended the connection before its relay hello ({reason}); check that it registered \
        this server's client certificate"
                );
                (Err(why), None)
            }
        }
    }
}
