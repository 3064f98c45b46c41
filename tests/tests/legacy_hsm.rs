//! An HSM on firmware 7.4.2 in the process rig (issue 16 item 1): `hsm-emu serve
//! --firmware 7.4.2` speaks only the legacy remote channel (docs/protocol.md §17); local
//! RPV initialisation, `ped connect`, a remote `hsm init` and an SO login go through the
//! real pedclient, pedserver and ped-sim, and the remote PED names the legacy channel on
//! its orange-key prompt.

use ped_testkit::ceremony;
use tests::rig::{Rig, Settings};
use tests::sim::shown;

#[test]
fn a_7_4_2_hsm_logs_in_over_the_remote_ped_on_the_legacy_channel() {
    let mut rig = Rig::start(&Settings { hsm: &["--firmware", "7.4.2"], ..Settings::default() });
    let c = ceremony::run(&mut rig);
    assert!(shown(&rig.remote.screens(), "Legacy HSM 7.4.2"), "the remote PED named the legacy channel");
    ceremony::so_login(&mut rig, &c.blue_quorum()).ok();
    assert_eq!(rig.hsm.state_json()["so_failures"], 0);
    // The legacy HSM has no one-time-password channel: the RPV is made at a local PED.
    rig.hsm.cli(&["ped", "disconnect"]).ok();
    let out = rig.hsm.cli(&["ped", "connect", "-password", "13572468"]);
    assert_eq!(out.code, Some(1), "{}", out.text);
}
