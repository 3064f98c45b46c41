//! `hsm-emu --help`, the first thing a newcomer types: the usage on stdout and exit 0; a
//! mistake gets the same usage on stderr and exit 2.

use std::process::Command;

fn hsm_emu(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hsm-emu")).args(args).output().expect("hsm-emu runs")
}

#[test]
fn help_prints_the_usage_and_exits_zero() {
    for flag in ["--help", "-h", "help"] {
        let o = hsm_emu(&[flag]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{flag}: {out}{}", String::from_utf8_lossy(&o.stderr));
        assert!(out.starts_with("usage: hsm-emu serve --state DIR --control socket:PATH"), "{out}");
        assert!(out.contains("hsm-emu --control socket:PATH <command>"), "{out}");
    }
    let o = hsm_emu(&["serve", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("--key-timeout"));
}

#[test]
fn a_mistake_prints_the_usage_and_exits_two() {
    for args in [&[][..], &["bogus"]] {
        let o = hsm_emu(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(o.stdout.is_empty());
        assert!(String::from_utf8_lossy(&o.stderr).starts_with("usage: hsm-emu serve"), "{args:?}");
    }
}
