//! The configuration file (TOML) with the PED ID mappings, and where it, the log and the
//! HSM link socket live by default. The file I/O (atomic writes, defaults for missing
//! keys) is ped-daemon's [`TomlConfig`]; the mapping operations of
//! `-mode setid/assignid/releaseid/deleteid` are pure functions on [`Config`], so their
//! rules are unit-tested here.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ped_daemon::config_file::DefaultPaths;
pub use ped_daemon::config_file::{ConfigError, TomlConfig, cert_dir};
use ped_daemon::seconds::Seconds;
use ped_daemon::settings::CommonConfig;
use serde::{Deserialize, Serialize};

/// Every setting of the seed's `pedclient -mode config`, with its default, and the
/// mappings. Tables come last: TOML writes plain keys before tables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Admin port (stop, show).
    #[serde(deserialize_with = "ped_daemon::config_file::port")]
    pub admin_port: u16,
    /// Admin port on every interface rather than localhost.
    pub external_admin: bool,
    /// The HSM link socket; unset means the per-user default of [`Paths`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hsm_link: Option<PathBuf>,
    /// The group given the HSM link socket (a name or a number); unset means this
    /// process's group. Its members may connect: the socket is 0660.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hsm_link_group: Option<String>,
    /// The idle timeout does not apply to links made through an assigned PED ID.
    pub ignore_idle_timeout: bool,
    /// Seconds internal tasks get to end at shutdown.
    pub shutdown_timeout: Seconds,
    /// Seconds `start` waits for the background process to answer.
    pub p_startup_timeout: Seconds,
    /// Seconds `stop` waits for the background process to end.
    pub p_shutdown_timeout: Seconds,
    /// The timeouts, pings and log, as pedserver has them.
    #[serde(flatten)]
    pub common: CommonConfig,
    /// PED-initiated mode: listen for pedserver's TLS connection.
    pub ped_initiated: bool,
    /// PED-initiated mode: listening address; unset means every IPv4 interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen_ip: Option<IpAddr>,
    /// PED-initiated mode: listening port.
    #[serde(deserialize_with = "ped_daemon::config_file::port")]
    pub listen_port: u16,
    /// PED-initiated mode: common name of this pedclient's certificate (`-regen`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// PED-initiated mode: the pedserver certificate pinned with `-register`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pedserver: Option<RegisteredServer>,
    /// The HSMs' audit logs (docs/pedclient.md "Audit log"); unset means `audit/` beside
    /// the log file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_dir: Option<PathBuf>,
    /// An audit log file is rotated before it would grow past this many bytes.
    pub audit_rotate_size: u64,
    /// Audit log files kept per HSM, the current one included.
    pub audit_rotate_count: u32,
    /// The PED ID mappings, in ID order.
    #[serde(rename = "ped-id", skip_serializing_if = "Vec::is_empty")]
    pub mappings: Vec<Mapping>,
}

/// The pedserver certificate registered for PED-initiated mode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RegisteredServer {
    /// The certificate's subject common name.
    pub common_name: String,
    /// SHA-256 of the certificate's DER, hex: the pin checked at every connection.
    pub fingerprint: String,
    /// The certificate itself, PEM: with its pin in one file, a registration is one atomic
    /// change. Unset in files written before; `cert/client/pedserver.der` then holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

/// One PED ID: where its pedserver is, and the HSM it is assigned to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Mapping {
    /// The PED ID.
    pub id: u32,
    /// pedserver's address or host name.
    pub host: String,
    /// pedserver's port.
    #[serde(deserialize_with = "ped_daemon::config_file::port")]
    pub port: u16,
    /// The serial number of the HSM it is assigned to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hsm_serial: Option<String>,
}

/// The port pedclient listens on in PED-initiated mode (pedserver's default for it).
pub const DEFAULT_LISTEN_PORT: u16 = ped_daemon::tls::DEFAULT_PED_INITIATED_PORT;

impl Default for Config {
    fn default() -> Self {
        Config {
            admin_port: 1504,
            external_admin: false,
            hsm_link: None,
            hsm_link_group: None,
            ignore_idle_timeout: false,
            shutdown_timeout: Seconds::from_secs(5),
            p_startup_timeout: Seconds::from_secs(10),
            p_shutdown_timeout: Seconds::from_secs(10),
            common: CommonConfig::default(),
            ped_initiated: false,
            listen_ip: None,
            listen_port: DEFAULT_LISTEN_PORT,
            common_name: None,
            pedserver: None,
            audit_dir: None,
            audit_rotate_size: 1024 * 1024,
            audit_rotate_count: 10,
            mappings: Vec::new(),
        }
    }
}

impl TomlConfig for Config {}

/// The program name: its directories and files are named after it.
const PROGRAM: &str = "pedclient";
/// What to give when no home directory is known.
const NO_HOME: &str = "-configfile, -logfilename and -hsmlink";

/// Where the configuration, the log and the HSM link socket live by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// The configuration and the log, as for every daemon.
    pub files: DefaultPaths,
    /// The HSM link socket, unless the configuration names one.
    pub hsm_link: PathBuf,
}

impl Paths {
    /// Root uses the system locations; any other user the XDG ones under their home,
    /// which they can always write (the seed's non-root failure cannot happen). The
    /// socket goes in the runtime directory, or beside the log if there is none.
    pub fn default_for(root: bool, env: impl Fn(&str) -> Option<OsString>) -> Result<Paths, ConfigError> {
        let runtime_dir = if root { Some(PathBuf::from("/run")) } else { env("XDG_RUNTIME_DIR").map(PathBuf::from) };
        let files = DefaultPaths::default_for(PROGRAM, root, env, NO_HOME)?;
        let socket_dir = match runtime_dir.filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) => dir.join(PROGRAM),
            None => files.log_file.parent().unwrap_or(Path::new(".")).to_path_buf(),
        };
        Ok(Paths { hsm_link: socket_dir.join("hsmlink.sock"), files })
    }

    /// The paths of one command: the defaults for this user; with an explicit
    /// `-configfile` no home directory is needed: the rest goes beside it.
    pub fn for_command(config_file: Option<&Path>) -> Result<Paths, ConfigError> {
        let root = ped_daemon::config_file::running_as_root();
        match (config_file, Paths::default_for(root, |k| std::env::var_os(k))) {
            (_, Ok(p)) => Ok(p),
            (Some(file), Err(_)) => {
                Ok(Paths { files: DefaultPaths::beside(file), hsm_link: file.with_extension("sock") })
            }
            (None, Err(e)) => Err(e),
        }
    }
}

impl Config {
    /// The log file in force: the configured one or the per-user default.
    pub fn log_file_or(&self, paths: &Paths) -> PathBuf {
        self.common.log_file.clone().unwrap_or_else(|| paths.files.log_file.clone())
    }

    /// The audit log directory in force.
    pub fn audit_dir_or(&self, paths: &Paths) -> PathBuf {
        let beside_log = || self.log_file_or(paths).parent().unwrap_or(Path::new(".")).join("audit");
        self.audit_dir.clone().unwrap_or_else(beside_log)
    }

    /// The HSM link socket in force.
    pub fn hsm_link_or(&self, paths: &Paths) -> PathBuf {
        self.hsm_link.clone().unwrap_or_else(|| paths.hsm_link.clone())
    }

    /// The mapping of PED ID `id`.
    pub fn mapping(&self, id: u32) -> Option<&Mapping> {
        self.mappings.iter().find(|m| m.id == id)
    }

    /// The mapping assigned to the HSM with serial `serial`.
    pub fn assigned_to(&self, serial: &str) -> Option<&Mapping> {
        self.mappings.iter().find(|m| m.hsm_serial.as_deref() == Some(serial))
    }

    fn mapping_mut(&mut self, id: u32) -> Result<&mut Mapping, MappingError> {
        self.mappings.iter_mut().find(|m| m.id == id).ok_or(MappingError::NotMapped { id })
    }

    /// `setid`: creates the mapping, or moves an existing one to a new pedserver (an
    /// assignment is kept). Returns what was done.
    pub fn set_id(&mut self, id: u32, host: &str, port: u16) -> Result<String, MappingError> {
        check_text("the host name", host, 255)?;
        if let Ok(m) = self.mapping_mut(id) {
            (m.host, m.port) = (host.to_string(), port);
            return Ok(format!("PED ID {id} now maps to {host}:{port}."));
        }
        self.mappings.push(Mapping { id, host: host.to_string(), port, hsm_serial: None });
        self.mappings.sort_by_key(|m| m.id);
        Ok(format!("PED ID {id} maps to {host}:{port}."))
    }

    /// `assignid`: the HSM `serial` uses PED ID `id` when it connects without an address.
    /// One PED ID per HSM and one HSM per PED ID: a taken one must be released first.
    pub fn assign_id(&mut self, id: u32, serial: &str) -> Result<String, MappingError> {
        check_text("the HSM serial number", serial, ped_wire::hsm_link::MAX_SERIAL_LEN)?;
        if let Some(other) = self.assigned_to(serial).filter(|m| m.id != id) {
            return Err(MappingError::HsmTaken { serial: serial.to_string(), id: other.id });
        }
        let m = self.mapping_mut(id)?;
        match m.hsm_serial.as_deref() {
            Some(current) if current != serial => Err(MappingError::IdTaken { id, serial: current.to_string() }),
            _ => {
                m.hsm_serial = Some(serial.to_string());
                Ok(format!("PED ID {id} ({}:{}) is assigned to HSM {serial}.", m.host, m.port))
            }
        }
    }

    /// `releaseid`: the mapping stays, no HSM uses it.
    pub fn release_id(&mut self, id: u32) -> Result<String, MappingError> {
        let m = self.mapping_mut(id)?;
        Ok(match m.hsm_serial.take() {
            Some(serial) => format!("PED ID {id} is released from HSM {serial}."),
            None => format!("PED ID {id} was not assigned to any HSM."),
        })
    }

    /// `deleteid`: removes the mapping; an assigned one must be released first, so that
    /// an HSM is never left pointing at nothing by accident.
    pub fn delete_id(&mut self, id: u32) -> Result<String, MappingError> {
        if let Some(serial) = &self.mapping_mut(id)?.hsm_serial {
            return Err(MappingError::IdTaken { id, serial: serial.clone() });
        }
        self.mappings.retain(|m| m.id != id);
        Ok(format!("PED ID {id} is deleted."))
    }
}

/// Why a change of the PED ID mappings is refused; each says what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// No mapping has this PED ID.
    #[error("PED ID {id} is not mapped; create it with pedclient -mode setid -id {id} ...")]
    NotMapped {
        /// The PED ID.
        id: u32,
    },
    /// The PED ID serves another HSM.
    #[error("PED ID {id} is assigned to HSM {serial}; release it first (pedclient -mode releaseid -id {id})")]
    IdTaken {
        /// The PED ID.
        id: u32,
        /// The HSM it is assigned to.
        serial: String,
    },
    /// The HSM has another PED ID.
    #[error("HSM {serial} is already assigned PED ID {id}; release it first (pedclient -mode releaseid -id {id})")]
    HsmTaken {
        /// The HSM.
        serial: String,
        /// Its PED ID.
        id: u32,
    },
    /// A host name or serial that cannot travel in an HSM link frame.
    #[error("{what} {value:?} must be 1-{max} printable characters without spaces")]
    BadText {
        /// What it is, e.g. `the host name`.
        what: &'static str,
        /// The text given.
        value: String,
        /// Its longest length.
        max: usize,
    },
}

/// Host names and serials travel in HSM link frames and are printed: 1..=max printable
/// ASCII characters without spaces.
fn check_text(what: &'static str, s: &str, max: usize) -> Result<(), MappingError> {
    if !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(MappingError::BadText { what, value: s.to_string(), max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seeds() {
        let c = Config::default();
        assert_eq!(
            (c.common.idle_timeout.to_string(), c.ignore_idle_timeout, c.listen_port),
            ("1800".into(), false, 9696)
        );
        assert!(!c.external_admin && !c.ped_initiated);
    }

    #[test]
    fn toml_round_trips_with_mappings_and_refuses_unknown_keys() {
        let mut c = Config::default();
        c.common.idle_timeout = "0.5".parse().unwrap();
        c.set_id(1234, "myhostname", 3456).unwrap();
        c.assign_id(1234, "123456789").unwrap();
        c.pedserver = Some(RegisteredServer {
            common_name: "laptop".into(),
            fingerprint: "00".repeat(32),
            certificate: Some("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n".into()),
        });
        let text = c.to_toml();
        assert!(text.contains("[[ped-id]]") && text.contains("hsm-serial = \"123456789\""), "{text}");
        assert_eq!(Config::from_toml(&text).unwrap(), c);
        assert!(Config::from_toml("admin-port = 1\nbogus = 2\n").unwrap_err().to_string().contains("bogus"));
        assert!(Config::from_toml("idle-timeout = 0").unwrap_err().to_string().contains("more than 0"));
        for zero_port in ["admin-port = 0", "listen-port = 0", "[[ped-id]]\nid = 1\nhost = \"h\"\nport = 0"] {
            let refused = Config::from_toml(zero_port).unwrap_err().to_string();
            assert!(refused.contains("0 is not a port number (1-65535)"), "{zero_port}: {refused}");
        }
        assert!(text.contains("idle-timeout = 0.5\n"), "{text}");
    }

    #[test]
    fn mapping_rules() {
        let mut c = Config::default();
        assert!(c.assign_id(1, "S1").unwrap_err().to_string().contains("not mapped"));
        c.set_id(2, "b", 1503).unwrap();
        c.set_id(1, "a", 1503).unwrap();
        assert_eq!(c.mappings.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 2]);
        c.assign_id(1, "S1").unwrap();
        c.assign_id(1, "S1").unwrap();
        assert!(c.assign_id(1, "S2").unwrap_err().to_string().contains("assigned to HSM S1"));
        assert!(c.assign_id(2, "S1").unwrap_err().to_string().contains("already assigned PED ID 1"));
        assert!(c.delete_id(1).unwrap_err().to_string().contains("release it first"));
        c.set_id(1, "c", 1600).unwrap();
        assert_eq!(c.assigned_to("S1").map(|m| (m.host.as_str(), m.port)), Some(("c", 1600)));
        assert!(c.release_id(1).unwrap().contains("released from HSM S1"));
        assert!(c.release_id(1).unwrap().contains("was not assigned"));
        c.delete_id(1).unwrap();
        assert!(c.mapping(1).is_none());
        assert!(c.set_id(3, "has space", 1).is_err());
        assert!(c.assign_id(2, &"9".repeat(33)).is_err());
    }

    #[test]
    fn root_and_user_paths() {
        let root = Paths::default_for(true, |_| None).unwrap();
        assert_eq!(root.files.config_file, Path::new("/etc/pedclient/pedclient.toml"));
        assert_eq!(root.hsm_link, Path::new("/run/pedclient/hsmlink.sock"));
        let user = Paths::default_for(false, |k| (k == "HOME").then(|| "/home/ann".into())).unwrap();
        assert_eq!(user.files.config_file, Path::new("/home/ann/.config/pedclient/pedclient.toml"));
        assert_eq!(user.files.log_file, Path::new("/home/ann/.local/state/pedclient/pedclient.log"));
        assert_eq!(user.hsm_link, Path::new("/home/ann/.local/state/pedclient/hsmlink.sock"));
        let run = Paths::default_for(false, |k| match k {
            "HOME" => Some("/home/ann".into()),
            "XDG_RUNTIME_DIR" => Some("/run/user/1000".into()),
            _ => None,
        });
        assert_eq!(run.unwrap().hsm_link, Path::new("/run/user/1000/pedclient/hsmlink.sock"));
        let no_home = Paths::default_for(false, |_| None).unwrap_err().to_string();
        assert!(no_home.ends_with("use -configfile, -logfilename and -hsmlink"), "{no_home}");
    }

    #[test]
    fn save_then_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/pedclient.toml");
        assert_eq!(Config::load(&path).unwrap(), Config::default());
        let mut c = Config::default();
        c.set_id(7, "h", 1503).unwrap();
        c.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), c);
    }
}
