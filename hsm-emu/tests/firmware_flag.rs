//! `hsm-emu serve --firmware`: a version neither channel's is refused at start with
//! exit 2 and the versions it takes; `serve --help` lists the flag.

use std::process::Command;

fn hsm_emu(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hsm-emu")).args(args).output().expect("hsm-emu runs")
}

#[test]
fn a_firmware_between_7_4_2_and_7_7_0_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("hsm");
    let control = format!("socket:{}", dir.path().join("hsm.sock").display());
    for (version, says) in [("7.5.0", "7.4.2 or older, or 7.7.0 or newer"), ("7.4", "not a firmware version")] {
        let o = hsm_emu(&["serve", "--state", state.to_str().unwrap(), "--control", &control, "--firmware", version]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{version}: {err}");
        assert!(err.contains(says), "{version}: {err}");
    }
    assert!(!state.exists(), "nothing was made");
    let help = hsm_emu(&["serve", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("--firmware"));
}
