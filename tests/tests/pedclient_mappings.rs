//! pedclient's PED ID mappings (seed 5780-6063: setid, assignid, testid, releaseid,
//! deleteid, show) used by a running rig: an HSM with no `ped set` default reaches the
//! pedserver its serial is assigned to with a bare `ped connect`, and a mapping moved
//! with setid while pedclient runs is followed at the next connect.

use ped_testkit::{CliResult, KeyHolder, Which};
use tests::ceremony::{self, Plan};
use tests::output_text;
use tests::rig::{HSM_SERIAL, Rig, Settings};
use tests::sim::shown;
use tests::wait_until;

/// `pedclient -mode MODE ARGS...`: its exit code and what it printed.
fn pedclient(rig: &Rig, mode: &str, args: &[&str]) -> (Option<i32>, String) {
    let o = rig.pedclient.run(mode, args);
    (o.status.code(), output_text(&o))
}

/// The `PED ID Mappings:` table of `pedclient -mode show`.
fn mappings(rig: &Rig) -> String {
    let (_, text) = pedclient(rig, "show", &[]);
    text.split_once("PED ID Mappings:").map(|(_, t)| t.to_owned()).unwrap_or_else(|| panic!("no mappings:\n{text}"))
}

fn connect_bare(rig: &Rig) -> CliResult {
    rig.hsm.cli(&["ped", "connect"])
}

#[test]
fn an_assigned_ped_id_is_reached_by_a_bare_ped_connect_tested_moved_released_and_deleted() {
    let mut rig = Rig::start(&Settings::default());
    let port = rig.port.to_string();
    let orange = ceremony::local_rpv(&mut rig);

    // Without a default or a mapping there is nowhere to go.
    connect_bare(&rig).failed_with("RC_SOCKET_ERROR");

    let (code, text) = pedclient(&rig, "setid", &["-id", "1", "-id_ip", "127.0.0.1", "-id_port", &port]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&format!("PED ID 1 maps to 127.0.0.1:{port}.")), "{text}");
    assert!(text.contains("Setid command passed."), "{text}");
    let (code, text) = pedclient(&rig, "assignid", &["-id", "1", "-id_serialnumber", HSM_SERIAL]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&format!("PED ID 1 (127.0.0.1:{port}) is assigned to HSM {HSM_SERIAL}.")), "{text}");
    let table = mappings(&rig);
    let row = table.lines().find(|l| l.trim_start().starts_with("1 ")).unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains(&format!("127.0.0.1:{port}")) && row.ends_with(HSM_SERIAL), "{table}");

    // testid: pedserver's software and its PED's status, through the mapping.
    let (code, text) = pedclient(&rig, "testid", &["-id", "1"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&format!("Testing PED ID 1: pedserver at 127.0.0.1:{port}")), "{text}");
    assert!(text.contains("  PEDserver Software:       pedserver "), "{text}");
    assert!(text.contains("  Ped2 Connection Status:   Connected"), "{text}");
    assert!(text.contains("  Ped2 RPK Count:           0"), "{text}");
    assert!(text.contains(&format!("  Assigned to HSM:          {HSM_SERIAL}")), "{text}");
    assert!(text.contains("Testid command passed."), "{text}");
    // testid said Bye: pedserver frees the PED for the HSM.
    wait_until("pedserver to end testid's session", || rig.pedserver.show()["client"].is_null());

    // A bare `ped connect` reaches the mapped pedserver: `hsm init` and a login over it.
    connect_bare(&rig).ok();
    assert!(!rig.pedserver.show()["client"].is_null(), "the mapped pedserver serves the HSM");
    let mut remote = rig.remote.holder();
    let one = Plan { m: 1, n: 1, pins: &[""] };
    let (blue, _) = ceremony::hsm_init(&mut rig, Which::Remote, Some((&orange, ceremony::ORANGE_PIN)), one, one);
    let blue = [(blue[0].as_str(), "")];
    ceremony::so_login(&mut rig, &blue).ok();
    remote.remove();

    // An assigned mapping cannot be deleted, and the HSM cannot take a second PED ID.
    let (code, text) = pedclient(&rig, "deleteid", &["-id", "1"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(&format!("PED ID 1 is assigned to HSM {HSM_SERIAL}; release it first")), "{text}");
    let (code, text) = pedclient(&rig, "setid", &["-id", "2", "-id_ip", "127.0.0.1", "-id_port", &port]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = pedclient(&rig, "assignid", &["-id", "2", "-id_serialnumber", HSM_SERIAL]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(&format!("HSM {HSM_SERIAL} is already assigned PED ID 1; release it first")), "{text}");

    // Moving PED ID 1 to a second pedserver while pedclient runs: the next connect goes there,
    // and that PED asks for the orange key.
    let (second, server) = rig.another_remote("SECOND");
    let second_port = server.port.to_string();
    let (code, text) = pedclient(&rig, "setid", &["-id", "1", "-id_ip", "127.0.0.1", "-id_port", &second_port]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&format!("PED ID 1 now maps to 127.0.0.1:{second_port}.")), "{text}");
    assert!(mappings(&rig).contains(&format!("127.0.0.1:{second_port}")), "the assignment is kept");
    rig.hsm.cli(&["ped", "disconnect"]).ok();
    wait_until("the first pedserver to lose its client", || rig.pedserver.show()["client"].is_null());
    connect_bare(&rig).ok();
    assert!(!server.show()["client"].is_null(), "the moved mapping leads to the second pedserver");
    assert!(rig.pedserver.show()["client"].is_null(), "and not to the first");
    let mut holder = second.holder();
    let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    holder.login("COMPUTE SESSION KEY.", &[(&orange, ceremony::ORANGE_PIN)]);
    holder.login("SO LOGIN...", &blue);
    login.join().expect("the CLI thread").ok();
    assert!(shown(&second.screens(), "PED Key (ORANGE)"));
    rig.hsm.cli(&["ped", "disconnect"]).ok();

    // Released: the mapping stays, the HSM no longer uses it; then it can be deleted.
    let (code, text) = pedclient(&rig, "releaseid", &["-id", "1"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&format!("PED ID 1 is released from HSM {HSM_SERIAL}.")), "{text}");
    let released = connect_bare(&rig);
    released.failed_with("0xc0000500 (RC_SOCKET_ERROR)");
    let (code, text) = pedclient(&rig, "deleteid", &["-id", "1"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("PED ID 1 is deleted."), "{text}");
    let (code, text) = pedclient(&rig, "deleteid", &["-id", "2"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(mappings(&rig).contains("(none)"), "{}", mappings(&rig));
    let (code, text) = pedclient(&rig, "testid", &["-id", "1"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("PED ID 1 is not mapped"), "{text}");
}

#[test]
fn testid_names_a_mapping_with_nothing_listening() {
    let rig = Rig::start(&Settings::default());
    // A port that was free a moment ago: nothing listens there.
    let port = tests::free_port().to_string();
    pedclient(&rig, "setid", &["-id", "7", "-id_ip", "127.0.0.1", "-id_port", &port]);
    let (code, text) = pedclient(&rig, "testid", &["-id", "7"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("Testid failed: 0xc0000500 (RC_SOCKET_ERROR)"), "{text}");
}
