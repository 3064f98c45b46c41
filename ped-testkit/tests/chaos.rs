//! Faults on the pedclient ↔ pedserver link, each way, during `role login -name so` over
//! the Remote PED, and the PED unplugged at each phase of a remote command, on the
//! in-memory net. Each fault ends the command with the code docs/pedclient.md and
//! docs/protocol.md document, leaves hsm.json byte for byte as it was and every PED key
//! as it was, and a new `ped connect` and login work once the fault is cleared.
//!
//! One test per socket-level fault (the link dropped, half-closed, stalled toward the
//! HSM) is also a process test (tests/tests/chaos.rs), where real sockets do it.

use std::time::Duration;

use ped_proto::pedkey::{KeyColour, PedKeyPayload};
use ped_testkit::ceremony::{self, ORANGE_PIN, Plan};
use ped_testkit::{Fault, Hop, KeyHolder, Match, Net, Settings, Tap, Toward, Which};
use ped_wire::frame::{FrameHeader, FrameType, HEADER_LEN};

/// How long the HSM waits for the key holders.
const KEY_TIMEOUT: Duration = Duration::from_secs(5);

/// A started frame must complete within a second at either daemon, and a key holder
/// answers within five, as the process rig's chaos settings.
fn short_reads() -> Settings {
    let mut settings = Settings::default();
    settings.hsm.key = KEY_TIMEOUT;
    settings.pedclient.read = Duration::from_secs(1);
    settings.pedserver.read = Duration::from_secs(1);
    settings
}

/// The keys an initialised net has written.
struct Keyring {
    orange: String,
    blue: String,
    red: String,
}

impl Keyring {
    /// Every key's raw content, to show that none changed.
    fn contents(&self, net: &Net) -> Vec<Option<Vec<u8>>> {
        [&self.orange, &self.blue, &self.red].map(|k| net.key(k)).to_vec()
    }
}

/// A net with an RPV, a remote link and 1-of-1 blue and red keys (the cheapest `hsm
/// init`).
fn initialised() -> (Net, Keyring) {
    let mut net = Net::new(short_reads());
    let orange = ceremony::local_rpv(&mut net);
    net.cli(&["ped", "connect"]).ok();
    let one = Plan { m: 1, n: 1, pins: &[""] };
    let (mut blue, mut red) = ceremony::hsm_init(&mut net, Which::Remote, Some((&orange, ORANGE_PIN)), one, one);
    (net, Keyring { orange, blue: blue.remove(0), red: red.remove(0) })
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

/// What happens on the link once the tap has acted and the net has nothing more to do.
#[derive(Debug, Clone, Copy)]
enum Then {
    /// Nothing more.
    Nothing,
    /// The link is cut: a TCP link that ends right after what the tap let through.
    Cut,
    /// The link ends going this way (its receiver reads end of stream) while the other
    /// way stays open.
    HalfClose(Toward),
    /// The connection's first Record going this way is sent again: an old but authentic
    /// frame, so only the receiver's sequence check can refuse it. With the tap holding
    /// the genuine Record back ([`Fault::Reorder`]), it arrives right behind the old one,
    /// so a receiver that skipped the old one would go on unharmed.
    ReplayFirst(Toward),
}

/// One fault on the link: its name (for the failure message), the tap and what follows
/// it, when it goes on, the result the login must end with, and what the PED must show
/// after it.
struct Case {
    name: &'static str,
    tap: Tap,
    then: Then,
    when: When,
    result: &'static str,
    ped_shows: Option<&'static str>,
}

/// A tap on the relay link that acts once, on the next frame of type `kind` going
/// `toward`.
fn on_next(toward: Toward, kind: FrameType, fault: Fault) -> Tap {
    Tap::once(Hop::Relay, toward, Match::Type(kind), fault)
}

/// Runs `case`: the login under the fault, then the checks of the module documentation;
/// the net's transcript.
fn login_under(case: Case) -> String {
    let name = case.name;
    let (mut net, keys) = initialised();
    if matches!(case.when, When::OnNewLink) {
        net.cli(&["ped", "disconnect"]).ok();
        net.cli(&["ped", "connect"]).ok();
    }
    let (state, contents) = (net.state_text(), keys.contents(&net));
    if matches!(case.when, When::BeforeCommand | When::OnNewLink) {
        net.tap(case.tap.clone());
    }
    net.start(&["role", "login", "-name", "so"]);
    if let When::AtPrompt | When::AtPromptAfterWrongColour = case.when {
        net.remote().wait("SO LOGIN...", 10);
        net.tap(case.tap.clone());
        if matches!(case.when, When::AtPromptAfterWrongColour) {
            let mut remote = net.remote();
            remote.present(&keys.red, "");
            assert!(remote.screen().iter().any(|l| l == "Wrong PED Key."), "{name}: {:?}", remote.screen());
            remote.press("enter");
        }
        net.remote().present(&keys.blue, "");
    }
    match case.then {
        Then::Nothing => {}
        Then::Cut => net.cut_relay(),
        Then::HalfClose(toward) => net.half_close_relay(toward),
        Then::ReplayFirst(toward) => {
            let old = first_record(&net.stream(Hop::Relay, toward));
            net.relay_inject(toward, old);
        }
    }
    let faulted = net.elapsed();
    let out = net.finish();
    net.clear_taps();
    // The fault ends the command when it happens (a stall at the read timeout), not
    // when the HSM gives up waiting for the key holder.
    assert!(net.elapsed() - faulted < KEY_TIMEOUT, "{name}: took {:?}", net.elapsed() - faulted);
    assert!(
        out.code == Some(1) && out.result().contains(case.result),
        "{name}: expected {}:\n{}",
        case.result,
        out.text
    );
    assert_eq!(net.state_text(), state, "{name}: nothing of the login is kept:\n{}", out.text);
    assert_eq!(keys.contents(&net), contents, "{name}: no PED key changed");
    if let Some(text) = case.ped_shows {
        net.remote().wait(text, 10);
    }

    // The PED may still show the failure; the key comes out and the link is made anew.
    net.remote().remove();
    let _ = net.cli(&["ped", "disconnect"]);
    let again = net.cli(&["ped", "connect"]);
    assert_eq!(again.code, Some(0), "{name}: ped connect after the fault:\n{}", again.text);
    let out = ceremony::so_login(&mut net, &[(&keys.blue, "")]);
    assert_eq!(out.result(), "No Error", "{name}: the SO login after the fault:\n{}", out.text);
    net.transcript().to_owned()
}

/// The first Record frame of a byte stream of whole frames.
fn first_record(mut stream: &[u8]) -> Vec<u8> {
    loop {
        let header = stream.first_chunk::<HEADER_LEN>().expect("a Record in the stream");
        let header = FrameHeader::decode(header).expect("whole frames");
        let (frame, rest) = stream.split_at(HEADER_LEN + header.body_len);
        if header.frame_type == FrameType::Record {
            return frame.to_vec();
        }
        stream = rest;
    }
}

/// Pedclient's codes for a broken link (docs/pedclient.md), and the HSM's for a record
/// that fails its check at either end (protocol §6.3).
const UNPLUGGED: &str = "0x8000002e (CKR_PED_UNPLUGGED)";
const TIMED_OUT: &str = "0xc0000303 (RC_OPERATION_TIMED_OUT)";
const INTEGRITY: &str = "0xc0000905 (PED_ERROR_INTEGRITY)";
/// What the PED shows when a record from the HSM fails its check: the channel is gone.
const PED_CHANNEL_LOST: Option<&str> = Some("Connection lost.");
/// A frame's header and a little of its body: what a link cut mid-frame delivered.
const CUT_SHORT: usize = HEADER_LEN + 16;

#[test]
fn to_hsm_a_dropped_link_is_a_ped_unplugged() {
    login_under(Case {
        name: "drop → HSM",
        tap: on_next(Toward::Hsm, FrameType::Record, Fault::Cut),
        then: Then::Nothing,
        when: When::AtPrompt,
        result: UNPLUGGED,
        ped_shows: None,
    });
}

#[test]
fn to_hsm_a_frame_stalled_past_the_read_timeout_is_a_timeout() {
    // The header arrives and the body never does.
    login_under(Case {
        name: "stall → HSM",
        tap: on_next(Toward::Hsm, FrameType::Record, Fault::Truncate(HEADER_LEN)),
        then: Then::Nothing,
        when: When::AtPrompt,
        result: TIMED_OUT,
        ped_shows: None,
    });
}

#[test]
fn to_hsm_a_half_closed_link_is_a_ped_unplugged() {
    login_under(Case {
        name: "half-close → HSM",
        tap: on_next(Toward::Hsm, FrameType::Record, Fault::Drop),
        then: Then::HalfClose(Toward::Hsm),
        when: When::AtPrompt,
        result: UNPLUGGED,
        ped_shows: None,
    });
}

#[test]
fn to_hsm_a_truncated_frame_is_a_ped_unplugged() {
    login_under(Case {
        name: "truncate → HSM",
        tap: on_next(Toward::Hsm, FrameType::Record, Fault::Truncate(CUT_SHORT)),
        then: Then::Cut,
        when: When::AtPrompt,
        result: UNPLUGGED,
        ped_shows: None,
    });
}

#[test]
fn to_hsm_a_corrupted_record_fails_its_integrity_check() {
    login_under(Case {
        name: "corrupt → HSM",
        tap: on_next(Toward::Hsm, FrameType::Record, Fault::Corrupt(HEADER_LEN + 24)),
        then: Then::Nothing,
        when: When::AtPrompt,
        result: INTEGRITY,
        ped_shows: None,
    });
}

#[test]
fn to_hsm_a_replayed_record_fails_its_integrity_check() {
    // The connection's first Record from the PED came before the login (`hsm init` at the
    // latest); replayed ahead of the login's next Record, it is authentic but out of sequence.
    login_under(Case {
        name: "replay → HSM",
        tap: on_next(Toward::Hsm, FrameType::Record, Fault::Reorder),
        then: Then::ReplayFirst(Toward::Hsm),
        when: When::AtPrompt,
        result: INTEGRITY,
        ped_shows: None,
    });
}

#[test]
fn to_hsm_a_notice_and_the_splits_swapped_fail_the_sequence_check() {
    login_under(Case {
        name: "reorder → HSM",
        tap: on_next(Toward::Hsm, FrameType::Record, Fault::Reorder),
        then: Then::Nothing,
        when: When::AtPromptAfterWrongColour,
        result: INTEGRITY,
        ped_shows: None,
    });
}

#[test]
fn to_ped_a_dropped_link_is_a_ped_unplugged() {
    login_under(Case {
        name: "drop → PED",
        tap: on_next(Toward::Ped, FrameType::Record, Fault::Cut),
        then: Then::Nothing,
        when: When::BeforeCommand,
        result: UNPLUGGED,
        ped_shows: None,
    });
}

#[test]
fn to_ped_a_frame_stalled_past_pedservers_read_timeout_is_a_timeout() {
    // The header arrives and the body never does.
    login_under(Case {
        name: "stall → PED",
        tap: on_next(Toward::Ped, FrameType::Record, Fault::Truncate(HEADER_LEN)),
        then: Then::Nothing,
        when: When::BeforeCommand,
        result: TIMED_OUT,
        ped_shows: None,
    });
}

#[test]
fn to_ped_a_truncated_frame_is_a_ped_unplugged() {
    login_under(Case {
        name: "truncate → PED",
        tap: on_next(Toward::Ped, FrameType::Record, Fault::Truncate(CUT_SHORT)),
        then: Then::Cut,
        when: When::BeforeCommand,
        result: UNPLUGGED,
        ped_shows: None,
    });
}

#[test]
fn to_ped_a_corrupted_record_is_refused_by_the_ped_which_says_so() {
    login_under(Case {
        name: "corrupt → PED",
        tap: on_next(Toward::Ped, FrameType::Record, Fault::Corrupt(HEADER_LEN + 24)),
        then: Then::Nothing,
        when: When::BeforeCommand,
        result: INTEGRITY,
        ped_shows: PED_CHANNEL_LOST,
    });
}

#[test]
fn to_ped_a_half_closed_link_is_a_ped_unplugged() {
    login_under(Case {
        name: "half-close → PED",
        tap: on_next(Toward::Ped, FrameType::Record, Fault::Drop),
        then: Then::HalfClose(Toward::Ped),
        when: When::BeforeCommand,
        result: UNPLUGGED,
        ped_shows: None,
    });
}

#[test]
fn to_ped_a_replayed_record_is_refused_by_the_ped() {
    // The first Record to the PED on this connection was `hsm init`'s CreateKeyset.
    login_under(Case {
        name: "replay → PED",
        tap: on_next(Toward::Ped, FrameType::Record, Fault::Reorder),
        then: Then::ReplayFirst(Toward::Ped),
        when: When::BeforeCommand,
        result: INTEGRITY,
        ped_shows: PED_CHANNEL_LOST,
    });
}

#[test]
fn to_ped_the_first_command_ahead_of_hsm_finished_is_refused_by_the_ped() {
    login_under(Case {
        name: "reorder → PED",
        tap: on_next(Toward::Ped, FrameType::HsmFinished, Fault::Reorder),
        then: Then::Nothing,
        when: When::OnNewLink,
        result: INTEGRITY,
        ped_shows: None,
    });
}

#[test]
fn a_fault_gives_the_same_transcript_every_run() {
    let case = || Case {
        name: "reorder → HSM",
        tap: on_next(Toward::Hsm, FrameType::Record, Fault::Reorder),
        then: Then::Nothing,
        when: When::AtPromptAfterWrongColour,
        result: INTEGRITY,
        ped_shows: None,
    };
    assert!(login_under(case()) == login_under(case()), "two runs differ");
}

#[test]
fn the_ped_unplugged_during_the_handshake_leaves_the_state_unchanged() {
    let mut net = Net::new(short_reads());
    let orange = ceremony::local_rpv(&mut net);
    net.cli(&["ped", "connect"]).ok();
    let (state, orange_content) = (net.state_text(), net.key(&orange));
    net.start(&["hsm", "init", "-label", "rig"]);
    net.remote().wait("COMPUTE SESSION KEY.", 10);
    net.unplug_remote();
    net.finish().failed_with(UNPLUGGED);
    assert_eq!(net.state_text(), state, "nothing of the command is kept");
    assert_eq!(net.key(&orange), orange_content);
    let show = net.cli(&["ped", "show"]);
    assert!(
        show.text.contains("HSM label: (zeroised)") && !show.text.contains("Remote PED: connected"),
        "{}",
        show.text
    );
}

#[test]
fn the_ped_unplugged_while_hsm_init_writes_keys_reports_the_partial_keyset() {
    let mut net = Net::new(short_reads());
    let orange = ceremony::local_rpv(&mut net);
    net.cli(&["ped", "connect"]).ok();
    let blue = net.blank(2);
    let red = net.blank(1);
    let state = net.state_text();
    net.start(&["hsm", "init", "-label", "rig"]);
    let mut remote = net.remote();
    remote.login("COMPUTE SESSION KEY.", &[(&orange, ORANGE_PIN)]);
    remote.shape(1, 2);
    remote.wait("(BLUE)", 10);
    remote.write_blank(&blue[0], "");
    remote.wait("Keys write: 01 of 02", 10);
    net.unplug_remote();

    let out = net.finish();
    out.failed_with(UNPLUGGED);
    assert!(out.text.contains("The PED was writing the 2 blue keys of a new keyset"), "{}", out.text);
    assert!(out.text.contains("Nothing changed on the HSM"), "{}", out.text);
    assert_eq!(net.state_text(), state, "no keyset is taken into force");
    let written = net.key(&blue[0]).expect("the first key was written before the unplug");
    let written = PedKeyPayload::decode(&written).expect("a PED key the PED wrote");
    assert_eq!(written.colour, KeyColour::Blue);
    assert!(net.key(&blue[1]).is_none() && net.key(&red[0]).is_none(), "the rest stay blank");
    assert!(net.cli(&["ped", "show"]).text.contains("HSM label: (zeroised)"));
}
