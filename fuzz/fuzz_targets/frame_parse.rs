//! `Frame::parse`, `Frame::decode_exact` and `FrameHeader::decode` on any bytes: no
//! panic, and whatever is accepted re-encodes to exactly the bytes it came from.
//!
//! In edit mode the edit applies to one of the recorded frames (hello, key share,
//! finished, either first record) of the selected kind. libFuzzer learns no
//! dictionary from two-byte comparisons, so without a genuine frame to start from it
//! rarely guesses the magic and never gets past it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ped_proto::frame::{self, Frame, FrameHeader, HEADER_LEN};
use ped_proto_fuzz::{Input, KINDS, fixture};

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::split(data) else { return };
    let t = fixture().transcript(input.kind());
    let frames = [&t.hello, &t.share, &t.finished, &t.hsm_record, &t.ped_record];
    let data = input.message(frames[usize::from(input.pick) / KINDS.len() % frames.len()]);
    if let Some(header) = data.first_chunk::<HEADER_LEN>()
        && let Ok(decoded) = FrameHeader::decode(header)
    {
        assert_eq!(&decoded.encode(), header);
    }
    match Frame::parse(&data) {
        Ok(Some((frame, used))) => {
            assert_eq!(used, HEADER_LEN + frame.body.len());
            assert_eq!(frame::encode(frame.frame_type, frame.body), &data[..used]);
            let exact = Frame::decode_exact(&data);
            if used == data.len() { assert_eq!(exact, Ok(frame)) } else { assert!(exact.is_err()) }
        }
        // Needs more bytes: whatever is there is a proper prefix of a frame.
        Ok(None) => assert!(Frame::decode_exact(&data).is_err()),
        Err(e) => assert_eq!(Frame::decode_exact(&data), Err(e)),
    }
});
