//! The daemons as real processes, for the tests that only a process shows (binaries,
//! sockets and ports, argv spellings, log and config files): a fake PED on pedserver's
//! emulated USB endpoint, pedserver and pedclient processes with their own files and
//! ports, a relay client and an HSM played by the test. pedserver's and pedclient's tests
//! share this one copy.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ped_wire::device::{DeviceMessage, PedInfo, PedMode};
use ped_wire::frame::{self, Frame, FrameType};
use ped_wire::hsm_link::HsmLinkMessage;
use ped_wire::relay::{RELAY_VERSION, RelayMessage, RelayRole};
use ped_wire::usb::{StreamDecoder, frame_records};

/// How long [`wait_until`] and the status waits give a process before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);
/// The pause between two looks.
const POLL: Duration = Duration::from_millis(50);

/// A TCP port free on loopback right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// What a process printed, stdout then stderr.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A workspace binary: beside the test binary's directory, in target/<profile>/. A
/// package's own tests get it built by cargo; another package's needs
/// `cargo build -p NAME` (or `cargo test --workspace`) first.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join(name);
    assert!(path.exists(), "{} is not built; run `cargo build -p {name}` or `cargo test --workspace`", path.display());
    path
}

/// Waits until `check` holds, looking every 50 ms; fails the test after 20 s.
pub fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(POLL);
    }
}

/// Open descriptors of a process.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// A daemon's status report on its admin port at `port` (loopback).
fn admin_status(port: u16) -> serde_json::Value {
    let admin = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let answer = ped_daemon::admin::request(admin, "show", Duration::from_secs(2)).unwrap();
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

/// What the fake PED says of itself.
pub fn ped_info() -> PedInfo {
    PedInfo {
        firmware_version: "2.9.0".into(),
        serial: "PED0001".into(),
        mode: PedMode::Remote,
        protocol_versions: vec![1],
        rpk_serials: vec!["1a123456789a1234".into()],
    }
}

/// A PED on a Unix socket (pedserver's `-device socket:PATH`): answers InfoRequest,
/// echoes every other frame and records what it received. `unplug` cuts the connection
/// and refuses new ones (accepted and closed at once, as a flapping device) until
/// `replug`. `accepts` counts every connection.
#[derive(Debug)]
pub struct FakePed {
    /// The socket.
    pub path: PathBuf,
    plugged: Arc<AtomicBool>,
    current: Arc<Mutex<Option<UnixStream>>>,
    /// Every frame echoed, in order.
    pub received: Arc<Mutex<Vec<Vec<u8>>>>,
    /// Connections accepted, refused ones included.
    pub accepts: Arc<AtomicUsize>,
}

impl FakePed {
    /// Listens on `dir`/ped.sock.
    pub fn new(dir: &Path) -> FakePed {
        let path = dir.join("ped.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let ped = FakePed {
            path,
            plugged: Arc::new(AtomicBool::new(true)),
            current: Arc::default(),
            received: Arc::default(),
            accepts: Arc::default(),
        };
        let (plugged, current, received, accepts) =
            (ped.plugged.clone(), ped.current.clone(), ped.received.clone(), ped.accepts.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                accepts.fetch_add(1, Ordering::SeqCst);
                if !plugged.load(Ordering::SeqCst) {
                    continue; // refused: dropped at once, as a missing device
                }
                *current.lock().unwrap() = Some(stream.try_clone().unwrap());
                serve(stream, &received);
            }
        });
        ped
    }

    /// pedserver's `-device` for it.
    pub fn spec(&self) -> String {
        format!("socket:{}", self.path.display())
    }

    /// Cuts the connection and refuses new ones.
    pub fn unplug(&self) {
        self.plugged.store(false, Ordering::SeqCst);
        if let Some(s) = self.current.lock().unwrap().take() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Accepts connections again.
    pub fn replug(&self) {
        self.plugged.store(true, Ordering::SeqCst);
    }
}

fn serve(mut stream: UnixStream, received: &Mutex<Vec<Vec<u8>>>) {
    let mut decoder = StreamDecoder::new();
    while let Some(frame) = next_usb_frame(&mut stream, &mut decoder) {
        let reply = match Frame::decode_exact(&frame).map(|f| f.frame_type) {
            Ok(FrameType::DeviceInfoRequest) => DeviceMessage::Info(ped_info()).encode().unwrap(),
            _ => {
                received.lock().unwrap().push(frame.clone());
                frame
            }
        };
        if stream.write_all(&frame_records(&reply)).is_err() {
            return;
        }
    }
}

/// The next whole frame of the emulated USB endpoint's byte stream (ped-wire's
/// decoder: a refused transfer is skipped, the next starts afresh); `None` at its end.
fn next_usb_frame(stream: &mut impl Read, decoder: &mut StreamDecoder) -> Option<Vec<u8>> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Ok(Some(frame)) = decoder.next_frame() {
            return Some(frame);
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => decoder.feed(&chunk[..n]),
        }
    }
}

/// The next whole frame of a relay or HSM link stream; `None` at its end (or a reset).
fn next_frame(stream: &mut impl Read, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let mut chunk = [0u8; 65536];
    loop {
        if let Ok(Some((_, len))) = Frame::parse(buf) {
            let rest = buf.split_off(len);
            return Some(std::mem::replace(buf, rest));
        }
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// `pedserver ARGS` as a process.
pub fn pedserver(args: &[&str]) -> Output {
    Command::new(binary("pedserver")).args(args).output().unwrap()
}

/// A pedserver started in the background on loopback, with its own configuration, log
/// and ports; stopped (or killed) on drop.
#[derive(Debug)]
pub struct PedServer {
    /// Its configuration and log.
    pub dir: tempfile::TempDir,
    /// The server port.
    pub port: u16,
    /// The admin port.
    pub admin: u16,
    /// The configuration file.
    pub config: PathBuf,
    pid: Option<u32>,
}

impl PedServer {
    /// Starts with the PED at `device` (a [`FakePed::spec`]) and extra seed options.
    pub fn start(device: &str, extra: &[&str]) -> PedServer {
        let dir = tempfile::tempdir().unwrap();
        let (port, admin) = (free_port(), free_port());
        let config = dir.path().join("pedserver.toml");
        let mut s = PedServer { dir, port, admin, config, pid: None };
        let o = s.run("start", &[&["-device", device], extra].concat());
        assert!(o.status.success(), "pedserver start failed:\n{}", text(&o));
        s.pid = Some(s.status()["pid"].as_u64().unwrap() as u32);
        s
    }

    /// The options that put a command on this server's files and ports.
    pub fn common(&self) -> Vec<String> {
        let log = self.dir.path().join("pedserver.log");
        let (port, admin) = (self.port.to_string(), self.admin.to_string());
        let config = self.config.to_str().unwrap();
        let args = ["-configfile", config, "-port", &port, "-admin", &admin, "-eserverport", "0"];
        let log = ["-logfilename", log.to_str().unwrap(), "-logtrace", "1"];
        args.iter().chain(&log).map(|s| s.to_string()).collect()
    }

    /// `pedserver -mode MODE` on this server.
    pub fn run(&self, mode: &str, extra: &[&str]) -> Output {
        let mut args = vec!["-mode".to_string(), mode.to_string()];
        args.extend(self.common());
        args.extend(extra.iter().map(|s| s.to_string()));
        Command::new(binary("pedserver")).args(&args).output().unwrap()
    }

    /// A pedserver command without -mode (`-regen`, `-appliance`) on this server's file.
    pub fn raw(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["-configfile", self.config.to_str().unwrap()]);
        Command::new(binary("pedserver")).args(&all).output().unwrap()
    }

    /// `-regen -commonname CN`: pedserver's certificate for PED-initiated mode, its path.
    pub fn regen(&self, common_name: &str) -> PathBuf {
        let o = self.raw(&["-regen", "-commonname", common_name]);
        assert!(o.status.success(), "{}", text(&o));
        self.dir.path().join(format!("cert/client/{common_name}.pem"))
    }

    /// `-appliance register -name NAME` of the pedclient whose certificate is `cert`,
    /// listening on 127.0.0.1:`port`.
    pub fn register_appliance(&self, name: &str, cert: &Path, port: &str) {
        let cert = cert.to_str().unwrap();
        let args = ["-appliance", "register", "-name", name, "-certificate", cert, "-ip", "127.0.0.1", "-port", port];
        let o = self.raw(&args);
        assert!(o.status.success(), "{}", text(&o));
    }

    /// `-mode show -json`.
    pub fn show(&self) -> serde_json::Value {
        let o = self.run("show", &["-json"]);
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)))
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pedserver.log")).unwrap_or_default()
    }

    /// Whether the log comes to hold `needle` within 5 s (a line is written just after
    /// what it tells of).
    pub fn log_has(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(POLL);
        }
        false
    }

    /// The background process.
    pub fn pid(&self) -> u32 {
        self.pid.unwrap()
    }

    /// The running server's status report, asked on its admin port: what `-mode show
    /// -json` prints of it, without starting a process per look.
    pub fn status(&self) -> serde_json::Value {
        admin_status(self.admin)
    }

    /// Waits until `check` holds on the status report.
    pub fn wait_for(&self, what: &str, check: impl Fn(&serde_json::Value) -> bool) {
        wait_until(what, || check(&self.status()));
    }

    /// A relay client that has exchanged hellos with this server.
    pub fn connect(&self) -> Client {
        Client::connect(self.port)
    }
}

impl Drop for PedServer {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            let o = self.run("stop", &[]);
            if !o.status.success() {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
        }
    }
}

/// A minimal pedclient on pedserver's TCP port.
#[derive(Debug)]
pub struct Client {
    /// The connection.
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    /// Connects without a word.
    pub fn raw(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        stream.set_nodelay(true).unwrap();
        Client { stream, buf: Vec::new() }
    }

    /// Connects and exchanges hellos.
    pub fn connect(port: u16) -> Client {
        let mut c = Client::raw(port);
        let hello = RelayMessage::Hello { version: RELAY_VERSION, role: RelayRole::Client, software: "test".into() };
        c.send(&hello.encode().unwrap());
        match c.relay() {
            RelayMessage::Hello { role: RelayRole::Server, .. } => c,
            other => panic!("expected the server's hello, got {other:?}"),
        }
    }

    /// Writes bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The next frame; `None` at end of stream.
    pub fn frame(&mut self) -> Option<Vec<u8>> {
        next_frame(&mut self.stream, &mut self.buf)
    }

    /// The next frame, a relay message.
    pub fn relay(&mut self) -> RelayMessage {
        let f = self.frame().expect("a frame");
        RelayMessage::decode(Frame::decode_exact(&f).unwrap()).unwrap()
    }

    /// Sends a record and expects the fake PED's echo.
    pub fn echo(&mut self, body: &[u8]) {
        let record = frame::encode(FrameType::Record, body);
        self.send(&record);
        assert_eq!(self.frame().as_deref(), Some(&record[..]));
    }
}

/// A pedclient with its own configuration directory, admin port and HSM link; `start`
/// runs the daemon, which is stopped on drop.
#[derive(Debug)]
pub struct PedClient {
    /// Its configuration, log and HSM link.
    pub dir: tempfile::TempDir,
    /// The admin port.
    pub admin: u16,
    started: bool,
}

impl Default for PedClient {
    fn default() -> Self {
        PedClient::new()
    }
}

impl PedClient {
    /// Files and a port, no process yet.
    pub fn new() -> PedClient {
        PedClient { dir: tempfile::tempdir().unwrap(), admin: free_port(), started: false }
    }

    /// The configuration file.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("pedclient.toml")
    }

    /// The HSM link socket.
    pub fn hsm_link(&self) -> PathBuf {
        self.dir.path().join("hsm.sock")
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pedclient.log")).unwrap_or_default()
    }

    /// `pedclient -mode MODE` on this client's files and ports.
    pub fn run(&self, mode: &str, extra: &[&str]) -> Output {
        let mut args = vec!["-mode", mode];
        args.extend(extra);
        self.raw(&args)
    }

    /// Any pedclient command line, with this client's files and ports added.
    /// `-regen -commonname CN`: pedclient's certificate for PED-initiated mode, its path.
    pub fn regen(&self, common_name: &str) -> PathBuf {
        let o = self.raw(&["-regen", "-commonname", common_name]);
        assert!(o.status.success(), "{}", text(&o));
        self.dir.path().join(format!("cert/server/{common_name}.pem"))
    }

    pub fn raw(&self, args: &[&str]) -> Output {
        let admin = self.admin.to_string();
        let (config, log, link) = (self.config(), self.dir.path().join("pedclient.log"), self.hsm_link());
        let mut all = args.to_vec();
        all.extend(["-configfile", config.to_str().unwrap(), "-admin", &admin]);
        all.extend(["-logfilename", log.to_str().unwrap(), "-hsmlink", link.to_str().unwrap(), "-logtrace", "1"]);
        Command::new(binary("pedclient")).args(&all).output().unwrap()
    }

    /// Starts the daemon with extra seed options.
    pub fn start(mut self, extra: &[&str]) -> PedClient {
        let o = self.run("start", extra);
        assert!(o.status.success(), "pedclient start failed:\n{}", text(&o));
        self.started = true;
        self
    }

    /// `-mode show -json`.
    pub fn show(&self) -> serde_json::Value {
        let o = self.run("show", &["-json"]);
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)))
    }

    /// The running daemon's status report, asked on its admin port (`-mode show -json`'s
    /// `daemon`), without starting a process per look.
    pub fn status(&self) -> serde_json::Value {
        admin_status(self.admin)
    }

    /// An HSM on this client's HSM link.
    pub fn hsm(&self) -> Hsm {
        Hsm::connect(&self.hsm_link())
    }
}

impl Drop for PedClient {
    fn drop(&mut self) {
        if self.started {
            let _ = self.run("stop", &[]);
        }
    }
}

/// The test playing the HSM on pedclient's HSM link.
#[derive(Debug)]
pub struct Hsm {
    /// The link.
    pub stream: UnixStream,
    buf: Vec<u8>,
}

impl Hsm {
    /// Connects to the HSM link at `path`.
    pub fn connect(path: &Path) -> Hsm {
        let stream = UnixStream::connect(path).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        Hsm { stream, buf: Vec::new() }
    }

    /// Writes bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends an HSM link message.
    pub fn send_link(&mut self, msg: &HsmLinkMessage) {
        self.send(&msg.encode().unwrap());
    }

    /// `ped connect -ip HOST -port PORT` (port 0 with an empty host: the PED ID mapping);
    /// pedclient's answer.
    pub fn connect_to(&mut self, host: &str, port: u16) -> HsmLinkMessage {
        self.send_link(&HsmLinkMessage::Connect { hsm_serial: "150123".into(), host: host.into(), port });
        self.link()
    }

    /// The next frame; `None` at end of stream.
    pub fn frame(&mut self) -> Option<Vec<u8>> {
        next_frame(&mut self.stream, &mut self.buf)
    }

    /// The next frame, an HSM link message.
    pub fn link(&mut self) -> HsmLinkMessage {
        let f = self.frame().expect("a frame from pedclient");
        HsmLinkMessage::decode(Frame::decode_exact(&f).unwrap()).unwrap()
    }
}

/// Expects `Closed` with `code`; returns its message.
pub fn closed(msg: HsmLinkMessage, code: u32) -> String {
    match msg {
        HsmLinkMessage::Closed { code: c, message } if c == code => message,
        other => panic!("expected Closed with 0x{code:08x}, got {other:?}"),
    }
}

/// The kernel's name of a process, which `pgrep`, `ps -o comm` and `top` show.
pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap().trim_end().to_owned()
}

/// Runs `-mode stop` through `run` when dropped, however the test ends.
pub struct StopOnDrop<'a, F: Fn(&str, &[&str]) -> Output>(pub &'a F);

impl<F: Fn(&str, &[&str]) -> Output> std::fmt::Debug for StopOnDrop<'_, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StopOnDrop")
    }
}

impl<F: Fn(&str, &[&str]) -> Output> Drop for StopOnDrop<'_, F> {
    fn drop(&mut self) {
        let _ = (self.0)("stop", &[]);
    }
}

/// Runs daemon `name`'s install script (`packaging/install.sh` of the crate at
/// `manifest_dir`) into a staging root and checks what an administrator finds: the binary
/// runs as the seed's name `seed_name`, the completions and the man page answer to that
/// name too, and every `Documentation=` of the unit is installed.
pub fn check_staged_install(manifest_dir: &str, name: &str, seed_name: &str) {
    let root = tempfile::tempdir().unwrap();
    let script = Path::new(manifest_dir).join("packaging/install.sh");
    let o = Command::new(script).arg(binary(name)).env("DESTDIR", root.path()).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let usr = root.path().join("usr");
    assert_eq!(std::fs::read_link(usr.join("bin").join(seed_name)).unwrap(), Path::new(name));
    let o = Command::new(usr.join("bin").join(seed_name)).arg("--version").output().unwrap();
    assert!(o.status.success() && text(&o).starts_with(&format!("{name} ")), "{}", text(&o));
    for completion in [
        format!("bash-completion/completions/{seed_name}"),
        format!("fish/vendor_completions.d/{seed_name}.fish"),
        format!("man/man1/{seed_name}.1"),
    ] {
        assert!(usr.join("share").join(&completion).exists(), "{completion}");
    }

    let unit = std::fs::read_to_string(root.path().join(format!("etc/systemd/system/{name}.service"))).unwrap();
    let documentation = unit.lines().find_map(|l| l.strip_prefix("Documentation=")).expect("Documentation=");
    let urls: Vec<&str> = documentation.split_whitespace().collect();
    let man = format!("man:{name}(1)");
    assert!(urls.contains(&man.as_str()) && urls.iter().any(|u| u.starts_with("file:")), "{urls:?}");
    for url in urls {
        let path = match (url.strip_prefix("man:"), url.strip_prefix("file:/")) {
            (Some(page), _) => format!("usr/share/man/man1/{}.1", page.trim_end_matches("(1)")),
            (_, Some(path)) => path.to_owned(),
            _ => panic!("{url}: neither man: nor file:"),
        };
        assert!(root.path().join(&path).is_file(), "{url}: {path} is not installed");
    }
}
