//! Faults on the pedclient ↔ pedserver link during `role login -name so` over the
//! Remote PED: each ends the login with the code docs/pedclient.md and docs/protocol.md
//! document, leaves hsm.json byte for byte as it was, and a new `ped connect` and login
//! work once the fault is cleared.

use std::time::Duration;

use tests::ceremony::{self, Plan};
use tests::chaos::Fault;
use tests::hsm::CliResult;
use tests::rig::{Rig, Settings};
use tests::sim::KeyHolder;

/// A rig with an RPV, a remote link and 1-of-1 blue and red keys (the cheapest `hsm
/// init`); returns the blue key and the remote key holder.
fn initialised(rig: &mut Rig) -> (String, KeyHolder) {
    let orange = ceremony::local_rpv(rig);
    rig.connect(&[]).ok();
    let mut remote = rig.remote.holder();
    let one = Plan { m: 1, n: 1, pins: &[""] };
    let (mut blue, _) = ceremony::hsm_init(rig, &mut remote, Some(&orange), one, one);
    (blue.remove(0), remote)
}

/// Starts an SO login, switches `fault` on once the PED asks for the blue key, presents
/// the key, and returns the login's result after checking that hsm.json did not change;
/// then clears the fault and shows that a new connection and login work.
fn login_under(fault: Fault) -> CliResult {
    // A started frame must complete within a second, so the delay test stays short.
    let mut rig =
        Rig::start(&Settings { pedclient: &["-socketreadtimeout", "1"], key_timeout: 5, ..Settings::default() });
    let (blue, mut remote) = initialised(&mut rig);
    let before = rig.hsm.state_text();
    let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    remote.wait("SO LOGIN...", 10);
    rig.tcp.set(fault);
    remote.insert(&blue);
    remote.press("enter");
    let out = login.join().expect("the CLI thread");
    rig.tcp.set(Fault::Pass);
    assert_eq!(rig.hsm.state_text(), before, "nothing of the login is kept:\n{}", out.text);

    // The PED may still show the failure; the key comes out and the link is made anew.
    remote.try_run("remove");
    let _ = rig.hsm.cli(&["ped", "disconnect"]);
    rig.connect(&[]).ok();
    let again = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    remote.login("SO LOGIN...", &[(&blue, "")]);
    again.join().expect("the CLI thread").ok();
    out
}

#[test]
fn a_dropped_link_is_a_ped_unplugged() {
    login_under(Fault::Drop).failed_with("0x8000002e (CKR_PED_UNPLUGGED)");
}

#[test]
fn a_frame_stalled_past_the_read_timeout_is_a_timeout() {
    login_under(Fault::Delay(Duration::from_secs(2))).failed_with("RC_OPERATION_TIMED_OUT");
}

#[test]
fn a_truncated_frame_is_a_ped_unplugged() {
    login_under(Fault::Truncate).failed_with("0x8000002e (CKR_PED_UNPLUGGED)");
}

#[test]
fn a_corrupted_record_fails_its_integrity_check() {
    login_under(Fault::Corrupt).failed_with("PED_ERROR_INTEGRITY");
}

#[test]
fn a_half_closed_link_is_a_ped_unplugged() {
    login_under(Fault::HalfClose).failed_with("0x8000002e (CKR_PED_UNPLUGGED)");
}

#[test]
fn a_replayed_record_fails_its_integrity_check() {
    // The connection's first Record from the PED came before the login (`hsm init` at the
    // latest); replayed ahead of the login's next Record, it is authentic but out of sequence.
    login_under(Fault::Replay).failed_with("0xc0000905 (PED_ERROR_INTEGRITY)");
}
