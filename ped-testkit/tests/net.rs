//! The in-memory net itself: the whole remote ceremony runs on it, the same seed gives
//! the same transcript, and the taps damage what they say.

use std::time::Duration;

use ped_testkit::ceremony;
use ped_testkit::{Fault, Hop, KeyHolder, Match, Net, Settings, Tap, Toward, Which};
use ped_wire::frame::FrameType;

/// RPV init at the local PED, `ped connect`, 3-of-5 `hsm init` at the remote PED, SO
/// login, disconnect; the transcript.
fn whole_ceremony(seed: u64) -> String {
    let mut net = Net::new(Settings { seed, ..Settings::default() });
    let keys = ceremony::run(&mut net);
    ceremony::so_login(&mut net, &keys.blue_quorum()).ok();
    net.cli(&["ped", "disconnect"]).ok();
    net.transcript().to_owned()
}

#[test]
fn the_remote_ceremony_runs_in_memory() {
    let transcript = whole_ceremony(7);
    for hop in ["relay ->", "relay <-", "usb ->", "usb <-", "hsm-link ->", "local-usb ->"] {
        assert!(transcript.contains(hop), "nothing crossed `{hop}`:\n{transcript}");
    }
}

#[test]
fn the_same_seed_gives_the_same_transcript() {
    let (a, b) = (whole_ceremony(11), whole_ceremony(11));
    assert!(a == b, "two runs differ");
    assert_ne!(a, whole_ceremony(12), "another seed, other keys");
}

#[test]
fn a_dropped_key_share_times_the_connect_out() {
    let mut net = Net::default();
    let orange = ceremony::local_rpv(&mut net);
    net.cli(&["ped", "connect"]).ok();
    net.tap(Tap::once(Hop::Relay, Toward::Hsm, Match::Type(FrameType::PedKeyShare), Fault::Drop));
    net.start(&["role", "login", "-name", "so"]);
    net.remote().login("COMPUTE SESSION KEY", &[(&orange, ceremony::ORANGE_PIN)]);
    let out = net.finish();
    assert_eq!(out.code, Some(1), "{}", out.text);
    assert!(net.elapsed() >= Duration::from_secs(200), "waited out the key timeout on the virtual clock");
    let _ = net.holder(Which::Remote).screen();
}
