//! `ChannelSession::open` on any frame, for each kind and each end: no panic; only
//! the peer's genuine first record opens; anything else is refused and poisons the
//! session, so that even the genuine record fails afterwards.
//!
//! Input: the selector (mode, kind and end), one byte for the frame type (a defined
//! type byte is that type, anything else is Record), then the body or its edit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ped_proto::Error;
use ped_proto::frame::{Frame, FrameType, MAX_BODY_LEN};
use ped_proto::record::{Opened, Role};
use ped_proto_fuzz::{Input, RECORD_PAYLOAD, body_of, fixture, frame_of};

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::split(data) else { return };
    let Some((&type_byte, rest)) = input.rest.split_first() else { return };
    let input = Input { rest, ..input };
    let fx = fixture();
    let kind = input.kind();
    let role = if (input.pick / 3).is_multiple_of(2) { Role::Hsm } else { Role::Ped };
    let frame_type = FrameType::from_byte(type_byte).unwrap_or(FrameType::Record);
    let genuine = fx.peer_record(kind, role);
    let mut body = input.message(body_of(genuine));
    body.truncate(MAX_BODY_LEN);

    let mut session = fx.fresh_session(kind, role);
    let opened = session.open(Frame { frame_type, body: &body });
    if frame_type == FrameType::Record && body == body_of(genuine) {
        assert_eq!(opened, Ok(Opened::Data(RECORD_PAYLOAD.to_vec().into())));
        return;
    }
    let expected = if frame_type == FrameType::Record { Error::RecordIntegrity } else { Error::UnexpectedMessage };
    assert_eq!(opened, Err(expected));
    assert_eq!(session.open(frame_of(genuine)), Err(Error::RecordIntegrity), "the session is poisoned");
});
