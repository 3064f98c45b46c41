//! Carries out one invocation and prints what the seed prints.
#![allow(clippy::print_stdout, reason = "this module is the command line's output")]

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ped_proto::ErrorCode;

use crate::admin;
use crate::args::{Command, Invocation};
use crate::config::{self, Config, Paths};
use crate::server::{Server, admin_addr};
use crate::status::StatusReport;

/// The banner every invocation prints first, as the seed's does.
pub fn banner() -> String {
    format!("Ped Server Version {}", env!("CARGO_PKG_VERSION"))
}

/// What every command needs: the paths and the configuration with this run's overrides.
struct Context {
    paths: Paths,
    config_file: PathBuf,
    /// The file's own content.
    stored: Config,
    /// The file's content with the command line's settings applied.
    effective: Config,
}

fn context(inv: &Invocation) -> Result<Context, String> {
    let paths = match (&inv.config_file, Paths::current()) {
        (_, Ok(p)) => p,
        // An explicit -configfile (and, through it, -logfilename) needs no home directory.
        (Some(file), Err(_)) => Paths { config_file: file.clone(), log_file: file.with_extension("log") },
        (None, Err(e)) => return Err(e.to_string()),
    };
    let config_file = inv.config_file.clone().unwrap_or_else(|| paths.config_file.clone());
    let stored = config::load(&config_file).map_err(|e| e.to_string())?;
    let mut effective = stored.clone();
    inv.settings.apply(&mut effective);
    Ok(Context { paths, config_file, stored, effective })
}

/// Runs the invocation; errors are printed with what to do, and give exit status 1.
pub fn run(inv: Invocation) -> ExitCode {
    // JSON output is for machines: nothing else on stdout then.
    if !matches!(inv.command, Command::Show { json: true } | Command::ConfigShow { json: true }) {
        println!("{}", banner());
    }
    let result = context(&inv).and_then(|ctx| dispatch(&inv, ctx));
    match result {
        Ok(code) => code,
        Err(message) => {
            println!("Error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(inv: &Invocation, ctx: Context) -> Result<ExitCode, String> {
    match &inv.command {
        Command::ConfigShow { json: true } => {
            println!("{}", serde_json::to_string_pretty(&ctx.effective).map_err(|e| e.to_string())?);
            Ok(ExitCode::SUCCESS)
        }
        Command::ConfigShow { json: false } => {
            println!("Ped Server launched in config mode.");
            println!("Configuration file: {}", ctx.config_file.display());
            println!("Log file: {}", ctx.effective.log_file_or(&ctx.paths).display());
            print!("{}", ctx.effective.to_toml());
            println!("Config command passed.");
            Ok(ExitCode::SUCCESS)
        }
        Command::ConfigSet => {
            println!("Ped Server launched in config mode.");
            let mut updated = ctx.stored.clone();
            inv.settings.apply(&mut updated);
            config::save(&ctx.config_file, &updated).map_err(|e| e.to_string())?;
            println!("Configuration written to {}", ctx.config_file.display());
            println!("Config command passed.");
            Ok(ExitCode::SUCCESS)
        }
        Command::Start { foreground: true } => {
            let log_file = ctx.effective.log_file_or(&ctx.paths);
            foreground(ctx.effective, &log_file)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Start { foreground: false } => start(&ctx.effective),
        Command::Stop => stop(&ctx.effective),
        Command::Show { json } => show(&ctx.effective, *json),
        other => Err(format!("{other:?} is not available in this build")),
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Runs the server in this process until stopped (admin `stop`, SIGTERM or SIGINT).
fn foreground(config: Config, log_file: &Path) -> Result<(), String> {
    crate::logging::init(&config, log_file).map_err(|e| e.to_string())?;
    // One thread: a relay of one session at a time needs no more, and it keeps idle
    // memory and per-frame latency low. libusb's blocking calls have their own threads.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let (server, bound) = Server::bind(config).await.map_err(|e| {
            tracing::error!("startup failed: {e}");
            format!("{e}: {}", ErrorCode::RcSocketError)
        })?;
        let on_signal = Arc::clone(&server);
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
            on_signal.stop();
        });
        server.run(bound).await;
        Ok(())
    })
}

fn running(config: &Config) -> Option<StatusReport> {
    let answer = admin::request(admin_addr(config), "show", secs(2)).ok()?;
    serde_json::from_str(&answer).ok()
}

/// Starts the background process: this program again with `--foreground`, in its own
/// process group (a Ctrl-C in this terminal does not reach it), and waits until its
/// admin port answers.
fn start(config: &Config) -> Result<ExitCode, String> {
    println!("Ped Server launched in startup mode.");
    if let Some(report) = running(config) {
        println!("Ped Server is already running (pid {}, admin port {}).", report.pid, report.admin_port);
        return Ok(ExitCode::FAILURE);
    }
    println!("Starting background process");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .arg("--foreground")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the background process: {e}"))?;
    let deadline = Instant::now() + secs(config.bg_process_startup_timeout);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let mut why = String::new();
            if let Some(mut err) = child.stderr.take() {
                let _ = err.read_to_string(&mut why);
            }
            let why = why.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("").to_string();
            println!("Background process failed to start ({status}): {why}");
            println!("Startup failed.");
            return Ok(ExitCode::FAILURE);
        }
        if let Some(report) = running(config).filter(|r| r.pid == child.id()) {
            println!("Background process started");
            if report.ped.connected {
                println!("PED connected ({}).", report.device);
            } else {
                println!("No PED found yet at {}; it is picked up as soon as it is plugged in.", report.device);
            }
            println!("Ped Server Process created, exiting this process.");
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    println!(
        "Background process did not answer within {} s: {}",
        config.bg_process_startup_timeout,
        ErrorCode::RcOperationTimedOut
    );
    println!("Startup failed.");
    Ok(ExitCode::FAILURE)
}

fn stop(config: &Config) -> Result<ExitCode, String> {
    println!("Ped Server launched in shutdown mode.");
    let addr = admin_addr(config);
    if running(config).is_none() {
        println!("Ped Server is not running (nothing answers on admin port {addr}).");
        return Ok(ExitCode::FAILURE);
    }
    let answer = admin::request(addr, "stop", secs(config.socket_write_timeout.max(1))).map_err(|e| e.to_string())?;
    if answer != "ok" {
        return Err(format!("the server refused to stop: {answer}"));
    }
    let deadline = Instant::now() + secs(config.bg_process_shutdown_timeout);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            println!("Ped Server stopped.");
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("Ped Server did not stop within {} s.", config.bg_process_shutdown_timeout);
    Ok(ExitCode::FAILURE)
}

fn show(config: &Config, json: bool) -> Result<ExitCode, String> {
    if !json {
        println!("Ped Server launched in status mode.");
    }
    let Some(report) = running(config) else {
        if json {
            println!("{{\"running\":false}}");
        } else {
            println!("Ped Server is not running (nothing answers on admin port {}).", admin_addr(config));
        }
        return Ok(ExitCode::FAILURE);
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
    } else {
        print!("{}", report.to_text());
        println!("Show command passed.");
    }
    Ok(ExitCode::SUCCESS)
}
