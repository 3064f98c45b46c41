//! Roles and their secrets end to end, every component a process: changing each role's
//! PED key secret (seed 5225-5400), the partition and its roles, the CO/CU lockout, and
//! a lost Partition SO keyset (seed 5090-5100: the HSM SO deletes the partition and
//! creates a new one).

use ped_proto::pedkey::KeyColour;
use serde_json::Value;
use tests::ceremony::{self, CO_PIN, Ceremony, PO_PIN, Partition, keyset_of};
use tests::rig::{Rig, Settings};
use tests::sim::{KeyHolder, shown};

/// The HSM SO logs in with the ceremony's quorum and makes the partition over the
/// connected Remote PED ([`ceremony::partition`]).
fn partition(rig: &mut Rig, ped: &mut KeyHolder, c: &Ceremony) -> Partition {
    ceremony::so_login(rig, ped, &c.blue_quorum()).ok();
    ceremony::partition(rig, ped, "part1")
}

#[test]
fn changing_the_hsm_so_and_auditor_secrets() {
    let mut rig = Rig::start(&Settings::default());
    let (c, mut ped) = ceremony::run(&mut rig);
    rig.hsm.cli(&["role", "changepw", "-name", "so"]).failed_with("CKR_USER_NOT_LOGGED_IN");
    ceremony::so_login(&rig, &mut ped, &c.blue_quorum()).ok();
    let new = rig.keys.blank(1).remove(0);

    // Cancelled while the old keyset is read: nothing changes.
    let before = rig.hsm.state_text();
    let change = rig.hsm.start_cli(&["role", "changepw", "-name", "so"]);
    ped.login("READING SO PIN...", &[c.blue(0)]);
    ped.run("clear-held");
    change.join().expect("the CLI thread").failed_with("0x00000001 (CKR_CANCEL)");
    ceremony::dismiss_notice(&mut ped);
    assert_eq!(rig.hsm.state_text(), before);

    // A wrong PIN in the old keyset fails once its quorum is in, as a login would (and is
    // counted as one: docs/hsm-emu.md); the keysets are untouched, no new key written.
    let old = rig.hsm.state_json();
    let change = rig.hsm.start_cli(&["role", "changepw", "-name", "so"]);
    ped.login("READING SO PIN...", &[c.blue(0), c.blue(1), (&c.blue[3], "999999")]);
    change.join().expect("the CLI thread").failed_with("0x000000a0 (CKR_PIN_INCORRECT)");
    let failed = rig.hsm.state_json();
    for field in ["so", "domain", "label", "rpv"] {
        assert_eq!(failed[field], old[field], "{field}");
    }
    assert_eq!(failed["so_failures"], 1);
    assert!(rig.keys.content(&new).is_none());

    // The old keyset first, then the new one (seed 5240-5247).
    let from = rig.remote.screens().len();
    ceremony::change_pw(&rig, &mut ped, "so", &c.blue_quorum(), "(BLUE)", (&new, "5150")).ok();
    let screens = rig.remote.screens().split_off(from);
    let at = |text: &str| screens.iter().position(|s| s.iter().any(|l| l == text));
    let (reading, setting) = (at("READING SO PIN..."), at("SETTING SO PIN..."));
    assert!(reading.is_some() && reading < setting, "old keyset read first: {reading:?} {setting:?}");
    let state = rig.hsm.state_json();
    assert_eq!(state["so"]["keyset_id"], keyset_of(&rig, &new).as_str());
    assert_ne!(state["so"]["keyset_id"], old["so"]["keyset_id"]);
    assert_eq!((state["domain"].clone(), state["so_failures"].clone()), (old["domain"].clone(), 0.into()));
    ceremony::so_login(&rig, &mut ped, &c.blue_quorum()).failed_with("CKR_PIN_INCORRECT");
    ceremony::so_login(&rig, &mut ped, &[(&new, "5150")]).ok();

    // The Auditor (white), 1 of 1.
    let au = rig.keys.blank(2);
    ceremony::role_init(&rig, &mut ped, "au", &au[0], "").ok();
    assert_eq!(rig.keys.content(&au[0]).expect("written").colour, KeyColour::White);
    rig.hsm.cli(&["role", "changepw", "-name", "au"]).failed_with("CKR_USER_NOT_LOGGED_IN");
    ceremony::role_login(&rig, &mut ped, "au", &[(&au[0], "")]).ok();
    ceremony::change_pw(&rig, &mut ped, "au", &[(&au[0], "")], "(WHITE)", (&au[1], "7777")).ok();
    assert_eq!(rig.hsm.state_json()["auditor"]["keyset_id"], keyset_of(&rig, &au[1]).as_str());
    ceremony::role_login(&rig, &mut ped, "au", &[(&au[0], "")]).failed_with("CKR_PIN_INCORRECT");
    ceremony::role_login(&rig, &mut ped, "au", &[(&au[1], "7777")]).ok();
    assert!(shown(&rig.remote.screens(), "READING AU PIN..."));
}

#[test]
fn partition_roles_and_changing_the_po_co_and_cu_secrets() {
    let mut rig = Rig::start(&Settings::default());
    let (c, mut ped) = ceremony::run(&mut rig);
    let p = partition(&mut rig, &mut ped, &c);
    let state = rig.hsm.state_json();
    let part = &state["partition"];
    assert_eq!(part["label"], "part1");
    for (field, serial, colour) in [
        ("so", &p.po, KeyColour::Blue),
        ("domain", &p.domain, KeyColour::Red),
        ("co", &p.co, KeyColour::Black),
        ("cu", &p.cu, KeyColour::Black),
    ] {
        assert_eq!(part[field]["keyset_id"], keyset_of(&rig, serial).as_str(), "{field}");
        assert_eq!(rig.keys.content(serial).expect("written").colour, colour, "{field}");
    }
    // The PED sees CO and CU alike as black "User" keys (seed 4740-4750).
    let screens = rig.remote.screens();
    assert!(shown(&screens, "SETTING CO PIN...") && shown(&screens, "SETTING CU PIN..."));
    assert!(shown(&screens, "PED Key (BLACK)"));
    ceremony::role_login(&rig, &mut ped, "cu", &[(&p.cu, "")]).ok();

    // A wrong old keyset (the CU's black key at the CO's change) fails and changes no keyset.
    let change = rig.hsm.start_cli(&["role", "changepw", "-name", "co"]);
    ped.login("READING CO PIN...", &[(&p.cu, "")]);
    change.join().expect("the CLI thread").failed_with("CKR_PIN_INCORRECT");
    assert_eq!(rig.hsm.state_json()["partition"]["co"], part["co"]);

    let new = rig.keys.blank(3);
    for (name, colour, old, fresh) in [
        ("po", "(BLUE)", (p.po.as_str(), PO_PIN), (new[0].as_str(), "9191")),
        ("co", "(BLACK)", (p.co.as_str(), CO_PIN), (new[1].as_str(), "")),
        ("cu", "(BLACK)", (p.cu.as_str(), ""), (new[2].as_str(), "8282")),
    ] {
        ceremony::change_pw(&rig, &mut ped, name, &[old], colour, fresh).ok();
        let field = if name == "po" { "so" } else { name };
        assert_eq!(rig.hsm.state_json()["partition"][field]["keyset_id"], keyset_of(&rig, fresh.0).as_str());
        ceremony::role_login(&rig, &mut ped, name, &[old]).failed_with("CKR_PIN_INCORRECT");
        ceremony::role_login(&rig, &mut ped, name, &[fresh]).ok();
    }
    let after = rig.hsm.state_json();
    assert_eq!(after["partition"]["domain"], part["domain"], "the partition's domain is not a role secret");
    assert_eq!(
        (after["partition"]["so_failures"].clone(), after["partition"]["user_failures"].clone()),
        (0.into(), 0.into())
    );
}

#[test]
fn ten_failed_co_and_cu_logins_lock_both_for_good_under_policy_0_and_a_partition_reinit_recovers() {
    let mut rig = Rig::start(&Settings::default());
    let (c, mut ped) = ceremony::run(&mut rig);
    let p = partition(&mut rig, &mut ped, &c);
    // One counter for CO and CU (partition policy 20): the CO's key at a CU login and
    // the CU's at a CO login, alternately.
    for failures in 1..=10 {
        let (name, key) = if failures % 2 == 1 { ("co", (p.cu.as_str(), "")) } else { ("cu", (p.co.as_str(), CO_PIN)) };
        let out = ceremony::role_login(&rig, &mut ped, name, &[key]);
        if failures < 10 {
            out.failed_with("0x000000a0 (CKR_PIN_INCORRECT)");
        } else {
            out.failed_with("0x000000a4 (CKR_PIN_LOCKED)");
        }
        assert_eq!(rig.hsm.state_json()["partition"]["user_failures"], failures);
    }
    assert_eq!(rig.hsm.state_json()["partition"]["users_locked"], true);
    // Locked: refused before the PED is asked for anything, even with the right keys.
    let screens = rig.remote.screens().len();
    rig.hsm.cli(&["role", "login", "-name", "co"]).failed_with("CKR_PIN_LOCKED");
    rig.hsm.cli(&["role", "login", "-name", "cu"]).failed_with("CKR_PIN_LOCKED");
    assert!(!shown(&rig.remote.screens().split_off(screens), "LOGIN..."));

    // HSM policy 15 is 0 (the default): the lockout is for good (seed 6758-6759). The
    // Partition SO cannot write a new CO keyset over the locked one...
    ceremony::role_login(&rig, &mut ped, "po", &[(&p.po, PO_PIN)]).ok();
    let before = rig.hsm.state_text();
    let out = rig.hsm.cli(&["role", "init", "-name", "co"]);
    out.failed_with("0x00000054 (CKR_FUNCTION_NOT_SUPPORTED)");
    assert!(out.text.contains("the Crypto Officer is already initialised; "), "{}", out.text);
    assert_eq!(rig.hsm.state_text(), before, "nothing changed");
    // ...but re-initialises the partition (its contents destroyed), then the CO.
    let (po, fresh) = (rig.keys.blank(2), rig.keys.blank(1).remove(0));
    let init = rig.hsm.start_cli(&["partition", "init", "-label", "part1"]);
    ceremony::create_one(&mut ped, "(BLUE)", &po[0], "");
    ceremony::create_one(&mut ped, "(RED)", &po[1], "");
    init.join().expect("the CLI thread").ok();
    let part = rig.hsm.state_json()["partition"].clone();
    assert_eq!((part["users_locked"].clone(), part["user_failures"].clone()), (false.into(), 0.into()));
    assert!(part["co"].is_null() && part["cu"].is_null(), "{part}");
    ceremony::role_login(&rig, &mut ped, "po", &[(&po[0], "")]).ok();
    ceremony::role_init(&rig, &mut ped, "co", &fresh, "").ok();
    ceremony::role_login(&rig, &mut ped, "co", &[(&fresh, "")]).ok();
    rig.hsm.cli(&["role", "login", "-name", "cu"]).failed_with("CKR_USER_PIN_NOT_INITIALIZED");
    ceremony::role_login(&rig, &mut ped, "co", &[(&p.co, CO_PIN)]).failed_with("CKR_PIN_INCORRECT");

    // Ten failed Partition SO logins zeroise the partition: it stays, erased, for a new
    // Partition SO to initialise; the HSM and its SO are untouched.
    for failures in 1..=10 {
        ceremony::role_login(&rig, &mut ped, "po", &[(&p.po, "9999")]).failed_with("CKR_PIN_INCORRECT");
        let part = &rig.hsm.state_json()["partition"];
        assert_eq!(part["so_failures"], if failures < 10 { failures } else { 0 });
    }
    let state = rig.hsm.state_json();
    let part = &state["partition"];
    for field in ["so", "domain", "co", "cu"] {
        assert!(part[field].is_null(), "{field}: {part}");
    }
    assert_eq!((part["label"].clone(), state["label"].clone()), ("".into(), "rig".into()));
    rig.hsm.cli(&["role", "login", "-name", "co"]).failed_with("CKR_USER_PIN_NOT_INITIALIZED");
    let po = rig.keys.blank(2);
    let init = rig.hsm.start_cli(&["partition", "init", "-label", "part1"]);
    ceremony::create_one(&mut ped, "(BLUE)", &po[0], "");
    ceremony::create_one(&mut ped, "(RED)", &po[1], "");
    init.join().expect("the CLI thread").ok();
    ceremony::role_login(&rig, &mut ped, "po", &[(&po[0], "")]).ok();
}

#[test]
fn a_lost_partition_so_keyset_new_partition_with_the_original_domain_and_co_key() {
    let mut rig = Rig::start(&Settings::default());
    let (c, mut ped) = ceremony::run(&mut rig);
    let p = partition(&mut rig, &mut ped, &c);
    let old = rig.hsm.state_json()["partition"].clone();
    // The Partition SO's PIN is forgotten: the key no longer logs in.
    ceremony::role_login(&rig, &mut ped, "po", &[(&p.po, "9999")]).failed_with("CKR_PIN_INCORRECT");
    assert_eq!(rig.hsm.state_json()["partition"]["so_failures"], 1);

    // Seed 5095 step 2: the HSM SO deletes the partition and creates a new one. lunacm
    // asks before it destroys; here `-force` is the answer, and without it nothing changes.
    ceremony::so_login(&rig, &mut ped, &c.blue_quorum()).ok();
    let (before, hsm_so) = (rig.hsm.state_text(), rig.hsm.state_json()["so"].clone());
    let out = rig.hsm.cli(&["partition", "delete"]);
    out.failed_with("0x00000007 (CKR_ARGUMENTS_BAD)");
    assert!(
        out.text.contains("partition delete destroys the partition and its roles; nothing was changed."),
        "{}",
        out.text
    );
    assert_eq!(rig.hsm.state_text(), before);
    rig.hsm.cli(&["partition", "delete", "-force"]).ok();
    let state = rig.hsm.state_json();
    assert!(state["partition"].is_null(), "{state}");
    assert_eq!((state["label"].clone(), state["so"].clone()), ("rig".into(), hsm_so));
    rig.hsm.cli(&["role", "login", "-name", "co"]).failed_with("CKR_USER_PIN_NOT_INITIALIZED");
    rig.hsm.cli(&["partition", "delete", "-force"]).failed_with("CKR_USER_PIN_NOT_INITIALIZED");
    let out = rig.hsm.cli(&["partition", "init", "-label", "part2"]);
    out.failed_with("CKR_USER_PIN_NOT_INITIALIZED");
    assert!(out.text.contains("the HSM SO makes one with `partition create`"), "{}", out.text);
    rig.hsm.cli(&["partition", "create"]).ok();
    let created = rig.hsm.state_json()["partition"].clone();
    assert_eq!(
        (created["label"].clone(), created["so"].clone(), created["co"].clone()),
        ("".into(), Value::Null, Value::Null)
    );
    rig.hsm.cli(&["partition", "create"]).failed_with("CKR_FUNCTION_NOT_SUPPORTED");

    // Steps 3-5: the new partition initialised with a new Partition SO keyset and the
    // original red domain reused; a new CO key, which the CO changes back to the
    // original black key (stage 1 reuse at changepw).
    let keys = rig.keys.blank(2);
    let init = rig.hsm.start_cli(&["partition", "init", "-label", "part2"]);
    ceremony::create_one(&mut ped, "(BLUE)", &keys[0], "4242");
    ceremony::reuse(&mut ped, &[(&p.domain, "")]);
    init.join().expect("the CLI thread").ok();
    assert_eq!(rig.hsm.state_json()["partition"]["domain"], old["domain"], "the original cloning domain");
    ceremony::role_login(&rig, &mut ped, "po", &[(&keys[0], "4242")]).ok();
    ceremony::role_init(&rig, &mut ped, "co", &keys[1], "").ok();
    ceremony::role_login(&rig, &mut ped, "co", &[(&keys[1], "")]).ok();
    let change = rig.hsm.start_cli(&["role", "changepw", "-name", "co"]);
    ped.login("READING CO PIN...", &[(&keys[1], "")]);
    ceremony::reuse(&mut ped, &[(&p.co, CO_PIN)]);
    change.join().expect("the CLI thread").ok();
    assert_eq!(rig.hsm.state_json()["partition"]["co"], old["co"], "the CO's original keyset again");
    ceremony::role_login(&rig, &mut ped, "co", &[(&p.co, CO_PIN)]).ok();
    ceremony::role_login(&rig, &mut ped, "co", &[(&keys[1], "")]).failed_with("CKR_PIN_INCORRECT");
    let part = rig.hsm.state_json()["partition"].clone();
    assert_eq!(part["label"], "part2");
    assert_eq!(part["so"]["keyset_id"], keyset_of(&rig, &keys[0]).as_str());
    assert_ne!(part["so"], old["so"], "a new Partition SO keyset");
    assert!(part["cu"].is_null(), "the old partition's CU went with it");
    ceremony::role_login(&rig, &mut ped, "po", &[(&p.po, PO_PIN)]).failed_with("CKR_PIN_INCORRECT");
}

#[test]
fn the_hsm_cloning_domain_changes_only_by_reinitialising_the_hsm() {
    let mut rig = Rig::start(&Settings::default());
    let (c, mut ped) = ceremony::run(&mut rig);
    let before = rig.hsm.state_json();
    ceremony::so_login(&rig, &mut ped, &c.blue_quorum()).ok();
    // Seed 5266: no credential change for a domain.
    let out = rig.hsm.cli(&["role", "changepw", "-name", "domain"]);
    out.failed_with("CKR_ARGUMENTS_BAD");
    assert_eq!(rig.hsm.state_json()["domain"], before["domain"]);

    // The red keys lost: `hsm init` by the HSM SO, the blue keyset reused, a new domain.
    let red = rig.keys.blank(1).remove(0);
    let init = rig.hsm.start_cli(&["hsm", "init", "-label", "rig"]);
    ceremony::reuse(&mut ped, &c.blue_quorum());
    ceremony::create_one(&mut ped, "(RED)", &red, "");
    init.join().expect("the CLI thread").ok();
    let after = rig.hsm.state_json();
    assert_eq!(after["so"], before["so"]);
    assert_ne!(after["domain"]["keyset_id"], before["domain"]["keyset_id"], "another cloning domain");
    assert_eq!(after["domain"]["keyset_id"], keyset_of(&rig, &red).as_str());
}
