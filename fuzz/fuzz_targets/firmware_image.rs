//! The firmware image header decoder and verifier on any bytes: no panic; an accepted
//! header re-encodes to itself; nothing but a genuine vendor-signed image verifies.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ped_firmware::update::image::{self, HEADER_LEN, Header, VendorKey};
use ped_proto::internal::ecdh::EcdhKeyPair;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// A key nobody signs with: no input may verify under it. Made once; P-521 key
/// generation would otherwise dominate every run.
fn stranger() -> &'static VendorKey {
    static KEY: OnceLock<VendorKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let point = EcdhKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(1)).public().to_uncompressed();
        VendorKey::from_sec1(&point).expect("a valid point")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Some(header) = data.first_chunk::<HEADER_LEN>()
        && let Ok(decoded) = Header::decode(header)
    {
        assert_eq!(&decoded.encode(), header);
    }
    assert!(image::verify(data, stranger()).is_err());
});
