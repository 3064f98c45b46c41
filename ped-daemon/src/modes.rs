//! The modes both daemons have, carried out and printed the seed's way: one invocation
//! ([`run_command`]), `-mode config -show/-set` on a [`CommandConfig`], and, through a
//! [`DaemonControl`], `-mode start` (a background copy of this program, waited for until
//! its admin port answers) and `-mode stop`. The foreground run's runtime and signal
//! handling are here too.
#![allow(clippy::print_stdout, reason = "this module is the command line's output")]

use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use ped_wire::ErrorCode;
use serde::de::DeserializeOwned;

use crate::admin::{self, AdminToken, TokenError};
use crate::config_file::{ConfigError, TomlConfig};
use crate::seconds::{Seconds, Timeout};
use crate::tls::{self, FileNameError, GeneratedIdentity, TlsError};

/// Why one of the shared modes failed; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ModeError {
    /// The configuration could not be read or written.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The background process could not be started.
    #[error("cannot start the background process: {0}")]
    Spawn(std::io::Error),
    /// The admin port failed mid-request.
    #[error("{0}")]
    Admin(std::io::Error),
    /// The daemon answered `stop` with something else than `ok`.
    #[error("{refuser} refused to stop: {answer}")]
    StopRefused {
        /// How the daemon is named, e.g. `the server`.
        refuser: String,
        /// Its answer.
        answer: String,
    },
    /// The foreground run's runtime could not be built.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// The JSON output could not be written.
    #[error("JSON output: {0}")]
    Json(#[from] serde_json::Error),
    /// A key or certificate of PED-initiated mode could not be made or read.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A name that is to name a file cannot.
    #[error(transparent)]
    FileName(#[from] FileNameError),
    /// The admin token, which stopping or changing the daemon takes, could not be read
    /// (this user may not) or written (the daemon at start).
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Runs one invocation: the banner first (`Ped Server Version 0.1.0`), as the seed's
/// programs print it, except before JSON, which is for machines and so alone on stdout;
/// then `command`. An error is printed as `Error: ...` (it says what to do) and gives exit
/// status 1.
pub fn run_command<E: std::fmt::Display>(
    title: &str,
    version: &str,
    json: bool,
    command: impl FnOnce() -> Result<ExitCode, E>,
) -> ExitCode {
    if !json {
        println!("{title} Version {version}");
    }
    match command() {
        Ok(code) => code,
        Err(message) => {
            println!("Error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// A configuration as one command uses it.
#[derive(Clone, Debug)]
pub struct CommandConfig<C, P> {
    /// Where the daemon's files are when the configuration names none.
    pub paths: P,
    /// The configuration file: `-configfile`, or the default.
    pub file: PathBuf,
    /// The file's own content.
    pub stored: C,
    /// The file's content with the command line's settings applied.
    pub effective: C,
}

impl<C: TomlConfig + Clone, P> CommandConfig<C, P> {
    /// Reads the configuration file (`-configfile`, else `default_file`) and applies the
    /// command line's `overrides` for this run.
    pub fn load(
        paths: P,
        config_file: Option<&Path>,
        default_file: impl FnOnce(&P) -> &Path,
        overrides: impl FnOnce(&mut C),
    ) -> Result<CommandConfig<C, P>, ConfigError> {
        let file = config_file.unwrap_or_else(|| default_file(&paths)).to_path_buf();
        let stored = C::load(&file)?;
        let mut effective = stored.clone();
        overrides(&mut effective);
        Ok(CommandConfig { paths, file, stored, effective })
    }

    /// Reads the file again, changes it, writes it atomically and prints the change's
    /// message: a change made by another command since this one started is kept.
    pub fn update<E: From<ConfigError>>(&self, change: impl FnOnce(&mut C) -> Result<String, E>) -> Result<(), E> {
        let mut config = C::load(&self.file)?;
        let message = change(&mut config)?;
        config.save(&self.file)?;
        println!("{message}");
        Ok(())
    }

    /// `-mode config -show`: the effective configuration as JSON, or as the file's TOML
    /// after the `files` in force (the log, say, when the configuration names none).
    pub fn show(&self, title: &str, json: bool, files: &[(&str, &Path)]) -> Result<ExitCode, ModeError> {
        if json {
            println!("{}", serde_json::to_string_pretty(&self.effective)?);
            return Ok(ExitCode::SUCCESS);
        }
        println!("{title} launched in config mode.");
        println!("Configuration file: {}", self.file.display());
        for (what, path) in files {
            println!("{what}: {}", path.display());
        }
        print!("{}", self.effective.to_toml());
        println!("Config command passed.");
        Ok(ExitCode::SUCCESS)
    }

    /// `-mode config -set`: writes the command line's settings into the file.
    pub fn set(&self, title: &str, settings: impl FnOnce(&mut C)) -> Result<ExitCode, ModeError> {
        println!("{title} launched in config mode.");
        self.update(|c| {
            settings(c);
            Ok::<_, ModeError>(format!("Configuration written to {}", self.file.display()))
        })?;
        println!("Config command passed.");
        Ok(ExitCode::SUCCESS)
    }
}

/// What `start` reads in a running daemon's status report.
pub trait DaemonStatus: DeserializeOwned {
    /// The daemon's process ID.
    fn pid(&self) -> u32;
    /// Its admin port.
    fn admin_port(&self) -> u16;
}

/// The command line's handle on the daemon, running or not: its admin port.
#[derive(Clone, Copy, Debug)]
pub struct DaemonControl<'a> {
    /// Its name in the seed's messages, e.g. `Ped Server`.
    pub title: &'a str,
    /// How it is named when it refuses to stop, e.g. `the server`.
    pub refuser: &'a str,
    /// Where its admin port answers.
    pub admin: SocketAddr,
}

impl DaemonControl<'_> {
    /// The running daemon's status report, if its admin port answers `show` with one.
    pub fn status<R: DaemonStatus>(&self) -> Option<R> {
        let answer = admin::request(self.admin, "show", Duration::from_secs(2)).ok()?;
        serde_json::from_str(&answer).ok()
    }

    /// `-mode start`: this program again with `--foreground`, in its own process group
    /// (a Ctrl-C in this terminal does not reach it), waited for until its admin port
    /// answers with its pid. `started` prints what the daemon has to say of itself then.
    /// `silent_failure` is the reason given when the background process ends without a
    /// word on stderr.
    pub fn start<R: DaemonStatus>(
        &self,
        startup_timeout: Seconds,
        silent_failure: &str,
        started: impl FnOnce(&R),
    ) -> Result<ExitCode, ModeError> {
        let title = self.title;
        if let Some(report) = self.status::<R>() {
            println!("{title} is already running (pid {}, admin port {}).", report.pid(), report.admin_port());
            return Ok(ExitCode::FAILURE);
        }
        println!("Starting background process");
        let exe = running_program().map_err(ModeError::Spawn)?;
        // Both of the child's outputs go into one pipe: its `Error: ...` line (stdout) and
        // clap's complaints (stderr) are the reason a failed start is reported with.
        let (mut output, into) = std::io::pipe().map_err(ModeError::Spawn)?;
        let also_into = into.try_clone().map_err(ModeError::Spawn)?;
        let mut child = std::process::Command::new(exe)
            .arg0(std::env::args_os().next().unwrap_or_default())
            .args(std::env::args_os().skip(1))
            .arg("--foreground")
            .stdin(Stdio::null())
            .stdout(also_into)
            .stderr(into)
            .process_group(0)
            .spawn()
            .map_err(ModeError::Spawn)?;
        let deadline = Instant::now() + startup_timeout.get();
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                let mut said = String::new();
                let _ = output.read_to_string(&mut said);
                let why = failure_reason(&said, silent_failure);
                println!("Background process failed to start ({status}): {why}");
                println!("Startup failed.");
                return Ok(ExitCode::FAILURE);
            }
            if let Some(report) = self.status::<R>().filter(|r| r.pid() == child.id()) {
                println!("Background process started");
                started(&report);
                println!("{title} Process created, exiting this process.");
                return Ok(ExitCode::SUCCESS);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        println!("Background process did not answer within {startup_timeout} s: {}", ErrorCode::RcOperationTimedOut);
        println!("Startup failed.");
        Ok(ExitCode::FAILURE)
    }

    /// `-mode stop`: asks the daemon to stop on its admin port, with the admin token in
    /// `token_file` (read with this user's rights: only the daemon's user, root and its
    /// group may), and waits until the port is closed.
    pub fn stop<R: DaemonStatus>(
        &self,
        token_file: &Path,
        write_timeout: Timeout,
        shutdown_timeout: Seconds,
    ) -> Result<ExitCode, ModeError> {
        let (title, addr) = (self.title, self.admin);
        println!("{title} launched in shutdown mode.");
        if self.status::<R>().is_none() {
            println!("{title} is not running (nothing answers on admin port {addr}).");
            return Ok(ExitCode::FAILURE);
        }
        let token = AdminToken::read(token_file)?;
        let answer = admin::authorized_request(addr, &token, "stop", write_timeout.get()).map_err(ModeError::Admin)?;
        if answer != "ok" {
            return Err(ModeError::StopRefused { refuser: self.refuser.to_string(), answer });
        }
        let deadline = Instant::now() + shutdown_timeout.get();
        while Instant::now() < deadline {
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                println!("{title} stopped.");
                return Ok(ExitCode::SUCCESS);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        println!("{title} did not stop within {shutdown_timeout} s.");
        Ok(ExitCode::FAILURE)
    }
}

/// `-regen -commonname CN`'s new identity: a P-521 key and its self-signed certificate,
/// written to `cert_file` and `key_file` (owner-only, the two in one atomic step) as the
/// seed prints it. Returns the certificate's fingerprint, which the other side registers.
pub fn write_identity(common_name: &str, cert_file: &Path, key_file: &Path) -> Result<String, ModeError> {
    let generated = GeneratedIdentity::new(common_name)?;
    let fingerprint = tls::fingerprint(&generated.identity()?.cert);
    tls::write_identity_files(cert_file, key_file, &generated)?;
    println!("Private Key created and written to: {}", key_file.display());
    println!("Certificate created and written to: {}", cert_file.display());
    Ok(fingerprint)
}

/// The runtime of a daemon in the foreground: one thread. A relay of a few connections
/// moving small frames needs no more, and it keeps idle memory and per-frame latency
/// low (libusb's blocking calls have their own threads). The process is first named
/// after its program ([`name_after_program`]).
pub fn foreground_runtime() -> Result<tokio::runtime::Runtime, ModeError> {
    name_after_program();
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(ModeError::Runtime)
}

/// Calls `stop` on SIGTERM (systemd's stop) or SIGINT (Ctrl-C), once; the daemon then
/// shuts down as for the admin port's `stop`. Must be called inside the runtime.
pub fn stop_on_signal(stop: impl FnOnce() + Send + 'static) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
        stop();
    });
}

/// The program this process runs, to start again in the background. On Linux the
/// kernel's own link to it, which still leads to it after its file was replaced (a package
/// upgrade, a rebuild) between this start and the background one; its path then no longer
/// does.
fn running_program() -> std::io::Result<PathBuf> {
    let own = Path::new("/proc/self/exe");
    if cfg!(target_os = "linux") && own.exists() { Ok(own.to_path_buf()) } else { std::env::current_exe() }
}

/// Names this process (the `comm` that `ps`, `top`, `pgrep` and `killall` match) after the
/// name it was run as, `pedserver` or the seed's `PedServer`, as the kernel names a program
/// started by that name. The background start runs [`running_program`], /proc/self/exe,
/// which the kernel would name `exe`. Outside Linux there is no such file and nothing to do.
fn name_after_program() {
    use std::os::unix::ffi::OsStrExt;
    let argv0 = std::env::args_os().next().map(PathBuf::from);
    if let Some(name) = argv0.as_deref().and_then(Path::file_name) {
        // The kernel keeps the first 15 bytes.
        let _ = std::fs::write("/proc/self/comm", name.as_bytes());
    }
}

/// Why a background process ended before it answered, from what it printed: its
/// `Error: ...` line (its reason and code), else its last line (clap's usage error),
/// else `silent` (the log has the rest).
fn failure_reason(said: &str, silent: &str) -> String {
    let lines = || said.lines().map(str::trim).filter(|l| !l.is_empty());
    lines().rev().find_map(|l| l.strip_prefix("Error: ")).or_else(|| lines().next_back()).unwrap_or(silent).to_owned()
}

#[cfg(test)]
mod tests {
    use super::failure_reason;

    #[test]
    fn the_background_process_runs_this_program() {
        let exe = super::running_program().unwrap();
        let same = std::fs::canonicalize(&exe).unwrap();
        assert_eq!(same, std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap());
    }

    #[test]
    fn a_failed_start_is_reported_with_the_background_process_error_line() {
        let said = "Ped Server Version 0.1.0\nError: server port 127.0.0.1:1503: Address already in use (os error 98): \
0xc0000500 (RC_SOCKET_ERROR)\n";
        assert_eq!(
            failure_reason(said, "see the log"),
            "server port 127.0.0.1:1503: Address already in use (os error 98): 0xc0000500 (RC_SOCKET_ERROR)"
        );
        assert_eq!(failure_reason("error: unexpected argument\n\n", "see the log"), "error: unexpected argument");
        assert_eq!(failure_reason(" \n", "see the log"), "see the log");
    }
}
