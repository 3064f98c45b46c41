//! The command line as a process: exit codes, usage, config -show/-set.

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
