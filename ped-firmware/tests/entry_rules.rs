//! What the keypad's entries refuse, and when (issue 14, item 15): the orange key of a
//! connection under the seed's "COMPUTE SESSION KEY." (4146-4153); the PIN rule (4-48
//! digits, not starting with 0) at the first Enter, not after the confirmation; a 49th
//! digit, a 9th digit of the one-time password and a 3rd of M or N refused with a
//! notice; part of the one-time password answered with the 8 digits it needs; `<` on an
//! empty N back to M.

mod common;

use common::*;
use ped_firmware::io::Button;
use ped_proto::command::{Activity, HsmCommand, PedReply, Role, ShapeChoice};
use ped_proto::frame::Frame;
use ped_proto::pedkey::KeyColour;
use ped_proto::quorum::{KeysetId, Quorum};

const PIN_48: &str = "123456789012345678901234567890123456789012345678";

fn setting() -> ped_proto::command::Prompt {
    prompt(Role::HsmSo, Activity::Setting)
}

fn local() -> (Rig, TestHsm) {
    let mut hsm = TestHsm::new("HSM-210001");
    let mut rig = Rig::new(hsm.root());
    hsm.connect_local(&mut rig);
    (rig, hsm)
}

/// Stage 3 of a 1-of-1 keyset on a blank key, at "Enter new PED PIN:".
fn new_pin() -> (Rig, TestHsm) {
    let (mut rig, mut hsm) = local();
    let splits = hsm.wrap_splits(&[4; 32], Quorum::new(1, 1).unwrap(), KeysetId::from_bytes([4; 16]));
    hsm.send(&mut rig, &HsmCommand::WriteSplits { prompt: setting(), splits, offer_duplicates: false });
    let blank = rig.add_key(None);
    rig.insert(blank);
    rig.enter();
    rig.press(Button::Yes);
    rig.shows(&["SLOT", "SETTING SO PIN...", "Enter new PED PIN:"]);
    (rig, hsm)
}

#[test]
fn the_orange_key_of_a_connection_is_asked_under_compute_session_key() {
    let mut hsm = TestHsm::new("HSM-210002");
    let mut rig = Rig::new(hsm.root());
    let rpk = hsm.new_rpk();
    let keyset = orange_keyset(&mut rig.rng, &rpk, Quorum::new(2, 2).unwrap(), &[Some("1234"), None]);
    let keys: Vec<usize> = keyset.contents.iter().map(|c| rig.add_key(Some(c.clone()))).collect();
    rig.digits("7");
    let pending = hsm.start_rpv(&mut rig);
    rig.shows(&["HSM-210002", "COMPUTE SESSION KEY.", "Insert a", "RPK / Remote", "PED Key (ORANGE)", "Press ENTER."]);
    rig.insert(keys[0]);
    rig.enter();
    rig.shows(&["HSM-210002", "COMPUTE SESSION KEY.", "Enter PED PIN:"]);
    rig.digits("1234");
    rig.enter();
    rig.shows(&[
        "HSM-210002",
        "COMPUTE SESSION KEY.",
        "Keys read: 01 of 02",
        "Insert another",
        "RPK / Remote",
        "PED Key (ORANGE)",
        "Press ENTER.",
    ]);
    present(&mut rig, keys[1], None);
    hsm.finish_rpv(&mut rig, pending);
}

#[test]
fn a_new_pin_breaking_the_rule_is_refused_at_the_first_enter() {
    let (mut rig, _hsm) = new_pin();
    for bad in ["0123", "123"] {
        rig.digits(bad);
        rig.enter();
        rig.shows(&[
            "SLOT",
            "SETTING SO PIN...",
            "  ** WARNING **",
            "PIN: 4-48 digits,",
            "not starting with 0",
            "Press ENTER.",
        ]);
        rig.enter();
        rig.shows(&["SLOT", "SETTING SO PIN...", "Enter new PED PIN:"]);
    }
    rig.digits("1234");
    rig.enter();
    rig.shows(&["SLOT", "SETTING SO PIN...", "Enter new PED PIN:", "****", "Confirm new PED PIN:"]);
}

#[test]
fn a_49th_pin_digit_is_refused_with_a_notice() {
    let (mut rig, mut hsm) = new_pin();
    rig.digits(PIN_48);
    rig.digits("9");
    let too_long = ["SLOT", "SETTING SO PIN...", "  ** WARNING **", "A PIN has at most", "48 digits.", "Press ENTER."];
    rig.shows(&too_long);
    rig.enter();
    rig.shows(&["SLOT", "SETTING SO PIN...", "Enter new PED PIN:", "********************"]);
    rig.enter();
    rig.digits(PIN_48);
    rig.digits("9");
    rig.shows(&too_long);
    rig.enter();
    rig.enter();
    assert_eq!(hsm.replies(&mut rig), [PedReply::Written { keys: 1, duplicate_sets: 0 }]);

    // The PIN of a key being read: the same notice.
    let keyset = make_keyset(&mut rig.rng, KeyColour::Blue, &[5; 32], Quorum::new(1, 1).unwrap(), &[Some(PIN_48)]);
    let key = rig.add_key(Some(keyset.contents[0].clone()));
    hsm.send(&mut rig, &HsmCommand::ReadKeyset { prompt: prompt(Role::HsmSo, Activity::Login) });
    rig.insert(key);
    rig.enter();
    rig.digits(PIN_48);
    rig.digits("0");
    rig.shows(&["SLOT", "SO LOGIN...", "  ** WARNING **", "A PIN has at most", "48 digits.", "Press ENTER."]);
    rig.enter();
    rig.enter();
    let replies = hsm.replies(&mut rig);
    let Some(PedReply::Splits(splits)) = replies.last() else { panic!("{replies:?}") };
    assert!(keyset.verifier.check(&keyset.id, &hsm.reassemble(splits)), "the 48 digits typed unlock the key");
}

#[test]
fn part_of_the_one_time_password_says_that_8_digits_are_needed() {
    let mut hsm = TestHsm::new("HSM-210003");
    let mut rig = Rig::new(hsm.root());
    let (pending, mut password, text) = hsm.start_password(&mut rig);
    let needs_8 =
        ["HSM-210003", "COMPUTE SESSION KEY.", "  ** WARNING **", "The PED Password", "has 8 digits.", "Press ENTER."];
    rig.digits(&text[..7]);
    rig.enter();
    rig.shows(&needs_8);
    assert!(rig.take_sent().is_empty(), "the session goes on");
    rig.enter();
    rig.shows(&["HSM-210003", "COMPUTE SESSION KEY.", "", "Enter PED Password."]);
    rig.digits(&text);
    rig.digits("1");
    rig.shows(&needs_8);
    rig.enter();
    rig.shows(&["HSM-210003", "COMPUTE SESSION KEY.", "", "Enter PED Password.", "", "********"]);
    rig.enter();
    let share = one_frame(&mut rig);
    pending
        .receive_key_share(Frame::decode_exact(&share).unwrap(), &mut password)
        .expect("the password the HSM showed");
}

#[test]
fn less_than_on_an_empty_n_goes_back_to_m() {
    let (mut rig, mut hsm) = local();
    hsm.send(&mut rig, &HsmCommand::CreateKeyset { prompt: setting(), offer_reuse: false, shape: ShapeChoice::OnPed });
    rig.digits("3");
    rig.enter();
    rig.shows(&["SLOT", "SETTING SO PIN...", "N value? (M-16)", "", ">"]);
    rig.press(Button::Back);
    rig.shows(&["SLOT", "SETTING SO PIN...", "M value? (1-16)", "", ">03"]);
    rig.press(Button::Back);
    rig.digits("12");
    rig.digits("3");
    rig.shows(&["SLOT", "SETTING SO PIN...", "  ** WARNING **", "M must be 1-16.", "Press ENTER."]);
    rig.enter();
    rig.shows(&["SLOT", "SETTING SO PIN...", "M value? (1-16)", "", ">12"]);
    // No reuse question was offered: `<` on an empty M stays.
    rig.press(Button::Clear);
    rig.press(Button::Back);
    rig.shows(&["SLOT", "SETTING SO PIN...", "M value? (1-16)", "", ">"]);
    rig.digits("2");
    rig.enter();
    rig.digits("5");
    rig.enter();
    assert_eq!(hsm.replies(&mut rig), [PedReply::Shape(Quorum::new(2, 5).unwrap())]);
}
