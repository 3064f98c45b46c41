//! Configuration files: TOML read whole and written atomically ([`TomlConfig`]), private
//! files for keys ([`write_private`]), and where a daemon keeps its files when the command
//! line names none ([`DefaultPaths`]). The default locations are computed from the
//! effective user and an environment passed in, so the root and non-root cases are
//! unit-tested here.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a configuration could not be read or written.
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
    #[error("{path}: {source}")]
    Parse {
        /// Which file.
        path: PathBuf,
        /// The TOML error: where, and what (an unknown key, a value out of range).
        source: toml::de::Error,
    },
    /// No per-user location could be found.
    #[error("neither HOME nor XDG_CONFIG_HOME/XDG_STATE_HOME is set; use {options}")]
    NoHome {
        /// The options that name the files instead, e.g. `-configfile and -logfilename`.
        options: &'static str,
    },
}

/// A daemon's configuration file: a TOML table whose missing keys take their defaults.
/// The provided methods are the whole file I/O; implementors only derive serde.
pub trait TomlConfig: Serialize + DeserializeOwned + Default {
    /// Parses TOML text.
    fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// The TOML text written to the file.
    fn to_toml(&self) -> String {
        // Serialising plain fields, options and tables cannot fail.
        toml::to_string(self).unwrap_or_default()
    }

    /// Reads the configuration; a missing file is the defaults.
    fn load(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_toml(&text).map_err(|source| ConfigError::Parse { path: path.into(), source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Io { path: path.into(), source }),
        }
    }

    /// Writes the configuration atomically ([`write_atomic`]): after a crash the old or
    /// the new file is there, whole.
    fn save(&self, path: &Path) -> Result<(), ConfigError> {
        write_atomic(path, self.to_toml().as_bytes()).map_err(|source| ConfigError::Io { path: path.into(), source })
    }
}

/// Atomic file replacement (`ped_fs`: a temporary file in the same directory, synced,
/// renamed over the old one, the directory synced), creating the parent directory if needed. A new file is 0600; one
/// that replaces a file keeps that file's mode, owner and group ([`keep_owner`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace(path, bytes, Mode::KeepOld)
}

/// Atomic write of a private file (0600 under a 0700 directory, created if missing): a
/// key lives there. A file it replaces keeps its owner and group, not a looser mode. The
/// error names the file.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ConfigError> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| ConfigError::Io { path: dir.into(), source })?;
    }
    replace(path, bytes, Mode::OwnerOnly).map_err(|source| ConfigError::Io { path: path.into(), source })
}

/// The mode of a file that replaces another.
#[derive(Clone, Copy)]
enum Mode {
    KeepOld,
    OwnerOnly,
}

fn replace(path: &Path, bytes: &[u8], mode: Mode) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let old = match std::fs::metadata(path) {
        Ok(old) => Some(old),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    // ped-fs's atomic replace: `.NAME.tmp` beside the file (0600), fsync, rename,
    // directory fsync. A killed write leaves the old file, and one temporary file that the
    // next write reuses. The owner and mode are set before the flush.
    let staged = ped_fs::Staged::write_with(ped_fs::temp_path(path), bytes, |file| {
        let Some(old) = &old else { return Ok(()) };
        keep_owner(file, old)?;
        if let Mode::KeepOld = mode {
            let bits = std::os::unix::fs::MetadataExt::mode(old) & 0o777;
            file.set_permissions(std::fs::Permissions::from_mode(bits))?;
        }
        Ok(())
    })?;
    staged.commit(path)
}

/// Gives `file` the owner and group of `old`, the file it is about to replace: root
/// running `-mode config -set` (or `pedclient -mode setid`) on a service user's file must
/// leave it readable by that user, not root-owned. Root may always; for the file's own
/// user it is a no-op. Any other user could replace the file only because the directory is
/// theirs, and ends up owning it, as any editor would leave it.
fn keep_owner(file: &std::fs::File, old: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let new = file.metadata()?;
    if (new.uid(), new.gid()) == (old.uid(), old.gid()) {
        return Ok(());
    }
    match std::os::unix::fs::fchown(file, Some(old.uid()), Some(old.gid())) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && !running_as_root() => Ok(()),
        other => other,
    }
}

/// A port in a configuration file, checked as the command line's `-admin` and the like are
/// (ped-daemon's `args::port`): 0 names no port. A file edited by hand cannot set what the
/// command line refuses. For `#[serde(deserialize_with = "port")]`.
pub fn port<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u16, D::Error> {
    match <u16 as serde::Deserialize>::deserialize(deserializer)? {
        0 => Err(serde::de::Error::custom("0 is not a port number (1-65535)")),
        p => Ok(p),
    }
}

/// Directory of the certificates of PED-initiated mode: `cert/` beside the configuration
/// file, so one `-configfile` keeps a whole installation together.
pub fn cert_dir(config_file: &Path) -> PathBuf {
    config_file.parent().unwrap_or(Path::new(".")).join("cert")
}

/// Where a daemon keeps its configuration and its log when the command line names neither.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultPaths {
    /// The configuration file.
    pub config_file: PathBuf,
    /// The log file, unless the configuration names one.
    pub log_file: PathBuf,
}

impl DefaultPaths {
    /// Root uses the system locations (`/etc/PROGRAM/PROGRAM.toml`,
    /// `/var/log/PROGRAM/PROGRAM.log`); any other user the XDG ones under their home,
    /// which they can always write. This is the fix for the seed's non-root start failure
    /// (a log in a directory only root can write). `options` completes the error when no
    /// home is known: the options that name the files instead.
    pub fn default_for(
        program: &str,
        root: bool,
        env: impl Fn(&str) -> Option<OsString>,
        options: &'static str,
    ) -> Result<DefaultPaths, ConfigError> {
        if root {
            return Ok(DefaultPaths {
                config_file: PathBuf::from(format!("/etc/{program}/{program}.toml")),
                log_file: PathBuf::from(format!("/var/log/{program}/{program}.log")),
            });
        }
        let non_empty = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = non_empty("HOME");
        let config_home = non_empty("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")));
        let state_home = non_empty("XDG_STATE_HOME").or_else(|| home.as_ref().map(|h| h.join(".local/state")));
        match (config_home, state_home) {
            (Some(c), Some(s)) => Ok(DefaultPaths {
                config_file: c.join(format!("{program}/{program}.toml")),
                log_file: s.join(format!("{program}/{program}.log")),
            }),
            _ => Err(ConfigError::NoHome { options }),
        }
    }

    /// The defaults for the user this process runs as.
    pub fn current(program: &str, options: &'static str) -> Result<DefaultPaths, ConfigError> {
        DefaultPaths::default_for(program, running_as_root(), |k| std::env::var_os(k), options)
    }

    /// With an explicit `-configfile` and no home directory: the log beside it, so that
    /// (with `-logfilename`) a daemon runs without a home.
    pub fn beside(config_file: &Path) -> DefaultPaths {
        DefaultPaths { config_file: config_file.to_path_buf(), log_file: config_file.with_extension("log") }
    }
}

/// Whether this process runs as root, which decides the system or the per-user defaults.
pub fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
    struct Sample {
        idle_timeout: u64,
        log_file: Option<PathBuf>,
    }

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
    struct Ports {
        #[serde(deserialize_with = "port")]
        admin_port: u16,
    }

    impl TomlConfig for Ports {}

    #[test]
    fn a_port_in_the_file_is_checked_as_on_the_command_line() {
        assert_eq!(Ports::from_toml("admin-port = 1502").unwrap().admin_port, 1502);
        for bad in ["admin-port = 0", "admin-port = 65536", "admin-port = -1"] {
            assert!(Ports::from_toml(bad).is_err(), "{bad}");
        }
        let zero = Ports::from_toml("admin-port = 0").unwrap_err().to_string();
        assert!(zero.contains("0 is not a port number (1-65535)"), "{zero}");
    }

    impl TomlConfig for Sample {}

    #[test]
    fn save_then_load_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/d.toml");
        assert_eq!(Sample::load(&path).unwrap(), Sample::default());
        let s = Sample { idle_timeout: 5, log_file: Some("/l".into()) };
        s.save(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "idle-timeout = 5\nlog-file = \"/l\"\n");
        assert_eq!(Sample::load(&path).unwrap(), s);
        std::fs::write(&path, "idle-timeout = 1\nbogus = 2\n").unwrap();
        assert!(
            matches!(Sample::load(&path), Err(ConfigError::Parse { source, .. }) if source.to_string().contains("bogus"))
        );
        assert_eq!(cert_dir(&path), dir.path().join("sub/cert"));
    }

    #[test]
    fn private_files_are_0600_under_a_0700_directory() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cert/client/k.pem");
        write_private(&path, b"key").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&path), mode(path.parent().unwrap())), (0o600, 0o700));
        assert_eq!(std::fs::read(&path).unwrap(), b"key");
    }

    fn mode_and_owner(p: &Path) -> (u32, u32, u32) {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(p).unwrap();
        (m.mode() & 0o777, m.uid(), m.gid())
    }

    #[test]
    fn a_rewritten_file_keeps_its_mode_and_owner() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.toml");
        Sample { idle_timeout: 1, log_file: None }.save(&path).unwrap();
        let me = std::fs::metadata(&path).unwrap();
        assert_eq!(mode_and_owner(&path), (0o600, me.uid(), me.gid()), "a new file is owner-only");
        // An administrator who let the service's group read it.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        Sample { idle_timeout: 2, log_file: None }.save(&path).unwrap();
        assert_eq!(mode_and_owner(&path), (0o640, me.uid(), me.gid()));
        assert_eq!(Sample::load(&path).unwrap().idle_timeout, 2);
        // A key never keeps a looser mode.
        let key = dir.path().join("cert/k.pem");
        write_private(&key, b"old").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&key, b"new").unwrap();
        assert_eq!(mode_and_owner(&key), (0o600, me.uid(), me.gid()));
    }

    const WRITER_ENV: &str = "PED_DAEMON_TEST_CONFIG_WRITER";

    /// The killed writer of `a_killed_write_leaves_the_old_or_the_new_file`: rewrites the
    /// file for ever. A no-op in an ordinary test run.
    #[test]
    fn config_writer_child() {
        let Some(path) = std::env::var_os(WRITER_ENV) else { return };
        for n in 0.. {
            Sample { idle_timeout: n, log_file: Some(PathBuf::from("/l").join("x".repeat(n as usize % 4000))) }
                .save(Path::new(&path))
                .unwrap();
        }
    }

    /// `kill -9` of a process in the middle of rewriting its configuration, again and
    /// again: the file always parses whole, and at most one temporary file is left,
    /// whatever the number of kills; the next write removes it.
    #[test]
    fn a_killed_write_leaves_the_old_or_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.toml");
        Sample::default().save(&path).unwrap();
        let mut rewritten = 0;
        for round in 0..8u64 {
            let mut child = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "config_file::tests::config_writer_child", "--nocapture"])
                .env(WRITER_ENV, &path)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(30 + 7 * round));
            child.kill().unwrap();
            child.wait().unwrap();
            let loaded = Sample::load(&path).unwrap();
            let len = loaded.log_file.map_or(0, |l| l.as_os_str().len());
            assert!(loaded.idle_timeout == 0 || len == 2 + (loaded.idle_timeout as usize % 4000) + 1);
            rewritten += usize::from(loaded.idle_timeout > 0);
            let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
            names.retain(|n| n != "d.toml");
            assert!(names.is_empty() || names == [".d.toml.tmp"], "left behind: {names:?}");
        }
        assert!(rewritten > 0, "the writer never got to write");
        // The next write reuses a temporary file left by a kill and leaves none.
        std::fs::write(ped_fs::temp_path(&path), "idle-timeout = torn").unwrap();
        Sample { idle_timeout: 9, log_file: None }.save(&path).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!((names, Sample::load(&path).unwrap().idle_timeout), (vec!["d.toml".into()], 9));
    }

    /// Root rewrites a file that belongs to the service's user (here nobody, 65534): the
    /// file stays that user's, with its mode, as `pedserver -mode config -set` run by root
    /// on /etc/pedserver/pedserver.toml must leave it for the service to start.
    #[test]
    fn root_rewriting_a_service_users_file_leaves_it_theirs() {
        if !running_as_root() {
            eprintln!("skipped: only root can give a file to another user (CI runs as root)");
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        const NOBODY: u32 = 65534;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pedserver.toml");
        Sample { idle_timeout: 1, log_file: None }.save(&path).unwrap();
        std::os::unix::fs::chown(&path, Some(NOBODY), Some(NOBODY)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        Sample { idle_timeout: 7, log_file: None }.save(&path).unwrap();
        assert_eq!(mode_and_owner(&path), (0o640, NOBODY, NOBODY));
        assert_eq!(Sample::load(&path).unwrap().idle_timeout, 7);

        let key = dir.path().join("cert/server/k.pem");
        write_private(&key, b"old").unwrap();
        std::os::unix::fs::chown(&key, Some(NOBODY), Some(NOBODY)).unwrap();
        write_private(&key, b"new").unwrap();
        assert_eq!(mode_and_owner(&key), (0o600, NOBODY, NOBODY));
        assert_eq!(std::fs::read(&key).unwrap(), b"new");
        // Nothing left behind: the temporary file was renamed, not copied.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn root_and_non_root_paths_differ() {
        let opts = "-configfile";
        let root = DefaultPaths::default_for("d", true, |_| None, opts).unwrap();
        assert_eq!(root.config_file, Path::new("/etc/d/d.toml"));
        assert_eq!(root.log_file, Path::new("/var/log/d/d.log"));
        let user = DefaultPaths::default_for("d", false, |k| (k == "HOME").then(|| "/home/ann".into()), opts).unwrap();
        assert_eq!(user.config_file, Path::new("/home/ann/.config/d/d.toml"));
        assert_eq!(user.log_file, Path::new("/home/ann/.local/state/d/d.log"));
        let xdg = DefaultPaths::default_for(
            "d",
            false,
            |k| match k {
                "XDG_CONFIG_HOME" => Some("/c".into()),
                "XDG_STATE_HOME" => Some("/s".into()),
                "HOME" => Some("".into()),
                _ => None,
            },
            opts,
        )
        .unwrap();
        assert_eq!(
            (xdg.config_file.as_path(), xdg.log_file.as_path()),
            (Path::new("/c/d/d.toml"), Path::new("/s/d/d.log"))
        );
        let none = DefaultPaths::default_for("d", false, |_| None, "-configfile and -logfilename");
        assert_eq!(
            none.unwrap_err().to_string(),
            "neither HOME nor XDG_CONFIG_HOME/XDG_STATE_HOME is set; use -configfile and -logfilename"
        );
        assert_eq!(DefaultPaths::beside(Path::new("/x/d.toml")).log_file, Path::new("/x/d.log"));
    }
}
