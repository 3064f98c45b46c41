//! The Limited Crypto Officer end to end on the in-memory net, at the Remote PED (issue
//! 16 item 2; seed 3328, 4733, 6643-6693, 6813-6844, 6109): an LCO command before there
//! is an LCO, the LCO made by the CO on a gray key the PED sees as black, its login, its
//! own change of secret, a wrong PIN counted, its lockout (the CO still working), the
//! CO's reset with HSM policy 15 at 0, and the partition re-init erasing it.

use ped_proto::pedkey::KeyColour;
use ped_testkit::ceremony::{self, CO_PIN};
use ped_testkit::{CliResult, KeyHolder, KeySpec, Net, Which};
use serde_json::Value;

/// `role login -name lco` answered with `keys` at the Remote PED.
fn lco_login(net: &mut Net, keys: &[KeySpec<'_>]) -> CliResult {
    net.start(&["role", "login", "-name", "lco"]);
    net.remote().login("LCO LOGIN...", keys);
    net.finish()
}

/// Whether any of `screens` has a line containing `text`.
fn shown(screens: &[Vec<String>], text: &str) -> bool {
    screens.iter().any(|s| s.iter().any(|l| l.contains(text)))
}

fn partition(net: &Net) -> Value {
    net.state_json()["partition"].clone()
}

#[test]
fn the_limited_crypto_officer_from_the_cos_init_to_the_partition_reinit() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    ceremony::so_login(&mut net, &c.blue_quorum()).ok();
    let p = ceremony::partition(&mut net, Which::Remote, "part1");

    // No LCO yet: a clear refusal before the PED is asked, nothing changed.
    let (before, from) = (net.state_text(), net.screens(Which::Remote).len());
    for command in ["login", "changepw", "resetpw"] {
        let out = net.cli(&["role", command, "-name", "lco"]);
        out.failed_with("0x00000102 (CKR_USER_PIN_NOT_INITIALIZED)");
        assert!(
            out.text.contains(
                "the Limited Crypto Officer is not initialised; the Crypto Officer makes it with `role init -name lco`"
            ),
            "{}",
            out.text
        );
    }
    assert_eq!(net.state_text(), before);
    assert!(!shown(&net.screens(Which::Remote).split_off(from), "LCO"), "the PED was not asked");

    // The CO (logged in by the ceremony) makes it: a gray sticker, a black key to the PED.
    let keys = net.blank(3);
    let from = net.screens(Which::Remote).len();
    ceremony::role_init(&mut net, Which::Remote, "lco", &keys[0], "5791").ok();
    let screens = net.screens(Which::Remote).split_off(from);
    assert!(shown(&screens, "SETTING LCO PIN...") && shown(&screens, "PED Key (BLACK)"), "{screens:?}");
    assert_eq!(ceremony::content(&net, &keys[0]).expect("written").colour, KeyColour::Black);
    assert_eq!(partition(&net)["lco"]["keyset_id"], ceremony::keyset_of(&net, &keys[0]).as_str());
    net.cli(&["role", "init", "-name", "lco"]).failed_with("0x00000054 (CKR_FUNCTION_NOT_SUPPORTED)");

    // It logs in and changes its own secret, the old keyset read first.
    lco_login(&mut net, &[(&keys[0], "5791")]).ok();
    ceremony::change_pw(&mut net, Which::Remote, "lco", &[(&keys[0], "5791")], "(BLACK)", (&keys[1], "8080")).ok();
    assert!(shown(&net.screens(Which::Remote), "READING LCO PIN..."));
    assert_eq!(partition(&net)["lco"]["keyset_id"], ceremony::keyset_of(&net, &keys[1]).as_str());
    lco_login(&mut net, &[(&keys[0], "5791")]).failed_with("0x000000a0 (CKR_PIN_INCORRECT)");
    lco_login(&mut net, &[(&keys[1], "8080")]).ok();
    assert_eq!(partition(&net)["lco_failures"], 0);

    // A wrong PIN is counted on the LCO's own counter; ten lock the LCO alone.
    for failures in 1..=10 {
        let out = lco_login(&mut net, &[(&keys[1], "1111")]);
        out.failed_with(if failures < 10 { "0x000000a0 (CKR_PIN_INCORRECT)" } else { "0x000000a4 (CKR_PIN_LOCKED)" });
        let part = partition(&net);
        assert_eq!((part["lco_failures"].clone(), part["user_failures"].clone()), (failures.into(), 0.into()));
    }
    assert_eq!(partition(&net)["lco_locked"], true);
    let from = net.screens(Which::Remote).len();
    let out = net.cli(&["role", "login", "-name", "lco"]);
    out.failed_with("CKR_PIN_LOCKED");
    assert!(out.text.contains("the Crypto Officer resets it with `role resetpw -name lco`"), "{}", out.text);
    assert!(!shown(&net.screens(Which::Remote).split_off(from), "LCO LOGIN..."), "refused before the PED");
    ceremony::role_login(&mut net, Which::Remote, "co", &[(&p.co, CO_PIN)]).ok();
    ceremony::role_login(&mut net, Which::Remote, "cu", &[(&p.cu, "")]).ok();

    // The CO resets it, HSM policy 15 being 0 (seed 6842): a new keyset, the lock lifted.
    assert_eq!(net.state_json()["so_reset_partition_pin"], false);
    ceremony::reset_pw(&mut net, Which::Remote, "lco", &keys[2], "").ok();
    let part = partition(&net);
    assert_eq!((part["lco_locked"].clone(), part["lco_failures"].clone()), (false.into(), 0.into()));
    assert_eq!(part["lco"]["keyset_id"], ceremony::keyset_of(&net, &keys[2]).as_str());
    lco_login(&mut net, &[(&keys[2], "")]).ok();

    // Re-initialising the partition erases the CO, LCO and CU credentials (seed 6109).
    let po = net.blank(2);
    net.start(&["partition", "init", "-label", "part1"]);
    ceremony::create_one(&mut net.remote(), "(BLUE)", &po[0], "");
    ceremony::create_one(&mut net.remote(), "(RED)", &po[1], "");
    net.finish().ok();
    let part = partition(&net);
    for field in ["co", "lco", "cu"] {
        assert!(part[field].is_null(), "{field}: {part}");
    }
    assert_eq!((part["lco_failures"].clone(), part["lco_locked"].clone()), (0.into(), false.into()));
    net.cli(&["role", "login", "-name", "lco"]).failed_with("CKR_USER_PIN_NOT_INITIALIZED");
    net.cli(&["role", "changepw", "-name", "lco"]).failed_with("CKR_USER_PIN_NOT_INITIALIZED");
}
