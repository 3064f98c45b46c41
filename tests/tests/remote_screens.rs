//! What the Remote PED shows when its connection ends: `ped disconnect`, the idle
//! timeout and a cut link each bring back the Remote PED mode's waiting screen, and the
//! PED never goes on claiming a connection to an HSM that is gone (pedserver tells it,
//! protocol §15.1 SessionEnded).

use ped_testkit::{KeyHolder, Which};
use tests::ceremony::{self, ORANGE_PIN, Plan};
use tests::chaos::{Direction, Fault};
use tests::rig::{HSM_SERIAL, Rig, Settings};
use tests::sim::SimHolder;

const AWAITING: [&str; 8] = ["Remote PED mode", "", "Awaiting HSM", "", "", "", "", "< EXIT  > LOG"];

fn connected() -> [&'static str; 8] {
    ["Remote PED mode", "", "Connected to HSM", HSM_SERIAL, "", "", "", "< EXIT  > LOG"]
}

/// The `>` log's lines, the log then closed again.
fn recent_actions(holder: &mut SimHolder) -> Vec<String> {
    holder.press(">");
    let lines = holder.screen();
    assert_eq!(lines[0], "Recent actions:", "{lines:?}");
    holder.press("enter");
    lines
}

/// How many SessionEnded frames with `reason` pedserver sent the remote PED over its
/// USB (`50 44 01 36 00 00 00 01 rr`, protocol §15.1).
fn session_ends(rig: &Rig, reason: u8) -> usize {
    let frame = [0x50, 0x44, 0x01, 0x36, 0, 0, 0, 1, reason];
    rig.usb.streams().iter().map(|s| s.windows(frame.len()).filter(|w| *w == frame).count()).sum()
}

/// Local RPV, `ped connect`, and a first command over the link that reads the orange
/// key and then is refused by the zeroised HSM: the channel stays open, and the remote
/// PED shows it.
fn connected_rig(settings: &Settings<'_>) -> (Rig, SimHolder) {
    let mut rig = Rig::start(settings);
    let orange = ceremony::local_rpv(&mut rig);
    rig.connect(&[]).ok();
    let mut remote = rig.remote.holder();
    let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    remote.login("COMPUTE SESSION KEY.", &[(&orange, ORANGE_PIN)]);
    login.join().expect("the CLI thread").failed_with("CKR_USER_PIN_NOT_INITIALIZED");
    remote.wait("Connected to HSM", 10);
    assert_eq!(remote.screen(), connected());
    (rig, remote)
}

#[test]
fn ped_disconnect_after_a_login_brings_back_the_waiting_screen() {
    let mut rig = Rig::start(&Settings::default());
    let orange = ceremony::local_rpv(&mut rig);
    rig.connect(&[]).ok();
    let mut remote = rig.remote.holder();
    let one = Plan { m: 1, n: 1, pins: &[""] };
    let (blue, _) = ceremony::hsm_init(&mut rig, Which::Remote, Some((&orange, ORANGE_PIN)), one, one);
    let login = ceremony::so_login(&mut rig, &[(&blue[0], "")]);
    login.ok();
    assert!(
        login
            .text
            .starts_with("Please attend to the PED.\nCaution: You have only 3 so login attempts left. If you fail 3\n"),
        "{}",
        login.text
    );
    remote.wait("Connected to HSM", 10);
    assert_eq!(remote.screen(), connected());

    rig.hsm.cli(&["ped", "disconnect"]).ok();
    remote.wait("Awaiting HSM", 10);
    assert_eq!(remote.screen(), AWAITING, "straight back to waiting: nothing was in progress");
    assert!(recent_actions(&mut remote).contains(&"HSM disconnected".to_owned()));
    assert_eq!(session_ends(&rig, 1), 1, "pedserver told the PED: the HSM disconnected");
    assert!(rig.pedserver.show()["client"].is_null(), "pedserver is free for the next HSM");

    // The next connection is served as the first was; the RPK is still cached, so no
    // orange key is asked for.
    rig.connect(&[]).ok();
    ceremony::so_login(&mut rig, &[(&blue[0], "")]).ok();
    remote.wait("Connected to HSM", 10);
    assert_eq!(remote.screen(), connected());
}

#[test]
fn the_idle_timeout_mid_prompt_says_so_then_the_waiting_screen() {
    let mut rig = Rig::start(&Settings { pedserver: &["-idletimeout", "2"], ..Settings::default() });
    ceremony::local_rpv(&mut rig);
    rig.connect(&[]).ok();
    let mut remote = rig.remote.holder();
    // Nobody presents the orange key: no frame crosses the link while the PED waits.
    let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    remote.wait("COMPUTE SESSION KEY.", 10);
    remote.wait("Idle timeout.", 20);
    assert_eq!(remote.screen()[..2], ["Connection", "Idle timeout."]);
    login.join().expect("the CLI thread").failed_with("RC_OPERATION_TIMED_OUT");
    remote.press("enter");
    assert_eq!(remote.screen(), AWAITING);
    assert!(recent_actions(&mut remote).contains(&"Idle timeout".to_owned()));
    assert_eq!(session_ends(&rig, 2), 1);
}

#[test]
fn pedclient_idle_timeout_brings_back_the_waiting_screen() {
    // pedclient's timeout (the seed's 1800 s, shortened), not pedserver's.
    let (rig, mut remote) = connected_rig(&Settings { pedclient: &["-idletimeout", "3"], ..Settings::default() });
    remote.wait("Awaiting HSM", 20);
    assert_eq!(remote.screen(), AWAITING);
    assert!(recent_actions(&mut remote).contains(&"Idle timeout".to_owned()));
    assert_eq!(session_ends(&rig, 2), 1);
    // The seed's "Reconnect Remote PED before issuing commands": the command after a
    // timed-out link is CKR_PED_UNPLUGGED, saying how the link ended.
    let after = rig.hsm.cli(&["ped", "vector", "init"]);
    after.failed_with("0x8000002e (CKR_PED_UNPLUGGED)");
    assert!(after.text.contains("the Remote PED link had ended (RC_OPERATION_TIMED_OUT: "), "{}", after.text);
}

#[test]
fn a_cut_link_leaves_no_connection_shown() {
    let (rig, mut remote) = connected_rig(&Settings::default());
    // The next HSM command cuts the TCP link on its way to the PED.
    rig.tcp.set(Fault::Drop(Direction::ToPed));
    rig.hsm.cli(&["ped", "vector", "init"]).failed_with("CKR_PED_UNPLUGGED");
    remote.wait("Awaiting HSM", 10);
    assert_eq!(remote.screen(), AWAITING);
    assert!(recent_actions(&mut remote).contains(&"Link lost".to_owned()));
    assert_eq!(session_ends(&rig, 3), 1);
}
