//! The names an administrator looks pedclient up by: the running daemon is `pedclient` in
//! the process list (`pgrep -x pedclient`, `ps`, `top`), not `exe`, after a background
//! start; the seed's Linux name `PedClient` (a symlink the install script makes) runs it, and
//! names its process so; the install script puts both names, the man page, the
//! completions and every document the systemd unit names in place.

mod common;

use std::process::Command;

use common::*;

/// The kernel's name of a process, which `pgrep`, `ps -o comm` and `top` show.
fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap().trim_end().to_owned()
}

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
    let _stop = Stop(&run);
    let shown = run("show", &["-json"]);
    let status: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let pid = status["daemon"]["pid"].as_u64().unwrap() as u32;
    assert_eq!(comm(pid), "PedClient");
    let o = run("stop", &[]);
    assert!(o.status.success() && text(&o).contains("Ped Client stopped."), "{}", text(&o));
}

/// Runs `-mode stop` when dropped.
struct Stop<'a, F: Fn(&str, &[&str]) -> std::process::Output>(&'a F);

impl<F: Fn(&str, &[&str]) -> std::process::Output> Drop for Stop<'_, F> {
    fn drop(&mut self) {
        let _ = (self.0)("stop", &[]);
    }
}

/// The install script into a staging root: the binary runs as PedClient, the completions and
/// the man page answer to that name too, and every Documentation= of the unit is installed.
#[test]
fn the_install_script_installs_the_seeds_name_and_what_the_unit_documents() {
    let root = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/install.sh");
    let o = Command::new(script).arg(binary("pedclient")).env("DESTDIR", root.path()).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let usr = root.path().join("usr");
    assert_eq!(std::fs::read_link(usr.join("bin/PedClient")).unwrap(), std::path::Path::new("pedclient"));
    let o = Command::new(usr.join("bin/PedClient")).arg("--version").output().unwrap();
    assert!(o.status.success() && text(&o).starts_with("pedclient "), "{}", text(&o));
    for completion in
        ["bash-completion/completions/PedClient", "fish/vendor_completions.d/PedClient.fish", "man/man1/PedClient.1"]
    {
        assert!(usr.join("share").join(completion).exists(), "{completion}");
    }

    let unit = std::fs::read_to_string(root.path().join("etc/systemd/system/pedclient.service")).unwrap();
    let documentation = unit.lines().find_map(|l| l.strip_prefix("Documentation=")).expect("Documentation=");
    let urls: Vec<&str> = documentation.split_whitespace().collect();
    assert!(urls.contains(&"man:pedclient(1)") && urls.iter().any(|u| u.starts_with("file:")), "{urls:?}");
    for url in urls {
        let path = match (url.strip_prefix("man:"), url.strip_prefix("file:/")) {
            (Some(page), _) => format!("usr/share/man/man1/{}.1", page.trim_end_matches("(1)")),
            (_, Some(path)) => path.to_owned(),
            _ => panic!("{url}: neither man: nor file:"),
        };
        assert!(root.path().join(&path).is_file(), "{url}: {path} is not installed");
    }
}
