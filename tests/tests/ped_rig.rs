//! The main job as a user runs it: the `ped-rig` binary as a process, its exit code and
//! the lines that show the ceremony happened.

use std::process::Command;

#[test]
fn ped_rig_runs_the_ceremony_and_exits_zero() {
    // `--no-build`: this cargo invocation has built the binaries and may hold the build lock.
    let o = Command::new(env!("CARGO_BIN_EXE_ped-rig")).arg("--no-build").output().expect("ped-rig runs");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "ped-rig failed:\n{out}\n{}", String::from_utf8_lossy(&o.stderr));
    for line in [
        "lunacm:> ped vector init",
        "lunacm:> ped connect -ip 127.0.0.1 -port",
        "lunacm:> hsm init -label rig",
        "lunacm:> role login -name so",
        "lunacm:> ped disconnect",
        "┌─ local PED ─",
        "┌─ remote PED ─",
        "│ SETTING RPV...",
        "│ RPV LOGIN...",
        "│ SO LOGIN...",
        "=== Summary ===",
        "orange  RPV     1 of 1  PIN",
        "blue    HSM SO  2 of 3  PIN",
        "red     domain  2 of 3  PIN",
        "the rig is torn down.",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{out}");
    }
    // Each command's PED screens stand between its line and its result, however fast the
    // scripted key holders are.
    for (command, screen) in [("ped vector init", "│ SETTING RPV..."), ("role login -name so", "│ SO LOGIN...")] {
        let start = out.find(&format!("lunacm:> {command}\n")).expect("the command line");
        let done = out.find(&format!("lunacm:> {command}  [done]")).expect("its result");
        assert!(out[start..done].contains(screen), "{screen:?} not within {command:?}:\n{out}");
    }
    assert_eq!(out.matches("Command Result : No Error").count(), 5, "{out}");
    assert!(!out.contains("Command Result : 0x"), "{out}");
}
