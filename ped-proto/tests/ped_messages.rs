//! The PED key payload (format 2), the PED command set, relay control and the RPV ring:
//! round trips, exact layouts, range checks, and total decoding of arbitrary bytes.
//! (The orange seed's derivations are in tests/orange.rs.)

use ped_proto::command::{Activity, HsmCommand, Notice, PedFailure, PedReply, Prompt, Role, ShapeChoice, WrappedSplit};
use ped_proto::device::{DeviceMessage, PedInfo, PedMode, SessionEndReason, UpdateState};
use ped_proto::frame::{self, Frame, FrameType};
use ped_proto::hsm_link::HsmLinkMessage;
use ped_proto::orange::{RpkEntry, RpvRing};
use ped_proto::pedkey::{self, KeyColour, PedKeyPayload};
use ped_proto::pin::PinSalt;
use ped_proto::quorum::{KeysetId, Quorum, SplitInfo};
use ped_proto::relay::{PedStatus, RelayMessage, RelayRole};
use ped_proto::{DecodeError, Error, ErrorCode};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
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
    }
}

/// The bytes protocol.md §13.1 gives for [`payload`] of the colour byte `colour`.
fn documented_layout(colour: u8) -> Vec<u8> {
    let mut expected = [b"PEDK".as_slice(), &[0x02, colour, 0x01]].concat();
    expected.extend_from_slice(&[0x11; 16]);
    expected.extend_from_slice(&[2, 3, 2]);
    expected.extend_from_slice(&[0x22; 16]);
    expected.extend_from_slice(&[0x00, 0x20]);
    expected.extend_from_slice(&[0x33; 32]);
    expected
}

#[test]
fn a_blue_key_payload_has_the_documented_layout() {
    let bytes = payload(KeyColour::Blue).encode().unwrap();
    assert_eq!(&bytes[..], &documented_layout(0x01)[..]);
    assert_eq!(pedkey::identify(&bytes).unwrap(), KeyColour::Blue);
    let back = PedKeyPayload::decode(&bytes).unwrap();
    assert_eq!(back.split, info(2, 3, 2));
    assert!(back.pin_protected);
    assert_eq!(&back.masked_split[..], &[0x33; 32]);
    assert!(!format!("{back:?}").contains("51, 51"), "Debug hides the split");
}

#[test]
fn an_orange_key_payload_carries_nothing_but_its_masked_seed() {
    // Format 2: an orange key has exactly the layout of every other colour, with no
    // RPK certificate after the split (nothing that could confirm a PIN guess).
    let bytes = payload(KeyColour::Orange).encode().unwrap();
    assert_eq!(&bytes[..], &documented_layout(0x03)[..]);
    assert_eq!(bytes.len(), 4 + 3 + 16 + 3 + 16 + 2 + 32);
    // A format-1 orange key carried a len16 certificate here: as trailing bytes of a
    // format-2 payload it is refused.
    let with_cert = [&bytes[..], &[0x00, 0x04, 0x30, 0x82, 0x01, 0x00]].concat();
    assert_eq!(PedKeyPayload::decode(&with_cert).unwrap_err(), Error::Decode(DecodeError::TrailingBytes));
}

#[test]
fn every_colour_round_trips_and_identifies_without_a_pin() {
    for colour in KeyColour::ALL {
        let bytes = payload(colour).encode().unwrap();
        assert_eq!(bytes[4], pedkey::FORMAT);
        assert_eq!(pedkey::identify(&bytes).unwrap(), colour);
        let back = PedKeyPayload::decode(&bytes).unwrap();
        assert_eq!(back.colour, colour);
        assert_eq!(&back.masked_split[..], &[0x33; 32]);
    }
    assert_eq!(KeyColour::Red.secret_name(), "Domain");
}

#[test]
fn damaged_payloads_are_typed_errors() {
    let good = payload(KeyColour::Red).encode().unwrap().to_vec();
    let bad_cases: Vec<(&str, Vec<u8>)> = vec![
        ("magic", [b"XEDK".as_slice(), &good[4..]].concat()),
        ("format 0", [&good[..4], &[0], &good[5..]].concat()),
        ("format 1", [&good[..4], &[1], &good[5..]].concat()),
        ("format 3", [&good[..4], &[3], &good[5..]].concat()),
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
    let mut empty = payload(KeyColour::Orange);
    empty.masked_split = Zeroizing::new(Vec::new());
    assert!(empty.encode().is_err());
    let mut too_long = payload(KeyColour::Orange);
    too_long.masked_split = Zeroizing::new(vec![0; pedkey::MAX_SPLIT_LEN + 1]);
    assert!(too_long.encode().is_err());
}

/// A key written before the PIN binding was redesigned (format 1) is refused with the
/// error the PED turns into "re-create it", both by the full decoder and by `identify`
/// ("List types"); a format from the future is an unsupported version instead.
#[test]
fn an_old_format_key_asks_to_be_re_created_and_a_newer_one_is_unsupported() {
    let good = payload(KeyColour::Orange).encode().unwrap().to_vec();
    let with_format = |f: u8| [&good[..4], &[f], &good[5..]].concat();
    let old = with_format(1);
    assert_eq!(PedKeyPayload::decode(&old).unwrap_err(), Error::Decode(DecodeError::OldKeyFormat(1)));
    assert_eq!(pedkey::identify(&old).unwrap_err(), Error::Decode(DecodeError::OldKeyFormat(1)));
    // A real format-1 orange key: the same fields, then its RPK certificate.
    let old_with_cert = [&old[..], &[0x00, 0x03, 0x30, 0x01, 0x00]].concat();
    assert_eq!(PedKeyPayload::decode(&old_with_cert).unwrap_err(), Error::Decode(DecodeError::OldKeyFormat(1)));
    let newer = with_format(3);
    assert_eq!(PedKeyPayload::decode(&newer).unwrap_err(), Error::Decode(DecodeError::UnsupportedFrameVersion(3)));
    assert_eq!(pedkey::identify(&newer).unwrap_err(), Error::Decode(DecodeError::UnsupportedFrameVersion(3)));
    // The magic is checked first: a bad magic with format 1 is not an old key.
    let foreign = [b"XEDK".as_slice(), &old[4..]].concat();
    assert_eq!(PedKeyPayload::decode(&foreign).unwrap_err(), Error::Decode(DecodeError::BadMagic));
    // The message tells the holder what to do.
    let text = Error::Decode(DecodeError::OldKeyFormat(1)).to_string();
    assert!(text.contains("re-create"), "{text}");
    // The PED's answer to the HSM for such a key: PedFailure::OldKeyFormat, 4f 08.
    let reply = PedReply::Failed(PedFailure::OldKeyFormat);
    assert_eq!(reply.encode().unwrap(), [0x4f, 0x08]);
    assert_eq!(PedReply::decode(&[0x4f, 0x08]).unwrap(), reply);
    assert_eq!(PedFailure::OldKeyFormat.code(), ErrorCode::CkrDeviceError);
    // Failure bytes 01..=08 are defined; 00 and 09 are not.
    for b in 1..=8u8 {
        let decoded = PedReply::decode(&[0x4f, b]).unwrap();
        assert_eq!(decoded.encode().unwrap(), [0x4f, b]);
    }
    for b in [0x00, 0x09, 0xff] {
        assert!(PedReply::decode(&[0x4f, b]).is_err(), "failure byte {b:#04x}");
    }
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
            offer_duplicates: true,
        },
        HsmCommand::WriteSplits {
            prompt: prompt(Role::Rpv),
            splits: vec![wrapped(1), wrapped(2), wrapped(3)],
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
        PedReply::Shape(Quorum::new(2, 3).unwrap()),
        PedReply::Written { keys: 3, duplicate_sets: 1 },
        PedReply::Duplicated { keys: 2 },
        PedReply::Notice(Notice::WrongColour),
        PedReply::Notice(Notice::AlreadyPresented),
        PedReply::Notice(Notice::NoKey),
        PedReply::Failed(PedFailure::Timeout),
        PedReply::Failed(PedFailure::KeyWriteFailed),
        PedReply::Failed(PedFailure::BadKeyContent),
        PedReply::Failed(PedFailure::OldKeyFormat),
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

/// Version 2 has no ReusedRpv reply (0x47): a reused orange keyset is answered with
/// Reused like every other colour, and WriteSplits for the RPV carries no certificate.
#[test]
fn orange_keysets_travel_like_every_other_keyset() {
    let reply = PedReply::Reused(vec![wrapped(1)]);
    let bytes = reply.encode().unwrap();
    let mut expected = vec![0x42, 0x01];
    expected.extend_from_slice(info(2, 3, 1).keyset_id().as_bytes());
    expected.extend_from_slice(&[0x02, 0x03, 0x01, 0x00, 40]);
    expected.extend_from_slice(&[1; 40]);
    assert_eq!(bytes, expected);
    let mut old_reused_rpv = bytes.clone();
    old_reused_rpv[0] = 0x47;
    old_reused_rpv.extend_from_slice(&[0x00, 0x03, 0x30, 0x01, 0x00]);
    assert!(matches!(PedReply::decode(&old_reused_rpv), Err(Error::Decode(_))), "0x47 is no reply any more");
    old_reused_rpv.truncate(bytes.len());
    assert!(matches!(PedReply::decode(&old_reused_rpv), Err(Error::Decode(_))));

    let single = WrappedSplit { info: info(1, 1, 1), wrapped: vec![7; 40] };
    let write = HsmCommand::WriteSplits { prompt: prompt(Role::Rpv), splits: vec![single], offer_duplicates: true };
    let bytes = write.encode().unwrap();
    // 03 ‖ Prompt (len8 slot ‖ role 05 ‖ activity 03) ‖ splits ‖ u8 offer duplicates.
    let mut expected = b"\x03\x04SLOT\x05\x03\x01".to_vec();
    expected.extend_from_slice(&[0x11; 16]);
    expected.extend_from_slice(&[0x01, 0x01, 0x01, 0x00, 40]);
    expected.extend_from_slice(&[7; 40]);
    expected.push(0x01);
    assert_eq!(bytes, expected);
    assert_eq!(HsmCommand::decode(&bytes).unwrap(), write);
    // A version-1 RPV WriteSplits put a len16 certificate before the flag: refused.
    let mut with_cert = bytes[..bytes.len() - 1].to_vec();
    with_cert.extend_from_slice(&[0x00, 0x02, 0x30, 0x00, 0x01]);
    assert!(HsmCommand::decode(&with_cert).is_err());
}

#[test]
fn write_splits_must_carry_one_whole_keyset() {
    let incomplete = HsmCommand::WriteSplits {
        prompt: prompt(Role::HsmSo),
        splits: vec![wrapped(1), wrapped(3), wrapped(2)],
        offer_duplicates: false,
    };
    assert!(HsmCommand::decode(&incomplete.encode().unwrap()).is_err(), "out of order");
    let missing = HsmCommand::WriteSplits {
        prompt: prompt(Role::Rpv),
        splits: vec![wrapped(1), wrapped(2)],
        offer_duplicates: false,
    };
    assert!(HsmCommand::decode(&missing.encode().unwrap()).is_err(), "2 of a 3-key keyset");
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
    assert_eq!(RelayMessage::decode(record), Err(DecodeError::UnexpectedFrame(0x10)));
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
        Err(DecodeError::UnexpectedFrame(0x10))
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

fn entry(rng: &mut ChaCha20Rng) -> RpkEntry {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    RpkEntry::from_seed(KeysetId::generate(rng), &seed).unwrap()
}

#[test]
fn a_new_rpv_replaces_the_old_only_when_its_whole_keyset_is_written() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
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
    assert!(!ring.complete(3, 3), "nothing pending any more");
}

#[test]
fn a_reused_orange_keyset_replaces_the_rpv_at_once_and_erase_forgets_everything() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let old = entry(&mut rng);
    let mut ring = RpvRing::new(Some(old));
    ring.begin(entry(&mut rng));
    let reused = entry(&mut rng);
    let reused_id = reused.keyset_id;
    ring.replace(reused);
    assert_eq!(ring.current().unwrap().keyset_id, reused_id);
    assert!(ring.pending().is_none(), "a replacement abandons a pending rotation");
    assert_eq!(ring.accepted().len(), 1);
    ring.begin(entry(&mut rng));
    ring.erase();
    assert!(ring.current().is_none() && ring.pending().is_none());
    assert!(ring.accepted().is_empty());
    assert!(RpvRing::default().accepted().is_empty());
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
        };
        let bytes = p.encode().unwrap();
        prop_assert_eq!(bytes.len(), 44 + split.len());
        let back = PedKeyPayload::decode(&bytes).unwrap();
        prop_assert_eq!(back.colour, colour);
        prop_assert_eq!(back.split, p.split);
        prop_assert_eq!(&back.masked_split[..], &split[..]);
        prop_assert_eq!(back.pin_protected, pin);
    }

    #[test]
    fn mutated_commands_never_panic(flip_at in any::<usize>(), mask in 1u8..) {
        let c = HsmCommand::WriteSplits {
            prompt: prompt(Role::Rpv),
            splits: vec![wrapped(1), wrapped(2), wrapped(3)],
            offer_duplicates: true,
        };
        let mut bytes = c.encode().unwrap();
        let at = flip_at % bytes.len();
        bytes[at] ^= mask;
        let _ = HsmCommand::decode(&bytes);
        let _ = PedReply::decode(&bytes);
    }
}
