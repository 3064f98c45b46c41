//! PED-initiated mode through the whole rig (seed 5480-5700; docs/pedclient.md and
//! docs/pedserver.md, "PED-initiated mode"): certificates made and pinned both ways,
//! `pedserver -mode connect -name N` from the laptop, the HSM's PED commands over that
//! link (orange key, SO login), `pedserver -mode disconnect -name N`; and an appliance
//! whose certificate is not the registered one refused, then registered right.

use std::path::Path;

use ped_testkit::KeyHolder;
use tests::ceremony::{self, Ceremony};
use tests::output_text;
use tests::rig::{APPLIANCE, Rig, Settings, regenerated};
use tests::sim::shown;
use tests::wait_until;

/// `pedserver -mode connect -name APPLIANCE`, retrying every 100 ms (pedclient listens
/// before it answers its start, so the first attempt normally succeeds).
fn connect_out(rig: &Rig) -> (Option<i32>, String) {
    let o = rig.pedserver.run("connect", &["-name", APPLIANCE, "-connectretrydelay", "100"]);
    (o.status.code(), output_text(&o))
}

/// What pedclient reports of the pedserver connected to it, if any.
fn linked(rig: &Rig) -> serde_json::Value {
    rig.pedclient.show()["daemon"]["ped_initiated"]["connected"].clone()
}

/// `pedserver -appliance register` of the rig's appliance with certificate `cert`, at
/// 127.0.0.1:`port`; what it printed.
fn register(rig: &Rig, cert: &Path, port: &str) -> String {
    let cert = cert.to_str().expect("UTF-8 temp paths");
    let args = ["-appliance", "register", "-name", APPLIANCE, "-certificate", cert, "-ip", "127.0.0.1", "-port", port];
    let o = rig.pedserver.raw(&args);
    assert!(o.status.success(), "{}", output_text(&o));
    output_text(&o)
}

#[test]
fn pedserver_connects_out_and_the_hsm_logs_in_over_its_link() {
    let mut rig = Rig::start(&Settings::default());
    let orange = ceremony::local_rpv(&mut rig);
    let listen = rig.ped_initiated(&[]);
    let show = rig.pedclient.show();
    assert_eq!(show["daemon"]["ped_initiated"]["listen"], format!("127.0.0.1:{listen}"), "{show}");
    assert_eq!(show["daemon"]["ped_initiated"]["pedserver"], "rig-laptop", "{show}");

    // No pedserver has connected: the HSM is told there is no PED.
    rig.hsm.cli(&["ped", "connect"]).failed_with("0x8000002e (CKR_PED_UNPLUGGED)");

    let (code, text) = connect_out(&rig);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&format!("Connecting to appliance {APPLIANCE} (127.0.0.1:{listen}). Please wait")), "{text}");
    assert!(text.contains(&format!("Successfully connected to appliance {APPLIANCE}: 127.0.0.1:{listen}")), "{text}");
    wait_until("pedclient to see pedserver", || !linked(&rig).is_null());
    let link = rig.pedserver.show()["appliance_link"].clone();
    assert_eq!(link["name"], APPLIANCE, "{link}");
    assert_eq!(link["connected"], true, "{link}");

    // The HSM adopts the parked link (no address needed): the PED asks for the orange
    // key, the ceremony's `hsm init` writes its 3-of-5 keysets with PINs and duplicates,
    // and the SO logs in with a quorum drawn from both sets.
    rig.hsm.cli(&["ped", "connect"]).ok();
    let mut remote = rig.remote.holder();
    let (blue, red) = ceremony::remote_hsm_init(&mut rig, Some(&orange));
    let c = Ceremony { orange, blue, red };
    assert!(shown(&rig.remote.screens(), "PED Key (ORANGE)"));
    assert!(rig.hsm.state_json()["so"].is_object(), "the HSM SO keyset is recorded");
    ceremony::so_login(&mut rig, &c.blue_quorum()).ok();
    remote.remove();
    assert!(!rig.pedserver.show()["client"].is_null(), "pedserver relays for the HSM");

    // The laptop ends it: the HSM's next PED command finds the link gone.
    let o = rig.pedserver.run("disconnect", &["-name", APPLIANCE]);
    assert!(o.status.success(), "{}", output_text(&o));
    assert!(output_text(&o).contains(&format!("Connection to appliance {APPLIANCE} terminated.")));
    wait_until("pedclient to lose pedserver", || linked(&rig).is_null());
    assert!(rig.pedserver.show()["appliance_link"].is_null());
    let before = rig.hsm.state_text();
    rig.hsm.cli(&["role", "login", "-name", "so"]).failed_with("0x8000002e (CKR_PED_UNPLUGGED)");
    assert_eq!(rig.hsm.state_text(), before);

    // Connected again, the next session needs only the blue key (the PED cached the RPK).
    let (code, text) = connect_out(&rig);
    assert_eq!(code, Some(0), "{text}");
    wait_until("pedclient to see pedserver", || !linked(&rig).is_null());
    rig.hsm.cli(&["ped", "connect"]).ok();
    ceremony::so_login(&mut rig, &c.blue_quorum()).ok();
    remote.remove();
    assert_eq!(rig.hsm.state_json()["so_failures"], 0);
}

#[test]
fn an_appliance_certificate_with_the_wrong_fingerprint_is_refused_until_registered_right() {
    let mut rig = Rig::start(&Settings::default());
    let appliance = regenerated(&rig.pedclient.raw(&["-regen", "-commonname", APPLIANCE]));
    let laptop = regenerated(&rig.pedserver.raw(&["-regen", "-commonname", "rig-laptop"]));
    let o = rig.pedclient.raw(&["-register", "-certificate", laptop.path.to_str().expect("UTF-8")]);
    assert!(o.status.success(), "{}", output_text(&o));

    // The laptop is given another host's certificate for this appliance.
    let stranger_dir = rig.dir().join("stranger");
    let stranger = tests::pedclient::PedClient::new(&stranger_dir);
    let stranger = regenerated(&stranger.raw(&["-regen", "-commonname", APPLIANCE]));
    assert_ne!(stranger.fingerprint, appliance.fingerprint);
    let port = tests::free_port().to_string();
    let registered = register(&rig, &stranger.path, &port);
    assert!(registered.contains(&format!("Certificate SHA-256 fingerprint: {}", stranger.fingerprint)), "{registered}");
    rig.pedclient.restart(&["-pedinitiated", "1", "-listenport", &port, "-listenip", "127.0.0.1"]);

    let (code, text) = connect_out(&rig);
    assert_eq!(code, Some(1), "{text}");
    let expected = format!(
        "TLS handshake refused: the peer presented a certificate with fingerprint {}, not the registered {}",
        appliance.fingerprint, stranger.fingerprint
    );
    assert!(text.contains(&expected), "{text}");
    assert!(linked(&rig).is_null(), "nothing was adopted");
    rig.hsm.cli(&["ped", "connect", "-password", "11223344"]).failed_with("0x8000002e (CKR_PED_UNPLUGGED)");

    // The fix: compare out of band, delete, register the appliance's own certificate.
    let o = rig.pedserver.raw(&["-appliance", "delete", "-name", APPLIANCE]);
    assert!(o.status.success(), "{}", output_text(&o));
    register(&rig, &appliance.path, &port);
    let (code, text) = connect_out(&rig);
    assert_eq!(code, Some(0), "{text}");
    wait_until("pedclient to see pedserver", || !linked(&rig).is_null());
    rig.hsm.cli(&["ped", "connect", "-password", "11223344"]).ok();
}

#[test]
fn a_laptop_whose_certificate_the_appliance_did_not_register_is_refused_until_it_does() {
    let mut rig = Rig::start(&Settings::default());
    let listen = rig.ped_initiated(&[]).to_string();
    // The laptop makes a new certificate (`-regen -force`); the appliance still pins the old.
    let old = rig.pedclient.show()["daemon"]["ped_initiated"]["pedserver"].clone();
    assert_eq!(old, "rig-laptop");
    let renewed = regenerated(&rig.pedserver.raw(&["-regen", "-commonname", "rig-laptop", "-force"]));

    let (code, text) = connect_out(&rig);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("the appliance ended the connection before its relay hello"), "{text}");
    assert!(linked(&rig).is_null(), "nothing was adopted");
    wait_until("pedclient to log its refusal", || rig.pedclient.log().contains("TLS handshake with"));

    // The fix: the appliance registers the new certificate (replacing the old) and restarts.
    let cert = renewed.path.to_str().expect("UTF-8 temp paths");
    let o = rig.pedclient.raw(&["-register", "-certificate", cert, "-force"]);
    assert!(o.status.success(), "{}", output_text(&o));
    assert!(output_text(&o).contains(&format!("Certificate SHA-256 fingerprint: {}", renewed.fingerprint)));
    rig.pedclient.restart(&["-pedinitiated", "1", "-listenport", &listen, "-listenip", "127.0.0.1"]);
    let (code, text) = connect_out(&rig);
    assert_eq!(code, Some(0), "{text}");
    wait_until("pedclient to see pedserver", || !linked(&rig).is_null());
    rig.hsm.cli(&["ped", "connect", "-password", "11223344"]).ok();
}
