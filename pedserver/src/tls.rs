//! PED-initiated mode's TLS: ped-daemon's pinned mutual TLS (re-exported whole, so that
//! tests can play the appliance's end with the very configuration pedclient uses), and
//! where pedserver keeps its certificates.

use std::path::{Path, PathBuf};

pub use ped_daemon::tls::*;

/// Connection attempts of `-mode connect` before it gives up (the seed's 20).
pub const MAX_ATTEMPTS: u32 = 20;

/// Where `-regen` writes the client certificate and its key (the seed's `cert/client/`
/// names: `CN.pem`, `CNKey.pem`), under the certificate directory.
pub fn client_files(cert_dir: &Path, common_name: &str) -> (PathBuf, PathBuf) {
    identity_files(&cert_dir.join("client"), common_name)
}

/// Where `-appliance register` keeps an appliance's certificate.
pub fn appliance_file(cert_dir: &Path, name: &str) -> PathBuf {
    cert_dir.join("server").join(format!("{name}.pem"))
}
