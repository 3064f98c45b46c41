//! The configuration file (TOML) and where it and the log live by default. The file I/O
//! (atomic writes, defaults for missing keys) and the default paths are ped-daemon's
//! [`TomlConfig`] and [`DefaultPaths`]; this module has pedserver's keys.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ped_daemon::config_file::DefaultPaths;
pub use ped_daemon::config_file::{ConfigError, TomlConfig, cert_dir};
use ped_daemon::seconds::{Seconds, Timeout};
use ped_daemon::settings::CommonConfig;
use serde::{Deserialize, Serialize};

use crate::device::DeviceSpec;

/// Every setting of the seed's `-mode config`, with its default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Port pedclient connects to.
    #[serde(deserialize_with = "ped_daemon::config_file::port")]
    pub server_port: u16,
    /// Admin port (stop, show, connect).
    #[serde(deserialize_with = "ped_daemon::config_file::port")]
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
    /// Seconds internal tasks get to end at shutdown.
    pub internal_shutdown_timeout: Seconds,
    /// Seconds `start` waits for the background process to answer.
    pub bg_process_startup_timeout: Seconds,
    /// Seconds `stop` waits for the background process to end.
    pub bg_process_shutdown_timeout: Seconds,
    /// Microseconds between USB packet writes (the seed's cure for CKR_CALLBACK_ERROR).
    #[serde(deserialize_with = "ped_write_delay")]
    pub ped_write_delay: u32,
    /// The timeouts, pings and log, as pedclient has them.
    #[serde(flatten)]
    pub common: CommonConfig,
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
    #[serde(deserialize_with = "ped_daemon::config_file::port")]
    pub port: u16,
    /// The certificate's subject common name, for `list`.
    pub common_name: String,
    /// SHA-256 of the certificate's DER, hex: the pin checked at every connection.
    pub fingerprint: String,
    /// Its link's own settings (`-mode config -name NAME -set`).
    #[serde(flatten)]
    pub link: LinkSettings,
}

/// The settings of one appliance's link that may differ from the server's: an appliance
/// across a slow WAN wants longer timeouts than one in the next rack. Each one unset is
/// the server's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct LinkSettings {
    /// Seconds without relayed traffic before the link is closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<Timeout>,
    /// Seconds each connection attempt (TCP, TLS) gets, and a started frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket_read_timeout: Option<Timeout>,
    /// Seconds allowed to send a frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket_write_timeout: Option<Timeout>,
    /// Seconds between pings on a quiet link; 0 disables them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ping_interval: Option<Seconds>,
    /// Seconds a ping waits for its pong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ping_timeout: Option<Timeout>,
    /// Milliseconds between the attempts of `-mode connect`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_retry_delay_ms: Option<u64>,
}

/// What one of an appliance's links runs with: its own settings, else the server's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// The relay timeouts and pings (the log settings are the server's).
    pub common: CommonConfig,
    /// Milliseconds between attempts.
    pub connect_retry_delay_ms: u64,
}

impl LinkSettings {
    /// `server`'s settings with this appliance's own in their place.
    pub fn over(&self, server: &Config) -> LinkConfig {
        let mut common = server.common.clone();
        common.idle_timeout = self.idle_timeout.unwrap_or(common.idle_timeout);
        common.socket_read_timeout = self.socket_read_timeout.unwrap_or(common.socket_read_timeout);
        common.socket_write_timeout = self.socket_write_timeout.unwrap_or(common.socket_write_timeout);
        common.ping_interval = self.ping_interval.unwrap_or(common.ping_interval);
        common.ping_timeout = self.ping_timeout.unwrap_or(common.ping_timeout);
        LinkConfig {
            common,
            connect_retry_delay_ms: self.connect_retry_delay_ms.unwrap_or(server.connect_retry_delay_ms),
        }
    }
}

/// A name that no `-appliance register` gave; the message lists the ones registered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no appliance named {name:?} is registered{}", registered_list(.registered))]
pub struct UnknownAppliance {
    /// The name asked for.
    pub name: String,
    /// The names registered, in the file's order.
    pub registered: Vec<String>,
}

fn registered_list(names: &[String]) -> String {
    if names.is_empty() {
        return "; none is (pedserver -appliance register -name NAME -certificate FILE -ip ADDRESS)".to_string();
    }
    let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    format!("; the registered ones are {} (pedserver -appliance list)", quoted.join(", "))
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
            internal_shutdown_timeout: Seconds::from_secs(5),
            bg_process_startup_timeout: Seconds::from_secs(10),
            bg_process_shutdown_timeout: Seconds::from_secs(10),
            ped_write_delay: 0,
            common: CommonConfig::default(),
            max_pending_connections: 512,
            connect_retry_delay_ms: 3000,
            client_common_name: None,
            appliances: Vec::new(),
        }
    }
}

impl TomlConfig for Config {}

/// The longest `-pedwritelay`, in microseconds.
pub const MAX_PED_WRITE_DELAY: u32 = 10_000;

/// `ped-write-delay` as `-pedwritelay` takes it.
fn ped_write_delay<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match u32::deserialize(d)? {
        us if us <= MAX_PED_WRITE_DELAY => Ok(us),
        us => Err(serde::de::Error::custom(format!("ped-write-delay {us} is more than {MAX_PED_WRITE_DELAY} (µs)"))),
    }
}

/// The program name: its directories and files are named after it.
const PROGRAM: &str = "pedserver";
/// What to give when no home directory is known.
const NO_HOME: &str = "-configfile and -logfilename";

/// Where the configuration, the certificates and the log live by default: root uses the
/// system locations (`/etc/pedserver`, `/var/log/pedserver`), any other user the XDG ones.
pub type Paths = DefaultPaths;

/// The default paths for `root` (or not) and the environment `env`.
pub fn default_paths(root: bool, env: impl Fn(&str) -> Option<OsString>) -> Result<Paths, ConfigError> {
    DefaultPaths::default_for(PROGRAM, root, env, NO_HOME)
}

/// The paths of one command: the defaults for this user; with an explicit `-configfile`
/// (and, through it, `-logfilename`) no home directory is needed.
pub fn command_paths(config_file: Option<&Path>) -> Result<Paths, ConfigError> {
    match (config_file, DefaultPaths::current(PROGRAM, NO_HOME)) {
        (_, Ok(p)) => Ok(p),
        (Some(file), Err(_)) => Ok(DefaultPaths::beside(file)),
        (None, Err(e)) => Err(e),
    }
}

impl Config {
    /// The appliance registered as `name`.
    pub fn appliance(&self, name: &str) -> Result<&Appliance, UnknownAppliance> {
        self.appliances.iter().find(|a| a.name == name).ok_or_else(|| UnknownAppliance {
            name: name.to_string(),
            registered: self.appliances.iter().map(|a| a.name.clone()).collect(),
        })
    }

    /// The appliance registered as `name`, to change.
    pub fn appliance_mut(&mut self, name: &str) -> Result<&mut Appliance, UnknownAppliance> {
        let registered = self.appliances.iter().map(|a| a.name.clone()).collect();
        self.appliances
            .iter_mut()
            .find(|a| a.name == name)
            .ok_or_else(|| UnknownAppliance { name: name.to_string(), registered })
    }

    /// The log file in force: the configured one or the per-user default.
    pub fn log_file_or(&self, paths: &Paths) -> PathBuf {
        self.common.log_file.clone().unwrap_or_else(|| paths.log_file.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seeds() {
        let c = Config::default();
        assert_eq!((c.server_port, c.admin_port, c.common.idle_timeout.get().as_secs()), (1503, 1502, 1800));
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
            link: LinkSettings::default(),
        });
        let text = c.to_toml();
        assert!(text.contains("ped-write-delay = 50"), "{text}");
        assert_eq!(Config::from_toml(&text).unwrap(), c);
        assert!(Config::from_toml("server-port = 1\nbogus = 2\n").unwrap_err().to_string().contains("bogus"));
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
        let zero_ports = [
            "server-port = 0",
            "admin-port = 0",
            "[[appliance]]\nname = \"a\"\nip = \"127.0.0.1\"\nport = 0\ncommon-name = \"a\"\nfingerprint = \"00\"",
        ];
        for out_of_range in ["ped-write-delay = 10001", "idle-timeout = 0", "socket-read-timeout = -1"] {
            assert!(Config::from_toml(out_of_range).is_err(), "{out_of_range}");
        }
        for zero_port in zero_ports {
            let refused = Config::from_toml(zero_port).unwrap_err().to_string();
            assert!(refused.contains("0 is not a port number (1-65535)"), "{zero_port}: {refused}");
        }
        let fraction = Config::from_toml("socket-read-timeout = 0.2").unwrap();
        assert_eq!(fraction.common.socket_read_timeout.get(), std::time::Duration::from_millis(200));
    }

    #[test]
    fn an_appliance_has_its_own_link_settings_or_the_servers() {
        let text = "connect-retry-delay-ms = 3000\n\n[[appliance]]\nname = \"abox\"\nip = \"10.0.0.1\"\nport = 9697\n\
common-name = \"t\"\nfingerprint = \"00\"\nidle-timeout = 0.5\nconnect-retry-delay-ms = 50\n";
        let c = Config::from_toml(text).unwrap();
        let own = c.appliance("abox").unwrap().link;
        assert_eq!(own.idle_timeout, Some("0.5".parse().unwrap()));
        assert_eq!((own.socket_read_timeout, own.ping_interval), (None, None));
        let link = own.over(&c);
        assert_eq!(link.common.idle_timeout.get(), std::time::Duration::from_millis(500));
        assert_eq!(link.common.socket_read_timeout, c.common.socket_read_timeout);
        assert_eq!(link.connect_retry_delay_ms, 50);
        assert_eq!(Config::from_toml(&c.to_toml()).unwrap(), c);
        assert!(c.to_toml().contains("idle-timeout = 0.5\nconnect-retry-delay-ms = 50\n"), "{}", c.to_toml());
        for bad in ["idle-timeout = 0", "ping-timeout = -1", "socket-write-timeout = \"x\"", "bogus = 1"] {
            let edited = text.replace("idle-timeout = 0.5", bad);
            assert!(Config::from_toml(&edited).is_err(), "{edited}");
        }
    }

    #[test]
    fn an_unknown_appliance_names_the_registered_ones() {
        let mut c = Config::default();
        let none = c.appliance("x").unwrap_err().to_string();
        assert!(none.starts_with("no appliance named \"x\" is registered; none is (pedserver -appliance register"));
        for name in ["a", "b"] {
            c.appliances.push(Appliance {
                name: name.into(),
                ip: "10.0.0.1".parse().unwrap(),
                port: 1,
                common_name: String::new(),
                fingerprint: String::new(),
                link: LinkSettings::default(),
            });
        }
        assert_eq!(
            c.appliance_mut("x").unwrap_err().to_string(),
            "no appliance named \"x\" is registered; the registered ones are \"a\", \"b\" (pedserver -appliance list)"
        );
        assert_eq!(c.appliance_mut("b").unwrap().name, "b");
    }

    #[test]
    fn root_and_non_root_paths_differ() {
        let root = default_paths(true, |_| None).unwrap();
        assert_eq!(root.config_file, Path::new("/etc/pedserver/pedserver.toml"));
        assert_eq!(root.log_file, Path::new("/var/log/pedserver/pedserver.log"));
        let user = default_paths(false, |k| (k == "HOME").then(|| "/home/ann".into())).unwrap();
        assert_eq!(user.config_file, Path::new("/home/ann/.config/pedserver/pedserver.toml"));
        assert_eq!(user.log_file, Path::new("/home/ann/.local/state/pedserver/pedserver.log"));
        let xdg = default_paths(false, |k| match k {
            "XDG_CONFIG_HOME" => Some("/c".into()),
            "XDG_STATE_HOME" => Some("/s".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            (xdg.config_file.as_path(), xdg.log_file.as_path()),
            (Path::new("/c/pedserver/pedserver.toml"), Path::new("/s/pedserver/pedserver.log"))
        );
        let no_home = default_paths(false, |_| None).unwrap_err().to_string();
        assert!(no_home.ends_with("use -configfile and -logfilename"), "{no_home}");
    }

    #[test]
    fn save_then_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/pedserver.toml");
        assert_eq!(Config::load(&path).unwrap(), Config::default());
        let mut c = Config::default();
        c.common.idle_timeout = "0.5".parse().unwrap();
        c.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), c);
        assert_eq!(cert_dir(&path), dir.path().join("sub/cert"));
    }
}
