//! Carries out one invocation and prints what the seed prints.
#![allow(clippy::print_stdout, reason = "this module is the command line's output")]

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ped_daemon::admin::{self, AdminToken};
use ped_daemon::args::ModeCommand;
use ped_daemon::config_file::{ConfigError, TomlConfig, write_private};
use ped_daemon::logging::LogConfig;
use ped_daemon::modes::{self, CommandConfig, DaemonControl, ModeError};
use ped_daemon::seconds::Timeout;
use ped_wire::ErrorCode;

use crate::appliance_config;
use crate::args::{Command, Invocation};
use crate::config::{self, Appliance, Config, LinkSettings, Paths};
use crate::server::{Server, admin_addr};
use crate::status::StatusReport;
use crate::tls::{self, MAX_ATTEMPTS};

/// How the seed's messages name pedserver.
const TITLE: &str = "Ped Server";

/// What every command needs: the paths and the configuration with this run's overrides.
type Context = CommandConfig<Config, Paths>;

/// Why a command failed; printed as `Error: ...`, it says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The log file or the configuration's path could not be opened or resolved.
    #[error("{0}")]
    Io(std::io::Error),
    /// The server could not bind its ports.
    #[error("{0}: {code}", code = ErrorCode::RcSocketError)]
    Bind(std::io::Error),
    /// `-regen` without `-force` over a certificate the appliances registered.
    #[error(
        "a client certificate already exists (common name {0:?}) and the appliances registered it; repeat with \
-force to replace it, then register the new one with each appliance"
    )]
    IdentityExists(String),
    /// `-appliance register` of a name in use.
    #[error("an appliance named {0:?} is already registered; delete it first")]
    ApplianceExists(String),
    /// `-appliance delete` of an unknown name.
    #[error("no appliance named {0:?} is registered")]
    NoAppliance(String),
    /// `-mode connect` or `-mode config -name` of a name not registered.
    #[error(transparent)]
    UnknownAppliance(#[from] config::UnknownAppliance),
    /// `-appliance delete` of the appliance the server is linked to, without `-force`.
    #[error("appliance {0} is connected: run pedserver -mode disconnect -name {0} first, or add -force")]
    ApplianceConnected(String),
    /// A command that needs the running server, and none answers.
    #[error("Ped Server is not running (nothing answers on admin port {0}); start it with pedserver -mode start")]
    NotRunning(std::net::SocketAddr),
    /// The running server refused the request, in its words.
    #[error("{0}")]
    Refused(String),
    /// The admin port answered something else than `ok ...` or `error ...`.
    #[error("unexpected answer from the server: {0}")]
    Unexpected(String),
    /// `-mode update` while the server holds the PED.
    #[error(
        "Ped Server is running (pid {pid}, admin port {admin_port}) and holds the PED; a firmware update needs \
the PED to itself. Stop the server with pedserver -mode stop, run the update, then start it again with pedserver \
-mode start."
    )]
    ServerHoldsPed {
        /// The server's process.
        pid: u32,
        /// Its admin port.
        admin_port: u16,
    },
    /// `-mode update` failed: the image, the PED or the person at it (what to do included).
    #[error(transparent)]
    Update(#[from] crate::update::run::UpdateError),
    /// What pedclient's commands can meet too: the configuration, the background
    /// process, the admin port, keys and certificates.
    #[error(transparent)]
    Mode(#[from] ModeError),
    /// The configuration, or a file beside it, could not be read or written.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

fn context(inv: &Invocation) -> Result<Context, ConfigError> {
    let paths = config::command_paths(inv.config_file.as_deref())?;
    CommandConfig::load(paths, inv.config_file.as_deref(), |p| &p.config_file, |c| inv.settings.apply(c))
}

/// Runs the invocation; errors are printed with what to do, and give exit status 1.
pub fn run(inv: Invocation) -> ExitCode {
    let json = match &inv.command {
        Command::Mode(mode) => mode.json(),
        Command::ApplianceShow { json, .. } => *json,
        _ => false,
    };
    let version = env!("CARGO_PKG_VERSION");
    modes::run_command(TITLE, version, json, || dispatch(&inv, context(&inv)?))
}

/// The admin port, for the commands that use the running server.
fn control(config: &Config) -> DaemonControl<'static> {
    DaemonControl { title: TITLE, refuser: "the server", admin: admin_addr(config) }
}

fn dispatch(inv: &Invocation, ctx: Context) -> Result<ExitCode, CliError> {
    let effective = &ctx.effective;
    match &inv.command {
        Command::Mode(ModeCommand::ConfigShow { json }) => {
            Ok(ctx.show(TITLE, *json, &[("Log file", &effective.log_file_or(&ctx.paths))])?)
        }
        Command::Mode(ModeCommand::ConfigSet) => Ok(ctx.set(TITLE, |c| inv.settings.apply(c))?),
        Command::Mode(ModeCommand::Start { foreground: true }) => {
            foreground(effective.clone(), &ctx.file, &effective.log_file_or(&ctx.paths))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Mode(ModeCommand::Start { foreground: false }) => Ok(start(effective)?),
        Command::Mode(ModeCommand::Stop) => {
            let (write, shutdown) = (effective.common.socket_write_timeout, effective.bg_process_shutdown_timeout);
            Ok(control(effective).stop::<StatusReport>(&admin::token_file(&ctx.file), write, shutdown)?)
        }
        Command::Mode(ModeCommand::Show { json }) => Ok(show(effective, *json)?),
        Command::ApplianceShow { name, json } => appliance_config::show(&ctx, name, *json),
        Command::ApplianceSet { name, change } => appliance_config::set(&ctx, name, change),
        Command::Regen { common_name, force } => regen(&ctx, common_name, *force),
        Command::Register { name, certificate, ip, port } => register(&ctx, name, certificate, *ip, *port),
        Command::List => {
            print!("{}", appliance_table(&ctx.stored.appliances));
            Ok(ExitCode::SUCCESS)
        }
        Command::Delete { name, force } => delete(&ctx, name, *force),
        Command::Connect { name } => connect(&ctx, name),
        Command::Disconnect { name } => disconnect(&ctx, name),
        Command::Update { file, timeout } => update(effective, file, *timeout),
    }
}

/// Runs the server in this process until stopped (admin `stop`, SIGTERM or SIGINT).
fn foreground(config: Config, config_file: &Path, log_file: &Path) -> Result<(), CliError> {
    ped_daemon::logging::init(config.common.log_settings(), log_file).map_err(CliError::Io)?;
    modes::foreground_runtime()?.block_on(async {
        let (server, bound) = Server::bind(config, config_file.to_path_buf()).await.map_err(|e| {
            tracing::error!("startup failed: {e}");
            CliError::Bind(e)
        })?;
        let on_signal = Arc::clone(&server);
        modes::stop_on_signal(move || on_signal.stop());
        server.run(bound).await;
        Ok(())
    })
}

fn running(config: &Config) -> Option<StatusReport> {
    control(config).status()
}

fn start(config: &Config) -> Result<ExitCode, ModeError> {
    println!("Ped Server launched in startup mode.");
    control(config).start(config.bg_process_startup_timeout, "", |report: &StatusReport| {
        if report.ped.connected {
            println!("PED connected ({}).", report.device);
        } else {
            println!("No PED found yet at {}; it is picked up as soon as it is plugged in.", report.device);
        }
    })
}

fn show(config: &Config, json: bool) -> Result<ExitCode, ModeError> {
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
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.to_text());
        println!("Show command passed.");
    }
    Ok(ExitCode::SUCCESS)
}

/// `-regen -commonname CN`: a new P-521 key and self-signed certificate.
fn regen(ctx: &Context, common_name: &str, force: bool) -> Result<ExitCode, CliError> {
    tls::check_file_name("the common name", common_name).map_err(ModeError::from)?;
    let cert_dir = config::cert_dir(&ctx.file);
    if let Some(old) = &ctx.stored.client_common_name
        && !force
        && tls::client_files(&cert_dir, old).0.exists()
    {
        return Err(CliError::IdentityExists(old.clone()));
    }
    let (cert_file, key_file) = tls::client_files(&cert_dir, common_name);
    let fingerprint = modes::write_identity(common_name, &cert_file, &key_file)?;
    let mut updated = ctx.stored.clone();
    let previous = updated.client_common_name.replace(common_name.to_string());
    updated.save(&ctx.file)?;
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
) -> Result<ExitCode, CliError> {
    tls::check_file_name("the appliance name", name).map_err(ModeError::from)?;
    if ctx.stored.appliances.iter().any(|a| a.name == name) {
        return Err(CliError::ApplianceExists(name.to_string()));
    }
    let cert = tls::read_certificate(certificate).map_err(ModeError::from)?;
    let appliance = Appliance {
        name: name.to_string(),
        ip,
        port,
        common_name: tls::common_name(&cert),
        fingerprint: tls::fingerprint(&cert),
        link: LinkSettings::default(),
    };
    write_private(&tls::appliance_file(&config::cert_dir(&ctx.file), name), cert.as_ref())?;
    let mut updated = ctx.stored.clone();
    updated.appliances.push(appliance.clone());
    updated.save(&ctx.file)?;
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
fn delete(ctx: &Context, name: &str, force: bool) -> Result<ExitCode, CliError> {
    if !ctx.stored.appliances.iter().any(|a| a.name == name) {
        return Err(CliError::NoAppliance(name.to_string()));
    }
    let linked = running(&ctx.effective).and_then(|r| r.appliance_link).is_some_and(|link| link.name == name);
    if linked {
        if !force {
            return Err(CliError::ApplianceConnected(name.to_string()));
        }
        admin_call(
            ctx,
            &format!("disconnect {name}"),
            ctx.effective.internal_shutdown_timeout.get() + Duration::from_secs(5),
        )?;
        println!("Connection to appliance {name} terminated.");
    }
    let mut updated = ctx.stored.clone();
    updated.appliances.retain(|a| a.name != name);
    updated.save(&ctx.file)?;
    let _ = std::fs::remove_file(tls::appliance_file(&config::cert_dir(&ctx.file), name));
    println!("Appliance {name} deleted.");
    Ok(ExitCode::SUCCESS)
}

/// One admin request that changes the server, with the admin token beside the
/// configuration file; its answer is `ok MESSAGE` or `error MESSAGE`.
fn admin_call(ctx: &Context, request: &str, timeout: Duration) -> Result<String, CliError> {
    let config = &ctx.effective;
    if running(config).is_none() {
        return Err(CliError::NotRunning(admin_addr(config)));
    }
    let token = AdminToken::read(&admin::token_file(&ctx.file)).map_err(ModeError::from)?;
    let answer = admin::authorized_request(admin_addr(config), &token, request, timeout).map_err(ModeError::Admin)?;
    match answer.split_once(' ').unwrap_or((answer.as_str(), "")) {
        ("ok", message) => Ok(message.to_string()),
        ("error", message) => Err(CliError::Refused(message.to_string())),
        _ => Err(CliError::Unexpected(answer)),
    }
}

/// `-mode connect`: the running server connects out and relays; this waits for the outcome.
fn connect(ctx: &Context, name: &str) -> Result<ExitCode, CliError> {
    let appliance = ctx.stored.appliance(name)?;
    println!("Connecting to appliance {name} ({}:{}). Please wait....", appliance.ip, appliance.port);
    // The server makes up to 20 attempts, each bounded by its read timeout and followed
    // by the retry delay (the appliance's own, if it has them); this waits for all of them
    // with room to spare.
    let link = appliance.link.over(&ctx.effective);
    let per_attempt = link.common.socket_read_timeout.get() + Duration::from_millis(link.connect_retry_delay_ms);
    let message = admin_call(ctx, &format!("connect {name}"), per_attempt * MAX_ATTEMPTS + Duration::from_secs(10))?;
    println!("Successfully connected to appliance {name}: {message}.");
    Ok(ExitCode::SUCCESS)
}

/// `-mode disconnect`.
fn disconnect(ctx: &Context, name: &str) -> Result<ExitCode, CliError> {
    let grace = ctx.effective.internal_shutdown_timeout.get() + Duration::from_secs(5);
    admin_call(ctx, &format!("disconnect {name}"), grace)?;
    println!("Connection to appliance {name} terminated.");
    Ok(ExitCode::SUCCESS)
}

/// `-mode update`: the PED's USB device can have one owner, so a running server must be
/// stopped first (the seed's "rx error" when it is not).
fn update(config: &Config, file: &Path, timeout: Timeout) -> Result<ExitCode, CliError> {
    println!("Ped Server launched in update mode.");
    if let Some(report) = running(config) {
        return Err(CliError::ServerHoldsPed { pid: report.pid, admin_port: report.admin_port });
    }
    Ok(crate::update::run::run(config, file, timeout.get())?)
}
