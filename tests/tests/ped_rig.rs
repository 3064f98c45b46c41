//! The main job as a user runs it: the `ped-rig` binary as a process, its exit code and
//! the lines that show the ceremony happened.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

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

#[test]
fn ctrl_c_while_waiting_for_the_person_tears_the_rig_down_even_with_stderr_gone() {
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_ped-rig"))
            .args(["--no-build", "--interactive"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ped-rig runs"),
    );
    let child = &mut child.0;
    // As with `ped-rig | tee log` when the Ctrl-C also ends tee: nothing reads stderr.
    drop(child.stderr.take());
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut printed = String::new();
    let mut rig_dir = None;
    while !printed.contains("ped-rig: waiting up to") {
        let mut line = String::new();
        assert_ne!(out.read_line(&mut line).expect("stdout"), 0, "ped-rig ended early:\n{printed}");
        // The ped-sim command line for the person names the rig's directory.
        if let Some(usb) = line.split_whitespace().skip_while(|w| *w != "--usb").nth(1) {
            let sock = Path::new(usb.trim_start_matches("socket:"));
            rig_dir = sock.parent().map(Path::to_path_buf);
        }
        printed.push_str(&line);
    }
    let rig_dir = rig_dir.unwrap_or_else(|| panic!("no ped-sim command line in:\n{printed}"));
    assert!(rig_dir.join("pedclient").exists(), "{}", rig_dir.display());

    let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill runs");
    assert!(sent.success());
    let mut status = None;
    tests::wait_until("ped-rig to exit after Ctrl-C", || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    assert_eq!(status.and_then(|s| s.code()), Some(130));
    // Dropping the rig stopped pedclient and pedserver and removed the directory.
    assert!(!rig_dir.exists(), "{} is left behind", rig_dir.display());
}

/// ped-rig, killed when the test ends however it ends: a failed teardown must not keep
/// it waiting ten minutes for a person.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
