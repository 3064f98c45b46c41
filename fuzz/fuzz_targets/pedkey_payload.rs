//! `PedKeyPayload::decode` and `pedkey::identify` on any key content: no panic; what
//! decodes re-encodes to exactly its input; identify agrees with a full decode; a key
//! of the older format 1 is always `OldKeyFormat`, never read (format 0 never existed:
//! such a key is damaged, not old).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ped_proto::pedkey::{self, FORMAT, MAGIC, MAX_PAYLOAD_LEN, PedKeyPayload};
use ped_proto::{DecodeError, Error};

fuzz_target!(|data: &[u8]| {
    let identified = pedkey::identify(data);
    if let [m0, m1, m2, m3, format, ..] = *data
        && [m0, m1, m2, m3] == MAGIC
        && format == FORMAT - 1
    {
        let old = Err(Error::Decode(DecodeError::OldKeyFormat(format)));
        assert_eq!(identified.map(|_| ()), old);
        if data.len() <= MAX_PAYLOAD_LEN {
            assert_eq!(PedKeyPayload::decode(data).map(|_| ()), old);
        }
    }
    if let Ok(payload) = PedKeyPayload::decode(data) {
        assert_eq!(identified.ok(), Some(payload.colour));
        assert_eq!(&payload.encode().expect("a decoded payload encodes")[..], data);
    }
});
