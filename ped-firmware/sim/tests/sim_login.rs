//! The done-when line "ped-sim scripted mode runs a whole login as a process": the
//! simulator runs as a child process with ikey-emu keys and a script that plays the
//! key holder; the test is the HSM, over the emulated USB endpoint, with ped-proto's
//! HSM half (the helpers of ped-firmware's own tests).

#[path = "../../tests/common/mod.rs"]
mod common;
mod support;

use std::fs;

use common::{ITERATIONS, NOW, TestHsm, make_keyset, prompt};
use ikey_emu::{KeySerial, KeyStore, NewKey};
use ped_proto::command::{Activity, HsmCommand, PedReply, Role};
use ped_proto::frame::Frame;
use ped_proto::handshake::SUPPORTED_VERSIONS;
use ped_proto::handshake::hsm;
use ped_proto::pedkey::KeyColour;
use ped_proto::quorum::Quorum;
use ped_proto::record::Opened;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use support::{Sim, UsbHost, eight, path_arg, screens, socket_arg};

const SCRIPT: &str = r#"# The key holder of a 2-of-3 blue keyset with PINs.
wait-screen "SO LOGIN..." 60
insert 0000001001
press enter
wait-screen Enter PED PIN:
type 1234
press enter
wait-screen Keys read: 01 of 02
insert 0000001002
press enter
wait-screen Enter PED PIN:
type 567890
press enter
wait-screen Local PED-USB mode
"#;

#[test]
fn a_scripted_ped_sim_process_serves_a_local_usb_login() {
    let dir = tempfile::tempdir().unwrap();
    let mut hsm = TestHsm::new("HSM-150001");
    let root = dir.path().join("root.der");
    fs::write(&root, hsm.root()).unwrap();

    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let pins = [Some("1234"), Some("567890"), None];
    let keyset = make_keyset(&mut rng, KeyColour::Blue, &[0x5a; 32], Quorum::new(2, 3).unwrap(), &pins);
    let store = KeyStore::open(dir.path().join("keys")).unwrap();
    for (i, content) in keyset.contents.iter().enumerate() {
        let serial = KeySerial(1001 + i as u64);
        store.create(NewKey { serial: Some(serial), ..NewKey::default() }).unwrap();
        store.write(serial, content).unwrap();
    }
    let script = dir.path().join("login.script");
    fs::write(&script, SCRIPT).unwrap();
    let usb = dir.path().join("ped.sock");
    let json = dir.path().join("screens.jsonl");
    let sim = Sim::spawn(&[
        "--serial",
        "PED-0001",
        "--trusted-root",
        &path_arg(&root),
        "--keys",
        &path_arg(&dir.path().join("keys")),
        "--usb",
        &socket_arg(&usb),
        "--script",
        &path_arg(&script),
        "--json",
        &path_arg(&json),
        "--unix-time",
        &NOW.to_string(),
        "--pin-iterations",
        &ITERATIONS.to_string(),
    ]);

    // Plugging in and the C(1e,1s) handshake.
    let mut link = UsbHost::plug(&usb);
    let (pending, hello) = hsm::start_local(&hsm.identity, SUPPORTED_VERSIONS, &mut hsm.rng).unwrap();
    link.send(&hello);
    let share = link.recv().expect("the key share");
    let (mut session, finished) = pending.receive_key_share(Frame::decode_exact(&share).unwrap()).unwrap();
    link.send(&finished);

    // `role login -name so`: the script presents keys 1001 and 1002 with their PINs.
    let login = HsmCommand::ReadKeyset { prompt: prompt(Role::HsmSo, Activity::Login) };
    link.send(&session.seal(&login.encode().unwrap()).unwrap());
    let reply = link.recv().expect("the splits");
    let Opened::Data(payload) = session.open(Frame::decode_exact(&reply).unwrap()).unwrap() else {
        panic!("the PED closed the channel")
    };
    let PedReply::Splits(splits) = PedReply::decode(&payload).unwrap() else { panic!("expected Splits") };
    assert_eq!(splits.len(), 2);
    hsm.session = Some(session);
    let secret = hsm.reassemble(&splits);
    assert!(keyset.verifier.check(&keyset.id, &secret), "the HSM's verifier accepts the quorum");

    assert!(sim.wait().success(), "the script ran to its end");
    let drawn = screens(&json);
    for expected in [
        eight(&["Local PED-USB mode", "Token found"]),
        eight(&["SLOT", "SO LOGIN...", "Insert a", "SO / HSM Admin", "PED Key (BLUE)", "Press ENTER."]),
        eight(&["SLOT", "SO LOGIN...", "Enter PED PIN:", "****"]),
        eight(&[
            "SLOT",
            "SO LOGIN...",
            "Keys read: 01 of 02",
            "Insert another",
            "SO / HSM Admin",
            "PED Key (BLUE)",
            "Press ENTER.",
        ]),
        eight(&["SLOT", "SO LOGIN...", "Enter PED PIN:", "******"]),
    ] {
        assert!(drawn.contains(&expected), "{expected:?} not among the screens drawn: {drawn:#?}");
    }
    assert_eq!(drawn.last().unwrap()[0], "Local PED-USB mode");
}
