//! Opening and ending the Remote PED connection on the in-memory net (seed "Opening a
//! Remote PED Connection", 3990-4192): the default set with `ped set` serves a bare `ped
//! connect`, and leaving Remote PED mode at the PED invalidates the RPK. (Switching to a
//! second pedserver and a second HSM refused while the PED serves the first are process
//! tests: the net has one pedserver and one HSM.)

use ped_testkit::ceremony::{self, Plan};
use ped_testkit::net::PEDSERVER_PORT;
use ped_testkit::{KeyHolder, Net, Settings, Which};

/// Local RPV, then `hsm init` with 1-of-1 blue and red keys over the Remote PED reached
/// through the default `ped set` names (pedclient has no PED ID mapping); the orange and
/// the blue key.
fn initialised_through_the_default(net: &mut Net) -> (String, String) {
    let orange = ceremony::local_rpv(net);
    let port = PEDSERVER_PORT.to_string();
    let set = net.cli(&["ped", "set", "-ip", "127.0.0.1", "-port", &port]);
    // lunacm's answer to ped set (seed 4170-4174), not "No Error".
    assert!(set.code == Some(0) && set.result() == "0 (Success)", "{}", set.text);
    let show = net.cli(&["ped", "show"]);
    assert!(show.text.contains(&format!("Default Remote PED: 127.0.0.1:{port}")), "{}", show.text);

    // The seed: "With this default address set, the HSM administrator can use ped connect".
    net.cli(&["ped", "connect"]).ok();
    let show = net.cli(&["ped", "show"]);
    assert!(show.text.contains(&format!("Remote PED: connected to 127.0.0.1:{port}")), "{}", show.text);
    let one = Plan { m: 1, n: 1, pins: &[""] };
    let (mut blue, _) = ceremony::hsm_init(net, Which::Remote, Some((&orange, ceremony::ORANGE_PIN)), one, one);
    (orange, blue.remove(0))
}

#[test]
fn leaving_remote_ped_mode_invalidates_the_rpk_and_the_next_command_asks_for_the_orange_key() {
    let mut net = Net::new(Settings { mapped: false, ..Settings::default() });
    let (orange, blue) = initialised_through_the_default(&mut net);
    ceremony::so_login(&mut net, &[(&blue, "")]).ok();

    // Seed 3753: the key holder leaves Remote PED mode; the PED warns that this
    // invalidates the RPK, closes its channel and forgets the cached RPK.
    ceremony::leave_mode(&mut net.remote());
    net.remote().press("7");
    net.remote().wait("Awaiting HSM", 10);

    // The HSM's next command opens a new channel on the same link: the orange key again.
    let before = net.state_text();
    net.start(&["role", "login", "-name", "so"]);
    net.remote().login("COMPUTE SESSION KEY.", &[(&orange, ceremony::ORANGE_PIN)]);
    net.remote().login("SO LOGIN...", &[(&blue, "")]);
    net.finish().ok();
    assert_eq!(net.state_text(), before, "a successful login changes nothing on disk");
    let show = net.cli(&["ped", "show"]);
    assert!(show.text.contains("Remote PED: connected to 127.0.0.1:"), "{}", show.text);
}

#[test]
fn a_bare_ped_connect_with_no_default_and_no_mapping_names_the_fix() {
    let mut net = Net::new(Settings { mapped: false, ..Settings::default() });
    ceremony::local_rpv(&mut net);
    let out = net.cli(&["ped", "connect"]);
    assert_eq!(out.code, Some(1), "{}", out.text);
    assert!(out.text.contains("no PED ID is assigned to HSM"), "{}", out.text);
}
