//! The names an administrator looks pedserver up by: the running daemon is `pedserver` in
//! the process list (`pgrep -x pedserver`, `ps`, `top`), not `exe`, after a background
//! start; the seed's Linux name `PedServer` (a symlink the install script makes) runs it, and
//! names its process so; the install script puts both names, the man page, the
//! completions and every document the systemd unit names in place.

mod common;

use std::process::Command;

use common::*;

#[test]
fn a_background_pedserver_is_named_pedserver_in_the_process_list() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &[]);
    assert_eq!(comm(server.pid()), "pedserver");
    let found = Command::new("pgrep").args(["-x", "pedserver"]).output().unwrap();
    let pids = String::from_utf8_lossy(&found.stdout);
    assert!(pids.lines().any(|p| p == server.pid().to_string()), "pgrep -x pedserver: {pids:?}");
}

#[test]
fn the_seeds_name_pedserver_starts_shows_and_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let alias = dir.path().join("PedServer");
    std::os::unix::fs::symlink(binary("pedserver"), &alias).unwrap();
    let (port, admin) = (free_port().to_string(), free_port().to_string());
    let (config, log) = (dir.path().join("pedserver.toml"), dir.path().join("pedserver.log"));
    let (config, log) = (config.to_str().unwrap(), log.to_str().unwrap());
    let run = |mode: &str, extra: &[&str]| {
        let files = ["-configfile", config, "-logfilename", log, "-port", &port, "-admin", &admin, "-eserverport", "0"];
        Command::new(&alias).args(["-m", mode]).args(files).args(extra).output().unwrap()
    };

    let o = run("start", &["-device", &ped.spec()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).starts_with("Ped Server Version "), "{}", text(&o));
    // Stopped however the test ends.
    let _stop = StopOnDrop(&run);
    let shown = run("show", &["-json"]);
    let status: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let pid = status["pid"].as_u64().unwrap() as u32;
    assert_eq!(comm(pid), "PedServer");
    let o = run("stop", &[]);
    assert!(o.status.success() && text(&o).contains("Ped Server stopped."), "{}", text(&o));
}

/// The install script into a staging root: the binary runs as PedServer, the completions and
/// the man page answer to that name too, and every Documentation= of the unit is installed.
#[test]
fn the_install_script_installs_the_seeds_name_and_what_the_unit_documents() {
    check_staged_install(env!("CARGO_MANIFEST_DIR"), "pedserver", "PedServer");
}
