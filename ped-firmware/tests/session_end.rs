//! The host ends the session it relayed (device control SessionEnded, docs/protocol.md
//! §15.1): the PED stops claiming a connection to an HSM that is gone.

mod common;

use common::*;
use ped_firmware::io::Button;
use ped_proto::command::{Activity, HsmCommand, Role};
use ped_proto::device::{DeviceMessage, SessionEndReason};
use ped_proto::frame::{self, FrameType};
use ped_proto::quorum::Quorum;

const CONNECTED: [&str; 8] = ["Remote PED mode", "", "Connected to HSM", "HSM-150007", "", "", "", "< EXIT  > LOG"];
const AWAITING: [&str; 8] = ["Remote PED mode", "", "Awaiting HSM", "", "", "", "", "< EXIT  > LOG"];

/// A Remote PED with an open C(2e,2s) channel to HSM-150007, its RPK read from one
/// orange key.
fn remote_connected() -> (TestHsm, Rig) {
    let mut hsm = TestHsm::new("HSM-150007");
    let mut rig = Rig::new(hsm.root());
    let credential = hsm.new_rpk();
    let orange = orange_keyset(&mut rig.rng, &credential, Quorum::new(1, 1).unwrap(), &[None]);
    let key = rig.add_key(Some(orange.contents[0].clone()));
    let pending = hsm.start_rpv(&mut rig);
    present(&mut rig, key, None);
    hsm.finish_rpv(&mut rig, pending);
    rig.shows(&CONNECTED);
    (hsm, rig)
}

fn ended(reason: SessionEndReason) -> Vec<u8> {
    DeviceMessage::SessionEnded { reason }.encode().unwrap()
}

fn log_lines(rig: &mut Rig) -> Vec<String> {
    rig.press(Button::Log);
    let lines = rig.lines();
    rig.enter();
    lines
}

#[test]
fn an_hsm_disconnect_brings_back_the_waiting_screen_at_once() {
    let (mut hsm, mut rig) = remote_connected();
    rig.host(ended(SessionEndReason::HsmDisconnected));
    rig.shows(&AWAITING);
    assert!(rig.take_sent().is_empty(), "nobody is left to answer");
    assert!(log_lines(&mut rig).contains(&"HSM disconnected".to_owned()));

    // The old session's keys are gone: its next record finds no channel.
    hsm.send(&mut rig, &HsmCommand::ReadKeyset { prompt: prompt(Role::HsmSo, Activity::Login) });
    assert_eq!(frame_type(&one_frame(&mut rig)), FrameType::HandshakeFailed);
    assert!(!rig.ped().busy());

    // The RPK stays cached: the next connection needs no orange key.
    let pending = hsm.start_rpv(&mut rig);
    hsm.finish_rpv(&mut rig, pending);
    rig.shows(&CONNECTED);
}

#[test]
fn an_operation_cut_short_says_why_then_the_waiting_screen() {
    for (reason, text) in [
        (SessionEndReason::IdleTimeout, "Idle timeout."),
        (SessionEndReason::LinkLost, "Connection lost."),
        (SessionEndReason::HostEnded, "Server disconnected."),
        (SessionEndReason::HsmDisconnected, "HSM disconnected."),
    ] {
        let (mut hsm, mut rig) = remote_connected();
        hsm.send(&mut rig, &HsmCommand::ReadKeyset { prompt: prompt(Role::HsmSo, Activity::Login) });
        assert!(rig.ped().busy());
        rig.host(ended(reason));
        assert!(!rig.ped().busy(), "{reason:?}: the login is over");
        assert!(rig.take_sent().is_empty(), "{reason:?}: no Failed reply to an HSM that is gone");
        rig.shows(&["Connection", text, "", "Press ENTER."]);
        rig.enter();
        rig.shows(&AWAITING);
        // No PED-key action timeout fires later for the abandoned login.
        rig.tick(10 * 60 * 1000);
        rig.shows(&AWAITING);
        assert!(rig.take_sent().is_empty());
    }
}

#[test]
fn with_no_channel_nothing_changes_and_a_bad_reason_is_refused() {
    let hsm = TestHsm::new("HSM-150007");
    let mut rig = Rig::new(hsm.root());
    rig.digits("7");
    rig.shows(&AWAITING);
    let before = log_lines(&mut rig);
    rig.host(ended(SessionEndReason::LinkLost));
    rig.shows(&AWAITING);
    assert!(rig.take_sent().is_empty());
    assert_eq!(log_lines(&mut rig), before, "nothing ended, nothing logged");

    rig.host(frame::encode(FrameType::SessionEnded, &[9]));
    assert_eq!(rig.take_sent(), [frame::handshake_failed()]);
}
