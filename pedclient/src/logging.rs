//! Logs like pedserver's: `tracing` lines in a file that is rotated to `FILE.1` past
//! `-maxlogfilesize` (pedserver's [`RotatingFile`]), with the seed's four level switches.

use std::path::Path;

use pedserver::logging::RotatingFile;
use tracing::{Level, Metadata};
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::Config;

/// Which levels the seed's four switches let through (trace also covers debug).
pub fn enabled(config: &Config, level: &Level) -> bool {
    match *level {
        Level::ERROR => config.log_error,
        Level::WARN => config.log_warning,
        Level::INFO => config.log_info,
        _ => config.log_trace,
    }
}

/// Installs the global subscriber writing to `path`; fails at once, naming the path,
/// when the file cannot be opened.
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
    fn level_switches() {
        let c = Config { log_info: false, log_trace: true, ..Config::default() };
        assert!(enabled(&c, &Level::ERROR) && enabled(&c, &Level::WARN) && enabled(&c, &Level::DEBUG));
        assert!(!enabled(&c, &Level::INFO));
    }
}
