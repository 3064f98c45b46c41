//! Test rig: a fake PED on pedserver's emulated USB endpoint, a real pedserver process,
//! a pedclient process with its own config, log, admin port and HSM link, and an HSM
//! played by the test over that link.
#![allow(dead_code, unreachable_pub, reason = "a module shared by test files; each uses part of it")]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ped_wire::device::{DeviceMessage, PedInfo, PedMode};
use ped_wire::frame::{Frame, FrameType, HEADER_LEN};
use ped_wire::hsm_link::HsmLinkMessage;
use ped_wire::usb::{StreamDecoder, frame_records};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Another package's binary: beside this test binary's directory, in target/<profile>/.
/// `cargo test --workspace` builds it before any test runs.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join(name);
    assert!(path.exists(), "{} is not built; run `cargo build -p {name}` or `cargo test --workspace`", path.display());
    path
}

/// A PED on a Unix socket: answers InfoRequest, echoes every other frame and records
/// what it received. `unplug` cuts the connection and refuses new ones.
pub struct FakePed {
    pub path: PathBuf,
    plugged: Arc<AtomicBool>,
    current: Arc<Mutex<Option<UnixStream>>>,
    pub received: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl FakePed {
    pub fn new(dir: &Path) -> FakePed {
        let path = dir.join("ped.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let plugged = Arc::new(AtomicBool::new(true));
        let current: Arc<Mutex<Option<UnixStream>>> = Arc::default();
        let received: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let (p, c, r) = (plugged.clone(), current.clone(), received.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                if !p.load(Ordering::SeqCst) {
                    continue;
                }
                *c.lock().unwrap() = Some(stream.try_clone().unwrap());
                serve(stream, &r);
            }
        });
        FakePed { path, plugged, current, received }
    }

    pub fn spec(&self) -> String {
        format!("socket:{}", self.path.display())
    }

    pub fn unplug(&self) {
        self.plugged.store(false, Ordering::SeqCst);
        if let Some(s) = self.current.lock().unwrap().take() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn serve(mut stream: UnixStream, received: &Mutex<Vec<Vec<u8>>>) {
    let mut decoder = StreamDecoder::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        decoder.feed(&buf[..n]);
        while let Ok(Some(frame)) = decoder.next_frame() {
            let reply = match Frame::decode_exact(&frame).unwrap().frame_type {
                FrameType::DeviceInfoRequest => DeviceMessage::Info(PedInfo {
                    firmware_version: "2.9.0".into(),
                    serial: "PED0001".into(),
                    mode: PedMode::Remote,
                    protocol_versions: vec![1],
                    rpk_serials: vec![],
                })
                .encode()
                .unwrap(),
                _ => {
                    received.lock().unwrap().push(frame.clone());
                    frame
                }
            };
            let records = frame_records(&reply);
            if stream.write_all(&records).is_err() {
                return;
            }
        }
    }
}

/// A pedserver process in front of the fake PED; stopped on drop.
pub struct PedServer {
    pub dir: tempfile::TempDir,
    pub port: u16,
    admin: u16,
}

impl PedServer {
    pub fn start(device: &str, extra: &[&str]) -> PedServer {
        let s = PedServer { dir: tempfile::tempdir().unwrap(), port: free_port(), admin: free_port() };
        let o = s.run("start", &[&["-device", device], extra].concat());
        assert!(o.status.success(), "pedserver start failed:\n{}", text(&o));
        s
    }

    pub fn run(&self, mode: &str, extra: &[&str]) -> Output {
        let d = self.dir.path();
        let (port, admin) = (self.port.to_string(), self.admin.to_string());
        let (config, log) = (d.join("pedserver.toml"), d.join("pedserver.log"));
        let mut args = vec!["-mode", mode, "-configfile", config.to_str().unwrap(), "-port", &port];
        args.extend(["-admin", &admin, "-eserverport", "0", "-logfilename", log.to_str().unwrap()]);
        args.extend(extra);
        Command::new(binary("pedserver")).args(&args).output().unwrap()
    }

    /// A pedserver command without -mode (regen, appliance) on this server's config.
    pub fn raw(&self, args: &[&str]) -> Output {
        let config = self.dir.path().join("pedserver.toml");
        let mut all = args.to_vec();
        all.extend(["-configfile", config.to_str().unwrap()]);
        Command::new(binary("pedserver")).args(&all).output().unwrap()
    }

    pub fn show(&self) -> serde_json::Value {
        let o = self.run("show", &["-json"]);
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pedserver.log")).unwrap_or_default()
    }
}

impl Drop for PedServer {
    fn drop(&mut self) {
        let _ = self.run("stop", &[]);
    }
}

/// A pedclient with its own configuration directory; `start` runs the daemon, which
/// is stopped on drop.
pub struct PedClient {
    pub dir: tempfile::TempDir,
    pub admin: u16,
    started: bool,
}

impl PedClient {
    pub fn new() -> PedClient {
        PedClient { dir: tempfile::tempdir().unwrap(), admin: free_port(), started: false }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("pedclient.toml")
    }

    pub fn hsm_link(&self) -> PathBuf {
        self.dir.path().join("hsm.sock")
    }

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
    pub fn raw(&self, args: &[&str]) -> Output {
        let admin = self.admin.to_string();
        let (config, log, link) = (self.config(), self.dir.path().join("pedclient.log"), self.hsm_link());
        let mut all = args.to_vec();
        all.extend(["-configfile", config.to_str().unwrap(), "-admin", &admin]);
        all.extend(["-logfilename", log.to_str().unwrap(), "-hsmlink", link.to_str().unwrap(), "-logtrace", "1"]);
        Command::new(env!("CARGO_BIN_EXE_pedclient")).args(&all).output().unwrap()
    }

    pub fn start(mut self, extra: &[&str]) -> PedClient {
        let o = self.run("start", extra);
        assert!(o.status.success(), "pedclient start failed:\n{}", text(&o));
        self.started = true;
        self
    }

    pub fn show(&self) -> serde_json::Value {
        let o = self.run("show", &["-json"]);
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)))
    }

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

/// The test playing the HSM on the HSM link.
pub struct Hsm {
    pub stream: UnixStream,
    buf: Vec<u8>,
}

impl Hsm {
    pub fn connect(path: &Path) -> Hsm {
        let stream = UnixStream::connect(path).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Hsm { stream, buf: Vec::new() }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    pub fn send_link(&mut self, msg: &HsmLinkMessage) {
        self.send(&msg.encode().unwrap());
    }

    /// `ped connect -ip 127.0.0.1 -port PORT` (port 0 with an empty host: the mapping).
    pub fn connect_to(&mut self, host: &str, port: u16) -> HsmLinkMessage {
        self.send_link(&HsmLinkMessage::Connect { hsm_serial: "150123".into(), host: host.into(), port });
        self.link()
    }

    /// The next frame; `None` at end of stream.
    pub fn frame(&mut self) -> Option<Vec<u8>> {
        loop {
            if self.buf.len() >= HEADER_LEN {
                let len = u32::from_be_bytes(self.buf[4..8].try_into().unwrap()) as usize;
                if self.buf.len() >= HEADER_LEN + len {
                    let rest = self.buf.split_off(HEADER_LEN + len);
                    return Some(std::mem::replace(&mut self.buf, rest));
                }
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => panic!("HSM link read: {e}"),
            }
        }
    }

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

pub fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
