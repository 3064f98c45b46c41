//! The legacy channel's decoders (docs/protocol.md §17): `LegacyHello::decode`,
//! `LegacyShare::decode` and the nonce block on any bytes, then the PED's
//! `PedHelloReceived::receive` on an accepted hello: no panic; an accepted hello or
//! share re-encodes to itself; an accepted hello claims firmware 7.4.2 or older.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ped_proto::frame::{Frame, FrameType};
use ped_proto::legacy::messages::decode_nonce_block;
use ped_proto::legacy::{FirmwareVersion, LegacyHello, LegacyShare, PedHelloReceived};

fuzz_target!(|data: &[u8]| {
    if let Ok(hello) = LegacyHello::decode(data) {
        assert_eq!(hello.encode().expect("a decoded hello re-encodes"), data);
        assert!(hello.firmware <= FirmwareVersion::LEGACY_NEWEST, "a legacy hello from {}", hello.firmware);
        let frame = Frame { frame_type: FrameType::HsmHello, body: data };
        assert!(PedHelloReceived::receive(frame).is_ok(), "the PED refused a hello that decodes");
    }
    if let Ok(share) = LegacyShare::decode(data) {
        assert_eq!(share.encode().expect("a decoded share re-encodes"), data);
    }
    let _ = decode_nonce_block(data);
});
