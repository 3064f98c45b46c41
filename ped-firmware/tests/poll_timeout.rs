//! `Ped::poll_timeout`: when the core next needs a tick, so that a driver sleeps until
//! then instead of ticking on a period. Due now while an idle PED has no ephemeral key
//! for the next handshake; the PED-key action's deadline while a key holder is at
//! work; nothing otherwise.

mod common;

use common::*;

#[test]
fn an_idle_ped_with_its_next_key_drawn_needs_no_tick() {
    let mut hsm = TestHsm::new("HSM-191001");
    let mut rig = Rig::new(hsm.root());
    assert!(rig.ped().ephemeral_ready());
    assert_eq!(rig.ped().poll_timeout(), None);

    hsm.connect_local(&mut rig);
    assert_eq!(rig.ped().poll_timeout(), Some(rig.now_ms), "the handshake took the key: a tick is due now");
    rig.tick(10);
    assert!(rig.ped().ephemeral_ready());
    assert_eq!(rig.ped().poll_timeout(), None);
}

#[test]
fn a_key_holder_at_work_needs_a_tick_at_the_deadline_which_each_action_moves() {
    let mut hsm = TestHsm::new("HSM-191002");
    let mut rig = Rig::new(hsm.root());
    let (_pending, _password, _) = hsm.start_password(&mut rig);
    assert!(rig.ped().busy());
    let timeout = 200_000;
    assert_eq!(rig.ped().poll_timeout(), Some(rig.now_ms + timeout));

    rig.tick(50_000);
    rig.digits("1");
    assert_eq!(rig.ped().poll_timeout(), Some(rig.now_ms + timeout), "a key press restarts the 200 s");

    // Ticked at the deadline, the handshake times out; the PED then wants its next key.
    let due = rig.ped().poll_timeout().unwrap();
    rig.tick(due - rig.now_ms);
    assert!(!rig.ped().busy());
    assert_eq!(rig.ped().poll_timeout(), None, "idle again, with the key drawn at power-on still unused");
}
