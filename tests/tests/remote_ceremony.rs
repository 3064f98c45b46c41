//! The remote-PED ceremony end to end, every component a process: local RPV
//! initialisation, `ped connect`, `hsm init` over the Remote PED, and a quorum login.

use tests::rig::{Rig, Settings};
use tests::sim::KeySpec;

const ORANGE_PIN: &str = "81726354";
const BLUE_PINS: [&str; 5] = ["739146", "528371", "", "604815", "917263"];
const BLUE_DUP_PINS: [&str; 5] = ["846201", "", "385917", "270694", "659042"];
const RED_PINS: [&str; 5] = ["472913", "", "", "", "193847"];

fn specs<'a>(serials: &'a [String], pins: &[&'a str]) -> Vec<KeySpec<'a>> {
    serials.iter().zip(pins).map(|(s, p)| (s.as_str(), *p)).collect()
}

#[test]
fn local_rpv_then_remote_hsm_init_and_so_login() {
    let mut rig = Rig::start(&Settings::default());
    let orange = rig.keys.blank(1);
    let blue = rig.keys.blank(10);
    let red = rig.keys.blank(10);

    // Local RPV initialisation at the PED plugged into the HSM.
    let mut local = rig.local.holder();
    let init = rig.hsm.start_cli(&["ped", "vector", "init"]);
    local.shape(false, 1, 1);
    local.write("(ORANGE)", &[(&orange[0], ORANGE_PIN)], &[]);
    let out = init.join().unwrap();
    out.ok();
    assert!(out.text.starts_with("Please attend to the PED.\n"), "{}", out.text);
    local.remove();
    assert!(tests::sim::shown(&rig.local.screens(), "SETTING RPV..."));

    // The remote PED, through pedclient and pedserver.
    rig.connect(&[]).ok();
    let show = rig.hsm.cli(&["ped", "show"]);
    assert!(show.text.contains(&format!("Remote PED: connected to 127.0.0.1:{}", rig.port)), "{}", show.text);

    let mut remote = rig.remote.holder();
    let init = rig.hsm.start_cli(&["hsm", "init", "-label", "rig"]);
    remote.login("RPV LOGIN...", &[(&orange[0], ORANGE_PIN)]);
    remote.shape(true, 3, 5);
    remote.write("(BLUE)", &specs(&blue[..5], &BLUE_PINS), &[&specs(&blue[5..], &BLUE_DUP_PINS)]);
    remote.shape(true, 3, 5);
    remote.write("(RED)", &specs(&red[..5], &RED_PINS), &[&specs(&red[5..], &RED_PINS)]);
    init.join().unwrap().ok();
    let state = rig.hsm.state_json();
    assert_eq!(state["label"], "rig", "{state}");
    for (serials, colour) in [(&blue, ped_proto::pedkey::KeyColour::Blue), (&red, ped_proto::pedkey::KeyColour::Red)] {
        for serial in serials.iter() {
            let key = rig.keys.content(serial).expect("written");
            assert_eq!(key.colour, colour);
            assert_eq!((key.split.quorum().m(), key.split.quorum().n()), (3, 5));
        }
    }

    // A quorum of 3 from both sets: a duplicate (split 2), originals 3 and 5.
    let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    remote.login("SO LOGIN...", &[(&blue[6], ""), (&blue[2], ""), (&blue[4], BLUE_PINS[4])]);
    login.join().unwrap().ok();
    assert!(tests::sim::shown(&rig.remote.screens(), "Keys read: 02 of 03"));
}
