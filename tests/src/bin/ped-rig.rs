//! `ped-rig`: the whole remote-PED system on this machine, running the ceremony in front
//! of you. It starts the rig (emulated keys, a local PED, a remote PED behind pedserver,
//! pedclient, the HSM), then: local RPV initialisation with an orange key, `ped
//! connect`, `hsm init` creating 2-of-3 blue and red keysets with PINs, an SO quorum
//! login and `ped disconnect`, printing every PED screen and every command's result.
//!
//! `--no-build` skips building the other binaries (the process test runs inside a cargo
//! invocation that already built them and holds the build lock).

#![allow(clippy::print_stdout, reason = "a command-line program: its output is the point")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tests::ceremony::{self, Plan};
use tests::rig::{HSM_SERIAL, Rig, Settings};
use tests::sim::{KeySpec, screens_in};

/// The blue keyset's PINs, one per key of the 2-of-3 set.
const BLUE_PINS: [&str; 3] = ["739146", "528371", "604815"];
/// The red keyset's PINs.
const RED_PINS: [&str; 3] = ["472913", "193847", "385917"];

/// Set by Ctrl-C: the failures that follow are the teardown's, not the ceremony's.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The packages whose binaries the rig starts.
const PACKAGES: [&str; 5] = ["pedserver", "pedclient", "hsm-emu", "ped-sim", "ikey-emu"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(bad) = args.iter().find(|a| *a != "--no-build") {
        eprintln!("ped-rig: unknown argument {bad:?}\nusage: ped-rig [--no-build]");
        return ExitCode::from(2);
    }
    let started = Instant::now();
    if !args.iter().any(|a| a == "--no-build")
        && let Err(e) = build_binaries()
    {
        eprintln!("ped-rig: FAILED to build the rig's binaries: {e}");
        return ExitCode::FAILURE;
    }

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
        let _ = writeln!(std::io::stderr(), "\nped-rig: FAILED: {message}");
    }));
    let handler = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            // A second Ctrl-C: the person will not wait for the teardown.
            std::process::exit(130);
        }
        eprintln!("\nped-rig: interrupted; tearing the rig down");
        tests::kill_children();
    });
    if let Err(e) = handler {
        eprintln!("ped-rig: FAILED to install the Ctrl-C handler: {e}");
        return ExitCode::FAILURE;
    }

    // The ceremony runs on its own thread so that a panic anywhere in it unwinds (and
    // drops the rig) before this thread decides the exit code.
    let outcome = std::thread::spawn(run).join();
    match outcome {
        _ if INTERRUPTED.load(Ordering::SeqCst) => {
            eprintln!("ped-rig: the rig is torn down.");
            ExitCode::from(130)
        }
        Ok(()) => {
            println!("\nped-rig: the ceremony completed in {:.1} s; the rig is torn down.", secs(started.elapsed()));
            ExitCode::SUCCESS
        }
        Err(_) => {
            eprintln!("ped-rig: the rig is torn down.");
            ExitCode::FAILURE
        }
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// `cargo build -p … --bins` in the profile this binary was built with. It runs every
/// time rather than comparing timestamps: a binary newer than ped-rig can still be
/// older than its sources, and cargo's own check costs well under a second.
fn build_binaries() -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let profile_dir = tests::profile_dir();
    let mut args = vec!["build".to_owned(), "--quiet".to_owned()];
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => args.push("--release".to_owned()),
        Some(other) => args.extend(["--profile".to_owned(), other.to_owned()]),
        None => return Err(format!("{} is not a target profile directory", profile_dir.display())),
    }
    for package in PACKAGES {
        args.extend(["-p".to_owned(), package.to_owned()]);
    }
    args.push("--bins".to_owned());
    println!("ped-rig: building the rig's binaries (cargo {})", args.join(" "));
    // The manifest this binary was built from, so that it works from any directory.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let out = Command::new(&cargo)
        .args(&args)
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .map_err(|e| format!("{}: {e}", PathBuf::from(&cargo).display()))?;
    if out.status.success() { Ok(()) } else { Err(format!("cargo failed:\n{}", String::from_utf8_lossy(&out.stderr))) }
}

/// The ceremony; panics (with the reason) at the first step that fails.
fn run() {
    println!("ped-rig: starting the rig (HSM {HSM_SERIAL}, local PED, remote PED, pedserver, pedclient)");
    let mut rig = Rig::start(&Settings::default());
    rig.hsm.echo();
    let screens = [("local PED", rig.local.screen_log()), ("remote PED", rig.remote.screen_log())]
        .map(|(name, path)| Watcher::start(name, path.to_path_buf()));
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
    let mut remote = rig.remote.holder();
    let blue = Plan { m: 2, n: 3, pins: &BLUE_PINS };
    let red = Plan { m: 2, n: 3, pins: &RED_PINS };
    let (blue, red) = ceremony::hsm_init(&mut rig, &mut remote, Some(&orange), blue, red);
    step("4. role login -name so with a quorum of 2 blue keys at the remote PED");
    let quorum: Vec<KeySpec<'_>> = [0, 2].iter().map(|&i| (blue[i].as_str(), BLUE_PINS[i])).collect();
    ceremony::so_login(&rig, &mut remote, &quorum).ok();
    step("5. ped disconnect");
    rig.hsm.cli(&["ped", "disconnect"]).ok();
    for watcher in screens {
        watcher.stop();
    }

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
}

fn step(title: &str) {
    println!("\n--- {title} ---");
}

/// Prints each new screen of one PED as ped-sim logs it, until stopped.
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
    fn start(name: &'static str, log: PathBuf) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let (mut seen, mut last) = (0, Vec::new());
            loop {
                // Read after checking the flag, so that the last screens are printed.
                let stopping = flag.load(Ordering::SeqCst);
                let screens = screens_in(&log);
                for screen in screens.iter().skip(seen) {
                    // A redraw of the same text (a timer, a key press with no effect) adds nothing.
                    if *screen != last {
                        print!("{}", frame(name, screen));
                        last.clone_from(screen);
                    }
                }
                seen = seen.max(screens.len());
                if stopping {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Watcher { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
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
