//! The HSM's logic against the real PED core, in-process: ped-firmware's own test rig
//! is the PED and its key drawer; the key holders are closures that press the keys.

#[path = "../../ped-firmware/tests/common/mod.rs"]
mod common;
mod steps;

use common::{NOW, Rig, one_frame, present};
use hsm_emu::channel::{Auth, Handshake};
use hsm_emu::state::Store;
use hsm_emu::{Code, Hsm, HsmCode, HsmError, Request, RoleName, Step};
use ped_firmware::io::Button;
use ped_proto::EcdhKeyPair;
use ped_proto::ErrorCode;
use ped_proto::command::{HsmCommand, Notice, PedReply, Role};
use ped_proto::frame::{Frame, FrameType};
use ped_proto::handshake::{ChannelKind, PedKeyShare, SUPPORTED_VERSIONS};
use ped_proto::pedkey::{KeyColour, PedKeyPayload};
use ped_proto::quorum::KeysetId;
use ped_proto::record::{ChannelSession, Opened};
use ped_proto::secrets::{OneTimePassword, PasswordDigits};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use steps::{type_password, write_blank};

/// The HSM, its state directory, the PED and the open channel.
struct Bench {
    hsm: Hsm,
    store: Store,
    rig: Rig,
    session: Option<ChannelSession>,
    rng: ChaCha20Rng,
    dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Bench {
        Bench::manufactured("150001", 5)
    }

    /// An HSM of `serial` whose factory chain comes from `seed`: another seed, another HOC.
    fn manufactured(serial: &str, seed: u64) -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("hsm")).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let hsm = Hsm::start(&store, serial, &mut rng, NOW).unwrap();
        let rig = Rig::new(hsm.root_der().to_vec());
        Bench { hsm, store, rig, session: None, rng, dir }
    }

    /// Opens a channel of `auth`, with `holder` acting on the PED after the hello.
    fn connect(&mut self, auth: &mut Auth, holder: impl FnOnce(&mut Rig)) -> Result<(), HsmError> {
        let (pending, hello) = Handshake::start(&self.hsm, auth, &mut self.rng)?;
        self.rig.host(hello);
        holder(&mut self.rig);
        let share = one_frame(&mut self.rig);
        let finished = pending.finish(&share, &mut self.hsm, auth);
        self.persist();
        match finished {
            Ok((session, finished)) => {
                self.rig.host(finished);
                assert!(self.rig.take_sent().is_empty());
                self.session = Some(session);
                Ok(())
            }
            Err(e) => {
                self.rig.host(ped_proto::frame::handshake_failed());
                self.rig.take_sent();
                Err(e)
            }
        }
    }

    fn connect_local(&mut self) {
        self.connect(&mut Auth::Local, |_| {}).unwrap();
    }

    /// Runs `request`; after each command reaches the PED, `holder` plays the key holders.
    fn run(
        &mut self,
        request: Request,
        mut holder: impl FnMut(&mut Rig, &HsmCommand),
    ) -> (Result<(), HsmError>, Vec<Notice>) {
        let kind = self.session.as_ref().unwrap().kind();
        let mut notices = Vec::new();
        let (mut op, first) = match self.hsm.begin(request, kind) {
            Ok(started) => started,
            Err(e) => return (Err(e), notices),
        };
        let mut next = Some(first);
        loop {
            if let Some(command) = next.take() {
                let session = self.session.as_mut().unwrap();
                self.rig.host(session.seal(&command.encode().unwrap()).unwrap());
                holder(&mut self.rig, &command);
            }
            let sent = self.rig.take_sent();
            assert!(!sent.is_empty(), "the PED answered nothing");
            for frame in sent {
                let session = self.session.as_mut().unwrap();
                let Opened::Data(payload) = session.open(Frame::decode_exact(&frame).unwrap()).unwrap() else {
                    panic!("closed")
                };
                let reply = PedReply::decode(&payload).unwrap();
                let step = self.hsm.on_reply(&mut op, reply, self.session.as_ref().unwrap(), &mut self.rng, NOW);
                self.persist();
                match step {
                    Ok(Step::Send(command)) => next = Some(command),
                    Ok(Step::Wait(notice)) => notices.push(notice),
                    Ok(Step::Done) => return (Ok(()), notices),
                    Err(e) => return (Err(e), notices),
                }
            }
        }
    }

    fn persist(&mut self) {
        if self.hsm.take_dirty() {
            self.store.save_state(self.hsm.state()).unwrap();
        }
    }

    /// A PED that names, in its C(2e,2s) key share, an orange keyset this HSM does not
    /// hold (a modified PED: a real one refuses such a key before sending anything).
    fn unknown_keyset_share(&mut self, auth: &mut Auth) -> HsmError {
        let (pending, _hello) = Handshake::start(&self.hsm, auth, &mut self.rng).unwrap();
        let share = PedKeyShare {
            version: SUPPORTED_VERSIONS[0],
            ped_id: b"PED-0001".to_vec(),
            ephemeral: *EcdhKeyPair::generate(&mut self.rng).public(),
            orange_keyset: Some(KeysetId::from_bytes([0xee; 16])),
            tag: Some([0; 64]),
        };
        let frame = ped_proto::frame::encode(FrameType::PedKeyShare, &share.encode(ChannelKind::RemoteRpv).unwrap());
        let result = pending.finish(&frame, &mut self.hsm, auth);
        self.persist();
        result.unwrap_err()
    }

    /// A new PED (nothing cached) with the same key drawer.
    fn fresh_ped(&mut self) {
        let keys = self.rig.take_keys();
        self.rig = Rig::new(self.hsm.root_der().to_vec());
        *self.rig.keys_mut() = keys;
    }

    fn blank_keys(&mut self, n: usize) -> Vec<usize> {
        (0..n).map(|_| self.rig.add_key(None)).collect()
    }

    fn so_failures(&self) -> u32 {
        self.hsm.state().so_failures
    }
}

/// Key holders creating new keysets M of N, one set with `pins` and, if `duplicates`
/// has PINs, a duplicate set; `keys(role)` says which blank keys to use.
fn creator<'a>(
    m: u8,
    n: u8,
    pins: &'a [&'a str],
    duplicates: &'a [&'a str],
    keys: impl Fn(Role) -> Vec<usize> + 'a,
) -> impl FnMut(&mut Rig, &HsmCommand) + 'a {
    move |rig, command| match command {
        HsmCommand::CreateKeyset { offer_reuse, .. } => {
            if *offer_reuse {
                rig.press(Button::No);
            }
            rig.digits(&m.to_string());
            rig.enter();
            rig.digits(&n.to_string());
            rig.enter();
        }
        HsmCommand::WriteSplits { prompt, .. } => {
            let keys = keys(prompt.role);
            for (i, pin) in pins.iter().enumerate() {
                write_blank(rig, keys[i], pin);
            }
            if duplicates.is_empty() {
                rig.press(Button::No);
            } else {
                rig.press(Button::Yes);
                for (i, pin) in duplicates.iter().enumerate() {
                    write_blank(rig, keys[pins.len() + i], pin);
                }
                rig.press(Button::No);
            }
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// Key holders presenting `keys` with their PINs to one ReadKeyset.
fn reader(keys: Vec<(usize, Option<&str>)>) -> impl FnMut(&mut Rig, &HsmCommand) + '_ {
    move |rig, command| {
        assert!(matches!(command, HsmCommand::ReadKeyset { .. }), "unexpected {command:?}");
        for (key, pin) in &keys {
            present(rig, *key, *pin);
        }
    }
}

const BLUE_PINS: [&str; 5] = ["1111", "2222", "", "4444", "5555"];
const DUP_PINS: [&str; 5] = ["9111", "", "9333", "9444", "9555"];

/// `hsm init` with blue and red 3-of-5 keysets with PINs and a duplicate set.
fn initialised() -> (Bench, Vec<usize>, Vec<usize>) {
    let mut b = Bench::new();
    b.connect_local();
    let blue = b.blank_keys(10);
    let red = b.blank_keys(10);
    let (blue2, red2) = (blue.clone(), red.clone());
    let keys = move |role| if role == Role::HsmSo { blue2.clone() } else { red2.clone() };
    let (result, _) = b.run(Request::HsmInit { label: "lab".into() }, creator(3, 5, &BLUE_PINS, &DUP_PINS, keys));
    result.unwrap();
    (b, blue, red)
}

fn pin(i: usize) -> Option<&'static str> {
    let p = if i < 5 { BLUE_PINS[i] } else { DUP_PINS[i - 5] };
    (!p.is_empty()).then_some(p)
}

#[test]
fn hsm_init_writes_3_of_5_keysets_with_a_duplicate_set_and_a_quorum_logs_in() {
    let (mut b, blue, red) = initialised();
    let payloads: Vec<PedKeyPayload> = blue
        .iter()
        .chain(&red)
        .map(|&k| PedKeyPayload::decode(b.rig.keys()[k].content.as_ref().unwrap()).unwrap())
        .collect();
    assert!(payloads[..10].iter().all(|p| p.colour == KeyColour::Blue && p.split.quorum().m() == 3));
    assert!(payloads[10..].iter().all(|p| p.colour == KeyColour::Red));
    assert!(b.hsm.state().so.is_some() && b.hsm.state().domain.is_some());
    assert!(!b.hsm.is_zeroised());

    // A quorum from both sets: a duplicate (index 2, own PIN-less), originals 3 and 5.
    let (result, notices) =
        b.run(Request::Login(RoleName::So), reader(vec![(blue[6], pin(6)), (blue[2], pin(2)), (blue[4], pin(4))]));
    result.unwrap();
    assert!(notices.is_empty());
    assert!(b.hsm.is_logged_in(RoleName::So));
}

#[test]
fn a_wrong_pin_fails_only_after_the_quorum_and_three_failures_zeroise() {
    let (mut b, blue, _) = initialised();
    for attempt in 1..=3u32 {
        let mut holder = |rig: &mut Rig, command: &HsmCommand| {
            assert!(matches!(command, HsmCommand::ReadKeyset { .. }));
            present(rig, blue[0], Some("1111"));
            present(rig, blue[1], Some("2222"));
            // Nothing is counted before the whole quorum is in.
            present(rig, blue[3], Some("4445"));
        };
        assert_eq!(b.so_failures(), attempt - 1);
        let (result, _) = b.run(Request::Login(RoleName::So), &mut holder);
        let e = result.unwrap_err();
        assert_eq!(e.code, Code::Hsm(HsmCode::PinIncorrect), "{e}");
        if attempt < 3 {
            assert_eq!(b.so_failures(), attempt);
            assert_eq!(b.store.load_state().unwrap().so_failures, attempt, "the counter is on disk before the reply");
        }
    }
    assert!(b.hsm.is_zeroised(), "three consecutive failures zeroise the HSM");
    assert!(b.hsm.state().so.is_none() && b.hsm.state().domain.is_none());
    assert!(b.store.load_state().unwrap().label.is_none());
    let (result, _) = b.run(Request::Login(RoleName::So), |_, _| panic!("no PED command on a zeroised HSM"));
    assert_eq!(result.unwrap_err().code, Code::Hsm(HsmCode::NotInitialized));
}

#[test]
fn a_wrong_colour_or_a_cancel_is_not_counted_and_a_success_resets_the_counter() {
    let (mut b, blue, red) = initialised();
    let (result, notices) = b.run(Request::Login(RoleName::So), |rig, _| {
        present(rig, red[0], None);
        rig.enter(); // dismisses "Wrong PED Key."
        for (k, &key) in blue.iter().enumerate().take(3) {
            present(rig, key, pin(k));
        }
    });
    result.unwrap();
    assert_eq!(notices, [Notice::WrongColour]);
    assert_eq!(b.so_failures(), 0);

    // One real failure, then a cancelled attempt (not counted), then a success.
    let (result, _) =
        b.run(Request::Login(RoleName::So), reader(vec![(blue[0], Some("1112")), (blue[1], pin(1)), (blue[2], None)]));
    assert_eq!(result.unwrap_err().code, Code::Hsm(HsmCode::PinIncorrect));
    assert_eq!(b.so_failures(), 1);
    let (result, _) = b.run(Request::Login(RoleName::So), |rig, _| {
        present(rig, blue[0], pin(0));
        rig.event(ped_firmware::io::Event::ClearHeld);
    });
    assert_eq!(result.unwrap_err().code, Code::Ped(ErrorCode::CkrCancel));
    assert_eq!(b.so_failures(), 1);
    let (result, _) =
        b.run(Request::Login(RoleName::So), reader(vec![(blue[3], pin(3)), (blue[4], pin(4)), (blue[0], pin(0))]));
    result.unwrap();
    assert_eq!(b.so_failures(), 0);
}

#[test]
fn a_keyset_is_reused_at_init_and_changepw_presents_the_old_keyset_first() {
    let (mut b, blue, _) = initialised();
    let so = b.hsm.state().so.clone().unwrap();
    b.run(Request::Login(RoleName::So), reader(vec![(blue[0], pin(0)), (blue[1], pin(1)), (blue[2], pin(2))]))
        .0
        .unwrap();

    // Re-initialise the HSM reusing the blue keyset; the red one is new, 1 of 1.
    let red = b.blank_keys(1);
    let mut holder = |rig: &mut Rig, command: &HsmCommand| match command {
        HsmCommand::CreateKeyset { prompt, .. } if prompt.role == Role::HsmSo => {
            rig.press(Button::Yes);
            for k in [3, 4, 0] {
                present(rig, blue[k], pin(k));
            }
            rig.press(Button::No); // no duplicate of the reused keyset
        }
        HsmCommand::CreateKeyset { .. } => {
            rig.press(Button::No);
            rig.digits("1");
            rig.enter();
            rig.digits("1");
            rig.enter();
        }
        HsmCommand::WriteSplits { .. } => {
            write_blank(rig, red[0], "");
            rig.press(Button::No);
        }
        other => panic!("unexpected {other:?}"),
    };
    b.run(Request::HsmInit { label: "again".into() }, &mut holder).0.unwrap();
    assert_eq!(b.hsm.state().so.as_ref(), Some(&so), "the same secret and keyset id");
    assert!(!b.hsm.is_logged_in(RoleName::So), "init logs everyone out");

    // changepw: the old keyset (READING), then a new 1-of-1 with a PIN.
    b.run(Request::Login(RoleName::So), reader(vec![(blue[0], pin(0)), (blue[1], pin(1)), (blue[2], pin(2))]))
        .0
        .unwrap();
    let new = b.blank_keys(1);
    let mut seen = Vec::new();
    let mut holder = |rig: &mut Rig, command: &HsmCommand| {
        seen.push(command.clone());
        match command {
            HsmCommand::ReadKeyset { prompt } => {
                assert_eq!(prompt.activity, ped_proto::command::Activity::Reading);
                for k in [0, 1, 2] {
                    present(rig, blue[k], pin(k));
                }
            }
            HsmCommand::CreateKeyset { .. } => {
                rig.press(Button::No);
                rig.digits("1");
                rig.enter();
                rig.digits("1");
                rig.enter();
            }
            HsmCommand::WriteSplits { .. } => {
                write_blank(rig, new[0], "8642");
                rig.press(Button::No);
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    b.run(Request::ChangePw(RoleName::So), &mut holder).0.unwrap();
    assert!(matches!(seen[0], HsmCommand::ReadKeyset { .. }));
    assert_ne!(b.hsm.state().so.as_ref(), Some(&so));
    b.run(Request::Login(RoleName::So), reader(vec![(new[0], Some("8642"))])).0.unwrap();
}

#[test]
fn partition_roles_and_their_rules() {
    let (mut b, blue, _) = initialised();
    let keys = b.blank_keys(3);
    let k2 = keys.clone();
    let ks = move |role| if role == Role::PartitionSo { vec![k2[0]] } else { vec![k2[1]] };
    // The HSM SO creates the partition (seed 5095); only then may it be initialised.
    let (result, _) = b.run(Request::PartitionInit { label: "part1".into() }, |_, _| panic!("refused before the PED"));
    assert_eq!(result.unwrap_err().code, Code::Hsm(HsmCode::NotInitialized));
    assert_eq!(b.hsm.create_partition().unwrap_err().code, Code::Hsm(HsmCode::UserNotLoggedIn));
    assert!(b.hsm.state().partition.is_none());
    b.run(Request::Login(RoleName::So), reader(vec![(blue[0], pin(0)), (blue[1], pin(1)), (blue[2], pin(2))]))
        .0
        .unwrap();
    b.hsm.create_partition().unwrap();
    assert_eq!(b.hsm.create_partition().unwrap_err().code, Code::Hsm(HsmCode::NotAllowed), "one partition");
    let (result, _) = b.run(Request::Login(RoleName::Po), |_, _| panic!("refused before the PED"));
    assert_eq!(result.unwrap_err().code, Code::Hsm(HsmCode::NotInitialized), "created, not initialised");
    b.run(Request::PartitionInit { label: "part1".into() }, creator(1, 1, &["1357"], &[], ks)).0.unwrap();
    b.run(Request::Login(RoleName::Po), reader(vec![(keys[0], Some("1357"))])).0.unwrap();
    let co = keys[2];
    b.run(Request::RoleInit(RoleName::Co), creator(1, 1, &[""], &[], move |_| vec![co])).0.unwrap();

    // Ten wrong CO logins (a PIN on a PIN-less key is never asked; use a blue key's
    // black twin: a freshly made wrong black key).
    let wrong = b.blank_keys(1)[0];
    let (result, _) = b.run(Request::RoleInit(RoleName::Cu), creator(1, 1, &[""], &[], move |_| vec![wrong]));
    assert_eq!(result.unwrap_err().code, Code::Hsm(HsmCode::UserNotLoggedIn), "CU is made by the CO");
    b.run(Request::Login(RoleName::Co), reader(vec![(co, None)])).0.unwrap();
    b.run(Request::RoleInit(RoleName::Cu), creator(1, 1, &[""], &[], move |_| vec![wrong])).0.unwrap();
    for i in 1..=10u32 {
        let (result, _) = b.run(Request::Login(RoleName::Co), reader(vec![(wrong, None)]));
        let e = result.unwrap_err();
        assert_eq!(b.hsm.state().partition.as_ref().unwrap().user_failures, i);
        if i == 10 {
            assert_eq!(e.code, Code::Hsm(HsmCode::PinLocked));
        }
    }
    let (result, _) = b.run(Request::Login(RoleName::Cu), |_, _| panic!("a locked role asks nothing"));
    assert_eq!(result.unwrap_err().code, Code::Hsm(HsmCode::PinLocked));

    // Ten wrong Partition SO logins zeroise the partition.
    for _ in 0..10 {
        b.run(Request::Login(RoleName::Po), reader(vec![(keys[0], Some("1358"))])).0.unwrap_err();
    }
    let zeroised = b.hsm.state().partition.clone().unwrap();
    assert!(zeroised.so.is_none() && zeroised.co.is_none() && zeroised.label.is_empty(), "{zeroised:?}");
    assert!(!b.hsm.is_zeroised(), "the HSM itself stays");

    // The HSM SO, still logged in, deletes it: nothing of it is left.
    b.hsm.delete_partition().unwrap();
    assert!(b.hsm.state().partition.is_none());
    assert_eq!(b.hsm.delete_partition().unwrap_err().code, Code::Hsm(HsmCode::NotInitialized));
    b.persist();
    assert!(b.store.load_state().unwrap().partition.is_none(), "on disk");
}

#[test]
fn a_factory_reset_erases_roles_partition_and_rpv_and_keeps_the_factory_identity() {
    let (mut b, blue, _) = initialised();
    let orange = b.blank_keys(1);
    b.run(Request::Login(RoleName::So), reader(vec![(blue[0], pin(0)), (blue[1], pin(1)), (blue[2], pin(2))]))
        .0
        .unwrap();
    let o = orange.clone();
    b.run(Request::VectorInit, creator(1, 1, &[""], &[], move |_| o.clone())).0.unwrap();
    b.hsm.create_partition().unwrap();
    b.hsm.set_ped_default(Some("192.0.2.7".into()), Some(1600));
    b.persist();
    let identity = std::fs::read(b.dir.path().join("hsm/identity.json")).unwrap();
    let root = b.hsm.root_der().to_vec();

    b.hsm.factory_reset();
    b.persist();
    for state in [b.hsm.state().clone(), b.store.load_state().unwrap()] {
        assert!(state.label.is_none() && state.so.is_none() && state.domain.is_none() && state.auditor.is_none());
        assert!(state.partition.is_none() && state.rpv.is_none());
        assert_eq!((state.so_failures, state.auditor_failures), (0, 0));
        assert_eq!((state.ped_ip.as_deref(), state.ped_port), (Some("192.0.2.7"), Some(1600)), "PED defaults kept");
    }
    assert!(b.hsm.is_zeroised() && !b.hsm.has_rpv() && b.hsm.rpks().is_empty());
    assert!(!b.hsm.is_logged_in(RoleName::So), "logged out");
    assert_eq!(std::fs::read(b.dir.path().join("hsm/identity.json")).unwrap(), identity, "same factory identity");
    assert_eq!(b.hsm.serial(), "150001");
    assert_eq!(b.hsm.root_der(), root.as_slice());

    // The old blue keys open nothing; `hsm init` starts again, on a zeroised HSM with no login.
    let (result, _) = b.run(Request::Login(RoleName::So), |_, _| panic!("refused before the PED"));
    assert_eq!(result.unwrap_err().code, Code::Hsm(HsmCode::NotInitialized));
    let fresh = b.blank_keys(2);
    let f = fresh.clone();
    let keys = move |role| if role == Role::HsmSo { vec![f[0]] } else { vec![f[1]] };
    b.run(Request::HsmInit { label: "again".into() }, creator(1, 1, &["8080"], &[], keys)).0.unwrap();
    let (result, _) =
        b.run(Request::Login(RoleName::So), reader(vec![(blue[0], pin(0)), (blue[1], pin(1)), (blue[2], pin(2))]));
    assert_eq!(result.unwrap_err().code, Code::Hsm(HsmCode::PinIncorrect));
    b.run(Request::Login(RoleName::So), reader(vec![(fresh[0], Some("8080"))])).0.unwrap();
}

/// Key holders answering YES to reuse at `ped vector init` with the orange key `key`
/// (PIN `pin`), no duplicate.
fn reuse_orange(key: usize, pin: &str) -> impl FnMut(&mut Rig, &HsmCommand) + '_ {
    move |rig, command| match command {
        HsmCommand::CreateKeyset { prompt, offer_reuse: true, .. } if prompt.role == Role::Rpv => {
            rig.press(Button::Yes);
            present(rig, key, Some(pin));
            rig.press(Button::No);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn after_a_factory_reset_the_original_orange_keyset_is_reused_and_opens_the_remote_channel() {
    let (mut b, blue, _) = initialised();
    b.run(Request::Login(RoleName::So), reader(vec![(blue[0], pin(0)), (blue[1], pin(1)), (blue[2], pin(2))]))
        .0
        .unwrap();
    let orange = b.blank_keys(1)[0];
    b.run(Request::VectorInit, creator(1, 1, &["2468"], &[], move |_| vec![orange])).0.unwrap();
    let old = b.hsm.state().rpv.clone().unwrap();

    // Seed 5074: after the reset the RPV is recreated with the original orange key. The
    // reused keyset brings back the same keyset, RPV and RPK, under a new certificate.
    b.hsm.factory_reset();
    assert!(!b.hsm.has_rpv());
    b.run(Request::VectorInit, reuse_orange(orange, "2468")).0.unwrap();
    b.persist();
    let again = b.store.load_state().unwrap().rpv.unwrap();
    assert_eq!(
        (again.keyset_id.as_str(), again.rpv.as_str(), &again.public_key),
        (old.keyset_id.as_str(), old.rpv.as_str(), &old.public_key)
    );
    assert_rpk_cert(&b);
    let written = b.rig.keys()[orange].content.clone();

    // A fresh Remote PED opens a C(2e,2s) channel with that orange key.
    b.fresh_ped();
    let mut auth = Auth::remote(&b.hsm, None).unwrap();
    b.connect(&mut auth, |rig| present(rig, orange, Some("2468"))).unwrap();
    assert_eq!(b.session.as_ref().unwrap().kind(), ChannelKind::RemoteRpv);
    assert_eq!(b.rig.keys()[orange].content, written, "a reused key is only read");

    // Over a remote channel too the orange keyset is offered for reuse (one orange
    // keyset may serve many HSMs); cancelling keeps the RPV in force.
    let (result, _) = b.run(Request::VectorInit, |rig, command| {
        assert!(matches!(command, HsmCommand::CreateKeyset { offer_reuse: true, .. }), "{command:?}");
        rig.event(ped_firmware::io::Event::ClearHeld);
    });
    assert_eq!(result.unwrap_err().code, Code::Ped(ErrorCode::CkrCancel));
    assert_eq!(b.hsm.state().rpv.as_ref().map(|r| r.keyset_id.as_str()), Some(old.keyset_id.as_str()));
    assert!(b.hsm.has_rpv());
}

#[test]
fn rpv_init_locally_then_remotely_over_rpv_and_rotation() {
    let mut b = Bench::new();
    b.connect_local();
    let orange = b.blank_keys(2);
    let o = orange.clone();
    b.run(Request::VectorInit, creator(1, 1, &["2468"], &[""], move |_| o.clone())).0.unwrap();
    assert!(b.hsm.has_rpv());
    let old_keyset = b.hsm.rpks()[0].keyset_id;

    // A Remote PED over the RPV: a fresh PED asks for the orange key.
    b.fresh_ped();
    let mut auth = Auth::remote(&b.hsm, None).unwrap();
    b.connect(&mut auth, |rig| present(rig, orange[1], None)).unwrap();
    assert_eq!(b.session.as_ref().unwrap().kind(), ChannelKind::RemoteRpv);

    // Rotation on the zeroised HSM over the remote channel: the old RPV stays in force
    // while the new keys are written.
    let new = b.blank_keys(1);
    let n2 = new.clone();
    b.run(Request::VectorInit, creator(1, 1, &[""], &[], move |_| n2.clone())).0.unwrap();
    assert_ne!(b.hsm.rpks()[0].keyset_id, old_keyset, "the new RPV is in force once written");
    assert_eq!(b.hsm.rpks().len(), 1, "the old one is gone");
    assert!(b.store.load_state().unwrap().rpv.is_some());

    // The old orange key no longer opens a channel: the PED refuses it before its PIN
    // and sends nothing; the new one does.
    b.fresh_ped();
    let e = b.connect(&mut Auth::Rpv, |rig| refused_as_not_for_this_hsm(rig, orange[0])).unwrap_err();
    assert_eq!(e.code, Code::Ped(ErrorCode::PedAuthFailed));
    assert_eq!(b.hsm.state().rpv_failures, 0, "not counted");
    b.fresh_ped();
    b.connect(&mut Auth::Rpv, |rig| present(rig, new[0], None)).unwrap();
}

#[test]
fn an_interrupted_rotation_keeps_the_old_rpv() {
    let mut b = Bench::new();
    b.connect_local();
    let orange = b.blank_keys(1);
    let o = orange.clone();
    b.run(Request::VectorInit, creator(1, 1, &[""], &[], move |_| o.clone())).0.unwrap();
    let old = b.hsm.state().rpv.clone().unwrap();
    let (result, _) = b.run(Request::VectorInit, |rig, command| match command {
        HsmCommand::CreateKeyset { offer_reuse, .. } => {
            assert!(offer_reuse, "a local PED is offered the reuse of an orange keyset");
            rig.press(Button::No);
            rig.digits("1");
            rig.enter();
            rig.digits("1");
            rig.enter();
        }
        _ => rig.event(ped_firmware::io::Event::ClearHeld),
    });
    assert_eq!(result.unwrap_err().code, Code::Ped(ErrorCode::CkrCancel));
    assert_eq!(b.hsm.rpks()[0].keyset_id.as_bytes().to_vec(), hex::decode(&old.keyset_id).unwrap());
    assert_eq!(b.hsm.state().rpv.as_ref().map(|r| &r.cert), Some(&old.cert));
}

#[test]
fn remote_rpv_init_with_a_one_time_password_and_three_wrong_tries_burn_it() {
    let mut b = Bench::new();
    assert!(Auth::remote(&b.hsm, None).is_err(), "no RPV yet: a password is needed");
    let digits = PasswordDigits::parse("18246843").unwrap();
    let mut auth = Auth::remote(&b.hsm, Some(OneTimePassword::new(digits))).unwrap();
    for _ in 0..2 {
        let e = b.connect(&mut auth, |rig| type_password(rig, "11111111")).unwrap_err();
        assert_eq!(e.code, Code::Ped(ErrorCode::PedAuthFailed));
    }
    b.connect(&mut auth, |rig| type_password(rig, "18246843")).unwrap();
    // Only RPV initialisation goes over this channel.
    let (result, _) = b.run(Request::Login(RoleName::So), |_, _| panic!("refused before the PED"));
    assert_eq!(result.unwrap_err().code, Code::Hsm(HsmCode::NotAllowed));
    let orange = b.blank_keys(1);
    b.run(Request::VectorInit, creator(1, 1, &[""], &[], move |_| orange.clone())).0.unwrap();
    assert!(b.hsm.has_rpv());

    // A spent password opens nothing more; three wrong tries burn another.
    let e = Handshake::start(&b.hsm, &auth, &mut b.rng).unwrap_err();
    assert_eq!(e.code, Code::Ped(ErrorCode::PedPasswordBurnt));
    let mut b = Bench::new();
    let mut auth = Auth::Password(OneTimePassword::new(PasswordDigits::parse("55555555").unwrap()));
    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(b.connect(&mut auth, |rig| type_password(rig, "12345678")).unwrap_err().code);
    }
    assert_eq!(codes.last(), Some(&Code::Ped(ErrorCode::PedPasswordBurnt)));
    assert!(Handshake::start(&b.hsm, &auth, &mut b.rng).is_err());
}

#[test]
fn after_remote_rpv_init_the_same_link_runs_a_new_handshake_with_the_new_rpv() {
    let mut b = Bench::new();
    let digits = PasswordDigits::parse("18246843").unwrap();
    let mut auth = Auth::remote(&b.hsm, Some(OneTimePassword::new(digits))).unwrap();
    b.connect(&mut auth, |rig| type_password(rig, "18246843")).unwrap();
    assert_eq!(b.session.as_ref().unwrap().kind(), ChannelKind::RemotePassword);
    assert!(!auth.after(&Request::Login(RoleName::So), &b.hsm), "no RPV yet: nothing to switch to");
    let orange = b.blank_keys(1);
    let o = orange.clone();
    b.run(Request::VectorInit, creator(1, 1, &["2468"], &[], move |_| o.clone())).0.unwrap();

    // The RPV is in force: the link's authentication becomes the RPV, once.
    assert!(auth.after(&Request::VectorInit, &b.hsm), "the password channel is dropped");
    assert!(matches!(auth, Auth::Rpv));
    assert!(!auth.after(&Request::VectorInit, &b.hsm), "a rotation over the RPV keeps the channel");

    // The same PED, its password channel still open, takes the new hello as the HSM
    // starting over and asks for the orange key just written.
    let mut prompted = Vec::new();
    b.connect(&mut auth, |rig| {
        prompted = rig.lines();
        present(rig, orange[0], Some("2468"));
    })
    .unwrap();
    assert!(prompted.iter().any(|l| l.contains("(ORANGE)")), "{prompted:?}");
    assert_eq!(b.session.as_ref().unwrap().kind(), ChannelKind::RemoteRpv);

    // What the password channel refused now goes over the RPV channel.
    let (blue, red) = (b.blank_keys(1), b.blank_keys(1));
    let keys = move |role| if role == Role::HsmSo { blue.clone() } else { red.clone() };
    b.run(Request::HsmInit { label: "lab".into() }, creator(1, 1, &[""], &[], keys)).0.unwrap();
    assert!(!b.hsm.is_zeroised());
    assert!(b.store.load_state().unwrap().so.is_some());
}

#[test]
fn state_survives_a_restart_with_a_fresh_static_key() {
    let (mut b, blue, _) = initialised();
    let first_static = b.hsm.identity().chain[0].clone();
    let root = b.hsm.root_der().to_vec();
    let state_dir = b.store.dir().to_path_buf();
    b.hsm = Hsm::start(&Store::open(&state_dir).unwrap(), "ignored", &mut b.rng, NOW).unwrap();
    assert_eq!(b.hsm.serial(), "150001");
    assert_eq!(b.hsm.root_der(), root);
    assert_ne!(b.hsm.identity().chain[0], first_static, "a fresh static key at every start");
    assert!(!b.hsm.is_logged_in(RoleName::So), "logins do not survive a restart");
    assert!(std::fs::read(state_dir.join("root.der")).unwrap() == root);
    b.rig = {
        let keys = b.rig.take_keys();
        let mut rig = Rig::new(root);
        *rig.keys_mut() = keys;
        rig
    };
    b.connect_local();
    b.run(Request::Login(RoleName::So), reader(vec![(blue[0], pin(0)), (blue[1], pin(1)), (blue[2], pin(2))]))
        .0
        .unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(&state_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    drop(b.dir);
}

/// The partition `part1` made by the logged-in HSM SO: Partition SO on `keys[0]` (PIN
/// 1357), domain on `keys[1]`, both 1 of 1; the Partition SO logged in.
fn partition_with_po(b: &mut Bench, keys: &[usize]) {
    b.hsm.create_partition().unwrap();
    let (po, domain) = (keys[0], keys[1]);
    let ks = move |role| if role == Role::PartitionSo { vec![po] } else { vec![domain] };
    b.run(Request::PartitionInit { label: "part1".into() }, creator(1, 1, &["1357"], &[], ks)).0.unwrap();
    b.run(Request::Login(RoleName::Po), reader(vec![(po, Some("1357"))])).0.unwrap();
}

/// A new 1-of-1 keyset on the blank key `key`, and nothing read before it.
fn one_new_key(key: usize) -> impl FnMut(&mut Rig, &HsmCommand) {
    creator(1, 1, &[""], &[], move |_| vec![key])
}

fn state_text(b: &Bench) -> String {
    serde_json::to_string(b.hsm.state()).unwrap()
}

#[test]
fn policy_15_lets_the_partition_so_reset_the_co_and_the_co_resets_the_cu() {
    let (mut b, blue, _) = initialised();
    assert!(!b.hsm.state().so_reset_partition_pin, "off on a new HSM");
    let code = |r: Result<bool, HsmError>| r.unwrap_err().code;
    assert_eq!(code(b.hsm.change_policy(15, 1, true)), Code::Hsm(HsmCode::UserNotLoggedIn));
    b.run(Request::Login(RoleName::So), reader(vec![(blue[0], pin(0)), (blue[1], pin(1)), (blue[2], pin(2))]))
        .0
        .unwrap();
    let keys = b.blank_keys(8);
    partition_with_po(&mut b, &keys);
    b.run(Request::RoleInit(RoleName::Co), one_new_key(keys[2])).0.unwrap();

    // Policy 0 (the default): the Partition SO is refused before the PED is asked.
    let before = state_text(&b);
    let (result, _) = b.run(Request::ResetPw(RoleName::Co), |_, _| panic!("refused before the PED"));
    let e = result.unwrap_err();
    assert_eq!(e.code, Code::Hsm(HsmCode::NotAllowed));
    assert!(e.detail.starts_with("HSM policy 15 (Enable SO reset of partition PIN) is 0"), "{}", e.detail);
    assert_eq!(state_text(&b), before);

    // Only policy 15, only 0 or 1; turning it on with a partition present needs the
    // confirmation, as it erases the partition (seed 6821).
    assert_eq!(code(b.hsm.change_policy(7, 1, true)), Code::Hsm(HsmCode::ArgumentsBad));
    assert_eq!(code(b.hsm.change_policy(15, 2, true)), Code::Hsm(HsmCode::ArgumentsBad));
    let e = b.hsm.change_policy(15, 1, false).unwrap_err();
    assert_eq!(e.code, Code::Hsm(HsmCode::ArgumentsBad));
    assert!(e.detail.contains("destroys the partition"), "{}", e.detail);
    assert_eq!(state_text(&b), before);
    assert!(b.hsm.change_policy(15, 1, true).unwrap(), "the partition erased");
    assert!(b.hsm.state().partition.is_none() && !b.hsm.is_logged_in(RoleName::Po));
    assert!(!b.hsm.change_policy(15, 1, false).unwrap(), "already on: nothing to erase, nothing asked");
    b.persist();
    assert!(b.store.load_state().unwrap().so_reset_partition_pin, "on disk");

    // A partition created with the policy on: CO and CU, then the CU's keys lost.
    partition_with_po(&mut b, &keys[3..]);
    let (co, cu, new_cu, new_co) = (keys[5], keys[6], keys[7], b.blank_keys(1)[0]);
    b.run(Request::RoleInit(RoleName::Co), one_new_key(co)).0.unwrap();
    let (result, _) = b.run(Request::ResetPw(RoleName::Cu), |_, _| panic!("refused before the PED"));
    assert_eq!(result.unwrap_err().code, Code::Hsm(HsmCode::UserNotLoggedIn), "the CU is reset by the CO");
    b.run(Request::Login(RoleName::Co), reader(vec![(co, None)])).0.unwrap();
    let (result, _) = b.run(Request::ResetPw(RoleName::Cu), |_, _| panic!("refused before the PED"));
    assert_eq!(result.unwrap_err().code, Code::Hsm(HsmCode::NotInitialized), "no CU to reset yet");
    b.run(Request::RoleInit(RoleName::Cu), one_new_key(cu)).0.unwrap();
    let old = b.hsm.state().partition.clone().unwrap();
    b.run(Request::ResetPw(RoleName::Cu), one_new_key(new_cu)).0.unwrap();
    let part = b.store.load_state().unwrap().partition.unwrap();
    assert_ne!(part.cu, old.cu, "a new keyset, on disk");
    assert_eq!((part.co, part.so, part.domain), (old.co, old.so, old.domain), "only the CU's changed");
    b.run(Request::Login(RoleName::Cu), reader(vec![(cu, None)])).0.unwrap_err();
    b.run(Request::Login(RoleName::Cu), reader(vec![(new_cu, None)])).0.unwrap();

    // Only CO and CU are reset.
    for role in [RoleName::So, RoleName::Po, RoleName::Au] {
        let (result, _) = b.run(Request::ResetPw(role), |_, _| panic!("refused before the PED"));
        assert_eq!(result.unwrap_err().code, Code::Hsm(HsmCode::ArgumentsBad), "{role:?}");
    }

    // The CO locked out by ten failures: the lockout names the reset, which lifts it and
    // ends the CO's session; the lost keys no longer log in, the new ones do.
    for _ in 0..10 {
        b.run(Request::Login(RoleName::Co), reader(vec![(cu, None)])).0.unwrap_err();
    }
    let (result, _) = b.run(Request::Login(RoleName::Co), |_, _| panic!("a locked role asks nothing"));
    let e = result.unwrap_err();
    assert_eq!(e.code, Code::Hsm(HsmCode::PinLocked));
    assert!(e.detail.contains("`role resetpw -name co`"), "{}", e.detail);
    b.run(Request::Login(RoleName::Po), reader(vec![(keys[3], Some("1357"))])).0.unwrap();
    b.run(Request::ResetPw(RoleName::Co), one_new_key(new_co)).0.unwrap();
    let part = b.hsm.state().partition.clone().unwrap();
    assert_eq!((part.users_locked, part.user_failures), (false, 0));
    assert!(!b.hsm.is_logged_in(RoleName::Co));
    b.run(Request::Login(RoleName::Co), reader(vec![(co, None)])).0.unwrap_err();
    b.run(Request::Login(RoleName::Co), reader(vec![(new_co, None)])).0.unwrap();
    assert_eq!(b.hsm.state().partition.as_ref().unwrap().user_failures, 0);

    // Turning the policy off is not destructive, and the reset is refused again.
    assert!(!b.hsm.change_policy(15, 0, false).unwrap());
    assert!(b.hsm.state().partition.as_ref().is_some_and(|p| p.co.is_some()));
    let (result, _) = b.run(Request::ResetPw(RoleName::Co), |_, _| panic!("refused before the PED"));
    assert_eq!(result.unwrap_err().code, Code::Hsm(HsmCode::NotAllowed));
}

/// The RPK certificate kept in hsm.json is this HSM's HOC's, for the RPK public key it
/// holds.
fn assert_rpk_cert(b: &Bench) {
    let rpv = b.store.load_state().unwrap().rpv.unwrap();
    let cert = hex::decode(&rpv.cert).unwrap();
    let public = ped_proto::cert::verify_rpk_cert(&cert, &b.hsm.identity().chain[1], NOW).unwrap();
    assert_eq!(hex::encode(public.to_uncompressed()), rpv.public_key);
}

/// The key holder presents orange key `key` to a hello that does not list its keyset:
/// the PED says so before asking any PIN, sends nothing and asks again; the holder
/// then gives up (Clear held), which refuses the handshake.
fn refused_as_not_for_this_hsm(rig: &mut Rig, key: usize) {
    let prompt = rig.lines();
    assert!(prompt.iter().any(|l| l == "PED Key (ORANGE)"), "{prompt:?}");
    rig.insert(key);
    rig.enter();
    let lines = rig.lines();
    assert_eq!(lines[2..], ["  ** WARNING **", "This PED Key is not", "for this HSM.", "Press ENTER."], "{lines:?}");
    assert!(rig.take_sent().is_empty(), "nothing sent to the HSM");
    rig.enter();
    assert_eq!(rig.lines(), prompt, "asked again, no PIN asked");
    rig.event(ped_firmware::io::Event::ClearHeld);
}

/// The key holder presents orange key `key` with `pin`, first dismissing what the last
/// failed handshake left on the screen.
fn present_orange(rig: &mut Rig, key: usize, pin: Option<&str>) {
    if !rig.lines().iter().any(|l| l == "PED Key (ORANGE)") {
        rig.enter();
    }
    present(rig, key, pin);
}

fn hsm_json(b: &Bench) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(b.dir.path().join("hsm/hsm.json")).unwrap()).unwrap()
}

#[test]
fn wrong_orange_pins_are_counted_a_success_resets_and_ten_erase_the_rpv() {
    let mut b = Bench::new();
    b.connect_local();
    let orange = b.blank_keys(1)[0];
    b.run(Request::VectorInit, creator(1, 1, &["2468"], &[], move |_| vec![orange])).0.unwrap();
    let rpv = b.hsm.state().rpv.clone().unwrap();
    assert_eq!(hsm_json(&b)["rpv_failures"], 0);
    b.fresh_ped();
    let mut auth = Auth::remote(&b.hsm, None).unwrap();

    // A wrong orange PIN: only the HSM's check of the PED's tag finds it, and counts it.
    let e = b.connect(&mut auth, |rig| present_orange(rig, orange, Some("1357"))).unwrap_err();
    assert_eq!(e.code, Code::Hsm(HsmCode::PinIncorrect), "{e}");
    assert_eq!(e.result_line(), "Command Result : 0x000000a0 (CKR_PIN_INCORRECT)");
    assert!(e.detail.contains("1 of 10"), "{e}");
    assert_eq!(b.hsm.state().rpv_failures, 1);
    assert_eq!(hsm_json(&b)["rpv_failures"], 1, "on disk");
    b.rig.shows(&["Connection", "HSM refused.", "", "Press ENTER."]);

    // The right PIN opens the channel and starts the count again.
    b.connect(&mut auth, |rig| present_orange(rig, orange, Some("2468"))).unwrap();
    assert_eq!(b.hsm.state().rpv_failures, 0);
    assert_eq!(hsm_json(&b)["rpv_failures"], 0);

    // An orange key of a keyset this HSM does not hold is refused by the PED; a PED
    // that names such a keyset anyway is refused by the HSM. Neither is counted.
    let foreign = {
        let mut other = Bench::manufactured("150009", 9);
        other.connect_local();
        let key = other.blank_keys(1)[0];
        other.run(Request::VectorInit, creator(1, 1, &["2468"], &[], move |_| vec![key])).0.unwrap();
        b.rig.add_key(other.rig.keys()[key].content.as_deref().map(<[u8]>::to_vec))
    };
    b.fresh_ped();
    let e = b.connect(&mut auth, |rig| refused_as_not_for_this_hsm(rig, foreign)).unwrap_err();
    assert_eq!(e.code, Code::Ped(ErrorCode::PedAuthFailed), "{e}");
    assert_eq!(b.hsm.state().rpv_failures, 0);
    let e = b.unknown_keyset_share(&mut auth);
    assert_eq!(e.code, Code::Ped(ErrorCode::PedAuthFailed), "{e}");
    assert!(e.detail.contains("not for this HSM"), "{e}");
    assert_eq!(b.hsm.state().rpv_failures, 0);

    // Ten consecutive wrong PINs erase the RPV.
    b.fresh_ped();
    for n in 1..=10u32 {
        let e = b.connect(&mut auth, |rig| present_orange(rig, orange, Some("1111"))).unwrap_err();
        assert_eq!(e.code, Code::Hsm(HsmCode::PinIncorrect), "{e}");
        if n < 10 {
            assert!(e.detail.contains(&format!("{n} of 10")), "{e}");
            assert_eq!(hsm_json(&b)["rpv_failures"], n);
            assert!(b.hsm.has_rpv());
        } else {
            assert!(e.detail.contains("the RPV is erased"), "{e}");
            assert!(e.detail.contains("`ped vector init`"), "{e}");
        }
    }
    assert!(!b.hsm.has_rpv() && b.hsm.state().rpv.is_none() && b.hsm.rpks().is_empty());
    let json = hsm_json(&b);
    assert!(json["rpv"].is_null(), "{json}");
    assert_eq!(json["rpv_failures"], 0);
    let e = Auth::remote(&b.hsm, None).unwrap_err();
    assert_eq!(e.code, Code::Hsm(HsmCode::NotInitialized));
    assert!(e.detail.contains("ped vector init"), "{e}");

    // `ped vector init` at a local PED, reusing the orange keyset, brings it back.
    b.fresh_ped();
    b.connect_local();
    b.run(Request::VectorInit, reuse_orange(orange, "2468")).0.unwrap();
    let again = b.hsm.state().rpv.clone().unwrap();
    assert_eq!((again.keyset_id, again.public_key), (rpv.keyset_id, rpv.public_key));
    b.fresh_ped();
    let mut auth = Auth::remote(&b.hsm, None).unwrap();
    b.connect(&mut auth, |rig| present_orange(rig, orange, Some("2468"))).unwrap();
    assert_eq!(b.session.as_ref().unwrap().kind(), ChannelKind::RemoteRpv);
}

#[test]
fn one_orange_keyset_serves_several_hsms_over_local_and_password_channels_and_survives_a_rotation_elsewhere() {
    // HSM A makes the orange keyset, 1 of 1 with a PIN.
    let mut a = Bench::manufactured("150001", 5);
    a.connect_local();
    let key_a = a.blank_keys(1)[0];
    a.run(Request::VectorInit, creator(1, 1, &["2468"], &[], move |_| vec![key_a])).0.unwrap();
    let made = a.hsm.state().rpv.clone().unwrap();
    let content = a.rig.keys()[key_a].content.clone();

    // HSM B reuses it at a local PED: YES to reuse, the orange key presented.
    let mut b = Bench::manufactured("150002", 6);
    let key_b = b.rig.add_key(content.as_deref().map(<[u8]>::to_vec));
    b.connect_local();
    b.run(Request::VectorInit, reuse_orange(key_b, "2468")).0.unwrap();

    // HSM C reuses it over a remote one-time-password channel, then the link turns to
    // the RPV.
    let mut c = Bench::manufactured("150003", 7);
    let key_c = c.rig.add_key(content.as_deref().map(<[u8]>::to_vec));
    let digits = PasswordDigits::parse("31415926").unwrap();
    let mut auth_c = Auth::remote(&c.hsm, Some(OneTimePassword::new(digits))).unwrap();
    c.connect(&mut auth_c, |rig| type_password(rig, "31415926")).unwrap();
    assert_eq!(c.session.as_ref().unwrap().kind(), ChannelKind::RemotePassword);
    c.run(Request::VectorInit, reuse_orange(key_c, "2468")).0.unwrap();
    assert!(auth_c.after(&Request::VectorInit, &c.hsm));

    // The same RPV and RPK everywhere, each under its own HSM's certificate; nothing
    // was written on the reused key.
    let mut certs = vec![made.cert.clone()];
    for (other, key) in [(&mut b, key_b), (&mut c, key_c)] {
        other.persist();
        let rpv = other.store.load_state().unwrap().rpv.unwrap();
        assert_eq!(
            (rpv.keyset_id.as_str(), rpv.rpv.as_str(), rpv.public_key.as_str()),
            (made.keyset_id.as_str(), made.rpv.as_str(), made.public_key.as_str())
        );
        assert_rpk_cert(other);
        certs.push(rpv.cert);
        assert_eq!(other.rig.keys()[key].content, content, "a reused key is only read");
    }
    assert_rpk_cert(&a);
    assert!(certs[0] != certs[1] && certs[1] != certs[2] && certs[0] != certs[2], "one certificate per HOC");

    // Every HSM opens a C(2e,2s) channel with that one orange key.
    for (bench, key, auth) in [(&mut a, key_a, None), (&mut b, key_b, None), (&mut c, key_c, Some(&mut auth_c))] {
        bench.fresh_ped();
        let mut own = Auth::Rpv;
        let auth = auth.unwrap_or(&mut own);
        bench.connect(auth, |rig| present(rig, key, Some("2468"))).unwrap();
        assert_eq!(bench.session.as_ref().unwrap().kind(), ChannelKind::RemoteRpv);
        assert_eq!(bench.hsm.state().rpv_failures, 0);
    }

    // A rotates to a new orange keyset (over its RPV channel, offered reuse: NO).
    let new = a.blank_keys(1)[0];
    a.run(Request::VectorInit, creator(1, 1, &[""], &[], move |_| vec![new])).0.unwrap();
    assert_ne!(a.hsm.state().rpv.as_ref().unwrap().keyset_id, made.keyset_id);

    // B keeps its RPV: the old orange key still opens a channel there.
    b.fresh_ped();
    b.connect(&mut Auth::Rpv, |rig| present(rig, key_b, Some("2468"))).unwrap();
    assert_eq!(b.store.load_state().unwrap().rpv.unwrap().keyset_id, made.keyset_id);

    // A refuses it as not held: the PED says so before the PIN; nothing is counted.
    a.fresh_ped();
    let e = a.connect(&mut Auth::Rpv, |rig| refused_as_not_for_this_hsm(rig, key_a)).unwrap_err();
    assert_eq!(e.code, Code::Ped(ErrorCode::PedAuthFailed), "{e}");
    assert_eq!(a.hsm.state().rpv_failures, 0);
    assert_eq!(hsm_json(&a)["rpv_failures"], 0);
    a.fresh_ped();
    a.connect(&mut Auth::Rpv, |rig| present(rig, new, None)).unwrap();
}

#[test]
fn a_format_1_key_at_a_login_is_a_device_error_and_not_a_failed_login() {
    let (mut b, blue, _) = initialised();
    // Split 1 of the SO keyset as format 1 wrote it: "PEDK" 01 colour flags keyset[16]
    // M N index salt[16] len16 split.
    let old = common::format1_key(KeyColour::Blue, &[0x5a; 32], None);
    let key = b.rig.add_key(Some(old));
    let (result, _) = b.run(Request::Login(RoleName::So), |rig, _| {
        present(rig, blue[0], pin(0));
        present(rig, key, None);
        let lines = rig.lines();
        assert_eq!(lines[1..4], ["This PED Key is from", "an older format:", "re-create it."], "{lines:?}");
    });
    let e = result.unwrap_err();
    assert_eq!(e.code, Code::Ped(ErrorCode::CkrDeviceError), "{e}");
    assert_eq!(e.result_line(), "Command Result : 0x00000030 (CKR_DEVICE_ERROR)");
    assert_eq!(b.so_failures(), 0, "not counted");
    assert!(!b.hsm.is_logged_in(RoleName::So));
}
