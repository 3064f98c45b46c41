//! Carries out one invocation and prints what the seed prints.
#![allow(clippy::print_stdout, reason = "this module is the command line's output")]

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ped_proto::error::ErrorCode;
use pedserver::admin;
use pedserver::tls::{self, GeneratedIdentity};

use crate::args::{Command, Invocation};
use crate::config::{self, Config, Paths, RegisteredServer};
use crate::daemon::{Daemon, admin_target};
use crate::pedinit;
use crate::status::{Show, StatusReport};

/// The banner every invocation prints first, as the seed's does.
pub fn banner() -> String {
    format!("Ped Client Version {}", env!("CARGO_PKG_VERSION"))
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
        // An explicit -configfile needs no home directory: the rest goes beside it.
        (Some(file), Err(_)) => Paths {
            config_file: file.clone(),
            log_file: file.with_extension("log"),
            hsm_link: file.with_extension("sock"),
        },
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
    match context(&inv).and_then(|ctx| dispatch(&inv, ctx)) {
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
            println!("Ped Client launched in config mode.");
            println!("Configuration file: {}", ctx.config_file.display());
            println!("Log file: {}", ctx.effective.log_file_or(&ctx.paths).display());
            println!("HSM link: {}", ctx.effective.hsm_link_or(&ctx.paths).display());
            print!("{}", ctx.effective.to_toml());
            println!("Config command passed.");
            Ok(ExitCode::SUCCESS)
        }
        Command::ConfigSet => {
            println!("Ped Client launched in config mode.");
            update(&ctx, |c| {
                inv.settings.apply(c);
                Ok(format!("Configuration written to {}", ctx.config_file.display()))
            })?;
            println!("Config command passed.");
            Ok(ExitCode::SUCCESS)
        }
        Command::Start { foreground: in_foreground, winservice } => {
            println!("Ped Client launched in startup mode.");
            if *winservice {
                println!(
                    "-winservice: Windows services do not exist on this system; pedclient runs under systemd \
(pedclient.service runs pedclient -mode start --foreground). Starting as usual."
                );
            }
            if *in_foreground {
                foreground(&ctx)?;
                Ok(ExitCode::SUCCESS)
            } else {
                start(&ctx.effective)
            }
        }
        Command::Stop => stop(&ctx.effective),
        Command::Show { json } => show(&ctx, *json),
        Command::SetId { id, host, port } => mapping(&ctx, "setid", |c| c.set_id(*id, host, *port)),
        Command::AssignId { id, serial } => mapping(&ctx, "assignid", |c| c.assign_id(*id, serial)),
        Command::ReleaseId { id } => mapping(&ctx, "releaseid", |c| c.release_id(*id)),
        Command::DeleteId { id } => mapping(&ctx, "deleteid", |c| c.delete_id(*id)),
        Command::TestId { id } => testid(&ctx, *id),
        Command::Regen { common_name, force } => regen(&ctx, common_name, *force),
        Command::Register { certificate, force } => register(&ctx, certificate, *force),
    }
}

/// Reads the file again, changes it, writes it atomically: a change made by another
/// command since this one started is kept.
fn update(ctx: &Context, change: impl FnOnce(&mut Config) -> Result<String, String>) -> Result<(), String> {
    let mut config = config::load(&ctx.config_file).map_err(|e| e.to_string())?;
    let message = change(&mut config)?;
    config::save(&ctx.config_file, &config).map_err(|e| e.to_string())?;
    println!("{message}");
    Ok(())
}

fn mapping(
    ctx: &Context,
    mode: &str,
    change: impl FnOnce(&mut Config) -> Result<String, String>,
) -> Result<ExitCode, String> {
    println!("Ped Client launched in {mode} mode.");
    update(ctx, change)?;
    println!("{} command passed.", capitalise(mode));
    Ok(ExitCode::SUCCESS)
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

fn testid(ctx: &Context, id: u32) -> Result<ExitCode, String> {
    println!("Ped Client launched in testid mode.");
    let m = ctx.stored.mapping(id).ok_or_else(|| {
        format!("PED ID {id} is not mapped; create it with pedclient -mode setid -id {id} -id_ip HOST -id_port PORT")
    })?;
    let target = crate::link::host_port(&m.host, m.port);
    println!("Testing PED ID {id}: pedserver at {target}");
    let timeout = Duration::from_secs(ctx.effective.socket_read_timeout.max(1));
    match crate::probe::probe(&m.host, m.port, timeout) {
        Ok(report) => {
            let s = &report.status;
            println!("  PEDserver Software:       {}", report.software);
            println!("  Relay Protocol Version:   {}", report.relay_version);
            println!("  Ped2 Connection Status:   {}", if s.ped_connected { "Connected" } else { "Disconnected" });
            if s.ped_connected {
                println!("  Firmware Version:         {}", s.firmware_version);
                println!("  PedII Protocol Version:   {}", s.protocol_version);
                println!("  Ped2 RPK Count:           {}", s.rpk_count);
            }
            if let Some(serial) = &m.hsm_serial {
                println!("  Assigned to HSM:          {serial}");
            }
            if s.ped_connected {
                println!("Testid command passed.");
                Ok(ExitCode::SUCCESS)
            } else {
                println!("pedserver answers, but no PED is attached to it: {}", ErrorCode::CkrPedUnplugged);
                Ok(ExitCode::FAILURE)
            }
        }
        Err(e) => {
            println!("Error: {}", e.message);
            println!("Testid failed: {} ({})", e.code, e.code.advice());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Runs the daemon in this process until stopped (admin `stop`, SIGTERM or SIGINT).
fn foreground(ctx: &Context) -> Result<(), String> {
    let config = ctx.effective.clone();
    crate::logging::init(&config, &config.log_file_or(&ctx.paths)).map_err(|e| e.to_string())?;
    let hsm_link = config.hsm_link_or(&ctx.paths);
    let config_file = std::path::absolute(&ctx.config_file).map_err(|e| e.to_string())?;
    // One thread: a few HSM links relaying small frames need no more.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let (daemon, bound) = Daemon::bind(config, config_file, hsm_link).await.inspect_err(|e| {
            tracing::error!("startup failed: {e}");
        })?;
        let on_signal = Arc::clone(&daemon);
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
        daemon.run(bound).await;
        Ok(())
    })
}

fn running(config: &Config) -> Option<StatusReport> {
    let answer = admin::request(admin_target(config), "show", Duration::from_secs(2)).ok()?;
    serde_json::from_str(&answer).ok()
}

/// Starts the background process (this program again with `--foreground`, in its own
/// process group) and waits until its admin port answers.
fn start(config: &Config) -> Result<ExitCode, String> {
    if let Some(report) = running(config) {
        println!("Ped Client is already running (pid {}, admin port {}).", report.pid, report.admin_port);
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
    let deadline = Instant::now() + Duration::from_secs(config.p_startup_timeout);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let mut why = String::new();
            if let Some(mut err) = child.stderr.take() {
                let _ = err.read_to_string(&mut why);
            }
            // The child prints the banner and "Error: ..." on stdout, which is discarded;
            // its stderr has clap's complaints. The log has the rest.
            let why = why.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("see the log").to_string();
            println!("Background process failed to start ({status}): {why}");
            println!("Startup failed.");
            return Ok(ExitCode::FAILURE);
        }
        if let Some(report) = running(config).filter(|r| r.pid == child.id()) {
            println!("Background process started");
            println!("HSM link: {}", report.hsm_link);
            if let Some(p) = &report.ped_initiated {
                println!("PED-initiated mode: listening on {}", p.listen);
            }
            println!("Ped Client Process created, exiting this process.");
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    println!(
        "Background process did not answer within {} s: {}",
        config.p_startup_timeout,
        ErrorCode::RcOperationTimedOut
    );
    println!("Startup failed.");
    Ok(ExitCode::FAILURE)
}

fn stop(config: &Config) -> Result<ExitCode, String> {
    println!("Ped Client launched in shutdown mode.");
    let addr = admin_target(config);
    if running(config).is_none() {
        println!("Ped Client is not running (nothing answers on admin port {addr}).");
        return Ok(ExitCode::FAILURE);
    }
    let timeout = Duration::from_secs(config.socket_write_timeout.max(1));
    let answer = admin::request(addr, "stop", timeout).map_err(|e| e.to_string())?;
    if answer != "ok" {
        return Err(format!("pedclient refused to stop: {answer}"));
    }
    let deadline = Instant::now() + Duration::from_secs(config.p_shutdown_timeout);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            println!("Ped Client stopped.");
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("Ped Client did not stop within {} s.", config.p_shutdown_timeout);
    Ok(ExitCode::FAILURE)
}

/// The daemon's status (when it runs) and the mappings; exit 1 when it does not run.
fn show(ctx: &Context, json: bool) -> Result<ExitCode, String> {
    let daemon = running(&ctx.effective);
    let show = Show { running: daemon.is_some(), daemon, mappings: ctx.stored.mappings.clone() };
    if json {
        println!("{}", serde_json::to_string_pretty(&show).map_err(|e| e.to_string())?);
    } else {
        println!("Ped Client launched in status mode.");
        print!("{}", show.to_text());
        if show.running {
            println!("Show command passed.");
        } else {
            println!(
                "Ped Client is not running (nothing answers on admin port {}); start it with pedclient -mode start",
                admin_target(&ctx.effective)
            );
        }
    }
    Ok(if show.running { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Atomic write of a private file (0600 under a 0700 directory): a key lives there.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    pedserver::config::write_atomic(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// `-regen -commonname CN`: this pedclient's P-521 key and self-signed certificate, which
/// pedserver registers with `-appliance register`.
fn regen(ctx: &Context, common_name: &str, force: bool) -> Result<ExitCode, String> {
    tls::check_file_name("the common name", common_name)?;
    if let Some(old) = &ctx.stored.common_name
        && !force
        && pedinit::identity_files(&ctx.config_file, old).0.exists()
    {
        return Err(format!(
            "a certificate already exists (common name {old:?}) and pedservers registered it; \
repeat with -force to replace it, then register the new one with each pedserver"
        ));
    }
    let generated = GeneratedIdentity::new(common_name).map_err(|e| e.to_string())?;
    let fingerprint = tls::fingerprint(&generated.identity().map_err(|e| e.to_string())?.cert);
    let (cert_file, key_file) = pedinit::identity_files(&ctx.config_file, common_name);
    write_private(&key_file, generated.key_pem.as_bytes())?;
    println!("Private Key created and written to: {}", key_file.display());
    write_private(&cert_file, generated.cert_pem.as_bytes())?;
    println!("Certificate created and written to: {}", cert_file.display());
    let mut previous = None;
    update(ctx, |c| {
        previous = c.common_name.replace(common_name.to_string());
        Ok("Configuration updated.".into())
    })?;
    if let Some(old) = previous.filter(|old| old != common_name) {
        let (old_cert, old_key) = pedinit::identity_files(&ctx.config_file, &old);
        let _ = std::fs::remove_file(old_cert);
        let _ = std::fs::remove_file(old_key);
    }
    println!("Certificate SHA-256 fingerprint: {}", tls::fingerprint_for_humans(&fingerprint));
    println!("Give it to the PED host: pedserver -appliance register -name NAME -certificate FILE -ip THIS_HOST");
    println!("Restart pedclient for the new certificate to be used.");
    Ok(ExitCode::SUCCESS)
}

/// `-register -certificate FILE`: pins the pedserver certificate (made by its `-regen`).
fn register(ctx: &Context, certificate: &Path, force: bool) -> Result<ExitCode, String> {
    if let Some(existing) = &ctx.stored.pedserver
        && !force
    {
        return Err(format!(
            "a pedserver certificate is already registered (common name {:?}); repeat with -force to replace it",
            existing.common_name
        ));
    }
    let cert = tls::read_certificate(certificate).map_err(|e| e.to_string())?;
    let registered = RegisteredServer { common_name: tls::common_name(&cert), fingerprint: tls::fingerprint(&cert) };
    write_private(&pedinit::pedserver_file(&ctx.config_file), cert.as_ref())?;
    update(ctx, |c| {
        c.pedserver = Some(registered.clone());
        Ok(format!("pedserver certificate registered, common name {:?}.", registered.common_name))
    })?;
    println!("Certificate SHA-256 fingerprint: {}", tls::fingerprint_for_humans(&registered.fingerprint));
    println!("Compare it with the PED host's own before its first pedserver -mode connect.");
    Ok(ExitCode::SUCCESS)
}
