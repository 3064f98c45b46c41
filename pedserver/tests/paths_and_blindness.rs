//! Default paths of a non-root user. (The relay's blindness by construction is checked
//! where it is built: ped-wire/tests/relays_link_no_crypto.rs.)

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::*;

/// As root, runs the server as `nobody` with a fresh HOME: config and log land under it,
/// and start succeeds (the seed's non-root RC_SOCKET_ERROR start failure cannot happen).
#[test]
fn a_non_root_user_starts_with_default_paths_under_home() {
    if !rustix::process::geteuid().is_root() || Command::new("setpriv").arg("--version").output().is_err() {
        return; // not root: then this very run already is the non-root case of the other tests
    }
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let (port, admin) = (free_port(), free_port());
    let run = |mode: &str| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_pedserver")])
            .args(["-mode", mode, "-port", &port.to_string(), "-admin", &admin.to_string()])
            .args(["-device", "tcp:127.0.0.1:1"])
            .env_clear()
            .env("HOME", home.path())
            .output()
            .unwrap()
    };
    let o = run("start");
    assert!(o.status.success(), "{}", text(&o));
    let log = home.path().join(".local/state/pedserver/pedserver.log");
    assert!(log.exists(), "no log at {}", log.display());
    let o = run("stop");
    assert!(o.status.success(), "{}", text(&o));
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_pedserver")])
        .args(["-mode", "config", "-set", "-idletimeout", "5"])
        .env_clear()
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(home.path().join(".config/pedserver/pedserver.toml").exists());
}
