//! `PedKeyShare::decode` for the selected kind, then the HSM's `receive_key_share`: no
//! panic; an accepted body re-encodes to itself and decodes under no other kind; an
//! altered share never yields a channel (the remote kinds' HSM refuses it; the local
//! kind's PED refuses the HSM's answer to it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ped_proto::frame::{Frame, FrameType, MAX_BODY_LEN};
use ped_proto::handshake::PedKeyShare;
use ped_proto_fuzz::{Input, KINDS, body_of, fixture, frame_of};

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::split(data) else { return };
    let fx = fixture();
    let kind = input.kind();
    let genuine = body_of(&fx.transcript(kind).share);
    let body = input.message(genuine);
    let Ok(share) = PedKeyShare::decode(&body, kind) else { return };
    assert_eq!(share.encode(kind).expect("a decoded share re-encodes"), body);
    for other in KINDS.into_iter().filter(|k| *k != kind) {
        assert!(PedKeyShare::decode(&body, other).is_err(), "a {kind:?} share decodes as {other:?}");
    }
    if body.len() > MAX_BODY_LEN {
        return;
    }
    // Only shares that decode reach the P-521 work of the HSM, so this stays cheap.
    let (state, _) = fx.hsm_start(kind);
    match fx.hsm_receive(state, Frame { frame_type: FrameType::PedKeyShare, body: &body }) {
        Ok(_) if body == genuine => {}
        Err(e) if body == genuine => panic!("the HSM refused the genuine share: {e}"),
        Err(_) => {}
        Ok((_, finished)) => {
            // Local confirmation is unilateral (V to U): the HSM cannot tell an altered
            // share from a genuine one and answers both. The PED that sent the genuine
            // share must then refuse the answer, so no channel results.
            assert!(!kind.ped_confirms(), "the HSM accepted an altered {kind:?} share");
            let (ped, _) = fx.ped_respond(frame_of(&fx.transcript(kind).hello)).expect("the recorded hello");
            assert!(ped.receive_finished(frame_of(&finished)).is_err(), "an altered share yielded a channel");
        }
    }
});
