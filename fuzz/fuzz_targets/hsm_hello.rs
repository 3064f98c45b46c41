//! `HsmHello::decode`, then the PED's `receive_hello` on the same body: no panic; an
//! accepted body re-encodes to itself; the PED never accepts a hello whose
//! certificates differ from the genuine chain; a C(2e,2s) hello lists 1 to 4 orange
//! keysets, the other kinds none.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ped_proto::frame::{Frame, FrameType};
use ped_proto::handshake::HsmHello;
use ped_proto::handshake::messages::MAX_ORANGE_KEYSETS;
use ped_proto_fuzz::{Input, KINDS, body_of, fixture};

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::split(data) else { return };
    let fx = fixture();
    let body = input.message(body_of(&fx.transcript(input.kind()).hello));
    let Ok(hello) = HsmHello::decode(&body) else { return };
    assert_eq!(hello.encode().expect("a decoded hello re-encodes"), body);
    let keysets = hello.orange_keysets.len();
    if hello.kind.is_full_unified() {
        assert!((1..=MAX_ORANGE_KEYSETS).contains(&keysets), "{keysets} orange keysets decoded");
    } else {
        assert_eq!(keysets, 0, "a {:?} hello with orange keysets", hello.kind);
    }
    if body.len() > ped_proto::frame::MAX_BODY_LEN {
        return;
    }
    if fx.ped_respond(Frame { frame_type: FrameType::HsmHello, body: &body }).is_ok() {
        let genuine_chains = KINDS.map(|kind| HsmHello::decode(body_of(&fx.transcript(kind).hello)).map(|h| h.chain));
        assert!(genuine_chains.contains(&Ok(hello.chain)), "the PED accepted an altered chain");
    }
});
