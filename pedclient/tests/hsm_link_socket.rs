//! Who may use pedclient's HSM link (issue 14 item 7): the socket is 0660 and belongs to
//! `-hsmlinkgroup` (pedclient's own group by default), whatever the umask, so that the
//! HSM's users in that group connect and everyone else is refused. Under systemd's umask
//! 0022 it was `srwxr-xr-x`: the group got EACCES.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use common::PedClient;

/// `users`, present on every Debian-like system (the test's stand-in for `hsmusers`).
const GROUP: (&str, u32) = ("users", 100);
const LINK_ENV: &str = "PEDCLIENT_TEST_HSM_LINK";

fn mode_and_group(path: &Path) -> (u32, u32) {
    let m = std::fs::metadata(path).unwrap();
    (m.mode() & 0o7777, m.gid())
}

/// The connecting end, run by the test as another user: exits 0 when the connection is
/// made, or with the errno. A no-op in an ordinary test run.
#[test]
fn connecting_child() {
    let Some(path) = std::env::var_os(LINK_ENV) else { return };
    std::process::exit(match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(255),
    });
}

/// How a user `uid` whose only group is `gid` fares on `link`: 0, or the errno.
fn connect_as(uid: u32, gid: u32, link: &Path) -> i32 {
    // std drops the supplementary groups when root changes the user.
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "connecting_child", "--nocapture", "--test-threads", "1"])
        .env(LINK_ENV, link)
        .uid(uid)
        .gid(gid)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    status.code().unwrap()
}

#[test]
fn the_socket_is_0660_for_pedclients_group_by_default() {
    let client = PedClient::new().start(&[]);
    let me = std::fs::metadata(client.dir.path()).unwrap().gid();
    assert_eq!(mode_and_group(&client.hsm_link()), (0o660, me));
}

#[test]
fn members_of_the_link_group_connect_and_others_are_refused() {
    let (name, gid) = GROUP;
    let client = PedClient::new().start(&["-hsmlinkgroup", name]);
    let link = client.hsm_link();
    assert_eq!(mode_and_group(&link), (0o660, gid));
    assert!(client.log().contains("serving the HSM link"), "{}", client.log());
    if !running_as_root() {
        eprintln!("skipped the two users: only root can run a process as another user (CI runs as root)");
        return;
    }
    // Other users may enter the directory, as /run/pedclient's group may under the unit.
    std::fs::set_permissions(client.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    const EACCES: i32 = 13;
    assert_eq!(connect_as(64_000, gid, &link), 0, "a member of {name} connects");
    assert_eq!(connect_as(64_001, 64_001, &link), EACCES, "a user outside {name} is refused");
    let numeric = PedClient::new().start(&["-hsmlinkgroup", "64002"]);
    assert_eq!(mode_and_group(&numeric.hsm_link()), (0o660, 64_002), "a group given by number");
}

#[test]
fn an_unknown_group_stops_the_start_with_its_name() {
    let client = PedClient::new();
    let o = client.run("start", &["-hsmlinkgroup", "no-such-group-here", "--foreground"]);
    assert!(!o.status.success());
    let said = format!("{}{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr), client.log());
    assert!(said.contains("HSM link group no-such-group-here: no such group"), "{said}");
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}
