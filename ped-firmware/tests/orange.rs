//! PED key format 2 and the orange keyset of protocol version 2: the orange keysets an
//! HSM's hello lists, the RPK cache that follows them, the serial the PED files its
//! cache under, and keys of the older format.

mod common;

use common::*;
use ped_proto::EcdhKeyPair;
use ped_proto::ErrorCode;
use ped_proto::command::{Activity, HsmCommand, PedFailure, PedReply, Role};
use ped_proto::frame::FrameType;
use ped_proto::pedkey::KeyColour;
use ped_proto::quorum::Quorum;

fn insert_orange(serial: &str) -> [String; 6] {
    [serial, "COMPUTE SESSION KEY.", "Insert a", "RPK / Remote", "PED Key (ORANGE)", "Press ENTER."].map(String::from)
}

fn not_for_this_hsm(serial: &str) -> [String; 6] {
    [serial, "COMPUTE SESSION KEY.", "  ** WARNING **", "This PED Key is not", "for this HSM.", "Press ENTER."]
        .map(String::from)
}

fn older_format(title: &str) -> [String; 6] {
    [title, "This PED Key is from", "an older format:", "re-create it.", "", "Press ENTER."].map(String::from)
}

/// A format-1 key of `colour` (an orange one with an RPK certificate beside the split,
/// as format 1 wrote it), its split a run of 0x5a.
fn format1(hsm: &mut TestHsm, colour: KeyColour, split_len: usize) -> Vec<u8> {
    let cert = (colour == KeyColour::Orange).then(|| {
        let rpk = EcdhKeyPair::generate(&mut hsm.rng);
        let serial = String::from_utf8(hsm.identity.id.clone()).unwrap();
        hsm.factory.certify_rpk(&mut hsm.rng, &serial, rpk.public(), NOW).unwrap()
    });
    let bytes = format1_key(colour, &vec![0x5a; split_len], cert.as_deref());
    assert_eq!(&bytes[..5], b"PEDK\x01");
    bytes
}

#[test]
fn an_orange_key_of_a_keyset_the_hello_does_not_list_is_refused_before_its_pin() {
    let mut hsm = TestHsm::new("HSM-180001");
    let mut rig = Rig::new(hsm.root());
    let mine = hsm.new_rpk();
    let mine = orange_keyset(&mut rig.rng, &mine, Quorum::new(1, 1).unwrap(), &[Some("2468")]);
    // Another HSM's orange keyset: its hello would list it, this one's does not.
    let theirs = Orange::generate(&mut rig.rng);
    let theirs = orange_keyset(&mut rig.rng, &theirs, Quorum::new(1, 1).unwrap(), &[Some("1357")]);
    let (my_key, their_key) =
        (rig.add_key(Some(mine.contents[0].clone())), rig.add_key(Some(theirs.contents[0].clone())));

    let pending = hsm.start_rpv(&mut rig);
    assert_eq!(rig.lines(), insert_orange("HSM-180001"));
    present(&mut rig, their_key, None);
    assert_eq!(rig.lines(), not_for_this_hsm("HSM-180001"), "no PIN asked");
    assert!(rig.take_sent().is_empty(), "nothing sent to the HSM");
    rig.enter();
    assert_eq!(rig.lines(), insert_orange("HSM-180001"), "asked again");
    assert!(rig.ped().busy());

    // The HSM's own orange key, with its PIN, opens the channel.
    present(&mut rig, my_key, None);
    rig.shows(&["HSM-180001", "COMPUTE SESSION KEY.", "Enter PED PIN:"]);
    rig.digits("2468");
    rig.enter();
    hsm.finish_rpv(&mut rig, pending);
    assert_eq!(rig.ped().info().rpk_serials, ["HSM-180001"]);
}

#[test]
fn a_format_1_key_at_a_login_ends_the_operation_and_tells_the_hsm() {
    let mut hsm = TestHsm::new("HSM-180002");
    let mut rig = Rig::new(hsm.root());
    hsm.connect_local(&mut rig);
    let old = format1(&mut hsm, KeyColour::Blue, 32);
    let key = rig.add_key(Some(old));
    hsm.send(&mut rig, &HsmCommand::ReadKeyset { prompt: prompt(Role::HsmSo, Activity::Login) });
    present(&mut rig, key, None);
    assert_eq!(rig.lines(), older_format("SLOT"), "no PIN asked");
    let replies = hsm.replies(&mut rig);
    assert_eq!(replies, [PedReply::Failed(PedFailure::OldKeyFormat)]);
    assert_eq!(PedFailure::OldKeyFormat.code(), ErrorCode::CkrDeviceError);
    assert_eq!(PedFailure::OldKeyFormat.code().name(), "CKR_DEVICE_ERROR");
    assert!(!rig.ped().busy(), "the operation is over");
    rig.enter();
    assert!(rig.lines().iter().any(|l| l == "Local PED-USB mode"), "{:?}", rig.lines());
}

#[test]
fn a_format_1_key_offered_for_reuse_ends_the_operation_too() {
    let mut hsm = TestHsm::new("HSM-180003");
    let mut rig = Rig::new(hsm.root());
    hsm.connect_local(&mut rig);
    let old = format1(&mut hsm, KeyColour::Blue, 32);
    let key = rig.add_key(Some(old));
    hsm.send(
        &mut rig,
        &HsmCommand::CreateKeyset {
            prompt: prompt(Role::HsmSo, Activity::Setting),
            offer_reuse: true,
            shape: ped_proto::command::ShapeChoice::OnPed,
        },
    );
    rig.press(ped_firmware::io::Button::Yes);
    present(&mut rig, key, None);
    assert_eq!(rig.lines(), older_format("SLOT"));
    assert_eq!(hsm.replies(&mut rig), [PedReply::Failed(PedFailure::OldKeyFormat)]);
}

/// Blocked by a ped-proto bug (reported): `PedKeyPayload::decode` refuses a payload
/// longer than format 2's largest before it reads the format byte, so a format-1 orange
/// key (an RPK certificate of ~600 bytes beside the split) decodes as
/// `TooLong { field: "payload" }` and the PED says "PED Key damaged." instead of asking
/// for the key to be re-created.
#[test]
fn a_format_1_orange_key_at_the_rpv_login_ends_the_handshake_with_the_older_format_notice() {
    let mut hsm = TestHsm::new("HSM-180004");
    let mut rig = Rig::new(hsm.root());
    let _ = hsm.new_rpk();
    let old = format1(&mut hsm, KeyColour::Orange, 98);
    assert!(old.len() > ped_proto::pedkey::MAX_PAYLOAD_LEN);
    let key = rig.add_key(Some(old));
    let _pending = hsm.start_rpv(&mut rig);
    present(&mut rig, key, None);
    assert_eq!(rig.lines(), older_format("HSM-180004"));
    assert_eq!(frame_type(&one_frame(&mut rig)), FrameType::HandshakeFailed, "the handshake is refused");
    assert!(!rig.ped().busy());
    assert!(rig.ped().info().rpk_serials.is_empty());
}

#[test]
fn a_format_1_orange_key_without_its_certificate_at_the_rpv_login_ends_the_handshake() {
    // The same key cut short of its certificate: the format byte alone refuses it.
    let mut hsm = TestHsm::new("HSM-180005");
    let mut rig = Rig::new(hsm.root());
    let _ = hsm.new_rpk();
    let key = rig.add_key(Some(format1_key(KeyColour::Orange, &[0x5a; 98], None)));
    let _pending = hsm.start_rpv(&mut rig);
    present(&mut rig, key, None);
    assert_eq!(rig.lines(), older_format("HSM-180005"));
    assert_eq!(frame_type(&one_frame(&mut rig)), FrameType::HandshakeFailed);
    assert!(!rig.ped().busy());
}

#[test]
fn the_rpk_cache_serves_only_while_the_hsm_lists_its_keyset() {
    let mut hsm = TestHsm::new("HSM-180006");
    let mut rig = Rig::new(hsm.root());
    let first = hsm.new_rpk();
    let first = orange_keyset(&mut rig.rng, &first, Quorum::new(1, 1).unwrap(), &[None]);
    let old_key = rig.add_key(Some(first.contents[0].clone()));
    let pending = hsm.start_rpv(&mut rig);
    present(&mut rig, old_key, None);
    hsm.finish_rpv(&mut rig, pending);
    assert_eq!(rig.ped().info().rpk_serials, ["HSM-180006"]);

    // Cached: the next channel needs no orange key.
    let pending = hsm.start_rpv(&mut rig);
    hsm.finish_rpv(&mut rig, pending);
    assert!(!rig.ped().busy());

    // The HSM rotates: its hello lists only the new keyset. The cached RPK is not used;
    // the orange key is asked for again, and the old one is not for this HSM any more.
    hsm.rpks.clear();
    let second = hsm.new_rpk();
    let second = orange_keyset(&mut rig.rng, &second, Quorum::new(1, 1).unwrap(), &[None]);
    let new_key = rig.add_key(Some(second.contents[0].clone()));
    let pending = hsm.start_rpv(&mut rig);
    assert!(rig.take_sent().is_empty(), "no key share from the stale cache");
    assert_eq!(rig.lines(), insert_orange("HSM-180006"));
    present(&mut rig, old_key, None);
    assert_eq!(rig.lines(), not_for_this_hsm("HSM-180006"));
    assert!(rig.take_sent().is_empty());
    rig.enter();
    present(&mut rig, new_key, None);
    hsm.finish_rpv(&mut rig, pending);
    assert_eq!(rig.ped().info().rpk_serials, ["HSM-180006"]);

    // The new RPK is the one cached now.
    let pending = hsm.start_rpv(&mut rig);
    hsm.finish_rpv(&mut rig, pending);
    assert!(!rig.ped().busy());
}

#[test]
fn a_hello_whose_serial_is_not_its_certificates_is_refused_and_the_cache_stays() {
    let mut hsm = TestHsm::new("HSM-180007");
    let mut rig = Rig::new(hsm.root());
    let orange = hsm.new_rpk();
    let orange = orange_keyset(&mut rig.rng, &orange, Quorum::new(1, 1).unwrap(), &[None]);
    let key = rig.add_key(Some(orange.contents[0].clone()));
    let pending = hsm.start_rpv(&mut rig);
    present(&mut rig, key, None);
    hsm.finish_rpv(&mut rig, pending);
    assert_eq!(rig.ped().info().rpk_serials, ["HSM-180007"]);

    // Another HSM of the same factory (certified as HSM-180099) claims HSM-180007's
    // serial in its hello, hoping for that HSM's cached RPK.
    let mut impostor = factory_twin(&mut hsm, "HSM-180099");
    impostor.identity.id = b"HSM-180007".to_vec();
    let _ = impostor.start_rpv(&mut rig);
    assert_eq!(frame_type(&one_frame(&mut rig)), FrameType::HandshakeFailed);
    rig.shows(&["Connection", "HSM not trusted.", "", "Press ENTER."]);
    assert!(!rig.ped().busy());
    assert_eq!(rig.ped().info().rpk_serials, ["HSM-180007"], "the cached RPK stays");
    rig.enter();

    // The real HSM-180007 still connects from the cache, no orange key asked.
    let pending = hsm.start_rpv(&mut rig);
    hsm.finish_rpv(&mut rig, pending);
    assert!(!rig.ped().busy());
}

/// An HSM of `hsm`'s factory (same root, same HOC) with serial `serial`, holding the
/// same RPVs.
fn factory_twin(hsm: &mut TestHsm, serial: &str) -> TestHsm {
    let mut twin = TestHsm::new(&String::from_utf8(hsm.identity.id.clone()).unwrap());
    twin.identity = twin.factory.hsm_identity(&mut hsm.rng, serial, NOW).unwrap();
    twin.rpks = hsm.rpks.clone();
    twin
}
