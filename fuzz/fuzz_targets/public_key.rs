//! `EcdhPublicKey::from_uncompressed` and `from_sec1` on any bytes: no panic, and an
//! accepted uncompressed point re-encodes to itself (coordinates are reduced, the
//! encoding is canonical).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ped_proto::internal::ecdh::EcdhPublicKey;
use ped_proto_fuzz::{Input, fixture};

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::split(data) else { return };
    let genuine = fixture().identity.static_key.public().to_uncompressed();
    let bytes = input.message(&genuine);
    let uncompressed = EcdhPublicKey::from_uncompressed(&bytes);
    let sec1 = EcdhPublicKey::from_sec1(&bytes);
    if let Ok(key) = uncompressed {
        assert_eq!(key.to_uncompressed()[..], bytes[..]);
        assert_eq!(sec1, Ok(key));
    }
    if let (Ok(key), Some(0x04)) = (sec1, bytes.first()) {
        assert_eq!(key.to_uncompressed()[..], bytes[..]);
    }
});
