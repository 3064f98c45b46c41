//! Logins driven by the HSM's ReadKeyset, over Local PED-USB and Remote PED channels,
//! against the HSM end of ped-proto played by the test.

mod common;

use common::*;
use ped_firmware::io::Button;
use ped_proto::command::{Activity, HsmCommand, Notice, PedFailure, PedReply, Role};
use ped_proto::device::PedMode;
use ped_proto::frame::FrameType;
use ped_proto::pedkey::KeyColour;
use ped_proto::quorum::Quorum;

fn so_login() -> HsmCommand {
    HsmCommand::ReadKeyset { prompt: prompt(Role::HsmSo, Activity::Login) }
}

/// A rig connected over Local PED-USB, with a 3-of-5 blue keyset (keys 0-4; keys 0 and
/// 2 have PINs) in the drawer.
fn local_rig() -> (Rig, TestHsm, Keyset) {
    let mut hsm = TestHsm::new("HSM-150001");
    let mut rig = Rig::new(hsm.root());
    hsm.connect_local(&mut rig);
    assert_eq!(rig.ped().mode(), PedMode::LocalUsb, "the first hello selects the mode");
    let keyset = make_keyset(
        &mut rig.rng,
        KeyColour::Blue,
        &[0x5a; 32],
        Quorum::new(3, 5).unwrap(),
        &[Some("1234"), None, Some("98765")],
    );
    for content in &keyset.contents {
        rig.add_key(Some(content.clone()));
    }
    (rig, hsm, keyset)
}

fn splits_of(replies: &[PedReply]) -> &[ped_proto::command::WrappedSplit] {
    match replies.last() {
        Some(PedReply::Splits(splits)) => splits,
        other => panic!("expected Splits, got {other:?}"),
    }
}

#[test]
fn local_login_three_of_five_with_pins_reassembles_in_the_hsm() {
    let (mut rig, mut hsm, keyset) = local_rig();
    hsm.send(&mut rig, &so_login());
    assert_eq!(rig.drawn[rig.drawn.len() - 2].text_lines(), ["Local PED-USB mode", "Token found"]);
    rig.shows(&["SLOT", "SO LOGIN...", "Insert a", "SO / HSM Admin", "PED Key (BLUE)", "Press ENTER."]);

    present(&mut rig, 0, None);
    rig.shows(&["SLOT", "SO LOGIN...", "Enter PED PIN:"]);
    rig.digits("1234");
    rig.shows(&["SLOT", "SO LOGIN...", "Enter PED PIN:", "****"]);
    rig.enter();
    rig.shows(&[
        "SLOT",
        "SO LOGIN...",
        "Keys read: 01 of 03",
        "Insert another",
        "SO / HSM Admin",
        "PED Key (BLUE)",
        "Press ENTER.",
    ]);
    present(&mut rig, 1, None);
    rig.shows(&[
        "SLOT",
        "SO LOGIN...",
        "Keys read: 02 of 03",
        "Insert another",
        "SO / HSM Admin",
        "PED Key (BLUE)",
        "Press ENTER.",
    ]);
    present(&mut rig, 2, Some("98765"));

    let replies = hsm.replies(&mut rig);
    assert_eq!(replies.len(), 1);
    let splits = splits_of(&replies);
    assert_eq!(splits.len(), 3);
    assert!(
        splits.iter().all(|s| !s.wrapped.windows(8).any(|w| keyset.secret.windows(8).any(|x| x == w))),
        "no clear secret bytes on the wire"
    );
    let secret = hsm.reassemble(splits);
    assert!(keyset.verifier.check(&keyset.id, &secret));
    assert_eq!(rig.lines()[0], "Local PED-USB mode");
}

#[test]
fn a_wrong_pin_is_only_detected_by_the_hsm() {
    let (mut rig, mut hsm, keyset) = local_rig();
    hsm.send(&mut rig, &so_login());
    present(&mut rig, 0, Some("4321"));
    present(&mut rig, 1, None);
    present(&mut rig, 3, None);
    let replies = hsm.replies(&mut rig);
    let secret = hsm.reassemble(splits_of(&replies));
    assert!(!keyset.verifier.check(&keyset.id, &secret), "the verifier fails");
    assert!(replies.iter().all(|r| !matches!(r, PedReply::Failed(_))), "no error at the PED");
}

#[test]
fn wrong_colour_no_key_and_a_split_twice_are_re_prompted_and_never_counted() {
    let (mut rig, mut hsm, keyset) = local_rig();
    let red = make_keyset(&mut rig.rng, KeyColour::Red, &[1; 32], Quorum::new(1, 1).unwrap(), &[None]);
    let red_key = rig.add_key(Some(red.contents[0].clone()));
    let blank = rig.add_key(None);
    hsm.send(&mut rig, &so_login());

    // Enter with nothing in the port.
    rig.enter();
    rig.shows(&["SLOT", "SO LOGIN...", "  ** WARNING **", "No PED Key found.", "Press ENTER."]);
    rig.enter();
    present(&mut rig, red_key, None);
    rig.shows(&["SLOT", "SO LOGIN...", "  ** WARNING **", "Wrong PED Key.", "Not a", "PED Key (BLUE)", "Press ENTER."]);
    rig.enter();
    present(&mut rig, blank, None);
    rig.shows(&["SLOT", "SO LOGIN...", "  ** WARNING **", "This PED Key is", "blank.", "Press ENTER."]);
    rig.enter();
    present(&mut rig, 1, None);
    present(&mut rig, 1, None);
    rig.shows(&["SLOT", "SO LOGIN...", "  ** WARNING **", "This PED Key was", "already presented.", "Press ENTER."]);
    rig.enter();
    rig.shows(&[
        "SLOT",
        "SO LOGIN...",
        "Keys read: 01 of 03",
        "Insert another",
        "SO / HSM Admin",
        "PED Key (BLUE)",
        "Press ENTER.",
    ]);
    present(&mut rig, 3, None);
    present(&mut rig, 4, None);

    let replies = hsm.replies(&mut rig);
    assert_eq!(
        replies[..replies.len() - 1],
        [
            PedReply::Notice(Notice::NoKey),
            PedReply::Notice(Notice::WrongColour),
            PedReply::Notice(Notice::NoKey),
            PedReply::Notice(Notice::AlreadyPresented),
        ]
    );
    let secret = hsm.reassemble(splits_of(&replies));
    assert!(keyset.verifier.check(&keyset.id, &secret));
}

#[test]
fn the_key_action_timeout_is_reported_to_the_hsm() {
    let (mut rig, mut hsm, _) = local_rig();
    hsm.send(&mut rig, &so_login());
    rig.tick(199_000);
    assert!(rig.ped().busy());
    present(&mut rig, 1, None);
    // Each action of the key holder restarts the 200 s.
    rig.tick(199_000);
    assert!(hsm.replies(&mut rig).is_empty());
    rig.tick(1_000);
    assert_eq!(hsm.replies(&mut rig), [PedReply::Failed(PedFailure::Timeout)]);
    rig.shows(&["SLOT", "Operation timed out.", "", "Press ENTER."]);
    rig.enter();
    assert_eq!(rig.lines()[0], "Local PED-USB mode");
    // The PED keeps serving: the next login works.
    hsm.send(&mut rig, &so_login());
    assert!(rig.ped().busy());
}

#[test]
fn cancel_and_clear_held_end_the_operation() {
    let (mut rig, mut hsm, _) = local_rig();
    hsm.send(&mut rig, &so_login());
    hsm.send(&mut rig, &HsmCommand::Cancel);
    assert_eq!(hsm.replies(&mut rig), [PedReply::Failed(PedFailure::Cancelled)]);
    hsm.send(&mut rig, &so_login());
    rig.event(ped_firmware::io::Event::ClearHeld);
    assert_eq!(hsm.replies(&mut rig), [PedReply::Failed(PedFailure::Cancelled)]);
    // A second command while one runs is refused as busy.
    hsm.send(&mut rig, &so_login());
    hsm.send(&mut rig, &so_login());
    assert_eq!(hsm.replies(&mut rig), [PedReply::Failed(PedFailure::Busy)]);
}

#[test]
fn the_pin_entry_edits_with_clear_and_backspace() {
    let (mut rig, mut hsm, keyset) = local_rig();
    hsm.send(&mut rig, &so_login());
    present(&mut rig, 0, None);
    rig.digits("99");
    rig.press(Button::Clear);
    rig.shows(&["SLOT", "SO LOGIN...", "Enter PED PIN:"]);
    rig.digits("12345");
    rig.press(Button::Back);
    rig.shows(&["SLOT", "SO LOGIN...", "Enter PED PIN:", "****"]);
    rig.enter();
    present(&mut rig, 1, None);
    present(&mut rig, 3, None);
    let replies = hsm.replies(&mut rig);
    assert!(keyset.verifier.check(&keyset.id, &hsm.reassemble(splits_of(&replies))));
}

#[test]
fn remote_login_reads_the_orange_keys_then_caches_the_rpk() {
    let mut hsm = TestHsm::new("HSM-150002");
    let mut rig = Rig::new(hsm.root());
    let credential = hsm.new_rpk();
    let orange = orange_keyset(&mut rig.rng, &credential, Quorum::new(2, 3).unwrap(), &[Some("1111"), None, None]);
    let oranges: Vec<usize> = orange.contents.iter().map(|c| rig.add_key(Some(c.clone()))).collect();
    let blue = make_keyset(
        &mut rig.rng,
        KeyColour::Blue,
        &[0x33; 48],
        Quorum::new(3, 5).unwrap(),
        &[Some("24680"), Some("13579"), None, None, Some("11112222")],
    );
    let blues: Vec<usize> = blue.contents.iter().map(|c| rig.add_key(Some(c.clone()))).collect();

    rig.digits("7");
    assert_eq!(rig.ped().mode(), PedMode::Remote);
    let pending = hsm.start_rpv(&mut rig);
    rig.shows(&["HSM-150002", "COMPUTE SESSION KEY.", "Insert a", "RPK / Remote", "PED Key (ORANGE)", "Press ENTER."]);
    present(&mut rig, oranges[0], Some("1111"));
    rig.shows(&[
        "HSM-150002",
        "COMPUTE SESSION KEY.",
        "Keys read: 01 of 02",
        "Insert another",
        "RPK / Remote",
        "PED Key (ORANGE)",
        "Press ENTER.",
    ]);
    present(&mut rig, oranges[2], None);
    hsm.finish_rpv(&mut rig, pending);
    assert_eq!(rig.ped().info().rpk_serials, ["HSM-150002"]);

    hsm.send(&mut rig, &so_login());
    assert_eq!(rig.drawn[rig.drawn.len() - 2].text_lines(), ["Remote PED mode", "Token found"]);
    present(&mut rig, blues[4], Some("11112222"));
    present(&mut rig, blues[0], Some("24680"));
    present(&mut rig, blues[1], Some("13579"));
    let replies = hsm.replies(&mut rig);
    assert!(blue.verifier.check(&blue.id, &hsm.reassemble(splits_of(&replies))));

    // Reconnecting uses the cached RPK: no orange key asked for.
    let pending = hsm.start_rpv(&mut rig);
    hsm.finish_rpv(&mut rig, pending);
    assert!(!rig.ped().busy());

    // "<" warns that the RPK will be invalidated; YES forgets it.
    rig.press(Button::Back);
    rig.shows(&["", "** WARNING **", "Exiting now will", "invalidate the RPK.", "Confirm? YES/NO"]);
    rig.press(Button::No);
    assert_eq!(rig.ped().mode(), PedMode::Remote);
    rig.press(Button::Back);
    rig.press(Button::Yes);
    assert_eq!(frame_type(&one_frame(&mut rig)), FrameType::Record, "a close record ends the channel");
    assert_eq!(rig.ped().mode(), PedMode::SelectMode);
    assert!(rig.ped().info().rpk_serials.is_empty());
}

#[test]
fn a_password_channel_takes_the_one_time_password_from_the_keypad() {
    let mut hsm = TestHsm::new("HSM-150003");
    let mut rig = Rig::new(hsm.root());
    let (pending, mut password, text) = hsm.start_password(&mut rig);
    assert_eq!(rig.ped().mode(), PedMode::Remote);
    rig.shows(&["HSM-150003", "COMPUTE SESSION KEY.", "", "Enter PED Password."]);
    rig.digits(&text);
    rig.shows(&["HSM-150003", "COMPUTE SESSION KEY.", "", "Enter PED Password.", "", "********"]);
    rig.enter();
    let share = one_frame(&mut rig);
    let (session, finished) =
        pending.receive_key_share(ped_proto::frame::Frame::decode_exact(&share).unwrap(), &mut password).unwrap();
    rig.host(finished);
    hsm.session = Some(session);
    hsm.send(&mut rig, &so_login());
    assert!(rig.ped().busy());
}
