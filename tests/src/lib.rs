//! The rig: every component of the remote-PED system started as a real process on
//! loopback, with temporary directories, and torn down when the test ends.
//!
//! The binaries are the workspace's own (`pedserver`, `ped-sim`, `ikey-emu`). A test
//! binary cannot name another package's binaries through `CARGO_BIN_EXE_*`, so the rig
//! finds them beside itself in the target directory; `cargo test --workspace` builds
//! every package's binaries before it runs any test, and `ped-rig` builds them first.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

/// How long the rig waits for anything before failing the test.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The path of workspace binary `name`, built by the same cargo invocation.
pub fn binary(name: &str) -> PathBuf {
    let path = profile_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo test --workspace` (or `cargo build --workspace`) first",
        path.display()
    );
    path
}

/// target/<profile>: a test runs from target/<profile>/deps, an example (`e2e_bench`)
/// from target/<profile>/examples, a binary (`ped-rig`) from target/<profile> itself.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the running binary knows its path");
    let dir = exe.parent().expect("a binary lives in a directory");
    if dir.ends_with("deps") || dir.ends_with("examples") { dir.parent().unwrap_or(dir) } else { dir }.to_path_buf()
}

/// A port the OS had free a moment ago, on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// Everything a process printed, for assertion messages.
pub fn output_text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Polls `check` until it holds or [`PATIENCE`] runs out.
pub fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process killed when the test ends, however it ends.
#[derive(Debug)]
pub struct Process(Arc<Mutex<Child>>);

/// Every [`Process`] alive, so that a Ctrl-C handler (on its own thread, while the rig is
/// busy on another) can kill them: see [`kill_children`].
static CHILDREN: Mutex<Vec<Weak<Mutex<Child>>>> = Mutex::new(Vec::new());

/// Kills every [`Process`] still running. The steps waiting on them then fail, and the
/// rig is torn down as their panic unwinds (the daemons are stopped through their admin
/// ports, the temporary directory removed).
pub fn kill_children() {
    KILLED.store(true, Ordering::SeqCst);
    let children = CHILDREN.lock().unwrap_or_else(PoisonError::into_inner);
    for child in children.iter().filter_map(Weak::upgrade) {
        let _ = child.lock().unwrap_or_else(PoisonError::into_inner).kill();
    }
}

/// Set once [`kill_children`] ran: loops that wait for a person (rather than for a
/// child) check it, so that an interrupt ends them and the rig is dropped.
static KILLED: AtomicBool = AtomicBool::new(false);

/// Whether the rig has been interrupted.
pub fn killed() -> bool {
    KILLED.load(Ordering::SeqCst)
}

impl Process {
    /// Starts `binary` with `args`, its output discarded (components log to files).
    pub fn spawn(binary: &Path, args: &[String]) -> Process {
        let child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", binary.display()));
        let child = Arc::new(Mutex::new(child));
        let mut children = CHILDREN.lock().unwrap_or_else(PoisonError::into_inner);
        children.retain(|c| c.strong_count() > 0);
        children.push(Arc::downgrade(&child));
        Process(child)
    }

    /// Kills it now (a PED unplugged, a crashed daemon).
    pub fn kill(self) {
        drop(self);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let mut child = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A pedserver daemon with its own config, log and ports, stopped when dropped.
#[derive(Debug)]
pub struct PedServer {
    dir: tempfile::TempDir,
    /// The pedclient port.
    pub port: u16,
    admin: u16,
}

impl PedServer {
    /// `pedserver -mode start` with the PED at `device` (e.g. `socket:/path`).
    pub fn start(device: &str) -> PedServer {
        PedServer::start_with(device, &[])
    }

    /// [`PedServer::start`] with `extra` settings (e.g. `-socketreadtimeout 1`).
    pub fn start_with(device: &str, extra: &[&str]) -> PedServer {
        let server = PedServer { dir: tempfile::tempdir().expect("a temp dir"), port: free_port(), admin: free_port() };
        let mut args = vec!["-device", device];
        args.extend(extra);
        let o = server.run("start", &args);
        assert!(o.status.success(), "pedserver start failed:\n{}", output_text(&o));
        server
    }

    /// Runs `pedserver -mode MODE` against this server.
    pub fn run(&self, mode: &str, extra: &[&str]) -> Output {
        let (config, log) = (self.dir.path().join("pedserver.toml"), self.dir.path().join("pedserver.log"));
        let (port, admin) = (self.port.to_string(), self.admin.to_string());
        let mut args = vec!["-mode", mode, "-configfile", path_str(&config), "-port", &port, "-admin", &admin];
        args.extend(["-eserverport", "0", "-logfilename", path_str(&log)]);
        args.extend(extra);
        Command::new(binary("pedserver")).args(&args).output().expect("pedserver runs")
    }

    /// `pedserver ARGS` on this server's configuration file, for the commands that take
    /// no `-mode` (`-regen`, `-appliance`); their certificates go beside that file.
    pub fn raw(&self, args: &[&str]) -> Output {
        let config = self.dir.path().join("pedserver.toml");
        Command::new(binary("pedserver"))
            .args(args)
            .args(["-configfile", path_str(&config)])
            .output()
            .expect("pedserver runs")
    }

    /// `pedserver -mode show -json`.
    pub fn show(&self) -> serde_json::Value {
        let o = self.run("show", &["-json"]);
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("show -json: {e}\n{}", output_text(&o)))
    }
}

impl Drop for PedServer {
    fn drop(&mut self) {
        let _ = self.run("stop", &[]);
    }
}

/// A ped-sim with no keypad (scripted through its control socket), serving the
/// emulated USB endpoint at `usb`.
pub fn ped_sim(dir: &Path, serial: &str, trusted_root_der: &Path, usb: &Path) -> Process {
    let state = dir.join("sim-state");
    let args = [
        "--headless",
        "--serial",
        serial,
        "--trusted-root",
        path_str(trusted_root_der),
        "--usb",
        &format!("socket:{}", usb.display()),
        "--state",
        path_str(&state),
    ];
    Process::spawn(&binary("ped-sim"), &args.map(String::from))
}

pub(crate) fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

pub mod chaos;
pub mod hsm;
pub mod keys;
pub mod mcu;
pub mod pedclient;
pub mod proxy;
pub mod rig;
pub mod sim;

/// The ceremony steps, written once over [`ceremony::Bench`], which [`rig::Rig`] implements.
pub use ped_testkit::ceremony;

/// The packages whose binaries the rig runs.
pub const RIG_PACKAGES: [&str; 5] = ["pedserver", "pedclient", "hsm-emu", "ped-sim", "ikey-emu"];

/// `cargo build -p … --bins` for [`RIG_PACKAGES`], in the profile the calling program
/// was built with, so that a binary run by `cargo run` (which builds only its own
/// package) finds the others beside it. It runs every time rather than comparing
/// timestamps: a binary newer than the caller can still be older than its sources, and
/// cargo's own check costs well under a second. `announce` sees the cargo arguments.
pub fn build_rig_binaries(announce: impl FnOnce(&str)) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let profile_dir = profile_dir();
    let mut args = vec!["build".to_owned(), "--quiet".to_owned()];
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => args.push("--release".to_owned()),
        Some(other) => args.extend(["--profile".to_owned(), other.to_owned()]),
        None => return Err(format!("{} is not a target profile directory", profile_dir.display())),
    }
    for package in RIG_PACKAGES {
        args.extend(["-p".to_owned(), package.to_owned()]);
    }
    args.push("--bins".to_owned());
    announce(&args.join(" "));
    // The workspace manifest this crate was built from, so that it works from any directory.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let out = Command::new(&cargo)
        .args(&args)
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .map_err(|e| format!("{}: {e}", PathBuf::from(&cargo).display()))?;
    if out.status.success() { Ok(()) } else { Err(format!("cargo failed:\n{}", String::from_utf8_lossy(&out.stderr))) }
}
