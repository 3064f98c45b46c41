//! What `ped show` says of the remote link, with every component a process: a link that
//! pedclient ended for its idle timeout is shown over, with the reason, as soon as it
//! ends (no PED command runs in between to find out), and `ped connect` works again at
//! once; `ped disconnect` is shown as such.

use tests::rig::{Rig, Settings};
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

    // The HSM knows the link is over: a new connect is not refused as "already connected".
    rig.connect(&["-password", "24681357"]).ok();
    let text = show(&rig);
    assert!(text.contains(&up) && !text.contains("not connected"), "{text}");

    rig.hsm.cli(&["ped", "disconnect"]).ok();
    let text = show(&rig);
    assert!(text.contains("Remote PED: not connected (ended by ped disconnect)"), "{text}");
    rig.hsm.cli(&["ped", "disconnect"]).failed_with("CKR_ARGUMENTS_BAD");
}
