//! The socket-level faults on the pedclient ↔ pedserver link, with every component a
//! process, one test each: the link dropped (end of stream both ways), a frame stalled
//! past the read timeout, the link half-closed; during `role login -name so` over the
//! Remote PED. Each ends the command with the code docs/pedclient.md documents, leaves
//! hsm.json byte for byte as it was and every PED key as it was, and a new `ped
//! connect` and login work once the fault is cleared. The whole matrix (every fault
//! each way, the PED unplugged at each phase) runs on the in-memory net:
//! ped-testkit/tests/chaos.rs.

use ped_testkit::{KeyHolder, Which};
use tests::ceremony::{self, ORANGE_PIN, Plan};
use tests::chaos::Direction::ToHsm;
use tests::chaos::Fault;
use tests::rig::{RemotePed, Rig, Settings};
use tests::sim::SimHolder;

/// A started frame must complete within 0.2 s at either daemon, so that a stall is
/// over in a fraction of a second.
const SHORT_READS: Settings<'static> = Settings {
    pedclient: &["-socketreadtimeout", "0.2"],
    pedserver: &["-socketreadtimeout", "0.2"],
    hsm: &[],
    key_timeout: 5,
    remote_by_hand: None,
    taps: true,
    remote: RemotePed::Sim,
};

/// The keys an initialised rig has written.
struct Keyring {
    orange: String,
    blue: String,
    red: String,
}

impl Keyring {
    /// Every key's raw content, to show that none changed.
    fn contents(&self, rig: &Rig) -> Vec<Vec<u8>> {
        [&self.orange, &self.blue, &self.red].map(|k| rig.keys.payload(k)).to_vec()
    }
}

/// A rig with an RPV, a remote link and 1-of-1 blue and red keys (the cheapest `hsm
/// init`); returns the keys and the remote key holder.
fn initialised(rig: &mut Rig) -> (Keyring, SimHolder) {
    let orange = ceremony::local_rpv(rig);
    rig.connect(&[]).ok();
    let one = Plan { m: 1, n: 1, pins: &[""] };
    let (mut blue, mut red) = ceremony::hsm_init(rig, Which::Remote, Some((&orange, ORANGE_PIN)), one, one);
    (Keyring { orange, blue: blue.remove(0), red: red.remove(0) }, rig.remote.holder())
}

/// One fault on the link: its name (for the failure message), and the result the
/// login must end with.
struct Case {
    name: &'static str,
    fault: Fault,
    result: &'static str,
}

/// Runs `case`: the login under the fault, then the checks of the module documentation.
fn login_under(case: &Case) {
    let name = case.name;
    let mut rig = Rig::start(&SHORT_READS);
    let (keys, mut remote) = initialised(&mut rig);
    let (state, contents) = (rig.hsm.state_text(), keys.contents(&rig));
    let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    remote.wait("SO LOGIN...", 10);
    rig.tcp.set(case.fault);
    remote.present(&keys.blue, "");
    let out = login.join().expect("the CLI thread");
    rig.tcp.set(Fault::Pass);
    assert!(
        out.code == Some(1) && out.result().contains(case.result),
        "{name}: expected {}:\n{}",
        case.result,
        out.text
    );
    assert_eq!(rig.hsm.state_text(), state, "{name}: nothing of the login is kept:\n{}", out.text);
    assert_eq!(keys.contents(&rig), contents, "{name}: no PED key changed");

    // The PED may still show the failure; the key comes out and the link is made anew.
    remote.try_run("remove");
    let _ = rig.hsm.cli(&["ped", "disconnect"]);
    let again = rig.connect(&[]);
    assert_eq!(again.code, Some(0), "{name}: ped connect after the fault:\n{}", again.text);
    let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    remote.login("SO LOGIN...", &[(&keys.blue, "")]);
    let out = login.join().expect("the CLI thread");
    assert_eq!(out.result(), "No Error", "{name}: the SO login after the fault:\n{}", out.text);
}

/// Pedclient's codes for a broken link (docs/pedclient.md).
const UNPLUGGED: &str = "0x8000002e (CKR_PED_UNPLUGGED)";
const TIMED_OUT: &str = "0xc0000303 (RC_OPERATION_TIMED_OUT)";

#[test]
fn to_hsm_a_dropped_link_is_a_ped_unplugged() {
    login_under(&Case { name: "drop → HSM", fault: Fault::Drop(ToHsm), result: UNPLUGGED });
}

#[test]
fn to_hsm_a_frame_stalled_past_the_read_timeout_is_a_timeout() {
    login_under(&Case { name: "stall → HSM", fault: Fault::Stall(ToHsm), result: TIMED_OUT });
}

#[test]
fn to_hsm_a_half_closed_link_is_a_ped_unplugged() {
    login_under(&Case { name: "half-close → HSM", fault: Fault::HalfClose(ToHsm), result: UNPLUGGED });
}
