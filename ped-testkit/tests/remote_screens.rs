//! What the Remote PED shows when its connection ends, on the in-memory net: `ped
//! disconnect`, the idle timeout and a cut link each bring back the Remote PED mode's
//! waiting screen, and the PED never goes on claiming a connection to an HSM that is gone
//! (pedserver tells it, protocol §15.1 SessionEnded).

use std::time::Duration;

use ped_testkit::ceremony::{self, ORANGE_PIN, Plan};
use ped_testkit::net::HSM_SERIAL;
use ped_testkit::{Fault, Hop, KeyHolder, Match, Net, Settings, Tap, Toward, Which};
use ped_wire::frame::FrameType;

const AWAITING: [&str; 8] = ["Remote PED mode", "", "Awaiting HSM", "", "", "", "", "< EXIT  > LOG"];

fn connected() -> [&'static str; 8] {
    ["Remote PED mode", "", "Connected to HSM", HSM_SERIAL, "", "", "", "< EXIT  > LOG"]
}

/// The `>` log's lines, the log then closed again.
fn recent_actions(holder: &mut impl KeyHolder) -> Vec<String> {
    holder.press(">");
    let lines = holder.screen();
    assert_eq!(lines[0], "Recent actions:", "{lines:?}");
    holder.press("enter");
    lines
}

/// How many SessionEnded frames with `reason` pedserver sent the remote PED over its
/// USB (`50 44 01 36 00 00 00 01 rr`, protocol §15.1).
fn session_ends(net: &Net, reason: u8) -> usize {
    let frame = [0x50, 0x44, 0x01, 0x36, 0, 0, 0, 1, reason];
    net.stream(Hop::Usb, Toward::Ped).windows(frame.len()).filter(|w| *w == frame).count()
}

/// Local RPV, `ped connect`, and a first command over the link that reads the orange
/// key and then is refused by the zeroised HSM: the channel stays open, and the remote
/// PED shows it.
fn connected_net(settings: Settings) -> Net {
    let mut net = Net::new(settings);
    let orange = ceremony::local_rpv(&mut net);
    net.cli(&["ped", "connect"]).ok();
    net.start(&["role", "login", "-name", "so"]);
    net.remote().login("COMPUTE SESSION KEY.", &[(&orange, ORANGE_PIN)]);
    net.finish().failed_with("CKR_USER_PIN_NOT_INITIALIZED");
    net.remote().wait("Connected to HSM", 10);
    assert_eq!(net.remote().screen(), connected());
    net
}

#[test]
fn ped_disconnect_after_a_login_brings_back_the_waiting_screen() {
    let mut net = Net::default();
    let orange = ceremony::local_rpv(&mut net);
    net.cli(&["ped", "connect"]).ok();
    let one = Plan { m: 1, n: 1, pins: &[""] };
    let (blue, _) = ceremony::hsm_init(&mut net, Which::Remote, Some((&orange, ORANGE_PIN)), one, one);
    let login = ceremony::so_login(&mut net, &[(&blue[0], "")]);
    login.ok();
    assert!(
        login
            .text
            .starts_with("Please attend to the PED.\nCaution: You have only 3 so login attempts left. If you fail 3\n"),
        "{}",
        login.text
    );
    net.remote().wait("Connected to HSM", 10);
    assert_eq!(net.remote().screen(), connected());

    net.cli(&["ped", "disconnect"]).ok();
    net.remote().wait("Awaiting HSM", 10);
    assert_eq!(net.remote().screen(), AWAITING, "straight back to waiting: nothing was in progress");
    assert!(recent_actions(&mut net.remote()).contains(&"HSM disconnected".to_owned()));
    assert_eq!(session_ends(&net, 1), 1, "pedserver told the PED: the HSM disconnected");
    assert_eq!(net.pedserver_holder(), None, "pedserver is free for the next HSM");

    // The next connection is served as the first was; the RPK is still cached, so no
    // orange key is asked for.
    net.cli(&["ped", "connect"]).ok();
    ceremony::so_login(&mut net, &[(&blue[0], "")]).ok();
    net.remote().wait("Connected to HSM", 10);
    assert_eq!(net.remote().screen(), connected());
}

#[test]
fn the_idle_timeout_mid_prompt_says_so_then_the_waiting_screen() {
    let mut settings = Settings::default();
    settings.pedserver.idle = Duration::from_secs(2);
    let mut net = Net::new(settings);
    ceremony::local_rpv(&mut net);
    net.cli(&["ped", "connect"]).ok();
    // Nobody presents the orange key: no frame crosses the link while the PED waits.
    net.start(&["role", "login", "-name", "so"]);
    net.remote().wait("COMPUTE SESSION KEY.", 10);
    net.remote().wait("Idle timeout.", 20);
    assert_eq!(net.remote().screen()[..2], ["Connection", "Idle timeout."]);
    net.finish().failed_with("RC_OPERATION_TIMED_OUT");
    net.remote().press("enter");
    assert_eq!(net.remote().screen(), AWAITING);
    assert!(recent_actions(&mut net.remote()).contains(&"Idle timeout".to_owned()));
    assert_eq!(session_ends(&net, 2), 1);
}

#[test]
fn pedclient_idle_timeout_brings_back_the_waiting_screen() {
    // pedclient's timeout (the seed's 1800 s, shortened), not pedserver's.
    let mut settings = Settings::default();
    settings.pedclient.idle = Some(Duration::from_secs(3));
    let mut net = connected_net(settings);
    net.remote().wait("Awaiting HSM", 20);
    assert_eq!(net.remote().screen(), AWAITING);
    assert!(recent_actions(&mut net.remote()).contains(&"Idle timeout".to_owned()));
    assert_eq!(session_ends(&net, 2), 1);
    // The seed's "Reconnect Remote PED before issuing commands": the command after a
    // timed-out link is CKR_PED_UNPLUGGED, saying how the link ended.
    let after = net.cli(&["ped", "vector", "init"]);
    after.failed_with("0x8000002e (CKR_PED_UNPLUGGED)");
    assert!(after.text.contains("the Remote PED link had ended (RC_OPERATION_TIMED_OUT: "), "{}", after.text);
}

#[test]
fn a_cut_link_leaves_no_connection_shown() {
    let mut net = connected_net(Settings::default());
    // The next HSM command cuts the TCP link on its way to the PED.
    net.tap(Tap::once(Hop::Relay, Toward::Ped, Match::Type(FrameType::Record), Fault::Cut));
    net.cli(&["ped", "vector", "init"]).failed_with("CKR_PED_UNPLUGGED");
    net.remote().wait("Awaiting HSM", 10);
    assert_eq!(net.remote().screen(), AWAITING);
    assert!(recent_actions(&mut net.remote()).contains(&"Link lost".to_owned()));
    assert_eq!(session_ends(&net, 3), 1);
}
