//! The orange keyset end to end (protocol.md §13.2, docs/hsm-emu.md): one orange key
//! for several HSMs (seed 3335-3341, 3861-3868), reused at a local PED and over a remote
//! one-time-password channel, surviving a rotation on one of them; and the RPV-login
//! rule: a wrong orange PIN is counted by the HSM, ten erase the RPV.

use ped_proto::pedkey::KeyColour;
use ped_testkit::{KeyHolder, Which};
use tests::ceremony::{self, ORANGE_PIN, Plan};
use tests::hsm::HsmEmu;
use tests::keys::Keys;
use tests::rig::{Rig, Settings};
use tests::sim::{PedSim, SimHolder, shown};
use tests::wait_until;

const ONE: Plan<'static> = Plan { m: 1, n: 1, pins: &[""] };

/// Another HSM of the rig's factory (so the rig's Remote PED trusts it), with a local PED
/// of its own and the rig's pedclient.
fn sibling(rig: &mut Rig, name: &str, serial: &str) -> (HsmEmu, PedSim) {
    let dir = rig.dir().join(name);
    std::fs::create_dir(&dir).expect("the sibling's directory");
    let usb = dir.join(format!("{name}-usb.sock"));
    let hsm = HsmEmu::start_sibling(&dir, serial, &rig.hsm, &usb, &rig.pedclient.hsm_link());
    assert_eq!(std::fs::read(hsm.root()).unwrap(), std::fs::read(rig.hsm.root()).unwrap(), "one factory root");
    let sim = PedSim::start(&dir, name, &hsm.root(), rig.keys.dir());
    (hsm, sim)
}

/// `ped disconnect` on `hsm`, then until pedserver has let the session go: the next HSM's
/// `ped connect` must not find the PED still serving this one.
fn disconnect(rig: &Rig, hsm: &HsmEmu) {
    hsm.cli(&["ped", "disconnect"]).ok();
    wait_until("pedserver to end the session", || rig.pedserver.show()["client"].is_null());
}

/// `ped connect` from `hsm` to the rig's pedserver.
fn connect(rig: &Rig, hsm: &HsmEmu) {
    hsm.cli(&["ped", "connect", "-ip", "127.0.0.1", "-port", &rig.port.to_string()]).ok();
}

/// `hsm init -label LABEL` on `hsm` over the Remote PED: the orange key `orange` if the
/// PED asks for it, then 1-of-1 blue and red keys without PIN; the blue key's serial.
fn remote_init(drawer: &mut Keys, hsm: &HsmEmu, remote: &mut SimHolder, label: &str, orange: (&str, &str)) -> String {
    let keys = drawer.blank(2);
    let init = hsm.start_cli(&["hsm", "init", "-label", label]);
    remote.login("COMPUTE SESSION KEY.", &[orange]);
    ceremony::create_one(remote, "(BLUE)", &keys[0], "");
    ceremony::create_one(remote, "(RED)", &keys[1], "");
    init.join().expect("the CLI thread").ok();
    keys[0].clone()
}

/// `role login -name so` on `hsm` with the blue key `blue`; the CLI's result.
fn so_login(hsm: &HsmEmu, remote: &mut SimHolder, blue: &str) -> ped_testkit::CliResult {
    let login = hsm.start_cli(&["role", "login", "-name", "so"]);
    remote.login("SO LOGIN...", &[(blue, "")]);
    login.join().expect("the CLI thread")
}

#[test]
fn one_orange_keyset_serves_three_hsms_reused_locally_and_remotely_and_outlives_a_rotation_on_one() {
    let mut rig = Rig::start(&Settings::default());
    // HSM A (150001) makes the orange keyset at its local PED.
    let orange = ceremony::local_rpv(&mut rig);
    let keyset = ceremony::keyset_of(&rig, &orange);
    assert_eq!(rig.hsm.state_json()["rpv"]["keyset_id"], keyset.as_str());

    // HSM B (150002) reuses it at its own local PED (seed 3861-3868: YES, then the key).
    let (b, b_sim) = sibling(&mut rig, "B", "150002");
    let mut b_local = b_sim.holder();
    let vector = b.start_cli(&["ped", "vector", "init"]);
    ceremony::reuse(&mut b_local, &[(&orange, ORANGE_PIN)]);
    vector.join().expect("the CLI thread").ok();
    b_local.remove();
    assert!(shown(&b_sim.screens(), "READING RPV..."));
    assert!(!shown(&b_sim.screens(), "M value?"), "nothing new is made");
    let b_rpv = b.state_json()["rpv"].clone();
    let a_rpv = rig.hsm.state_json()["rpv"].clone();
    for field in ["keyset_id", "rpv", "public_key"] {
        assert_eq!(b_rpv[field], a_rpv[field], "the same {field} on A and B");
    }
    assert_ne!(b_rpv["cert"], a_rpv["cert"], "each HSM's HOC certifies the RPK itself");
    assert_eq!(rig.keys.content(&orange).expect("unchanged").colour, KeyColour::Orange);

    // HSM C (150003), zeroised, reuses it remotely over a one-time-password channel.
    let (c, _c_sim) = sibling(&mut rig, "C", "150003");
    let out = c.cli(&["ped", "connect", "-ip", "127.0.0.1", "-port", &rig.port.to_string(), "-password"]);
    out.ok();
    let password = out
        .text
        .lines()
        .find_map(|l| l.strip_prefix("Please attend to the PED and enter following password: "))
        .expect("the password is shown")
        .to_owned();
    let mut remote = rig.remote.holder();
    let vector = c.start_cli(&["ped", "vector", "init"]);
    remote.password(&password);
    ceremony::reuse(&mut remote, &[(&orange, ORANGE_PIN)]);
    vector.join().expect("the CLI thread").ok();
    assert_eq!(c.state_json()["rpv"]["rpv"], a_rpv["rpv"], "C holds the same RPV");
    // The password channel is done; the next command opens C(2e,2s) with the orange key.
    let c_blue = remote_init(&mut rig.keys, &c, &mut remote, "c", (&orange, ORANGE_PIN));
    disconnect(&rig, &c);

    // Remote sessions to A and to B, each opened with the same orange key.
    connect(&rig, &rig.hsm);
    let a_blue = remote_init(&mut rig.keys, &rig.hsm, &mut remote, "a", (&orange, ORANGE_PIN));
    disconnect(&rig, &rig.hsm);
    connect(&rig, &b);
    let b_blue = remote_init(&mut rig.keys, &b, &mut remote, "b", (&orange, ORANGE_PIN));
    disconnect(&rig, &b);

    // A rotates: a new orange keyset, written over the Remote PED.
    connect(&rig, &rig.hsm);
    so_login(&rig.hsm, &mut remote, &a_blue).ok();
    let rotated = rig.keys.blank(1).remove(0);
    let vector = rig.hsm.start_cli(&["ped", "vector", "init"]);
    remote.shape(1, 1);
    remote.write("(ORANGE)", &[(&rotated, "2580")], &[]);
    vector.join().expect("the CLI thread").ok();
    assert_ne!(rig.hsm.state_json()["rpv"]["keyset_id"], keyset.as_str(), "A's RPV is the new one");
    assert_eq!(b.state_json()["rpv"], b_rpv, "B's RPV is untouched");
    disconnect(&rig, &rig.hsm);

    // B still opens with the original orange key (the RPK cache dropped first, so the
    // key itself is read), C too.
    ceremony::leave_mode(&mut remote);
    for (hsm, blue) in [(&b, &b_blue), (&c, &c_blue)] {
        connect(&rig, hsm);
        let login = hsm.start_cli(&["role", "login", "-name", "so"]);
        remote.login("COMPUTE SESSION KEY.", &[(&orange, ORANGE_PIN)]);
        remote.login("SO LOGIN...", &[(blue, "")]);
        login.join().expect("the CLI thread").ok();
        disconnect(&rig, hsm);
    }

    // A no longer holds the original keyset: its key is refused at the PED before any
    // PIN, nothing counted; the new orange key opens A.
    connect(&rig, &rig.hsm);
    let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    remote.wait("COMPUTE SESSION KEY.", 60);
    remote.insert(&orange);
    remote.press("enter");
    let screen = remote.screen();
    assert_eq!(screen[2..5], ["  ** WARNING **", "This PED Key is not", "for this HSM."], "{screen:?}");
    remote.press("enter");
    remote.present(&rotated, "2580");
    remote.login("SO LOGIN...", &[(&a_blue, "")]);
    login.join().expect("the CLI thread").ok();
    assert_eq!(rig.hsm.state_json()["rpv_failures"], 0, "an orange key for another keyset is not counted");
}

/// The PED's end of a handshake the HSM refused: "HSM refused.", dismissed.
fn refused(remote: &mut SimHolder) {
    remote.wait("HSM refused.", 10);
    remote.press("enter");
}

#[test]
fn a_wrong_orange_pin_is_a_counted_rpv_login_failure_and_ten_erase_the_rpv() {
    let mut rig = Rig::start(&Settings::default());
    let orange = ceremony::local_rpv(&mut rig);
    rig.connect(&[]).ok();
    let mut remote = rig.remote.holder();

    // A wrong PIN unmasks to another seed: the PED cannot tell, the HSM's check of the
    // PED's key confirmation fails, and the HSM counts it.
    let init = rig.hsm.start_cli(&["hsm", "init", "-label", "rig"]);
    remote.login("COMPUTE SESSION KEY.", &[(&orange, "11112222")]);
    let out = init.join().expect("the CLI thread");
    out.failed_with("CKR_PIN_INCORRECT");
    assert!(out.text.contains("1 of 10 consecutive failures erase the RPV"), "{}", out.text);
    assert_eq!(rig.hsm.state_json()["rpv_failures"], 1);
    refused(&mut remote);

    // The right PIN opens the channel and resets the count.
    let (blue, _) = ceremony::hsm_init(&mut rig, Which::Remote, Some((&orange, ORANGE_PIN)), ONE, ONE);
    assert_eq!(rig.hsm.state_json()["rpv_failures"], 0);

    // Ten in a row erase the RPV; the HSM's roles stay. (The PED's cached RPK is dropped
    // first, so that each connection reads the orange key and its PIN.)
    disconnect(&rig, &rig.hsm);
    ceremony::leave_mode(&mut remote);
    for n in 1..=10 {
        rig.connect(&[]).ok();
        let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
        remote.login("COMPUTE SESSION KEY.", &[(&orange, "99998888")]);
        let out = login.join().expect("the CLI thread");
        out.failed_with("CKR_PIN_INCORRECT");
        if n < 10 {
            assert!(out.text.contains(&format!("{n} of 10")), "{}", out.text);
        } else {
            assert!(out.text.contains("10 consecutive failed RPV logins: the RPV is erased"), "{}", out.text);
            assert!(out.text.contains("ped vector init"), "{}", out.text);
        }
        refused(&mut remote);
        disconnect(&rig, &rig.hsm);
    }
    assert!(rig.hsm.cli(&["ped", "show"]).text.contains("RPV initialized: No"));
    assert!(rig.hsm.state_json()["rpv"].is_null());
    assert!(rig.hsm.state_json()["so"].is_object(), "the roles are untouched");

    // At a local PED the HSM SO reuses the orange keyset; remote access is back.
    remote.remove();
    let mut local = rig.local.holder();
    let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    local.login("SO LOGIN...", &[(&blue[0], "")]);
    login.join().expect("the CLI thread").ok();
    let vector = rig.hsm.start_cli(&["ped", "vector", "init"]);
    ceremony::reuse(&mut local, &[(&orange, ORANGE_PIN)]);
    vector.join().expect("the CLI thread").ok();
    local.remove();
    disconnect(&rig, &rig.hsm);
    rig.connect(&[]).ok();
    let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    remote.login("COMPUTE SESSION KEY.", &[(&orange, ORANGE_PIN)]);
    remote.login("SO LOGIN...", &[(&blue[0], "")]);
    login.join().expect("the CLI thread").ok();
}
