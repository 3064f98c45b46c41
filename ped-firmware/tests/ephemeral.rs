//! The PED draws the next handshake's ephemeral key while it idles (on a tick), so
//! that key generation is off the handshake's critical path; each key serves one
//! handshake only, and a PED without a key ready draws one at the hello.

mod common;

use common::*;
use ped_proto::quorum::Quorum;

#[test]
fn a_tick_draws_the_next_ephemeral_key_and_a_handshake_takes_it() {
    let mut hsm = TestHsm::new("HSM-190001");
    let mut rig = Rig::new(hsm.root());
    assert!(rig.ped().ephemeral_ready(), "the rig's first tick drew one");

    hsm.connect_local(&mut rig);
    assert!(!rig.ped().ephemeral_ready(), "the handshake took it");
    rig.tick(10);
    assert!(rig.ped().ephemeral_ready(), "the next tick draws the next");
}

#[test]
fn no_key_serves_two_handshakes() {
    let mut hsm = TestHsm::new("HSM-190002");
    let mut rig = Rig::new(hsm.root());
    let mut shares = Vec::new();
    for ticks in [true, false, true] {
        if ticks {
            rig.tick(10);
        }
        let (pending, hello) = ped_proto::handshake::hsm::start_local(
            &hsm.identity,
            ped_proto::handshake::SUPPORTED_VERSIONS,
            &mut hsm.rng,
        )
        .unwrap();
        rig.host(hello);
        let share = one_frame(&mut rig);
        let (_, finished) = pending.receive_key_share(ped_proto::frame::Frame::decode_exact(&share).unwrap()).unwrap();
        rig.host(finished);
        assert!(!rig.ped().ephemeral_ready());
        // The share is version ‖ IDU ‖ EphemPubU: its bytes differ only by the key.
        shares.push(share);
    }
    assert_ne!(shares[0], shares[1], "without a tick between, the hello drew a new key");
    assert_ne!(shares[1], shares[2]);
    assert_ne!(shares[0], shares[2]);
}

#[test]
fn a_busy_ped_does_not_draw_and_the_orange_handshake_still_completes() {
    let mut hsm = TestHsm::new("HSM-190003");
    let mut rig = Rig::new(hsm.root());
    let orange = hsm.new_rpk();
    let keyset = orange_keyset(&mut rig.rng, &orange, Quorum::new(1, 1).unwrap(), &[Some("2468")]);
    let key = rig.add_key(Some(keyset.contents[0].clone()));
    hsm.connect_local(&mut rig);
    // Back to Select Mode, then the remote hello selects Remote PED mode.
    rig.press(ped_firmware::io::Button::Back);
    rig.press(ped_firmware::io::Button::Yes);
    rig.take_sent(); // the close record of the local channel
    assert!(!rig.ped().ephemeral_ready());

    let pending = hsm.start_rpv(&mut rig);
    assert!(rig.ped().busy());
    rig.tick(10);
    assert!(!rig.ped().ephemeral_ready(), "no draw while a key holder is at work");
    present(&mut rig, key, Some("2468"));
    hsm.finish_rpv(&mut rig, pending);
    assert!(!rig.ped().ephemeral_ready());
    rig.tick(10);
    assert!(rig.ped().ephemeral_ready());
}
