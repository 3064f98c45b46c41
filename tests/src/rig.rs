//! The whole system on one machine: emulated keys, a local PED plugged into the HSM, a
//! remote PED behind pedserver, pedclient, and `hsm-emu serve`, every link between the
//! HSM and the remote PED passing through a recorder.
//!
//! ```text
//! hsm-emu ─local USB─> LOCAL ped-sim
//! hsm-emu ─HSM link─> [rec] ─> pedclient ─TCP─> [chaos] ─> pedserver ─USB─> [rec] ─> REMOTE ped-sim
//! ```
//!
//! Fields drop in declaration order: the HSM first, the daemons (stopped through their
//! admin ports), then the PEDs, the temporary directory last; on a panic as well.

use crate::chaos::Chaos;
use crate::hsm::HsmEmu;
use crate::keys::Keys;
use crate::pedclient::PedClient;
use crate::proxy::Recorder;
use crate::sim::{PedSim, SimHolder};
use ped_testkit::ceremony::Bench;
use ped_testkit::{CliResult, Which};
use std::path::PathBuf;
use std::process::Output;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{PedServer, free_port, output_text, wait_until};

/// The serial every rig HSM is manufactured with (hsm-emu's default).
pub const HSM_SERIAL: &str = "150001";

/// How the rig's daemons are set up.
#[derive(Debug, Clone)]
pub struct Settings<'a> {
    /// Extra `pedclient -mode start` settings, e.g. `["-idletimeout", "2"]`.
    pub pedclient: &'a [&'a str],
    /// Extra `pedserver -mode start` settings, e.g. `["-socketreadtimeout", "1"]`.
    pub pedserver: &'a [&'a str],
    /// Extra `hsm-emu serve` settings, e.g. `["--firmware", "7.4.2"]`.
    pub hsm: &'a [&'a str],
    /// The HSM's PED-key action timeout, seconds.
    pub key_timeout: u32,
    /// `None`: the rig starts the remote ped-sim. `Some(wait)`: a person starts it (in its
    /// terminal UI, from the command line the rig prints) and the rig waits up to `wait`
    /// for pedserver to see it; [`Rig::remote`] then has no control socket.
    pub remote_by_hand: Option<Duration>,
    /// `true`: the HSM link, the TCP link and the remote PED's USB pass through the
    /// recorders and the chaos proxy. `false`: the components talk to each other
    /// directly (the taps exist but carry nothing): the system's own path, for the
    /// benchmarks, which must not count the test instruments' hops.
    pub taps: bool,
    /// What the remote PED is: ped-sim's in-process core, or the firmware image on QEMU
    /// with ped-sim as its peripherals (`ped-rig --ped mcu`).
    pub remote: RemotePed,
}

/// The remote PED of a rig.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RemotePed {
    /// ped-sim, the core in its process.
    #[default]
    Sim,
    /// The firmware image (`mcu/ped-board`) under QEMU `mps2-an386`, ped-sim its display,
    /// keypad and key port (docs/board.md).
    Mcu,
}

impl Default for Settings<'_> {
    fn default() -> Self {
        Settings {
            pedclient: &[],
            pedserver: &[],
            hsm: &[],
            key_timeout: 60,
            remote_by_hand: None,
            taps: true,
            remote: RemotePed::Sim,
        }
    }
}

/// A running rig. See the module documentation for its shape.
#[derive(Debug)]
pub struct Rig {
    /// The emulated HSM.
    pub hsm: HsmEmu,
    /// The HSM host's pedclient.
    pub pedclient: PedClient,
    /// The pedserver on the remote PED's laptop.
    pub pedserver: PedServer,
    /// The PED plugged into the HSM (Local PED-USB).
    pub local: PedSim,
    /// The PED behind pedserver (Remote PED).
    pub remote: PedSim,
    /// The key drawer both PEDs read.
    pub keys: Keys,
    /// The HSM link (hsm-emu ↔ pedclient).
    pub hsm_link: Recorder,
    /// The TCP link (pedclient ↔ pedserver), through a chaos proxy a test can fault.
    pub tcp: Chaos,
    /// The remote PED's USB (pedserver ↔ ped-sim).
    pub usb: Recorder,
    /// The port `ped connect` uses: the chaos proxy in front of pedserver.
    pub port: u16,
    /// The CLI of the command [`Bench::start`] started, until [`Bench::finish`].
    running: Option<JoinHandle<CliResult>>,
    dir: tempfile::TempDir,
}

impl Rig {
    /// Starts everything and waits until pedserver sees the remote PED.
    pub fn start(settings: &Settings<'_>) -> Rig {
        let dir = tempfile::tempdir().expect("a temp dir");
        let d = dir.path();
        let keys = Keys::open(&d.join("keys"));
        let pedclient = PedClient::new(&d.join("pedclient"));
        let hsm_link_path = d.join("hsmlink-rec.sock");
        let hsm_to_pedclient = if settings.taps { hsm_link_path.clone() } else { pedclient.hsm_link() };
        let hsm =
            HsmEmu::start_with(d, &d.join("LOCAL-usb.sock"), &hsm_to_pedclient, settings.key_timeout, settings.hsm);
        let local = PedSim::start(d, "LOCAL", &hsm.root(), keys.dir());
        let remote = match (settings.remote_by_hand, settings.remote) {
            (None, RemotePed::Sim) => PedSim::start(d, "REMOTE", &hsm.root(), keys.dir()),
            (None, RemotePed::Mcu) => PedSim::start_board(d, "REMOTE", &hsm.root(), keys.dir()),
            (Some(_), RemotePed::Sim) => PedSim::by_hand(d, "REMOTE", &hsm.root(), keys.dir()),
            (Some(_), RemotePed::Mcu) => panic!("a remote PED by hand is ped-sim's terminal UI, not the MCU image"),
        };
        let hsm_link = Recorder::unix(&hsm_link_path, &pedclient.hsm_link());
        let usb_path = d.join("usb-rec.sock");
        let usb = Recorder::unix(&usb_path, &remote.usb);
        let pedserver_to_ped = if settings.taps { usb_path } else { remote.usb.clone() };
        let pedserver = PedServer::start_with(&format!("socket:{}", pedserver_to_ped.display()), settings.pedserver);
        let (tcp, chaos_port) = Chaos::tcp(pedserver.port);
        let port = if settings.taps { chaos_port } else { pedserver.port };
        let mut pedclient = pedclient;
        pedclient.start(settings.pedclient);
        match settings.remote_by_hand {
            None => wait_until("pedserver to see the remote PED", || pedserver.show()["ped"]["connected"] == true),
            // The recorder in front of the PED accepts pedserver before the PED exists: wait for
            // the PED's own endpoint first.
            Some(wait) => {
                wait_for_person(&remote, wait, || remote.usb.exists() && pedserver.show()["ped"]["connected"] == true)
            }
        }
        Rig { hsm, pedclient, pedserver, local, remote, keys, hsm_link, tcp, usb, port, running: None, dir }
    }

    /// The rig's temporary directory.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// `ped connect -ip 127.0.0.1 -port P` to the rig's pedserver, with `extra` words.
    pub fn connect(&self, extra: &[&str]) -> CliResult {
        let port = self.port.to_string();
        let mut words = vec!["ped", "connect", "-ip", "127.0.0.1", "-port", &port];
        words.extend(extra);
        self.hsm.cli(&words)
    }

    /// Every byte that crossed the HSM link, the TCP link and the remote PED's USB.
    pub fn captured(&self) -> Vec<Vec<u8>> {
        [self.hsm_link.streams(), self.tcp.streams(), self.usb.streams()].concat()
    }

    /// Switches the rig to PED-initiated mode (docs/pedclient.md and docs/pedserver.md,
    /// "PED-initiated mode"): each daemon makes its certificate and pins the other's,
    /// pedserver registers the rig's pedclient as [`APPLIANCE`] at 127.0.0.1 on a free port,
    /// and pedclient is restarted listening there with `pedclient` settings. pedserver is
    /// not connected yet: that is `pedserver -mode connect -name APPLIANCE`. Returns the
    /// listen port.
    pub fn ped_initiated(&mut self, pedclient: &[&str]) -> u16 {
        let appliance = regenerated(&self.pedclient.raw(&["-regen", "-commonname", APPLIANCE]));
        let laptop = regenerated(&self.pedserver.raw(&["-regen", "-commonname", "rig-laptop"]));
        let o = self.pedclient.raw(&["-register", "-certificate", crate::path_str(&laptop.path)]);
        assert!(o.status.success(), "pedclient -register:\n{}", output_text(&o));
        let listen = free_port();
        let port = listen.to_string();
        let cert = crate::path_str(&appliance.path);
        let o = self.pedserver.raw(&[
            "-appliance",
            "register",
            "-name",
            APPLIANCE,
            "-certificate",
            cert,
            "-ip",
            "127.0.0.1",
            "-port",
            &port,
        ]);
        assert!(o.status.success(), "pedserver -appliance register:\n{}", output_text(&o));
        let mut settings = vec!["-pedinitiated", "1", "-listenport", &port, "-listenip", "127.0.0.1"];
        settings.extend(pedclient);
        self.pedclient.restart(&settings);
        listen
    }

    /// A second remote PED behind its own pedserver, both in this rig's directory.
    pub fn another_remote(&self, name: &str) -> (PedSim, PedServer) {
        let sim = PedSim::start(self.dir(), name, &self.hsm.root(), self.keys.dir());
        let server = PedServer::start(&sim.device());
        wait_until("the second pedserver to see its PED", || server.show()["ped"]["connected"] == true);
        (sim, server)
    }
}

/// The ceremony steps on the rig: each command is a CLI process, each key holder a
/// connection to a ped-sim's control socket, the keys the drawer's files.
impl Bench for Rig {
    type Holder<'a> = SimHolder;

    /// A bare `ped connect` goes to the rig's pedserver (through its chaos proxy), as on
    /// the in-memory net, where pedclient maps the HSM to its one pedserver.
    fn start(&mut self, words: &[&str]) {
        assert!(self.running.is_none(), "`{}` started while a command runs", words.join(" "));
        let port = self.port.to_string();
        let mut words = words.to_vec();
        if words == ["ped", "connect"] {
            words.extend(["-ip", "127.0.0.1", "-port", &port]);
        }
        self.running = Some(self.hsm.start_cli(&words));
    }

    fn finish(&mut self) -> CliResult {
        self.running.take().expect("a command was started").join().expect("the CLI thread")
    }

    fn holder(&mut self, which: Which) -> SimHolder {
        match which {
            Which::Remote => self.remote.holder(),
            Which::Local => self.local.holder(),
        }
    }

    fn blank(&mut self, n: usize) -> Vec<String> {
        self.keys.blank(n)
    }

    fn key_bytes(&self, serial: &str) -> Option<Vec<u8>> {
        let payload = self.keys.payload(serial);
        (!payload.is_empty()).then_some(payload)
    }

    /// ped-sim binds PINs at the production count.
    fn pin_iterations(&self) -> u32 {
        ped_proto::pin::PIN_ITERATIONS.get()
    }
}

/// The name under which the rig's pedserver registers the rig's pedclient (its appliance)
/// in PED-initiated mode; also the common name of pedclient's certificate.
pub const APPLIANCE: &str = "rig-appliance";

/// A certificate that `-regen` made, as it printed it.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// The PEM file, to give to the other side.
    pub path: PathBuf,
    /// Its SHA-256 fingerprint as printed (`8E:2F:...`).
    pub fingerprint: String,
}

/// The certificate of a successful `pedclient -regen` or `pedserver -regen`, from its output.
pub fn regenerated(o: &Output) -> Certificate {
    let text = output_text(o);
    assert!(o.status.success(), "-regen failed:\n{text}");
    let after = |prefix: &str| {
        text.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("no {prefix:?} in:\n{text}")).trim()
    };
    Certificate {
        path: PathBuf::from(after("Certificate created and written to: ")),
        fingerprint: after("Certificate SHA-256 fingerprint: ").to_owned(),
    }
}

/// Prints the remote ped-sim's command line for a person to run, then waits up to `wait`
/// for `seen` (polled every 50 ms; a Ctrl-C kills pedserver, and `seen` then panics).
#[allow(clippy::print_stdout, reason = "the command line is for the person at the rig (`ped-rig --interactive`)")]
fn wait_for_person(remote: &PedSim, wait: Duration, mut seen: impl FnMut() -> bool) {
    let command = remote.command_line().join(" ");
    println!("\nped-rig: the remote PED is yours. In a second terminal, run:\n\n  {command}\n");
    println!("ped-rig: waiting up to {} s for pedserver to see that PED (Ctrl-C tears the rig down)", wait.as_secs());
    let deadline = Instant::now() + wait;
    while !seen() {
        // pedserver and pedclient are daemons, not children: an interrupt cannot kill
        // them, so it ends this wait and dropping the rig stops them.
        assert!(!crate::killed(), "interrupted");
        assert!(Instant::now() < deadline, "timed out waiting for the remote PED started by hand");
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("ped-rig: pedserver sees the remote PED");
}
