//! Keyset creation driven by CreateKeyset and WriteSplits (stages 1-4), and the HSM's
//! DuplicateKeyset, against the HSM end of ped-proto played by the test.

mod common;

use common::*;
use ped_firmware::io::Button;
use ped_proto::command::{Activity, HsmCommand, PedReply, Role, ShapeChoice, WrappedSplit};
use ped_proto::pedkey::{KeyColour, PedKeyPayload};
use ped_proto::quorum::{KeysetId, Quorum};

fn setting() -> ped_proto::command::Prompt {
    prompt(Role::HsmSo, Activity::Setting)
}

fn connected() -> (Rig, TestHsm) {
    let mut hsm = TestHsm::new("HSM-170001");
    let mut rig = Rig::new(hsm.root());
    hsm.connect_local(&mut rig);
    (rig, hsm)
}

/// Writes one key of stage 3 onto blank key `index` with `pin` ("" for none).
fn write_blank(rig: &mut Rig, index: usize, pin: &str) {
    rig.insert(index);
    rig.enter();
    rig.press(Button::Yes);
    rig.digits(pin);
    rig.enter();
    rig.digits(pin);
    rig.enter();
}

#[test]
fn a_new_keyset_with_m_of_n_pins_and_a_duplicate_set_logs_in() {
    let (mut rig, mut hsm) = connected();
    let domain = make_keyset(&mut rig.rng, KeyColour::Red, &[9; 32], Quorum::new(1, 1).unwrap(), &[None]);
    let keys: Vec<usize> = (0..10).map(|_| rig.add_key(None)).collect();
    rig.keys_mut()[keys[1]].content = Some(domain.contents[0].clone().into());

    hsm.send(&mut rig, &HsmCommand::CreateKeyset { prompt: setting(), offer_reuse: true, shape: ShapeChoice::OnPed });
    rig.shows(&["SLOT", "SETTING SO PIN...", "Would you like to", "reuse an existing", "keyset? (Y/N)"]);
    rig.press(Button::No);
    rig.shows(&["SLOT", "SETTING SO PIN...", "M value? (1-16)", "", ">"]);
    rig.digits("3");
    rig.shows(&["SLOT", "SETTING SO PIN...", "M value? (1-16)", "", ">03"]);
    rig.enter();
    rig.digits("5");
    rig.shows(&["SLOT", "SETTING SO PIN...", "N value? (M-16)", "", ">05"]);
    rig.enter();
    let q = Quorum::new(3, 5).unwrap();
    assert_eq!(hsm.replies(&mut rig), [PedReply::Shape(q)]);

    let id = KeysetId::from_bytes([0x42; 16]);
    let secret = [0x77u8; 32];
    let splits = hsm.wrap_splits(&secret, q, id);
    let verifier = ped_proto::quorum::Verifier::of(&id, &secret);
    hsm.send(&mut rig, &HsmCommand::WriteSplits { prompt: setting(), splits, offer_duplicates: true });
    rig.shows(&["SLOT", "SETTING SO PIN...", "Insert a", "SO / HSM Admin", "PED Key (BLUE)", "Press ENTER."]);

    // Key 0: blank, PIN 1234.
    rig.insert(keys[0]);
    rig.enter();
    rig.shows(&["SLOT", "SETTING SO PIN...", "  ** WARNING **", "This PED Key is", "blank.", "Overwrite? YES/NO"]);
    rig.press(Button::Yes);
    rig.shows(&["SLOT", "SETTING SO PIN...", "Enter new PED PIN:"]);
    rig.digits("1234");
    rig.enter();
    rig.digits("1234");
    rig.shows(&["SLOT", "SETTING SO PIN...", "Enter new PED PIN:", "****", "Confirm new PED PIN:", "****"]);
    rig.enter();
    rig.shows(&[
        "SLOT",
        "SETTING SO PIN...",
        "Keys write: 01 of 05",
        "Insert another",
        "SO / HSM Admin",
        "PED Key (BLUE)",
        "Press ENTER.",
    ]);

    // The key just written cannot take the next split.
    rig.enter();
    rig.shows(&[
        "SLOT",
        "SETTING SO PIN...",
        "  ** WARNING **",
        "This PED Key was",
        "just written. Use",
        "another key.",
        "Press ENTER.",
    ]);
    rig.enter();

    // Key 1 holds a domain secret: two confirmations; the first No re-prompts.
    rig.insert(keys[1]);
    rig.enter();
    rig.shows(&["SLOT", "SETTING SO PIN...", "  ** WARNING **", "This PED Key is for", "Domain.", "Overwrite? YES/NO"]);
    rig.press(Button::No);
    rig.enter();
    rig.press(Button::Yes);
    rig.shows(&[
        "SLOT",
        "SETTING SO PIN...",
        "  ** WARNING **",
        "Are you sure you",
        "want to overwrite",
        "this PED key? YES/NO",
    ]);
    rig.press(Button::Yes);
    // No PIN: Enter twice.
    rig.enter();
    rig.shows(&["SLOT", "SETTING SO PIN...", "Enter new PED PIN:", "Confirm new PED PIN:"]);
    rig.enter();

    // Key 2: a PIN breaking the rule, then a mismatch, then a good one.
    rig.insert(keys[2]);
    rig.enter();
    rig.press(Button::Yes);
    rig.digits("0123");
    rig.enter();
    rig.digits("0123");
    rig.enter();
    rig.shows(&[
        "SLOT",
        "SETTING SO PIN...",
        "  ** WARNING **",
        "PIN: 4-48 digits,",
        "not starting with 0",
        "Press ENTER.",
    ]);
    rig.enter();
    rig.digits("5555");
    rig.enter();
    rig.digits("5556");
    rig.enter();
    rig.shows(&["SLOT", "SETTING SO PIN...", "  ** WARNING **", "PINs do not match.", "Press ENTER."]);
    rig.enter();
    rig.digits("5555");
    rig.enter();
    rig.digits("5555");
    rig.enter();
    write_blank(&mut rig, keys[3], "");
    write_blank(&mut rig, keys[4], "424242");

    // Stage 4: one duplicate set with other PINs, then no more.
    rig.shows(&["SLOT", "SETTING SO PIN...", "Are you duplicating", "this keyset?(Y/N)"]);
    rig.press(Button::Yes);
    for (i, pin) in ["8888", "", "", "97531", ""].iter().enumerate() {
        write_blank(&mut rig, keys[5 + i], pin);
    }
    rig.shows(&["SLOT", "SETTING SO PIN...", "Would you like to", "make another", "duplicate set?(Y/N)"]);
    rig.press(Button::No);
    assert_eq!(hsm.replies(&mut rig), [PedReply::Written { keys: 5, duplicate_sets: 1 }]);

    let written: Vec<PedKeyPayload> =
        keys.iter().map(|&k| PedKeyPayload::decode(rig.keys()[k].content.as_ref().unwrap()).unwrap()).collect();
    assert!(written.iter().all(|p| p.colour == KeyColour::Blue && p.split.keyset_id() == &id));
    assert_eq!(written.iter().map(|p| p.split.index()).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]);
    assert_eq!(
        written.iter().map(|p| p.pin_protected).collect::<Vec<_>>(),
        [true, false, true, false, true, true, false, false, true, false]
    );

    // Log in with an original and two duplicates, each with its own PIN.
    hsm.send(&mut rig, &HsmCommand::ReadKeyset { prompt: prompt(Role::HsmSo, Activity::Login) });
    present(&mut rig, keys[5], Some("8888"));
    present(&mut rig, keys[1], None);
    present(&mut rig, keys[8], Some("97531"));
    let replies = hsm.replies(&mut rig);
    let Some(PedReply::Splits(splits)) = replies.last() else { panic!("{replies:?}") };
    assert!(verifier.check(&id, &hsm.reassemble(splits)));
}

#[test]
fn a_reused_keyset_is_read_and_sent_wrapped() {
    let (mut rig, mut hsm) = connected();
    let keyset =
        make_keyset(&mut rig.rng, KeyColour::Blue, &[3; 32], Quorum::new(2, 3).unwrap(), &[Some("2468"), None]);
    let keys: Vec<usize> = keyset.contents.iter().map(|c| rig.add_key(Some(c.clone()))).collect();
    hsm.send(&mut rig, &HsmCommand::CreateKeyset { prompt: setting(), offer_reuse: true, shape: ShapeChoice::OnPed });
    rig.press(Button::Yes);
    rig.shows(&["SLOT", "SETTING SO PIN...", "Insert a", "SO / HSM Admin", "PED Key (BLUE)", "Press ENTER."]);
    rig.insert(keys[0]);
    rig.enter();
    rig.shows(&["SLOT", "READING SO PIN...", "Enter PED PIN:"]);
    rig.digits("2468");
    rig.enter();
    rig.shows(&[
        "SLOT",
        "READING SO PIN...",
        "Keys read: 01 of 02",
        "Insert another",
        "SO / HSM Admin",
        "PED Key (BLUE)",
        "Press ENTER.",
    ]);
    present(&mut rig, keys[1], None);
    rig.shows(&[
        "SLOT",
        "READING SO PIN...",
        "Are you duplicating",
        "this keyset? (Y/N)",
        "Warning: You will",
        "need all N keys!",
    ]);
    rig.press(Button::No);
    let replies = hsm.replies(&mut rig);
    let [PedReply::Reused(splits)] = &replies[..] else { panic!("{replies:?}") };
    assert!(keyset.verifier.check(&keyset.id, &hsm.reassemble(splits)));
}

#[test]
fn a_reused_keyset_can_be_duplicated_key_by_key() {
    let (mut rig, mut hsm) = connected();
    let keyset = make_keyset(&mut rig.rng, KeyColour::Black, &[4; 16], Quorum::new(1, 2).unwrap(), &[None, None]);
    let source = rig.add_key(Some(keyset.contents[0].clone()));
    let blank = rig.add_key(None);
    let co = prompt(Role::CryptoOfficer, Activity::Setting);
    hsm.send(&mut rig, &HsmCommand::CreateKeyset { prompt: co, offer_reuse: true, shape: ShapeChoice::OnPed });
    rig.press(Button::Yes);
    present(&mut rig, source, None);
    rig.press(Button::Yes);
    rig.shows(&["SLOT", "READING CO PIN...", "Insert the", "User", "PED Key (BLACK)", "Press ENTER."]);
    present(&mut rig, source, None);
    rig.insert(blank);
    rig.enter();
    rig.press(Button::Yes);
    rig.shows(&["SLOT", "READING CO PIN...", "Keys copied: 01", "Copy another", "PED Key? (Y/N)"]);
    rig.press(Button::No);
    assert!(matches!(hsm.replies(&mut rig)[..], [PedReply::Reused(_)]));
    assert_eq!(rig.keys()[blank].content, rig.keys()[source].content, "an exact copy");
}

#[test]
fn m_and_n_out_of_range_are_asked_again_and_a_fixed_shape_is_not_asked() {
    let (mut rig, mut hsm) = connected();
    hsm.send(&mut rig, &HsmCommand::CreateKeyset { prompt: setting(), offer_reuse: false, shape: ShapeChoice::OnPed });
    rig.digits("17");
    rig.enter();
    rig.shows(&["SLOT", "SETTING SO PIN...", "  ** WARNING **", "M must be 1-16.", "Press ENTER."]);
    rig.enter();
    rig.digits("0");
    rig.enter();
    rig.enter();
    rig.digits("4");
    rig.enter();
    rig.digits("3");
    rig.enter();
    rig.shows(&["SLOT", "SETTING SO PIN...", "  ** WARNING **", "N must be M-16.", "Press ENTER."]);
    rig.enter();
    rig.digits("16");
    rig.enter();
    assert_eq!(hsm.replies(&mut rig), [PedReply::Shape(Quorum::new(4, 16).unwrap())]);

    let fixed = Quorum::new(2, 2).unwrap();
    hsm.send(
        &mut rig,
        &HsmCommand::CreateKeyset { prompt: setting(), offer_reuse: false, shape: ShapeChoice::Fixed(fixed) },
    );
    assert_eq!(hsm.replies(&mut rig), [PedReply::Shape(fixed)]);
}

#[test]
fn an_orange_keyset_is_written_in_format_2_with_nothing_beside_the_split() {
    let (mut rig, mut hsm) = connected();
    let orange = hsm.new_rpk();
    let q = Quorum::new(1, 2).unwrap();
    let splits: Vec<WrappedSplit> = hsm.wrap_splits(&orange.seed[..], q, orange.id);
    let keys = [rig.add_key(None), rig.add_key(None)];
    let rpv = prompt(Role::Rpv, Activity::Setting);
    hsm.send(&mut rig, &HsmCommand::WriteSplits { prompt: rpv, splits, offer_duplicates: false });
    rig.shows(&["SLOT", "SETTING RPV...", "Insert a", "RPK / Remote", "PED Key (ORANGE)", "Press ENTER."]);
    write_blank(&mut rig, keys[0], "");
    write_blank(&mut rig, keys[1], "7777");
    assert_eq!(hsm.replies(&mut rig), [PedReply::Written { keys: 2, duplicate_sets: 0 }]);
    for k in keys {
        let bytes = rig.keys()[k].content.as_ref().unwrap();
        // "PEDK" 02 colour flags keyset[16] M N index salt[16] len16 split[32]: no certificate.
        assert_eq!(&bytes[..5], b"PEDK\x02");
        assert_eq!(bytes.len(), 4 + 3 + 16 + 3 + 16 + 2 + 32);
        let payload = PedKeyPayload::decode(bytes).unwrap();
        assert_eq!(payload.colour, KeyColour::Orange);
        assert_eq!(payload.split.keyset_id(), &orange.id);
    }
}

#[test]
fn duplicate_keyset_copies_keys_exactly() {
    let (mut rig, mut hsm) = connected();
    let keyset =
        make_keyset(&mut rig.rng, KeyColour::White, &[6; 32], Quorum::new(2, 2).unwrap(), &[Some("1357"), None]);
    let sources: Vec<usize> = keyset.contents.iter().map(|c| rig.add_key(Some(c.clone()))).collect();
    let targets = [rig.add_key(None), rig.add_key(None)];
    hsm.send(&mut rig, &HsmCommand::DuplicateKeyset { prompt: prompt(Role::Auditor, Activity::Reading) });
    for (i, (s, t)) in sources.iter().zip(targets).enumerate() {
        if i > 0 {
            rig.press(Button::Yes);
        }
        present(&mut rig, *s, None);
        rig.insert(t);
        rig.enter();
        rig.press(Button::Yes);
    }
    rig.press(Button::No);
    assert_eq!(hsm.replies(&mut rig), [PedReply::Duplicated { keys: 2 }]);
    assert_eq!(rig.keys()[targets[0]].content, rig.keys()[sources[0]].content);
    assert_eq!(rig.keys()[targets[1]].content, rig.keys()[sources[1]].content);
}
