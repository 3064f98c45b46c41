//! Opening, ending and switching the Remote PED connection (seed "Opening a Remote PED
//! Connection" and "Ending or Switching the Remote PED Connection", 3990-4192), with
//! every component a process: the default set with `ped set`, a bare `ped connect`, a
//! switch to a second pedserver (the orange key asked again, the first PED free, the
//! default unchanged), and a second HSM refused while the PED serves the first.

use ped_testkit::{KeyHolder, Which};
use tests::ceremony::{self, Plan};
use tests::hsm::HsmEmu;
use tests::rig::{Rig, Settings};
use tests::sim::shown;

/// Local RPV, then `hsm init` with 1-of-1 blue and red keys over the rig's Remote PED
/// reached through the default `ped set` names; the orange and the blue key.
fn initialised_through_the_default(rig: &mut Rig) -> (String, String) {
    let orange = ceremony::local_rpv(rig);
    let port = rig.port.to_string();
    let set = rig.hsm.cli(&["ped", "set", "-ip", "127.0.0.1", "-port", &port]);
    // lunacm's answer to ped set (seed 4170-4174), not "No Error".
    assert!(set.code == Some(0) && set.result() == "0 (Success)", "{}", set.text);
    let show = rig.hsm.cli(&["ped", "show"]);
    assert!(show.text.contains(&format!("Default Remote PED: 127.0.0.1:{port}")), "{}", show.text);

    // The seed: "With this default address set, the HSM administrator can use ped connect".
    rig.hsm.cli(&["ped", "connect"]).ok();
    let show = rig.hsm.cli(&["ped", "show"]);
    assert!(show.text.contains(&format!("Remote PED: connected to 127.0.0.1:{port}")), "{}", show.text);
    let one = Plan { m: 1, n: 1, pins: &[""] };
    let (mut blue, _) = ceremony::hsm_init(rig, Which::Remote, Some((&orange, ceremony::ORANGE_PIN)), one, one);
    (orange, blue.remove(0))
}

/// The value of the status line `name` in pedserver's `-mode show` block, whatever its padding.
fn field<'a>(show: &'a str, name: &str) -> Option<&'a str> {
    show.lines().find_map(|l| l.trim_start().strip_prefix(name)).map(str::trim)
}

#[test]
fn ped_set_then_a_bare_ped_connect_and_switching_to_a_second_pedserver_keeps_the_default() {
    let mut rig = Rig::start(&Settings::default());
    let mut remote = rig.remote.holder();
    let (orange, blue) = initialised_through_the_default(&mut rig);
    assert!(shown(&rig.remote.screens(), "PED Key (ORANGE)"), "the first PED asked for the orange key");
    remote.remove();

    // Switching needs the connection ended first (seed: "you must manually break the
    // Remote PED connection"); the first link carries on.
    let (second, server) = rig.another_remote("SECOND");
    let port = server.port.to_string();
    let early = rig.hsm.cli(&["ped", "connect", "-ip", "127.0.0.1", "-port", &port]);
    early.failed_with("CKR_OPERATION_ACTIVE");
    assert!(early.text.contains("ped disconnect"), "{}", early.text);
    assert!(server.show()["client"].is_null());
    assert!(!rig.pedserver.show()["client"].is_null());

    // End the connection: the first PED is free again.
    rig.hsm.cli(&["ped", "disconnect"]).ok();
    assert!(!rig.hsm.cli(&["ped", "show"]).text.contains("Remote PED: connected"));
    tests::wait_until("the first pedserver to lose its client", || rig.pedserver.show()["client"].is_null());
    let first = rig.pedserver.run("show", &[]);
    let first = tests::output_text(&first);
    assert_eq!(field(&first, "Client Information:"), Some("Not Available"), "{first}");
    assert_eq!(field(&first, "Ped2 Connection Status:"), Some("Connected"), "{first}");

    // Switch: `ped connect -ip -port` to the second pedserver; its PED has never seen the
    // orange key, so it asks for it before the SO login.
    rig.hsm.cli(&["ped", "connect", "-ip", "127.0.0.1", "-port", &port]).ok();
    assert!(!server.show()["client"].is_null(), "the second pedserver serves the HSM");
    assert!(rig.pedserver.show()["client"].is_null(), "the first pedserver is not involved");
    let mut holder = second.holder();
    let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    holder.login("COMPUTE SESSION KEY.", &[(&orange, ceremony::ORANGE_PIN)]);
    holder.login("SO LOGIN...", &[(&blue, "")]);
    login.join().expect("the CLI thread").ok();
    assert!(shown(&second.screens(), "PED Key (ORANGE)"), "the second PED asked for the orange key");

    // The seed: "Running this command does not change the default Remote PED IP/port".
    let show = rig.hsm.cli(&["ped", "show"]);
    assert!(show.text.contains(&format!("Remote PED: connected to 127.0.0.1:{port}")), "{}", show.text);
    assert!(show.text.contains(&format!("Default Remote PED: 127.0.0.1:{}", rig.port)), "{}", show.text);
    assert_eq!(rig.hsm.state_json()["ped_port"], rig.port, "hsm.json keeps the default");

    // Back to the default with a bare `ped connect`, the blue key carried back: the first
    // PED cached the RPK, so only the blue key is asked for.
    holder.remove();
    rig.hsm.cli(&["ped", "disconnect"]).ok();
    tests::wait_until("the second pedserver to lose its client", || server.show()["client"].is_null());
    rig.hsm.cli(&["ped", "connect"]).ok();
    ceremony::so_login(&mut rig, &[(&blue, "")]).ok();
}

#[test]
fn a_second_hsm_is_refused_while_the_ped_serves_another_and_connects_once_it_is_released() {
    let rig = Rig::start(&Settings::default());
    rig.connect(&["-password", "24681357"]).ok();

    // A second HSM behind the same pedclient asks for the same pedserver.
    let other_dir = rig.dir().join("other-hsm");
    std::fs::create_dir_all(&other_dir).expect("a directory for the second HSM");
    let other = HsmEmu::start(&other_dir, &other_dir.join("no-local-ped.sock"), &rig.pedclient.hsm_link(), 5);
    let port = rig.port.to_string();
    // It is zeroised, so it connects with a one-time password (no RPV needed to be refused).
    let refused = other.cli(&["ped", "connect", "-ip", "127.0.0.1", "-port", &port, "-password", "13572468"]);
    refused.failed_with("0x00000030 (CKR_DEVICE_ERROR)");
    assert!(refused.text.contains("serves another HSM"), "{}", refused.text);
    assert!(!other.cli(&["ped", "show"]).text.contains("Remote PED: connected"));
    // The first HSM's link was not disturbed.
    assert!(rig.hsm.cli(&["ped", "show"]).text.contains("Remote PED: connected"));
    assert!(!rig.pedserver.show()["client"].is_null());

    // The seed: to "allow another HSM to use the current server, you must manually break
    // the Remote PED connection".
    rig.hsm.cli(&["ped", "disconnect"]).ok();
    tests::wait_until("pedserver to lose its client", || rig.pedserver.show()["client"].is_null());
    other.cli(&["ped", "connect", "-ip", "127.0.0.1", "-port", &port, "-password", "13572468"]).ok();
    assert!(other.cli(&["ped", "show"]).text.contains(&format!("Remote PED: connected to 127.0.0.1:{port}")));
    let links = rig.pedclient.show()["daemon"]["links"].clone();
    let connected: Vec<_> = links.as_array().into_iter().flatten().filter(|l| !l["firmware"].is_null()).collect();
    assert_eq!(connected.len(), 1, "one remote link, the second HSM's: {links}");
}
