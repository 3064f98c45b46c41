//! Default paths of a non-root user, and the relay's blindness by construction.

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

/// pedserver reaches ped-proto through its wire-format modules only. The handshake, key
/// schedule, record layer and CSP wrapping are never named in its source, so no code
/// path of the server can hold a channel key (the TLS of PED-initiated mode is an outer
/// transport of its own and carries the same opaque frames).
#[test]
fn the_server_source_names_no_channel_crypto() {
    let allowed = ["frame", "relay", "device", "usb", "error", "ErrorCode"];
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut files = vec![std::path::PathBuf::from(src)];
    let mut checked = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, _) in text.match_indices("ped_proto::") {
            let rest = &text[i + "ped_proto::".len()..];
            let module: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            assert!(
                allowed.contains(&module.as_str()) || rest.starts_with('{'),
                "{}: uses ped_proto::{module}",
                path.display()
            );
            if rest.starts_with('{') {
                let group: String = rest.chars().take_while(|c| *c != '}').collect();
                for name in ["handshake", "record", "kdf", "kwp", "ecdh", "secrets", "orange", "mac", "ctr", "pin"] {
                    assert!(!group.contains(name), "{}: uses ped_proto::{name}", path.display());
                }
            }
        }
        checked += 1;
    }
    assert!(checked >= 8);
}
