//! Remote RPV initialisation and what follows on the same connection (seed "To initialize
//! the RPV and create the orange key remotely"): once the orange keyset is written the
//! HSM drops the one-time-password channel and, at the next PED command, runs a C(2e,2s)
//! handshake with the new RPV over the same link; the PED asks for the new orange key.
//! On the in-memory net.

use ped_proto::frame::{Frame, FrameType};
use ped_proto::handshake::ChannelKind;
use ped_proto::pedkey::KeyColour;
use ped_testkit::ceremony::{self, ORANGE_PIN, Plan};
use ped_testkit::net::PEDSERVER_PORT;
use ped_testkit::{Hop, KeyHolder, Net, Toward, Which};

/// Whether any of `screens` has a line containing `text`.
fn shown(screens: &[Vec<String>], text: &str) -> bool {
    screens.iter().any(|s| s.iter().any(|l| l.contains(text)))
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The channel's frames in one recorded direction, relay control left out: each one's
/// type and, for a hello, its channel kind.
fn channel_frames(stream: &[u8]) -> Vec<(FrameType, Option<u8>)> {
    let mut out = Vec::new();
    let mut rest = stream;
    while let Ok(Some((frame, used))) = Frame::parse(rest) {
        let kind = (frame.frame_type == FrameType::HsmHello).then(|| frame.body[0]);
        if matches!(
            frame.frame_type,
            FrameType::HsmHello
                | FrameType::PedKeyShare
                | FrameType::HsmFinished
                | FrameType::HandshakeFailed
                | FrameType::Record
        ) {
            out.push((frame.frame_type, kind));
        }
        rest = &rest[used..];
    }
    out
}

#[test]
fn after_a_remote_rpv_init_hsm_init_on_the_same_connection_asks_for_the_new_orange_key() {
    let mut net = Net::default();
    let out = net.cli(&["ped", "connect", "-password"]);
    out.ok();
    let password =
        out.text.lines().find_map(|l| l.strip_prefix("Please attend to the PED and enter following password: "));
    let password = password.expect("the password is shown").to_owned();

    let orange = net.blank(1).remove(0);
    net.start(&["ped", "vector", "init"]);
    net.remote().password(&password);
    net.remote().shape(1, 1);
    net.remote().write("(ORANGE)", &[(&orange, ORANGE_PIN)], &[]);
    net.finish().ok();
    assert_eq!(ceremony::content(&net, &orange).expect("written").colour, KeyColour::Orange);
    let show = net.cli(&["ped", "show"]);
    assert!(show.text.contains("RPV initialized: Yes"), "{}", show.text);
    assert!(show.text.contains(&format!("Remote PED: connected to 127.0.0.1:{PEDSERVER_PORT}")), "{}", show.text);
    let screens_before = net.screens(Which::Remote).len();

    // No disconnect: `hsm init` on the same connection opens the RPV channel first.
    let one = Plan { m: 1, n: 1, pins: &[""] };
    let (blue, red) = ceremony::hsm_init(&mut net, Which::Remote, Some((&orange, ORANGE_PIN)), one, one);
    let state = net.state_json();
    assert_eq!(state["label"], "rig", "{state}");
    assert!(state["so"].is_object() && state["domain"].is_object(), "{state}");
    let after = &net.screens(Which::Remote)[screens_before..];
    assert!(shown(after, "COMPUTE SESSION KEY."), "the PED asked for the orange key");
    assert!(!shown(after, "Enter PED Password."), "the spent password is never asked for again");
    assert_eq!(net.connections(Hop::Relay), 1, "one TCP connection throughout");

    // What went over each channel, in order: the password channel carried only RPV
    // initialisation (CreateKeyset, then WriteSplits with the orange splits; Shape and
    // Written back), then the RPV channel carried `hsm init`'s two keysets.
    let (to_ped, to_hsm) =
        (channel_frames(&net.stream(Hop::Relay, Toward::Ped)), channel_frames(&net.stream(Hop::Relay, Toward::Hsm)));
    let (hello, finished, record, share) =
        (FrameType::HsmHello, FrameType::HsmFinished, FrameType::Record, FrameType::PedKeyShare);
    let (password_kind, rpv_kind) =
        (Some(ChannelKind::RemotePassword.to_byte()), Some(ChannelKind::RemoteRpv.to_byte()));
    let expected_to_ped = [
        (hello, password_kind),
        (finished, None),
        (record, None),
        (record, None),
        (hello, rpv_kind),
        (finished, None),
        (record, None),
        (record, None),
        (record, None),
        (record, None),
    ];
    assert_eq!(to_ped, expected_to_ped);
    let expected_to_hsm = [
        (share, None),
        (record, None),
        (record, None),
        (share, None),
        (record, None),
        (record, None),
        (record, None),
        (record, None),
    ];
    assert_eq!(to_hsm, expected_to_hsm);

    // And none of the secrets, in clear, on any link.
    let keys = [(orange.as_str(), ORANGE_PIN), (blue[0].as_str(), ""), (red[0].as_str(), "")];
    let secrets = ceremony::secrets(&net, &keys);
    for (i, stream) in net.captured().iter().enumerate() {
        for (j, secret) in secrets.iter().enumerate() {
            assert!(!contains(stream, secret), "secret {j} crossed link stream {i}");
        }
        assert!(!contains(stream, password.as_bytes()), "the password crossed link stream {i}");
        assert!(!contains(stream, ORANGE_PIN.as_bytes()), "the orange PIN crossed link stream {i}");
    }
    net.cli(&["ped", "disconnect"]).ok();
}
