//! What `ped show` says of the remote link, with every component a process: a link that
//! pedclient ended for its idle timeout is shown over, with the reason, as soon as it
//! ends (no PED command runs in between to find out), and `ped connect` works again at
//! once; `ped disconnect` is shown as such. A link made through a PED ID mapping, and a
//! PED-initiated one (with the address pedserver connected from), are shown as pedclient
//! reports them.

use tests::output_text;
use tests::rig::{APPLIANCE, HSM_SERIAL, Rig, Settings};
use tests::wait_until;

fn show(rig: &Rig) -> String {
    rig.hsm.cli(&["ped", "show"]).ok().text.clone()
}

#[test]
fn an_idle_timeout_is_shown_by_ped_show_alone_and_ped_connect_works_again() {
    let rig = Rig::start(&Settings { pedclient: &["-idletimeout", "1"], ..Settings::default() });
    rig.connect(&["-password", "24681357"]).ok();
    let up = format!("Remote PED: connected to 127.0.0.1:{}, PED firmware ", rig.port);
    assert!(show(&rig).contains(&up), "{}", show(&rig));

    // Only `ped show` runs until pedclient's idle timeout has ended the link.
    let ended = "Remote PED: not connected (the link ended: remote PED link idle for 1 s; run ped connect \
                 again; 0xc0000303 RC_OPERATION_TIMED_OUT)";
    wait_until("ped show to report the idle timeout", || show(&rig).contains(ended));
    let text = show(&rig);
    assert!(!text.contains("Remote PED: connected"), "{text}");
    assert!(text.contains("Local PED-USB: configured"), "{text}");
    assert!(rig.pedclient.log().contains("idle"), "{}", rig.pedclient.log());
    // Until the HSM reconnects (or gives the remote PED up), PED commands do not fall
    // back to the local PED: the key holders are at the remote one.
    let login = rig.hsm.cli(&["role", "login", "-name", "so"]);
    login.failed_with("0x8000002e (CKR_PED_UNPLUGGED)");
    assert!(login.text.contains("the Remote PED link had ended (RC_OPERATION_TIMED_OUT: "), "{}", login.text);
    assert!(show(&rig).contains(ended), "{}", show(&rig));

    // The HSM knows the link is over: a new connect is not refused as "already connected".
    rig.connect(&["-password", "24681357"]).ok();
    let text = show(&rig);
    assert!(text.contains(&up) && !text.contains("not connected"), "{text}");

    rig.hsm.cli(&["ped", "disconnect"]).ok();
    let text = show(&rig);
    assert!(text.contains("Remote PED: not connected (ended by ped disconnect)"), "{text}");
    rig.hsm.cli(&["ped", "disconnect"]).failed_with("CKR_ARGUMENTS_BAD");

    // `ped disconnect` after a link that ended by itself is accepted: it gives the HSM
    // back to its local PED.
    wait_until("pedserver to free the PED", || rig.pedserver.show()["client"].is_null());
    rig.connect(&["-password", "24681357"]).ok();
    wait_until("the idle link to end", || show(&rig).contains(ended));
    rig.hsm.cli(&["ped", "disconnect"]).ok();
    assert!(show(&rig).contains("Remote PED: not connected (ended by ped disconnect)"), "{}", show(&rig));

    // A bare `ped connect` through a PED ID mapping shows the mapped pedserver (it
    // showed ":1503", an address nobody asked for).
    let port = rig.port.to_string();
    let o = rig.pedclient.run("setid", &["-id", "1", "-id_ip", "127.0.0.1", "-id_port", &port]);
    assert!(o.status.success(), "{}", output_text(&o));
    let o = rig.pedclient.run("assignid", &["-id", "1", "-id_serialnumber", HSM_SERIAL]);
    assert!(o.status.success(), "{}", output_text(&o));
    wait_until("pedserver to free the PED", || rig.pedserver.show()["client"].is_null());
    rig.hsm.cli(&["ped", "connect", "-password", "24681357"]).ok();
    let text = show(&rig);
    assert!(text.contains(&up), "{text}");
}

#[test]
fn a_ped_initiated_link_is_shown_with_the_address_pedserver_came_from() {
    let mut rig = Rig::start(&Settings::default());
    rig.ped_initiated(&[]);
    let o = rig.pedserver.run("connect", &["-name", APPLIANCE, "-connectretrydelay", "100"]);
    assert!(o.status.success(), "{}", output_text(&o));
    wait_until("pedclient to see pedserver", || {
        !rig.pedclient.show()["daemon"]["ped_initiated"]["connected"].is_null()
    });
    // A bare `ped connect`: no address asked for, none invented (it showed ":1503").
    rig.hsm.cli(&["ped", "connect", "-password", "11223344"]).ok();
    let text = show(&rig);
    let line = text.lines().find(|l| l.starts_with("Remote PED: ")).expect("a Remote PED line");
    let from = line
        .strip_prefix("Remote PED: connected (PED-initiated from 127.0.0.1:")
        .and_then(|rest| rest.split_once("), PED firmware "));
    let (port, firmware) = from.unwrap_or_else(|| panic!("{text}"));
    assert!(port.parse::<u16>().is_ok_and(|p| p != 0), "{line}");
    assert!(!firmware.is_empty(), "{line}");
    // The port is pedserver's own end of the link, as pedclient's status names it.
    let linked = rig.pedclient.show()["daemon"]["ped_initiated"]["connected"].to_string();
    assert!(linked.contains(&format!("127.0.0.1:{port}")), "{linked} vs {line}");
}
