//! Chapter 5's PED key management (seed 4665-5250) end to end on the in-memory net:
//! creating keys stage by stage, quorum logins, what losing keys leads to, and
//! Admin mode's identify and duplicate. The screens asserted are the seed's where it
//! quotes them, docs/firmware.md's otherwise.

use ped_proto::pedkey::KeyColour;
use ped_testkit::ceremony::{self, BLUE_PINS, Ceremony, ORANGE_PIN, RED_PINS};
use ped_testkit::{KeyHolder, Net, Which};

/// The screens PED `which` drew from screen number `from` on.
fn since(net: &Net, which: Which, from: usize) -> Vec<Vec<String>> {
    net.screens(which).split_off(from)
}

/// Whether any of `screens` has a line containing `text`.
fn shown(screens: &[Vec<String>], text: &str) -> bool {
    screens.iter().any(|s| s.iter().any(|l| l.contains(text)))
}

/// Puts key `serial` in and presses Enter; the screen it led to. A notice is then
/// dismissed with Enter (the PED re-prompts; nothing is sent to the HSM as a split).
fn refused(ped: &mut impl KeyHolder, serial: &str) -> Vec<String> {
    ped.insert(serial);
    ped.press("enter");
    let screen = ped.screen();
    assert_eq!(screen[2], "  ** WARNING **", "a notice: {screen:?}");
    ped.press("enter");
    screen
}

/// Lines 3-8 of the screen shown now (below the slot and activity lines).
fn body(ped: &mut impl KeyHolder) -> Vec<String> {
    let screen = ped.screen();
    screen[2..].iter().filter(|l| !l.is_empty()).cloned().collect()
}

#[test]
fn creating_keys_m_of_n_on_the_ped_a_confirmed_pin_and_duplicates_at_creation() {
    let mut net = Net::default();
    let orange = ceremony::local_rpv(&mut net);
    net.cli(&["ped", "connect"]).ok();
    // A 2-of-3 blue set and its duplicate set; a 1-of-1 red key.
    let blue = net.blank(6);
    let red = net.blank(1);
    net.start(&["hsm", "init", "-label", "stages"]);
    net.remote().login("COMPUTE SESSION KEY.", &[(&orange, ORANGE_PIN)]);

    // Stage 1 (seed 4801): a zeroised HSM is named by its serial where the seed prints SLOT.
    net.remote().wait("reuse an existing", 60);
    assert_eq!(
        net.remote().screen()[..5],
        ["150001", "SETTING SO PIN...", "Would you like to", "reuse an existing", "keyset? (Y/N)"]
    );
    net.remote().press("no");

    // Stage 2 (seed 4857-4867): M outside 1-16 and N below M are refused and asked again.
    net.remote().wait("M value? (1-16)", 10);
    for m in ["0", "17"] {
        net.remote().type_digits(m);
        net.remote().press("enter");
        assert_eq!(body(&mut net.remote()), ["  ** WARNING **", "M must be 1-16.", "Press ENTER."]);
        net.remote().press("enter");
    }
    net.remote().type_digits("2");
    assert_eq!(body(&mut net.remote()), ["M value? (1-16)", ">02"]);
    net.remote().press("enter");
    for n in ["1", "17"] {
        net.remote().type_digits(n);
        net.remote().press("enter");
        assert_eq!(body(&mut net.remote()), ["  ** WARNING **", "N must be M-16.", "Press ENTER."]);
        net.remote().press("enter");
    }
    net.remote().type_digits("3");
    assert_eq!(body(&mut net.remote()), ["N value? (M-16)", ">03"]);
    net.remote().press("enter");

    // Stage 3 (seed 4880-4940): a mismatched confirmation and a PIN starting with 0 are
    // refused and the PIN asked again; the key is written only with a confirmed PIN.
    net.remote().wait("(BLUE)", 10);
    assert_eq!(body(&mut net.remote()), ["Insert a", "SO / HSM Admin", "PED Key (BLUE)", "Press ENTER."]);
    net.remote().insert(&blue[0]);
    net.remote().press("enter");
    assert_eq!(body(&mut net.remote()), ["  ** WARNING **", "This PED Key is", "blank.", "Overwrite? YES/NO"]);
    net.remote().press("yes");
    net.remote().type_digits("1357");
    net.remote().press("enter");
    net.remote().type_digits("1375");
    assert_eq!(body(&mut net.remote()), ["Enter new PED PIN:", "****", "Confirm new PED PIN:", "****"]);
    net.remote().press("enter");
    assert_eq!(body(&mut net.remote())[1], "PINs do not match.");
    net.remote().press("enter");
    // The rule is checked at the first Enter, before the confirmation is asked for.
    net.remote().type_digits("0246");
    net.remote().press("enter");
    assert_eq!(body(&mut net.remote())[1], "PIN: 4-48 digits,");
    net.remote().press("enter");
    assert!(ceremony::content(&net, &blue[0]).is_none(), "nothing written before a confirmed PIN");
    net.remote().type_digits("1357");
    net.remote().press("enter");
    net.remote().type_digits("1357");
    net.remote().press("enter");
    assert_eq!(
        body(&mut net.remote()),
        ["Keys write: 01 of 03", "Insert another", "SO / HSM Admin", "PED Key (BLUE)", "Press ENTER."]
    );
    net.remote().write_blank(&blue[1], "");
    net.remote().write_blank(&blue[2], "2468");

    // Stage 4 (seed 4955-4961): a duplicate set, each key with its holder's own PIN.
    assert_eq!(body(&mut net.remote()), ["Are you duplicating", "this keyset?(Y/N)"]);
    net.remote().press("yes");
    for (serial, pin) in [(&blue[3], "9753"), (&blue[4], ""), (&blue[5], "2468")] {
        net.remote().write_blank(serial, pin);
    }
    assert_eq!(body(&mut net.remote()), ["Would you like to", "make another", "duplicate set?(Y/N)"]);
    net.remote().press("no");
    net.remote().shape(1, 1);
    net.remote().write("(RED)", &[(&red[0], "")], &[]);
    net.finish().ok();

    // On disk: one keyset, 2 of 3; the duplicate of split i holds split i under its own
    // salt (and PIN); a key with no PIN holds the split itself.
    let keys: Vec<_> = blue.iter().map(|s| ceremony::content(&net, s).expect("written")).collect();
    let so = &net.state_json()["so"];
    assert_eq!((so["m"].as_u64(), so["n"].as_u64()), (Some(2), Some(3)));
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(key.colour, KeyColour::Blue);
        assert_eq!((key.split.quorum().m(), key.split.quorum().n()), (2, 3));
        assert_eq!(hex(key.split.keyset_id().as_bytes()), so["keyset_id"].as_str().unwrap(), "key {i}");
        assert_eq!(key.split.index(), keys[i % 3].split.index());
        assert_eq!(key.pin_protected, !["1357", "", "2468", "9753", "", "2468"][i].is_empty());
    }
    assert_ne!(keys[0].split.index(), keys[1].split.index());
    assert_ne!(keys[1].split.index(), keys[2].split.index());
    assert_ne!(keys[0].salt, keys[3].salt);
    assert_ne!(keys[2].masked_split, keys[5].masked_split, "the same PIN under another salt");
    assert_eq!(keys[1].masked_split, keys[4].masked_split, "no PIN: the split itself");
    let red_key = ceremony::content(&net, &red[0]).expect("written");
    assert_eq!((red_key.colour, red_key.pin_protected), (KeyColour::Red, false));

    let screens = net.screens(Which::Remote);
    for text in ["SETTING DOMAIN...", "Keys write: 02 of 03", "Confirm new PED PIN:"] {
        assert!(shown(&screens, text), "the PED showed {text}");
    }
    // The PIN typed in the refused confirmation was not set; a duplicate logs in beside
    // an original of another split.
    ceremony::so_login(&mut net, &[(&blue[0], "1375"), (&blue[4], "")]).failed_with("CKR_PIN_INCORRECT");
    ceremony::so_login(&mut net, &[(&blue[3], "9753"), (&blue[2], "2468")]).ok();
    assert_eq!(net.state_json()["so_failures"], 0);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn stage_1_reuse_keeps_the_keyset_identity_and_a_reused_keyset_is_copied_exactly() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    let before = net.state_json();
    ceremony::so_login(&mut net, &c.blue_quorum()).ok();
    let copy = net.blank(1).remove(0);
    let from = net.screens(Which::Remote).len();

    net.start(&["hsm", "init", "-label", "again"]);
    net.remote().wait("reuse an existing", 60);
    net.remote().press("yes");
    // Seed 4810-4835: the first key under SETTING, its PIN and the next keys under READING.
    assert_eq!(
        net.remote().screen()[..6],
        ["rig", "SETTING SO PIN...", "Insert a", "SO / HSM Admin", "PED Key (BLUE)", "Press ENTER."]
    );
    net.remote().insert(c.blue[9].as_str());
    net.remote().press("enter");
    assert_eq!(net.remote().screen()[..3], ["rig", "READING SO PIN...", "Enter PED PIN:"]);
    net.remote().type_digits(BLUE_PINS[9]);
    net.remote().press("enter");
    assert_eq!(
        net.remote().screen()[..7],
        [
            "rig",
            "READING SO PIN...",
            "Keys read: 01 of 03",
            "Insert another",
            "SO / HSM Admin",
            "PED Key (BLUE)",
            "Press ENTER."
        ]
    );
    for key in [c.blue(0), c.blue(7)] {
        net.remote().present(key.0, key.1);
    }
    assert_eq!(
        body(&mut net.remote()),
        ["Are you duplicating", "this keyset? (Y/N)", "Warning: You will", "need all N keys!"]
    );
    net.remote().press("no");

    // The red keyset reused too, and one of its keys copied (seed 4838).
    net.remote().wait("reuse an existing", 60);
    net.remote().press("yes");
    for i in [3, 1, 4] {
        net.remote().present(&c.red[i], RED_PINS[i]);
    }
    net.remote().wait("Are you duplicating", 10);
    net.remote().press("yes");
    assert_eq!(body(&mut net.remote()), ["Insert the", "Domain", "PED Key (RED)", "Press ENTER."]);
    net.remote().insert(&c.red[0]);
    net.remote().press("enter");
    assert_eq!(body(&mut net.remote()), ["Keys copied: 00", "Insert a blank or", "reusable PED Key", "Press ENTER."]);
    net.remote().insert(&copy);
    net.remote().press("enter");
    net.remote().press("yes");
    assert_eq!(body(&mut net.remote()), ["Keys copied: 01", "Copy another", "PED Key? (Y/N)"]);
    net.remote().press("no");
    net.finish().ok();

    let after = net.state_json();
    assert_eq!(after["label"], "again");
    assert_eq!(after["so"], before["so"], "the same HSM SO keyset identity and verifier");
    assert_eq!(after["domain"], before["domain"], "the same cloning domain");
    assert_eq!(net.key(&copy), net.key(&c.red[0]), "an exact copy, PIN binding and all");
    let screens = since(&net, Which::Remote, from);
    for text in ["READING SO PIN...", "Keys read: 02 of 03", "READING DOMAIN...", "Enter PED PIN:"] {
        assert!(shown(&screens, text), "the PED showed {text}");
    }
    assert!(!shown(&screens, "M value?"), "a reused keyset is not reshaped");
    // `hsm init` logged the HSM SO out; the old keys log in again.
    ceremony::so_login(&mut net, &[c.blue(1), c.blue(3), c.blue(5)]).ok();
}

#[test]
fn a_quorum_in_any_order_a_repeated_split_not_counted_and_a_cancel_on_the_ped() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    // Splits 5, 1 (its duplicate) and 3: any order, any mix of the two sets.
    ceremony::so_login(&mut net, &[c.blue(4), c.blue(5), c.blue(2)]).ok();

    // Split 2 twice (original, then its duplicate) and a key of another keyset of the
    // same colour: noticed by the PED and re-prompted, the count stays.
    net.start(&["role", "login", "-name", "so"]);
    net.remote().wait("SO LOGIN...", 60);
    // Seed 4970-5010: "Token found", then the prompt under the slot's label.
    assert_eq!(
        net.remote().screen()[..6],
        ["rig", "SO LOGIN...", "Insert a", "SO / HSM Admin", "PED Key (BLUE)", "Press ENTER."]
    );
    assert!(shown(&net.screens(Which::Remote), "Token found"));
    net.remote().present(&c.blue[1], BLUE_PINS[1]);
    let again = refused(&mut net.remote(), &c.blue[6]);
    assert_eq!(again[3..6], ["This PED Key was", "already presented.", "Press ENTER."]);
    assert_eq!(body(&mut net.remote())[0], "Keys read: 01 of 03");
    let red = refused(&mut net.remote(), &c.red[0]);
    assert_eq!(red[3..6], ["Wrong PED Key.", "Not a", "PED Key (BLUE)"]);
    net.remote().present(&c.blue[3], BLUE_PINS[3]);
    net.remote().present(&c.blue[0], BLUE_PINS[0]);
    net.finish().ok();
    assert_eq!(net.state_json()["so_failures"], 0);

    // Clear held on the PED ends the login: CKR_CANCEL, nothing counted, nothing kept.
    let before = net.state_text();
    net.start(&["role", "login", "-name", "so"]);
    net.remote().login("SO LOGIN...", &[c.blue(0), (&c.blue[1], "111111")]);
    net.remote().hold_clear();
    net.finish().failed_with("0x00000001 (CKR_CANCEL)");
    assert_eq!(net.remote().screen()[1..4], ["Operation reset.", "", "Press ENTER."]);
    assert_eq!(net.state_text(), before, "a cancelled login changes nothing");
}

#[test]
fn fewer_than_m_keys_left_cannot_log_in_and_nothing_is_counted() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    let before = net.state_text();
    // Splits 1 and 2 are all that is left of the 3-of-5 blue keyset (and its copies).
    net.start(&["role", "login", "-name", "so"]);
    net.remote().login("SO LOGIN...", &[c.blue(0), c.blue(6)]);
    assert_eq!(body(&mut net.remote())[0], "Keys read: 02 of 03");
    // Whatever else the holders have is refused by the PED, never sent as a split.
    let blank = net.blank(1).remove(0);
    assert_eq!(refused(&mut net.remote(), &blank)[3..5], ["This PED Key is", "blank."]);
    assert_eq!(refused(&mut net.remote(), &c.blue[5])[3..5], ["This PED Key was", "already presented."]);
    assert_eq!(refused(&mut net.remote(), &c.orange)[3], "Wrong PED Key.");
    assert_eq!(body(&mut net.remote())[0], "Keys read: 02 of 03", "still waiting for a third split");
    net.remote().hold_clear();
    net.finish().failed_with("CKR_CANCEL");
    net.remote().press("enter");
    assert_eq!(net.state_text(), before, "nothing counted, nothing kept");
    // A forgotten PIN is a lost key (seed 4838): it fails only once the quorum is in.
    ceremony::so_login(&mut net, &[c.blue(0), c.blue(6), (&c.blue[3], "123456")]).failed_with("CKR_PIN_INCORRECT");
    assert_eq!(net.state_json()["so_failures"], 1);
}

/// Three SO logins with forgotten PINs: the HSM zeroises (its RPV stays).
fn lose_the_hsm_so(net: &mut Net, c: &Ceremony) {
    for _ in 0..3 {
        let out = ceremony::so_login(net, &[(&c.blue[0], "1111"), (&c.blue[1], "2222"), (&c.blue[3], "3333")]);
        out.failed_with("CKR_PIN_INCORRECT");
    }
}

#[test]
fn three_failed_hsm_so_logins_zeroise_the_hsm_its_rpv_kept_and_init_reuses_the_domain() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    let domain = net.state_json()["domain"].clone();
    lose_the_hsm_so(&mut net, &c);
    let zeroised = net.state_json();
    assert!(zeroised["so"].is_null() && zeroised["domain"].is_null() && zeroised["label"].is_null(), "{zeroised}");
    net.cli(&["role", "login", "-name", "so"]).failed_with("CKR_USER_PIN_NOT_INITIALIZED");

    // A new HSM SO keyset on the old (rewritable) blue keys, the original red domain
    // reused. The RPV survives a zeroisation (unlike `hsm factoryreset`), so the same
    // link and orange key serve.
    net.start(&["hsm", "init", "-label", "reborn"]);
    net.remote().shape(1, 1);
    net.remote().wait("(BLUE)", 10);
    net.remote().insert(&c.blue[0]);
    net.remote().press("enter");
    assert_eq!(body(&mut net.remote())[1..4], ["This PED Key is for", "SO.", "Overwrite? YES/NO"]);
    net.remote().press("yes");
    assert_eq!(body(&mut net.remote())[1..4], ["Are you sure you", "want to overwrite", "this PED key? YES/NO"]);
    net.remote().press("yes");
    for _ in 0..2 {
        net.remote().type_digits("8080");
        net.remote().press("enter");
    }
    net.remote().press("no");
    ceremony::reuse(&mut net.remote(), &[(&c.red[2], ""), (&c.red[0], RED_PINS[0]), (&c.red[9], RED_PINS[9])]);
    net.finish().ok();
    let state = net.state_json();
    assert_eq!(state["domain"], domain, "the cloning domain is the original one");
    assert_eq!(state["label"], "reborn");
    assert!(state["rpv"].is_object(), "the RPV was kept");

    // The old keys no longer log in; the new one does.
    ceremony::so_login(&mut net, &[c.blue(1), c.blue(2), c.blue(3)]).failed_with("CKR_PIN_INCORRECT");
    ceremony::so_login(&mut net, &[(&c.blue[0], "8080")]).ok();
}

const PO_PIN: &str = "1357";
const CO_PIN: &str = "2468";

#[test]
fn a_lost_hsm_so_keyset_factory_reset_then_the_original_domain_orange_partition_and_co_keys() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    // The partition as it was: created by the HSM SO, its Partition SO (blue, PIN) and
    // domain (red), and a CO (black, PIN).
    ceremony::so_login(&mut net, &c.blue_quorum()).ok();
    net.cli(&["partition", "create"]).ok();
    let [po, pdomain, co] = <[String; 3]>::try_from(net.blank(3)).expect("three keys");
    net.start(&["partition", "init", "-label", "part1"]);
    ceremony::create_one(&mut net.remote(), "(BLUE)", &po, PO_PIN);
    ceremony::create_one(&mut net.remote(), "(RED)", &pdomain, "");
    net.finish().ok();
    ceremony::role_login(&mut net, Which::Remote, "po", &[(&po, PO_PIN)]).ok();
    ceremony::role_init(&mut net, Which::Remote, "co", &co, CO_PIN).ok();
    let old = net.state_json();
    let identity = std::fs::read(net.hsm_dir().join("identity.json")).expect("identity.json");

    // The HSM SO PINs are forgotten (seed 5062): the keys no longer log in.
    let lost = [(&c.blue[0], "1111"), (&c.blue[1], "2222"), (&c.blue[3], "3333")];
    let lost: Vec<_> = lost.iter().map(|(s, p)| (s.as_str(), *p)).collect();
    ceremony::so_login(&mut net, &lost).failed_with("CKR_PIN_INCORRECT");
    assert_eq!(net.state_json()["so_failures"], 1);

    // Step 2: the factory reset. Without -force it only says what it would destroy.
    let out = net.cli(&["hsm", "factoryreset"]);
    out.failed_with("0x00000007 (CKR_ARGUMENTS_BAD)");
    assert!(out.text.contains("Run `hsm factoryreset -force` to go ahead."), "{}", out.text);
    let mut unchanged = old.clone();
    unchanged["so_failures"] = 1.into();
    assert_eq!(net.state_json(), unchanged);
    let out = net.cli(&["hsm", "factoryreset", "-force"]);
    out.ok();
    assert!(out.text.starts_with("The HSM is reset to its factory state; run `hsm init`"), "{}", out.text);
    let reset = net.state_json();
    for field in ["label", "so", "domain", "auditor", "partition", "rpv"] {
        assert!(reset[field].is_null(), "{field}: {reset}");
    }
    assert_eq!((reset["so_failures"].clone(), reset["auditor_failures"].clone()), (0.into(), 0.into()));
    assert_eq!(std::fs::read(net.hsm_dir().join("identity.json")).expect("identity.json"), identity);
    let show = net.cli(&["ped", "show"]);
    for line in
        ["HSM label: (zeroised)", "RPV initialized: No", "Remote PED: not connected (ended by hsm factoryreset)"]
    {
        assert!(show.text.lines().any(|l| l == line), "{line}:\n{}", show.text);
    }
    net.cli(&["role", "login", "-name", "so"]).failed_with("CKR_USER_PIN_NOT_INITIALIZED");

    // Step 3, at the local PED the HSM went back to: a new HSM SO keyset (written over
    // a lost-PIN blue key), the original red HSM domain reused.
    net.start(&["hsm", "init", "-label", "reborn"]);
    net.local().shape(1, 1);
    net.local().wait("(BLUE)", 10);
    net.local().insert(&c.blue[0]);
    net.local().press("enter");
    assert_eq!(body(&mut net.local())[1..4], ["This PED Key is for", "SO.", "Overwrite? YES/NO"]);
    net.local().press("yes");
    net.local().press("yes");
    for _ in 0..2 {
        net.local().type_digits("8080");
        net.local().press("enter");
    }
    net.local().press("no");
    ceremony::reuse(&mut net.local(), &[(&c.red[2], ""), (&c.red[0], RED_PINS[0]), (&c.red[9], RED_PINS[9])]);
    net.finish().ok();
    let state = net.state_json();
    assert_eq!((state["label"].clone(), state["domain"].clone()), ("reborn".into(), old["domain"].clone()));
    assert_eq!(
        state["so"]["keyset_id"],
        hex(ceremony::content(&net, &c.blue[0]).expect("written").split.keyset_id().as_bytes())
    );
    assert!(state["rpv"].is_null() && state["partition"].is_null(), "{state}");

    // Step 5: the RPV recreated, reusing the original orange key (seed 3862-3870: YES
    // at "reuse an existing keyset?"). Its RPK certificate is this HSM's HOC's, so the
    // HSM takes back the same RPV and RPK; the key is only read.
    ceremony::role_login(&mut net, Which::Local, "so", &[(&c.blue[0], "8080")]).ok();
    let from = net.screens(Which::Local).len();
    let orange_key = net.key(&c.orange);
    net.start(&["ped", "vector", "init"]);
    net.local().wait("reuse an existing", 60);
    assert_eq!(
        net.local().screen()[..5],
        ["reborn", "SETTING RPV...", "Would you like to", "reuse an existing", "keyset? (Y/N)"]
    );
    net.local().press("yes");
    net.local().present(&c.orange, ORANGE_PIN);
    net.local().wait("Are you duplicating", 10);
    net.local().press("no");
    net.finish().ok();
    net.local().remove();
    assert!(shown(&since(&net, Which::Local, from), "READING RPV..."));
    assert!(!shown(&since(&net, Which::Local, from), "M value?"), "nothing new is made");
    // The original RPV and RPK come back (a new RPK certificate for the same key: the HSM
    // keeps its own, protocol §13.2).
    for field in ["keyset_id", "rpv", "public_key"] {
        assert_eq!(net.state_json()["rpv"][field], old["rpv"][field], "the original {field}");
    }
    assert_eq!(net.key(&c.orange), orange_key);

    // The Remote PED still holds the original RPK in its cache, and it is this HSM's
    // again: the channel opens without the orange key being asked for.
    net.cli(&["ped", "connect"]).ok();
    let from = net.screens(Which::Remote).len();
    ceremony::so_login(&mut net, &[(&c.blue[0], "8080")]).ok();
    assert!(!shown(&since(&net, Which::Remote, from), "COMPUTE SESSION KEY."));

    // Steps 6-7: the partition recreated by the HSM SO and initialised with its
    // original blue and red keys; a new black CO key.
    net.cli(&["partition", "create"]).ok();
    net.start(&["partition", "init", "-label", "part1"]);
    ceremony::reuse(&mut net.remote(), &[(&po, PO_PIN)]);
    ceremony::reuse(&mut net.remote(), &[(&pdomain, "")]);
    net.finish().ok();
    let part = net.state_json()["partition"].clone();
    assert_eq!(
        (part["so"].clone(), part["domain"].clone()),
        (old["partition"]["so"].clone(), old["partition"]["domain"].clone())
    );
    assert!(part["co"].is_null(), "{part}");
    ceremony::role_login(&mut net, Which::Remote, "po", &[(&po, PO_PIN)]).ok();
    let new_co = net.blank(1).remove(0);
    ceremony::role_init(&mut net, Which::Remote, "co", &new_co, "").ok();

    // Step 8: the CO changes from the new black key back to the original one.
    ceremony::role_login(&mut net, Which::Remote, "co", &[(&new_co, "")]).ok();
    net.start(&["role", "changepw", "-name", "co"]);
    net.remote().login("READING CO PIN...", &[(&new_co, "")]);
    ceremony::reuse(&mut net.remote(), &[(&co, CO_PIN)]);
    net.finish().ok();
    let after = net.state_json();
    assert_eq!(after["partition"], old["partition"], "the partition's keysets are the original ones again");
    ceremony::role_login(&mut net, Which::Remote, "co", &[(&co, CO_PIN)]).ok();
    ceremony::role_login(&mut net, Which::Remote, "co", &[(&new_co, "")]).failed_with("CKR_PIN_INCORRECT");
    ceremony::so_login(&mut net, &c.blue_quorum()).failed_with("CKR_PIN_INCORRECT");
}

#[test]
fn a_lost_orange_key_the_rpv_rotated_remotely_then_at_a_local_ped() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    let rpv0 = net.state_json()["rpv"].clone();

    // Seed 3926-3950, remotely: the link was opened with the original orange key.
    ceremony::so_login(&mut net, &c.blue_quorum()).ok();
    let oranges = net.blank(2);
    let (second, third) = (&oranges[0], &oranges[1]);
    net.start(&["ped", "vector", "init"]);
    net.remote().shape(1, 1);
    net.remote().write("(ORANGE)", &[(second, "")], &[]);
    net.finish().ok();
    let rpv1 = net.state_json()["rpv"].clone();
    assert_ne!(rpv1, rpv0);

    // The second orange key is lost: only a local PED can make a third.
    net.cli(&["ped", "disconnect"]).ok();
    ceremony::role_login(&mut net, Which::Local, "so", &c.blue_quorum()).ok();
    net.start(&["ped", "vector", "init"]);
    net.local().shape(1, 1);
    net.local().write("(ORANGE)", &[(third, ORANGE_PIN)], &[]);
    net.finish().ok();
    net.local().remove();
    assert_ne!(net.state_json()["rpv"], rpv1);
    assert!(shown(&net.screens(Which::Local), "SETTING RPV..."));

    // The remote PED forgets its cached RPK (seed 3717), so the orange key is asked for:
    // the old ones are of keysets the HSM no longer lists, refused at the PED before
    // their PIN and never counted; the new one opens the channel.
    ceremony::leave_mode(&mut net.remote());
    net.cli(&["ped", "connect"]).ok();
    net.start(&["role", "login", "-name", "so"]);
    net.remote().wait("COMPUTE SESSION KEY.", 60);
    for old in [&c.orange, second] {
        assert_eq!(refused(&mut net.remote(), old)[3..5], ["This PED Key is not", "for this HSM."]);
    }
    net.remote().present(third, ORANGE_PIN);
    net.remote().login("SO LOGIN...", &c.blue_quorum());
    net.finish().ok();
    assert_eq!(net.state_json()["rpv_failures"], 0);
}

#[test]
fn admin_mode_identifies_keys_and_duplicates_one_that_then_logs_in() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    let blank = net.blank(1).remove(0);
    // The local PED (Local PED-USB since the RPV was made on it) lost its host when the
    // HSM went over to the Remote PED; it goes to Admin mode.
    net.local().wait("Host link lost.", 10);
    ceremony::enter_admin_mode(&mut net.local());
    assert_eq!(
        net.local().screen()[..7],
        ["Admin mode...", "1 PED Key", "5 Backup Devices", "7 Software Update", "9 Self Test", "", "< EXIT"]
    );
    net.local().press("1");
    assert_eq!(net.local().screen()[..5], ["PED Key mode", "1 Login", "3 List types", "", "< EXIT"]);

    // Seed 5149-5190: List types names the secret, nothing about its owner or quorum.
    for (serial, name) in [(&c.red[0], "Domain"), (&c.blue[3], "SO"), (&c.orange, "Remote PED"), (&blank, "Blank")] {
        assert_eq!(ceremony::list_type(&mut net.local(), serial), name);
    }

    // Seed 5196-5220: Login to the key, then 7 Duplicate.
    net.local().insert(&c.blue[0]);
    net.local().press("1");
    assert_eq!(net.local().screen()[..5], ["PED Key mode", "2 Logout", "3 List types", "7 Duplicate", "< EXIT"]);
    net.local().press("7");
    assert_eq!(net.local().screen()[..2], ["PED Key mode", "DUPLICATE..."]);
    assert_eq!(body(&mut net.local()), ["Keys copied: 00", "Insert a blank or", "reusable PED Key", "Press ENTER."]);
    // Not onto itself.
    net.local().press("enter");
    assert_eq!(body(&mut net.local())[1..3], ["This is the key", "being copied."]);
    net.local().press("enter");
    // A key with a secret asks twice (seed 4903-4915); NO keeps it.
    let red = net.key(&c.red[4]);
    net.local().insert(&c.red[4]);
    net.local().press("enter");
    assert_eq!(body(&mut net.local())[1..4], ["This PED Key is for", "Domain.", "Overwrite? YES/NO"]);
    net.local().press("yes");
    assert_eq!(body(&mut net.local())[1..4], ["Are you sure you", "want to overwrite", "this PED key? YES/NO"]);
    net.local().press("no");
    assert_eq!(net.key(&c.red[4]), red, "declined: the red key is untouched");
    net.local().insert(&blank);
    net.local().press("enter");
    assert_eq!(body(&mut net.local())[1..3], ["This PED Key is", "blank."]);
    net.local().press("yes");
    assert_eq!(body(&mut net.local()), ["Keys copied: 01", "Copy another", "PED Key? (Y/N)"]);
    net.local().press("no");
    assert_eq!(net.key(&blank), net.key(&c.blue[0]), "an exact copy");
    assert_eq!(ceremony::list_type(&mut net.local(), &blank), "SO");

    // The copy, carried to the remote PED, logs in with the original's PIN, but never
    // beside the original.
    net.local().remove();
    net.start(&["role", "login", "-name", "so"]);
    net.remote().login("SO LOGIN...", &[(&blank, BLUE_PINS[0])]);
    assert_eq!(refused(&mut net.remote(), &c.blue[0])[3..5], ["This PED Key was", "already presented."]);
    net.remote().present(&c.blue[1], BLUE_PINS[1]);
    net.remote().present(&c.blue[2], BLUE_PINS[2]);
    net.finish().ok();
}
