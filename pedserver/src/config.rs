//! The configuration file (TOML) and where it and the log live by default. Pure apart
//! from [`load`] and [`save`]; the default paths are computed from the effective user and
//! the environment passed in, so the root and non-root cases are unit-tested here.

use std::ffi::OsString;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::device::DeviceSpec;

/// Every setting of the seed's `-mode config`, with its default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Port pedclient connects to.
    pub server_port: u16,
    /// Admin port (stop, show, connect).
    pub admin_port: u16,
    /// Server port on every interface (or `ip`) rather than localhost.
    pub external_server_port: bool,
    /// Admin port on every interface (or `ip`) rather than localhost.
    pub external_admin: bool,
    /// Listening address; unset means every IPv4 interface (or localhost, see above).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// The PED to serve.
    pub device: DeviceSpec,
    /// Seconds without traffic before a connection is closed.
    pub idle_timeout: u64,
    /// Seconds allowed for a started frame, or for the first hello, to arrive whole.
    pub socket_read_timeout: u64,
    /// Seconds allowed for one frame to be sent.
    pub socket_write_timeout: u64,
    /// Seconds internal tasks get to end at shutdown.
    pub internal_shutdown_timeout: u64,
    /// Seconds `start` waits for the background process to answer.
    pub bg_process_startup_timeout: u64,
    /// Seconds `stop` waits for the background process to end.
    pub bg_process_shutdown_timeout: u64,
    /// Log file; unset means the per-user default of [`Paths`].
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
    pub max_log_file_size: u64,
    /// Microseconds between USB packet writes (the seed's cure for CKR_CALLBACK_ERROR).
    pub ped_write_delay: u32,
    /// Seconds between pings on a quiet connection; 0 disables them.
    pub ping_interval: u64,
    /// Seconds a ping waits for its pong.
    pub ping_timeout: u64,
    /// Connections that have not said hello yet, at most; more are closed at once.
    pub max_pending_connections: usize,
    /// Milliseconds between the attempts of `-mode connect` (PED-initiated mode).
    pub connect_retry_delay_ms: u64,
    /// Common name of the client certificate made by `-regen` (PED-initiated mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_common_name: Option<String>,
    /// Appliances registered for PED-initiated mode.
    #[serde(rename = "appliance", skip_serializing_if = "Vec::is_empty")]
    pub appliances: Vec<Appliance>,
}

/// An appliance registered with `-appliance register`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Appliance {
    /// Unique name.
    pub name: String,
    /// Its pedclient's address.
    pub ip: IpAddr,
    /// Its pedclient's port.
    pub port: u16,
    /// The certificate's subject common name, for `list`.
    pub common_name: String,
    /// SHA-256 of the certificate's DER, hex: the pin checked at every connection.
    pub fingerprint: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server_port: 1503,
            admin_port: 1502,
            external_server_port: true,
            external_admin: false,
            ip: None,
            device: DeviceSpec::Usb,
            idle_timeout: 1800,
            socket_read_timeout: 10,
            socket_write_timeout: 10,
            internal_shutdown_timeout: 5,
            bg_process_startup_timeout: 10,
            bg_process_shutdown_timeout: 10,
            log_file: None,
            log_info: true,
            log_warning: true,
            log_error: true,
            log_trace: false,
            max_log_file_size: 10 * 1024,
            ped_write_delay: 0,
            ping_interval: 60,
            ping_timeout: 30,
            max_pending_connections: 64,
            connect_retry_delay_ms: 3000,
            client_common_name: None,
            appliances: Vec::new(),
        }
    }
}

/// Why the configuration could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// Which file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("{path}: {message}")]
    Parse {
        /// Which file.
        path: PathBuf,
        /// The TOML error.
        message: String,
    },
    /// No per-user location could be found.
    #[error("neither HOME nor XDG_CONFIG_HOME/XDG_STATE_HOME is set; use -configfile and -logfilename")]
    NoHome,
}

/// Where the configuration, the certificates and the log live by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// The configuration file.
    pub config_file: PathBuf,
    /// The log file, unless the configuration names one.
    pub log_file: PathBuf,
}

impl Paths {
    /// Root uses the system locations (`/etc/pedserver`, `/var/log/pedserver`); any other
    /// user the XDG ones under their home, which they can always write. This is the fix
    /// for the seed's non-root start failure (a log in a directory only root can write).
    pub fn default_for(root: bool, env: impl Fn(&str) -> Option<OsString>) -> Result<Paths, ConfigError> {
        if root {
            return Ok(Paths {
                config_file: PathBuf::from("/etc/pedserver/pedserver.toml"),
                log_file: PathBuf::from("/var/log/pedserver/pedserver.log"),
            });
        }
        let non_empty = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = non_empty("HOME");
        let config_home = non_empty("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")));
        let state_home = non_empty("XDG_STATE_HOME").or_else(|| home.as_ref().map(|h| h.join(".local/state")));
        match (config_home, state_home) {
            (Some(c), Some(s)) => Ok(Paths {
                config_file: c.join("pedserver/pedserver.toml"),
                log_file: s.join("pedserver/pedserver.log"),
            }),
            _ => Err(ConfigError::NoHome),
        }
    }

    /// The defaults for the user this process runs as.
    pub fn current() -> Result<Paths, ConfigError> {
        Paths::default_for(rustix::process::geteuid().is_root(), |k| std::env::var_os(k))
    }
}

/// Directory of the certificates of PED-initiated mode: `cert/` beside the configuration
/// file, so one `-configfile` keeps a whole installation together.
pub fn cert_dir(config_file: &Path) -> PathBuf {
    config_file.parent().unwrap_or(Path::new(".")).join("cert")
}

impl Config {
    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The TOML text written to the file.
    pub fn to_toml(&self) -> String {
        // Serialising a struct of plain fields cannot fail.
        toml::to_string(self).unwrap_or_default()
    }

    /// The log file in force: the configured one or the per-user default.
    pub fn log_file_or(&self, paths: &Paths) -> PathBuf {
        self.log_file.clone().unwrap_or_else(|| paths.log_file.clone())
    }
}

/// Reads the configuration; a missing file is the defaults.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Config::from_toml(&text).map_err(|message| ConfigError::Parse { path: path.into(), message }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(source) => Err(ConfigError::Io { path: path.into(), source }),
    }
}

/// Writes the configuration atomically (a temporary file in the same directory, synced,
/// then renamed over the old one): after a crash the old or the new file is there, whole.
pub fn save(path: &Path, config: &Config) -> Result<(), ConfigError> {
    write_atomic(path, config.to_toml().as_bytes()).map_err(|source| ConfigError::Io { path: path.into(), source })
}

/// Atomic file replacement, creating the parent directory if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seeds() {
        let c = Config::default();
        assert_eq!((c.server_port, c.admin_port, c.idle_timeout), (1503, 1502, 1800));
        assert!(c.external_server_port && !c.external_admin);
        assert_eq!(c.ped_write_delay, 0);
    }

    #[test]
    fn toml_round_trips_and_unknown_keys_are_refused() {
        let mut c = Config { ped_write_delay: 50, ip: Some("::1".parse().unwrap()), ..Config::default() };
        c.appliances.push(Appliance {
            name: "abox".into(),
            ip: "192.20.1.23".parse().unwrap(),
            port: 9697,
            common_name: "test2".into(),
            fingerprint: "00".repeat(32),
        });
        let text = c.to_toml();
        assert!(text.contains("ped-write-delay = 50"), "{text}");
        assert_eq!(Config::from_toml(&text).unwrap(), c);
        assert!(Config::from_toml("server-port = 1\nbogus = 2\n").unwrap_err().contains("bogus"));
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn root_and_non_root_paths_differ() {
        let root = Paths::default_for(true, |_| None).unwrap();
        assert_eq!(root.config_file, Path::new("/etc/pedserver/pedserver.toml"));
        assert_eq!(root.log_file, Path::new("/var/log/pedserver/pedserver.log"));
        let user = Paths::default_for(false, |k| (k == "HOME").then(|| "/home/ann".into())).unwrap();
        assert_eq!(user.config_file, Path::new("/home/ann/.config/pedserver/pedserver.toml"));
        assert_eq!(user.log_file, Path::new("/home/ann/.local/state/pedserver/pedserver.log"));
        let xdg = Paths::default_for(false, |k| match k {
            "XDG_CONFIG_HOME" => Some("/c".into()),
            "XDG_STATE_HOME" => Some("/s".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            (xdg.config_file.as_path(), xdg.log_file.as_path()),
            (Path::new("/c/pedserver/pedserver.toml"), Path::new("/s/pedserver/pedserver.log"))
        );
        assert!(matches!(Paths::default_for(false, |_| None), Err(ConfigError::NoHome)));
    }

    #[test]
    fn save_then_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/pedserver.toml");
        assert_eq!(load(&path).unwrap(), Config::default());
        let c = Config { idle_timeout: 5, ..Config::default() };
        save(&path, &c).unwrap();
        assert_eq!(load(&path).unwrap(), c);
        assert_eq!(cert_dir(&path), dir.path().join("sub/cert"));
    }
}
