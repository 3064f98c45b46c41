//! What a newcomer meets before the ceremony: `ped-rig --help`, a mistake on its command
//! line, and the build it runs first (minutes on a fresh checkout), which shows cargo's
//! own progress rather than nothing.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn ped_rig() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ped-rig"))
}

#[test]
fn help_prints_the_usage_and_exits_zero() {
    for flag in ["--help", "-h"] {
        let o = ped_rig().arg(flag).output().expect("ped-rig runs");
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{flag}: {}", tests::output_text(&o));
        assert!(out.contains("Usage: ped-rig [--no-build] [--interactive] [--ped sim|mcu]"), "{out}");
        assert!(out.contains("--interactive   you are the remote PED's key holder"), "{out}");
        assert!(o.stderr.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

#[test]
fn a_mistake_prints_the_usage_and_exits_two() {
    let o = ped_rig().arg("--bogus").output().expect("ped-rig runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("ped-rig: unknown argument \"--bogus\"") && err.contains("Usage: ped-rig"), "{err}");
}

/// A stand-in for cargo that says what cargo says while it compiles, then fails: its
/// lines reach ped-rig's stderr as they are written, before ped-rig's own verdict.
#[test]
fn the_build_shows_cargos_progress_as_it_goes() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let cargo = dir.path().join("cargo");
    std::fs::write(&cargo, "#!/bin/sh\necho \"   Compiling pedserver v0.1.0 (cargo $*)\" >&2\nexit 101\n")
        .expect("write");
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let o = ped_rig().env("CARGO", &cargo).output().expect("ped-rig runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{}", tests::output_text(&o));
    let lines: Vec<&str> = err.lines().collect();
    let compiling = lines.iter().position(|l| l.starts_with("   Compiling pedserver")).expect("cargo's line");
    let failed = lines.iter().position(|l| l.starts_with("ped-rig: FAILED to build")).expect("the verdict");
    assert!(compiling < failed, "{err}");
    assert!(lines[compiling].contains("build -p pedserver") && !lines[compiling].contains("--quiet"), "{err}");
    assert!(lines[failed].contains("its messages are above"), "{err}");
}
