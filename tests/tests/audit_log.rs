//! pedclient as the HSM's audit-log daemon (issue 16 item 3), every component a process:
//! the ceremony's records and a login's reach pedclient's file; a command refused while
//! the login waits for its key holder at the Remote PED is in the file before the login
//! ends (the seed's known issue 4223-4227 does not arise); `hsm-emu audit verify` accepts
//! the file and names the record after an edited one. Only a logged-in Auditor sets the
//! log's rotation, and the rotated files verify together.

use std::process::Command;
use std::time::Instant;

use ped_testkit::KeyHolder;
use tests::rig::{HSM_SERIAL, Rig, Settings};
use tests::{binary, ceremony, output_text, wait_until};

fn verify(file: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(binary("hsm-emu")).args(["audit", "verify"]).arg(file).output().expect("hsm-emu runs");
    (out.status.code(), output_text(&out))
}

#[test]
fn a_login_is_logged_a_refusal_meanwhile_at_once_and_the_log_verifies() {
    let mut rig = Rig::start(&Settings::default());
    let c = ceremony::run(&mut rig);
    // pedclient's default: audit/ beside its log file.
    let log = rig.dir().join("pedclient/audit").join(format!("audit-{HSM_SERIAL}.log"));
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_until("the ceremony's records in pedclient's audit log", || read().contains("ped connect -ip"));

    let mut remote = rig.remote.holder();
    let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    remote.wait(ceremony::login_prompt("so"), 60);
    let asked = Instant::now();
    rig.hsm.cli(&["ped", "show"]).failed_with("CKR_OPERATION_ACTIVE");
    wait_until("the refused command's record", || read().contains("ped show: CKR_OPERATION_ACTIVE"));
    let logged_in = asked.elapsed();
    assert!(!read().contains("role login -name so: OK"), "the login still waits for its key holder");
    remote.login(ceremony::login_prompt("so"), &c.blue_quorum());
    login.join().unwrap().ok();
    wait_until("the login's record", || read().contains("role login -name so: OK"));
    eprintln!("a record made while the PED waited reached the file in {logged_in:?}");

    let text = read();
    let (code, out) = verify(&log);
    assert_eq!(code, Some(0), "{out}");
    let count = text.lines().count();
    assert!(out.starts_with(&format!("Audit log OK: {count} records of HSM {HSM_SERIAL}, seq 1 to {count}")), "{out}");
    for event in ["ped vector init: OK", "ped connect -ip 127.0.0.1", "hsm init -label"] {
        assert!(text.contains(event), "{event} logged:\n{text}");
    }

    let edited = rig.dir().join("edited.log");
    std::fs::write(&edited, text.replacen("ped vector init: OK", "ped vector init: CKR_PIN_INCORRECT", 1)).unwrap();
    let (code, out) = verify(&edited);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("Audit log BAD: ") && out.contains("does not chain to record"), "{out}");
}

#[test]
fn only_a_logged_in_auditor_sets_the_rotation_and_the_rotated_files_verify_together() {
    let mut rig = Rig::start(&Settings::default());
    let c = ceremony::run(&mut rig);
    let config = ["audit", "config", "-rotate-size", "400", "-rotate-count", "2"];
    rig.hsm.cli(&config).failed_with("CKR_USER_NOT_LOGGED_IN");
    ceremony::so_login(&mut rig, &c.blue_quorum()).ok();
    rig.hsm.cli(&config).failed_with("CKR_USER_NOT_LOGGED_IN");

    // The Auditor's white key, then its login.
    let white = rig.keys.blank(1).remove(0);
    let mut remote = rig.remote.holder();
    let init = rig.hsm.start_cli(&["role", "init", "-name", "au"]);
    remote.shape(1, 1);
    remote.write("(WHITE)", &[(&white, "")], &[]);
    init.join().unwrap().ok();
    remote.remove();
    let login = rig.hsm.start_cli(&["role", "login", "-name", "au"]);
    remote.login(ceremony::login_prompt("au"), &[(&white, "")]);
    login.join().unwrap().ok();
    rig.hsm.cli(&config).ok();
    for _ in 0..12 {
        rig.hsm.cli(&["ped", "show"]).ok();
    }

    let dir = rig.dir().join("pedclient/audit");
    let current = dir.join(format!("audit-{HSM_SERIAL}.log"));
    let older = dir.join(format!("audit-{HSM_SERIAL}.log.1"));
    let last = || std::fs::read_to_string(&current).unwrap_or_default().lines().last().map(str::to_owned);
    wait_until("the last ped show's record", || last().is_some_and(|l| l.ends_with("ped show: OK")));
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, [format!("audit-{HSM_SERIAL}.log"), format!("audit-{HSM_SERIAL}.log.1")], "two files kept");
    for file in [&current, &older] {
        assert!(std::fs::metadata(file).unwrap().len() <= 400, "{} within 400 bytes", file.display());
    }
    let out = Command::new(binary("hsm-emu")).args(["audit", "verify"]).arg(&older).arg(&current).output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.starts_with("Audit log OK: "), "{text}");
}
