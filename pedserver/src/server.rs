//! The tokio adapter: listeners, the one active session, the admin port. The decisions
//! are the session state machine's (`session`) and the waiting room's (ped-daemon's
//! `admission`); this module moves bytes, keeps time and enforces the resource bounds
//! (refusals in flight).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ped_daemon::accept::{self, Pacer};
use ped_daemon::admin::{self, AdminLimits, AdminToken};
use ped_daemon::admission::Admission;
use ped_daemon::frames::READ_CHUNK;
use ped_daemon::settings::CommonConfig;
use ped_wire::device::{DeviceMessage, SessionEndReason};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::device::{self, DeviceHub, DeviceInbox, FromDevice};
use crate::outbound::Link;
use crate::session::{CloseReason, Output, Session, SessionTimes, Timeouts, busy};
use crate::status::{ClientReport, PedReport, StatusReport};

/// How long a refused connection may take: Busy written, and the peer's own close
/// awaited (see [`drain`]).
const REFUSAL_BOUND: Duration = Duration::from_secs(1);

/// Reads and drops what the peer of a refused connection sends until it closes its side.
/// Closing with its bytes (its hello) unread would send a reset instead of an orderly
/// close, and a reset makes the peer's kernel discard the Busy frame it has not read yet:
/// the peer would see a cut link instead of "busy". The caller bounds the wait.
async fn drain<S: AsyncRead + Unpin>(stream: &mut S) {
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
}

/// Refusals (a Busy frame, then close) in flight at once; beyond it, a connection is
/// closed without the courtesy. Bounds descriptors under a connection flood.
const MAX_REFUSING: usize = 256;
/// How long a newcomer waits, while another client holds the PED, before it is refused
/// Busy: the holder may have said Bye in bytes its task has not read yet (a client that
/// disconnects and connects again at once must not be refused by its own old session).
const HOLDER_GRACE: Duration = Duration::from_millis(250);
/// The read buffer of a session until it holds the PED: a hello is a few dozen bytes.
const HELLO_CHUNK: usize = 512;

/// The address a listener binds: everywhere (or `-ip`) when external, else loopback of
/// the family of `-ip`.
pub fn bind_ip(ip: Option<IpAddr>, external: bool) -> IpAddr {
    match (ip, external) {
        (Some(ip), true) => ip,
        (None, true) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        (Some(IpAddr::V6(_)), false) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        (_, false) => IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

/// The address the admin port binds. Unless external, IPv4 loopback whatever `-ip` says:
/// the seed's `-mode show` and `-mode stop` take no `-ip`, so they must find a server
/// started with an IPv6 `-ip` where they find every other.
fn admin_bind_ip(config: &Config) -> IpAddr {
    if config.external_admin { bind_ip(config.ip, true) } else { IpAddr::V4(Ipv4Addr::LOCALHOST) }
}

/// Where a local command reaches the admin port.
pub fn admin_addr(config: &Config) -> SocketAddr {
    let ip = match admin_bind_ip(config) {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, config.admin_port)
}

/// The client that holds the PED.
#[derive(Debug)]
struct Active {
    peer: String,
    software: String,
    times: SessionTimes,
}

/// Whether the PED serves a client.
#[derive(Debug)]
enum Holder {
    Free,
    Held(Active),
    /// The session ended and is telling the PED (bounded): the next client waits for it
    /// instead of being refused.
    Ending,
}

/// A connection in the waiting room: its place, and the news that it lost it.
#[derive(Debug)]
pub(crate) struct Waiting {
    id: u64,
    evicted: oneshot::Receiver<()>,
}

#[derive(Debug, Default)]
struct Totals {
    connection: Duration,
    idle: Duration,
}

/// The running server.
#[derive(Debug)]
pub struct Server {
    pub(crate) config: Config,
    /// The file the configuration came from: `-mode connect` finds appliances there.
    pub(crate) config_file: PathBuf,
    hub: Arc<DeviceHub>,
    started: Instant,
    server_addr: SocketAddr,
    admin_addr: SocketAddr,
    holder: watch::Sender<Holder>,
    totals: Mutex<Totals>,
    pub(crate) shutdown: watch::Sender<bool>,
    /// The PED-initiated link, from its first attempt until its session ends; one at a
    /// time, as the PED serves one HSM at a time.
    link: Mutex<Option<Arc<Link>>>,
    /// Connections that have not said hello yet; each has a channel to its task.
    admission: Mutex<Admission<oneshot::Sender<()>>>,
    next_id: AtomicU64,
    refusing: Arc<Semaphore>,
}

/// Listeners bound before the server runs, so a bind failure is reported at start.
#[derive(Debug)]
pub struct Bound {
    server: TcpListener,
    admin: TcpListener,
    token: AdminToken,
    inbox: DeviceInbox,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Server {
    /// Binds the server and admin ports, then writes the admin token beside `config_file`
    /// (the file `config` came from).
    pub async fn bind(config: Config, config_file: PathBuf) -> std::io::Result<(Arc<Server>, Bound)> {
        let server_ip = bind_ip(config.ip, config.external_server_port);
        let admin_ip = admin_bind_ip(&config);
        let server = accept::listen(SocketAddr::new(server_ip, config.server_port)).map_err(|e| {
            std::io::Error::new(e.kind(), format!("server port {server_ip}:{}: {e}", config.server_port))
        })?;
        let admin = TcpListener::bind((admin_ip, config.admin_port))
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("admin port {admin_ip}:{}: {e}", config.admin_port)))?;
        let token = AdminToken::issue(&admin::token_file(&config_file)).map_err(std::io::Error::other)?;
        let (hub, inbox) = DeviceHub::new();
        let (shutdown, _) = watch::channel(false);
        let s = Server {
            server_addr: server.local_addr()?,
            admin_addr: admin.local_addr()?,
            admission: Mutex::new(Admission::new(config.max_pending_connections)),
            next_id: AtomicU64::new(0),
            refusing: Arc::new(Semaphore::new(MAX_REFUSING)),
            config,
            config_file,
            hub,
            started: Instant::now(),
            holder: watch::channel(Holder::Free).0,
            totals: Mutex::new(Totals::default()),
            shutdown,
            link: Mutex::new(None),
        };
        Ok((Arc::new(s), Bound { server, admin, token, inbox }))
    }

    /// The bound server port.
    pub fn server_addr(&self) -> SocketAddr {
        self.server_addr
    }

    pub(crate) fn link_slot(&self) -> std::sync::MutexGuard<'_, Option<Arc<Link>>> {
        lock(&self.link)
    }

    /// Asks every task to end.
    pub fn stop(&self) {
        self.shutdown.send_replace(true);
    }

    /// The session timeouts of `common`: the server's, or an appliance link's.
    fn timeouts(common: &CommonConfig) -> Timeouts {
        Timeouts {
            idle: common.idle_timeout.get(),
            read: common.socket_read_timeout.get(),
            ping_interval: common.pings(),
            ping_timeout: common.ping_timeout.get(),
        }
    }

    /// Runs until [`Server::stop`] (the admin port's `stop`, or a signal), then gives
    /// the sessions `internal_shutdown_timeout` to say Bye.
    pub async fn run(self: Arc<Self>, bound: Bound) {
        let Bound { server, admin, token, inbox } = bound;
        tracing::info!(
            "pedserver {} listening on {} (admin {}), device {}",
            env!("CARGO_PKG_VERSION"),
            self.server_addr,
            self.admin_addr,
            self.config.device
        );
        let mut tasks = JoinSet::new();
        tasks.spawn(device::run(
            self.config.device.clone(),
            Arc::clone(&self.hub),
            inbox,
            Duration::from_micros(u64::from(self.config.ped_write_delay)),
            self.shutdown.subscribe(),
        ));
        let answer = {
            let server = Arc::clone(&self);
            move |line: String| {
                let server = Arc::clone(&server);
                async move { crate::admin::handle(&server, &line).await }
            }
        };
        let limits = AdminLimits::with_timeouts(
            self.config.common.socket_read_timeout.get(),
            self.config.common.socket_write_timeout.get(),
        );
        tasks.spawn(admin::serve(admin, self.shutdown.subscribe(), limits, token, answer));
        Arc::clone(&self).accept_loop(server).await;
        let grace = self.config.internal_shutdown_timeout.get();
        if tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await.is_err() {
            tracing::warn!("internal services did not end within {grace:?}; stopping anyway");
        }
        tracing::info!("pedserver stopped");
    }

    async fn accept_loop(self: Arc<Self>, listener: TcpListener) {
        let mut shutdown = self.shutdown.subscribe();
        let mut sessions: JoinSet<String> = JoinSet::new();
        let mut pacer = Pacer::default();
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        self.admit(stream, peer, &mut sessions);
                        pacer.accepted().await;
                    }
                    Err(e) => {
                        // Out of descriptors, most likely: back off instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        drop(listener);
        let grace = self.config.internal_shutdown_timeout.get();
        let _ = tokio::time::timeout(grace, async { while sessions.join_next().await.is_some() {} }).await;
    }

    fn admit(self: &Arc<Self>, stream: TcpStream, peer: SocketAddr, sessions: &mut JoinSet<String>) {
        let _ = stream.set_nodelay(true);
        if !matches!(*self.holder.borrow(), Holder::Held(_)) {
            sessions.spawn(self.wait_for_hello(stream, peer));
            return;
        }
        let Ok(permit) = Arc::clone(&self.refusing).try_acquire_owned() else { return };
        let server = Arc::clone(self);
        sessions.spawn(async move {
            let mut holder = server.holder.subscribe();
            let freed = tokio::time::timeout(HOLDER_GRACE, holder.wait_for(|h| !matches!(h, Holder::Held(_))));
            if matches!(freed.await, Ok(Ok(_))) {
                drop(permit);
                return server.wait_for_hello(stream, peer).await;
            }
            tracing::info!("refused {peer}: busy, another client holds the PED");
            refuse(stream).await;
            drop(permit);
            CloseReason::Busy.to_string()
        });
    }

    /// Takes the connection into the waiting room now, in the order of arrival, making
    /// room if it is full; its session runs in the future returned.
    fn wait_for_hello(
        self: &Arc<Self>,
        stream: TcpStream,
        peer: SocketAddr,
    ) -> impl Future<Output = String> + Send + 'static {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (evict, evicted) = oneshot::channel();
        if let Some(out) = lock(&self.admission).admit(Instant::now(), id, peer.ip(), evict) {
            tracing::debug!("evicting connection {} after {:?} without a hello", out.id, out.waited);
            let _ = out.handle.send(());
        }
        Arc::clone(self).drive(stream, peer.to_string(), Some(Waiting { id, evicted }), None)
    }

    /// Claims the PED for a session that said hello: at once if it is free, after the
    /// ending session has told the PED (bounded by `bound`), or not at all if another
    /// client holds it.
    async fn claim(&self, active: Active, bound: Duration) -> bool {
        let mut holder = self.holder.subscribe();
        let _ = tokio::time::timeout(bound, holder.wait_for(|h| !matches!(h, Holder::Ending))).await;
        self.holder.send_if_modified(|h| match h {
            Holder::Free => {
                *h = Holder::Held(active);
                true
            }
            Holder::Held(_) | Holder::Ending => false,
        })
    }

    /// Runs one session over any byte stream (TCP, or TLS in PED-initiated mode) and
    /// returns why it ended.
    pub(crate) async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
        self: Arc<Self>,
        mut stream: S,
        peer: String,
        mut waiting: Option<Waiting>,
        link: Option<Arc<Link>>,
    ) -> String {
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let common = link.as_ref().map_or(&self.config.common, |l| &l.config.common);
        let mut session = Session::new(Instant::now(), Self::timeouts(common), seed as u64);
        let write_timeout = common.socket_write_timeout.get();
        let mut shutdown = self.shutdown.subscribe();
        let mut from_device: Option<mpsc::Receiver<FromDevice>> = None;
        // Small until the hello: up to max-pending-connections sessions wait for one.
        let mut buf = vec![0u8; HELLO_CHUNK];
        let (reason, end) = 'session: loop {
            while let Some(output) = session.poll_output() {
                match output {
                    Output::ToClient(bytes) => {
                        match tokio::time::timeout(write_timeout, stream.write_all(&bytes)).await {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => {
                                break 'session (format!("write to client failed: {e}"), session.ped_notice(None));
                            }
                            Err(_) => break 'session ("socket write timeout".to_string(), session.ped_notice(None)),
                        }
                    }
                    Output::ToDevice(frame) => {
                        if !self.hub.send(frame).await {
                            session.handle_device_unplugged();
                        }
                    }
                    Output::StatusWanted => session.reply_status(self.hub.state().ped_status()),
                    Output::Established { software } => {
                        // Evicted meanwhile or not, it said hello: a client that speaks is
                        // what the waiting room is for.
                        if let Some(w) = waiting.take() {
                            lock(&self.admission).said_hello(w.id);
                        }
                        let active = Active { peer: peer.clone(), software: software.clone(), times: session.times() };
                        // An ending session's teardown: its shutdown (1 s at most), then
                        // telling the PED (the write timeout at most).
                        if self.claim(active, write_timeout + REFUSAL_BOUND).await {
                            let (tx, rx) = mpsc::channel(64);
                            self.hub.attach(Some(tx));
                            from_device = Some(rx);
                            buf.resize(READ_CHUNK, 0);
                            tracing::info!("client {peer} ({software}) holds the PED");
                            if let Some(link) = &link {
                                link.established();
                            }
                        } else {
                            session.refuse_busy();
                        }
                    }
                    Output::Close(reason) => break 'session (reason.to_string(), session.ped_notice(Some(&reason))),
                }
            }
            if from_device.is_some() {
                self.holder.send_if_modified(|h| {
                    if let Holder::Held(a) = h {
                        a.times = session.times();
                    }
                    false
                });
            }
            let deadline = session.poll_deadline().map(tokio::time::Instant::from_std);
            tokio::select! {
                read = stream.read(&mut buf) => match read {
                    Ok(0) => session.handle_client_closed(),
                    Ok(n) => session.handle_client_data(Instant::now(), &buf[..n]),
                    Err(e) => break 'session (format!("read from client failed: {e}"), session.ped_notice(None)),
                },
                event = recv(&mut from_device) => match event {
                    Some(FromDevice::Frame(frame)) => session.handle_device_frame(Instant::now(), frame),
                    Some(FromDevice::Unplugged) | None => session.handle_device_unplugged(),
                },
                _ = sleep_until(deadline) => session.handle_timeout(Instant::now()),
                _ = evicted(&mut waiting) => session.handle_evicted(),
                _ = shutdown.changed() => session.shutdown(),
                _ = ended(&link) => session.shutdown(),
            }
        };
        if from_device.is_some() {
            self.holder.send_replace(Holder::Ending);
        }
        if let Some(w) = waiting {
            lock(&self.admission).closed(w.id);
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
        if reason == CloseReason::Busy.to_string() {
            let _ = tokio::time::timeout(REFUSAL_BOUND, drain(&mut stream)).await;
        }
        if from_device.is_some() {
            self.hub.attach(None);
            // Before the PED is free for the next client: its frames then follow this one.
            if let Some(end) = end {
                self.tell_ped(end, write_timeout).await;
            }
            let times = session.times();
            let mut totals = lock(&self.totals);
            totals.connection += times.connected_at.elapsed();
            totals.idle += times.idle_total + Duration::from_secs(times.last_activity.elapsed().as_secs());
            self.hub.refresh_info();
            self.holder.send_replace(Holder::Free);
        }
        let quiet = reason == CloseReason::Busy.to_string() || reason == CloseReason::ClientBye.to_string();
        if quiet {
            tracing::info!("closed {peer}: {reason}");
        } else {
            tracing::warn!("closed {peer}: {reason}");
        }
        reason
    }

    /// Tells the PED that the session it served is over (protocol §15.1): over USB it
    /// cannot see the client go, and would go on showing the HSM as connected.
    async fn tell_ped(&self, reason: SessionEndReason, bound: Duration) {
        let Ok(frame) = (DeviceMessage::SessionEnded { reason }).encode() else { return };
        match tokio::time::timeout(bound, self.hub.send(frame)).await {
            Ok(true) => tracing::debug!("told the PED the session ended: {reason:?}"),
            Ok(false) => {}
            Err(_) => tracing::warn!("the PED's queue stayed full; it was not told the session ended"),
        }
    }

    /// The status block's values, now.
    pub fn report(&self) -> StatusReport {
        let state = self.hub.state();
        let info = state.info.clone().unwrap_or_else(|| ped_wire::device::PedInfo {
            firmware_version: String::new(),
            serial: String::new(),
            mode: ped_wire::device::PedMode::SelectMode,
            protocol_versions: Vec::new(),
            rpk_serials: Vec::new(),
        });
        let up = self.started.elapsed();
        let client = match &*self.holder.borrow() {
            Holder::Held(a) => Some(ClientReport {
                address: a.peer.clone(),
                software: a.software.clone(),
                connection_secs: a.times.connected_at.elapsed().as_secs(),
                idle_secs: a.times.last_activity.elapsed().as_secs(),
                total_idle_secs: (a.times.idle_total + Duration::from_secs(a.times.last_activity.elapsed().as_secs()))
                    .as_secs(),
            }),
            Holder::Free | Holder::Ending => None,
        };
        let appliance_link = self.link_slot().as_ref().map(|l| l.report());
        let totals = lock(&self.totals);
        let total_conn = totals.connection.as_secs() + client.as_ref().map_or(0, |c| c.connection_secs);
        let total_idle = totals.idle.as_secs() + client.as_ref().map_or(0, |c| c.total_idle_secs);
        StatusReport {
            pid: std::process::id(),
            hostname: rustix::system::uname().nodename().to_string_lossy().into_owned(),
            ip: self.server_addr.ip().to_string(),
            software_version: env!("CARGO_PKG_VERSION").to_string(),
            device: self.config.device.to_string(),
            ped: PedReport {
                connected: state.connected,
                firmware_version: info.firmware_version,
                serial: info.serial,
                protocol_versions: info.protocol_versions,
                rpk_serials: info.rpk_serials,
            },
            client,
            server_port: self.server_addr.port(),
            external_server_interface: self.config.external_server_port,
            admin_port: self.admin_addr.port(),
            external_admin_interface: self.config.external_admin,
            server_up_secs: up.as_secs(),
            server_idle_secs: up.as_secs().saturating_sub(total_conn),
            idle_timeout_secs: self.config.common.idle_timeout,
            total_connection_secs: total_conn,
            total_connection_idle_secs: total_idle,
            appliance_link,
        }
    }
}

/// Busy, then close; bounded, and never waiting on the peer for long.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(REFUSAL_BOUND, async {
        if stream.write_all(&busy()).await.is_ok() && stream.shutdown().await.is_ok() {
            drain(&mut stream).await;
        }
    })
    .await;
}

/// Resolves when the waiting room needs this connection's place.
async fn evicted(waiting: &mut Option<Waiting>) {
    if let Some(w) = waiting
        && (&mut w.evicted).await.is_ok()
    {
        return;
    }
    std::future::pending().await
}

async fn recv(rx: &mut Option<mpsc::Receiver<FromDevice>>) -> Option<FromDevice> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn ended(link: &Option<Arc<Link>>) {
    match link {
        Some(link) => link.ended().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_bind_where_the_flags_say() {
        let v6: IpAddr = "fd00::5".parse().unwrap();
        assert_eq!(bind_ip(None, true), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(bind_ip(None, false), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(bind_ip(Some(v6), true), v6);
        assert_eq!(bind_ip(Some(v6), false), IpAddr::V6(Ipv6Addr::LOCALHOST));
        let c = Config::default();
        assert_eq!(admin_addr(&c), "127.0.0.1:1502".parse().unwrap());
        let c = Config { external_admin: true, ..Config::default() };
        assert_eq!(admin_addr(&c), "127.0.0.1:1502".parse().unwrap());
        // An IPv6 -ip moves the server port's loopback, not the admin port's.
        let c = Config { ip: Some(v6), ..Config::default() };
        assert_eq!(admin_addr(&c), "127.0.0.1:1502".parse().unwrap());
        let c = Config { ip: Some(v6), external_admin: true, ..Config::default() };
        assert_eq!(admin_addr(&c), SocketAddr::new(v6, 1502));
    }
}
