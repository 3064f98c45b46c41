//! Carries out one invocation and prints what the seed prints.
#![allow(clippy::print_stdout, reason = "this module is the command line's output")]

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use ped_daemon::args::ModeCommand;
use ped_daemon::config_file::{ConfigError, write_private};
use ped_daemon::logging::LogConfig;
use ped_daemon::modes::{self, CommandConfig, DaemonControl, ModeError};
use ped_daemon::tls;
use ped_wire::ErrorCode;

use crate::args::{Command, Invocation};
use crate::config::{Config, MappingError, Paths, RegisteredServer};
use crate::daemon::{Daemon, admin_target};
use crate::pedinit;
use crate::status::{Show, StatusReport};

/// How the seed's messages name pedclient.
const TITLE: &str = "Ped Client";

/// What every command needs: the paths and the configuration with this run's overrides.
type Context = CommandConfig<Config, Paths>;

/// Why a command failed; printed as `Error: ...`, it says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A mapping change the rules refuse.
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// `testid` of a PED ID with no mapping.
    #[error("PED ID {0} is not mapped; create it with pedclient -mode setid -id {0} -id_ip HOST -id_port PORT")]
    NotMapped(u32),
    /// The log file or the configuration's path could not be opened or resolved.
    #[error("{0}")]
    Io(std::io::Error),
    /// The daemon could not start (its reason and code).
    #[error("{0}")]
    Startup(String),
    /// `-regen` without `-force` over an identity pedservers registered.
    #[error(
        "a certificate already exists (common name {0:?}) and pedservers registered it; repeat with -force to \
replace it, then register the new one with each pedserver"
    )]
    IdentityExists(String),
    /// `-register` without `-force` over a registered pedserver.
    #[error("a pedserver certificate is already registered (common name {0:?}); repeat with -force to replace it")]
    ServerRegistered(String),
    /// What pedserver's commands can meet too: the configuration, the background
    /// process, the admin port, keys and certificates.
    #[error(transparent)]
    Mode(#[from] ModeError),
    /// The configuration, or a file beside it, could not be read or written.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

fn context(inv: &Invocation) -> Result<Context, ConfigError> {
    let paths = Paths::for_command(inv.config_file.as_deref())?;
    CommandConfig::load(paths, inv.config_file.as_deref(), |p| &p.files.config_file, |c| inv.settings.apply(c))
}

/// Runs the invocation; errors are printed with what to do, and give exit status 1.
pub fn run(inv: Invocation) -> ExitCode {
    let json = matches!(&inv.command, Command::Mode(mode) if mode.json());
    let version = env!("CARGO_PKG_VERSION");
    modes::run_command(TITLE, version, json, || dispatch(&inv, context(&inv)?))
}

/// The admin port, for the commands that use the running pedclient.
fn control(config: &Config) -> DaemonControl<'static> {
    DaemonControl { title: TITLE, refuser: "pedclient", admin: admin_target(config) }
}

fn dispatch(inv: &Invocation, ctx: Context) -> Result<ExitCode, CliError> {
    let effective = &ctx.effective;
    match &inv.command {
        Command::Mode(ModeCommand::ConfigShow { json }) => {
            let (log, hsm_link) = (effective.log_file_or(&ctx.paths), effective.hsm_link_or(&ctx.paths));
            Ok(ctx.show(TITLE, *json, &[("Log file", &log), ("HSM link", &hsm_link)])?)
        }
        Command::Mode(ModeCommand::ConfigSet) => Ok(ctx.set(TITLE, |c| inv.settings.apply(c))?),
        Command::Mode(ModeCommand::Start { foreground: in_foreground }) => {
            println!("Ped Client launched in startup mode.");
            if inv.settings.winservice {
                println!(
                    "-winservice: Windows services do not exist on this system; pedclient runs under systemd \
(pedclient.service runs pedclient -mode start --foreground). Starting as usual."
                );
            }
            if *in_foreground {
                foreground(&ctx)?;
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(start(effective)?)
            }
        }
        Command::Mode(ModeCommand::Stop) => {
            let (write, shutdown) = (effective.common.socket_write_timeout, effective.p_shutdown_timeout);
            let token_file = ped_daemon::admin::token_file(&ctx.file);
            Ok(control(effective).stop::<StatusReport>(&token_file, write, shutdown)?)
        }
        Command::Mode(ModeCommand::Show { json }) => Ok(show(&ctx, *json)?),
        Command::SetId { id, host, port } => mapping(&ctx, "setid", |c| c.set_id(*id, host, *port)),
        Command::AssignId { id, serial } => mapping(&ctx, "assignid", |c| c.assign_id(*id, serial)),
        Command::ReleaseId { id } => mapping(&ctx, "releaseid", |c| c.release_id(*id)),
        Command::DeleteId { id } => mapping(&ctx, "deleteid", |c| c.delete_id(*id)),
        Command::TestId { id } => testid(&ctx, *id),
        Command::Regen { common_name, force } => regen(&ctx, common_name, *force),
        Command::Register { certificate, force } => register(&ctx, certificate, *force),
    }
}

fn mapping(
    ctx: &Context,
    mode: &str,
    change: impl FnOnce(&mut Config) -> Result<String, MappingError>,
) -> Result<ExitCode, CliError> {
    println!("Ped Client launched in {mode} mode.");
    ctx.update(|c| change(c).map_err(CliError::from))?;
    println!("{} command passed.", capitalise(mode));
    Ok(ExitCode::SUCCESS)
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

fn testid(ctx: &Context, id: u32) -> Result<ExitCode, CliError> {
    println!("Ped Client launched in testid mode.");
    let m = ctx.stored.mapping(id).ok_or(CliError::NotMapped(id))?;
    let target = crate::hsm_session::host_port(&m.host, m.port);
    println!("Testing PED ID {id}: pedserver at {target}");
    let timeout = ctx.effective.common.socket_read_timeout.get();
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
fn foreground(ctx: &Context) -> Result<(), CliError> {
    let mut config = ctx.effective.clone();
    config.audit_dir = Some(config.audit_dir_or(&ctx.paths));
    ped_daemon::logging::init(config.common.log_settings(), &config.log_file_or(&ctx.paths)).map_err(CliError::Io)?;
    let hsm_link = config.hsm_link_or(&ctx.paths);
    let config_file = std::path::absolute(&ctx.file).map_err(CliError::Io)?;
    modes::foreground_runtime()?.block_on(async {
        let (daemon, bound) = Daemon::bind(config, config_file, hsm_link).await.map_err(|e| {
            tracing::error!("startup failed: {e}");
            CliError::Startup(e)
        })?;
        let on_signal = Arc::clone(&daemon);
        modes::stop_on_signal(move || on_signal.stop());
        daemon.run(bound).await;
        Ok(())
    })
}

fn running(config: &Config) -> Option<StatusReport> {
    control(config).status()
}

fn start(config: &Config) -> Result<ExitCode, ModeError> {
    control(config).start(config.p_startup_timeout, "see the log", |report: &StatusReport| {
        println!("HSM link: {}", report.hsm_link);
        if let Some(p) = &report.ped_initiated {
            println!("PED-initiated mode: listening on {}", p.listen);
        }
    })
}

/// The daemon's status (when it runs) and the mappings; exit 1 when it does not run.
fn show(ctx: &Context, json: bool) -> Result<ExitCode, ModeError> {
    let daemon = running(&ctx.effective);
    let show = Show { running: daemon.is_some(), daemon, mappings: ctx.stored.mappings.clone() };
    if json {
        println!("{}", serde_json::to_string_pretty(&show)?);
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

/// `-regen -commonname CN`: this pedclient's P-521 key and self-signed certificate, which
/// pedserver registers with `-appliance register`.
fn regen(ctx: &Context, common_name: &str, force: bool) -> Result<ExitCode, CliError> {
    tls::check_file_name("the common name", common_name).map_err(ModeError::from)?;
    if let Some(old) = &ctx.stored.common_name
        && !force
        && pedinit::identity_files(&ctx.file, old).0.exists()
    {
        return Err(CliError::IdentityExists(old.clone()));
    }
    let (cert_file, key_file) = pedinit::identity_files(&ctx.file, common_name);
    let fingerprint = modes::write_identity(common_name, &cert_file, &key_file)?;
    let mut previous = None;
    ctx.update(|c| {
        previous = c.common_name.replace(common_name.to_string());
        Ok::<_, CliError>("Configuration updated.".into())
    })?;
    if let Some(old) = previous.filter(|old| old != common_name) {
        let (old_cert, old_key) = pedinit::identity_files(&ctx.file, &old);
        let _ = std::fs::remove_file(old_cert);
        let _ = std::fs::remove_file(old_key);
    }
    println!("Certificate SHA-256 fingerprint: {}", tls::fingerprint_for_humans(&fingerprint));
    println!("Give it to the PED host: pedserver -appliance register -name NAME -certificate FILE -ip THIS_HOST");
    println!("Restart pedclient for the new certificate to be used.");
    Ok(ExitCode::SUCCESS)
}

/// `-register -certificate FILE`: pins the pedserver certificate (made by its `-regen`).
fn register(ctx: &Context, certificate: &Path, force: bool) -> Result<ExitCode, CliError> {
    if let Some(existing) = &ctx.stored.pedserver
        && !force
    {
        return Err(CliError::ServerRegistered(existing.common_name.clone()));
    }
    let cert = tls::read_certificate(certificate).map_err(ModeError::from)?;
    let registered = RegisteredServer {
        common_name: tls::common_name(&cert),
        fingerprint: tls::fingerprint(&cert),
        certificate: Some(tls::certificate_pem(&cert)),
    };
    // The configuration's one atomic write registers the certificate with its pin; the
    // DER copy comes after (a kill in between leaves the old copy, which nothing reads).
    ctx.update(|c| {
        c.pedserver = Some(registered.clone());
        Ok::<_, CliError>(format!("pedserver certificate registered, common name {:?}.", registered.common_name))
    })?;
    write_private(&pedinit::pedserver_file(&ctx.file), cert.as_ref())?;
    println!("Certificate SHA-256 fingerprint: {}", tls::fingerprint_for_humans(&registered.fingerprint));
    println!("Compare it with the PED host's own before its first pedserver -mode connect.");
    Ok(ExitCode::SUCCESS)
}
