//! The names an administrator looks pedclient up by: the running daemon is `pedclient` in
//! the process list (`pgrep -x pedclient`, `ps`, `top`), not `exe`, after a background
//! start; the seed's Linux name `PedClient` (a symlink the install script makes) runs it, and
//! names its process so; the install script puts both names, the man page, the
//! completions and every document the systemd unit names in place.

mod common;

use std::process::Command;

use common::*;

#[test]
fn a_background_pedclient_is_named_pedclient_in_the_process_list() {
    let client = PedClient::new().start(&[]);
    let pid = client.show()["daemon"]["pid"].as_u64().unwrap() as u32;
    assert_eq!(comm(pid), "pedclient");
    let found = Command::new("pgrep").args(["-x", "pedclient"]).output().unwrap();
    let pids = String::from_utf8_lossy(&found.stdout);
    assert!(pids.lines().any(|p| p == pid.to_string()), "pgrep -x pedclient: {pids:?}");
}

#[test]
fn the_seeds_name_pedclient_starts_shows_and_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let alias = dir.path().join("PedClient");
    std::os::unix::fs::symlink(binary("pedclient"), &alias).unwrap();
    let admin = free_port().to_string();
    let [config, log, link] =
        ["pedclient.toml", "pedclient.log", "hsm.sock"].map(|f| dir.path().join(f).to_str().unwrap().to_owned());
    let run = |mode: &str, extra: &[&str]| {
        let files = ["-configfile", &config, "-logfilename", &log, "-hsmlink", &link, "-admin", &admin];
        Command::new(&alias).args(["-m", mode]).args(files).args(extra).output().unwrap()
    };

    let o = run("start", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).starts_with("Ped Client Version "), "{}", text(&o));
    // Stopped however the test ends.
    let _stop = StopOnDrop(&run);
    let shown = run("show", &["-json"]);
    let status: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let pid = status["daemon"]["pid"].as_u64().unwrap() as u32;
    assert_eq!(comm(pid), "PedClient");
    let o = run("stop", &[]);
    assert!(o.status.success() && text(&o).contains("Ped Client stopped."), "{}", text(&o));
}

/// The install script into a staging root: the binary runs as PedClient, the completions and
/// the man page answer to that name too, and every Documentation= of the unit is installed.
#[test]
fn the_install_script_installs_the_seeds_name_and_what_the_unit_documents() {
    check_staged_install(env!("CARGO_MANIFEST_DIR"), "pedclient", "PedClient");
}
