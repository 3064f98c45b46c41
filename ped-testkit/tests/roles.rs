//! Roles and their secrets end to end on the in-memory net: changing each role's
//! PED key secret (seed 5225-5400), the partition and its roles, the CO/CU lockout, and
//! a lost Partition SO keyset (seed 5090-5100: the HSM SO deletes the partition and
//! creates a new one).

use ped_proto::pedkey::KeyColour;
use ped_testkit::ceremony::{self, CO_PIN, Ceremony, PO_PIN, Partition, keyset_of};
use ped_testkit::{KeyHolder, Net, Which};
use serde_json::Value;

/// The HSM SO logs in with the ceremony's quorum and makes the partition over the
/// connected Remote PED ([`ceremony::partition`]).
fn partition(net: &mut Net, c: &Ceremony) -> Partition {
    ceremony::so_login(net, &c.blue_quorum()).ok();
    ceremony::partition(net, Which::Remote, "part1")
}

/// Whether any of `screens` has a line containing `text`.
fn shown(screens: &[Vec<String>], text: &str) -> bool {
    screens.iter().any(|s| s.iter().any(|l| l.contains(text)))
}

#[test]
fn changing_the_hsm_so_and_auditor_secrets() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    net.cli(&["role", "changepw", "-name", "so"]).failed_with("CKR_USER_NOT_LOGGED_IN");
    ceremony::so_login(&mut net, &c.blue_quorum()).ok();
    let new = net.blank(1).remove(0);

    // Cancelled while the old keyset is read: nothing changes.
    let before = net.state_text();
    net.start(&["role", "changepw", "-name", "so"]);
    net.remote().login("READING SO PIN...", &[c.blue(0)]);
    net.remote().hold_clear();
    net.finish().failed_with("0x00000001 (CKR_CANCEL)");
    ceremony::dismiss_notice(&mut net.remote());
    assert_eq!(net.state_text(), before);

    // A wrong PIN in the old keyset fails once its quorum is in, as a login would (and is
    // counted as one: docs/hsm-emu.md); the keysets are untouched, no new key written.
    let old = net.state_json();
    net.start(&["role", "changepw", "-name", "so"]);
    net.remote().login("READING SO PIN...", &[c.blue(0), c.blue(1), (&c.blue[3], "999999")]);
    net.finish().failed_with("0x000000a0 (CKR_PIN_INCORRECT)");
    let failed = net.state_json();
    for field in ["so", "domain", "label", "rpv"] {
        assert_eq!(failed[field], old[field], "{field}");
    }
    assert_eq!(failed["so_failures"], 1);
    assert!(ceremony::content(&net, &new).is_none());

    // The old keyset first, then the new one (seed 5240-5247).
    let from = net.screens(Which::Remote).len();
    ceremony::change_pw(&mut net, Which::Remote, "so", &c.blue_quorum(), "(BLUE)", (&new, "5150")).ok();
    let screens = net.screens(Which::Remote).split_off(from);
    let at = |text: &str| screens.iter().position(|s| s.iter().any(|l| l == text));
    let (reading, setting) = (at("READING SO PIN..."), at("SETTING SO PIN..."));
    assert!(reading.is_some() && reading < setting, "old keyset read first: {reading:?} {setting:?}");
    let state = net.state_json();
    assert_eq!(state["so"]["keyset_id"], keyset_of(&net, &new).as_str());
    assert_ne!(state["so"]["keyset_id"], old["so"]["keyset_id"]);
    assert_eq!((state["domain"].clone(), state["so_failures"].clone()), (old["domain"].clone(), 0.into()));
    ceremony::so_login(&mut net, &c.blue_quorum()).failed_with("CKR_PIN_INCORRECT");
    ceremony::so_login(&mut net, &[(&new, "5150")]).ok();

    // The Auditor (white), 1 of 1.
    let au = net.blank(2);
    ceremony::role_init(&mut net, Which::Remote, "au", &au[0], "").ok();
    assert_eq!(ceremony::content(&net, &au[0]).expect("written").colour, KeyColour::White);
    net.cli(&["role", "changepw", "-name", "au"]).failed_with("CKR_USER_NOT_LOGGED_IN");
    ceremony::role_login(&mut net, Which::Remote, "au", &[(&au[0], "")]).ok();
    ceremony::change_pw(&mut net, Which::Remote, "au", &[(&au[0], "")], "(WHITE)", (&au[1], "7777")).ok();
    assert_eq!(net.state_json()["auditor"]["keyset_id"], keyset_of(&net, &au[1]).as_str());
    ceremony::role_login(&mut net, Which::Remote, "au", &[(&au[0], "")]).failed_with("CKR_PIN_INCORRECT");
    ceremony::role_login(&mut net, Which::Remote, "au", &[(&au[1], "7777")]).ok();
    assert!(shown(&net.screens(Which::Remote), "READING AU PIN..."));
}

#[test]
fn partition_roles_and_changing_the_po_co_and_cu_secrets() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    let p = partition(&mut net, &c);
    let state = net.state_json();
    let part = &state["partition"];
    assert_eq!(part["label"], "part1");
    for (field, serial, colour) in [
        ("so", &p.po, KeyColour::Blue),
        ("domain", &p.domain, KeyColour::Red),
        ("co", &p.co, KeyColour::Black),
        ("cu", &p.cu, KeyColour::Black),
    ] {
        assert_eq!(part[field]["keyset_id"], keyset_of(&net, serial).as_str(), "{field}");
        assert_eq!(ceremony::content(&net, serial).expect("written").colour, colour, "{field}");
    }
    // The PED sees CO and CU alike as black "User" keys (seed 4740-4750).
    let screens = net.screens(Which::Remote);
    assert!(shown(&screens, "SETTING CO PIN...") && shown(&screens, "SETTING CU PIN..."));
    assert!(shown(&screens, "PED Key (BLACK)"));
    ceremony::role_login(&mut net, Which::Remote, "cu", &[(&p.cu, "")]).ok();

    // A wrong old keyset (the CU's black key at the CO's change) fails and changes no keyset.
    net.start(&["role", "changepw", "-name", "co"]);
    net.remote().login("READING CO PIN...", &[(&p.cu, "")]);
    net.finish().failed_with("CKR_PIN_INCORRECT");
    assert_eq!(net.state_json()["partition"]["co"], part["co"]);

    let new = net.blank(3);
    for (name, colour, old, fresh) in [
        ("po", "(BLUE)", (p.po.as_str(), PO_PIN), (new[0].as_str(), "9191")),
        ("co", "(BLACK)", (p.co.as_str(), CO_PIN), (new[1].as_str(), "")),
        ("cu", "(BLACK)", (p.cu.as_str(), ""), (new[2].as_str(), "8282")),
    ] {
        ceremony::change_pw(&mut net, Which::Remote, name, &[old], colour, fresh).ok();
        let field = if name == "po" { "so" } else { name };
        assert_eq!(net.state_json()["partition"][field]["keyset_id"], keyset_of(&net, fresh.0).as_str());
        ceremony::role_login(&mut net, Which::Remote, name, &[old]).failed_with("CKR_PIN_INCORRECT");
        ceremony::role_login(&mut net, Which::Remote, name, &[fresh]).ok();
    }
    let after = net.state_json();
    assert_eq!(after["partition"]["domain"], part["domain"], "the partition's domain is not a role secret");
    assert_eq!(
        (after["partition"]["so_failures"].clone(), after["partition"]["user_failures"].clone()),
        (0.into(), 0.into())
    );
}

#[test]
fn ten_failed_co_and_cu_logins_lock_both_for_good_under_policy_0_and_a_partition_reinit_recovers() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    let p = partition(&mut net, &c);
    // One counter for CO and CU (partition policy 20): the CO's key at a CU login and
    // the CU's at a CO login, alternately.
    for failures in 1..=10 {
        let (name, key) = if failures % 2 == 1 { ("co", (p.cu.as_str(), "")) } else { ("cu", (p.co.as_str(), CO_PIN)) };
        let out = ceremony::role_login(&mut net, Which::Remote, name, &[key]);
        if failures < 10 {
            out.failed_with("0x000000a0 (CKR_PIN_INCORRECT)");
        } else {
            out.failed_with("0x000000a4 (CKR_PIN_LOCKED)");
        }
        assert_eq!(net.state_json()["partition"]["user_failures"], failures);
    }
    assert_eq!(net.state_json()["partition"]["users_locked"], true);
    // Locked: refused before the PED is asked for anything, even with the right keys.
    let screens = net.screens(Which::Remote).len();
    net.cli(&["role", "login", "-name", "co"]).failed_with("CKR_PIN_LOCKED");
    net.cli(&["role", "login", "-name", "cu"]).failed_with("CKR_PIN_LOCKED");
    assert!(!shown(&net.screens(Which::Remote).split_off(screens), "LOGIN..."));

    // HSM policy 15 is 0 (the default): the lockout is for good (seed 6758-6759). The
    // Partition SO cannot write a new CO keyset over the locked one...
    ceremony::role_login(&mut net, Which::Remote, "po", &[(&p.po, PO_PIN)]).ok();
    let before = net.state_text();
    let out = net.cli(&["role", "init", "-name", "co"]);
    out.failed_with("0x00000054 (CKR_FUNCTION_NOT_SUPPORTED)");
    assert!(out.text.contains("the Crypto Officer is already initialised; "), "{}", out.text);
    assert_eq!(net.state_text(), before, "nothing changed");
    // ...but re-initialises the partition (its contents destroyed), then the CO.
    let (po, fresh) = (net.blank(2), net.blank(1).remove(0));
    net.start(&["partition", "init", "-label", "part1"]);
    ceremony::create_one(&mut net.remote(), "(BLUE)", &po[0], "");
    ceremony::create_one(&mut net.remote(), "(RED)", &po[1], "");
    net.finish().ok();
    let part = net.state_json()["partition"].clone();
    assert_eq!((part["users_locked"].clone(), part["user_failures"].clone()), (false.into(), 0.into()));
    assert!(part["co"].is_null() && part["cu"].is_null(), "{part}");
    ceremony::role_login(&mut net, Which::Remote, "po", &[(&po[0], "")]).ok();
    ceremony::role_init(&mut net, Which::Remote, "co", &fresh, "").ok();
    ceremony::role_login(&mut net, Which::Remote, "co", &[(&fresh, "")]).ok();
    net.cli(&["role", "login", "-name", "cu"]).failed_with("CKR_USER_PIN_NOT_INITIALIZED");
    ceremony::role_login(&mut net, Which::Remote, "co", &[(&p.co, CO_PIN)]).failed_with("CKR_PIN_INCORRECT");

    // Ten failed Partition SO logins zeroise the partition: it stays, erased, for a new
    // Partition SO to initialise; the HSM and its SO are untouched.
    for failures in 1..=10 {
        ceremony::role_login(&mut net, Which::Remote, "po", &[(&p.po, "9999")]).failed_with("CKR_PIN_INCORRECT");
        let part = &net.state_json()["partition"];
        assert_eq!(part["so_failures"], if failures < 10 { failures } else { 0 });
    }
    let state = net.state_json();
    let part = &state["partition"];
    for field in ["so", "domain", "co", "cu"] {
        assert!(part[field].is_null(), "{field}: {part}");
    }
    assert_eq!((part["label"].clone(), state["label"].clone()), ("".into(), "rig".into()));
    net.cli(&["role", "login", "-name", "co"]).failed_with("CKR_USER_PIN_NOT_INITIALIZED");
    let po = net.blank(2);
    net.start(&["partition", "init", "-label", "part1"]);
    ceremony::create_one(&mut net.remote(), "(BLUE)", &po[0], "");
    ceremony::create_one(&mut net.remote(), "(RED)", &po[1], "");
    net.finish().ok();
    ceremony::role_login(&mut net, Which::Remote, "po", &[(&po[0], "")]).ok();
}

#[test]
fn a_lost_partition_so_keyset_new_partition_with_the_original_domain_and_co_key() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    let p = partition(&mut net, &c);
    let old = net.state_json()["partition"].clone();
    // The Partition SO's PIN is forgotten: the key no longer logs in.
    ceremony::role_login(&mut net, Which::Remote, "po", &[(&p.po, "9999")]).failed_with("CKR_PIN_INCORRECT");
    assert_eq!(net.state_json()["partition"]["so_failures"], 1);

    // Seed 5095 step 2: the HSM SO deletes the partition and creates a new one. lunacm
    // asks before it destroys; here `-force` is the answer, and without it nothing changes.
    ceremony::so_login(&mut net, &c.blue_quorum()).ok();
    let (before, hsm_so) = (net.state_text(), net.state_json()["so"].clone());
    let out = net.cli(&["partition", "delete"]);
    out.failed_with("0x00000007 (CKR_ARGUMENTS_BAD)");
    assert!(
        out.text.contains("partition delete destroys the partition and its roles; nothing was changed."),
        "{}",
        out.text
    );
    assert_eq!(net.state_text(), before);
    net.cli(&["partition", "delete", "-force"]).ok();
    let state = net.state_json();
    assert!(state["partition"].is_null(), "{state}");
    assert_eq!((state["label"].clone(), state["so"].clone()), ("rig".into(), hsm_so));
    net.cli(&["role", "login", "-name", "co"]).failed_with("CKR_USER_PIN_NOT_INITIALIZED");
    net.cli(&["partition", "delete", "-force"]).failed_with("CKR_USER_PIN_NOT_INITIALIZED");
    let out = net.cli(&["partition", "init", "-label", "part2"]);
    out.failed_with("CKR_USER_PIN_NOT_INITIALIZED");
    assert!(out.text.contains("the HSM SO makes one with `partition create`"), "{}", out.text);
    net.cli(&["partition", "create"]).ok();
    let created = net.state_json()["partition"].clone();
    assert_eq!(
        (created["label"].clone(), created["so"].clone(), created["co"].clone()),
        ("".into(), Value::Null, Value::Null)
    );
    net.cli(&["partition", "create"]).failed_with("CKR_FUNCTION_NOT_SUPPORTED");

    // Steps 3-5: the new partition initialised with a new Partition SO keyset and the
    // original red domain reused; a new CO key, which the CO changes back to the
    // original black key (stage 1 reuse at changepw).
    let keys = net.blank(2);
    net.start(&["partition", "init", "-label", "part2"]);
    ceremony::create_one(&mut net.remote(), "(BLUE)", &keys[0], "4242");
    ceremony::reuse(&mut net.remote(), &[(&p.domain, "")]);
    net.finish().ok();
    assert_eq!(net.state_json()["partition"]["domain"], old["domain"], "the original cloning domain");
    ceremony::role_login(&mut net, Which::Remote, "po", &[(&keys[0], "4242")]).ok();
    ceremony::role_init(&mut net, Which::Remote, "co", &keys[1], "").ok();
    ceremony::role_login(&mut net, Which::Remote, "co", &[(&keys[1], "")]).ok();
    net.start(&["role", "changepw", "-name", "co"]);
    net.remote().login("READING CO PIN...", &[(&keys[1], "")]);
    ceremony::reuse(&mut net.remote(), &[(&p.co, CO_PIN)]);
    net.finish().ok();
    assert_eq!(net.state_json()["partition"]["co"], old["co"], "the CO's original keyset again");
    ceremony::role_login(&mut net, Which::Remote, "co", &[(&p.co, CO_PIN)]).ok();
    ceremony::role_login(&mut net, Which::Remote, "co", &[(&keys[1], "")]).failed_with("CKR_PIN_INCORRECT");
    let part = net.state_json()["partition"].clone();
    assert_eq!(part["label"], "part2");
    assert_eq!(part["so"]["keyset_id"], keyset_of(&net, &keys[0]).as_str());
    assert_ne!(part["so"], old["so"], "a new Partition SO keyset");
    assert!(part["cu"].is_null(), "the old partition's CU went with it");
    ceremony::role_login(&mut net, Which::Remote, "po", &[(&p.po, PO_PIN)]).failed_with("CKR_PIN_INCORRECT");
}

#[test]
fn the_hsm_cloning_domain_changes_only_by_reinitialising_the_hsm() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    let before = net.state_json();
    ceremony::so_login(&mut net, &c.blue_quorum()).ok();
    // Seed 5266: no credential change for a domain.
    let out = net.cli(&["role", "changepw", "-name", "domain"]);
    out.failed_with("CKR_ARGUMENTS_BAD");
    assert_eq!(net.state_json()["domain"], before["domain"]);

    // The red keys lost: `hsm init` by the HSM SO, the blue keyset reused, a new domain.
    let red = net.blank(1).remove(0);
    net.start(&["hsm", "init", "-label", "rig"]);
    ceremony::reuse(&mut net.remote(), &c.blue_quorum());
    ceremony::create_one(&mut net.remote(), "(RED)", &red, "");
    net.finish().ok();
    let after = net.state_json();
    assert_eq!(after["so"], before["so"]);
    assert_ne!(after["domain"]["keyset_id"], before["domain"]["keyset_id"], "another cloning domain");
    assert_eq!(after["domain"]["keyset_id"], keyset_of(&net, &red).as_str());
}
