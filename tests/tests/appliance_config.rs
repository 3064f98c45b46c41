//! Per-appliance settings through the whole rig (issue 16 item 4; docs/pedserver.md,
//! "Per-appliance settings"): the laptop gives the rig's appliance an idle timeout of its
//! own with `pedserver -mode config -name N -set`, `pedserver -mode connect -name N` runs
//! the link with it, and the link that nobody uses ends after the appliance's 0.2 s where
//! the server's own would hold it for 30 minutes.

use tests::ceremony;
use tests::output_text;
use tests::rig::{APPLIANCE, Rig, Settings};
use tests::wait_until;

/// What pedclient reports of the pedserver connected to it, if any.
fn linked(rig: &Rig) -> serde_json::Value {
    rig.pedclient.show()["daemon"]["ped_initiated"]["connected"].clone()
}

#[test]
fn the_link_to_an_appliance_runs_with_its_own_settings() {
    let mut rig = Rig::start(&Settings::default());
    ceremony::local_rpv(&mut rig);
    rig.ped_initiated(&[]);

    let o = rig.pedserver.raw(&["-mode", "config", "-name", "abox", "-set", "-idletimeout", "0.2"]);
    assert_eq!(o.status.code(), Some(1), "{}", output_text(&o));
    let refused = format!("no appliance named \"abox\" is registered; the registered ones are \"{APPLIANCE}\"");
    assert!(output_text(&o).contains(&refused), "{}", output_text(&o));

    let o = rig.pedserver.raw(&["-mode", "config", "-name", APPLIANCE, "-set", "-idletimeout", "0.2"]);
    assert!(o.status.success(), "{}", output_text(&o));
    let o = rig.pedserver.raw(&["-mode", "config", "-name", APPLIANCE, "-show", "-json"]);
    let shown: serde_json::Value = serde_json::from_slice(&o.stdout).expect("-show -json");
    assert_eq!(shown["idle-timeout"], 0.2, "{shown}");
    assert_eq!(shown["own"], serde_json::json!(["ip", "port", "idle-timeout"]), "{shown}");
    assert_eq!(rig.pedserver.show()["idle_timeout_secs"], 1800, "the server's own is unchanged");

    let o = rig.pedserver.run("connect", &["-name", APPLIANCE]);
    assert!(o.status.success(), "{}", output_text(&o));
    assert!(output_text(&o).contains(&format!("Successfully connected to appliance {APPLIANCE}")));
    // No HSM uses the link: pedserver ends it after the appliance's idle timeout.
    wait_until("the link to end", || rig.pedserver.show()["appliance_link"].is_null());
    wait_until("pedclient to lose pedserver", || linked(&rig).is_null());
    // The HSM, its RPV initialised, finds no PED behind the appliance.
    rig.hsm.cli(&["ped", "connect"]).failed_with("0x8000002e (CKR_PED_UNPLUGGED)");
}
