//! The USB reassembler and the emulated endpoint's record reader on any byte stream:
//! no panic; every frame they give back is a whole, valid frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ped_proto::frame::Frame;
use ped_proto::usb::{Reassembler, SocketPacketReader};

fuzz_target!(|data: &[u8]| {
    let mut reader = SocketPacketReader::new();
    let mut reassembler = Reassembler::new();
    reader.extend(data);
    while let Ok(Some(packet)) = reader.next_packet() {
        if let Ok(Some(frame)) = reassembler.push(&packet) {
            assert!(Frame::decode_exact(&frame).is_ok());
        }
    }
});
