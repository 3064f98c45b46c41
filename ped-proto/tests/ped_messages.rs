//! The PED key payload, the PED command set, relay control and the orange secret:
//! round trips, exact layouts, range checks, and total decoding of arbitrary bytes.

use ped_proto::Error;
use ped_proto::command::{Activity, HsmCommand, Notice, PedFailure, PedReply, Prompt, Role, ShapeChoice, WrappedSplit};
use ped_proto::device::{DeviceMessage, PedInfo, PedMode, SessionEndReason, UpdateState};
use ped_proto::ecdh::EcdhKeyPair;
use ped_proto::frame::{self, Frame, FrameType};
use ped_proto::hsm_link::HsmLinkMessage;
use ped_proto::orange::{self, RpvRing};
use ped_proto::pedkey::{self, KeyColour, PedKeyPayload};
use ped_proto::pin::PinSalt;
use ped_proto::quorum::{KeysetId, Quorum, SplitInfo};
use ped_proto::relay::{PedStatus, RelayMessage, RelayRole};
use ped_proto::secrets::Rpv;
use ped_proto::{ErrorCode, handshake::hsm::RpkEntry};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use zeroize::Zeroizing;

fn info(m: u8, n: u8, index: u8) -> SplitInfo {
    SplitInfo::new(KeysetId::from_bytes([0x11; 16]), index, Quorum::new(m, n).unwrap()).unwrap()
}

fn payload(colour: KeyColour) -> PedKeyPayload {
    PedKeyPayload {
        colour,
        split: info(2, 3, 2),
        pin_protected: true,
        salt: PinSalt::from_bytes([0x22; 16]),
        masked_split: Zeroizing::new(vec![0x33; 32]),
        rpk_cert: (colour == KeyColour::Orange).then(|| vec![0x30, 0x82, 0x01, 0x00]),
    }
}

#[test]
fn a_blue_key_payload_has_the_documented_layout() {
    let bytes = payload(KeyColour::Blue).encode().unwrap();
    let mut expected = b"PEDK\x01\x01\x01".to_vec();
    expected.extend_from_slice(&[0x11; 16]);
    expected.extend_from_slice(&[2, 3, 2]);
    expected.extend_from_slice(&[0x22; 16]);
    expected.extend_from_slice(&[0x00, 0x20]);
    expected.extend_from_slice(&[0x33; 32]);
    assert_eq!(&bytes[..], &expected[..]);
    assert_eq!(pedkey::identify(&bytes).unwrap(), KeyColour::Blue);
    let back = PedKeyPayload::decode(&bytes).unwrap();
    assert_eq!(back.split, info(2, 3, 2));
    assert!(back.pin_protected);
    assert_eq!(&back.masked_split[..], &[0x33; 32]);
    assert!(!format!("{back:?}").contains("51, 51"), "Debug hides the split");
}

#[test]
fn every_colour_round_trips_and_identifies_without_a_pin() {
    for colour in KeyColour::ALL {
        let bytes = payload(colour).encode().unwrap();
        assert_eq!(pedkey::identify(&bytes).unwrap(), colour);
        let back = PedKeyPayload::decode(&bytes).unwrap();
        assert_eq!(back.colour, colour);
        assert_eq!(back.rpk_cert.is_some(), colour == KeyColour::Orange);
    }
    assert_eq!(KeyColour::Red.secret_name(), "Domain");
}

#[test]
fn damaged_payloads_are_typed_errors() {
    let good = payload(KeyColour::Red).encode().unwrap().to_vec();
    let bad_cases: Vec<(&str, Vec<u8>)> = vec![
        ("magic", [b"XEDK".as_slice(), &good[4..]].concat()),
        ("format", [&good[..4], &[2], &good[5..]].concat()),
        ("colour", [&good[..5], &[9], &good[6..]].concat()),
        ("flags", [&good[..6], &[0x80], &good[7..]].concat()),
        ("M > N", [&good[..23], &[4, 3, 1], &good[26..]].concat()),
        ("N > 16", [&good[..23], &[2, 17, 1], &good[26..]].concat()),
        ("index 0", [&good[..23], &[2, 3, 0], &good[26..]].concat()),
        ("index > N", [&good[..23], &[2, 3, 4], &good[26..]].concat()),
        ("trailing", [good.as_slice(), &[0]].concat()),
    ];
    for (what, bytes) in bad_cases {
        assert!(matches!(PedKeyPayload::decode(&bytes), Err(Error::Decode(_))), "{what}");
    }
    for cut in 0..good.len() {
        assert!(PedKeyPayload::decode(&good[..cut]).is_err(), "truncated at {cut}");
    }
    let mut orange_without_cert = payload(KeyColour::Orange);
    orange_without_cert.rpk_cert = None;
    assert!(orange_without_cert.encode().is_err());
}

fn prompt(role: Role) -> Prompt {
    Prompt { slot: "SLOT".into(), role, activity: Activity::Setting }
}

fn wrapped(index: u8) -> WrappedSplit {
    WrappedSplit { info: info(2, 3, index), wrapped: vec![index; 40] }
}

#[test]
fn commands_and_replies_round_trip() {
    let commands = vec![
        HsmCommand::ReadKeyset { prompt: Prompt { activity: Activity::Login, ..prompt(Role::HsmSo) } },
        HsmCommand::CreateKeyset { prompt: prompt(Role::HsmDomain), offer_reuse: true, shape: ShapeChoice::OnPed },
        HsmCommand::CreateKeyset {
            prompt: prompt(Role::CryptoOfficer),
            offer_reuse: false,
            shape: ShapeChoice::Fixed(Quorum::new(3, 5).unwrap()),
        },
        HsmCommand::WriteSplits {
            prompt: prompt(Role::HsmSo),
            splits: vec![wrapped(1), wrapped(2), wrapped(3)],
            rpk_cert: None,
            offer_duplicates: true,
        },
        HsmCommand::WriteSplits {
            prompt: prompt(Role::Rpv),
            splits: vec![wrapped(1), wrapped(2), wrapped(3)],
            rpk_cert: Some(vec![0x30; 600]),
            offer_duplicates: false,
        },
        HsmCommand::DuplicateKeyset { prompt: prompt(Role::Auditor) },
        HsmCommand::Cancel,
    ];
    for c in commands {
        assert_eq!(HsmCommand::decode(&c.encode().unwrap()).unwrap(), c);
    }
    let replies = vec![
        PedReply::Splits(vec![wrapped(1), wrapped(3)]),
        PedReply::Reused(vec![wrapped(2)]),
        PedReply::ReusedRpv { splits: vec![wrapped(1), wrapped(2)], rpk_cert: vec![0x30; 600] },
        PedReply::Shape(Quorum::new(2, 3).unwrap()),
        PedReply::Written { keys: 3, duplicate_sets: 1 },
        PedReply::Duplicated { keys: 2 },
        PedReply::Notice(Notice::WrongColour),
        PedReply::Notice(Notice::AlreadyPresented),
        PedReply::Notice(Notice::NoKey),
        PedReply::Failed(PedFailure::Timeout),
        PedReply::Failed(PedFailure::KeyWriteFailed),
    ];
    for r in replies {
        assert_eq!(PedReply::decode(&r.encode().unwrap()).unwrap(), r);
    }
    assert_eq!(PedFailure::Timeout.code(), ErrorCode::RcOperationTimedOut);
    assert_eq!(PedFailure::Cancelled.code(), ErrorCode::CkrCancel);
}

#[test]
fn a_read_keyset_command_has_the_documented_layout() {
    let c =
        HsmCommand::ReadKeyset { prompt: Prompt { slot: "SLOT".into(), role: Role::HsmSo, activity: Activity::Login } };
    assert_eq!(c.encode().unwrap(), b"\x01\x04SLOT\x01\x01");
}

#[test]
fn a_reused_orange_keyset_carries_its_rpk_certificate_after_the_splits() {
    let reply = PedReply::ReusedRpv { splits: vec![wrapped(1)], rpk_cert: vec![0x30, 0x03, 0x02, 0x01, 0x00] };
    let bytes = reply.encode().unwrap();
    let mut expected = vec![0x47, 0x01];
    expected.extend_from_slice(info(2, 3, 1).keyset_id().as_bytes());
    expected.extend_from_slice(&[0x02, 0x03, 0x01, 0x00, 40]);
    expected.extend_from_slice(&[1; 40]);
    expected.extend_from_slice(&[0x00, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00]);
    assert_eq!(bytes, expected);
    // Without a certificate the HSM could not recognise the RPK: refused both ways.
    let no_cert = PedReply::ReusedRpv { splits: vec![wrapped(1)], rpk_cert: Vec::new() };
    assert!(no_cert.encode().is_err());
    let mut truncated = bytes[..bytes.len() - 7].to_vec();
    truncated.extend_from_slice(&[0x00, 0x00]);
    assert!(PedReply::decode(&truncated).is_err());
    assert!(PedReply::decode(&bytes[..bytes.len() - 1]).is_err());
}

#[test]
fn write_splits_must_carry_one_whole_keyset() {
    let incomplete = HsmCommand::WriteSplits {
        prompt: prompt(Role::HsmSo),
        splits: vec![wrapped(1), wrapped(3), wrapped(2)],
        rpk_cert: None,
        offer_duplicates: false,
    };
    assert!(HsmCommand::decode(&incomplete.encode().unwrap()).is_err(), "out of order");
    let missing_cert = HsmCommand::WriteSplits {
        prompt: prompt(Role::Rpv),
        splits: vec![wrapped(1), wrapped(2), wrapped(3)],
        rpk_cert: None,
        offer_duplicates: false,
    };
    assert!(HsmCommand::decode(&missing_cert.encode().unwrap()).is_err(), "an orange keyset needs its RPK cert");
    let bad_slot = HsmCommand::ReadKeyset { prompt: Prompt { slot: "SL\nOT".into(), ..prompt(Role::HsmSo) } };
    assert!(bad_slot.encode().is_err());
}

#[test]
fn relay_messages_round_trip_and_refuse_foreign_frames() {
    let messages = vec![
        RelayMessage::Hello { version: 1, role: RelayRole::Client, software: "pedclient 0.1.0".into() },
        RelayMessage::Ping { nonce: 7 },
        RelayMessage::Pong { nonce: 7 },
        RelayMessage::StatusRequest,
        RelayMessage::Status(PedStatus {
            ped_connected: true,
            firmware_version: "2.9.0".into(),
            protocol_version: 1,
            rpk_count: 2,
            rpk_serials: vec!["154438865".into(), "154438866".into()],
        }),
        RelayMessage::Busy,
        RelayMessage::Bye,
        RelayMessage::error(ErrorCode::CkrPedUnplugged),
    ];
    for m in messages {
        let bytes = m.encode().unwrap();
        let frame = Frame::decode_exact(&bytes).unwrap();
        assert!(frame.frame_type.is_relay_control());
        assert_eq!(RelayMessage::decode(frame).unwrap(), m);
    }
    let record = Frame { frame_type: FrameType::Record, body: &[] };
    assert!(!FrameType::Record.is_relay_control());
    assert_eq!(RelayMessage::decode(record), Err(Error::UnexpectedMessage));
    let escape = RelayMessage::Hello { version: 1, role: RelayRole::Server, software: "\x1b[2J".into() };
    assert!(escape.encode().is_err(), "terminal escapes never reach a log");
}

#[test]
fn device_messages_round_trip() {
    let messages = vec![
        DeviceMessage::InfoRequest,
        DeviceMessage::Info(PedInfo {
            firmware_version: "2.9.0-1".into(),
            serial: "PED2-0000417".into(),
            mode: PedMode::Remote,
            protocol_versions: vec![1],
            rpk_serials: vec!["154438865".into()],
        }),
        DeviceMessage::UpdateBegin { image_len: 3_199_130 },
        DeviceMessage::UpdateChunk { offset: 16_384, data: vec![0xab; 16 * 1024] },
        DeviceMessage::UpdateEnd,
        DeviceMessage::UpdateStatus { state: UpdateState::VerifyFailed, detail: "Failure (VERIFY) (7)".into() },
        DeviceMessage::SessionEnded { reason: SessionEndReason::HsmDisconnected },
        DeviceMessage::SessionEnded { reason: SessionEndReason::HostEnded },
    ];
    for m in messages {
        let bytes = m.encode().unwrap();
        let frame = Frame::decode_exact(&bytes).unwrap();
        assert!(frame.frame_type.is_device_control() && !frame.frame_type.is_relay_control());
        assert_eq!(DeviceMessage::decode(frame).unwrap(), m);
    }
    assert!(DeviceMessage::UpdateBegin { image_len: 0 }.encode().is_err());
    assert!(DeviceMessage::UpdateChunk { offset: 0, data: vec![] }.encode().is_err());
    // SessionEnded is `50 44 01 36 00 00 00 01 rr`; a reason outside 1-4 is refused.
    let idle = DeviceMessage::SessionEnded { reason: SessionEndReason::IdleTimeout }.encode().unwrap();
    assert_eq!(idle, [0x50, 0x44, 0x01, 0x36, 0, 0, 0, 1, 2]);
    for bad in [&[][..], &[0], &[5], &[1, 1]] {
        let frame = Frame { frame_type: FrameType::SessionEnded, body: bad };
        assert!(DeviceMessage::decode(frame).is_err(), "{bad:?}");
    }
    assert_eq!(
        DeviceMessage::decode(Frame { frame_type: FrameType::Record, body: &[] }),
        Err(Error::UnexpectedMessage)
    );
}

#[test]
fn hsm_link_messages_round_trip() {
    let messages = vec![
        HsmLinkMessage::Connect { hsm_serial: "154438865".into(), host: "192.0.2.7".into(), port: 1503 },
        HsmLinkMessage::Connect { hsm_serial: "154438865".into(), host: String::new(), port: 0 },
        HsmLinkMessage::Connected {
            firmware_version: "2.9.0-1".into(),
            pedserver: "192.0.2.7:1503".into(),
            ped_initiated: false,
        },
        HsmLinkMessage::Connected {
            firmware_version: "2.9.0-1".into(),
            pedserver: "[2001:db8::7]:40123".into(),
            ped_initiated: true,
        },
        HsmLinkMessage::Disconnect,
        HsmLinkMessage::closed(ErrorCode::CkrPedUnplugged),
        HsmLinkMessage::Closed { code: 0, message: "disconnected".into() },
    ];
    for m in messages {
        let bytes = m.encode().unwrap();
        let frame = Frame::decode_exact(&bytes).unwrap();
        assert!(frame.frame_type.is_relay_control(), "pedclient consumes them; they never reach pedserver");
        assert_eq!(HsmLinkMessage::decode(frame).unwrap(), m);
        assert!(RelayMessage::decode(frame).is_err());
    }
    let bad = HsmLinkMessage::Connect { hsm_serial: "1".into(), host: "a\nb".into(), port: 1 };
    assert!(bad.encode().is_err());
    // Connected: len8 firmware ‖ len8 pedserver ‖ u8 ped-initiated, which is 0 or 1.
    let connected =
        HsmLinkMessage::Connected { firmware_version: "2.9".into(), pedserver: "h:1".into(), ped_initiated: true };
    let bytes = connected.encode().unwrap();
    assert_eq!(bytes[8..], *b"\x032.9\x03h:1\x01");
    let mut flag = bytes.clone();
    *flag.last_mut().unwrap() = 2;
    assert!(HsmLinkMessage::decode(Frame::decode_exact(&flag).unwrap()).is_err());
    let short = frame::encode(FrameType::LinkConnected, &bytes[8..bytes.len() - 1]);
    assert!(HsmLinkMessage::decode(Frame::decode_exact(&short).unwrap()).is_err(), "the flag is required");
}

#[test]
fn the_orange_secret_rebuilds_the_rpk_credential() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let rpv = Rpv::generate(&mut rng);
    let key = EcdhKeyPair::generate(&mut rng);
    let secret = orange::orange_secret(&rpv, &key);
    assert_eq!(secret.len(), orange::ORANGE_SECRET_LEN);
    let credential = orange::rpk_credential(&secret, b"cert").unwrap();
    assert_eq!(credential.rpv, rpv);
    assert_eq!(credential.static_key.public(), key.public());
    assert!(orange::rpk_credential(&secret[..97], b"cert").is_err());
    assert!(orange::rpk_credential(&[0u8; 98], b"cert").is_err(), "zero scalar");
}

#[test]
fn a_new_rpv_replaces_the_old_only_when_its_whole_keyset_is_written() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let entry = |rng: &mut ChaCha20Rng| RpkEntry {
        rpv: Rpv::generate(rng),
        cert_der: vec![1],
        public_key: *EcdhKeyPair::generate(rng).public(),
    };
    let old = entry(&mut rng);
    let old_rpv = old.rpv.clone();
    let mut ring = RpvRing::new(Some(old));
    ring.begin(entry(&mut rng));
    assert_eq!(ring.accepted().len(), 1);
    assert!(!ring.complete(2, 3), "2 of 3 keys written: the old RPV stays");
    assert_eq!(ring.current().unwrap().rpv, old_rpv);
    assert!(ring.pending().is_none());
    let new = entry(&mut rng);
    let new_rpv = new.rpv.clone();
    ring.begin(new);
    assert!(ring.complete(3, 3));
    assert_eq!(ring.current().unwrap().rpv, new_rpv);
    assert_eq!(ring.accepted().len(), 1);
}

proptest! {
    #[test]
    fn decoders_take_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = PedKeyPayload::decode(&bytes);
        let _ = pedkey::identify(&bytes);
        let _ = HsmCommand::decode(&bytes);
        let _ = PedReply::decode(&bytes);
        for t in 0x20..=0x3fu8 {
            if let Ok(frame_type) = FrameType::from_byte(t) {
                let _ = RelayMessage::decode(Frame { frame_type, body: &bytes });
                let _ = DeviceMessage::decode(Frame { frame_type, body: &bytes });
                let _ = HsmLinkMessage::decode(Frame { frame_type, body: &bytes });
            }
        }
    }

    #[test]
    fn payloads_round_trip(
        colour in prop::sample::select(KeyColour::ALL.to_vec()),
        (m, n) in (1u8..=16).prop_flat_map(|n| (1..=n, Just(n))),
        index_seed in any::<u8>(),
        split in proptest::collection::vec(any::<u8>(), 1..=128),
        pin in any::<bool>(),
    ) {
        let index = index_seed % n + 1;
        let p = PedKeyPayload {
            colour,
            split: SplitInfo::new(KeysetId::from_bytes([5; 16]), index, Quorum::new(m, n).unwrap()).unwrap(),
            pin_protected: pin,
            salt: PinSalt::from_bytes([6; 16]),
            masked_split: Zeroizing::new(split.clone()),
            rpk_cert: (colour == KeyColour::Orange).then(|| vec![0x30; 700]),
        };
        let back = PedKeyPayload::decode(&p.encode().unwrap()).unwrap();
        prop_assert_eq!(back.split, p.split);
        prop_assert_eq!(&back.masked_split[..], &split[..]);
        prop_assert_eq!(back.pin_protected, pin);
    }

    #[test]
    fn mutated_commands_never_panic(flip_at in any::<usize>(), mask in 1u8..) {
        let c = HsmCommand::WriteSplits {
            prompt: prompt(Role::Rpv),
            splits: vec![wrapped(1), wrapped(2), wrapped(3)],
            rpk_cert: Some(vec![0x30; 64]),
            offer_duplicates: true,
        };
        let mut bytes = c.encode().unwrap();
        let at = flip_at % bytes.len();
        bytes[at] ^= mask;
        let _ = HsmCommand::decode(&bytes);
        let _ = PedReply::decode(&bytes);
    }
}
