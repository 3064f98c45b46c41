//! Local PED setup (seed 3588-3615), every component a process: a PED plugged into the
//! HSM switches to Local PED-USB mode at the HSM's first command and serves `hsm init`
//! and the quorum login there, with no pedclient, pedserver or remote PED involved; the
//! mode can also be chosen by hand at Select Mode, and the HSM's next command is served
//! in it.

use ped_proto::pedkey::KeyColour;
use ped_testkit::{KeyHolder, Which};
use tests::ceremony::{self, Plan};
use tests::rig::{Rig, Settings};
use tests::sim::shown;

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
    let mut rig = Rig::start(&Settings::default());
    let mut local = rig.local.holder();
    assert!(!shown(&rig.local.screens(), "Local PED-USB mode"), "no mode before the HSM's first command");

    let blue = Plan { m: 1, n: 2, pins: &["135790", "246801"] };
    let red = Plan { m: 1, n: 1, pins: &[""] };
    let (blues, reds) = ceremony::hsm_init(&mut rig, Which::Local, None, blue, red);
    assert!(shown(&rig.local.screens(), "Local PED-USB mode"), "the first command set the mode");
    for text in ["SETTING SO PIN...", "SETTING DOMAIN..."] {
        assert!(shown(&rig.local.screens(), text), "the local PED showed {text}");
    }
    for serial in &blues {
        assert_eq!(rig.keys.content(serial).expect("written").colour, KeyColour::Blue);
    }
    assert_eq!(rig.keys.content(&reds[0]).expect("written").colour, KeyColour::Red);
    local.remove();
    assert_eq!(local.screen(), local_idle(Some("150001")));

    ceremony::role_login(&mut rig, Which::Local, "so", &[(&blues[1], "246801")]).ok();
    let state = rig.hsm.state_json();
    assert_eq!((state["label"].as_str(), state["so_failures"].as_u64()), (Some("rig"), Some(0)));
    // Nothing went the remote way.
    assert!(!shown(&rig.remote.screens(), "SO LOGIN..."));
    assert_eq!((rig.hsm_link.total(), rig.tcp.total()), (0, 0), "no byte to pedclient or pedserver");
    let show = rig.hsm.cli(&["ped", "show"]);
    assert!(show.text.contains("Local PED-USB: configured"), "{}", show.text);
}

#[test]
fn local_ped_usb_chosen_by_hand_at_select_mode_serves_the_next_command() {
    let mut rig = Rig::start(&Settings::default());
    let mut local = rig.local.holder();
    let orange = ceremony::local_rpv(&mut rig);

    // The person changes the PED's configuration without unplugging it (seed 3520):
    // out of the mode, then 0 at Select Mode.
    ceremony::leave_mode(&mut local);
    local.press("0");
    assert_eq!(local.screen(), local_idle(None), "chosen by hand, no HSM yet");

    let red = Plan { m: 1, n: 1, pins: &[""] };
    let blue = Plan { m: 1, n: 1, pins: &[""] };
    let (blues, _) = ceremony::hsm_init(&mut rig, Which::Local, None, blue, red);
    local.remove();
    assert_eq!(local.screen(), local_idle(Some("150001")));
    ceremony::role_login(&mut rig, Which::Local, "so", &[(&blues[0], "")]).ok();
    assert_eq!(
        rig.keys.content(&orange).expect("the orange key").colour,
        KeyColour::Orange,
        "the RPV key is untouched"
    );
}
