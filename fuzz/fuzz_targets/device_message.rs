//! `DeviceMessage::decode` on any frame: no panic; only device control types decode;
//! what decodes re-encodes to exactly the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ped_proto::device::DeviceMessage;
use ped_proto::frame::Frame;

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = Frame::decode_exact(data) else { return };
    if let Ok(message) = DeviceMessage::decode(frame) {
        assert!(frame.frame_type.is_device_control());
        assert_eq!(message.encode().expect("a decoded message encodes"), data);
    }
});
