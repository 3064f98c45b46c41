//! Opening and ending remote links on the in-memory net: RPV initialisation over a
//! one-time password, a burnt password, an unplugged PED and the idle timeout. (A switch
//! to a second pedserver stays a process test: the net has one pedserver.)

use std::time::Duration;

use ped_testkit::ceremony::{self, ORANGE_PIN};
use ped_testkit::net::{PEDSERVER_HOST, PEDSERVER_PORT};
use ped_testkit::{CliResult, KeyHolder, Net, Settings, Which};

/// `ped connect` to pedserver's address, with `extra` options.
fn connect(net: &mut Net, extra: &[&str]) -> CliResult {
    let port = PEDSERVER_PORT.to_string();
    let mut words = vec!["ped", "connect", "-ip", PEDSERVER_HOST, "-port", &port];
    words.extend(extra);
    net.cli(&words)
}

fn shown(screens: &[Vec<String>], text: &str) -> bool {
    screens.iter().any(|s| s.iter().any(|l| l.contains(text)))
}

#[test]
fn remote_rpv_init_with_a_one_time_password_and_three_wrong_tries_burn_one() {
    let mut settings = Settings::default();
    settings.hsm.key = Duration::from_secs(3);
    let mut net = Net::new(settings);

    // Three wrong tries burn the password.
    connect(&mut net, &["-password", "55555555"]).ok();
    let mut results = Vec::new();
    for _ in 0..3 {
        net.start(&["ped", "vector", "init"]);
        net.remote().password("12345678");
        results.push(net.finish());
        // The PED says so and waits for Enter before the next try.
        let mut remote = net.remote();
        remote.wait("HSM refused.", 10);
        remote.press("enter");
    }
    assert!(results[0].result().contains("PED_ERROR"), "{}", results[0].text);
    results[2].failed_with("PED_ERROR_PASSWORD_BURNT");
    // The burnt password ends the remote link: a new connect is needed.
    assert!(!net.cli(&["ped", "show"]).text.contains("Remote PED: connected"));

    // A generated password, typed right: only RPV initialisation goes over it.
    let out = connect(&mut net, &["-password"]);
    out.ok();
    let shown_line = out.text.lines().find(|l| l.contains("enter following password: ")).expect("shown");
    let password = shown_line.rsplit(' ').next().expect("the password").to_owned();
    assert_eq!(password.len(), 8);
    net.start(&["role", "login", "-name", "so"]);
    net.remote().password(&password);
    net.finish().failed_with("CKR_FUNCTION_NOT_SUPPORTED");
    let orange = net.blank(1).remove(0);
    net.start(&["ped", "vector", "init"]);
    let mut remote = net.remote();
    remote.shape(1, 1);
    remote.write("(ORANGE)", &[(&orange, ORANGE_PIN)], &[]);
    net.finish().ok();
    assert!(net.cli(&["ped", "show"]).text.contains("RPV initialized: Yes"));
    assert!(shown(&net.screens(Which::Remote), "COMPUTE SESSION KEY."));

    // The new RPV opens the next connection.
    net.cli(&["ped", "disconnect"]).ok();
    connect(&mut net, &[]).ok();
    ceremony::remote_hsm_init(&mut net, Some(&orange));
}

#[test]
fn a_second_connect_is_refused_and_rotation_makes_the_old_orange_key_useless() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    net.cli(&["ped", "connect"]).failed_with("CKR_OPERATION_ACTIVE");

    // Rotation by the HSM SO over the Remote PED: a new 1-of-1 orange key.
    ceremony::so_login(&mut net, &c.blue_quorum()).ok();
    let old_rpv = net.state_json()["rpv"].clone();
    let new_orange = net.blank(1).remove(0);
    net.start(&["ped", "vector", "init"]);
    let mut remote = net.remote();
    remote.shape(1, 1);
    remote.write("(ORANGE)", &[(&new_orange, "")], &[]);
    net.finish().ok();
    assert_ne!(net.state_json()["rpv"], old_rpv, "the new RPV is in force");
    net.remote().remove();
    net.cli(&["ped", "disconnect"]).ok();
    assert!(!net.cli(&["ped", "show"]).text.contains("Remote PED: connected"));

    // The PED forgets the RPKs it cached (leaving Remote PED mode) and is put back in it.
    let mut remote = net.remote();
    ceremony::leave_mode(&mut remote);
    remote.press("7");
    remote.wait("Remote PED", 10);
    connect(&mut net, &[]).ok();

    // The old orange key no longer opens a channel: the HSM lists only the new keyset,
    // so the PED refuses the old key before its PIN; the new one opens it.
    net.start(&["role", "login", "-name", "so"]);
    let mut remote = net.remote();
    remote.wait("COMPUTE SESSION KEY.", 60);
    remote.insert(&c.orange);
    remote.press("enter");
    assert_eq!(remote.screen()[3..5], ["This PED Key is not", "for this HSM."]);
    remote.press("enter");
    remote.present(&new_orange, "");
    remote.login("SO LOGIN...", &c.blue_quorum());
    net.finish().ok();
    let show = net.cli(&["ped", "show"]);
    assert!(show.text.contains("Remote PED: connected to 127.0.0.1:1503"), "{}", show.text);
}

#[test]
fn the_ped_unplugged_mid_login_leaves_the_state_unchanged() {
    let mut net = Net::default();
    let c = ceremony::run(&mut net);
    let before = net.state_text();
    net.start(&["role", "login", "-name", "so"]);
    net.remote().login("SO LOGIN...", &[c.blue(0)]);
    net.unplug_remote();
    net.finish().failed_with("0x8000002e (CKR_PED_UNPLUGGED)");
    assert_eq!(net.state_text(), before, "nothing of the login is kept");
    assert!(!net.cli(&["ped", "show"]).text.contains("Remote PED: connected"));
}

#[test]
fn an_idle_remote_link_times_out() {
    let mut settings = Settings::default();
    settings.pedclient.idle = Some(Duration::from_secs(1));
    let mut net = Net::new(settings);
    connect(&mut net, &["-password", "24681357"]).ok();
    assert!(net.pedserver_holder().is_some(), "pedserver serves the HSM");
    net.wait(Duration::from_secs(2));
    assert_eq!(net.pedserver_holder(), None, "pedclient ended the idle link");
    let after = net.cli(&["ped", "vector", "init"]);
    after.failed_with("0x8000002e (CKR_PED_UNPLUGGED)");
    assert!(after.text.contains("RC_OPERATION_TIMED_OUT: remote PED link idle for 1 s"), "{}", after.text);
    assert!(
        net.transcript().lines().any(|l| l.contains("pedclient: remote link down") && l.contains("idle")),
        "{}",
        net.transcript()
    );
    assert!(net.state_json()["rpv"].is_null());
}
