//! The command line as a process: exit codes, usage, config -show/-set.

mod common;

use std::process::{Command, Output};

fn pedserver(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pedserver")).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn unknown_options_and_bad_values_exit_non_zero_with_usage() {
    for args in [&["-mode", "start", "-bogus", "1"][..], &["-mode", "start", "-eadmin", "7"], &[]] {
        let o = pedserver(args);
        assert!(!o.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("Usage:"), "{args:?}");
    }
    let help = pedserver(&["--help"]);
    assert!(help.status.success());
    assert!(stdout(&help).contains("--pedwritelay"));
}

#[test]
fn config_set_then_show_in_the_seeds_forms() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ps.toml");
    let file = file.to_str().unwrap();
    let o = pedserver(&["-mode", "config", "-set", "-pedwritelay", "50", "-idletimeout", "90", "-configfile", file]);
    assert!(o.status.success(), "{}", stdout(&o));
    let o = pedserver(&["mode", "config", "-set", "LogFileName", "/tmp/x.log", "-configfile", file]);
    assert!(o.status.success(), "{}", stdout(&o));
    let o = pedserver(&["-m", "config", "-show", "-configfile", file]);
    let text = stdout(&o);
    assert!(o.status.success());
    for line in ["ped-write-delay = 50", "idle-timeout = 90", "log-file = \"/tmp/x.log\"", "Config command passed."] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    let o = pedserver(&["--mode", "config", "--show", "--json", "--configfile", file]);
    let json_start = stdout(&o).find('{').unwrap();
    let json_end = stdout(&o).rfind('}').unwrap();
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)[json_start..=json_end]).unwrap();
    assert_eq!(v["ped-write-delay"], 50);
    assert_eq!(v["server-port"], 1503);
}

#[test]
fn timeouts_take_fractions_and_the_file_is_range_checked_as_the_options_are() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ps.toml");
    let path = file.to_str().unwrap();
    let o = pedserver(&[
        "-mode",
        "config",
        "-set",
        "-idletimeout",
        "0.5",
        "-socketreadtimeout",
        "0.2",
        "-configfile",
        path,
    ]);
    assert!(o.status.success(), "{}", stdout(&o));
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("idle-timeout = 0.5\n") && written.contains("socket-read-timeout = 0.2\n"), "{written}");
    assert!(written.contains("socket-write-timeout = 10\n"), "whole seconds stay integers: {written}");

    let o = pedserver(&["-mode", "config", "-set", "-idletimeout", "0", "-configfile", path]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("more than 0"), "{}", String::from_utf8_lossy(&o.stderr));

    for (key, named) in [("idle-timeout = 0\n", "more than 0"), ("ped-write-delay = 10001\n", "ped-write-delay")] {
        std::fs::write(&file, key).unwrap();
        let o = pedserver(&["-mode", "config", "-show", "-configfile", path]);
        assert_eq!(o.status.code(), Some(1), "{key}");
        assert!(stdout(&o).contains(named) && stdout(&o).contains("ps.toml"), "{key}: {}", stdout(&o));
    }
}

#[test]
fn a_reader_that_went_away_ends_the_command_quietly() {
    // `pedserver -mode config -show | head -0`: the pipe's read end is closed before the
    // first line is written.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ps.toml");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = Command::new(env!("CARGO_BIN_EXE_pedserver"))
        .args(["-mode", "config", "-show", "-configfile", file.to_str().unwrap()])
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(o.status.code(), Some(ped_daemon::broken_pipe::STATUS));
}

#[test]
fn show_json_says_running_either_way_and_carries_the_current_connection() {
    let dir = tempfile::tempdir().unwrap();
    let ped = common::FakePed::new(dir.path());
    let server = common::PedServer::start(&ped.spec(), &[]);
    let _client = server.connect();
    server.wait_for("the client", |v| !v["client"].is_null());
    let v = server.show();
    assert_eq!(v["running"], true);
    for key in ["current_connection_secs", "current_connection_idle_secs", "current_connection_total_idle_secs"] {
        assert!(v[key].is_u64(), "{key} missing from {v}");
    }
    let text = stdout(&server.run("show", &[]));
    assert!(text.contains("Current Connection Time:") && text.contains("Show command passed."), "{text}");
    drop(server);

    let (file, admin) = (dir.path().join("none.toml"), common::free_port().to_string());
    let nobody = pedserver(&["-mode", "show", "-json", "-admin", &admin, "-configfile", file.to_str().unwrap()]);
    assert_eq!(nobody.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&nobody.stdout).unwrap();
    assert_eq!(v, serde_json::json!({"running": false}));
}
