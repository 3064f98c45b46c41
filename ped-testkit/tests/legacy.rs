//! An HSM on firmware 7.4.2 (`hsm-emu serve --firmware 7.4.2`) on the in-memory net:
//! its remote links speak only the legacy channel (docs/protocol.md §17), the Remote
//! PED says so on its screen, a remote `hsm init` and SO login work over it with no
//! secret on the wire; a wrong orange PIN and an altered nonce fail with their codes;
//! and an HSM on 7.7 cannot be downgraded by a hello rewritten on the way: a PED that
//! has met it refuses the legacy hello, and the HSM refuses the legacy answer of one
//! that has not.

use hsm_emu::channel::Firmware;
use ped_proto::frame::{self, Frame, FrameType};
use ped_proto::handshake::HsmHello;
use ped_proto::legacy::dh::DhKeyPair;
use ped_proto::legacy::{FirmwareVersion, LEGACY_HELLO_MARKER, LegacyHello};
use ped_proto::quorum::KeysetId;
use ped_testkit::ceremony::{self, ORANGE_PIN, RED_PINS};
use ped_testkit::net::{HSM_SERIAL, Settings};
use ped_testkit::wire::{Fault, Match, Rewriter, Tap};
use ped_testkit::{Hop, KeyHolder, Net, Toward, Which};

const LEGACY_SCREEN: &str = "Legacy HSM 7.4.2";

fn legacy_net() -> Net {
    let firmware = Firmware::parse("7.4.2").expect("a legacy firmware");
    Net::new(Settings { hsm_firmware: firmware, ..Settings::default() })
}

fn shown(screens: &[Vec<String>], text: &str) -> bool {
    screens.iter().any(|s| s.iter().any(|l| l.contains(text)))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The first body byte of every hello in `stream`: the channel kind, or the legacy marker.
fn hello_kinds(stream: &[u8]) -> Vec<u8> {
    let mut kinds = Vec::new();
    let mut rest = stream;
    while let Ok(Some((frame, used))) = Frame::parse(rest) {
        if frame.frame_type == FrameType::HsmHello {
            kinds.push(frame.body[0]);
        }
        rest = &rest[used..];
    }
    kinds
}

#[test]
fn a_7_4_2_hsm_runs_a_remote_hsm_init_and_login_over_the_legacy_channel() {
    let mut net = legacy_net();
    let c = ceremony::run(&mut net);
    assert!(shown(&net.screens(Which::Remote), LEGACY_SCREEN), "the PED names the legacy channel");
    ceremony::so_login(&mut net, &c.blue_quorum()).ok();
    // A new link: the PED answers from its RPK cache, on the legacy channel again.
    net.cli(&["ped", "disconnect"]).ok();
    net.cli(&["ped", "connect"]).ok();
    ceremony::so_login(&mut net, &c.blue_quorum()).ok();
    assert_eq!(
        hello_kinds(&net.stream(Hop::Relay, Toward::Ped)),
        [LEGACY_HELLO_MARKER; 2],
        "one legacy hello per link"
    );
    let show = net.cli(&["ped", "show"]);
    assert!(show.text.contains("RPV initialized: Yes"), "{}", show.text);

    let mut keys: Vec<(&str, &str)> = vec![(&c.orange, ORANGE_PIN)];
    keys.extend((0..10).map(|i| c.blue(i)));
    keys.extend(c.red.iter().zip(RED_PINS).map(|(s, p)| (s.as_str(), p)));
    let secrets = ceremony::secrets(&net, &keys);
    for (i, stream) in net.captured().iter().enumerate() {
        for (j, secret) in secrets.iter().enumerate() {
            assert!(!contains(stream, secret), "secret {j} crossed link stream {i}");
        }
        assert!(!contains(stream, b"LOGIN"), "a command in clear on link stream {i}");
    }
}

#[test]
fn a_wrong_orange_pin_is_a_nonce_mismatch_counted_as_a_failed_rpv_login() {
    let mut net = legacy_net();
    let orange = ceremony::local_rpv(&mut net);
    net.cli(&["ped", "connect"]).ok();
    let before = net.state_json();
    net.start(&["role", "login", "-name", "so"]);
    net.remote().login("COMPUTE SESSION KEY", &[(&orange, "11112222")]);
    let out = net.finish();
    out.failed_with("CKR_PIN_INCORRECT");
    assert!(out.text.contains("R1 did not come back"), "{}", out.text);
    let after = net.state_json();
    assert_eq!(after["rpv_failures"], 1, "{after}");
    assert_eq!(before["rpv"], after["rpv"], "the RPV stays");
    assert!(shown(&net.screens(Which::Remote), "HSM refused."));
}

#[test]
fn an_altered_nonce_from_the_hsm_is_refused_by_the_ped() {
    let mut net = legacy_net();
    ceremony::run(&mut net);
    net.cli(&["ped", "disconnect"]).ok();
    net.cli(&["ped", "connect"]).ok();
    let state = net.state_text();
    // The second HsmFinished is the HSM's E(P2 ‖ R2); the PED answers from its RPK cache.
    net.tap(Tap::once(Hop::Relay, Toward::Ped, Match::NthOfType(FrameType::HsmFinished, 1), Fault::Corrupt(20)));
    net.start(&["role", "login", "-name", "so"]);
    let out = net.finish();
    out.failed_with("PED_ERROR_INTEGRITY");
    assert!(shown(&net.screens(Which::Remote), "Nonce mismatch:"), "{:?}", net.screens(Which::Remote).last());
    assert_eq!(net.state_text(), state, "nothing changed at the HSM");
}

/// A man in the middle's legacy hello in place of the HSM's certified one, naming the
/// same HSM and the orange keysets it lists.
fn downgrade(hello: &[u8]) -> Vec<u8> {
    assert_eq!(ped_testkit::wire::frame_type(hello), Some(FrameType::HsmHello));
    let genuine = Frame::decode_exact(hello).ok().and_then(|f| HsmHello::decode(f.body).ok());
    let orange_keysets = genuine.map_or_else(|| vec![KeysetId::from_bytes([0x0a; 16])], |h| h.orange_keysets);
    let legacy = LegacyHello {
        firmware: FirmwareVersion::LEGACY_NEWEST,
        hsm_id: HSM_SERIAL.as_bytes().to_vec(),
        orange_keysets,
        public: *DhKeyPair::from_exponent(&[7; 32]).unwrap().public(),
    };
    frame::encode(FrameType::HsmHello, &legacy.encode().unwrap())
}

#[test]
fn a_7_7_hsm_cannot_be_downgraded_by_a_rewritten_hello() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    net.cli(&["ped", "disconnect"]).ok();
    net.cli(&["ped", "connect"]).ok();
    let state = net.state_text();
    net.tap(Tap::once(Hop::Relay, Toward::Ped, Match::Type(FrameType::HsmHello), Fault::Rewrite(Rewriter(downgrade))));
    net.start(&["role", "login", "-name", "so"]);
    let out = net.finish();
    out.failed_with("PED_ERROR_AUTH_FAILED");
    let screens = net.screens(Which::Remote);
    assert!(shown(&screens, "Legacy refused:"), "{:?}", screens.last());
    assert!(!shown(&screens, LEGACY_SCREEN), "the PED never asked for an orange key on the legacy channel");
    assert_eq!(net.state_text(), state, "nothing changed at the HSM");
    // The next login, untouched, works on the current channel.
    ceremony::so_login(&mut net, &c.blue_quorum()).ok();
}

#[test]
fn a_legacy_hello_while_a_current_channel_is_open_changes_nothing() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    ceremony::so_login(&mut net, &c.blue_quorum()).ok();
    let hellos = hello_kinds(&net.stream(Hop::Relay, Toward::Ped)).len();
    let injected = downgrade(&frame::encode(FrameType::HsmHello, &[0x03]));
    net.relay_inject(Toward::Ped, injected);
    net.drive();
    assert!(shown(&net.screens(Which::Remote), "Legacy refused:"));
    // The channel is still the one that was open: the next login needs no new hello.
    ceremony::so_login(&mut net, &c.blue_quorum()).ok();
    assert_eq!(hello_kinds(&net.stream(Hop::Relay, Toward::Ped)).len(), hellos + 1, "only the injected hello");
}

#[test]
fn a_7_7_hsm_refuses_the_legacy_answer_of_a_ped_that_never_saw_it() {
    let mut net = Net::default();
    let orange = ceremony::local_rpv(&mut net);
    net.cli(&["ped", "connect"]).ok();
    let state = net.state_text();
    net.tap(Tap::once(Hop::Relay, Toward::Ped, Match::Type(FrameType::HsmHello), Fault::Rewrite(Rewriter(downgrade))));
    net.start(&["role", "login", "-name", "so"]);
    // The Remote PED has not met this HSM: it takes the legacy hello, and says so.
    net.remote().login(LEGACY_SCREEN, &[(&orange, ORANGE_PIN)]);
    net.finish().failed_with("PED_ERROR_PROTOCOL");
    assert_eq!(net.state_text(), state, "no failed RPV login counted, nothing changed");
    let kinds: Vec<u8> = hello_kinds(&net.stream(Hop::Relay, Toward::Ped));
    assert_eq!(kinds, [LEGACY_HELLO_MARKER], "the HSM sent one hello, the rewritten one arrived");
    let finished = net.stream(Hop::Relay, Toward::Ped);
    let mut rest = finished.as_slice();
    while let Ok(Some((frame, used))) = Frame::parse(rest) {
        assert!(frame.frame_type != FrameType::HsmFinished, "the HSM never answered the legacy share");
        rest = &rest[used..];
    }
}
