//! `hsm-emu serve`: the HSM as a process, a thin pump around the sans-IO
//! [`Console`]. A control socket takes one lunacm-style command per connection (a JSON
//! array of words) and streams back the lines lunacm would print, ending with
//! `Command Result : …`.
//!
//! One thread, the pump, owns the console, the PED link's [`Transport`], the clock and
//! the RNG (both chosen at start-up). Everything else only sends it [`Event`]s on one
//! channel: each control connection's thread its request (and, when the socket closes,
//! that its administrator went away), each link's reader thread its frames and its end.
//! The pump waits for the next event until the console's `poll_timeout`. One command
//! runs at a time: the console refuses another at once (CKR_OPERATION_ACTIVE), so
//! nothing queues, and a command whose CLI is gone is abandoned (never reaching the
//! PED, or cancelled there).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use getrandom::SysRng;
use ped_proto::ErrorCode;
use rand_core::{CryptoRng, UnwrapErr};

use crate::audit::AuditTrail;
use crate::channel::Firmware;
use crate::conductor::Timeouts;
use crate::console::{Console, ConsoleConfig, LinkKind, Output};
use crate::error::{HsmCode, HsmError};
use crate::hsm::Hsm;
use crate::lunacm;
use crate::state::Store;
use crate::transport::{Arrival, Transport};

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
    /// The firmware version, which picks the remote channel (`--firmware`).
    pub firmware: Firmware,
}

/// The clock the HSM reads: the time since the Unix epoch (certificates' validity,
/// and the deadlines of [`Console::poll_timeout`]).
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

/// What the pump is told.
#[derive(Debug)]
enum Event {
    /// A command's words, and its administrator's connection.
    Request { client: u64, words: Vec<String>, stream: UnixStream },
    /// A control connection closed: its administrator went away (or read the result).
    ClientGone(u64),
    /// Link number `link` brought this.
    Link { link: u64, arrival: Arrival },
}

/// The running HSM.
pub struct Server {
    config: ServeConfig,
    clock: Box<dyn Clock>,
    rng: Rng,
    console: Console,
    audit: AuditTrail,
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
        let console_config = ConsoleConfig {
            local_ped: config.local_ped.is_some(),
            pedclient: config.pedclient.is_some(),
            timeouts: Timeouts { key: config.key_timeout, link: config.link_timeout },
        };
        let console = Console::new(hsm, Box::new(store), console_config, started).with_firmware(config.firmware);
        let audit = AuditTrail::open(&config.state, console.hsm().serial())?;
        Ok(Server { config, clock, rng, console, audit })
    }

    /// Serves the control socket until the process ends.
    pub fn run(self) -> std::io::Result<()> {
        let _ = std::fs::remove_file(&self.config.control);
        let listener = UnixListener::bind(&self.config.control)?;
        let (events, inbox) = mpsc::channel();
        let to_pump = events.clone();
        thread::Builder::new().name("pump".into()).spawn(move || Pump::new(self, to_pump).run(&inbox))?;
        for (client, stream) in (0u64..).zip(listener.incoming()) {
            let stream = stream?;
            let events = events.clone();
            thread::spawn(move || read_client(client, stream, &events));
        }
        Ok(())
    }
}

/// One control connection: its request to the pump, then, when the connection closes
/// (the result read, or the CLI gone), that it is gone.
fn read_client(client: u64, stream: UnixStream, events: &Sender<Event>) {
    let Ok(reply) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    match serde_json::from_str::<Vec<String>>(&line) {
        Ok(words) => {
            if events.send(Event::Request { client, words, stream: reply }).is_err() {
                return;
            }
        }
        Err(_) => {
            let e = HsmError::hsm(HsmCode::ArgumentsBad, "the control socket takes a JSON array of words");
            return answer(&reply, &lunacm::result_lines(&Err(e)));
        }
    }
    let mut rest = [0u8; 256];
    while matches!(reader.read(&mut rest), Ok(n) if n > 0) {}
    let _ = events.send(Event::ClientGone(client));
}

/// An audit record that could not be kept is said on standard error; the command's
/// own result stands.
fn audit_or_warn(kept: Result<(), HsmError>) {
    if let Err(e) = kept {
        eprintln!("hsm-emu: audit: {}", e.detail);
    }
}

/// Writes `lines` and ends the connection.
fn answer(mut stream: &UnixStream, lines: &[String]) {
    for line in lines {
        let _ = writeln!(stream, "{line}");
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// The one thread that owns the console and the link.
struct Pump {
    server: Server,
    events: Sender<Event>,
    /// The running command's administrator.
    client: Option<(u64, UnixStream)>,
    link: Option<(u64, Transport)>,
    /// A link the other end ended, kept open until the next command: pedclient shows
    /// why it closed (`pedclient -mode show`) as long as the HSM holds its end.
    ended: Option<Transport>,
    links: u64,
    /// The running command's words, for its audit record.
    words: Vec<String>,
    /// The open link is pedclient's HSM link, which carries the audit records.
    remote: bool,
}

impl Pump {
    fn new(server: Server, events: Sender<Event>) -> Self {
        Pump { server, events, client: None, link: None, ended: None, links: 0, words: Vec::new(), remote: false }
    }

    fn run(mut self, inbox: &Receiver<Event>) {
        loop {
            self.carry_out();
            // A deadline passes even while events keep coming.
            let event = match self.server.console.poll_timeout() {
                Some(deadline) if deadline <= self.server.clock.now() => Err(RecvTimeoutError::Timeout),
                Some(deadline) => inbox.recv_timeout(deadline.saturating_sub(self.server.clock.now())),
                None => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            let now = self.server.clock.now();
            let Server { console, rng, audit, .. } = &mut self.server;
            match event {
                Ok(Event::Request { client, words, stream }) => {
                    if let Some(result) = audit.configure(now.as_secs(), console.hsm(), &words) {
                        answer(&stream, &lunacm::result_lines(&result));
                        continue;
                    }
                    self.ended = None;
                    match console.execute(now, &mut **rng, &words) {
                        Ok(()) => (self.client, self.words) = (Some((client, stream)), words),
                        Err(refused) => {
                            audit_or_warn(audit.command(now.as_secs(), &words, &Err(refused.clone())));
                            answer(&stream, &lunacm::result_lines(&Err(refused)));
                        }
                    }
                }
                Ok(Event::ClientGone(client)) => {
                    if self.client.as_ref().is_some_and(|(c, _)| *c == client) {
                        self.client = None;
                        console.abandon(now);
                    }
                }
                Ok(Event::Link { link, arrival }) => {
                    if self.link.as_ref().is_some_and(|(l, _)| *l == link) {
                        match arrival {
                            Arrival::Frame(frame) => console.handle_frame(now, &mut **rng, &frame),
                            Arrival::Ended(e) => {
                                self.ended = self.link.take().map(|(_, transport)| transport);
                                console.handle_link_error(now, e);
                            }
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => console.handle_timeout(now),
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Does what the console asks, in order.
    fn carry_out(&mut self) {
        while let Some(output) = self.server.console.poll_output() {
            match output {
                Output::Line(line) => {
                    if let Some((_, stream)) = &self.client {
                        let _ = writeln!(&*stream, "{line}");
                    }
                }
                Output::Open(kind) => self.open(kind),
                Output::Transmit(frame) => {
                    if let Some((_, transport)) = &mut self.link
                        && let Err(e) = transport.send(&frame)
                        // A frame that fails to go between commands (a HandshakeFailed after
                        // a refused handshake) is nobody's failure: the reader reports the end.
                        && self.server.console.is_running()
                    {
                        self.link = None;
                        self.server.console.handle_link_error(self.server.clock.now(), e);
                    }
                }
                Output::Close => self.link = None,
                Output::Done(result) => {
                    let now = self.server.clock.now().as_secs();
                    audit_or_warn(self.server.audit.command(now, &std::mem::take(&mut self.words), &result));
                    if let Some((_, stream)) = self.client.take() {
                        let _ = stream.shutdown(Shutdown::Both);
                    }
                }
            }
        }
        self.send_audit();
    }

    /// Hands the queued audit records to pedclient when its HSM link is open, before
    /// anything else waits: a PED operation in progress on the link never holds them.
    fn send_audit(&mut self) {
        let Some((_, transport)) = self.link.as_mut().filter(|_| self.remote && self.server.audit.has_queued()) else {
            return;
        };
        match self.server.audit.take_frames() {
            Ok(frames) => {
                for frame in frames {
                    // A frame lost with the link shows in the log as a gap.
                    let _ = transport.send(&frame);
                }
            }
            Err(e) => eprintln!("hsm-emu: audit: {e}"),
        }
    }

    fn open(&mut self, kind: LinkKind) {
        self.link = None;
        let path = match kind {
            LinkKind::Local => self.server.config.local_ped.clone(),
            LinkKind::Pedclient => self.server.config.pedclient.clone(),
        };
        self.links += 1;
        self.remote = kind == LinkKind::Pedclient;
        let link = self.links;
        let events = self.events.clone();
        let deliver = Box::new(move |arrival| events.send(Event::Link { link, arrival }).is_ok());
        let opened = path
            .ok_or_else(|| HsmError::ped(ErrorCode::CkrPedUnplugged))
            .and_then(|path| Transport::open(kind, &path, deliver));
        match opened {
            Ok(transport) => self.link = Some((link, transport)),
            Err(e) => self.server.console.handle_link_error(self.server.clock.now(), e),
        }
    }
}
