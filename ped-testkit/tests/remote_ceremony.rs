//! The remote-PED ceremony end to end on the in-memory net: local RPV
//! initialisation, `ped connect`, `hsm init` over the Remote PED, quorum logins and the
//! failed-login rules; and the capture of every byte the relays carried.

use ped_proto::pedkey::KeyColour;
use ped_testkit::ceremony::{self, BLUE_PINS, ORANGE_PIN, RED_PINS};
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

#[test]
fn local_rpv_then_remote_hsm_init_and_so_login() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    assert!(shown(&net.screens(Which::Local), "SETTING RPV..."));
    let orange = ceremony::content(&net, &c.orange).expect("the orange key is written");
    assert_eq!(orange.colour, KeyColour::Orange);
    assert!(orange.pin_protected);
    assert_eq!(
        orange.masked_split.len(),
        ped_proto::orange::ORANGE_SEED_LEN,
        "the orange key holds a seed and nothing else"
    );

    let show = net.cli(&["ped", "show"]);
    assert!(show.text.contains(&format!("Remote PED: connected to 127.0.0.1:{PEDSERVER_PORT}")), "{}", show.text);
    assert!(show.text.contains("HSM label: rig") && show.text.contains("RPV initialized: Yes"), "{}", show.text);
    for (serials, colour) in [(&c.blue, KeyColour::Blue), (&c.red, KeyColour::Red)] {
        for serial in serials {
            let key = ceremony::content(&net, serial).expect("written");
            assert_eq!(key.colour, colour);
            assert_eq!((key.split.quorum().m(), key.split.quorum().n()), (3, 5));
        }
    }
    let screens = net.screens(Which::Remote);
    for text in ["COMPUTE SESSION KEY.", "SETTING SO PIN...", "SETTING DOMAIN...", "Keys write: 04 of 05"] {
        assert!(shown(&screens, text), "the remote PED showed {text}");
    }

    ceremony::so_login(&mut net, &c.blue_quorum()).ok();
    assert!(shown(&net.screens(Which::Remote), "Keys read: 02 of 03"));
    assert_eq!(net.state_json()["so_failures"], 0);
}

#[test]
fn a_wrong_pin_counts_after_the_quorum_three_zeroise_and_a_wrong_colour_is_not_counted() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);

    // A red key first: re-prompted, not counted; then a quorum with one wrong PIN.
    net.start(&["role", "login", "-name", "so"]);
    net.remote().login("SO LOGIN...", &[(&c.red[0], RED_PINS[0])]);
    assert!(net.remote().screen().iter().any(|l| l == "Wrong PED Key."), "{:?}", net.remote().screen());
    net.remote().press("enter");
    net.remote().present(&c.blue[0], BLUE_PINS[0]);
    net.remote().present(&c.blue[1], "111111");
    assert_eq!(net.state_json()["so_failures"], 0, "nothing is counted before the quorum");
    net.remote().present(&c.blue[2], BLUE_PINS[2]);
    net.finish().failed_with("CKR_PIN_INCORRECT");
    assert_eq!(net.state_json()["so_failures"], 1);

    for failures in 2..=3 {
        let out = ceremony::so_login(&mut net, &[c.blue(0), c.blue(1), (&c.blue[3], "999999")]);
        assert_eq!(out.code, Some(1), "{}", out.text);
        if failures < 3 {
            out.failed_with("CKR_PIN_INCORRECT");
            assert_eq!(net.state_json()["so_failures"], failures);
        }
    }
    let state = net.state_json();
    assert!(state["label"].is_null() && state["so"].is_null(), "three failures zeroise: {state}");
    net.cli(&["role", "login", "-name", "so"]).failed_with("CKR_USER_PIN_NOT_INITIALIZED");
    assert!(net.cli(&["ped", "show"]).text.contains("RPV initialized: Yes"), "the RPV survives");
}

#[test]
fn the_relays_carry_no_secret_split_pin_or_rpv() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    ceremony::so_login(&mut net, &c.blue_quorum()).ok();
    ceremony::so_login(&mut net, &[c.blue(0), c.blue(1), (&c.blue[3], "999999")]).failed_with("CKR_PIN_INCORRECT");
    net.cli(&["ped", "disconnect"]).ok();

    let mut keys: Vec<(&str, &str)> = vec![(&c.orange, ORANGE_PIN)];
    keys.extend((0..10).map(|i| c.blue(i)));
    keys.extend(c.red.iter().zip(RED_PINS).map(|(s, p)| (s.as_str(), p)));
    let secrets = ceremony::secrets(&net, &keys);
    let mut pins: Vec<&str> = BLUE_PINS.iter().chain(&RED_PINS).copied().filter(|p| !p.is_empty()).collect();
    pins.extend([ORANGE_PIN, "999999"]);
    let words = ["SETTING", "LOGIN", "PED Key"];

    let streams = net.captured();
    let total: usize = streams.iter().map(Vec::len).sum();
    for hop in [Hop::Relay, Hop::Usb, Hop::HsmLink] {
        let carried = net.stream(hop, Toward::Ped).len() + net.stream(hop, Toward::Hsm).len();
        assert!(carried > 4096, "{hop}: {carried} of {total} bytes");
    }
    for (i, stream) in streams.iter().enumerate() {
        for (j, secret) in secrets.iter().enumerate() {
            assert!(!contains(stream, secret), "secret {j} ({} bytes) crossed link stream {i}", secret.len());
        }
        for pin in &pins {
            assert!(!contains(stream, pin.as_bytes()), "PIN {pin} crossed link stream {i}");
        }
        for word in words {
            assert!(!contains(stream, word.as_bytes()), "{word:?} in clear on link stream {i}");
        }
    }
}
