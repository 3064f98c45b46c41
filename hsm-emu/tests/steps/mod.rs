//! What the hsm-emu tests' key holders do at the PED (ped-firmware's test rig, borrowed
//! as `common`), and the link's fixed values, written once for every test binary.
#![allow(dead_code, unreachable_pub, reason = "a module shared by test files; each uses part of it")]

use std::time::Duration;

use hsm_emu::conductor::Timeouts;
use ped_firmware::io::Button;
use ped_proto::frame::{Frame, FrameType};
use ped_proto::hsm_link::HsmLinkMessage;

use crate::common::Rig;

/// The seed's PED-key action timeout, and a link margin.
pub const TIMEOUTS: Timeouts = Timeouts { key: Duration::from_secs(200), link: Duration::from_secs(30) };

/// The type of a whole frame.
pub fn frame_type(bytes: &[u8]) -> FrameType {
    Frame::decode_exact(bytes).unwrap().frame_type
}

/// pedclient's Connected for a link it dialled.
pub fn connected() -> HsmLinkMessage {
    HsmLinkMessage::Connected {
        firmware_version: "2.9.0-1".into(),
        pedserver: "10.0.0.2:1503".into(),
        ped_initiated: false,
    }
}

/// The key holders choose M of N = 1 of 1 at a keyset's creation (no reuse).
pub fn one_of_one(rig: &mut Rig) {
    rig.press(Button::No);
    rig.digits("1");
    rig.enter();
    rig.digits("1");
    rig.enter();
}

/// Stage 3 on a blank key: insert, Enter, YES to overwrite, the new PIN twice.
pub fn write_blank(rig: &mut Rig, key: usize, pin: &str) {
    rig.insert(key);
    rig.enter();
    rig.press(Button::Yes);
    for _ in 0..2 {
        rig.digits(pin);
        rig.enter();
    }
}

/// A keyset's one key written on a blank key, then NO to a duplicate set.
pub fn write_single(rig: &mut Rig, key: usize, pin: &str) {
    write_blank(rig, key, pin);
    rig.press(Button::No);
}

/// The one-time password typed at the PED (Enter first if a notice is shown).
pub fn type_password(rig: &mut Rig, password: &str) {
    if !rig.lines().iter().any(|l| l.contains("Password")) {
        rig.enter();
    }
    rig.digits(password);
    rig.enter();
}
