//! `kwp::unwrap` on any key and any bytes: no panic; whatever unwraps is a genuine
//! wrapping of its output under that key.
//!
//! Input: the selector (mode), then in raw mode one byte for the key length (0-40
//! bytes), the key, and the wrapped bytes; in edit mode the edit of a genuine wrapping
//! under the fixture's key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ped_proto::internal::kwp;
use ped_proto_fuzz::{Input, KWP_KEY, KWP_PLAINTEXT, fixture};

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::split(data) else { return };
    let (key, wrapped) = if input.edit {
        (KWP_KEY.to_vec(), input.message(&fixture().kwp_wrapped))
    } else {
        let Some((&key_len, rest)) = input.rest.split_first() else { return };
        let (key, wrapped) = rest.split_at(usize::from(key_len % 41).min(rest.len()));
        (key.to_vec(), wrapped.to_vec())
    };
    if let Ok(plain) = kwp::unwrap(&key, &wrapped) {
        assert_eq!(kwp::wrap(&key, &plain).as_deref(), Ok(&wrapped[..]));
        if input.edit {
            assert_eq!(&plain[..], KWP_PLAINTEXT);
        }
    }
});
