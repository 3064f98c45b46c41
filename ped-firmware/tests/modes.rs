//! Modes, the keypad rules outside the key flows, device control and bad host input.

mod common;

use common::*;
use ped_firmware::io::{Button, Event};
use ped_proto::device::{DeviceMessage, PedMode};
use ped_proto::frame::{self, Frame, FrameType};

fn rig() -> Rig {
    Rig::new(TestHsm::new("HSM-160001").root())
}

#[test]
fn power_on_draws_select_mode_with_the_version() {
    let rig = rig();
    assert_eq!(
        rig.drawn[0].text_lines(),
        ["Select Mode", "1 Local PED-SCP", "4 Admin", "7 Remote PED", "0 Local PED-USB", "", "PED V.2.9.0-1"]
    );
    assert_eq!(rig.ped().mode(), PedMode::SelectMode);
}

#[test]
fn local_ped_scp_is_refused_with_a_message() {
    let mut rig = rig();
    rig.digits("1");
    rig.shows(&[
        "Local PED-SCP",
        "is not supported",
        "with HSM firmware",
        "7.x. Use Local",
        "PED-USB (0).",
        "",
        "Press ENTER.",
    ]);
    rig.enter();
    assert_eq!(rig.ped().mode(), PedMode::SelectMode);
    assert_eq!(rig.lines()[0], "Select Mode");
}

#[test]
fn each_mode_is_entered_from_the_menu_and_left_with_back() {
    let mut rig = rig();
    rig.digits("4");
    assert_eq!(rig.ped().mode(), PedMode::Admin);
    rig.shows(&["Admin mode...", "1 PED Key", "5 Backup Devices", "7 Software Update", "9 Self Test", "", "< EXIT"]);
    rig.press(Button::Back);
    assert_eq!(rig.ped().mode(), PedMode::SelectMode);

    rig.digits("0");
    assert_eq!(rig.ped().mode(), PedMode::LocalUsb);
    rig.shows(&["Local PED-USB mode", "", "Awaiting HSM", "", "", "", "", "< EXIT  > LOG"]);
    rig.press(Button::Back);
    rig.shows(&["", "** WARNING **", "Exiting now will", "invalidate the RPK.", "Confirm? YES/NO"]);
    rig.press(Button::Yes);
    assert_eq!(rig.ped().mode(), PedMode::SelectMode);

    rig.digits("7");
    assert_eq!(rig.ped().mode(), PedMode::Remote);
    rig.press(Button::Back);
    rig.press(Button::No);
    assert_eq!(rig.ped().mode(), PedMode::Remote);
}

#[test]
fn the_log_shows_actions_since_entering_the_mode() {
    let mut rig = rig();
    rig.digits("4");
    rig.press(Button::Back);
    rig.digits("7");
    rig.press(Button::Log);
    rig.shows(&["Recent actions:", "Mode: Remote PED", "", "", "", "", "", "Press ENTER."]);
    rig.press(Button::Enter);
    assert_eq!(rig.lines()[0], "Remote PED mode");
}

#[test]
fn clear_held_does_nothing_at_a_menu() {
    let mut rig = rig();
    rig.event(Event::ClearHeld);
    assert_eq!(rig.lines()[0], "Select Mode");
    rig.press(Button::Clear);
    rig.press(Button::Back);
    assert_eq!(rig.lines()[0], "Select Mode");
}

#[test]
fn the_first_hello_selects_the_mode_and_a_wrong_mode_is_refused() {
    let mut hsm = TestHsm::new("HSM-160002");
    let mut rig = Rig::new(hsm.root());
    rig.digits("7");
    let (_, hello) =
        ped_proto::handshake::hsm::start_local(&hsm.identity, ped_proto::handshake::SUPPORTED_VERSIONS, &mut hsm.rng)
            .unwrap();
    rig.host(hello);
    assert_eq!(one_frame(&mut rig), frame::handshake_failed());
    rig.shows(&["Connection", "Wrong PED mode.", "", "Press ENTER."]);
    rig.enter();
    rig.press(Button::Back);
    rig.press(Button::Yes);
    hsm.connect_local(&mut rig);
    assert_eq!(rig.ped().mode(), PedMode::LocalUsb);
    rig.shows(&["Local PED-USB mode", "", "Connected to HSM", "HSM-160002", "", "", "", "< EXIT  > LOG"]);
}

#[test]
fn an_untrusted_hsm_is_refused() {
    let mut hsm = TestHsm::new("HSM-160003");
    let mut rig = Rig::new(TestHsm::new("OTHER").root());
    let (_, hello) =
        ped_proto::handshake::hsm::start_local(&hsm.identity, ped_proto::handshake::SUPPORTED_VERSIONS, &mut hsm.rng)
            .unwrap();
    rig.host(hello);
    assert_eq!(one_frame(&mut rig), frame::handshake_failed());
}

#[test]
fn info_reports_version_serial_mode_and_protocols() {
    let mut rig = rig();
    rig.digits("0");
    rig.host(DeviceMessage::InfoRequest.encode().unwrap());
    let answer = one_frame(&mut rig);
    let DeviceMessage::Info(info) = DeviceMessage::decode(Frame::decode_exact(&answer).unwrap()).unwrap() else {
        panic!("not Info")
    };
    assert_eq!(info.firmware_version, "2.9.0-1");
    assert_eq!(info.serial, "PED-0001");
    assert_eq!(info.mode, PedMode::LocalUsb);
    assert_eq!(info.protocol_versions, [2]);
    assert!(info.rpk_serials.is_empty());
}

#[test]
fn malformed_host_frames_get_an_error_and_the_ped_keeps_serving() {
    let mut hsm = TestHsm::new("HSM-160004");
    let mut rig = Rig::new(hsm.root());
    hsm.connect_local(&mut rig);
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        b"junk".to_vec(),
        frame::encode(FrameType::HsmHello, b"\x01"),
        frame::encode(FrameType::PedKeyShare, &[]),
        frame::encode(FrameType::DeviceInfo, &[]),
        frame::encode(FrameType::HsmFinished, &[0; 64]),
    ];
    for bytes in garbage {
        rig.host(bytes);
        assert_eq!(rig.take_sent(), [frame::handshake_failed()]);
        rig.enter();
    }
    // A forged record ends the channel; a new handshake works.
    rig.host(frame::encode(FrameType::Record, &[0; 40]));
    assert_eq!(rig.take_sent(), [frame::handshake_failed()]);
    rig.enter();
    hsm.connect_local(&mut rig);
    rig.host(DeviceMessage::InfoRequest.encode().unwrap());
    assert_eq!(frame_type(&one_frame(&mut rig)), FrameType::DeviceInfo);
}

#[test]
fn any_key_sequence_leaves_a_defined_screen() {
    let mut rig = rig();
    let buttons = [
        Button::Digit(4),
        Button::Digit(1),
        Button::Digit(3),
        Button::Back,
        Button::Digit(9),
        Button::Yes,
        Button::Log,
        Button::Enter,
        Button::No,
        Button::Clear,
        Button::Digit(7),
        Button::Digit(0),
    ];
    let mut state = 12345u32;
    for _ in 0..3000 {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        rig.press(buttons[(state >> 16) as usize % buttons.len()]);
        assert!(!rig.lines().is_empty(), "never a blank screen");
    }
}
