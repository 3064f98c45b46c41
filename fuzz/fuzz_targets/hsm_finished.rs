//! `HsmFinished::decode`, then the PED's `receive_finished`: no panic; exactly 64 bytes
//! decode; the PED accepts only the genuine tag.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ped_proto::frame::{Frame, FrameType};
use ped_proto::handshake::HsmFinished;
use ped_proto::internal::mac::TAG_LEN;
use ped_proto_fuzz::{Input, body_of, fixture, frame_of};

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::split(data) else { return };
    let fx = fixture();
    let t = fx.transcript(input.kind());
    let genuine = body_of(&t.finished);
    let body = input.message(genuine);
    let Ok(finished) = HsmFinished::decode(&body) else {
        assert_ne!(body.len(), TAG_LEN);
        return;
    };
    assert_eq!(finished.encode(), body);
    let (ped, _) = fx.ped_respond(frame_of(&t.hello)).expect("the recorded hello");
    let accepted = ped.receive_finished(Frame { frame_type: FrameType::HsmFinished, body: &body }).is_ok();
    assert_eq!(accepted, body == genuine, "the PED's verdict on a finished message");
});
