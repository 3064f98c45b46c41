//! What `ped show` says of the remote link, on the in-memory net: a link that pedclient
//! ended for its idle timeout is shown over, with the reason, as soon as it ends (no PED
//! command runs in between to find out), and `ped connect` works again at once; `ped
//! disconnect` is shown as such; a link made through a PED ID mapping shows the mapped
//! pedserver. (The PED-initiated link, over TLS, stays a process test.)

use std::time::Duration;

use ped_testkit::net::{PEDSERVER_HOST, PEDSERVER_PORT};
use ped_testkit::{CliResult, Net, Settings};

fn show(net: &mut Net) -> String {
    net.cli(&["ped", "show"]).ok().text.clone()
}

/// `ped connect` to pedserver's address with a one-time password.
fn connect(net: &mut Net) -> CliResult {
    let port = PEDSERVER_PORT.to_string();
    net.cli(&["ped", "connect", "-ip", PEDSERVER_HOST, "-port", &port, "-password", "24681357"])
}

#[test]
fn an_idle_timeout_is_shown_by_ped_show_alone_and_ped_connect_works_again() {
    let idle = Duration::from_secs(1);
    let mut settings = Settings::default();
    settings.pedclient.idle = Some(idle);
    let mut net = Net::new(settings);
    connect(&mut net).ok();
    let up = format!("Remote PED: connected to {PEDSERVER_HOST}:{PEDSERVER_PORT}, PED firmware ");
    let text = show(&mut net);
    assert!(text.contains(&up), "{text}");

    // Only `ped show` runs until pedclient's idle timeout has ended the link.
    let ended = "Remote PED: not connected (the link ended: remote PED link idle for 1 s; run ped connect \
                 again; 0xc0000303 RC_OPERATION_TIMED_OUT)";
    net.wait(idle / 2);
    assert!(show(&mut net).contains(&up), "still up before the timeout");
    net.wait(idle);
    let text = show(&mut net);
    assert!(text.contains(ended), "{text}");
    assert!(!text.contains("Remote PED: connected"), "{text}");
    assert!(text.contains("Local PED-USB: configured"), "{text}");
    assert!(
        net.transcript().lines().any(|l| l.contains("pedclient: remote link down") && l.contains("idle")),
        "{}",
        net.transcript()
    );
    // Until the HSM reconnects (or gives the remote PED up), PED commands do not fall
    // back to the local PED: the key holders are at the remote one.
    let login = net.cli(&["role", "login", "-name", "so"]);
    login.failed_with("0x8000002e (CKR_PED_UNPLUGGED)");
    assert!(login.text.contains("the Remote PED link had ended (RC_OPERATION_TIMED_OUT: "), "{}", login.text);
    let text = show(&mut net);
    assert!(text.contains(ended), "{text}");

    // The HSM knows the link is over: a new connect is not refused as "already connected".
    connect(&mut net).ok();
    let text = show(&mut net);
    assert!(text.contains(&up) && !text.contains("not connected"), "{text}");

    net.cli(&["ped", "disconnect"]).ok();
    let text = show(&mut net);
    assert!(text.contains("Remote PED: not connected (ended by ped disconnect)"), "{text}");
    net.cli(&["ped", "disconnect"]).failed_with("CKR_ARGUMENTS_BAD");

    // `ped disconnect` after a link that ended by itself is accepted: it gives the HSM
    // back to its local PED.
    assert_eq!(net.pedserver_holder(), None, "pedserver freed the PED");
    connect(&mut net).ok();
    net.wait(idle * 2);
    let text = show(&mut net);
    assert!(text.contains(ended), "{text}");
    net.cli(&["ped", "disconnect"]).ok();
    let text = show(&mut net);
    assert!(text.contains("Remote PED: not connected (ended by ped disconnect)"), "{text}");

    // A bare `ped connect` through a PED ID mapping shows the mapped pedserver (it
    // showed ":1503", an address nobody asked for).
    assert_eq!(net.pedserver_holder(), None, "pedserver freed the PED");
    net.cli(&["ped", "connect", "-password", "24681357"]).ok();
    let text = show(&mut net);
    assert!(text.contains(&up), "{text}");
}
