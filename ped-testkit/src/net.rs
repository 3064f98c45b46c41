//! The whole system in one process, on a virtual clock: the HSM's command level
//! (hsm-emu's `Console`), pedclient's HSM-link state machine, pedserver's relay
//! sessions, the remote PED's core and the HSM's Local PED-USB core, wired by
//! in-memory hops ([`crate::wire`]) that a test can damage. Nothing reads the real
//! clock, a socket or the OS RNG: every node has a seeded RNG, so the same test gives
//! the same [`Net::transcript`], byte for byte, every run.
//!
//! The parts are the products' own sans-IO cores; what the net plays itself is only
//! what their I/O adapters do: pedserver claiming the one PED for the client that said
//! hello first (else Busy) and telling the PED when a session ends, pedclient dialling
//! pedserver (an address or the PED ID mapping), the HSM opening its links.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::num::NonZeroU32;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hsm_emu::channel::Firmware;
use hsm_emu::conductor::Timeouts as HsmTimeouts;
use hsm_emu::console::{Console, ConsoleConfig, LinkKind, Output as ConsoleOutput};
use hsm_emu::state::Store;
use hsm_emu::{Hsm, HsmError};
use ped_firmware::PedConfig;
use ped_firmware::io::Button;
use ped_wire::ErrorCode;
use ped_wire::device::{DeviceMessage, PedInfo, SessionEndReason};
use ped_wire::frame::Frame;
use ped_wire::relay::PedStatus;
use pedclient::hsm_session::{Link, Output as LinkOutput, Timeouts as LinkTimeouts};
use pedserver::session::{Output as SessionOutput, Session, Timeouts as SessionTimeouts};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::ped::{Drawer, PedNode};
use crate::wire::{Hop, InFlight, Packet, Tap, Toward, Wires};

/// Certificates are valid around this instant: the net's clock starts here.
pub const NOW: u64 = 1_780_000_000;
/// PIN binding iterations on the net's PEDs unless a test asks for the production
/// count ([`Settings::pin_iterations`]).
pub const TEST_PIN_ITERATIONS: u32 = 16;
/// pedserver's address as pedclient dials it.
pub const PEDSERVER_HOST: &str = "127.0.0.1";
/// pedserver's port.
pub const PEDSERVER_PORT: u16 = 1503;
/// The remote PED's serial.
pub const REMOTE_SERIAL: &str = "REMOTE";
/// The local PED's serial.
pub const LOCAL_SERIAL: &str = "LOCAL";
/// The HSM's serial.
pub const HSM_SERIAL: &str = "150001";

/// How the net is set up; [`Settings::default`] is the process rig's defaults.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The seed of every RNG of the net.
    pub seed: u64,
    /// PIN binding iterations on both PEDs.
    pub pin_iterations: u32,
    /// The HSM's PED-key timeout and link margin.
    pub hsm: HsmTimeouts,
    /// pedclient's timers.
    pub pedclient: LinkTimeouts,
    /// pedserver's timers.
    pub pedserver: SessionTimeouts,
    /// The PED ID mapping pedclient has for the HSM (`ped connect` without `-ip`).
    pub mapped: bool,
    /// The HSM's firmware (`hsm-emu serve --firmware`): 7.4.2 and older speak the
    /// legacy remote channel.
    pub hsm_firmware: Firmware,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            seed: 7,
            pin_iterations: TEST_PIN_ITERATIONS,
            hsm: HsmTimeouts { key: Duration::from_secs(200), link: Duration::from_secs(30) },
            pedclient: LinkTimeouts {
                idle: Some(Duration::from_secs(1800)),
                read: Duration::from_secs(20),
                ping_interval: Some(Duration::from_secs(30)),
                ping_timeout: Duration::from_secs(10),
            },
            pedserver: SessionTimeouts {
                idle: Duration::from_secs(1800),
                read: Duration::from_secs(20),
                ping_interval: Some(Duration::from_secs(30)),
                ping_timeout: Duration::from_secs(10),
            },
            mapped: true,
            hsm_firmware: Firmware::Current,
        }
    }
}

/// Which PED.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// The Remote PED behind pedserver.
    Remote,
    /// The HSM's Local PED-USB.
    Local,
}

/// What a command printed and how it ended, as the CLI shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliResult {
    /// The exit status (0 success, 1 command error, 2 HSM unreachable).
    pub code: Option<i32>,
    /// Every line (standard output then standard error), `Command Result : …` last.
    pub text: String,
}

impl CliResult {
    /// The last `Command Result : …` line's value, e.g. `No Error` or
    /// `0x8000002e (CKR_PED_UNPLUGGED)`.
    pub fn result(&self) -> &str {
        self.text.lines().rev().find_map(|l| l.strip_prefix("Command Result : ")).unwrap_or("")
    }

    /// Asserts success and exit 0: `Command Result : No Error`, or lunacm's `0 (Success)`
    /// of `ped set` (seed 4170-4174).
    pub fn ok(&self) -> &Self {
        let succeeded = matches!(self.result(), "No Error" | "0 (Success)");
        assert!(self.code == Some(0) && succeeded, "the command failed:\n{}", self.text);
        self
    }

    /// Asserts that the command failed with the error named `name` (e.g. `CKR_PIN_INCORRECT`).
    pub fn failed_with(&self, name: &str) -> &Self {
        assert!(self.code == Some(1) && self.result().contains(name), "expected {name}:\n{}", self.text);
        self
    }
}

/// The HSM and its command level.
struct HsmNode {
    console: Console,
    rng: ChaCha20Rng,
    /// The link the console opened, and its connection number on its hop.
    link: Option<(LinkKind, u64)>,
    /// Lines of the command running, and its result once over.
    lines: Vec<String>,
    done: Option<Result<(), HsmError>>,
    dir: tempfile::TempDir,
}

/// pedclient's state machine for the HSM's connection, and its relay connection.
struct ClientNode {
    link: Link,
    /// The HSM-link connection it serves.
    hsm_conn: u64,
    /// The relay connection it dialled, if any.
    relay_conn: Option<u64>,
}

/// One relay connection at pedserver.
struct ServerConn {
    session: Session,
}

/// pedserver: its connections, which one holds the PED, what it knows of the PED.
#[derive(Default)]
struct ServerNode {
    conns: BTreeMap<u64, ServerConn>,
    holder: Option<u64>,
    info: Option<PedInfo>,
}

/// The whole system. See the module documentation.
#[allow(missing_debug_implementations, reason = "Debug is written out below: the nodes are large")]
pub struct Net {
    now: Duration,
    base: Instant,
    settings: Settings,
    wires: Wires,
    hsm: HsmNode,
    client: Option<ClientNode>,
    server: ServerNode,
    remote: PedNode,
    local: PedNode,
    drawer: Rc<RefCell<Drawer>>,
    next_conn: u64,
    transcript: String,
    /// Every byte delivered, per hop, way and connection.
    streams: BTreeMap<(Hop, Toward, u64), Vec<u8>>,
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net")
            .field("elapsed", &self.now)
            .field("pedserver_holder", &self.server.holder)
            .finish_non_exhaustive()
    }
}

impl Default for Net {
    /// A net with the default settings.
    fn default() -> Self {
        Net::new(Settings::default())
    }
}

impl Net {
    /// The net of `settings`: an HSM (manufactured now), pedclient, pedserver with the
    /// remote PED plugged in, and the HSM's local PED.
    pub fn new(settings: Settings) -> Net {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = Store::open(dir.path().join("hsm")).expect("the HSM's state directory");
        let mut rng = ChaCha20Rng::seed_from_u64(settings.seed);
        let hsm = Hsm::start(&store, HSM_SERIAL, &mut rng, NOW).expect("a new HSM");
        let root = hsm.root_der().to_vec();
        let config = ConsoleConfig { local_ped: true, pedclient: true, timeouts: settings.hsm };
        let console =
            Console::new(hsm, Box::new(store), config, Duration::from_secs(NOW)).with_firmware(settings.hsm_firmware);
        let drawer = Rc::new(RefCell::new(Drawer::default()));
        let iterations = NonZeroU32::new(settings.pin_iterations).expect("a positive iteration count");
        let ped_config = |serial: &str| {
            let mut c = PedConfig::new(serial, "2.9.0-1", root.clone());
            c.pin_iterations = iterations;
            c
        };
        let remote = PedNode::new(ped_config(REMOTE_SERIAL), Rc::clone(&drawer), settings.seed + 1, NOW);
        let local = PedNode::new(ped_config(LOCAL_SERIAL), Rc::clone(&drawer), settings.seed + 2, NOW);
        let mut net = Net {
            now: Duration::ZERO,
            base: Instant::now(),
            wires: Wires::default(),
            hsm: HsmNode { console, rng, link: None, lines: Vec::new(), done: None, dir },
            client: None,
            server: ServerNode::default(),
            remote,
            local,
            drawer,
            next_conn: 0,
            transcript: String::new(),
            streams: BTreeMap::new(),
            settings,
        };
        // pedserver opens the PED and asks what it is (docs/protocol.md §15.1).
        net.ask_ped_info();
        net.drive();
        net
    }

    // ---- the clock ----

    /// Virtual time since the net started.
    pub fn elapsed(&self) -> Duration {
        self.now
    }

    fn instant(&self) -> Instant {
        self.base + self.now
    }

    fn unix(&self) -> Duration {
        Duration::from_secs(NOW) + self.now
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.now.as_millis()).unwrap_or(u64::MAX)
    }

    /// The earliest time anything is due: a packet, or a node's timer.
    pub fn next_deadline(&self) -> Option<Duration> {
        let from_instant = |i: Instant| i.saturating_duration_since(self.base);
        let mut due = Vec::new();
        due.extend(self.wires.next_due());
        due.extend(self.hsm.console.poll_timeout().map(|t| t.saturating_sub(Duration::from_secs(NOW))));
        if let Some(c) = &self.client {
            due.extend(c.link.poll_deadline().map(from_instant));
        }
        due.extend(self.server.conns.values().filter_map(|c| c.session.poll_deadline()).map(from_instant));
        for ped in [&self.remote, &self.local] {
            due.extend(ped.poll_timeout().map(Duration::from_millis));
        }
        due.into_iter().min()
    }

    /// Does everything due now, until nothing moves.
    pub fn drive(&mut self) {
        while self.step() {}
    }

    /// Moves the clock to the next deadline (not past `limit` from now) and does what is
    /// due; false if nothing was due within `limit`.
    pub fn advance(&mut self, limit: Duration) -> bool {
        self.drive();
        let Some(next) = self.next_deadline() else { return false };
        let next = next.max(self.now);
        if next > self.now + limit {
            return false;
        }
        self.now = next;
        self.fire_timers();
        self.drive();
        true
    }

    /// Lets `d` of virtual time pass, doing everything due on the way.
    pub fn wait(&mut self, d: Duration) {
        let end = self.now + d;
        while self.advance(end.saturating_sub(self.now)) {}
        self.now = end;
        self.fire_timers();
        self.drive();
    }

    fn fire_timers(&mut self) {
        let (instant, unix, ms) = (self.instant(), self.unix(), self.now_ms());
        if self.hsm.console.poll_timeout().is_some_and(|t| t <= unix) {
            self.hsm.console.handle_timeout(unix);
        }
        if let Some(c) = &mut self.client
            && c.link.poll_deadline().is_some_and(|t| t <= instant)
        {
            c.link.handle_timeout(instant);
        }
        for conn in self.server.conns.values_mut() {
            if conn.session.poll_deadline().is_some_and(|t| t <= instant) {
                conn.session.handle_timeout(instant);
            }
        }
        for ped in [&mut self.remote, &mut self.local] {
            if ped.poll_timeout().is_some_and(|t| t <= ms) {
                ped.tick(ms);
            }
        }
    }

    /// One move: every node's output onto the wires, then one packet delivered. False
    /// when nothing moved.
    fn step(&mut self) -> bool {
        let moved = self.collect_outputs();
        match self.wires.take_due(self.now) {
            Some(packet) => {
                self.deliver(packet);
                true
            }
            None => moved,
        }
    }

    // ---- outputs of the nodes ----

    fn collect_outputs(&mut self) -> bool {
        let mut moved = false;
        moved |= self.hsm_outputs();
        moved |= self.client_outputs();
        moved |= self.server_outputs();
        for which in [Which::Remote, Which::Local] {
            let (hop, conn) = match which {
                Which::Remote => (Hop::Usb, 0),
                Which::Local => (Hop::LocalUsb, self.local_conn()),
            };
            while let Some(frame) = self.ped_mut(which).take_sent() {
                moved = true;
                self.send(hop, Toward::Hsm, conn, Packet::Bytes(frame));
            }
        }
        moved
    }

    fn local_conn(&self) -> u64 {
        match self.hsm.link {
            Some((LinkKind::Local, conn)) => conn,
            _ => u64::MAX,
        }
    }

    fn hsm_outputs(&mut self) -> bool {
        let mut moved = false;
        while let Some(output) = self.hsm.console.poll_output() {
            moved = true;
            match output {
                ConsoleOutput::Line(line) => self.hsm.lines.push(line),
                ConsoleOutput::Open(kind) => {
                    let conn = self.new_conn();
                    self.hsm.link = Some((kind, conn));
                    match kind {
                        LinkKind::Local => self.note(&format!("hsm opens the local PED (conn {conn})")),
                        LinkKind::Pedclient => {
                            let timeouts = self.settings.pedclient;
                            let link = Link::new(self.instant(), timeouts, self.settings.seed + 3);
                            self.client = Some(ClientNode { link, hsm_conn: conn, relay_conn: None });
                            self.note(&format!("hsm connects to pedclient (conn {conn})"));
                        }
                    }
                }
                ConsoleOutput::Transmit(frame) => match self.hsm.link {
                    Some((LinkKind::Local, conn)) => self.send(Hop::LocalUsb, Toward::Ped, conn, Packet::Bytes(frame)),
                    Some((LinkKind::Pedclient, conn)) => {
                        self.send(Hop::HsmLink, Toward::Ped, conn, Packet::Bytes(frame))
                    }
                    None => self.note("hsm transmits with no link open: lost"),
                },
                ConsoleOutput::Close => {
                    if let Some((kind, conn)) = self.hsm.link.take() {
                        let hop = if kind == LinkKind::Local { Hop::LocalUsb } else { Hop::HsmLink };
                        self.send(hop, Toward::Ped, conn, Packet::End);
                    }
                }
                ConsoleOutput::Done(result) => {
                    assert!(self.hsm.done.is_none(), "one result per command");
                    self.hsm.done = Some(result);
                }
            }
        }
        moved
    }

    fn client_outputs(&mut self) -> bool {
        let mut moved = false;
        loop {
            let Some(client) = &mut self.client else { return moved };
            let Some(output) = client.link.poll_output() else { return moved };
            let (hsm_conn, relay_conn) = (client.hsm_conn, client.relay_conn);
            moved = true;
            match output {
                LinkOutput::ToHsm(frame) => self.send(Hop::HsmLink, Toward::Hsm, hsm_conn, Packet::Bytes(frame)),
                LinkOutput::ToServer(frame) => match relay_conn {
                    Some(conn) => self.send(Hop::Relay, Toward::Ped, conn, Packet::Bytes(frame)),
                    None => self.note("pedclient writes to pedserver with no connection: lost"),
                },
                LinkOutput::Dial { hsm_serial, host, port } => self.dial(&hsm_serial, &host, port),
                LinkOutput::CloseServer => {
                    if let Some(conn) = relay_conn {
                        self.send(Hop::Relay, Toward::Ped, conn, Packet::End);
                    }
                }
                LinkOutput::CloseHsm => self.send(Hop::HsmLink, Toward::Hsm, hsm_conn, Packet::End),
                LinkOutput::Up { software, firmware } => {
                    self.note(&format!("pedclient: remote link up: {software}, PED firmware {firmware}"))
                }
                LinkOutput::Down { code, message } => {
                    self.note(&format!("pedclient: remote link down: {code:#x} {message}"))
                }
                LinkOutput::AuditRotation { hsm_serial, rotate_size, rotate_count } => {
                    self.note(&format!("pedclient: audit rotation of {hsm_serial}: {rotate_size} B, {rotate_count}"))
                }
                LinkOutput::Audit(record) => {
                    self.note(&format!("pedclient: audit record {}: {}", record.seq, record.event))
                }
            }
        }
    }

    /// pedclient reaches pedserver: `host:port`, or the mapping for an empty host.
    fn dial(&mut self, hsm_serial: &str, host: &str, port: u16) {
        let (host, port) = match (host.is_empty(), self.settings.mapped) {
            (false, _) => (host.to_owned(), port),
            (true, true) => (PEDSERVER_HOST.to_owned(), PEDSERVER_PORT),
            (true, false) => {
                let why = format!(
                    "no PED ID is assigned to HSM {hsm_serial}; give -ip and -port, or pedclient -mode assignid"
                );
                return self.client_mut().link.dial_failed(ErrorCode::RcSocketError, why);
            }
        };
        let target = pedclient::hsm_session::host_port(&host, port);
        if port != PEDSERVER_PORT {
            let why = format!("cannot connect to pedserver at {target}: Connection refused (os error 111)");
            return self.client_mut().link.dial_failed(ErrorCode::RcSocketError, why);
        }
        let conn = self.accept_relay();
        let now = self.instant();
        let client = self.client_mut();
        client.relay_conn = Some(conn);
        client.link.dialled(now, target, true);
    }

    fn client_mut(&mut self) -> &mut ClientNode {
        self.client.as_mut().expect("pedclient serves the HSM's connection")
    }

    /// pedserver accepts a relay connection; its number.
    fn accept_relay(&mut self) -> u64 {
        let conn = self.new_conn();
        let seed = self.settings.seed + 4 + conn;
        let session = Session::new(self.instant(), self.settings.pedserver, seed);
        self.server.conns.insert(conn, ServerConn { session });
        self.note(&format!("pedserver accepts conn {conn}"));
        conn
    }

    fn server_outputs(&mut self) -> bool {
        let mut moved = false;
        let conns: Vec<u64> = self.server.conns.keys().copied().collect();
        for conn in conns {
            while let Some(output) = self.server.conns.get_mut(&conn).and_then(|c| c.session.poll_output()) {
                moved = true;
                match output {
                    SessionOutput::ToClient(frame) => self.send(Hop::Relay, Toward::Hsm, conn, Packet::Bytes(frame)),
                    SessionOutput::ToDevice(frame) => self.send(Hop::Usb, Toward::Ped, 0, Packet::Bytes(frame)),
                    SessionOutput::StatusWanted => {
                        let status = self.ped_status();
                        if let Some(c) = self.server.conns.get_mut(&conn) {
                            c.session.reply_status(status);
                        }
                    }
                    SessionOutput::Established { software } => {
                        if self.server.holder.is_some() {
                            self.note(&format!("pedserver refuses conn {conn} ({software}): busy"));
                            if let Some(c) = self.server.conns.get_mut(&conn) {
                                c.session.refuse_busy();
                            }
                        } else {
                            self.note(&format!("pedserver: conn {conn} ({software}) holds the PED"));
                            self.server.holder = Some(conn);
                        }
                    }
                    SessionOutput::Close(reason) => {
                        self.note(&format!("pedserver closes conn {conn}: {reason}"));
                        self.send(Hop::Relay, Toward::Hsm, conn, Packet::End);
                        if let Some(c) = self.server.conns.remove(&conn) {
                            self.release(conn, c.session.ped_notice(Some(&reason)));
                        }
                    }
                }
            }
        }
        moved
    }

    /// The connection that held the PED is over: the PED is told, then asked again what
    /// it is (its cached RPKs may have changed).
    fn release(&mut self, conn: u64, notice: Option<SessionEndReason>) {
        if self.server.holder != Some(conn) {
            return;
        }
        self.server.holder = None;
        if let Some(reason) = notice
            && let Ok(frame) = (DeviceMessage::SessionEnded { reason }).encode()
        {
            self.send(Hop::Usb, Toward::Ped, 0, Packet::Bytes(frame));
        }
        self.ask_ped_info();
    }

    fn ask_ped_info(&mut self) {
        if let Ok(frame) = DeviceMessage::InfoRequest.encode() {
            self.send(Hop::Usb, Toward::Ped, 0, Packet::Bytes(frame));
        }
    }

    fn ped_status(&self) -> PedStatus {
        let info = self.server.info.as_ref();
        let serials: Vec<String> = info.map(|i| i.rpk_serials.clone()).unwrap_or_default();
        PedStatus {
            ped_connected: true,
            firmware_version: info.map(|i| i.firmware_version.clone()).unwrap_or_default(),
            protocol_version: info.and_then(|i| i.protocol_versions.iter().copied().max()).unwrap_or(0),
            rpk_count: u8::try_from(serials.len()).unwrap_or(u8::MAX),
            rpk_serials: serials,
        }
    }

    // ---- delivery ----

    fn new_conn(&mut self) -> u64 {
        self.next_conn += 1;
        self.next_conn
    }

    fn send(&mut self, hop: Hop, toward: Toward, conn: u64, packet: Packet) {
        self.wires.send(self.now, hop, toward, conn, packet);
    }

    fn deliver(&mut self, p: InFlight) {
        self.record(&p);
        let (instant, unix) = (self.instant(), self.unix());
        match (p.hop, p.toward, p.packet) {
            (Hop::LocalUsb, Toward::Ped, packet) => {
                let ms = self.now_ms();
                self.local.tick(ms);
                match packet {
                    Packet::Bytes(frame) => self.local.feed(ped_firmware::io::Event::HostFrame(frame)),
                    Packet::End => self.local.feed(ped_firmware::io::Event::HostDisconnected),
                }
            }
            (Hop::LocalUsb, Toward::Hsm, packet) => {
                if self.local_conn() != p.conn {
                    return;
                }
                let console = &mut self.hsm.console;
                match packet {
                    Packet::Bytes(frame) => console.handle_frame(unix, &mut self.hsm.rng, &frame),
                    Packet::End => console.handle_link_error(unix, HsmError::ped(ErrorCode::CkrPedUnplugged)),
                }
            }
            (Hop::HsmLink, Toward::Ped, packet) => {
                let Some(client) = self.client.as_mut().filter(|c| c.hsm_conn == p.conn) else { return };
                match packet {
                    Packet::Bytes(bytes) => client.link.handle_hsm_data(instant, &bytes),
                    Packet::End => client.link.handle_hsm_closed(),
                }
            }
            (Hop::HsmLink, Toward::Hsm, packet) => {
                if !matches!(self.hsm.link, Some((LinkKind::Pedclient, conn)) if conn == p.conn) {
                    return;
                }
                let console = &mut self.hsm.console;
                match packet {
                    Packet::Bytes(frame) => console.handle_frame(unix, &mut self.hsm.rng, &frame),
                    Packet::End => console.handle_link_error(unix, HsmError::ped(ErrorCode::CkrPedUnplugged)),
                }
            }
            (Hop::Relay, Toward::Ped, packet) => {
                let Some(c) = self.server.conns.get_mut(&p.conn) else { return };
                match packet {
                    Packet::Bytes(bytes) => c.session.handle_client_data(instant, &bytes),
                    Packet::End => c.session.handle_client_closed(),
                }
            }
            (Hop::Relay, Toward::Hsm, packet) => {
                let Some(client) = self.client.as_mut().filter(|c| c.relay_conn == Some(p.conn)) else { return };
                match packet {
                    Packet::Bytes(bytes) => client.link.handle_server_data(instant, &bytes),
                    Packet::End => client.link.handle_server_closed(),
                }
            }
            (Hop::Usb, Toward::Ped, packet) => {
                let ms = self.now_ms();
                self.remote.tick(ms);
                match packet {
                    Packet::Bytes(frame) => self.remote.feed(ped_firmware::io::Event::HostFrame(frame)),
                    Packet::End => self.remote.feed(ped_firmware::io::Event::HostDisconnected),
                }
            }
            (Hop::Usb, Toward::Hsm, Packet::Bytes(frame)) => self.on_remote_ped_frame(frame),
            (Hop::Usb, Toward::Hsm, Packet::End) => {
                for c in self.server.conns.values_mut() {
                    c.session.handle_device_unplugged();
                }
            }
        }
    }

    /// A frame from the remote PED at pedserver: its Info is pedserver's; anything else
    /// goes to the client that holds the PED.
    fn on_remote_ped_frame(&mut self, frame: Vec<u8>) {
        if let Ok(parsed) = Frame::decode_exact(&frame)
            && let Ok(DeviceMessage::Info(info)) = DeviceMessage::decode(parsed)
        {
            self.server.info = Some(info);
            return;
        }
        let instant = self.instant();
        if let Some(c) = self.server.holder.and_then(|h| self.server.conns.get_mut(&h)) {
            c.session.handle_device_frame(instant, frame);
        }
    }

    // ---- the transcript ----

    fn record(&mut self, p: &InFlight) {
        if let Packet::Bytes(bytes) = &p.packet {
            self.streams.entry((p.hop, p.toward, p.conn)).or_default().extend_from_slice(bytes);
        }
        let arrow = if p.toward == Toward::Ped { "->" } else { "<-" };
        let what = match &p.packet {
            Packet::Bytes(b) => hex::encode(b),
            Packet::End => "END".to_owned(),
        };
        let _ = writeln!(self.transcript, "{:>10.3} {} {arrow} {} {what}", self.now.as_secs_f64(), p.hop, p.conn);
    }

    fn note(&mut self, text: &str) {
        let _ = writeln!(self.transcript, "{:>10.3} # {text}", self.now.as_secs_f64());
    }

    /// Everything that crossed every hop, with its virtual time, and what the adapters
    /// did: the same test gives the same transcript every run.
    pub fn transcript(&self) -> &str {
        &self.transcript
    }

    // ---- taps ----

    /// Every byte stream that crossed the links an attacker on the HSM host, the network
    /// or the PED host sees (HSM link, relay, USB), each way and connection apart.
    pub fn captured(&self) -> Vec<Vec<u8>> {
        self.streams.iter().filter(|((hop, ..), _)| *hop != Hop::LocalUsb).map(|(_, s)| s.clone()).collect()
    }

    /// The bytes delivered on `hop` toward `toward`, all connections one after another.
    pub fn stream(&self, hop: Hop, toward: Toward) -> Vec<u8> {
        self.streams.iter().filter(|((h, t, _), _)| *h == hop && *t == toward).flat_map(|(_, s)| s.clone()).collect()
    }

    /// How many connections carried bytes on `hop`.
    pub fn connections(&self, hop: Hop) -> usize {
        let conns: std::collections::BTreeSet<u64> =
            self.streams.keys().filter(|(h, ..)| *h == hop).map(|(.., conn)| *conn).collect();
        conns.len()
    }

    /// Puts a fault on a hop.
    pub fn tap(&mut self, tap: Tap) {
        self.wires.tap(tap);
    }

    /// Removes every fault.
    pub fn clear_taps(&mut self) {
        self.wires.clear_taps();
    }

    // ---- the HSM's administrator ----

    /// Starts a lunacm command at the HSM.
    pub fn start(&mut self, words: &[&str]) {
        self.hsm.lines.clear();
        self.hsm.done = None;
        let words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        let unix = self.unix();
        if let Err(refused) = self.hsm.console.execute(unix, &mut self.hsm.rng, &words) {
            self.hsm.lines.extend(hsm_emu::lunacm::result_lines(&Err(refused.clone())));
            self.hsm.done = Some(Err(refused));
        }
        self.drive();
    }

    /// Waits for the running command's end (at most an hour of virtual time).
    pub fn finish(&mut self) -> CliResult {
        let limit = self.now + Duration::from_secs(3600);
        while self.hsm.done.is_none() {
            assert!(
                self.advance(limit.saturating_sub(self.now)),
                "the command did not end:\n{}",
                self.hsm.lines.join("\n")
            );
        }
        let code = if self.hsm.done.take().expect("checked above").is_ok() { 0 } else { 1 };
        let lines = std::mem::take(&mut self.hsm.lines);
        CliResult { code: Some(code), text: lines.join("\n") + "\n" }
    }

    /// Runs a command that needs no key holder.
    pub fn cli(&mut self, words: &[&str]) -> CliResult {
        self.start(words);
        self.finish()
    }

    /// Whether the command started last is over.
    pub fn is_done(&self) -> bool {
        self.hsm.done.is_some()
    }

    /// The HSM.
    pub fn hsm(&self) -> &Hsm {
        self.hsm.console.hsm()
    }

    /// `hsm.json` as the HSM saved it.
    pub fn state_text(&self) -> String {
        std::fs::read_to_string(self.hsm_dir().join("hsm.json")).unwrap_or_default()
    }

    /// `hsm.json`, parsed.
    pub fn state_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.state_text()).unwrap_or(serde_json::Value::Null)
    }

    // ---- the PEDs and their keys ----

    pub(crate) fn ped_mut(&mut self, which: Which) -> &mut PedNode {
        match which {
            Which::Remote => &mut self.remote,
            Which::Local => &mut self.local,
        }
    }

    pub(crate) fn ped(&self, which: Which) -> &PedNode {
        match which {
            Which::Remote => &self.remote,
            Which::Local => &self.local,
        }
    }

    /// The key holders at PED `which`.
    pub fn holder(&mut self, which: Which) -> crate::holder::NetHolder<'_> {
        crate::holder::NetHolder::new(self, which)
    }

    /// The key holders at the Remote PED.
    pub fn remote(&mut self) -> crate::holder::NetHolder<'_> {
        self.holder(Which::Remote)
    }

    /// The key holders at the HSM's Local PED-USB.
    pub fn local(&mut self) -> crate::holder::NetHolder<'_> {
        self.holder(Which::Local)
    }

    /// `n` new blank PED keys; their serials as the PEDs show them.
    pub fn blank(&mut self, n: usize) -> Vec<String> {
        self.drawer.borrow_mut().blank(n)
    }

    /// What PED key `serial` holds (`None`: blank).
    pub fn key(&self, serial: &str) -> Option<Vec<u8>> {
        self.drawer.borrow().content(serial)
    }

    /// The PED keys, to change one behind the PEDs' backs (a damaged or forged key).
    pub fn keys_mut(&mut self) -> std::cell::RefMut<'_, Drawer> {
        self.drawer.borrow_mut()
    }

    /// The HSM's state directory (`hsm.json`, `identity.json`, `root.der`).
    pub fn hsm_dir(&self) -> std::path::PathBuf {
        self.hsm.dir.path().join("hsm")
    }

    /// Every screen PED `which` drew, as text lines.
    pub fn screens(&self, which: Which) -> Vec<Vec<String>> {
        self.ped(which).drawn().iter().map(|s| s.text_lines().into_iter().map(String::from).collect()).collect()
    }

    /// Presses `button` on PED `which` and lets the net act on it.
    pub(crate) fn press(&mut self, which: Which, button: Button) {
        let ms = self.now_ms();
        let ped = self.ped_mut(which);
        ped.tick(ms);
        ped.press(button);
        self.drive();
    }

    pub(crate) fn hold_clear(&mut self, which: Which) {
        let ms = self.now_ms();
        let ped = self.ped_mut(which);
        ped.tick(ms);
        ped.feed(ped_firmware::io::Event::ClearHeld);
        self.drive();
    }

    pub(crate) fn insert(&mut self, which: Which, serial: &str) {
        let ms = self.now_ms();
        let ped = self.ped_mut(which);
        ped.tick(ms);
        ped.insert(serial);
        self.drive();
    }

    pub(crate) fn remove(&mut self, which: Which) {
        let ms = self.now_ms();
        let ped = self.ped_mut(which);
        ped.tick(ms);
        ped.remove();
        self.drive();
    }

    /// Pulls the remote PED's USB cable (pedserver sees it go).
    pub fn unplug_remote(&mut self) {
        self.send(Hop::Usb, Toward::Hsm, 0, Packet::End);
        self.send(Hop::Usb, Toward::Ped, 0, Packet::End);
        self.drive();
    }

    /// Which relay connection holds the PED at pedserver.
    pub fn pedserver_holder(&self) -> Option<u64> {
        self.server.holder
    }
}

impl crate::ceremony::Bench for Net {
    type Holder<'a> = crate::holder::NetHolder<'a>;

    fn start(&mut self, words: &[&str]) {
        Net::start(self, words);
    }

    fn finish(&mut self) -> CliResult {
        Net::finish(self)
    }

    fn holder(&mut self, which: Which) -> Self::Holder<'_> {
        Net::holder(self, which)
    }

    fn blank(&mut self, n: usize) -> Vec<String> {
        Net::blank(self, n)
    }

    fn key_bytes(&self, serial: &str) -> Option<Vec<u8>> {
        self.key(serial)
    }

    fn pin_iterations(&self) -> u32 {
        self.settings.pin_iterations
    }
}

impl Net {
    /// The relay connection pedclient holds dies, both ways at once, as a TCP link cut
    /// (what is already in flight on it still arrives first).
    pub fn cut_relay(&mut self) {
        let Some(conn) = self.client.as_ref().and_then(|c| c.relay_conn) else { return };
        self.send(Hop::Relay, Toward::Ped, conn, Packet::End);
        self.send(Hop::Relay, Toward::Hsm, conn, Packet::End);
        self.drive();
    }

    /// pedclient's relay connection ends going `toward` (its sender half-closes); the
    /// other way still carries.
    pub fn half_close_relay(&mut self, toward: Toward) {
        let Some(conn) = self.client.as_ref().and_then(|c| c.relay_conn) else { return };
        self.send(Hop::Relay, toward, conn, Packet::End);
        self.drive();
    }

    /// Bytes an attacker on the network writes into pedclient's relay connection, going
    /// `toward` (through the taps, as any packet sent on it).
    pub fn relay_inject(&mut self, toward: Toward, bytes: Vec<u8>) {
        let Some(conn) = self.client.as_ref().and_then(|c| c.relay_conn) else { return };
        self.send(Hop::Relay, toward, conn, Packet::Bytes(bytes));
        self.drive();
    }
}
