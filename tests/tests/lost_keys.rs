//! "Consequences of Losing PED keys" for the partition roles and the Auditor (seed
//! 5100-5150), every component a process, at the local PED with 1-of-1 keysets: a lost
//! black CO key reset by the Partition SO once HSM policy 15 is on, a lost gray CU key
//! reset by the CO, a lost red partition domain replaced by a new partition whose CO
//! keeps the original black key, and a lost white Auditor key replaced on two HSMs that
//! verify each other's logs by one new white key.

use ped_proto::pedkey::KeyColour;
use serde_json::Value;
use tests::ceremony::{self, CO_PIN, PO_PIN, Plan, keyset_of, partition};
use tests::hsm::HsmEmu;
use tests::rig::{Rig, Settings};
use tests::sim::{KeyHolder, PedSim, shown};

/// `hsm init -label rig` at the local PED (blue and red 1 of 1, no PIN); the HSM SO
/// logged in.
fn local_hsm(rig: &mut Rig) -> KeyHolder {
    let mut ped = rig.local.holder();
    let one = Plan { m: 1, n: 1, pins: &[""] };
    let (blue, _) = ceremony::hsm_init(rig, &mut ped, None, one, one);
    ceremony::so_login(rig, &mut ped, &[(&blue[0], "")]).ok();
    ped
}

/// The screens `sim` drew from screen number `from` on.
fn since(sim: &PedSim, from: usize) -> Vec<Vec<String>> {
    sim.screens().split_off(from)
}

#[test]
fn a_lost_black_co_key_is_reset_by_the_partition_so_only_with_hsm_policy_15_on() {
    let mut rig = Rig::start(&Settings::default());
    let mut ped = local_hsm(&mut rig);
    partition(&mut rig, &mut ped, "part1");
    assert_eq!(rig.hsm.state_json()["so_reset_partition_pin"], false, "policy 15 is 0 by default");

    // The CO's black key is lost. Policy 15 at 0 (seed 5123: "the CO is locked out"):
    // the Partition SO, logged in, is refused before the PED asks for anything.
    let (before, from) = (rig.hsm.state_text(), rig.local.screens().len());
    let out = rig.hsm.cli(&["role", "resetpw", "-name", "co"]);
    out.failed_with("0x00000054 (CKR_FUNCTION_NOT_SUPPORTED)");
    assert!(
        out.text.contains(
            "HSM policy 15 (Enable SO reset of partition PIN) is 0: the Partition SO cannot reset the \
             Crypto Officer's credential."
        ),
        "{}",
        out.text
    );
    assert_eq!(rig.hsm.state_text(), before, "nothing changed");
    assert!(!shown(&since(&rig.local, from), "SETTING CO PIN..."), "the PED was not asked");

    // The HSM SO turns policy 15 on. Only policy 15 is known; turning it on destroys the
    // partition (seed 6821), so lunacm's question is answered with -force, and without
    // it nothing changes.
    let out = rig.hsm.cli(&["hsm", "changepolicy", "-policy", "7", "-value", "1"]);
    out.failed_with("0x00000007 (CKR_ARGUMENTS_BAD)");
    assert!(out.text.contains("HSM policy 7 is not modelled"), "{}", out.text);
    let out = rig.hsm.cli(&["hsm", "changepolicy", "-policy", "15", "-value", "1"]);
    out.failed_with("CKR_ARGUMENTS_BAD");
    assert!(out.text.contains("turning HSM policy 15 on destroys the partition and its contents"), "{}", out.text);
    assert_eq!(rig.hsm.state_text(), before, "nothing changed");
    let out = rig.hsm.cli(&["hsm", "changepolicy", "-policy", "15", "-value", "1", "-force"]);
    out.ok();
    assert!(out.text.contains("HSM policy 15 (Enable SO reset of partition PIN) is 1."), "{}", out.text);
    assert!(out.text.contains("The partition and its contents were erased"), "{}", out.text);
    let state = rig.hsm.state_json();
    assert_eq!((state["so_reset_partition_pin"].clone(), state["partition"].clone()), (true.into(), Value::Null));

    // The seed has the policy on before the partition is made (6819): a new partition,
    // whose CO then loses the black key. The Partition SO resets it: the PED writes a
    // new black key and reads none.
    let p = partition(&mut rig, &mut ped, "part2");
    let old = rig.hsm.state_json()["partition"].clone();
    let new = rig.keys.blank(1).remove(0);
    let from = rig.local.screens().len();
    ceremony::reset_pw(&rig, &mut ped, "co", &new, "8642").ok();
    let screens = since(&rig.local, from);
    assert!(shown(&screens, "SETTING CO PIN..."), "{screens:?}");
    assert!(!shown(&screens, "READING CO PIN...") && !shown(&screens, "CO LOGIN..."), "the lost key is not asked");
    assert_eq!(rig.keys.content(&new).expect("written").colour, KeyColour::Black);
    assert_eq!(keyset_of(&rig, &p.co), old["co"]["keyset_id"].as_str().expect("hex"), "the lost key is not written");
    let part = rig.hsm.state_json()["partition"].clone();
    assert_eq!(part["co"]["keyset_id"], keyset_of(&rig, &new).as_str());
    assert_ne!(part["co"]["keyset_id"], old["co"]["keyset_id"]);
    for field in ["so", "domain", "cu", "label"] {
        assert_eq!(part[field], old[field], "{field}");
    }

    // The new black key logs in as CO; the old one does not (and is counted).
    ceremony::role_login(&rig, &mut ped, "co", &[(&p.co, CO_PIN)]).failed_with("0x000000a0 (CKR_PIN_INCORRECT)");
    assert_eq!(rig.hsm.state_json()["partition"]["user_failures"], 1);
    ceremony::role_login(&rig, &mut ped, "co", &[(&new, "8642")]).ok();
    assert_eq!(rig.hsm.state_json()["partition"]["user_failures"], 0);
}

#[test]
fn a_lost_gray_cu_key_is_reset_by_the_co() {
    let mut rig = Rig::start(&Settings::default());
    let mut ped = local_hsm(&mut rig);
    let p = partition(&mut rig, &mut ped, "part1");
    let old = rig.hsm.state_json();

    // The CO (logged in) resets the CU whatever policy 15 says (seed 6815), here 0.
    let new = rig.keys.blank(1).remove(0);
    let from = rig.local.screens().len();
    ceremony::reset_pw(&rig, &mut ped, "cu", &new, "").ok();
    let screens = since(&rig.local, from);
    assert!(shown(&screens, "SETTING CU PIN...") && !shown(&screens, "READING CU PIN..."), "{screens:?}");
    // The PED sees CU keys as black (seed 4740-4750); the gray is a sticker.
    assert_eq!(rig.keys.content(&new).expect("written").colour, KeyColour::Black);
    let state = rig.hsm.state_json();
    assert_eq!(state["so_reset_partition_pin"], false);
    let part = &state["partition"];
    assert_eq!(part["cu"]["keyset_id"], keyset_of(&rig, &new).as_str());
    assert_ne!(part["cu"]["keyset_id"], old["partition"]["cu"]["keyset_id"]);
    for field in ["so", "domain", "co"] {
        assert_eq!(part[field], old["partition"][field], "{field}");
    }

    ceremony::role_login(&rig, &mut ped, "cu", &[(&p.cu, "")]).failed_with("CKR_PIN_INCORRECT");
    ceremony::role_login(&rig, &mut ped, "cu", &[(&new, "")]).ok();
    // The Partition SO does not reset the CU: that is the CO's.
    let out = rig.hsm.cli(&["role", "resetpw", "-name", "po"]);
    out.failed_with("CKR_ARGUMENTS_BAD");
    assert!(out.text.contains("role resetpw takes co (by the Partition SO) or cu (by the Crypto Officer)"));
}

#[test]
fn a_lost_red_partition_domain_a_new_partition_with_a_new_domain_and_the_original_co_key() {
    let mut rig = Rig::start(&Settings::default());
    let mut ped = local_hsm(&mut rig);
    let p = partition(&mut rig, &mut ped, "part1");
    let old = rig.hsm.state_json()["partition"].clone();

    // Step 1 (seed 5103): the HSM SO makes a new partition. This HSM holds one partition,
    // so the original goes first (step 6 deletes it once nothing uses it).
    rig.hsm.cli(&["partition", "delete", "-force"]).ok();
    rig.hsm.cli(&["partition", "create"]).ok();

    // Step 2: initialised with a new cloning domain; the Partition SO keeps its blue key.
    let red = rig.keys.blank(1).remove(0);
    let init = rig.hsm.start_cli(&["partition", "init", "-label", "part2"]);
    ceremony::reuse(&mut ped, &[(&p.po, PO_PIN)]);
    ceremony::create_one(&mut ped, "(RED)", &red, "");
    init.join().expect("the CLI thread").ok();
    let part = rig.hsm.state_json()["partition"].clone();
    assert_eq!(part["domain"]["keyset_id"], keyset_of(&rig, &red).as_str());
    assert_ne!(part["domain"]["keyset_id"], old["domain"]["keyset_id"], "a new cloning domain");
    assert_eq!(part["so"], old["so"], "the same Partition SO keyset");
    assert_eq!(rig.keys.content(&red).expect("written").colour, KeyColour::Red);

    // Step 3: the CO initialised with the original black key, reused at stage 1.
    ceremony::role_login(&rig, &mut ped, "po", &[(&p.po, PO_PIN)]).ok();
    ceremony::role_init_reused(&rig.hsm, &mut ped, "co", &[(&p.co, CO_PIN)]).ok();
    let part = rig.hsm.state_json()["partition"].clone();
    assert_eq!(part["co"], old["co"], "the CO's original keyset: identity and verifier");
    assert_eq!(part["co"]["keyset_id"], keyset_of(&rig, &p.co).as_str());
    assert_eq!((part["label"].as_str(), part["cu"].clone()), (Some("part2"), Value::Null));
    ceremony::role_login(&rig, &mut ped, "co", &[(&p.co, CO_PIN)]).ok();
    assert_eq!(keyset_of(&rig, &p.domain), old["domain"]["keyset_id"].as_str().expect("hex"), "not written");
}

/// A second HSM in the rig's directory with its own local PED, for logs verified across
/// HSMs; the HSM SO logged in after `hsm init -label peer` (blue and red 1 of 1).
fn peer_hsm(rig: &mut Rig) -> (HsmEmu, PedSim, KeyHolder) {
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

#[test]
fn a_lost_white_auditor_key_one_new_white_key_reused_on_the_hsm_that_verifies_its_logs() {
    let mut rig = Rig::start(&Settings::default());
    let mut ped = local_hsm(&mut rig);
    let (peer, peer_sim, mut peer_ped) = peer_hsm(&mut rig);
    // The Auditor of both HSMs holds one white key, so each can verify the other's logs.
    let white = rig.keys.blank(2);
    ceremony::role_init(&rig, &mut ped, "au", &white[0], "").ok();
    // A key is in one PED at a time: it is taken out before it goes to the other.
    ped.remove();
    ceremony::role_init_reused(&peer, &mut peer_ped, "au", &[(&white[0], "")]).ok();
    let lost = rig.hsm.state_json()["auditor"].clone();
    assert_eq!(peer.state_json()["auditor"], lost, "one Auditor keyset on both");

    // The white key is lost (seed 5146): the Auditor is re-initialised on this HSM with
    // a new white key, then on the peer with that same white key reused.
    let from = rig.local.screens().len();
    ceremony::role_init(&rig, &mut ped, "au", &white[1], "").ok();
    assert!(shown(&since(&rig.local, from), "SETTING AU PIN..."));
    assert_eq!(rig.keys.content(&white[1]).expect("written").colour, KeyColour::White);
    let auditor = rig.hsm.state_json()["auditor"].clone();
    assert_eq!(auditor["keyset_id"], keyset_of(&rig, &white[1]).as_str());
    assert_ne!(auditor["keyset_id"], lost["keyset_id"]);
    let from = peer_sim.screens().len();
    ped.remove();
    ceremony::role_init_reused(&peer, &mut peer_ped, "au", &[(&white[1], "")]).ok();
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
