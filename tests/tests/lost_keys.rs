//! "Consequences of Losing PED keys" for the Auditor (seed 5146), every component a
//! process: a lost white Auditor key replaced on two HSMs that verify each other's logs
//! by one new white key. Two HSMs, so processes; the partition roles' lost keys run on
//! the in-memory net (ped-testkit/tests/lost_keys.rs).

use ped_proto::pedkey::KeyColour;
use ped_testkit::{CliResult, KeyHolder, Which};
use tests::ceremony::{self, Plan, keyset_of};
use tests::hsm::HsmEmu;
use tests::rig::{Rig, Settings};
use tests::sim::{PedSim, SimHolder, shown};

/// `hsm init -label rig` at the local PED (blue and red 1 of 1, no PIN); the HSM SO
/// logged in.
fn local_hsm(rig: &mut Rig) -> SimHolder {
    let one = Plan { m: 1, n: 1, pins: &[""] };
    let (blue, _) = ceremony::hsm_init(rig, Which::Local, None, one, one);
    ceremony::role_login(rig, Which::Local, "so", &[(&blue[0], "")]).ok();
    rig.local.holder()
}

/// The screens `sim` drew from screen number `from` on.
fn since(sim: &PedSim, from: usize) -> Vec<Vec<String>> {
    sim.screens().split_off(from)
}

/// A second HSM in the rig's directory with its own local PED, for logs verified across
/// HSMs; the HSM SO logged in after `hsm init -label peer` (blue and red 1 of 1).
fn peer_hsm(rig: &mut Rig) -> (HsmEmu, PedSim, SimHolder) {
    let dir = rig.dir().join("peer");
    std::fs::create_dir(&dir).expect("the peer's directory");
    // No pedclient serves this HSM: only its local PED is used.
    let hsm = HsmEmu::start(&dir, &dir.join("PEER-usb.sock"), &dir.join("no-pedclient.sock"), 60);
    let sim = PedSim::start(&dir, "PEER", &hsm.root(), rig.keys.dir());
    assert_eq!(sim.usb, dir.join("PEER-usb.sock"), "the endpoint the HSM plugs into");
    let mut ped = sim.holder();
    let keys = rig.keys.blank(2);
    let init = hsm.start_cli(&["hsm", "init", "-label", "peer"]);
    ceremony::create_one(&mut ped, "(BLUE)", &keys[0], "");
    ceremony::create_one(&mut ped, "(RED)", &keys[1], "");
    init.join().expect("the CLI thread").ok();
    (hsm, sim, ped)
}

/// `role init -name au` on `hsm` (not the rig's: no Bench) at `ped`, reusing the
/// Auditor keyset of the white key `white`; the CLI's result.
fn auditor_reused(hsm: &HsmEmu, ped: &mut SimHolder, white: &str) -> CliResult {
    let init = hsm.start_cli(&["role", "init", "-name", "au"]);
    ceremony::reuse(ped, &[(white, "")]);
    init.join().expect("the CLI thread")
}

#[test]
fn a_lost_white_auditor_key_one_new_white_key_reused_on_the_hsm_that_verifies_its_logs() {
    let mut rig = Rig::start(&Settings::default());
    let mut ped = local_hsm(&mut rig);
    let (peer, peer_sim, mut peer_ped) = peer_hsm(&mut rig);
    // The Auditor of both HSMs holds one white key, so each can verify the other's logs.
    let white = rig.keys.blank(2);
    ceremony::role_init(&mut rig, Which::Local, "au", &white[0], "").ok();
    // A key is in one PED at a time: it is taken out before it goes to the other.
    ped.remove();
    auditor_reused(&peer, &mut peer_ped, &white[0]).ok();
    let lost = rig.hsm.state_json()["auditor"].clone();
    assert_eq!(peer.state_json()["auditor"], lost, "one Auditor keyset on both");

    // The white key is lost (seed 5146): the Auditor is re-initialised on this HSM with
    // a new white key, then on the peer with that same white key reused.
    let from = rig.local.screens().len();
    ceremony::role_init(&mut rig, Which::Local, "au", &white[1], "").ok();
    assert!(shown(&since(&rig.local, from), "SETTING AU PIN..."));
    assert_eq!(rig.keys.content(&white[1]).expect("written").colour, KeyColour::White);
    let auditor = rig.hsm.state_json()["auditor"].clone();
    assert_eq!(auditor["keyset_id"], keyset_of(&rig, &white[1]).as_str());
    assert_ne!(auditor["keyset_id"], lost["keyset_id"]);
    let from = peer_sim.screens().len();
    ped.remove();
    auditor_reused(&peer, &mut peer_ped, &white[1]).ok();
    assert!(shown(&since(&peer_sim, from), "SETTING AU PIN..."));
    assert_eq!(peer.state_json()["auditor"], auditor, "the same keyset identity and verifier on the peer");

    // The new white key logs in on both; the old one on neither.
    peer_ped.remove();
    for (hsm, holder) in [(&rig.hsm, &mut ped), (&peer, &mut peer_ped)] {
        let login = hsm.start_cli(&["role", "login", "-name", "au"]);
        holder.login("AU LOGIN...", &[(&white[0], "")]);
        login.join().expect("the CLI thread").failed_with("CKR_PIN_INCORRECT");
        let login = hsm.start_cli(&["role", "login", "-name", "au"]);
        holder.login("AU LOGIN...", &[(&white[1], "")]);
        login.join().expect("the CLI thread").ok();
        holder.remove();
    }
}
