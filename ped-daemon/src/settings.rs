//! The settings both daemons have under the same names: the relay timeouts, the keepalive
//! and the log. [`CommonArgs`] is flattened into each daemon's command line (clap) and
//! [`CommonConfig`] into its configuration file (serde), so a flag, its key, its range
//! and its default are written once. Settings named differently by the seed (pedserver's
//! `-internalshutdowntimeout` is pedclient's `-shutdowntimeout`) or with other defaults
//! (the admin port) stay in each daemon.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::args::set_if_given as set;
use crate::logging::{LogArgs, LogConfig, LogSettings};
use crate::seconds::{Seconds, Timeout};

/// The options of [`CommonConfig`]; each given one overrides the file for this run (and
/// `-mode config -set` writes it).
#[derive(Clone, Debug, Default, PartialEq, clap::Args)]
pub struct CommonArgs {
    /// Seconds a relay connection may be idle before it is closed [default 1800].
    #[arg(long, value_name = "SECS")]
    pub idletimeout: Option<Timeout>,
    /// Seconds allowed to connect, for the relay hellos and for a started frame to arrive [default 10].
    #[arg(long, value_name = "SECS")]
    pub socketreadtimeout: Option<Timeout>,
    /// Seconds allowed to send a frame [default 10].
    #[arg(long, value_name = "SECS")]
    pub socketwritetimeout: Option<Timeout>,
    /// Seconds between pings on a quiet connection; 0 disables pings [default 60].
    #[arg(long, value_name = "SECS")]
    pub pinginterval: Option<Seconds>,
    /// Seconds a ping may wait for its answer [default 30].
    #[arg(long, value_name = "SECS")]
    pub pingtimeout: Option<Timeout>,
    /// Log file [default: /var/log/NAME/NAME.log as root, else ~/.local/state/NAME/NAME.log].
    #[arg(long, alias = "logfile", value_name = "FILE")]
    pub logfilename: Option<PathBuf>,
    #[command(flatten)]
    pub log: LogArgs,
}

impl CommonArgs {
    /// Writes every given option into `config`.
    pub fn apply(&self, config: &mut CommonConfig) {
        set(&mut config.idle_timeout, &self.idletimeout);
        set(&mut config.socket_read_timeout, &self.socketreadtimeout);
        set(&mut config.socket_write_timeout, &self.socketwritetimeout);
        set(&mut config.ping_interval, &self.pinginterval);
        set(&mut config.ping_timeout, &self.pingtimeout);
        if self.logfilename.is_some() {
            config.log_file.clone_from(&self.logfilename);
        }
        self.log.apply(config);
    }
}

/// The keys of [`CommonArgs`] in a daemon's file, flattened into it (its own struct keeps
/// `deny_unknown_fields`, which serde applies to the keys left over by this one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct CommonConfig {
    /// Seconds without relayed traffic before a connection is closed.
    pub idle_timeout: Timeout,
    /// Seconds allowed to connect, for the relay hellos, and for a started frame.
    pub socket_read_timeout: Timeout,
    /// Seconds allowed for one frame to be sent.
    pub socket_write_timeout: Timeout,
    /// Seconds between pings on a quiet connection; 0 disables them.
    pub ping_interval: Seconds,
    /// Seconds a ping waits for its pong.
    pub ping_timeout: Timeout,
    /// Log file; unset means the daemon's per-user default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_file: Option<PathBuf>,
    /// Log info messages.
    pub log_info: bool,
    /// Log warnings.
    pub log_warning: bool,
    /// Log errors.
    pub log_error: bool,
    /// Log trace and debug messages.
    pub log_trace: bool,
    /// KB before the log is rotated.
    #[serde(deserialize_with = "positive_kb")]
    pub max_log_file_size: u64,
}

impl Default for CommonConfig {
    /// The seed's defaults.
    fn default() -> Self {
        CommonConfig {
            idle_timeout: Timeout::from_secs(1800),
            socket_read_timeout: Timeout::from_secs(10),
            socket_write_timeout: Timeout::from_secs(10),
            ping_interval: Seconds::from_secs(60),
            ping_timeout: Timeout::from_secs(30),
            log_file: None,
            log_info: true,
            log_warning: true,
            log_error: true,
            log_trace: false,
            max_log_file_size: 10 * 1024,
        }
    }
}

impl CommonConfig {
    /// The ping interval, `None` when pings are off.
    pub fn pings(&self) -> Option<std::time::Duration> {
        (!self.ping_interval.is_zero()).then(|| self.ping_interval.get())
    }
}

/// `max-log-file-size` as `-maxlogfilesize` takes it: 1 KB at least.
fn positive_kb<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match u64::deserialize(d)? {
        0 => Err(serde::de::Error::custom("max-log-file-size must be 1 (KB) or more")),
        kb => Ok(kb),
    }
}

impl LogConfig for CommonConfig {
    fn log_settings(&self) -> LogSettings {
        LogSettings {
            info: self.log_info,
            warning: self.log_warning,
            error: self.log_error,
            trace: self.log_trace,
            max_file_kb: self.max_log_file_size,
        }
    }

    fn set_log_settings(&mut self, log: LogSettings) {
        (self.log_info, self.log_warning, self.log_error) = (log.info, log.warning, log.error);
        (self.log_trace, self.max_log_file_size) = (log.trace, log.max_file_kb);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
    struct Daemon {
        admin_port: u16,
        #[serde(flatten)]
        common: CommonConfig,
        #[serde(rename = "entry", skip_serializing_if = "Vec::is_empty")]
        entries: Vec<Entry>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Entry {
        name: String,
    }

    impl Default for Daemon {
        fn default() -> Self {
            Daemon { admin_port: 1502, common: CommonConfig::default(), entries: Vec::new() }
        }
    }

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        common: CommonArgs,
    }

    #[test]
    fn flattened_keys_read_write_and_default_as_plain_ones() {
        let mut d = Daemon { entries: vec![Entry { name: "a".into() }], ..Daemon::default() };
        d.common.ping_interval = "0.5".parse().unwrap();
        let text = toml::to_string(&d).unwrap();
        assert!(text.contains("admin-port = 1502\nidle-timeout = 1800\n"), "{text}");
        assert!(text.contains("ping-interval = 0.5\n") && text.contains("[[entry]]"), "{text}");
        assert_eq!(toml::from_str::<Daemon>(&text).unwrap(), d);
        assert_eq!(toml::from_str::<Daemon>("").unwrap(), Daemon::default());
        let partial = toml::from_str::<Daemon>("socket-read-timeout = 0.2\n").unwrap();
        assert_eq!(partial.common.socket_read_timeout.get(), Duration::from_millis(200));
        assert_eq!(partial.common.idle_timeout, Timeout::from_secs(1800));
    }

    #[test]
    fn unknown_and_out_of_range_keys_are_refused() {
        let unknown = toml::from_str::<Daemon>("admin-port = 1\nbogus = 2\n").unwrap_err().to_string();
        assert!(unknown.contains("bogus"), "{unknown}");
        for bad in ["idle-timeout = 0", "ping-timeout = -1", "max-log-file-size = 0", "socket-read-timeout = \"x\""] {
            assert!(toml::from_str::<Daemon>(bad).is_err(), "{bad}");
        }
        assert!(toml::from_str::<Daemon>("ping-interval = 0").unwrap().common.pings().is_none());
    }

    #[test]
    fn options_take_fractions_and_override_the_file() {
        let cli = Cli::try_parse_from(["d", "--idletimeout", "0.5", "--pinginterval", "0", "--loginfo", "0"]).unwrap();
        let mut c = CommonConfig::default();
        cli.common.apply(&mut c);
        assert_eq!((c.idle_timeout.get(), c.pings(), c.log_info), (Duration::from_millis(500), None, false));
        assert_eq!(c.socket_read_timeout, Timeout::from_secs(10));
        for bad in [["d", "--idletimeout", "0"], ["d", "--pingtimeout", "1.5.2"], ["d", "--socketwritetimeout", "1e3"]]
        {
            let e = Cli::try_parse_from(bad).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{bad:?}");
        }
    }
}
