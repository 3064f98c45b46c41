//! "Consequences of Losing PED keys" for the partition roles and the Auditor (seed
//! 5100-5150) on the in-memory net, at the local PED with 1-of-1 keysets: a lost black
//! CO key reset by the Partition SO once HSM policy 15 is on, a lost gray CU key reset by
//! the CO, a lost red partition domain replaced by a new partition whose CO keeps the
//! original black key. (A lost white Auditor key on two HSMs is a process test: the net
//! has one HSM.)

use ped_proto::pedkey::KeyColour;
use ped_testkit::ceremony::{self, CO_PIN, PO_PIN, Plan, keyset_of, partition};
use ped_testkit::{Net, Which};
use serde_json::Value;

/// `hsm init -label rig` at the local PED (blue and red 1 of 1, no PIN); the HSM SO
/// logged in.
fn local_hsm(net: &mut Net) {
    let one = Plan { m: 1, n: 1, pins: &[""] };
    let (blue, _) = ceremony::hsm_init(net, Which::Local, None, one, one);
    ceremony::role_login(net, Which::Local, "so", &[(&blue[0], "")]).ok();
}

/// The screens PED `which` drew from screen number `from` on.
fn since(net: &Net, which: Which, from: usize) -> Vec<Vec<String>> {
    net.screens(which).split_off(from)
}

/// Whether any of `screens` has a line containing `text`.
fn shown(screens: &[Vec<String>], text: &str) -> bool {
    screens.iter().any(|s| s.iter().any(|l| l.contains(text)))
}

#[test]
fn a_lost_black_co_key_is_reset_by_the_partition_so_only_with_hsm_policy_15_on() {
    let mut net = Net::default();
    local_hsm(&mut net);
    partition(&mut net, Which::Local, "part1");
    assert_eq!(net.state_json()["so_reset_partition_pin"], false, "policy 15 is 0 by default");

    // The CO's black key is lost. Policy 15 at 0 (seed 5123: "the CO is locked out"):
    // the Partition SO, logged in, is refused before the PED asks for anything.
    let (before, from) = (net.state_text(), net.screens(Which::Local).len());
    let out = net.cli(&["role", "resetpw", "-name", "co"]);
    out.failed_with("0x00000054 (CKR_FUNCTION_NOT_SUPPORTED)");
    assert!(
        out.text.contains(
            "HSM policy 15 (Enable SO reset of partition PIN) is 0: the Partition SO cannot reset the \
             Crypto Officer's credential."
        ),
        "{}",
        out.text
    );
    assert_eq!(net.state_text(), before, "nothing changed");
    assert!(!shown(&since(&net, Which::Local, from), "SETTING CO PIN..."), "the PED was not asked");

    // The HSM SO turns policy 15 on. Only policy 15 is known; turning it on destroys the
    // partition (seed 6821), so lunacm's question is answered with -force, and without
    // it nothing changes.
    let out = net.cli(&["hsm", "changepolicy", "-policy", "7", "-value", "1"]);
    out.failed_with("0x00000007 (CKR_ARGUMENTS_BAD)");
    assert!(out.text.contains("HSM policy 7 is not modelled"), "{}", out.text);
    let out = net.cli(&["hsm", "changepolicy", "-policy", "15", "-value", "1"]);
    out.failed_with("CKR_ARGUMENTS_BAD");
    assert!(out.text.contains("turning HSM policy 15 on destroys the partition and its contents"), "{}", out.text);
    assert_eq!(net.state_text(), before, "nothing changed");
    let out = net.cli(&["hsm", "changepolicy", "-policy", "15", "-value", "1", "-force"]);
    out.ok();
    assert!(out.text.contains("HSM policy 15 (Enable SO reset of partition PIN) is 1."), "{}", out.text);
    assert!(out.text.contains("The partition and its contents were erased"), "{}", out.text);
    let state = net.state_json();
    assert_eq!((state["so_reset_partition_pin"].clone(), state["partition"].clone()), (true.into(), Value::Null));

    // The seed has the policy on before the partition is made (6819): a new partition,
    // whose CO then loses the black key. The Partition SO resets it: the PED writes a
    // new black key and reads none.
    let p = partition(&mut net, Which::Local, "part2");
    let old = net.state_json()["partition"].clone();
    let new = net.blank(1).remove(0);
    let from = net.screens(Which::Local).len();
    ceremony::reset_pw(&mut net, Which::Local, "co", &new, "8642").ok();
    let screens = since(&net, Which::Local, from);
    assert!(shown(&screens, "SETTING CO PIN..."), "{screens:?}");
    assert!(!shown(&screens, "READING CO PIN...") && !shown(&screens, "CO LOGIN..."), "the lost key is not asked");
    assert_eq!(ceremony::content(&net, &new).expect("written").colour, KeyColour::Black);
    assert_eq!(keyset_of(&net, &p.co), old["co"]["keyset_id"].as_str().expect("hex"), "the lost key is not written");
    let part = net.state_json()["partition"].clone();
    assert_eq!(part["co"]["keyset_id"], keyset_of(&net, &new).as_str());
    assert_ne!(part["co"]["keyset_id"], old["co"]["keyset_id"]);
    for field in ["so", "domain", "cu", "label"] {
        assert_eq!(part[field], old[field], "{field}");
    }

    // The new black key logs in as CO; the old one does not (and is counted).
    ceremony::role_login(&mut net, Which::Local, "co", &[(&p.co, CO_PIN)])
        .failed_with("0x000000a0 (CKR_PIN_INCORRECT)");
    assert_eq!(net.state_json()["partition"]["user_failures"], 1);
    ceremony::role_login(&mut net, Which::Local, "co", &[(&new, "8642")]).ok();
    assert_eq!(net.state_json()["partition"]["user_failures"], 0);
}

#[test]
fn a_lost_gray_cu_key_is_reset_by_the_co() {
    let mut net = Net::default();
    local_hsm(&mut net);
    let p = partition(&mut net, Which::Local, "part1");
    let old = net.state_json();

    // The CO (logged in) resets the CU whatever policy 15 says (seed 6815), here 0.
    let new = net.blank(1).remove(0);
    let from = net.screens(Which::Local).len();
    ceremony::reset_pw(&mut net, Which::Local, "cu", &new, "").ok();
    let screens = since(&net, Which::Local, from);
    assert!(shown(&screens, "SETTING CU PIN...") && !shown(&screens, "READING CU PIN..."), "{screens:?}");
    // The PED sees CU keys as black (seed 4740-4750); the gray is a sticker.
    assert_eq!(ceremony::content(&net, &new).expect("written").colour, KeyColour::Black);
    let state = net.state_json();
    assert_eq!(state["so_reset_partition_pin"], false);
    let part = &state["partition"];
    assert_eq!(part["cu"]["keyset_id"], keyset_of(&net, &new).as_str());
    assert_ne!(part["cu"]["keyset_id"], old["partition"]["cu"]["keyset_id"]);
    for field in ["so", "domain", "co"] {
        assert_eq!(part[field], old["partition"][field], "{field}");
    }

    ceremony::role_login(&mut net, Which::Local, "cu", &[(&p.cu, "")]).failed_with("CKR_PIN_INCORRECT");
    ceremony::role_login(&mut net, Which::Local, "cu", &[(&new, "")]).ok();
    // The Partition SO does not reset the CU: that is the CO's.
    let out = net.cli(&["role", "resetpw", "-name", "po"]);
    out.failed_with("CKR_ARGUMENTS_BAD");
    assert!(out.text.contains("role resetpw takes co (by the Partition SO) or cu (by the Crypto Officer)"));
}

#[test]
fn a_lost_red_partition_domain_a_new_partition_with_a_new_domain_and_the_original_co_key() {
    let mut net = Net::default();
    local_hsm(&mut net);
    let p = partition(&mut net, Which::Local, "part1");
    let old = net.state_json()["partition"].clone();

    // Step 1 (seed 5103): the HSM SO makes a new partition. This HSM holds one partition,
    // so the original goes first (step 6 deletes it once nothing uses it).
    net.cli(&["partition", "delete", "-force"]).ok();
    net.cli(&["partition", "create"]).ok();

    // Step 2: initialised with a new cloning domain; the Partition SO keeps its blue key.
    let red = net.blank(1).remove(0);
    net.start(&["partition", "init", "-label", "part2"]);
    ceremony::reuse(&mut net.local(), &[(&p.po, PO_PIN)]);
    ceremony::create_one(&mut net.local(), "(RED)", &red, "");
    net.finish().ok();
    let part = net.state_json()["partition"].clone();
    assert_eq!(part["domain"]["keyset_id"], keyset_of(&net, &red).as_str());
    assert_ne!(part["domain"]["keyset_id"], old["domain"]["keyset_id"], "a new cloning domain");
    assert_eq!(part["so"], old["so"], "the same Partition SO keyset");
    assert_eq!(ceremony::content(&net, &red).expect("written").colour, KeyColour::Red);

    // Step 3: the CO initialised with the original black key, reused at stage 1.
    ceremony::role_login(&mut net, Which::Local, "po", &[(&p.po, PO_PIN)]).ok();
    ceremony::role_init_reused(&mut net, Which::Local, "co", &[(&p.co, CO_PIN)]).ok();
    let part = net.state_json()["partition"].clone();
    assert_eq!(part["co"], old["co"], "the CO's original keyset: identity and verifier");
    assert_eq!(part["co"]["keyset_id"], keyset_of(&net, &p.co).as_str());
    assert_eq!((part["label"].as_str(), part["cu"].clone()), (Some("part2"), Value::Null));
    ceremony::role_login(&mut net, Which::Local, "co", &[(&p.co, CO_PIN)]).ok();
    assert_eq!(keyset_of(&net, &p.domain), old["domain"]["keyset_id"].as_str().expect("hex"), "not written");
}
