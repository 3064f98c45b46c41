//! Switching remote links, with every component a process: a second connect refused,
//! RPV rotation over the Remote PED, then a link to another PED behind a second
//! pedserver process, where the old orange key is refused. (RPV initialisation over a
//! one-time password, a burnt password, an unplugged PED and the idle timeout run on
//! the in-memory net: ped-testkit/tests/remote_links.rs.)

use ped_testkit::KeyHolder;
use tests::ceremony;
use tests::rig::{Rig, Settings};

#[test]
fn a_second_connect_is_refused_rotation_a_wrong_orange_key_and_a_second_pedserver() {
    let mut rig = Rig::start(&Settings::default());
    let c = ceremony::run(&mut rig);
    let mut remote = rig.remote.holder();
    rig.connect(&[]).failed_with("CKR_OPERATION_ACTIVE");

    // Rotation by the HSM SO over the Remote PED: a new 1-of-1 orange key.
    ceremony::so_login(&mut rig, &c.blue_quorum()).ok();
    let old_rpv = rig.hsm.state_json()["rpv"].clone();
    let new_orange = rig.keys.blank(1).remove(0);
    let rotate = rig.hsm.start_cli(&["ped", "vector", "init"]);
    remote.shape(1, 1);
    remote.write("(ORANGE)", &[(&new_orange, "")], &[]);
    rotate.join().unwrap().ok();
    assert_ne!(rig.hsm.state_json()["rpv"], old_rpv, "the new RPV is in force");
    remote.remove();

    // End the link and switch to another PED behind another pedserver.
    rig.hsm.cli(&["ped", "disconnect"]).ok();
    assert!(!rig.hsm.cli(&["ped", "show"]).text.contains("Remote PED: connected"));
    let (second, server) = rig.another_remote("SECOND");
    let port = server.port.to_string();
    rig.hsm.cli(&["ped", "connect", "-ip", "127.0.0.1", "-port", &port]).ok();
    let mut holder = second.holder();

    // The old orange key no longer opens a channel: the HSM lists only the new keyset,
    // so the PED refuses the old key before its PIN; the new one opens it.
    let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    holder.wait("COMPUTE SESSION KEY.", 60);
    holder.insert(&c.orange);
    holder.press("enter");
    assert_eq!(holder.screen()[3..5], ["This PED Key is not", "for this HSM."]);
    holder.press("enter");
    holder.present(&new_orange, "");
    holder.login("SO LOGIN...", &c.blue_quorum());
    login.join().unwrap().ok();
    let show = rig.hsm.cli(&["ped", "show"]);
    assert!(show.text.contains(&format!("Remote PED: connected to 127.0.0.1:{port}")), "{}", show.text);
}
