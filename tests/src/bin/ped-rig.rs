//! `ped-rig`: the whole remote-PED system on this machine, running the ceremony in front
//! of you. It starts the rig (emulated keys, a local PED, a remote PED behind pedserver,
//! pedclient, the HSM), then: local RPV initialisation with an orange key, `ped
//! connect`, `hsm init` creating 2-of-3 blue and red keysets with PINs, an SO quorum
//! login and `ped disconnect`, printing every PED screen and every command's result.
//!
//! `--interactive` hands the remote PED to a person: the rig does not start it but prints
//! the `ped-sim` command line (its terminal UI) to run in a second terminal, waits for
//! pedserver to see it, then prints, at each remote step, the `ikey-emu` commands that
//! insert and remove the keys and the PINs to type; the person answers the PED.
//!
//! `--ped mcu` makes the remote PED the firmware image (`mcu/ped-board`) under QEMU
//! `mps2-an386`, ped-sim its display, keypad and key port (docs/board.md); the local PED
//! stays ped-sim. Build the image first with `mcu/run-ped.sh --build-only`. `--ped sim`
//! (the default) is ped-sim's in-process core.
//!
//! `--no-build` skips building the other binaries (the process test runs inside a cargo
//! invocation that already built them and holds the build lock).

#![allow(clippy::print_stdout, reason = "a command-line program: its output is the point")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ped_testkit::{KeyHolder, KeySpec, Which};
use tests::ceremony::{self, Plan};
use tests::rig::{HSM_SERIAL, RemotePed, Rig, Settings};
use tests::sim::screens_in;

/// The blue keyset's PINs, one per key of the 2-of-3 set.
const BLUE_PINS: [&str; 3] = ["739146", "528371", "604815"];
/// The red keyset's PINs.
const RED_PINS: [&str; 3] = ["472913", "193847", "385917"];

/// What `--help` says first.
const ABOUT: &str = "ped-rig: the whole remote-PED system on this machine (emulated keys, a local PED, a remote \
PED behind pedserver, pedclient, the HSM), running a key ceremony in front of you.";

/// The command line, for `--help` and after a mistake.
const USAGE: &str = "Usage: ped-rig [--no-build] [--interactive] [--ped sim|mcu]

Options:
  --no-build      run the binaries already built, without `cargo build` first
  --interactive   you are the remote PED's key holder: run the printed ped-sim command
                  (its terminal UI) in a second terminal and follow the instructions
  --ped sim|mcu   the remote PED: ped-sim's core (sim, the default) or the firmware
                  image under QEMU mps2-an386 (mcu; first: mcu/run-ped.sh --build-only)
  -h, --help      print this help";

/// Set by Ctrl-C: the failures that follow are the teardown's, not the ceremony's.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match Options::parse(&args) {
        Ok(Request::Run(options)) => options,
        Ok(Request::Help) => {
            println!("{ABOUT}\n\n{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(bad) => {
            eprintln!("ped-rig: unknown argument {bad:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let build_started = Instant::now();
    if options.build
        && let Err(e) = build_rig_binaries()
    {
        eprintln!("ped-rig: FAILED to build the rig's binaries: {e}");
        return ExitCode::FAILURE;
    }

    let built = build_started.elapsed();
    let started = Instant::now();

    // A failed step panics (the rig library asserts); say so in one line, without the
    // backtrace hint, and let the unwinding tear the rig down. The hook must not panic
    // itself (stderr closed): a panic while panicking aborts, and the children would stay.
    std::panic::set_hook(Box::new(|info| {
        if INTERRUPTED.load(Ordering::SeqCst) {
            return;
        }
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("a step failed");
        warn(&format!("\nped-rig: FAILED: {message}"));
    }));
    let handler = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            // A second Ctrl-C: the person will not wait for the teardown.
            std::process::exit(130);
        }
        // Kill first: a message to a closed stderr (`ped-rig | tee` with tee gone on the
        // same Ctrl-C) must not stop the teardown.
        tests::kill_children();
        warn("\nped-rig: interrupted; tearing the rig down");
    });
    if let Err(e) = handler {
        eprintln!("ped-rig: FAILED to install the Ctrl-C handler: {e}");
        return ExitCode::FAILURE;
    }

    // The ceremony runs on its own thread so that a panic anywhere in it unwinds (and
    // drops the rig) before this thread decides the exit code.
    let (interactive, remote) = (options.interactive, options.remote);
    let outcome = std::thread::spawn(move || run(interactive, remote)).join();
    match outcome {
        _ if INTERRUPTED.load(Ordering::SeqCst) => {
            warn("ped-rig: the rig is torn down.");
            ExitCode::from(130)
        }
        Ok(()) => {
            // The build is reported apart: on a fresh machine it is minutes, the rig seconds.
            let build =
                if options.build { format!(" (the build before it: {:.1} s)", secs(built)) } else { String::new() };
            println!(
                "\nped-rig: the rig ran the ceremony in {:.1} s{build}; the rig is torn down.",
                secs(started.elapsed())
            );
            ExitCode::SUCCESS
        }
        Err(_) => {
            warn("ped-rig: the rig is torn down.");
            ExitCode::FAILURE
        }
    }
}

/// A line on stderr that never panics: the exit code matters more than the message.
fn warn(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    /// Run the rig.
    Run(Options),
    /// `--help`.
    Help,
}

/// The command line's options.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    /// Build the rig's binaries first (not `--no-build`).
    build: bool,
    /// A person runs the remote PED (`--interactive`).
    interactive: bool,
    /// What the remote PED is (`--ped sim|mcu`).
    remote: RemotePed,
}

impl Options {
    /// What `args` ask for, or the first argument that is no option.
    fn parse(args: &[String]) -> Result<Request, String> {
        let mut options = Options { build: true, interactive: false, remote: RemotePed::Sim };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "-h" | "--help" => return Ok(Request::Help),
                "--no-build" => options.build = false,
                "--interactive" => options.interactive = true,
                "--ped" => {
                    options.remote = match args.next().map(String::as_str) {
                        Some("sim") => RemotePed::Sim,
                        Some("mcu") => RemotePed::Mcu,
                        Some(bad) => return Err(format!("--ped {bad}")),
                        None => return Err("--ped (sim or mcu)".to_owned()),
                    }
                }
                bad => return Err(bad.to_owned()),
            }
        }
        if options.interactive && options.remote == RemotePed::Mcu {
            return Err("--interactive with --ped mcu (a person runs ped-sim's own core)".to_owned());
        }
        Ok(Request::Run(options))
    }
}

/// `cargo build` of the rig's binaries ([`tests::RIG_PACKAGES`]) in this program's
/// profile, with cargo's own progress on this terminal: on a first run it takes minutes,
/// which a silent build would leave looking like a hang.
fn build_rig_binaries() -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let profile_dir = tests::profile_dir();
    let mut args = vec!["build".to_owned()];
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => args.push("--release".to_owned()),
        Some(other) => args.extend(["--profile".to_owned(), other.to_owned()]),
        None => return Err(format!("{} is not a target profile directory", profile_dir.display())),
    }
    for package in tests::RIG_PACKAGES {
        args.extend(["-p".to_owned(), package.to_owned()]);
    }
    args.push("--bins".to_owned());
    println!("ped-rig: building the rig's binaries (cargo {})", args.join(" "));
    // The workspace manifest this program was built from, so that it works from any directory.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let status = Command::new(&cargo)
        .args(&args)
        .arg("--manifest-path")
        .arg(&manifest)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("{}: {e}", PathBuf::from(&cargo).display()))?;
    if status.success() { Ok(()) } else { Err(format!("cargo build ended with {status} (its messages are above)")) }
}

/// How long a person has to start the remote PED, and for each PED-key action.
const BY_HAND: Duration = Duration::from_secs(600);

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The ceremony; panics (with the reason) at the first step that fails.
fn run(interactive: bool, remote: RemotePed) {
    let what = match remote {
        RemotePed::Sim => "remote PED",
        RemotePed::Mcu => "remote PED: the firmware image on QEMU mps2-an386",
    };
    println!("ped-rig: starting the rig (HSM {HSM_SERIAL}, local PED, {what}, pedserver, pedclient)");
    let settings = if interactive {
        Settings { key_timeout: 600, remote_by_hand: Some(BY_HAND), ..Settings::default() }
    } else {
        Settings { remote, ..Settings::default() }
    };
    let mut rig = Rig::start(&settings);
    *SCREENS.lock().unwrap_or_else(PoisonError::into_inner) =
        [("local PED", rig.local.screen_log()), ("remote PED", rig.remote.screen_log())]
            .map(|(name, log)| Screens { name, log: log.to_path_buf(), seen: 0, last: Vec::new() })
            .into();
    rig.hsm.echo(print_new_screens);
    let watcher = Watcher::start();
    let pedserver = rig.pedserver.show();
    println!(
        "ped-rig: pedserver started on 127.0.0.1:{} (PED connected: {}); `ped connect` goes to port {}",
        rig.pedserver.port, pedserver["ped"]["connected"], rig.port
    );

    step("1. Local RPV initialisation at the local PED: a new orange key");
    let orange = ceremony::local_rpv(&mut rig);
    step("2. ped connect: the HSM opens the remote PED channel through pedclient and pedserver");
    rig.connect(&[]).ok();
    step("3. hsm init over the remote PED: orange key, then 2-of-3 blue (SO) and red (domain) keysets with PINs");
    let blue = Plan { m: 2, n: 3, pins: &BLUE_PINS };
    let red = Plan { m: 2, n: 3, pins: &RED_PINS };
    let (blue, red) = if interactive {
        hsm_init_by_hand(&mut rig, &orange, blue, red)
    } else {
        ceremony::hsm_init(&mut rig, Which::Remote, Some((&orange, ceremony::ORANGE_PIN)), blue, red)
    };
    step("4. role login -name so with a quorum of 2 blue keys at the remote PED");
    let quorum: Vec<KeySpec<'_>> = [0, 2].iter().map(|&i| (blue[i].as_str(), BLUE_PINS[i])).collect();
    if interactive {
        println!("At the remote PED, when it shows SO LOGIN..., for each key: insert it, Enter, its PIN, Enter:");
        for (i, (serial, pin)) in quorum.iter().enumerate() {
            // The last key stays in: the rig is torn down as soon as the login is done.
            key_steps(&rig, serial, &format!("PIN {pin}"), i + 1 < quorum.len());
        }
        rig.hsm.start_cli(&["role", "login", "-name", "so"]).join().expect("the CLI thread").ok();
    } else {
        ceremony::so_login(&mut rig, &quorum).ok();
    }
    step("5. ped disconnect");
    rig.hsm.cli(&["ped", "disconnect"]).ok();
    if !interactive {
        // pedserver tells the PED the session ended once pedclient has gone; the watcher
        // prints that screen too, however long the PED takes (the image on QEMU is slower).
        rig.remote.holder().wait("Awaiting HSM", 30);
    }
    watcher.stop();

    println!("\n=== Summary ===");
    println!("HSM {HSM_SERIAL} initialised (label \"rig\"), SO logged in over the remote PED, then disconnected.");
    println!("Keys (serial, colour, what it holds, quorum, PIN):");
    for (serial, holds) in [(&orange, "RPV")]
        .into_iter()
        .chain(blue.iter().map(|s| (s, "HSM SO")))
        .chain(red.iter().map(|s| (s, "domain")))
    {
        let key = rig.keys.content(serial).unwrap_or_else(|| panic!("key {serial} was not written"));
        let quorum = key.split.quorum();
        let pin = if key.pin_protected { "PIN" } else { "no PIN" };
        let colour = format!("{:?}", key.colour).to_lowercase();
        println!("  {serial}  {colour:<6}  {holds:<6}  {} of {}  {pin}", quorum.m(), quorum.n());
    }
    if let Some(board) = rig.remote.board() {
        let (heap, stack) = board.figures();
        println!("Remote PED (firmware image on QEMU): heap_peak_bytes {heap}, stack_peak_bytes {stack}");
    }
    if interactive {
        println!("\nped-rig: the remote PED's host goes with the rig: quit ped-sim (Esc) in its terminal.");
    }
}

/// `hsm init -label rig` answered by a person at the remote PED: prints what to do and
/// the `ikey-emu` commands for each key; the serials of the blue and the red keys.
fn hsm_init_by_hand(rig: &mut Rig, orange: &str, blue: Plan<'_>, red: Plan<'_>) -> (Vec<String>, Vec<String>) {
    let serials = [rig.keys.blank(blue.pins.len()), rig.keys.blank(red.pins.len())];
    println!("At the remote PED (keys: 0-9, Enter, y/n for YES/NO, c for CLEAR):");
    println!("COMPUTE SESSION KEY.: the orange key, Enter, its PIN {}, Enter:", ceremony::ORANGE_PIN);
    key_steps(rig, orange, &format!("PIN {}", ceremony::ORANGE_PIN), true);
    for ((colour, plan), serials) in [("BLUE", blue), ("RED", red)].into_iter().zip(&serials) {
        println!(
            "{colour}: reuse an existing keyset? NO; M value? {} Enter; N value? {} Enter; then each blank key \
             (remove the one before): insert, Enter, YES to overwrite, its new PIN, Enter, again, Enter:",
            plan.m, plan.n
        );
        for (serial, pin) in serials.iter().zip(plan.pins) {
            key_steps(rig, serial, &format!("new PIN {pin} (twice)"), true);
        }
        println!("{colour}: Are you duplicating this keyset? NO");
    }
    rig.hsm.start_cli(&["hsm", "init", "-label", "rig"]).join().expect("the CLI thread").ok();
    let [blue, red] = serials;
    (blue, red)
}

/// Prints the command that puts key `serial` in the remote PED's port and, if `remove`,
/// the one that takes it out.
fn key_steps(rig: &Rig, serial: &str, what: &str, remove: bool) {
    let ikey = tests::binary("ikey-emu");
    let dir = rig.keys.dir();
    println!("  {} insert {serial} --port REMOTE --dir {}    # then {what}", ikey.display(), dir.display());
    if remove {
        println!("  {} remove --port REMOTE --dir {}", ikey.display(), dir.display());
    }
}

fn step(title: &str) {
    print_new_screens();
    println!("\n--- {title} ---");
}

/// Both PEDs' screen logs and how much of each is printed. The watcher thread and the
/// catch-ups before each step and each echoed command line share them, so that every
/// screen is printed once and before the line that followed it on the PED: a fast
/// ceremony would otherwise outrun the watcher.
static SCREENS: Mutex<Vec<Screens>> = Mutex::new(Vec::new());

/// One PED's screen log (ped-sim's `--json`) and what of it is printed.
#[derive(Debug)]
struct Screens {
    name: &'static str,
    log: PathBuf,
    /// Screens of the log printed (or skipped as redraws).
    seen: usize,
    /// The last screen printed.
    last: Vec<String>,
}

/// Prints each PED's screens logged since the last call; under the lock, so that the
/// watcher and a catch-up never print the same screen or interleave.
fn print_new_screens() {
    let mut peds = SCREENS.lock().unwrap_or_else(PoisonError::into_inner);
    for ped in peds.iter_mut() {
        let screens = screens_in(&ped.log);
        for screen in screens.iter().skip(ped.seen) {
            // A redraw of the same text (a timer, a key press with no effect) adds nothing.
            if *screen != ped.last {
                print!("{}", frame(ped.name, screen));
                ped.last.clone_from(screen);
            }
        }
        ped.seen = ped.seen.max(screens.len());
    }
}

/// Prints new screens as they come, while a person (or a long step) works the PEDs.
struct Watcher {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

impl Watcher {
    fn start() -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                print_new_screens();
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Watcher { stop, thread }
    }

    /// Stops the thread, then prints the last screens.
    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
        print_new_screens();
    }
}

/// One screen, its eight lines in a box labelled with the PED's name; one string, so
/// that the two watchers' screens never interleave.
fn frame(name: &str, lines: &[String]) -> String {
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0).max(20);
    let mut out = format!("┌─ {name} {}┐\n", "─".repeat(width - name.chars().count() - 1));
    for line in lines {
        out.push_str(&format!("│ {line:<width$} │\n"));
    }
    out.push_str(&format!("└{}┘\n", "─".repeat(width + 2)));
    out
}

#[cfg(test)]
mod test {
    use super::{Options, RemotePed, Request};

    fn parse(args: &[&str]) -> Result<Request, String> {
        Options::parse(&args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>())
    }

    fn run(options: Options) -> Result<Request, String> {
        Ok(Request::Run(options))
    }

    #[test]
    fn interactive_is_accepted_and_unknown_options_are_refused() {
        assert_eq!(parse(&[]), run(Options { build: true, interactive: false, remote: RemotePed::Sim }));
        assert_eq!(
            parse(&["--no-build", "--interactive"]),
            run(Options { build: false, interactive: true, remote: RemotePed::Sim })
        );
        assert_eq!(parse(&["--interactive", "--bogus"]), Err("--bogus".to_owned()));
        assert_eq!(parse(&["--ped", "mcu"]), run(Options { build: true, interactive: false, remote: RemotePed::Mcu }));
        assert_eq!(parse(&["--ped", "sim"]), parse(&[]));
        assert!(parse(&["--ped", "fpga"]).is_err() && parse(&["--ped"]).is_err());
        assert!(parse(&["--ped", "mcu", "--interactive"]).is_err());
        assert_eq!(parse(&["--no-build", "--help"]), Ok(Request::Help));
        assert_eq!(parse(&["-h"]), Ok(Request::Help));
    }
}
