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
use crate::config::{self, Appliance, Config, Paths};
use crate::server::{Server, admin_addr};
use crate::status::StatusReport;
use crate::tls::{self, GeneratedIdentity, MAX_ATTEMPTS};

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
        Command::Regen { common_name, force } => regen(&ctx, common_name, *force),
        Command::Register { name, certificate, ip, port } => register(&ctx, name, certificate, *ip, *port),
        Command::List => {
            print!("{}", appliance_table(&ctx.stored.appliances));
            Ok(ExitCode::SUCCESS)
        }
        Command::Delete { name, force } => delete(&ctx, name, *force),
        Command::Connect { name } => connect(&ctx, name),
        Command::Disconnect { name } => disconnect(&ctx.effective, name),
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

/// Creates `dir` readable by its owner only (the key lives in it), if it is missing.
fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

/// Atomic write; the temporary file is created 0600 and keeps that mode when renamed.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        private_dir(dir)?;
    }
    config::write_atomic(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// `-regen -commonname CN`: a new P-521 key and self-signed certificate.
fn regen(ctx: &Context, common_name: &str, force: bool) -> Result<ExitCode, String> {
    tls::check_file_name("the common name", common_name)?;
    let cert_dir = config::cert_dir(&ctx.config_file);
    if let Some(old) = &ctx.stored.client_common_name
        && !force
        && tls::client_files(&cert_dir, old).0.exists()
    {
        return Err(format!(
            "a client certificate already exists (common name {old:?}) and the appliances registered it; \
repeat with -force to replace it, then register the new one with each appliance"
        ));
    }
    let generated = GeneratedIdentity::new(common_name).map_err(|e| e.to_string())?;
    let fingerprint = tls::fingerprint(&generated.identity().map_err(|e| e.to_string())?.cert);
    let (cert_file, key_file) = tls::client_files(&cert_dir, common_name);
    write_private(&key_file, generated.key_pem.as_bytes())?;
    println!("Private Key created and written to: {}", key_file.display());
    write_private(&cert_file, generated.cert_pem.as_bytes())?;
    println!("Certificate created and written to: {}", cert_file.display());
    let mut updated = ctx.stored.clone();
    let previous = updated.client_common_name.replace(common_name.to_string());
    config::save(&ctx.config_file, &updated).map_err(|e| e.to_string())?;
    if let Some(old) = previous.filter(|old| old != common_name) {
        let (old_cert, old_key) = tls::client_files(&cert_dir, &old);
        let _ = std::fs::remove_file(old_cert);
        let _ = std::fs::remove_file(old_key);
    }
    println!("Certificate SHA-256 fingerprint: {}", tls::fingerprint_for_humans(&fingerprint));
    println!("Successfully regenerated the client certificate.");
    println!("Register it with each appliance's pedclient; links already up last until they end.");
    Ok(ExitCode::SUCCESS)
}

/// `-appliance register`: keeps the appliance's certificate (DER) and its pin.
fn register(
    ctx: &Context,
    name: &str,
    certificate: &Path,
    ip: std::net::IpAddr,
    port: u16,
) -> Result<ExitCode, String> {
    tls::check_file_name("the appliance name", name)?;
    if ctx.stored.appliances.iter().any(|a| a.name == name) {
        return Err(format!("an appliance named {name:?} is already registered; delete it first"));
    }
    let cert = tls::read_certificate(certificate).map_err(|e| e.to_string())?;
    let appliance = Appliance {
        name: name.to_string(),
        ip,
        port,
        common_name: tls::common_name(&cert),
        fingerprint: tls::fingerprint(&cert),
    };
    write_private(&tls::appliance_file(&config::cert_dir(&ctx.config_file), name), cert.as_ref())?;
    let mut updated = ctx.stored.clone();
    updated.appliances.push(appliance.clone());
    config::save(&ctx.config_file, &updated).map_err(|e| e.to_string())?;
    println!("Appliance {name} registered: {ip} port {port}, certificate common name {:?}.", appliance.common_name);
    println!("Certificate SHA-256 fingerprint: {}", tls::fingerprint_for_humans(&appliance.fingerprint));
    println!("Compare it with the appliance's own before the first -mode connect.");
    Ok(ExitCode::SUCCESS)
}

/// The seed's `-appliance list` table, columns as wide as their widest value.
pub fn appliance_table(appliances: &[Appliance]) -> String {
    let headers = ["Server Name", "IP Address", "Port Number", "Certificate Common Name"];
    let rows: Vec<[String; 4]> = appliances
        .iter()
        .map(|a| [a.name.clone(), a.ip.to_string(), a.port.to_string(), a.common_name.clone()])
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 4]| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == 3 {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}", width = w + 3));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut text = line(headers);
    text += &line(widths.map(|w| "-".repeat(w)).each_ref().map(String::as_str));
    for row in &rows {
        text += &line(row.each_ref().map(String::as_str));
    }
    if rows.is_empty() {
        text += "(no appliance registered)\n";
    }
    text
}

/// `-appliance delete`: refused while the running server is linked to it, unless -force,
/// which ends the link first.
fn delete(ctx: &Context, name: &str, force: bool) -> Result<ExitCode, String> {
    if !ctx.stored.appliances.iter().any(|a| a.name == name) {
        return Err(format!("no appliance named {name:?} is registered"));
    }
    let linked = running(&ctx.effective).and_then(|r| r.appliance_link).is_some_and(|link| link.name == name);
    if linked {
        if !force {
            return Err(format!(
                "appliance {name} is connected: run pedserver -mode disconnect -name {name} first, or add -force"
            ));
        }
        admin_call(&ctx.effective, &format!("disconnect {name}"), secs(ctx.effective.internal_shutdown_timeout + 5))?;
        println!("Connection to appliance {name} terminated.");
    }
    let mut updated = ctx.stored.clone();
    updated.appliances.retain(|a| a.name != name);
    config::save(&ctx.config_file, &updated).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(tls::appliance_file(&config::cert_dir(&ctx.config_file), name));
    println!("Appliance {name} deleted.");
    Ok(ExitCode::SUCCESS)
}

/// One admin request whose answer is `ok MESSAGE` or `error MESSAGE`.
fn admin_call(config: &Config, request: &str, timeout: Duration) -> Result<String, String> {
    if running(config).is_none() {
        return Err(format!(
            "Ped Server is not running (nothing answers on admin port {}); start it with pedserver -mode start",
            admin_addr(config)
        ));
    }
    let answer = admin::request(admin_addr(config), request, timeout).map_err(|e| e.to_string())?;
    match answer.split_once(' ').unwrap_or((answer.as_str(), "")) {
        ("ok", message) => Ok(message.to_string()),
        ("error", message) => Err(message.to_string()),
        _ => Err(format!("unexpected answer from the server: {answer}")),
    }
}

/// `-mode connect`: the running server connects out and relays; this waits for the outcome.
fn connect(ctx: &Context, name: &str) -> Result<ExitCode, String> {
    let appliance = ctx
        .stored
        .appliances
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| format!("no appliance named {name:?} is registered (pedserver -appliance list)"))?;
    println!("Connecting to appliance {name} ({}:{}). Please wait....", appliance.ip, appliance.port);
    // The server makes up to 20 attempts, each bounded by its read timeout and followed
    // by the retry delay; this waits for all of them with room to spare.
    let c = &ctx.effective;
    let per_attempt = secs(c.socket_read_timeout.max(1)) + Duration::from_millis(c.connect_retry_delay_ms);
    let config_file = std::path::absolute(&ctx.config_file).map_err(|e| e.to_string())?;
    let request = format!("connect {name} {}", config_file.display());
    let message = admin_call(c, &request, per_attempt * MAX_ATTEMPTS + secs(10))?;
    println!("Successfully connected to appliance {name}: {message}.");
    Ok(ExitCode::SUCCESS)
}

/// `-mode disconnect`.
fn disconnect(config: &Config, name: &str) -> Result<ExitCode, String> {
    admin_call(config, &format!("disconnect {name}"), secs(config.internal_shutdown_timeout + 5))?;
    println!("Connection to appliance {name} terminated.");
    Ok(ExitCode::SUCCESS)
}
