//! Faults on the pedclient ↔ pedserver link, each way, during `role login -name so` over
//! the Remote PED, and the PED unplugged at each phase of a remote command. Each fault
//! ends the command with the code docs/pedclient.md and docs/protocol.md document,
//! leaves hsm.json byte for byte as it was and every PED key as it was, and a new `ped
//! connect` and login work once the fault is cleared.

use std::time::Duration;

use ped_proto::pedkey::KeyColour;
use ped_testkit::{KeyHolder, Which};
use tests::ceremony::{self, ORANGE_PIN, Plan};
use tests::chaos::Direction::{ToHsm, ToPed};
use tests::chaos::Fault;
use tests::rig::{RemotePed, Rig, Settings};
use tests::sim::SimHolder;

/// A started frame must complete within a second at either daemon, so the delay tests
/// stay short.
const SHORT_READS: Settings<'static> = Settings {
    pedclient: &["-socketreadtimeout", "1"],
    pedserver: &["-socketreadtimeout", "1"],
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

/// When a fault goes on during the login, and what the key holders do.
#[derive(Debug, Clone, Copy)]
enum When {
    /// Once the PED asks for the blue key, then the key is presented: the fault meets
    /// the PED's Splits.
    AtPrompt,
    /// Once the PED asks for the blue key; a red key first (the PED's Notice), then the
    /// blue one: the fault meets the Notice and the Splits right behind it.
    AtPromptAfterWrongColour,
    /// Before the login starts: the fault meets the HSM's ReadKeyset.
    BeforeCommand,
    /// On a new link, before the login: the fault meets the HSM's HsmFinished and the
    /// ReadKeyset right behind it (the PED has the RPK cached, so the handshake needs
    /// nobody at the PED).
    OnNewLink,
}

/// One fault on the link: its name (for the failure message), when it goes on, the
/// result the login must end with, and what the PED must show after it.
struct Case {
    name: &'static str,
    fault: Fault,
    when: When,
    result: &'static str,
    ped_shows: Option<&'static str>,
}

/// Runs `case`: the login under the fault, then the checks of the module documentation.
fn login_under(case: &Case) {
    let name = case.name;
    let mut rig = Rig::start(&SHORT_READS);
    let (keys, mut remote) = initialised(&mut rig);
    if matches!(case.when, When::OnNewLink) {
        rig.hsm.cli(&["ped", "disconnect"]).ok();
        rig.connect(&[]).ok();
    }
    let (state, contents) = (rig.hsm.state_text(), keys.contents(&rig));
    if matches!(case.when, When::BeforeCommand | When::OnNewLink) {
        rig.tcp.set(case.fault);
    }
    let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    if let When::AtPrompt | When::AtPromptAfterWrongColour = case.when {
        remote.wait("SO LOGIN...", 10);
        rig.tcp.set(case.fault);
        if matches!(case.when, When::AtPromptAfterWrongColour) {
            remote.present(&keys.red, "");
            assert!(remote.screen().iter().any(|l| l == "Wrong PED Key."), "{name}: {:?}", remote.screen());
            remote.press("enter");
        }
        remote.present(&keys.blue, "");
    }
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
    if let Some(text) = case.ped_shows {
        remote.wait(text, 10);
    }

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

/// Pedclient's codes for a broken link (docs/pedclient.md), and the HSM's for a record
/// that fails its check at either end (protocol §6.3).
const UNPLUGGED: &str = "0x8000002e (CKR_PED_UNPLUGGED)";
const TIMED_OUT: &str = "0xc0000303 (RC_OPERATION_TIMED_OUT)";
const INTEGRITY: &str = "0xc0000905 (PED_ERROR_INTEGRITY)";
/// What the PED shows when a record from the HSM fails its check: the channel is gone.
const PED_CHANNEL_LOST: Option<&str> = Some("Connection lost.");
/// Past each daemon's one-second `socketreadtimeout`.
const STALL: Duration = Duration::from_secs(2);

#[test]
fn to_hsm_a_dropped_link_is_a_ped_unplugged() {
    login_under(&Case {
        name: "drop → HSM",
        fault: Fault::Drop(ToHsm),
        when: When::AtPrompt,
        result: UNPLUGGED,
        ped_shows: None,
    });
}

#[test]
fn to_hsm_a_frame_stalled_past_the_read_timeout_is_a_timeout() {
    login_under(&Case {
        name: "delay → HSM",
        fault: Fault::Delay(ToHsm, STALL),
        when: When::AtPrompt,
        result: TIMED_OUT,
        ped_shows: None,
    });
}

#[test]
fn to_hsm_a_truncated_frame_is_a_ped_unplugged() {
    login_under(&Case {
        name: "truncate → HSM",
        fault: Fault::Truncate(ToHsm),
        when: When::AtPrompt,
        result: UNPLUGGED,
        ped_shows: None,
    });
}

#[test]
fn to_hsm_a_corrupted_record_fails_its_integrity_check() {
    login_under(&Case {
        name: "corrupt → HSM",
        fault: Fault::Corrupt(ToHsm),
        when: When::AtPrompt,
        result: INTEGRITY,
        ped_shows: None,
    });
}

#[test]
fn to_hsm_a_half_closed_link_is_a_ped_unplugged() {
    login_under(&Case {
        name: "half-close → HSM",
        fault: Fault::HalfClose(ToHsm),
        when: When::AtPrompt,
        result: UNPLUGGED,
        ped_shows: None,
    });
}

#[test]
fn to_hsm_a_replayed_record_fails_its_integrity_check() {
    // The connection's first Record from the PED came before the login (`hsm init` at the
    // latest); replayed ahead of the login's next Record, it is authentic but out of sequence.
    login_under(&Case {
        name: "replay → HSM",
        fault: Fault::Replay(ToHsm),
        when: When::AtPrompt,
        result: INTEGRITY,
        ped_shows: None,
    });
}

#[test]
fn to_hsm_a_notice_and_the_splits_swapped_fail_the_sequence_check() {
    login_under(&Case {
        name: "reorder → HSM",
        fault: Fault::Reorder(ToHsm),
        when: When::AtPromptAfterWrongColour,
        result: INTEGRITY,
        ped_shows: None,
    });
}

#[test]
fn to_ped_a_dropped_link_is_a_ped_unplugged() {
    login_under(&Case {
        name: "drop → PED",
        fault: Fault::Drop(ToPed),
        when: When::BeforeCommand,
        result: UNPLUGGED,
        ped_shows: None,
    });
}

#[test]
fn to_ped_a_frame_stalled_past_pedservers_read_timeout_is_a_timeout() {
    login_under(&Case {
        name: "delay → PED",
        fault: Fault::Delay(ToPed, STALL),
        when: When::BeforeCommand,
        result: TIMED_OUT,
        ped_shows: None,
    });
}

#[test]
fn to_ped_a_truncated_frame_is_a_ped_unplugged() {
    login_under(&Case {
        name: "truncate → PED",
        fault: Fault::Truncate(ToPed),
        when: When::BeforeCommand,
        result: UNPLUGGED,
        ped_shows: None,
    });
}

#[test]
fn to_ped_a_corrupted_record_is_refused_by_the_ped_which_says_so() {
    login_under(&Case {
        name: "corrupt → PED",
        fault: Fault::Corrupt(ToPed),
        when: When::BeforeCommand,
        result: INTEGRITY,
        ped_shows: PED_CHANNEL_LOST,
    });
}

#[test]
fn to_ped_a_half_closed_link_is_a_ped_unplugged() {
    login_under(&Case {
        name: "half-close → PED",
        fault: Fault::HalfClose(ToPed),
        when: When::BeforeCommand,
        result: UNPLUGGED,
        ped_shows: None,
    });
}

#[test]
fn to_ped_a_replayed_record_is_refused_by_the_ped() {
    // The first Record to the PED on this connection was `hsm init`'s CreateKeyset.
    login_under(&Case {
        name: "replay → PED",
        fault: Fault::Replay(ToPed),
        when: When::BeforeCommand,
        result: INTEGRITY,
        ped_shows: PED_CHANNEL_LOST,
    });
}

#[test]
fn to_ped_the_first_command_ahead_of_hsm_finished_is_refused_by_the_ped() {
    login_under(&Case {
        name: "reorder → PED",
        fault: Fault::Reorder(ToPed),
        when: When::OnNewLink,
        result: INTEGRITY,
        ped_shows: None,
    });
}

#[test]
fn the_ped_unplugged_during_the_handshake_leaves_the_state_unchanged() {
    let mut rig = Rig::start(&SHORT_READS);
    let orange = ceremony::local_rpv(&mut rig);
    rig.connect(&[]).ok();
    let mut remote = rig.remote.holder();
    let (state, orange_content) = (rig.hsm.state_text(), rig.keys.payload(&orange));
    let init = rig.hsm.start_cli(&["hsm", "init", "-label", "rig"]);
    remote.wait("COMPUTE SESSION KEY.", 10);
    rig.remote.unplug();
    init.join().expect("the CLI thread").failed_with(UNPLUGGED);
    assert_eq!(rig.hsm.state_text(), state, "nothing of the command is kept");
    assert_eq!(rig.keys.payload(&orange), orange_content);
    let show = rig.hsm.cli(&["ped", "show"]);
    assert!(
        show.text.contains("HSM label: (zeroised)") && !show.text.contains("Remote PED: connected"),
        "{}",
        show.text
    );
}

#[test]
fn the_ped_unplugged_while_hsm_init_writes_keys_reports_the_partial_keyset() {
    let mut rig = Rig::start(&SHORT_READS);
    let orange = ceremony::local_rpv(&mut rig);
    rig.connect(&[]).ok();
    let mut remote = rig.remote.holder();
    let blue = rig.keys.blank(2);
    let red = rig.keys.blank(1);
    let state = rig.hsm.state_text();
    let init = rig.hsm.start_cli(&["hsm", "init", "-label", "rig"]);
    remote.login("COMPUTE SESSION KEY.", &[(&orange, ORANGE_PIN)]);
    remote.shape(1, 2);
    remote.wait("(BLUE)", 10);
    remote.write_blank(&blue[0], "");
    remote.wait("Keys write: 01 of 02", 10);
    rig.remote.unplug();

    let out = init.join().expect("the CLI thread");
    out.failed_with(UNPLUGGED);
    assert!(out.text.contains("The PED was writing the 2 blue keys of a new keyset"), "{}", out.text);
    assert!(out.text.contains("Nothing changed on the HSM"), "{}", out.text);
    assert_eq!(rig.hsm.state_text(), state, "no keyset is taken into force");
    let written = rig.keys.content(&blue[0]).expect("the first key was written before the unplug");
    assert_eq!(written.colour, KeyColour::Blue);
    assert!(rig.keys.content(&blue[1]).is_none() && rig.keys.content(&red[0]).is_none(), "the rest stay blank");
    assert!(rig.hsm.cli(&["ped", "show"]).text.contains("HSM label: (zeroised)"));
}
