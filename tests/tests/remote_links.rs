//! Opening, ending and switching remote links, with every component a process: RPV
//! initialisation over a one-time password, a burnt password, a wrong orange key, RPV
//! rotation, a second pedserver, an unplugged PED and the idle timeout.

use ped_testkit::KeyHolder;
use tests::ceremony::{self, ORANGE_PIN};
use tests::rig::{Rig, Settings};
use tests::sim::shown;
use tests::wait_until;

#[test]
fn remote_rpv_init_with_a_one_time_password_and_three_wrong_tries_burn_one() {
    let mut rig = Rig::start(&Settings { key_timeout: 3, ..Settings::default() });
    let mut remote = rig.remote.holder();

    // Three wrong tries burn the password.
    rig.connect(&["-password", "55555555"]).ok();
    let mut results = Vec::new();
    for _ in 0..3 {
        let init = rig.hsm.start_cli(&["ped", "vector", "init"]);
        remote.password("12345678");
        results.push(init.join().unwrap());
        // The PED says so and waits for Enter before the next try.
        remote.wait("HSM refused.", 10);
        remote.press("enter");
    }
    assert!(results[0].result().contains("PED_ERROR"), "{}", results[0].text);
    results[2].failed_with("PED_ERROR_PASSWORD_BURNT");
    // The burnt password ends the remote link: a new connect is needed.
    assert!(!rig.hsm.cli(&["ped", "show"]).text.contains("Remote PED: connected"));

    // A generated password, typed right: only RPV initialisation goes over it.
    let out = rig.connect(&["-password"]);
    out.ok();
    let shown_line = out.text.lines().find(|l| l.contains("enter following password: ")).expect("shown");
    let password = shown_line.rsplit(' ').next().unwrap().to_owned();
    assert_eq!(password.len(), 8);
    let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    remote.password(&password);
    login.join().unwrap().failed_with("CKR_FUNCTION_NOT_SUPPORTED");
    let orange = rig.keys.blank(1).remove(0);
    let init = rig.hsm.start_cli(&["ped", "vector", "init"]);
    remote.shape(1, 1);
    remote.write("(ORANGE)", &[(&orange, ORANGE_PIN)], &[]);
    init.join().unwrap().ok();
    assert!(rig.hsm.cli(&["ped", "show"]).text.contains("RPV initialized: Yes"));
    assert!(shown(&rig.remote.screens(), "COMPUTE SESSION KEY."));

    // The new RPV opens the next connection.
    rig.hsm.cli(&["ped", "disconnect"]).ok();
    rig.connect(&[]).ok();
    ceremony::remote_hsm_init(&mut rig, Some(&orange));
}

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

#[test]
fn the_ped_unplugged_mid_login_leaves_the_state_unchanged() {
    let mut rig = Rig::start(&Settings::default());
    let c = ceremony::run(&mut rig);
    let mut remote = rig.remote.holder();
    let before = rig.hsm.state_text();
    let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    remote.login("SO LOGIN...", &[c.blue(0)]);
    rig.remote.unplug();
    login.join().unwrap().failed_with("0x8000002e (CKR_PED_UNPLUGGED)");
    assert_eq!(rig.hsm.state_text(), before, "nothing of the login is kept");
    assert!(!rig.hsm.cli(&["ped", "show"]).text.contains("Remote PED: connected"));
}

#[test]
fn an_idle_remote_link_times_out() {
    let rig = Rig::start(&Settings { pedclient: &["-idletimeout", "1"], ..Settings::default() });
    rig.connect(&["-password", "24681357"]).ok();
    assert!(!rig.pedserver.show()["client"].is_null(), "pedserver serves the HSM");
    wait_until("pedclient to end the idle link", || rig.pedserver.show()["client"].is_null());
    let after = rig.hsm.cli(&["ped", "vector", "init"]);
    after.failed_with("0x8000002e (CKR_PED_UNPLUGGED)");
    assert!(after.text.contains("RC_OPERATION_TIMED_OUT: remote PED link idle for 1 s"), "{}", after.text);
    assert!(rig.pedclient.log().contains("idle"), "{}", rig.pedclient.log());
    assert!(rig.hsm.state_text().is_empty() || rig.hsm.state_json()["rpv"].is_null());
}
