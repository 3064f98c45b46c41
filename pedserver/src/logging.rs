//! Logs: `tracing` into a size-capped file. When a write would take the file past
//! `-maxlogfilesize`, it is renamed to `FILE.1` (replacing the previous one) and a new
//! file is started, so the log never holds more than twice the cap on disk.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing::{Level, Metadata};
use tracing_subscriber::Layer as _;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::Config;

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

/// Which levels the seed's four switches let through (trace also covers debug).
pub fn enabled(config: &Config, level: &Level) -> bool {
    match *level {
        Level::ERROR => config.log_error,
        Level::WARN => config.log_warning,
        Level::INFO => config.log_info,
        _ => config.log_trace,
    }
}

/// Installs the global subscriber writing to `path`. Fails, with the path in the
/// message, when the file cannot be opened: the server then refuses to start at once
/// instead of the seed's ten-second RC_OPERATION_TIMED_OUT.
pub fn init(config: &Config, path: &Path) -> std::io::Result<()> {
    let file = RotatingFile::open(path, config.max_log_file_size.saturating_mul(1024))
        .map_err(|e| std::io::Error::new(e.kind(), format!("log file {}: {e}", path.display())))?;
    let switches = config.clone();
    let filter = tracing_subscriber::filter::filter_fn(move |m: &Metadata<'_>| enabled(&switches, m.level()));
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
    fn level_switches() {
        let c = Config { log_info: false, ..Config::default() };
        assert!(enabled(&c, &Level::ERROR) && enabled(&c, &Level::WARN));
        assert!(!enabled(&c, &Level::INFO) && !enabled(&c, &Level::DEBUG) && !enabled(&c, &Level::TRACE));
    }
}
