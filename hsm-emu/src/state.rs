//! What the HSM keeps across restarts, and how it is written.
//!
//! Two JSON files in the state directory: `identity.json` (the serial and the factory
//! authorities, written once at manufacture) and `hsm.json` (roles, verifiers,
//! counters, partition, RPV, PED defaults). `root.der` beside them is the factory
//! root certificate that PEDs must trust. Every write is atomic: a temp file in the
//! same directory, fsync, rename over the old file, fsync of the directory; after a
//! crash at any instant the old or the new file is there, whole.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Version of the `hsm.json` layout.
pub const STATE_VERSION: u32 = 1;

const IDENTITY_FILE: &str = "identity.json";
const STATE_FILE: &str = "hsm.json";
const ROOT_FILE: &str = "root.der";

/// A state-directory failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A state file did not parse.
    #[error("{path}: not a valid state file: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
}

/// One factory authority as persisted: its certificate and (secret) signing key, hex.
#[derive(Clone, Serialize, Deserialize)]
pub struct AuthorityRecord {
    /// DER certificate, hex.
    pub cert: String,
    /// The P-521 signing scalar, hex; wiped when dropped.
    pub key: Zeroizing<String>,
}

/// `identity.json`: made once at manufacture.
#[derive(Clone, Serialize, Deserialize)]
pub struct IdentityRecord {
    /// The HSM's serial number (IDV of every handshake).
    pub serial: String,
    /// Manufacture time, Unix seconds.
    pub manufactured: u64,
    /// The manufacturer root, the MIC and the HOC.
    pub root: AuthorityRecord,
    /// The MIC.
    pub mic: AuthorityRecord,
    /// The HOC.
    pub hoc: AuthorityRecord,
}

/// A role's keyset as the HSM knows it: never the secret, only its verifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysetRecord {
    /// Keyset identity, hex.
    pub keyset_id: String,
    /// SHA-512 verifier of identity and secret, hex.
    pub verifier: String,
    /// M.
    pub m: u8,
    /// N.
    pub n: u8,
}

/// The RPV in force: its orange keyset, the RPV, the RPK public key and the RPK
/// certificate this HSM's HOC issued for it.
#[derive(Clone, Serialize, Deserialize)]
pub struct RpvRecord {
    /// The orange keyset's identity, hex. Empty in a record written before PED key
    /// format 2, whose orange keys no PED reads any more: such a record is not loaded.
    #[serde(default)]
    pub keyset_id: String,
    /// The RPV, hex; wiped when dropped.
    pub rpv: Zeroizing<String>,
    /// The RPK certificate (HOC-signed, kept here: never written on a key), DER hex.
    pub cert: String,
    /// The RPK static public key, uncompressed SEC1 hex.
    pub public_key: String,
}

/// The application partition.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PartitionState {
    /// The partition label.
    pub label: String,
    /// Partition SO (blue).
    pub so: Option<KeysetRecord>,
    /// Partition cloning domain (red).
    pub domain: Option<KeysetRecord>,
    /// Crypto Officer (black).
    pub co: Option<KeysetRecord>,
    /// Crypto User (black; gray sticker).
    pub cu: Option<KeysetRecord>,
    /// Consecutive failed Partition SO logins.
    pub so_failures: u32,
    /// Consecutive failed CO/CU logins (one counter, as partition policy 20 counts them).
    pub user_failures: u32,
    /// CO and CU are locked out.
    pub users_locked: bool,
    /// Limited Crypto Officer (black; a gray sticker). A partition of an `hsm.json`
    /// written before the role existed reads as having none.
    #[serde(default)]
    pub lco: Option<KeysetRecord>,
    /// Consecutive failed LCO logins (its own counter: seed 6674).
    #[serde(default)]
    pub lco_failures: u32,
    /// The LCO is locked out (CO and CU are not).
    #[serde(default)]
    pub lco_locked: bool,
}

/// `hsm.json`: everything else that survives a restart.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct HsmState {
    /// Layout version ([`STATE_VERSION`]).
    pub version: u32,
    /// The HSM label; `None` while zeroised (uninitialised).
    pub label: Option<String>,
    /// HSM SO (blue).
    pub so: Option<KeysetRecord>,
    /// HSM cloning domain (red).
    pub domain: Option<KeysetRecord>,
    /// Auditor (white).
    pub auditor: Option<KeysetRecord>,
    /// Consecutive failed HSM SO logins.
    pub so_failures: u32,
    /// Consecutive failed Auditor logins.
    pub auditor_failures: u32,
    /// Consecutive failed RPV logins (a C(2e,2s) key confirmation that did not verify);
    /// an `hsm.json` written before the rule existed reads as 0.
    #[serde(default)]
    pub rpv_failures: u32,
    /// HSM policy 15 "Enable SO reset of partition PIN" (seed 5118, 6756-6821): the
    /// Partition SO may `role resetpw -name co`. Off by default, as on a new HSM; an
    /// `hsm.json` written before the policy existed reads as off.
    #[serde(default)]
    pub so_reset_partition_pin: bool,
    /// The application partition, once created.
    pub partition: Option<PartitionState>,
    /// The RPV in force.
    pub rpv: Option<RpvRecord>,
    /// `ped set -ip`.
    pub ped_ip: Option<String>,
    /// `ped set -port`.
    pub ped_port: Option<u16>,
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Opens (and creates, owner-only) the state directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|source| StoreError::Io { path: dir.clone(), source })?;
        restrict(&dir, 0o700).map_err(|source| StoreError::Io { path: dir.clone(), source })?;
        Ok(Store { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The identity, if the HSM was manufactured.
    pub fn load_identity(&self) -> Result<Option<IdentityRecord>, StoreError> {
        self.load(IDENTITY_FILE)
    }

    /// Writes the identity and the root certificate PEDs trust.
    pub fn save_identity(&self, identity: &IdentityRecord, root_der: &[u8]) -> Result<(), StoreError> {
        let json = Zeroizing::new(serde_json::to_vec_pretty(identity).map_err(|e| self.corrupt(IDENTITY_FILE, e))?);
        self.write_atomic(IDENTITY_FILE, &json)?;
        self.write_atomic(ROOT_FILE, root_der)
    }

    /// The HSM state; a fresh (zeroised) one if none was written yet.
    pub fn load_state(&self) -> Result<HsmState, StoreError> {
        let state: Option<HsmState> = self.load(STATE_FILE)?;
        match state {
            Some(s) if s.version != STATE_VERSION => Err(StoreError::Corrupt {
                path: self.dir.join(STATE_FILE),
                detail: format!("layout version {} is not {STATE_VERSION}", s.version),
            }),
            Some(s) => Ok(s),
            None => Ok(HsmState { version: STATE_VERSION, ..HsmState::default() }),
        }
    }

    /// Writes the HSM state.
    pub fn save_state(&self, state: &HsmState) -> Result<(), StoreError> {
        let json = Zeroizing::new(serde_json::to_vec_pretty(state).map_err(|e| self.corrupt(STATE_FILE, e))?);
        self.write_atomic(STATE_FILE, &json)
    }

    /// The root certificate file PEDs are configured with.
    pub fn root_path(&self) -> PathBuf {
        self.dir.join(ROOT_FILE)
    }

    fn load<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, StoreError> {
        let path = self.dir.join(name);
        match fs::read(&path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                serde_json::from_slice(&bytes).map(Some).map_err(|e| self.corrupt(name, e))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }

    fn corrupt(&self, name: &str, e: serde_json::Error) -> StoreError {
        StoreError::Corrupt { path: self.dir.join(name), detail: e.to_string() }
    }

    /// temp + fsync + rename + directory fsync.
    fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        // ped-fs's atomic replace (`.NAME.tmp` beside it, owner-only, fsync, rename,
        // directory fsync), as ikey-emu's keys and the daemons' configuration.
        let path = self.dir.join(name);
        ped_fs::write_atomic(&path, bytes).map_err(|source| StoreError::Io { path, source })
    }
}

// The Debug forms name what is there and never print a secret.
impl fmt::Debug for AuthorityRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorityRecord").field("cert_len", &(self.cert.len() / 2)).finish_non_exhaustive()
    }
}

impl fmt::Debug for IdentityRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityRecord").field("serial", &self.serial).finish_non_exhaustive()
    }
}

impl fmt::Debug for RpvRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpvRecord").field("cert_len", &(self.cert.len() / 2)).finish_non_exhaustive()
    }
}

impl fmt::Debug for HsmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HsmState")
            .field("label", &self.label)
            .field("so_failures", &self.so_failures)
            .field("partition", &self.partition)
            .field("rpv", &self.rpv.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(unix)]
fn restrict(dir: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s")).unwrap();
        let mut state = store.load_state().unwrap();
        assert!(state.label.is_none());
        state.label = Some("lab".into());
        state.so_failures = 2;
        store.save_state(&state).unwrap();
        let again = store.load_state().unwrap();
        assert_eq!(again.label.as_deref(), Some("lab"));
        assert_eq!(again.so_failures, 2);
        let names: Vec<_> = fs::read_dir(store.dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["hsm.json"]);
    }

    #[test]
    fn an_hsm_json_from_before_policy_15_reads_as_policy_15_off() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        fs::write(dir.path().join(STATE_FILE), br#"{"version":1,"label":"lab","so_failures":0,"auditor_failures":0}"#)
            .unwrap();
        let state = store.load_state().unwrap();
        assert_eq!((state.label.as_deref(), state.so_reset_partition_pin), (Some("lab"), false));
    }

    #[test]
    fn a_partition_from_before_the_lco_reads_as_one_without_an_lco() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let partition = r#"{"label":"p","so":null,"domain":null,"co":null,"cu":null,"so_failures":0,
            "user_failures":3,"users_locked":false}"#;
        let file =
            format!(r#"{{"version":1,"label":"lab","so_failures":0,"auditor_failures":0,"partition":{partition}}}"#);
        fs::write(dir.path().join(STATE_FILE), file).unwrap();
        let p = store.load_state().unwrap().partition.expect("the partition");
        assert_eq!((p.user_failures, p.lco, p.lco_failures, p.lco_locked), (3, None, 0, false));
    }

    #[test]
    fn a_corrupt_state_file_is_an_error_not_a_fresh_hsm() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        fs::write(dir.path().join(STATE_FILE), b"{not json").unwrap();
        assert!(matches!(store.load_state(), Err(StoreError::Corrupt { .. })));
    }
}
