//! The running pedclient: the HSM link socket, the admin port and, in PED-initiated
//! mode, the TLS listener (`pedinit`). Each HSM connection is a [`Link`] state machine
//! driven here: this module moves bytes, dials pedserver, and sleeps until the link's
//! next deadline; every decision is the link's.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ped_daemon::accept::{self, Pacer};
use ped_daemon::admin::{self, AdminLimits, AdminToken};
use ped_daemon::admission::Admission;
use ped_daemon::config_file::TomlConfig;
use ped_daemon::frames::READ_CHUNK;
use ped_wire::ErrorCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::audit_log::{AuditConfig, AuditSink};
use crate::config::Config;
use crate::hsm_session::{Link, Output, Timeouts, host_port};
use crate::pedinit::{self, Parked};
use crate::status::{LinkReport, PedInitiatedReport, StatusReport};

/// A byte stream to pedserver: TCP, or TLS in PED-initiated mode.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A connection to pedserver.
pub type ServerStream = Box<dyn Io>;

/// The admin port's address: localhost unless `-eadmin 1`.
pub fn admin_addr(config: &Config) -> SocketAddr {
    let ip = if config.external_admin { IpAddr::V4(Ipv4Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::LOCALHOST) };
    SocketAddr::new(ip, config.admin_port)
}

/// Where the admin commands connect: the loopback even when the port listens on all.
pub fn admin_target(config: &Config) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), config.admin_port)
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug)]
struct LinkEntry {
    report: LinkReport,
    up_since: Option<Instant>,
}

/// The running daemon.
#[derive(Debug)]
pub struct Daemon {
    config: Config,
    config_file: PathBuf,
    hsm_link: PathBuf,
    started: Instant,
    stop: watch::Sender<bool>,
    links: Mutex<BTreeMap<u64, LinkEntry>>,
    next_key: AtomicU64,
    /// PED-initiated mode: the pedserver connection waiting for an HSM.
    pub(crate) parked: Mutex<Option<Parked>>,
    /// PED-initiated mode: the pedserver connected now (parked or in use), for `show`.
    pub(crate) ped_link: Mutex<Option<String>>,
    ped_listen: Option<(SocketAddr, String)>,
    /// The HSMs' audit logs: each link hands its HSM's records here.
    audit: AuditSink,
}

/// The listeners, bound before the daemon reports itself started.
pub struct Bound {
    admin: TcpListener,
    token: AdminToken,
    hsm: UnixListener,
    ped: Option<(TcpListener, TlsAcceptor)>,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound").field("admin", &self.admin).field("hsm", &self.hsm).finish_non_exhaustive()
    }
}

/// Resolves once the daemon is stopping (the watch guard is not held across awaits).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Binds the HSM link socket, mode 0660 and owned by `group` (this process's group when
/// none is named): the HSM's users reach it through that group, whatever the umask (systemd's
/// 0022 would leave it writable by pedclient's user alone, and connecting needs write
/// permission). A socket file left by a crash is replaced; one that a running pedclient
/// answers on is not.
fn bind_hsm_link(path: &Path, group: Option<&str>) -> Result<UnixListener, String> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("HSM link directory {}: {e}", dir.display()))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(format!("another pedclient already serves the HSM link {}", path.display()));
        }
        std::fs::remove_file(path).map_err(|e| format!("stale HSM link {}: {e}", path.display()))?;
    }
    let gid = group.map(group_id).transpose()?;
    let listener = UnixListener::bind(path).map_err(|e| format!("HSM link {}: {e}", path.display()))?;
    // Between the bind and these calls the socket has the umask's mode, which under any
    // usual umask (0022, 0027, 0077) lets no one but pedclient's user connect.
    if let Some((gid, name)) = gid.zip(group) {
        std::os::unix::fs::chown(path, None, Some(gid)).map_err(|e| {
            format!(
                "HSM link {}: cannot give it to group {name} ({e}): pedclient's user must be a member",
                path.display()
            )
        })?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| format!("HSM link {}: {e}", path.display()))?;
    Ok(listener)
}

/// A group named by `-hsmlinkgroup`: its number, or the number of the group of that name.
fn group_id(group: &str) -> Result<u32, String> {
    if let Ok(gid) = group.parse() {
        return Ok(gid);
    }
    match nix::unistd::Group::from_name(group) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(format!("HSM link group {group}: no such group (-hsmlinkgroup, hsm-link-group)")),
        Err(e) => Err(format!("HSM link group {group}: {e}")),
    }
}

impl Daemon {
    /// Binds the admin port, the HSM link and (PED-initiated mode) the TLS listener.
    pub async fn bind(config: Config, config_file: PathBuf, hsm_link: PathBuf) -> Result<(Arc<Daemon>, Bound), String> {
        let audit = audit_sink(&config)?;
        let admin_at = admin_addr(&config);
        let admin = TcpListener::bind(admin_at)
            .await
            .map_err(|e| format!("admin port {admin_at}: {e}: {}", ErrorCode::RcSocketError))?;
        let token = AdminToken::issue(&admin::token_file(&config_file)).map_err(|e| e.to_string())?;
        let (ped, ped_listen) = if config.ped_initiated {
            let acceptor = pedinit::acceptor(&config, &config_file).map_err(|e| e.to_string())?;
            let ip = config.listen_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            let at = SocketAddr::new(ip, config.listen_port);
            let listener = accept::listen(at)
                .map_err(|e| format!("PED-initiated port {at}: {e}: {}", ErrorCode::RcSocketError))?;
            let pinned = config.pedserver.as_ref().map(|p| p.common_name.clone()).unwrap_or_default();
            (Some((listener, acceptor)), Some((at, pinned)))
        } else {
            (None, None)
        };
        let hsm = bind_hsm_link(&hsm_link, config.hsm_link_group.as_deref())?;
        let daemon = Arc::new(Daemon {
            config,
            config_file,
            hsm_link,
            started: Instant::now(),
            stop: watch::channel(false).0,
            links: Mutex::default(),
            next_key: AtomicU64::new(1),
            parked: Mutex::default(),
            ped_link: Mutex::default(),
            ped_listen,
            audit,
        });
        Ok((daemon, Bound { admin, token, hsm, ped }))
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Asks every task to end.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    pub(crate) fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Runs until [`Daemon::stop`]; the HSMs then hear that pedclient stops, pedservers
    /// get Bye, and the tasks get `shutdown_timeout` to finish.
    pub async fn run(self: Arc<Self>, bound: Bound) {
        let Bound { admin, token, hsm, ped } = bound;
        tracing::info!(
            "pedclient {} serving the HSM link {} (admin {})",
            env!("CARGO_PKG_VERSION"),
            self.hsm_link.display(),
            admin_addr(&self.config)
        );
        let mut tasks = JoinSet::new();
        let answer = {
            let daemon = Arc::clone(&self);
            move |line: String| std::future::ready(daemon.admin_answer(&line))
        };
        // The socket read timeout bounds the answer too.
        let timeout = self.config.common.socket_read_timeout.get();
        let limits = AdminLimits::with_timeouts(timeout, timeout);
        tasks.spawn(admin::serve(admin, self.stopping(), limits, token, answer));
        if let Some((listener, acceptor)) = ped {
            tasks.spawn(Arc::clone(&self).listen_ped(listener, acceptor));
        }
        let mut stop = self.stopping();
        loop {
            tokio::select! {
                _ = stopped(&mut stop) => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                accepted = hsm.accept() => match accepted {
                    Ok((stream, _)) => {
                        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
                        tasks.spawn(Arc::clone(&self).serve_hsm(stream, key));
                    }
                    Err(e) => {
                        tracing::warn!("HSM link accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        drop(hsm);
        let _ = std::fs::remove_file(&self.hsm_link);
        let grace = self.config.shutdown_timeout.get();
        if tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await.is_err() {
            tracing::warn!("internal services did not end within {grace:?}; stopping anyway");
        }
        tracing::info!("pedclient stopped");
    }

    /// PED-initiated mode: accepts pedserver's connections until the daemon stops. Only
    /// the registered pedserver can finish the TLS handshake, but anyone can start one:
    /// at most [`MAX_HANDSHAKES`] wait at once, and when more arrive the one that waited
    /// longest (of the address with the most waiting) is dropped, as pedserver's waiting
    /// room does with hellos.
    async fn listen_ped(self: Arc<Self>, listener: TcpListener, acceptor: TlsAcceptor) {
        let mut stop = self.stopping();
        let mut waiting: Admission<AbortHandle> = Admission::new(MAX_HANDSHAKES);
        let mut handshakes = JoinSet::new();
        let mut next_id = 0u64;
        let mut pacer = Pacer::default();
        let timeout = self.config.common.socket_read_timeout.get();
        loop {
            tokio::select! {
                _ = stopped(&mut stop) => return,
                Some(done) = handshakes.join_next(), if !handshakes.is_empty() => {
                    if let Ok((id, stream)) = done {
                        waiting.closed(id);
                        if let Some((stream, peer)) = stream {
                            tokio::spawn(pedinit::admit(Arc::clone(&self), stream, peer));
                        }
                    }
                }
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        if lock(&self.ped_link).is_some() {
                            tracing::warn!("PED-initiated: refused {peer}: a pedserver is already connected");
                            continue;
                        }
                        let _ = tcp.set_nodelay(true);
                        let id = next_id;
                        next_id += 1;
                        let task = handshakes.spawn(handshake(id, acceptor.clone(), tcp, peer, timeout));
                        if let Some(out) = waiting.admit(Instant::now(), id, peer.ip(), task) {
                            out.handle.abort();
                            tracing::warn!(
                                "PED-initiated: dropped a TLS handshake after {:?}: {MAX_HANDSHAKES} were waiting",
                                out.waited
                            );
                        }
                        pacer.accepted().await;
                    }
                    Err(e) => {
                        tracing::warn!("PED-initiated accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
    }

    /// The status for `show`.
    pub fn report(&self) -> StatusReport {
        let links = lock(&self.links)
            .values()
            .map(|e| LinkReport { connected_secs: e.up_since.map_or(0, |t| t.elapsed().as_secs()), ..e.report.clone() })
            .collect();
        StatusReport {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            hsm_link: self.hsm_link.display().to_string(),
            admin_port: self.config.admin_port,
            uptime_secs: self.started.elapsed().as_secs(),
            idle_timeout: self.config.common.idle_timeout,
            ignore_idle_timeout: self.config.ignore_idle_timeout,
            ped_initiated: self.ped_listen.as_ref().map(|(at, pinned)| PedInitiatedReport {
                listen: at.to_string(),
                pedserver: pinned.clone(),
                connected: lock(&self.ped_link).clone(),
            }),
            links,
        }
    }

    /// One request line, one answer line (the admin protocol pedserver has too): `show`
    /// → the report as JSON, `stop` → `ok` (ped-daemon's `admin` lets `stop` through only
    /// with the admin token).
    fn admin_answer(&self, line: &str) -> String {
        match line {
            "show" => serde_json::to_string(&self.report()).unwrap_or_else(|e| format!("error {e}")),
            "stop" => {
                tracing::info!("stop requested on the admin port");
                self.stop();
                "ok".to_string()
            }
            other => {
                tracing::warn!("unknown admin request {other:?}");
                format!("error unknown request {other:?}")
            }
        }
    }

    fn timeouts(&self) -> Timeouts {
        let c = &self.config;
        Timeouts {
            idle: Some(c.common.idle_timeout.get()),
            read: c.common.socket_read_timeout.get(),
            ping_interval: c.common.pings(),
            ping_timeout: c.common.ping_timeout.get(),
        }
    }

    fn update(&self, key: u64, f: impl FnOnce(&mut LinkEntry)) {
        if let Some(entry) = lock(&self.links).get_mut(&key) {
            f(entry);
        }
    }

    /// One HSM's connection, from accept until either side ends it.
    async fn serve_hsm(self: Arc<Self>, hsm: UnixStream, key: u64) {
        tracing::info!("HSM link {key}: an HSM connected");
        let empty =
            LinkReport { hsm_serial: None, pedserver: None, firmware: None, connected_secs: 0, last_closed: None };
        lock(&self.links).insert(key, LinkEntry { report: empty, up_since: None });
        let (mut hsm_read, mut hsm_write) = tokio::io::split(hsm);
        let nonce_seed = u64::from(std::process::id()) << 32 | key;
        let mut link = Link::new(Instant::now(), self.timeouts(), nonce_seed);
        let mut server: Option<(ReadHalf<ServerStream>, WriteHalf<ServerStream>)> = None;
        let write_timeout = self.config.common.socket_write_timeout.get();
        let mut stop = self.stopping();
        let (mut hsm_buf, mut server_buf) = (vec![0u8; READ_CHUNK], vec![0u8; READ_CHUNK]);
        if *stop.borrow() {
            link.shutdown();
        }
        loop {
            while let Some(output) = link.poll_output() {
                match output {
                    Output::ToHsm(frame) => {
                        if !write_frame(&mut hsm_write, &frame, write_timeout).await {
                            link.handle_hsm_closed();
                        }
                    }
                    Output::ToServer(frame) => {
                        let sent = match server.as_mut() {
                            Some((_, w)) => write_frame(w, &frame, write_timeout).await,
                            None => true,
                        };
                        if !sent {
                            link.handle_server_closed();
                        }
                    }
                    Output::Dial { hsm_serial, host, port } => {
                        self.update(key, |e| e.report.hsm_serial = Some(hsm_serial.clone()));
                        match self.dial(&hsm_serial, &host, port).await {
                            Ok(Dialled { stream, target, idle_applies, adopted }) => {
                                tracing::info!("HSM link {key}: HSM {hsm_serial} reaches pedserver at {target}");
                                self.update(key, |e| e.report.pedserver = Some(target.clone()));
                                let (r, w) = tokio::io::split(stream);
                                server = Some((r, w));
                                let now = Instant::now();
                                match adopted {
                                    Some((leftover, address)) => {
                                        link.adopted(now, target, address, idle_applies);
                                        link.handle_server_data(now, &leftover);
                                    }
                                    None => link.dialled(now, target, idle_applies),
                                }
                            }
                            Err((code, why)) => link.dial_failed(code, why),
                        }
                    }
                    Output::CloseServer => {
                        if let Some((_, mut w)) = server.take() {
                            // TLS: close_notify; TCP: FIN. Bounded: a dead peer cannot hold us.
                            let _ = tokio::time::timeout(write_timeout, w.shutdown()).await;
                        }
                    }
                    Output::CloseHsm => {
                        let _ = tokio::time::timeout(write_timeout, hsm_write.shutdown()).await;
                    }
                    Output::Up { software, firmware } => {
                        tracing::info!("HSM link {key}: remote PED link up: {software}, PED firmware {firmware}");
                        self.update(key, |e| {
                            e.report.firmware = Some(firmware);
                            e.up_since = Some(Instant::now());
                        });
                    }
                    Output::Audit(record) => self.audit.send(record),
                    Output::AuditRotation { hsm_serial, rotate_size, rotate_count } => {
                        tracing::info!(
                            "HSM link {key}: HSM {hsm_serial}'s Auditor set its audit log rotation: {rotate_size} bytes, {rotate_count} files"
                        );
                        self.audit.rotate(hsm_serial, rotate_size, rotate_count);
                    }
                    Output::Down { code, message } => {
                        let named = ErrorCode::from_value(code).map_or(format!("0x{code:08x}"), |c| c.to_string());
                        let text = if code == 0 { message } else { format!("{message} ({named})") };
                        tracing::info!("HSM link {key}: remote PED link ended: {text}");
                        self.update(key, |e| {
                            e.report.pedserver = None;
                            e.report.firmware = None;
                            e.report.last_closed = Some(text);
                            e.up_since = None;
                        });
                    }
                }
            }
            if link.is_closed() {
                break;
            }
            let deadline = link.poll_deadline();
            tokio::select! {
                read = hsm_read.read(&mut hsm_buf) => match read {
                    Ok(0) | Err(_) => link.handle_hsm_closed(),
                    Ok(n) => link.handle_hsm_data(Instant::now(), &hsm_buf[..n]),
                },
                read = read_server(&mut server, &mut server_buf) => match read {
                    Ok(0) | Err(_) => link.handle_server_closed(),
                    Ok(n) => link.handle_server_data(Instant::now(), &server_buf[..n]),
                },
                _ = sleep_until(deadline) => link.handle_timeout(Instant::now()),
                _ = stopped(&mut stop) => link.shutdown(),
            }
        }
        lock(&self.links).remove(&key);
        tracing::info!("HSM link {key}: the HSM link closed");
    }

    /// Reaches pedserver for an HSM's Connect. An empty host means the PED ID assigned
    /// to the HSM's serial, read from the configuration file now, so `setid`/`assignid`
    /// made while pedclient runs count. In PED-initiated mode the parked connection that
    /// pedserver opened is taken over instead.
    async fn dial(&self, serial: &str, host: &str, port: u16) -> Result<Dialled, (ErrorCode, String)> {
        let via_mapping = host.is_empty();
        let idle_applies = !(via_mapping && self.config.ignore_idle_timeout);
        if self.config.ped_initiated {
            return match pedinit::claim(self).await {
                Some(claimed) => Ok(Dialled {
                    stream: claimed.stream,
                    target: claimed.peer,
                    idle_applies,
                    adopted: Some((claimed.leftover, claimed.address)),
                }),
                None => Err((
                    ErrorCode::CkrPedUnplugged,
                    "no pedserver is connected (PED-initiated mode); run pedserver -mode connect on the PED host"
                        .into(),
                )),
            };
        }
        let (host, port) = if via_mapping {
            let config = Config::load(&self.config_file).unwrap_or_else(|_| self.config.clone());
            match config.assigned_to(serial) {
                Some(m) => (m.host.clone(), m.port),
                None => {
                    let why = format!(
                        "no PED ID is assigned to HSM {serial}; give -ip and -port, or pedclient -mode assignid"
                    );
                    return Err((ErrorCode::RcSocketError, why));
                }
            }
        } else {
            (host.to_string(), port)
        };
        let target = host_port(&host, port);
        let timeout = self.config.common.socket_read_timeout.get();
        match tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port))).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                Ok(Dialled { stream: Box::new(stream), target, idle_applies, adopted: None })
            }
            Ok(Err(e)) => Err((ErrorCode::RcSocketError, format!("cannot connect to pedserver at {target}: {e}"))),
            Err(_) => Err((
                ErrorCode::RcOperationTimedOut,
                format!("pedserver at {target} did not accept the connection within {} s", timeout.as_secs()),
            )),
        }
    }
}

/// The audit log writer: in `audit-dir` (the command line resolves the default beside the
/// log file), rotated as configured.
fn audit_sink(config: &Config) -> Result<AuditSink, String> {
    let dir = config.audit_dir.clone().unwrap_or_else(|| PathBuf::from("audit"));
    let audit = AuditConfig { dir, rotate_size: config.audit_rotate_size, rotate_count: config.audit_rotate_count };
    AuditSink::start(audit).map_err(|e| format!("audit log writer: {e}"))
}

/// PED-initiated mode: TLS handshakes in progress at once (a descriptor and a TLS state
/// each); pedserver's real one is over in a few round trips.
const MAX_HANDSHAKES: usize = 64;

/// One TLS handshake, bounded by the socket read timeout: the stream, or `None` (logged).
async fn handshake(
    id: u64,
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
    timeout: Duration,
) -> (u64, Option<(TlsStream<TcpStream>, SocketAddr)>) {
    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => (id, Some((stream, peer))),
        Ok(Err(e)) => {
            tracing::warn!("PED-initiated: TLS handshake with {peer} refused: {e}");
            (id, None)
        }
        Err(_) => {
            tracing::warn!("PED-initiated: TLS handshake with {peer} timed out");
            (id, None)
        }
    }
}

struct Dialled {
    stream: ServerStream,
    target: String,
    idle_applies: bool,
    /// PED-initiated: the bytes pedserver sent after its hello, not yet handled, and
    /// its address.
    adopted: Option<(Vec<u8>, String)>,
}

async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, frame: &[u8], timeout: Duration) -> bool {
    let write = async {
        w.write_all(frame).await?;
        w.flush().await
    };
    matches!(tokio::time::timeout(timeout, write).await, Ok(Ok(())))
}

async fn read_server(
    server: &mut Option<(ReadHalf<ServerStream>, WriteHalf<ServerStream>)>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match server {
        Some((r, _)) => r.read(buf).await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}
