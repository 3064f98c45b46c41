//! What `ped show` says of a PED-initiated link, with every component a process (the
//! link is TLS): the address pedserver connected from, as pedclient reports it. (The
//! idle timeout shown by `ped show` alone, `ped disconnect` and a link through a PED ID
//! mapping run on the in-memory net: ped-testkit/tests/link_state.rs.)

use tests::output_text;
use tests::rig::{APPLIANCE, Rig, Settings};
use tests::wait_until;

fn show(rig: &Rig) -> String {
    rig.hsm.cli(&["ped", "show"]).ok().text.clone()
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
