//! Every screen of the PED's own flows can be left (issue 14, item 14). The seed's
//! keypad (lines 3496-3507): `<` returns to the previous menu, Yes and No answer a
//! question, Clear held five seconds resets an operation or a prompt (not a menu), and
//! a PED-key action times out after 200 seconds (line 4685). Each case brings a fresh
//! PED to one screen, leaves it one way and checks where the key holder lands.

mod common;

use common::*;
use ped_firmware::io::{Button, Event};
use ped_proto::command::{Activity, HsmCommand, Role, ShapeChoice};
use ped_proto::pedkey::KeyColour;
use ped_proto::quorum::{KeysetId, Quorum};

const SELECT: &[&str] = &["Select Mode", "1 Local PED-SCP", "4 Admin", "7 Remote PED", "0 Local PED-USB"];
const ADMIN: &[&str] = &["Admin mode...", "1 PED Key", "5 Backup Devices", "7 Software Update", "9 Self Test"];
const PED_KEY: &[&str] = &["PED Key mode", "1 Login", "3 List types", "", "< EXIT"];
const LOGGED_IN: &[&str] = &["PED Key mode", "2 Logout", "3 List types", "7 Duplicate", "< EXIT"];
const COPY_TARGET: &[&str] = &["PED Key mode", "DUPLICATE...", "Keys copied: 00", "Insert a blank or"];
const EXIT_WARNING: &[&str] = &["", "** WARNING **", "Exiting now will", "invalidate the RPK."];
const REMOTE_IDLE: &[&str] = &["Remote PED mode", "", "Awaiting HSM"];
const LOCAL_CONNECTED: &[&str] = &["Local PED-USB mode", "", "Connected to HSM", "HSM-200001"];
const SELF_TEST_KEY_PORT: &[&str] = &["Self Test: key port"];
const REUSE: &[&str] = &["SLOT", "SETTING SO PIN...", "Would you like to", "reuse an existing"];
const M_VALUE: &[&str] = &["SLOT", "SETTING SO PIN...", "M value? (1-16)"];
const WRITE_INSERT: &[&str] = &["SLOT", "SETTING SO PIN...", "Insert a", "SO / HSM Admin"];

/// How a screen is left.
#[derive(Clone, Copy, Debug)]
enum Leave {
    Press(Button),
    /// Clear held five seconds: "Operation reset.", then Enter.
    ClearHeld,
    /// 200 s without a key press: "Operation timed out.", then Enter.
    Timeout,
}

use Leave::{ClearHeld, Press, Timeout};

/// Brings `rig` to the screen, leaves it and checks that it lands on `lands` (the
/// first lines), through `notice` (a line of the screen shown first, gone at Enter).
fn leaves(name: &str, mut rig: Rig, leave: Leave, notice: Option<&str>, lands: &[&str]) {
    let before = rig.lines();
    match leave {
        Press(button) => rig.press(button),
        ClearHeld => {
            rig.press(Button::Clear);
            rig.event(Event::ClearHeld);
        }
        Timeout => {
            rig.tick(199_999);
            assert_eq!(rig.lines(), before, "{name}: still waiting 1 ms before the timeout");
            rig.tick(1);
        }
    }
    let notice = notice.or(match leave {
        Press(_) => None,
        ClearHeld => Some("Operation reset."),
        Timeout => Some("Operation timed out."),
    });
    if let Some(text) = notice {
        let shown = rig.lines();
        assert!(shown.iter().any(|l| l == text), "{name} / {leave:?}: expected {text:?}, the PED shows {shown:#?}");
        rig.enter();
    }
    let shown = rig.lines();
    assert!(
        shown.len() >= lands.len() && shown[..lands.len()] == *lands,
        "{name} / {leave:?}: from {before:#?} expected to land on {lands:#?}, the PED shows {shown:#?}"
    );
}

fn hsm() -> TestHsm {
    TestHsm::new("HSM-200001")
}

fn admin() -> Rig {
    let mut rig = Rig::new(hsm().root());
    rig.digits("4");
    rig
}

fn ped_key_menu() -> Rig {
    let mut rig = admin();
    rig.digits("1");
    rig
}

/// Admin → PED Key → Login with a blue key.
fn logged_in() -> Rig {
    let mut rig = admin();
    let blue = make_keyset(&mut rig.rng, KeyColour::Blue, &[2; 32], Quorum::new(1, 1).unwrap(), &[None]);
    let key = rig.add_key(Some(blue.contents[0].clone()));
    rig.insert(key);
    rig.digits("11");
    rig
}

/// Admin → PED Key → Duplicate: "Insert a blank or reusable PED Key".
fn duplicate() -> Rig {
    let mut rig = logged_in();
    rig.digits("7");
    rig
}

/// Duplicate, a blank key in the port: "This PED Key is blank. Overwrite? YES/NO".
fn duplicate_overwrite() -> Rig {
    let mut rig = duplicate();
    let blank = rig.add_key(None);
    rig.insert(blank);
    rig.enter();
    rig
}

/// Duplicate, one copy made: "Copy another PED Key? (Y/N)".
fn duplicate_another() -> Rig {
    let mut rig = duplicate_overwrite();
    rig.press(Button::Yes);
    rig
}

fn self_test() -> Rig {
    let mut rig = admin();
    rig.digits("9");
    rig
}

fn self_test_keypad() -> Rig {
    let mut rig = self_test();
    rig.press(Button::Yes);
    rig
}

fn self_test_key_port() -> Rig {
    let mut rig = self_test_keypad();
    rig.enter();
    rig
}

fn self_test_report() -> Rig {
    let mut rig = self_test_key_port();
    rig.enter();
    rig
}

fn remote() -> Rig {
    let mut rig = Rig::new(hsm().root());
    rig.digits("7");
    rig
}

fn exit_warning() -> Rig {
    let mut rig = remote();
    rig.press(Button::Back);
    rig
}

/// A connection before RPV initialisation: "Enter PED Password.".
fn password() -> Rig {
    let mut hsm = hsm();
    let mut rig = Rig::new(hsm.root());
    let _ = hsm.start_password(&mut rig);
    rig
}

/// A connection after RPV initialisation: the orange key, and its PIN if `pin`.
fn orange(pin: bool) -> Rig {
    let mut hsm = hsm();
    let mut rig = Rig::new(hsm.root());
    let rpk = hsm.new_rpk();
    let keyset = orange_keyset(&mut rig.rng, &rpk, Quorum::new(1, 1).unwrap(), &[Some("1234")]);
    let key = rig.add_key(Some(keyset.contents[0].clone()));
    rig.digits("7");
    let _ = hsm.start_rpv(&mut rig);
    if pin {
        rig.insert(key);
        rig.enter();
    }
    rig
}

/// A Local PED-USB channel, the HSM sending `command`.
fn local(command: impl FnOnce(&mut TestHsm) -> HsmCommand) -> Rig {
    let mut hsm = hsm();
    let mut rig = Rig::new(hsm.root());
    hsm.connect_local(&mut rig);
    let command = command(&mut hsm);
    hsm.send(&mut rig, &command);
    rig
}

fn login() -> Rig {
    local(|_| HsmCommand::ReadKeyset { prompt: prompt(Role::HsmSo, Activity::Login) })
}

/// A login, a key with a PIN presented: "Enter PED PIN:".
fn login_pin() -> Rig {
    let mut rig = login();
    let blue = make_keyset(&mut rig.rng, KeyColour::Blue, &[3; 32], Quorum::new(1, 1).unwrap(), &[Some("1234")]);
    let key = rig.add_key(Some(blue.contents[0].clone()));
    rig.insert(key);
    rig.enter();
    rig
}

fn create() -> Rig {
    local(|_| HsmCommand::CreateKeyset {
        prompt: prompt(Role::HsmSo, Activity::Setting),
        offer_reuse: true,
        shape: ShapeChoice::OnPed,
    })
}

fn m_value() -> Rig {
    let mut rig = create();
    rig.press(Button::No);
    rig
}

fn n_value() -> Rig {
    let mut rig = m_value();
    rig.digits("3");
    rig.enter();
    rig
}

/// Stage 3 of a 1-of-1 keyset: "Insert a SO / HSM Admin PED Key (BLUE)".
fn write() -> Rig {
    local(|hsm| HsmCommand::WriteSplits {
        prompt: prompt(Role::HsmSo, Activity::Setting),
        splits: hsm.wrap_splits(&[4; 32], Quorum::new(1, 1).unwrap(), KeysetId::from_bytes([4; 16])),
        offer_duplicates: true,
    })
}

fn write_overwrite() -> Rig {
    let mut rig = write();
    let blank = rig.add_key(None);
    rig.insert(blank);
    rig.enter();
    rig
}

fn write_new_pin() -> Rig {
    let mut rig = write_overwrite();
    rig.press(Button::Yes);
    rig
}

fn write_confirm_pin() -> Rig {
    let mut rig = write_new_pin();
    rig.digits("1234");
    rig.enter();
    rig
}

/// Stage 4: "Are you duplicating this keyset?(Y/N)".
fn write_duplicate() -> Rig {
    let mut rig = write_confirm_pin();
    rig.digits("1234");
    rig.enter();
    rig
}

/// The HSM's DuplicateKeyset: "Insert the SO / HSM Admin PED Key (BLUE)".
fn hsm_duplicate() -> Rig {
    local(|_| HsmCommand::DuplicateKeyset { prompt: prompt(Role::HsmSo, Activity::Reading) })
}

#[test]
fn admin_menus_go_back_with_less_than() {
    leaves("Admin menu", admin(), Press(Button::Back), None, SELECT);
    leaves("PED Key menu", ped_key_menu(), Press(Button::Back), None, ADMIN);
    leaves("PED Key menu, logged in", logged_in(), Press(Button::Back), None, ADMIN);
    // A menu is no operation: Clear held leaves it as it is (seed 3500), and no
    // timeout ends it.
    let mut rig = admin();
    rig.press(Button::Clear);
    rig.event(Event::ClearHeld);
    rig.tick(400_000);
    assert_eq!(rig.lines()[..ADMIN.len()], *ADMIN);
}

#[test]
fn admin_notices_and_the_log_go_back_with_enter() {
    let mut list_types = ped_key_menu();
    let key = list_types.add_key(None);
    list_types.insert(key);
    list_types.digits("3");
    let mut backup = admin();
    backup.digits("5");
    let mut update = admin();
    update.digits("7");
    let mut log = admin();
    log.press(Button::Log);
    for (name, rig, shown, lands) in [
        ("List types", list_types, "Blank", PED_KEY),
        ("Backup Devices", backup, "Luna 7.x.", ADMIN),
        ("Software Update, no vendor key", update, "this firmware.", ADMIN),
        ("the log", log, "Recent actions:", ADMIN),
    ] {
        assert!(rig.lines().iter().any(|l| l == shown), "{name}: {:#?}", rig.lines());
        leaves(name, rig, Press(Button::Enter), None, lands);
    }
}

#[test]
fn admin_duplicate_can_be_left_at_every_prompt() {
    for leave in [Press(Button::Back), ClearHeld, Timeout] {
        leaves("Duplicate, insert", duplicate(), leave, None, LOGGED_IN);
        leaves("Duplicate, overwrite?", duplicate_overwrite(), leave, None, LOGGED_IN);
        leaves("Duplicate, another?", duplicate_another(), leave, None, LOGGED_IN);
    }
    leaves("Duplicate, overwrite?", duplicate_overwrite(), Press(Button::No), None, COPY_TARGET);
    leaves("Duplicate, another?", duplicate_another(), Press(Button::No), None, LOGGED_IN);
}

#[test]
fn admin_self_test_can_be_left_at_every_step() {
    for leave in [ClearHeld, Timeout] {
        leaves("Self test, display", self_test(), leave, None, ADMIN);
        leaves("Self test, keypad", self_test_keypad(), leave, None, ADMIN);
        leaves("Self test, key port", self_test_key_port(), leave, None, ADMIN);
        leaves("Self test, report", self_test_report(), leave, None, ADMIN);
    }
    leaves("Self test, display", self_test(), Press(Button::Back), None, ADMIN);
    // `<` is a key under test on the keypad step, which Enter ends.
    leaves("Self test, keypad", self_test_keypad(), Press(Button::Enter), None, SELF_TEST_KEY_PORT);
    leaves("Self test, key port", self_test_key_port(), Press(Button::Back), None, ADMIN);
    leaves("Self test, report", self_test_report(), Press(Button::Back), None, ADMIN);
    leaves("Self test, report", self_test_report(), Press(Button::Enter), None, ADMIN);
}

#[test]
fn a_mode_is_left_through_its_warning() {
    leaves("Remote PED mode", remote(), Press(Button::Back), None, EXIT_WARNING);
    leaves("Exit warning", exit_warning(), Press(Button::No), None, REMOTE_IDLE);
    leaves("Exit warning", exit_warning(), Press(Button::Yes), None, SELECT);
}

#[test]
fn connection_prompts_end_with_clear_held_the_timeout_or_an_empty_password() {
    leaves("PED Password", password(), Press(Button::Enter), Some("No password."), REMOTE_IDLE);
    for leave in [ClearHeld, Timeout] {
        leaves("PED Password", password(), leave, None, REMOTE_IDLE);
        leaves("orange key", orange(false), leave, None, REMOTE_IDLE);
        leaves("orange key's PIN", orange(true), leave, None, REMOTE_IDLE);
    }
}

#[test]
fn hsm_prompts_end_with_clear_held_or_the_timeout() {
    for leave in [ClearHeld, Timeout] {
        for (name, rig) in [
            ("login, insert", login()),
            ("login, PIN", login_pin()),
            ("create, reuse?", create()),
            ("create, M", m_value()),
            ("create, N", n_value()),
            ("write, insert", write()),
            ("write, overwrite?", write_overwrite()),
            ("write, new PIN", write_new_pin()),
            ("write, confirm PIN", write_confirm_pin()),
            ("write, duplicate?", write_duplicate()),
            ("duplicate keyset, insert", hsm_duplicate()),
        ] {
            leaves(name, rig, leave, None, LOCAL_CONNECTED);
        }
    }
}

#[test]
fn hsm_prompts_go_back_with_no_and_less_than() {
    leaves("create, reuse?", create(), Press(Button::No), None, M_VALUE);
    leaves("create, M", m_value(), Press(Button::Back), None, REUSE);
    leaves("create, N", n_value(), Press(Button::Back), None, M_VALUE);
    leaves("write, overwrite?", write_overwrite(), Press(Button::No), None, WRITE_INSERT);
    leaves("write, duplicate?", write_duplicate(), Press(Button::No), None, LOCAL_CONNECTED);
    leaves("duplicate keyset, insert", hsm_duplicate(), Press(Button::Back), None, LOCAL_CONNECTED);
}
