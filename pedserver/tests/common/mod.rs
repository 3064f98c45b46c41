//! Test rig: a fake PED on the emulated USB endpoint, a pedserver process, a pedclient.
#![allow(dead_code, unreachable_pub, reason = "a module shared by test files; each uses part of it")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ped_wire::device::{DeviceMessage, PedInfo, PedMode};
use ped_wire::frame::{self, Frame, FrameType, HEADER_LEN};
use ped_wire::relay::{RELAY_VERSION, RelayMessage, RelayRole};
use ped_wire::usb::{StreamDecoder, frame_records};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn info() -> PedInfo {
    PedInfo {
        firmware_version: "2.9.0".into(),
        serial: "PED0001".into(),
        mode: PedMode::Remote,
        protocol_versions: vec![1],
        rpk_serials: vec!["1a123456789a1234".into()],
    }
}

/// A PED on a Unix socket: answers InfoRequest, echoes every other frame, records what
/// it received. `unplug` cuts the connection and refuses new ones (accepted and closed at
/// once, as a flapping device) until `replug`. `accepts` counts every connection.
pub struct FakePed {
    pub path: PathBuf,
    plugged: Arc<AtomicBool>,
    current: Arc<Mutex<Option<UnixStream>>>,
    pub received: Arc<Mutex<Vec<Vec<u8>>>>,
    pub accepts: Arc<AtomicUsize>,
}

impl FakePed {
    pub fn new(dir: &Path) -> FakePed {
        let path = dir.join("ped.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let plugged = Arc::new(AtomicBool::new(true));
        let current: Arc<Mutex<Option<UnixStream>>> = Arc::default();
        let received: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let accepts = Arc::new(AtomicUsize::new(0));
        let (p, c, r, a) = (plugged.clone(), current.clone(), received.clone(), accepts.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                a.fetch_add(1, Ordering::SeqCst);
                if !p.load(Ordering::SeqCst) {
                    continue; // refused: dropped at once, as a missing device
                }
                *c.lock().unwrap() = Some(stream.try_clone().unwrap());
                serve(stream, &r);
            }
        });
        FakePed { path, plugged, current, received, accepts }
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

    pub fn replug(&self) {
        self.plugged.store(true, Ordering::SeqCst);
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
                FrameType::DeviceInfoRequest => DeviceMessage::Info(info()).encode().unwrap(),
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

/// A pedserver started in the background; stopped (or killed) on drop.
pub struct PedServer {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub admin: u16,
    pub config: PathBuf,
    pid: Option<u32>,
}

pub fn pedserver(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pedserver")).args(args).output().unwrap()
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

impl PedServer {
    /// Starts with the fake PED at `device` and extra seed options.
    pub fn start(device: &str, extra: &[&str]) -> PedServer {
        let dir = tempfile::tempdir().unwrap();
        let (port, admin) = (free_port(), free_port());
        let config = dir.path().join("pedserver.toml");
        let mut s = PedServer { dir, port, admin, config, pid: None };
        let o = s.run("start", &[&["-device", device], extra].concat());
        assert!(o.status.success(), "start failed:\n{}", text(&o));
        s.pid = Some(s.show_json()["pid"].as_u64().unwrap() as u32);
        s
    }

    pub fn common(&self) -> Vec<String> {
        let log = self.dir.path().join("pedserver.log");
        [
            "-configfile",
            self.config.to_str().unwrap(),
            "-port",
            &self.port.to_string(),
            "-admin",
            &self.admin.to_string(),
            "-eserverport",
            "0",
            "-logfilename",
            log.to_str().unwrap(),
            "-logtrace",
            "1",
        ]
        .map(String::from)
        .to_vec()
    }

    pub fn run(&self, mode: &str, extra: &[&str]) -> Output {
        let mut args = vec!["-mode".to_string(), mode.to_string()];
        args.extend(self.common());
        args.extend(extra.iter().map(|s| s.to_string()));
        Command::new(env!("CARGO_BIN_EXE_pedserver")).args(&args).output().unwrap()
    }

    pub fn show_json(&self) -> serde_json::Value {
        let o = self.run("show", &["-json"]);
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pedserver.log")).unwrap_or_default()
    }

    /// Waits until the log holds `needle` (lines are written just after a close).
    pub fn log_has(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn pid(&self) -> u32 {
        self.pid.unwrap()
    }

    /// Waits until `check` holds on the JSON status.
    pub fn wait_for(&self, what: &str, check: impl Fn(&serde_json::Value) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = self.show_json();
            if check(&v) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}: {v}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn connect(&self) -> Client {
        Client::connect(self.port)
    }
}

impl Drop for PedServer {
    fn drop(&mut self) {
        if self.pid.is_some() {
            let o = self.run("stop", &[]);
            if !o.status.success() {
                let _ = Command::new("kill").arg("-9").arg(self.pid().to_string()).status();
            }
        }
    }
}

/// A minimal pedclient.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
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

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
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
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("read: {e}"),
            }
        }
    }

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

/// Open descriptors of a process.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}
