//! Admin mode: PED Key (login, list types, duplicate), Backup Devices, Self Test.

mod common;

use common::*;
use ped_firmware::io::Button;
use ped_proto::pedkey::KeyColour;
use ped_proto::quorum::Quorum;

fn admin() -> Rig {
    let mut rig = Rig::new(TestHsm::new("HSM-190001").root());
    rig.digits("4");
    rig
}

#[test]
fn list_types_names_the_secret_on_the_key() {
    let mut rig = admin();
    let red = make_keyset(&mut rig.rng, KeyColour::Red, &[1; 32], Quorum::new(1, 1).unwrap(), &[Some("1234")]);
    let key = rig.add_key(Some(red.contents[0].clone()));
    rig.insert(key);
    rig.digits("1");
    rig.shows(&["PED Key mode", "1 Login", "3 List types", "", "< EXIT"]);
    rig.digits("3");
    rig.shows(&["PED Key mode", "Found keys:", "Domain", "", "Press ENTER."]);
    rig.enter();
    let blank = rig.add_key(None);
    rig.insert(blank);
    rig.digits("3");
    rig.shows(&["PED Key mode", "Found keys:", "Blank", "", "Press ENTER."]);
    rig.enter();
    rig.press(Button::Back);
    rig.shows(&["Admin mode...", "1 PED Key", "5 Backup Devices", "7 Software Update", "9 Self Test", "", "< EXIT"]);
}

#[test]
fn login_then_duplicate_makes_exact_copies() {
    let mut rig = admin();
    let blue = make_keyset(&mut rig.rng, KeyColour::Blue, &[2; 32], Quorum::new(2, 3).unwrap(), &[Some("1234")]);
    let source = rig.add_key(Some(blue.contents[0].clone()));
    let used = rig.add_key(Some(blue.contents[1].clone()));
    let blank = rig.add_key(None);
    rig.insert(source);
    rig.digits("11");
    rig.shows(&["PED Key mode", "2 Logout", "3 List types", "7 Duplicate", "< EXIT"]);
    rig.digits("7");
    rig.shows(&[
        "PED Key mode",
        "DUPLICATE...",
        "Keys copied: 00",
        "Insert a blank or",
        "reusable PED Key",
        "Press ENTER.",
    ]);
    rig.enter();
    rig.shows(&["PED Key mode", "DUPLICATE...", "  ** WARNING **", "This is the key", "being copied.", "Press ENTER."]);
    rig.enter();
    rig.insert(blank);
    rig.enter();
    rig.press(Button::Yes);
    rig.shows(&["PED Key mode", "DUPLICATE...", "Keys copied: 01", "Copy another", "PED Key? (Y/N)"]);
    rig.press(Button::Yes);
    rig.insert(used);
    rig.enter();
    rig.shows(&["PED Key mode", "DUPLICATE...", "  ** WARNING **", "This PED Key is for", "SO.", "Overwrite? YES/NO"]);
    rig.press(Button::Yes);
    rig.press(Button::Yes);
    rig.press(Button::No);
    assert_eq!(rig.keys()[blank].content, rig.keys()[source].content);
    assert_eq!(rig.keys()[used].content, rig.keys()[source].content);
    rig.shows(&["PED Key mode", "2 Logout", "3 List types", "7 Duplicate", "< EXIT"]);
    rig.digits("2");
    rig.shows(&["PED Key mode", "1 Login", "3 List types", "", "< EXIT"]);
}

#[test]
fn backup_devices_is_not_applicable() {
    let mut rig = admin();
    rig.digits("5");
    rig.shows(&["Backup Devices", "Not applicable to", "Luna 7.x.", "", "Press ENTER."]);
    rig.enter();
    assert_eq!(rig.lines()[0], "Admin mode...");
}

#[test]
fn self_test_reports_pass_and_fail() {
    let mut rig = admin();
    let key = rig.add_key(None);
    rig.digits("9");
    assert_eq!(rig.lines()[7], "Display OK? YES/NO");
    rig.press(Button::Yes);
    rig.shows(&["Self Test: keypad", "Press every key,", "then ENTER.", "Not yet pressed:", "1234567890 C < > Y N"]);
    rig.digits("1234567890");
    for b in [Button::Clear, Button::Back, Button::Log, Button::Yes, Button::No] {
        rig.press(b);
    }
    rig.shows(&["Self Test: keypad", "Press every key,", "then ENTER.", "Not yet pressed:"]);
    rig.enter();
    rig.insert(key);
    rig.enter();
    rig.shows(&["Self Test", "Keypad: PASS", "Display: PASS", "Key port: PASS", "", "Press ENTER."]);
    rig.enter();
    assert_eq!(rig.lines()[0], "Admin mode...");

    // A display judged bad, keys not pressed and no key: FAIL.
    rig.remove();
    rig.digits("9");
    rig.press(Button::No);
    rig.enter();
    rig.enter();
    rig.shows(&["Self Test", "Keypad: FAIL", "Display: FAIL", "Key port: FAIL", "", "Press ENTER."]);
}
