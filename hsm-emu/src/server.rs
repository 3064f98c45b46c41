//! `hsm-emu serve`: the HSM as a process, a thin pump around the sans-IO parts. A
//! control socket takes one lunacm-style command per connection (a JSON array of
//! words, parsed by [`lunacm`](crate::lunacm)) and streams back the lines lunacm would
//! print, ending with `Command Result : …`. Each PED link is a
//! [`Conductor`](crate::conductor::Conductor) and a [`Link`]: this module moves bytes
//! between the two, reads the clock and lends the RNG (both chosen at start-up).
//!
//! One lock guards the HSM and its PED link: a command that needs the PED holds it
//! for the whole PED interaction, so a `ped connect` arriving meanwhile is refused
//! rather than queued (a local PED operation in progress blocks a remote connect).
//! While a remote link is up every command uses it and the local PED is ignored. The
//! remote link's end is noticed as it happens (pedclient's Closed, read by the link's own
//! thread): the next command that looks (`ped show`, `ped connect`) finds it over, and why.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, TryLockError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use getrandom::SysRng;
use ped_proto::ErrorCode;
use ped_proto::secrets::{OneTimePassword, PasswordDigits};
use rand_core::{CryptoRng, UnwrapErr};

use crate::channel::Auth;
use crate::conductor::{Conductor, LinkState, Output, Timeouts, ended_before};
use crate::error::{Code, HsmCode, HsmError};
use crate::hsm::{Hsm, Request, RoleName};
use crate::link::Link;
use crate::lunacm::{self, Command, Connect, LinkEnd, Password, ShownLink, Status};
use crate::state::Store;

/// Default pedserver port.
pub const DEFAULT_PED_PORT: u16 = 1503;

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The state directory.
    pub state: PathBuf,
    /// The serial given at manufacture (ignored once manufactured).
    pub serial: String,
    /// The control socket.
    pub control: PathBuf,
    /// The local PED's emulated USB endpoint, if one is plugged in.
    pub local_ped: Option<PathBuf>,
    /// pedclient's HSM link socket.
    pub pedclient: Option<PathBuf>,
    /// The PED-key action timeout (the PED's own is 200 s); the HSM waits this long,
    /// plus [`ServeConfig::link_timeout`], for each PED reply.
    pub key_timeout: Duration,
    /// How long pedclient may take to report Connected, and the margin on PED replies.
    pub link_timeout: Duration,
    /// A fixed clock at start, Unix seconds (tests with certificates for an instant).
    pub unix_time: Option<u64>,
    /// The state directory of an HSM of the factory a new HSM is made in; `None`: a
    /// factory of its own.
    pub manufacturer: Option<PathBuf>,
}

/// The clock the HSM reads: the time since the Unix epoch (certificates' validity,
/// and the deadlines of [`Conductor::poll_timeout`]).
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Duration;
}

/// The system's clock, read once at start (or set there: `--unix-time`) and then
/// carried forward by the monotonic clock, so deadlines never jump.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Duration,
    start: Instant,
}

impl SystemClock {
    /// Starts at `unix_time` seconds, or at the wall clock's time if `None`.
    pub fn starting_at(unix_time: Option<u64>) -> Self {
        let origin = unix_time
            .map(Duration::from_secs)
            .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default());
        SystemClock { origin, start: Instant::now() }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin + self.start.elapsed()
    }
}

/// The RNG the HSM draws from (keys, handshakes, one-time passwords).
pub type Rng = Box<dyn CryptoRng + Send>;

/// The operating system's RNG.
pub fn os_rng() -> Rng {
    Box::new(UnwrapErr(SysRng))
}

/// A PED link: its conduct and its transport.
struct Peer {
    conductor: Conductor,
    link: Link,
}

struct Shared {
    hsm: Hsm,
    store: Store,
    rng: Rng,
    ped: Option<Peer>,
    /// How the last remote link ended, for `ped show`; cleared by the next `ped connect`.
    last_end: Option<LinkEnd>,
}

impl Shared {
    /// Tells the conductor of a remote link that pedclient ended meanwhile, then drops
    /// the link if it is over.
    fn reap(&mut self, now: Duration) {
        if let Some(peer) = self.ped.as_mut()
            && peer.conductor.is_remote()
            && let Some(e) = peer.link.ended()
        {
            peer.conductor.handle_link_error(now, &mut self.hsm, e);
        }
        self.settle();
    }

    /// Drops a link that is over; a remote one's end is kept, for `ped show` and the
    /// next PED command.
    fn settle(&mut self) {
        if let Some(peer) = &self.ped
            && let LinkState::Ended(end) = peer.conductor.state()
        {
            if peer.conductor.is_remote()
                && let Some(e) = end
            {
                self.last_end = Some(LinkEnd::Failed(e.clone()));
            }
            self.ped = None;
        }
    }
}

type Out<'a> = &'a mut dyn FnMut(&str);

impl Peer {
    /// Carries out the conductor's output (frames to the link, lines to `out`), feeding
    /// it what the link brings and its timeouts, until it reports `ped connect`'s or the
    /// command's end.
    fn pump(
        &mut self,
        clock: &dyn Clock,
        hsm: &mut Hsm,
        rng: &mut (dyn CryptoRng + Send),
        out: Out<'_>,
    ) -> Result<(), HsmError> {
        loop {
            let mut done = None;
            while let Some(output) = self.conductor.poll_output() {
                match output {
                    // A frame that fails to go after the command is over (a HandshakeFailed)
                    // is not its failure: the next command finds the link's state.
                    Output::Transmit(frame) => {
                        if let Err(e) = self.link.send(&frame)
                            && self.conductor.is_busy()
                        {
                            self.conductor.handle_link_error(clock.now(), hsm, e);
                        }
                    }
                    Output::Line(line) => out(&line),
                    Output::Done(result) => done = Some(result),
                    // The link is dropped once the conductor reports it ended (`settle`).
                    Output::Close => {}
                }
            }
            if let Some(result) = done {
                return result;
            }
            let Some(deadline) = self.conductor.poll_timeout() else {
                return Err(HsmError::ped(ErrorCode::PedError));
            };
            match self.link.recv(deadline.saturating_sub(clock.now())) {
                Ok(frame) => self.conductor.handle_frame(clock.now(), hsm, rng, &frame),
                Err(e) if e.code == Code::Ped(ErrorCode::RcOperationTimedOut) => {
                    self.conductor.handle_timeout(clock.now(), hsm);
                }
                Err(e) => self.conductor.handle_link_error(clock.now(), hsm, e),
            }
        }
    }

    /// Sends what the conductor has left to send, best effort (the link is ending).
    fn flush(&mut self) {
        while let Some(output) = self.conductor.poll_output() {
            if let Output::Transmit(frame) = output {
                let _ = self.link.send(&frame);
            }
        }
    }
}

/// The running HSM.
pub struct Server {
    config: ServeConfig,
    clock: Box<dyn Clock>,
    shared: Mutex<Shared>,
    started: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("control", &self.config.control).finish_non_exhaustive()
    }
}

impl Server {
    /// Loads (or manufactures) the HSM, on the system clock and the OS RNG.
    pub fn new(config: ServeConfig) -> Result<Self, HsmError> {
        let clock = SystemClock::starting_at(config.unix_time);
        Self::with(config, Box::new(clock), os_rng())
    }

    /// Loads (or manufactures) the HSM on `clock` and `rng`.
    pub fn with(config: ServeConfig, clock: Box<dyn Clock>, mut rng: Rng) -> Result<Self, HsmError> {
        let store = Store::open(&config.state).map_err(|e| HsmError::hsm(HsmCode::GeneralError, e.to_string()))?;
        let started = clock.now();
        let manufacturer = config
            .manufacturer
            .as_ref()
            .map(Store::open)
            .transpose()
            .map_err(|e| HsmError::hsm(HsmCode::GeneralError, e.to_string()))?;
        let hsm = Hsm::start_from(&store, &config.serial, manufacturer.as_ref(), &mut *rng, started.as_secs())?;
        let shared = Shared { hsm, store, rng, ped: None, last_end: None };
        Ok(Server { config, clock, shared: Mutex::new(shared), started })
    }

    /// Serves the control socket until the process ends.
    pub fn run(self) -> std::io::Result<()> {
        let _ = std::fs::remove_file(&self.config.control);
        let listener = UnixListener::bind(&self.config.control)?;
        let server = Arc::new(self);
        for stream in listener.incoming() {
            let stream = stream?;
            let server = Arc::clone(&server);
            thread::spawn(move || server.serve_one(stream));
        }
        Ok(())
    }

    fn serve_one(&self, stream: UnixStream) {
        let mut line = String::new();
        let Ok(writer) = stream.try_clone() else { return };
        if BufReader::new(stream).read_line(&mut line).is_err() {
            return;
        }
        let mut writer = writer;
        let mut out = |text: &str| {
            let _ = writeln!(writer, "{text}");
        };
        let result = match serde_json::from_str::<Vec<String>>(&line) {
            Ok(words) => self.execute(&words, &mut out),
            Err(_) => Err(HsmError::hsm(HsmCode::ArgumentsBad, "the control socket takes a JSON array of words")),
        };
        match result {
            Ok(()) => out("Command Result : No Error"),
            Err(e) => {
                out(&e.detail);
                out(&e.result_line());
            }
        }
    }

    fn timeouts(&self) -> Timeouts {
        Timeouts { key: self.config.key_timeout, link: self.config.link_timeout }
    }

    /// Runs one lunacm command, printing through `out`.
    pub fn execute(&self, words: &[String], out: Out<'_>) -> Result<(), HsmError> {
        match lunacm::parse(words)? {
            Command::PedConnect(connect) => self.connect(connect, out),
            Command::PedDisconnect => {
                let mut guard = self.lock_now()?;
                let shared = &mut *guard;
                match shared.ped.take() {
                    Some(mut peer) => {
                        // A link pedclient already ended keeps that reason.
                        let end = peer.link.ended().map_or(LinkEnd::Disconnected, LinkEnd::Failed);
                        if peer.conductor.is_remote() {
                            shared.last_end = Some(end);
                        }
                        peer.conductor.disconnect(self.clock.now(), &mut shared.hsm);
                        peer.flush();
                        Ok(())
                    }
                    // A link that already ended: the HSM goes back to its local PED.
                    None if matches!(shared.last_end, Some(LinkEnd::Failed(_))) => {
                        shared.last_end = Some(LinkEnd::Disconnected);
                        Ok(())
                    }
                    None => Err(HsmError::hsm(HsmCode::ArgumentsBad, "no Remote PED is connected")),
                }
            }
            Command::PedSet { ip, port } => {
                let mut shared = self.lock()?;
                shared.hsm.set_ped_default(ip, port);
                persist(&mut shared)
            }
            Command::PedShow => {
                let mut shared = self.lock_now()?;
                shared.reap(self.clock.now());
                self.show(&shared, out);
                Ok(())
            }
            Command::Ped(request) => self.run_request(request, out),
            Command::HsmFactoryReset => {
                let mut guard = self.lock_now()?;
                let shared = &mut *guard;
                shared.hsm.factory_reset();
                // The channel was opened for the HSM as it was; the HSM goes back to its
                // local PED, and a Remote PED needs `ped connect -password` again.
                let ped = shared.ped.take();
                if shared.last_end.is_some() || ped.as_ref().is_some_and(|p| p.conductor.is_remote()) {
                    shared.last_end = Some(LinkEnd::FactoryReset);
                }
                if let Some(mut peer) = ped {
                    peer.conductor.disconnect(self.clock.now(), &mut shared.hsm);
                    peer.flush();
                }
                persist(shared)?;
                out("The HSM is reset to its factory state; run `hsm init` (and `ped vector init` for a Remote PED).");
                Ok(())
            }
            Command::HsmChangePolicy { policy, value, force } => {
                let mut shared = self.lock_now()?;
                let erased = shared.hsm.change_policy(policy, value, force)?;
                persist(&mut shared)?;
                out(&format!("HSM policy {policy} (Enable SO reset of partition PIN) is {value}."));
                if erased {
                    out(
                        "The partition and its contents were erased; the HSM SO makes a new one with `partition create`.",
                    );
                }
                Ok(())
            }
            Command::PartitionCreate => {
                let mut shared = self.lock_now()?;
                shared.hsm.create_partition()?;
                persist(&mut shared)
            }
            Command::PartitionDelete => {
                let mut shared = self.lock_now()?;
                shared.hsm.delete_partition()?;
                persist(&mut shared)
            }
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Shared>, HsmError> {
        self.shared.lock().map_err(|_| HsmError::hsm(HsmCode::GeneralError, "the HSM state lock is poisoned"))
    }

    /// The lock without waiting: a PED operation in progress makes this command refuse.
    fn lock_now(&self) -> Result<std::sync::MutexGuard<'_, Shared>, HsmError> {
        match self.shared.try_lock() {
            Ok(guard) => Ok(guard),
            Err(TryLockError::WouldBlock) => Err(HsmError::hsm(
                HsmCode::OperationActive,
                "a PED operation is in progress; wait for it to finish and retry",
            )),
            Err(TryLockError::Poisoned(_)) => {
                Err(HsmError::hsm(HsmCode::GeneralError, "the HSM state lock is poisoned"))
            }
        }
    }

    fn connect(&self, connect: Connect, out: Out<'_>) -> Result<(), HsmError> {
        let mut guard = self.lock_now()?;
        let shared = &mut *guard;
        shared.reap(self.clock.now());
        if shared.ped.as_ref().is_some_and(|p| p.conductor.is_remote()) {
            return Err(HsmError::hsm(
                HsmCode::OperationActive,
                "a Remote PED is already connected; `ped disconnect` first",
            ));
        }
        let pedclient = self.config.pedclient.clone().ok_or_else(|| {
            HsmError::hsm(HsmCode::NotAllowed, "this HSM has no pedclient link (serve --pedclient socket:PATH)")
        })?;
        let state = shared.hsm.state();
        let host = connect.ip.or_else(|| state.ped_ip.clone()).unwrap_or_default();
        let port = connect.port.or(state.ped_port).unwrap_or(DEFAULT_PED_PORT);
        let password = match connect.password {
            None => None,
            Some(Password::Generate) => Some(PasswordDigits::generate(&mut *shared.rng)),
            Some(Password::Given(digits)) => Some(digits),
        };
        let shown = password.clone();
        let auth = Auth::remote(&shared.hsm, password.map(OneTimePassword::new))?;
        let link = Link::pedclient(&pedclient)?;
        let serial = shared.hsm.serial().to_owned();
        let conductor = Conductor::remote(self.clock.now(), &serial, host, port, auth, shown, self.timeouts());
        let mut peer = Peer { conductor, link };
        peer.pump(&*self.clock, &mut shared.hsm, &mut *shared.rng, out)?;
        // A local channel is dropped: while remote is connected, local is ignored.
        shared.ped = Some(peer);
        shared.last_end = None;
        Ok(())
    }

    fn show(&self, shared: &Shared, out: Out<'_>) {
        let state = shared.hsm.state();
        let link = match shared.ped.as_ref().and_then(|p| p.conductor.remote_peer()) {
            Some((host, port, reached)) => ShownLink::Remote { host, port, reached },
            None => ShownLink::NotRemote { last_end: shared.last_end.as_ref(), local: self.config.local_ped.is_some() },
        };
        let status = Status {
            serial: shared.hsm.serial(),
            label: state.label.as_deref(),
            rpv: shared.hsm.has_rpv(),
            link,
            default_ip: state.ped_ip.as_deref(),
            default_port: state.ped_port.unwrap_or(DEFAULT_PED_PORT),
            so_failures: state.so_failures,
            up_time: self.clock.now().saturating_sub(self.started),
        };
        for line in lunacm::ped_show(&status) {
            out(&line);
        }
    }

    fn run_request(&self, request: Request, out: Out<'_>) -> Result<(), HsmError> {
        let mut guard = self.lock()?;
        let shared = &mut *guard;
        out("Please attend to the PED.");
        // lunacm warns before every HSM SO login, even one that then finds no PED (seed
        // 3636-3645); a zeroised HSM has no SO to zeroise and refuses the login instead.
        if matches!(request, Request::Login(RoleName::So)) && !shared.hsm.is_zeroised() {
            out(&lunacm::so_login_caution(shared.hsm.state().so_failures));
        }
        let result = self.over_link(shared, request, out);
        if result.is_err() {
            shared.hsm.abort();
        }
        persist(shared)?;
        result
    }

    /// Runs `request` over the PED link, plugging into the local PED first if there is
    /// none. A link that ends is dropped.
    fn over_link(&self, shared: &mut Shared, request: Request, out: Out<'_>) -> Result<(), HsmError> {
        // After a remote link ended, PED commands fail as the seed shows (CKR_PED_UNPLUGGED:
        // "reconnect Remote PED before issuing commands") until `ped connect` opens a new
        // link or `ped disconnect` hands the HSM back to its local PED: a key holder
        // standing at the remote PED must not find the command waiting on a local one.
        if shared.ped.is_none()
            && let Some(LinkEnd::Failed(e)) = &shared.last_end
        {
            return Err(ended_before(e));
        }
        if shared.ped.is_none() {
            let path = self.config.local_ped.as_ref().ok_or_else(|| HsmError::ped(ErrorCode::CkrPedUnplugged))?;
            shared.ped = Some(Peer { link: Link::usb(path)?, conductor: Conductor::local(self.timeouts()) });
        }
        let Shared { hsm, rng, ped, .. } = shared;
        let Some(peer) = ped.as_mut() else { return Err(HsmError::ped(ErrorCode::CkrPedUnplugged)) };
        let now = self.clock.now();
        // A remote link pedclient ended between commands fails this one with its reason,
        // as a Closed mid-command does; the local PED is not silently used instead.
        if let Some(e) = peer.link.ended() {
            peer.conductor.handle_link_error(now, hsm, e);
        }
        // Whatever the PED sent since the last command (it sends only to end its
        // channel) goes to the conductor before the command, without waiting.
        if peer.conductor.has_channel() && *peer.conductor.state() == LinkState::Up {
            loop {
                match peer.link.pending() {
                    Ok(Some(frame)) => peer.conductor.handle_frame(now, hsm, &mut **rng, &frame),
                    Ok(None) => break,
                    Err(e) => {
                        peer.conductor.handle_link_error(now, hsm, e);
                        break;
                    }
                }
            }
        }
        peer.conductor.run(now, hsm, &mut **rng, request);
        let result = peer.pump(&*self.clock, hsm, &mut **rng, out);
        shared.settle();
        result
    }
}

fn persist(shared: &mut Shared) -> Result<(), HsmError> {
    if shared.hsm.take_dirty() {
        shared.store.save_state(shared.hsm.state()).map_err(|e| HsmError::hsm(HsmCode::GeneralError, e.to_string()))?;
    }
    Ok(())
}
