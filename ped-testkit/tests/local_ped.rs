//! Local PED setup (seed 3588-3615), on the in-memory net: a PED plugged into the
//! HSM switches to Local PED-USB mode at the HSM's first command and serves `hsm init`
//! and the quorum login there, with no pedclient, pedserver or remote PED involved; the
//! mode can also be chosen by hand at Select Mode, and the HSM's next command is served
//! in it.

use ped_proto::pedkey::KeyColour;
use ped_testkit::ceremony::{self, Plan};
use ped_testkit::{Hop, KeyHolder, Net, Toward, Which};

/// Whether any of `screens` has a line containing `text`.
fn shown(screens: &[Vec<String>], text: &str) -> bool {
    screens.iter().any(|s| s.iter().any(|l| l.contains(text)))
}

/// The Local PED-USB waiting screen (ped-firmware's `local_idle`).
fn local_idle(hsm: Option<&str>) -> Vec<String> {
    let middle = match hsm {
        Some(id) => ["Connected to HSM", id],
        None => ["Awaiting HSM", ""],
    };
    ["Local PED-USB mode", "", middle[0], middle[1], "", "", "", "< EXIT  > LOG"].map(String::from).to_vec()
}

#[test]
fn the_plugged_in_ped_takes_the_first_command_in_local_ped_usb_mode() {
    let mut net = Net::default();
    assert!(!shown(&net.screens(Which::Local), "Local PED-USB mode"), "no mode before the HSM's first command");

    let blue = Plan { m: 1, n: 2, pins: &["135790", "246801"] };
    let red = Plan { m: 1, n: 1, pins: &[""] };
    let (blues, reds) = ceremony::hsm_init(&mut net, Which::Local, None, blue, red);
    assert!(shown(&net.screens(Which::Local), "Local PED-USB mode"), "the first command set the mode");
    for text in ["SETTING SO PIN...", "SETTING DOMAIN..."] {
        assert!(shown(&net.screens(Which::Local), text), "the local PED showed {text}");
    }
    for serial in &blues {
        assert_eq!(ceremony::content(&net, serial).expect("written").colour, KeyColour::Blue);
    }
    assert_eq!(ceremony::content(&net, &reds[0]).expect("written").colour, KeyColour::Red);
    net.local().remove();
    assert_eq!(net.local().screen(), local_idle(Some("150001")));

    ceremony::role_login(&mut net, Which::Local, "so", &[(&blues[1], "246801")]).ok();
    let state = net.state_json();
    assert_eq!((state["label"].as_str(), state["so_failures"].as_u64()), (Some("rig"), Some(0)));
    // Nothing went the remote way.
    assert!(!shown(&net.screens(Which::Remote), "SO LOGIN..."));
    for hop in [Hop::HsmLink, Hop::Relay] {
        assert_eq!(net.connections(hop), 0, "no byte to pedclient or pedserver");
    }
    assert!(net.stream(Hop::Usb, Toward::Hsm).len() < 1024, "the remote PED only answered pedserver's InfoRequest");
    let show = net.cli(&["ped", "show"]);
    assert!(show.text.contains("Local PED-USB: configured"), "{}", show.text);
}

#[test]
fn local_ped_usb_chosen_by_hand_at_select_mode_serves_the_next_command() {
    let mut net = Net::default();
    let orange = ceremony::local_rpv(&mut net);

    // The person changes the PED's configuration without unplugging it (seed 3520):
    // out of the mode, then 0 at Select Mode.
    ceremony::leave_mode(&mut net.local());
    net.local().press("0");
    assert_eq!(net.local().screen(), local_idle(None), "chosen by hand, no HSM yet");

    let red = Plan { m: 1, n: 1, pins: &[""] };
    let blue = Plan { m: 1, n: 1, pins: &[""] };
    let (blues, _) = ceremony::hsm_init(&mut net, Which::Local, None, blue, red);
    net.local().remove();
    assert_eq!(net.local().screen(), local_idle(Some("150001")));
    ceremony::role_login(&mut net, Which::Local, "so", &[(&blues[0], "")]).ok();
    assert_eq!(
        ceremony::content(&net, &orange).expect("the orange key").colour,
        KeyColour::Orange,
        "the RPV key is untouched"
    );
}
