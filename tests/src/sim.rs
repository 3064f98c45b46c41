//! A headless ped-sim process and the scripted key holder standing at it.
//!
//! The key holder talks to ped-sim's control socket: key presses and insertions return
//! once the PED core has handled them, so only what the HSM drives (a prompt arriving
//! over the channel) is waited for, with `wait-screen`; nothing sleeps.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use ped_testkit::KeyHolder;

use crate::mcu::McuPed;
use crate::{PATIENCE, Process, binary, path_str, wait_until};

/// A ped-sim with its own USB endpoint, control socket, screen log and key port.
#[derive(Debug)]
pub struct PedSim {
    process: Option<Process>,
    /// The emulated USB endpoint (`socket:` this path for the host).
    pub usb: PathBuf,
    control: PathBuf,
    screens: PathBuf,
    /// The settings common to the headless and the terminal-UI PED.
    args: Vec<String>,
    /// The firmware image on QEMU whose peripherals this ped-sim is (`--board`).
    board: Option<McuPed>,
}

/// What every PED of the rig is told: its serial (also its key port's name), the root it
/// trusts, the key drawer, how it reaches its host (`--usb` for the in-process core,
/// `--board` for the image under QEMU) and where it logs its screens.
fn identity_args(name: &str, root: &Path, keys: &Path, link: [String; 2], screens: &Path) -> Vec<String> {
    let mut args: Vec<String> =
        ["--serial", name, "--trusted-root", path_str(root), "--keys", path_str(keys), "--port", name]
            .map(String::from)
            .to_vec();
    args.extend(link);
    args.extend(["--json".to_owned(), path_str(screens).to_owned()]);
    args
}

impl PedSim {
    /// Starts PED `name` (also its serial and its key port's name) trusting `root`,
    /// reading keys from `keys`; its files live in `dir`.
    pub fn start(dir: &Path, name: &str, root: &Path, keys: &Path) -> PedSim {
        PedSim::start_with(dir, name, root, keys, &[])
    }

    /// [`PedSim::start`] with more ped-sim options, e.g. `--vendor-key FILE` for a PED
    /// that offers Software Update.
    pub fn start_with(dir: &Path, name: &str, root: &Path, keys: &Path, extra: &[&str]) -> PedSim {
        let mut sim = PedSim::by_hand(dir, name, root, keys);
        sim.args.extend(extra.iter().map(|a| (*a).to_owned()));
        sim.spawn();
        sim
    }

    fn spawn(&mut self) {
        let mut args = vec!["--headless".to_owned()];
        args.extend(self.args.iter().cloned());
        args.extend(["--control".to_owned(), format!("socket:{}", self.control.display())]);
        self.process = Some(Process::spawn(&binary("ped-sim"), &args));
        wait_until("ped-sim's USB endpoint and control socket", || self.usb.exists() && self.control.exists());
    }

    /// Unplugs the PED and plugs it in again (the seed's restart after an update): a new
    /// process on the same flash, keys and sockets, booting whatever its flash holds.
    pub fn restart(&mut self) {
        assert!(self.board.is_none(), "restarting a PED board is not supported");
        self.unplug();
        // A killed ped-sim leaves its socket files behind; wait for the new ones.
        let _ = std::fs::remove_file(&self.usb);
        let _ = std::fs::remove_file(&self.control);
        self.spawn();
    }

    /// PED `name` as [`PedSim::start`] sets it up, but not started: a person runs
    /// [`PedSim::command_line`] (the terminal UI, no control socket) in a terminal.
    pub fn by_hand(dir: &Path, name: &str, root: &Path, keys: &Path) -> PedSim {
        let usb = dir.join(format!("{name}-usb.sock"));
        let control = dir.join(format!("{name}-ctl.sock"));
        let screens = dir.join(format!("{name}-screens.jsonl"));
        let flash = dir.join(format!("{name}-flash"));
        let link = ["--usb".to_owned(), format!("socket:{}", usb.display())];
        let mut args = identity_args(name, root, keys, link, &screens);
        args.extend(["--state".to_owned(), path_str(&flash).to_owned()]);
        PedSim { process: None, usb, control, screens, args, board: None }
    }

    /// PED `name` as the firmware image under QEMU (docs/board.md): the board boots,
    /// then a headless ped-sim becomes its display, keypad and key port (`--board`),
    /// with the same control socket and screen log as [`PedSim::start`]; [`PedSim::usb`]
    /// is the board's USB link. Returns once the board shows Select Mode.
    pub fn start_board(dir: &Path, name: &str, root: &Path, keys: &Path) -> PedSim {
        let board = McuPed::start(dir, name);
        let control = dir.join(format!("{name}-ctl.sock"));
        let screens = dir.join(format!("{name}-screens.jsonl"));
        let link = ["--board".to_owned(), format!("socket:{}", board.board.display())];
        let args = identity_args(name, root, keys, link, &screens);
        let mut sim = PedSim { process: None, usb: board.usb.clone(), control, screens, args, board: Some(board) };
        sim.spawn();
        sim.holder().wait("Select Mode", 30);
        sim
    }

    /// The firmware image under QEMU, if this PED is one.
    pub fn board(&self) -> Option<&McuPed> {
        self.board.as_ref()
    }

    /// The command line of this PED in its terminal UI (no `--headless`, no control
    /// socket), for a person to run.
    pub fn command_line(&self) -> Vec<String> {
        let mut words = vec![binary("ped-sim").display().to_string()];
        words.extend(self.args.iter().cloned());
        words
    }

    /// `socket:PATH` of the USB endpoint, as pedserver's `-device` or hsm-emu's `--local-ped`.
    pub fn device(&self) -> String {
        format!("socket:{}", self.usb.display())
    }

    /// A key holder at this PED (one control connection).
    pub fn holder(&self) -> SimHolder {
        SimHolder::connect(&self.control)
    }

    /// Every screen drawn so far, oldest first: each one's eight lines.
    pub fn screens(&self) -> Vec<Vec<String>> {
        screens_in(&self.screens)
    }

    /// The file ped-sim appends each screen to, for a watcher on another thread.
    pub fn screen_log(&self) -> &Path {
        &self.screens
    }

    /// Pulls the PED's cable: the process dies at once, as a board losing power.
    pub fn unplug(&mut self) {
        if let Some(p) = self.process.take() {
            p.kill();
        }
        if let Some(board) = &mut self.board {
            board.stop();
        }
    }
}

/// Every screen in ped-sim's screen log `path`, oldest first: each one's eight lines. A
/// line still being written is not parsed, so it is left for the next read.
pub fn screens_in(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| v["lines"].as_array().into_iter().flatten().map(|l| l.as_str().unwrap_or("").to_owned()).collect())
        .collect()
}

/// Whether any screen in `screens` has a line containing `text`.
pub fn shown(screens: &[Vec<String>], text: &str) -> bool {
    screens.iter().any(|s| s.iter().any(|l| l.contains(text)))
}

/// The people at a ped-sim: they send its control socket the key holder's actions
/// ([`KeyHolder`]'s steps, written once for this rig and the in-memory net).
#[derive(Debug)]
pub struct SimHolder {
    stream: UnixStream,
    replies: BufReader<UnixStream>,
}

impl SimHolder {
    fn connect(path: &Path) -> SimHolder {
        let stream = UnixStream::connect(path).unwrap_or_else(|e| panic!("ped-sim control {}: {e}", path.display()));
        // A wait-screen carries its own timeout; this only guards against a dead sim.
        stream.set_read_timeout(Some(PATIENCE * 4)).expect("a read timeout");
        let replies = BufReader::new(stream.try_clone().expect("a second handle"));
        SimHolder { stream, replies }
    }

    /// Sends one control line and returns its reply, whether it succeeded or not.
    pub fn try_run(&mut self, line: &str) -> serde_json::Value {
        writeln!(self.stream, "{line}").unwrap_or_else(|e| panic!("`{line}`: ped-sim is gone: {e}"));
        let mut reply = String::new();
        self.replies.read_line(&mut reply).unwrap_or_else(|e| panic!("`{line}`: no reply: {e}"));
        serde_json::from_str(&reply).unwrap_or_else(|e| panic!("`{line}`: {e}: {reply}"))
    }

    /// Sends one control line; it must succeed.
    pub fn run(&mut self, line: &str) -> serde_json::Value {
        let reply = self.try_run(line);
        assert_eq!(reply["ok"], true, "`{line}`: {reply}");
        reply
    }
}

impl KeyHolder for SimHolder {
    fn press(&mut self, key: &str) {
        self.run(&format!("press {key}"));
    }

    fn type_digits(&mut self, digits: &str) {
        if !digits.is_empty() {
            self.run(&format!("type {digits}"));
        }
    }

    fn insert(&mut self, serial: &str) {
        self.run(&format!("insert {serial}"));
    }

    fn remove(&mut self) {
        self.run("remove");
    }

    fn wait(&mut self, text: &str, seconds: u32) {
        self.run(&format!("wait-screen \"{text}\" {seconds}"));
    }

    fn screen(&mut self) -> Vec<String> {
        let reply = self.run("screen");
        reply["lines"].as_array().into_iter().flatten().map(|l| l.as_str().unwrap_or("").to_owned()).collect()
    }
}
