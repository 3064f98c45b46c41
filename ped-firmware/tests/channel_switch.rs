//! A hello on a link whose channel is open starts over (docs/protocol.md §3): the HSM
//! relies on it after a remote RPV initialisation, when it leaves the one-time-password
//! channel for one under the new RPV on the same link.

mod common;

use common::*;
use ped_proto::command::{Activity, HsmCommand, Role};
use ped_proto::frame::{Frame, FrameType};
use ped_proto::quorum::Quorum;

#[test]
fn an_rpv_hello_replaces_an_open_password_channel_and_asks_for_the_orange_key() {
    let mut hsm = TestHsm::new("HSM-150004");
    let mut rig = Rig::new(hsm.root());
    let (pending, mut password, text) = hsm.start_password(&mut rig);
    rig.digits(&text);
    rig.enter();
    let share = one_frame(&mut rig);
    let (mut old, finished) = pending.receive_key_share(Frame::decode_exact(&share).unwrap(), &mut password).unwrap();
    rig.host(finished);
    assert!(rig.take_sent().is_empty(), "the password channel is open");

    // The orange key that RPV initialisation wrote (here, straight into the drawer).
    let credential = hsm.new_rpk();
    let orange = orange_keyset(&mut rig.rng, &credential, Quorum::new(1, 1).unwrap(), &[None]);
    let key = rig.add_key(Some(orange.contents[0].clone()));

    let pending = hsm.start_rpv(&mut rig);
    assert!(rig.take_sent().is_empty(), "the open channel is dropped quietly");
    rig.shows(&["HSM-150004", "COMPUTE SESSION KEY.", "Insert a", "RPK / Remote", "PED Key (ORANGE)", "Press ENTER."]);
    present(&mut rig, key, None);
    hsm.finish_rpv(&mut rig, pending);
    hsm.send(&mut rig, &HsmCommand::ReadKeyset { prompt: prompt(Role::HsmSo, Activity::Login) });
    assert!(rig.ped().busy(), "the RPV channel carries commands");

    // The password channel's keys are gone: a record sealed under them is refused, and
    // the PED says the channel is lost.
    rig.host(old.seal(&HsmCommand::Cancel.encode().unwrap()).unwrap());
    assert_eq!(frame_type(&one_frame(&mut rig)), FrameType::HandshakeFailed);
    rig.shows(&["Connection", "Connection lost.", "", "Press ENTER."]);
    assert!(!rig.ped().busy());
}
