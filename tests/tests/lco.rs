//! The Limited Crypto Officer in the process rig (issue 16 item 2): every component a
//! process, at the Remote PED. The CO makes the LCO on a gray key the PED sees as black,
//! the LCO logs in, a wrong PIN is counted, the CO's reset lets its new key in, and the
//! partition's re-initialisation erases it (seed 6109). The rules in full run on the
//! in-memory net (ped-testkit/tests/lco.rs).

use ped_testkit::ceremony::{self, Bench};
use ped_testkit::{CliResult, KeyHolder, Which};
use tests::rig::{Rig, Settings};

/// `role login -name lco` answered with `key` and `pin` at the Remote PED.
fn lco_login(rig: &mut Rig, key: &str, pin: &str) -> CliResult {
    rig.start(&["role", "login", "-name", "lco"]);
    rig.holder(Which::Remote).login("LCO LOGIN...", &[(key, pin)]);
    rig.finish()
}

#[test]
fn the_co_makes_the_lco_which_logs_in_and_a_partition_reinit_erases_it() {
    let mut rig = Rig::start(&Settings::default());
    let c = ceremony::run(&mut rig);
    ceremony::so_login(&mut rig, &c.blue_quorum()).ok();
    let p = ceremony::partition(&mut rig, Which::Remote, "part1");
    let keys = rig.blank(2);

    ceremony::role_init(&mut rig, Which::Remote, "lco", &keys[0], "5791").ok();
    assert!(rig.hsm.state_json()["partition"]["lco"].is_object(), "{}", rig.hsm.state_text());
    lco_login(&mut rig, &keys[0], "5791").ok();
    lco_login(&mut rig, &keys[0], "1111").failed_with("CKR_PIN_INCORRECT");
    assert_eq!(rig.hsm.state_json()["partition"]["lco_failures"], 1);

    // The CO resets it onto a new key; the old one no longer logs in.
    ceremony::role_login(&mut rig, Which::Remote, "co", &[(&p.co, ceremony::CO_PIN)]).ok();
    ceremony::reset_pw(&mut rig, Which::Remote, "lco", &keys[1], "").ok();
    lco_login(&mut rig, &keys[1], "").ok();
    lco_login(&mut rig, &keys[0], "5791").failed_with("CKR_PIN_INCORRECT");

    // The partition re-initialised by the HSM SO (its original keys reused) has no LCO.
    ceremony::so_login(&mut rig, &c.blue_quorum()).ok();
    rig.start(&["partition", "init", "-label", "part1"]);
    let mut ped = rig.holder(Which::Remote);
    ceremony::reuse(&mut ped, &[(&p.po, ceremony::PO_PIN)]);
    ceremony::reuse(&mut ped, &[(&p.domain, "")]);
    drop(ped);
    rig.finish().ok();
    assert!(rig.hsm.state_json()["partition"]["lco"].is_null(), "{}", rig.hsm.state_text());
    rig.hsm.cli(&["role", "login", "-name", "lco"]).failed_with("CKR_USER_PIN_NOT_INITIALIZED");
}
