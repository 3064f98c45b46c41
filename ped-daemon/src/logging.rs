//! Logs: `tracing` into a size-capped file ([`RotatingFile`]). When a write would take
//! the file past `-maxlogfilesize`, it is renamed to `FILE.1` (replacing the previous one)
//! and a new file is started, so the log never holds more than twice the cap on disk.
//! Which levels are written is the seed's four switches ([`LogSettings`]).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing::{Level, Metadata};
use tracing_subscriber::Layer as _;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::args::zero_one;

/// The log file, shared by every thread that logs.
#[derive(Debug, Clone)]
pub struct RotatingFile {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    file: File,
    size: u64,
    max: u64,
}

fn open_append(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

impl RotatingFile {
    /// Opens (creating it and its directory) `path`, rotated past `max_bytes`.
    pub fn open(path: &Path, max_bytes: u64) -> std::io::Result<RotatingFile> {
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            inner: Arc::new(Mutex::new(Inner { path: path.to_path_buf(), file, size, max: max_bytes.max(1) })),
        })
    }
}

impl Inner {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Only regular files rotate: /dev/null (the seed's own workaround) just takes it.
        let regular = self.file.metadata().map(|m| m.is_file()).unwrap_or(false);
        if regular && self.size > 0 && self.size + buf.len() as u64 > self.max {
            let mut rotated = self.path.clone().into_os_string();
            rotated.push(".1");
            std::fs::rename(&self.path, &rotated)?;
            self.file = open_append(&self.path)?;
            self.size = 0;
        }
        self.file.write_all(buf)?;
        self.size += buf.len() as u64;
        Ok(buf.len())
    }
}

/// One log record's writer.
#[derive(Debug)]
pub struct Writer(Arc<Mutex<Inner>>);

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).file.flush()
    }
}

impl<'a> MakeWriter<'a> for RotatingFile {
    type Writer = Writer;

    fn make_writer(&'a self) -> Writer {
        Writer(Arc::clone(&self.inner))
    }
}

/// A daemon's log settings: the seed's four level switches (`-loginfo`, `-logwarning`,
/// `-logerror`, `-logtrace`) and `-maxlogfilesize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogSettings {
    /// Log info messages.
    pub info: bool,
    /// Log warnings.
    pub warning: bool,
    /// Log errors.
    pub error: bool,
    /// Log trace and debug messages.
    pub trace: bool,
    /// KB before the log is rotated.
    pub max_file_kb: u64,
}

impl LogSettings {
    /// Whether the switches let `level` through (trace also covers debug).
    pub fn enabled(&self, level: &Level) -> bool {
        match *level {
            Level::ERROR => self.error,
            Level::WARN => self.warning,
            Level::INFO => self.info,
            _ => self.trace,
        }
    }
}

/// The log options every mode accepts, flattened into each daemon's settings; each given
/// one overrides the configuration for this run (and `-mode config -set` writes it).
#[derive(Clone, Debug, Default, PartialEq, Eq, clap::Args)]
pub struct LogArgs {
    /// Log "info" messages (0 or 1) [default 1].
    #[arg(long, value_parser = zero_one, value_name = "0|1")]
    pub loginfo: Option<bool>,
    /// Log "warning" messages (0 or 1) [default 1].
    #[arg(long, value_parser = zero_one, value_name = "0|1")]
    pub logwarning: Option<bool>,
    /// Log "error" messages (0 or 1) [default 1].
    #[arg(long, value_parser = zero_one, value_name = "0|1")]
    pub logerror: Option<bool>,
    /// Log "trace" (and debug) messages (0 or 1) [default 0].
    #[arg(long, value_parser = zero_one, value_name = "0|1")]
    pub logtrace: Option<bool>,
    /// Largest log file in KB before it is rotated to FILE.1 [default 10240].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..), value_name = "KB")]
    pub maxlogfilesize: Option<u64>,
}

impl LogArgs {
    /// `settings` with every given option in place of its value.
    pub fn applied_to(&self, settings: LogSettings) -> LogSettings {
        LogSettings {
            info: self.loginfo.unwrap_or(settings.info),
            warning: self.logwarning.unwrap_or(settings.warning),
            error: self.logerror.unwrap_or(settings.error),
            trace: self.logtrace.unwrap_or(settings.trace),
            max_file_kb: self.maxlogfilesize.unwrap_or(settings.max_file_kb),
        }
    }

    /// Writes every given option into `config`.
    pub fn apply(&self, config: &mut impl LogConfig) {
        config.set_log_settings(self.applied_to(config.log_settings()));
    }
}

/// A daemon configuration with the seed's log keys (`settings::CommonConfig`).
pub trait LogConfig {
    /// The log switches and rotation size in force.
    fn log_settings(&self) -> LogSettings;
    /// Sets the log switches and rotation size.
    fn set_log_settings(&mut self, log: LogSettings);
}

/// Installs the global subscriber writing to `path`. Fails, with the path in the
/// message, when the file cannot be opened: the daemon then refuses to start at once
/// instead of the seed's ten-second RC_OPERATION_TIMED_OUT.
pub fn init(settings: LogSettings, path: &Path) -> std::io::Result<()> {
    let file = RotatingFile::open(path, settings.max_file_kb.saturating_mul(1024))
        .map_err(|e| std::io::Error::new(e.kind(), format!("log file {}: {e}", path.display())))?;
    let filter = tracing_subscriber::filter::filter_fn(move |m: &Metadata<'_>| settings.enabled(m.level()));
    let layer = tracing_subscriber::fmt::layer().with_writer(file).with_ansi(false).with_target(false);
    // A second init in one process (only tests do that) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(layer.with_filter(filter)).try_init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_rotates_at_its_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/p.log");
        let log = RotatingFile::open(&path, 100).unwrap();
        let mut w = log.make_writer();
        for _ in 0..5 {
            w.write_all(&[b'x'; 40]).unwrap();
        }
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 40);
        assert_eq!(std::fs::metadata(dir.path().join("logs/p.log.1")).unwrap().len(), 80);
        let devnull = RotatingFile::open(Path::new("/dev/null"), 1).unwrap();
        devnull.make_writer().write_all(&[0; 10]).unwrap();
    }

    #[test]
    fn log_options_override_the_keys_they_name() {
        let mut config = crate::settings::CommonConfig::default();
        let args =
            LogArgs { loginfo: Some(false), logtrace: Some(true), maxlogfilesize: Some(5), ..LogArgs::default() };
        args.apply(&mut config);
        let expected = LogSettings { info: false, warning: true, error: true, trace: true, max_file_kb: 5 };
        assert_eq!(config.log_settings(), expected);
        assert!(!config.log_info && config.log_trace && config.max_log_file_size == 5);
    }

    #[test]
    fn level_switches() {
        let s = LogSettings { info: false, warning: true, error: true, trace: false, max_file_kb: 1 };
        assert!(s.enabled(&Level::ERROR) && s.enabled(&Level::WARN));
        assert!(!s.enabled(&Level::INFO) && !s.enabled(&Level::DEBUG) && !s.enabled(&Level::TRACE));
        let s = LogSettings { trace: true, ..s };
        assert!(s.enabled(&Level::DEBUG) && s.enabled(&Level::TRACE) && !s.enabled(&Level::INFO));
    }
}
