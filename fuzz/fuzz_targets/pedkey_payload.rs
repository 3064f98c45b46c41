//! `PedKeyPayload::decode` and `pedkey::identify` on any key content: no panic; what
//! decodes re-encodes to exactly its input; identify agrees with a full decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ped_proto::pedkey::{self, PedKeyPayload};

fuzz_target!(|data: &[u8]| {
    let identified = pedkey::identify(data);
    if let Ok(payload) = PedKeyPayload::decode(data) {
        assert_eq!(identified.ok(), Some(payload.colour));
        assert_eq!(&payload.encode().expect("a decoded payload encodes")[..], data);
    }
});
