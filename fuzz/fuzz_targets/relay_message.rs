//! `RelayMessage::decode` and `HsmLinkMessage::decode` on any frame: no panic; only
//! relay control types decode; what decodes re-encodes to exactly the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ped_proto::frame::Frame;
use ped_proto::hsm_link::HsmLinkMessage;
use ped_proto::relay::RelayMessage;

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = Frame::decode_exact(data) else { return };
    if let Ok(message) = RelayMessage::decode(frame) {
        assert!(frame.frame_type.is_relay_control());
        assert_eq!(message.encode().expect("a decoded message encodes"), data);
    }
    if let Ok(message) = HsmLinkMessage::decode(frame) {
        assert!(frame.frame_type.is_relay_control());
        assert_eq!(message.encode().expect("a decoded message encodes"), data);
    }
});
