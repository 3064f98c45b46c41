//! The seed corpus: for every target, small valid inputs made by the encoders (and the
//! edit-mode selectors that pick each genuine message), so that libFuzzer starts past
//! the frame magic and the length checks instead of having to guess them.
//! `examples/seeds.rs` writes them to `seeds/<target>/`.

use ped_firmware::update::image::{FirmwareVersion, Header, SIGNATURE_LEN};
use ped_proto::ErrorCode;
use ped_proto::command::{Activity, HsmCommand, Notice, PedFailure, PedReply, Prompt, Role, ShapeChoice, WrappedSplit};
use ped_proto::device::{DeviceMessage, PedInfo, PedMode, SessionEndReason, UpdateState};
use ped_proto::frame::FrameType;
use ped_proto::hsm_link::HsmLinkMessage;
use ped_proto::legacy::dh::DhKeyPair;
use ped_proto::legacy::{LegacyHello, LegacyShare};
use ped_proto::pedkey::{FORMAT, KeyColour, MAGIC, PedKeyPayload};
use ped_proto::pin::PinSalt;
use ped_proto::quorum::{KeysetId, Quorum, SplitInfo};
use ped_proto::relay::{PedStatus, RelayMessage, RelayRole};
use ped_proto::usb;
use zeroize::Zeroizing;

use crate::{KINDS, KWP_KEY, Transcript, body_of, fixture};

/// One seed: a file name that says what it is, and its bytes.
pub type Seed = (String, Vec<u8>);

/// The seeds of every target, by target name.
pub fn all() -> Vec<(&'static str, Vec<Seed>)> {
    vec![
        ("frame_parse", frame_parse()),
        ("hsm_hello", handshake_bodies("hello", |t| &t.hello)),
        ("legacy_messages", legacy_messages()),
        ("ped_key_share", handshake_bodies("share", |t| &t.share)),
        ("hsm_finished", handshake_bodies("finished", |t| &t.finished)),
        ("record_open", record_open()),
        ("cert_chain", cert_chain()),
        ("public_key", public_key()),
        ("kwp_unwrap", kwp_unwrap()),
        ("pedkey_payload", pedkey_payload()),
        ("ped_command", ped_command()),
        ("relay_message", relay_message()),
        ("device_message", device_message()),
        ("usb_packets", usb_packets()),
        ("ped_host_frames", ped_host_frames()),
        ("firmware_image", firmware_image()),
    ]
}

/// The selector byte: `edit` in bit 0, `pick` above it.
fn selector(edit: bool, pick: usize) -> u8 {
    u8::try_from(pick << 1).expect("picks fit seven bits") | u8::from(edit)
}

fn kind_name(index: usize) -> &'static str {
    ["local", "password", "rpv"][index]
}

fn frame_parse() -> Vec<Seed> {
    let mut seeds = Vec::new();
    let names = ["hello", "share", "finished", "hsm-record", "ped-record"];
    for (k, t) in fixture().transcripts.iter().enumerate() {
        let frames = [&t.hello, &t.share, &t.finished, &t.hsm_record, &t.ped_record];
        for (f, frame) in frames.iter().enumerate() {
            let pick = k + KINDS.len() * f;
            seeds.push((format!("edit-{}-{}", kind_name(k), names[f]), vec![selector(true, pick)]));
            seeds.push((format!("raw-{}-{}", kind_name(k), names[f]), [&[selector(false, pick)][..], frame].concat()));
        }
    }
    let hello = RelayMessage::Hello { version: 1, role: RelayRole::Client, software: "pedclient 0.1.0".into() };
    seeds.push(("raw-relay-hello".into(), [&[0][..], &hello.encode().expect("encodes")].concat()));
    seeds
}

/// The legacy channel's hello and share (docs/protocol.md §17), and a nonce block.
fn legacy_messages() -> Vec<Seed> {
    let public = *DhKeyPair::from_exponent(&[7; 32]).expect("a valid exponent").public();
    let keyset = KeysetId::from_bytes([0x0a; 16]);
    let hello = LegacyHello {
        firmware: ped_proto::legacy::FirmwareVersion::LEGACY_NEWEST,
        hsm_id: b"150001".to_vec(),
        orange_keysets: vec![keyset],
        public,
    };
    let share = LegacyShare { ped_id: b"REMOTE".to_vec(), orange_keyset: keyset, public };
    vec![
        ("hello".into(), hello.encode().expect("encodes")),
        ("share".into(), share.encode().expect("encodes")),
        ("nonce-block".into(), (0..16).collect()),
    ]
}

/// Edit-mode selectors of each kind's genuine message, and the raw bodies.
fn handshake_bodies(name: &str, message: fn(&Transcript) -> &Vec<u8>) -> Vec<Seed> {
    let mut seeds = Vec::new();
    for (k, t) in fixture().transcripts.iter().enumerate() {
        seeds.push((format!("edit-{}-{name}", kind_name(k)), vec![selector(true, k)]));
        let raw = [&[selector(false, k)][..], body_of(message(t))].concat();
        seeds.push((format!("raw-{}-{name}", kind_name(k)), raw));
    }
    seeds
}

fn record_open() -> Vec<Seed> {
    let fx = fixture();
    let record = FrameType::Record.to_byte();
    let mut seeds = Vec::new();
    // The target reads kind = pick mod 3 and the end from (pick / 3) mod 2.
    for pick in 0..6 {
        let (kind, end) = (pick % 3, ["hsm", "ped"][pick / 3]);
        let t = &fx.transcripts[kind];
        let peer_record = if end == "hsm" { &t.ped_record } else { &t.hsm_record };
        let name = format!("{}-{end}", kind_name(kind));
        seeds.push((format!("edit-{name}"), vec![selector(true, pick), record]));
        seeds.push((format!("raw-{name}"), [&[selector(false, pick), record][..], body_of(peer_record)].concat()));
    }
    seeds
}

fn length_prefixed(certs: &[&[u8]]) -> Vec<u8> {
    certs
        .iter()
        .flat_map(|der| {
            let len = u16::try_from(der.len()).expect("certificates are under 64 KiB").to_be_bytes();
            len.into_iter().chain(der.iter().copied())
        })
        .collect()
}

fn cert_chain() -> Vec<Seed> {
    let fx = fixture();
    let chain = &fx.identity.chain;
    let hsm = length_prefixed(&[&chain[0], &chain[1], &chain[2]]);
    let rpk = length_prefixed(&[&fx.rpk_cert, &chain[1], &chain[2]]);
    vec![
        ("edit-hsm-chain".into(), vec![selector(true, 0)]),
        ("edit-rpk-chain".into(), vec![selector(true, 1)]),
        ("raw-hsm-chain".into(), [&[selector(false, 0)][..], &hsm].concat()),
        ("raw-rpk-chain".into(), [&[selector(false, 1)][..], &rpk].concat()),
    ]
}

fn public_key() -> Vec<Seed> {
    let point = fixture().identity.static_key.public().to_uncompressed();
    vec![("edit-hsm-static".into(), vec![selector(true, 0)]), ("raw-hsm-static".into(), [&[0][..], &point].concat())]
}

fn kwp_unwrap() -> Vec<Seed> {
    let key_len = u8::try_from(KWP_KEY.len()).expect("a 32-byte key");
    let raw = [&[selector(false, 0), key_len][..], &KWP_KEY, &fixture().kwp_wrapped].concat();
    vec![("edit-genuine".into(), vec![selector(true, 0)]), ("raw-genuine".into(), raw)]
}

fn split_info(index: u8) -> SplitInfo {
    let quorum = Quorum::new(2, 3).expect("2 of 3");
    SplitInfo::new(KeysetId::from_bytes([0x11; 16]), index, quorum).expect("index 1 to 3")
}

fn pedkey_payload() -> Vec<Seed> {
    let colours = [
        (KeyColour::Blue, "blue"),
        (KeyColour::Red, "red"),
        (KeyColour::Orange, "orange"),
        (KeyColour::Black, "black"),
        (KeyColour::White, "white"),
    ];
    let mut seeds: Vec<Seed> = colours
        .into_iter()
        .map(|(colour, name)| {
            let payload = PedKeyPayload {
                colour,
                split: split_info(2),
                pin_protected: colour == KeyColour::Black,
                salt: PinSalt::from_bytes([0x22; 16]),
                masked_split: Zeroizing::new(vec![0x33; 32]),
            };
            (format!("{name}-key"), payload.encode().expect("encodes").to_vec())
        })
        .collect();
    seeds.push(("old-format-key".into(), [&MAGIC[..], &[FORMAT - 1, 0x01]].concat()));
    seeds
}

fn wrapped(index: u8) -> WrappedSplit {
    WrappedSplit { info: split_info(index), wrapped: vec![index; 40] }
}

fn ped_command() -> Vec<Seed> {
    let prompt = |role| Prompt { slot: "SLOT".into(), role, activity: Activity::Setting };
    let splits = vec![wrapped(1), wrapped(2), wrapped(3)];
    let commands = [
        ("read-keyset", HsmCommand::ReadKeyset { prompt: Prompt { activity: Activity::Login, ..prompt(Role::HsmSo) } }),
        (
            "create-keyset-on-ped",
            HsmCommand::CreateKeyset { prompt: prompt(Role::HsmDomain), offer_reuse: true, shape: ShapeChoice::OnPed },
        ),
        (
            "create-keyset-fixed",
            HsmCommand::CreateKeyset {
                prompt: prompt(Role::CryptoOfficer),
                offer_reuse: false,
                shape: ShapeChoice::Fixed(Quorum::new(3, 5).expect("3 of 5")),
            },
        ),
        (
            "write-splits",
            HsmCommand::WriteSplits { prompt: prompt(Role::Rpv), splits: splits.clone(), offer_duplicates: true },
        ),
        ("duplicate-keyset", HsmCommand::DuplicateKeyset { prompt: prompt(Role::Auditor) }),
        ("cancel", HsmCommand::Cancel),
    ];
    let replies = [
        ("splits", PedReply::Splits(vec![wrapped(1), wrapped(3)])),
        ("reused", PedReply::Reused(vec![wrapped(2)])),
        ("shape", PedReply::Shape(Quorum::new(2, 3).expect("2 of 3"))),
        ("written", PedReply::Written { keys: 3, duplicate_sets: 1 }),
        ("duplicated", PedReply::Duplicated { keys: 2 }),
        ("notice-wrong-colour", PedReply::Notice(Notice::WrongColour)),
        ("failed-old-key-format", PedReply::Failed(PedFailure::OldKeyFormat)),
    ];
    let commands = commands.into_iter().map(|(name, c)| (format!("command-{name}"), c.encode().expect("encodes")));
    let replies = replies.into_iter().map(|(name, r)| (format!("reply-{name}"), r.encode().expect("encodes")));
    commands.chain(replies).collect()
}

fn relay_message() -> Vec<Seed> {
    let relay = [
        ("hello", RelayMessage::Hello { version: 1, role: RelayRole::Server, software: "pedserver 0.1.0".into() }),
        ("ping", RelayMessage::Ping { nonce: 7 }),
        ("pong", RelayMessage::Pong { nonce: 7 }),
        ("status-request", RelayMessage::StatusRequest),
        (
            "status",
            RelayMessage::Status(PedStatus {
                ped_connected: true,
                firmware_version: "2.9.0".into(),
                protocol_version: 2,
                rpk_count: 1,
                rpk_serials: vec!["154438865".into()],
            }),
        ),
        ("busy", RelayMessage::Busy),
        ("bye", RelayMessage::Bye),
        ("error", RelayMessage::error(ErrorCode::CkrPedUnplugged)),
    ];
    let link = [
        ("connect", HsmLinkMessage::Connect { hsm_serial: "154438865".into(), host: "192.0.2.7".into(), port: 1503 }),
        (
            "connected",
            HsmLinkMessage::Connected {
                firmware_version: "2.9.0-1".into(),
                pedserver: "[2001:db8::7]:40123".into(),
                ped_initiated: true,
            },
        ),
        ("disconnect", HsmLinkMessage::Disconnect),
        ("closed", HsmLinkMessage::closed(ErrorCode::CkrPedUnplugged)),
    ];
    let relay = relay.into_iter().map(|(name, m)| (format!("relay-{name}"), m.encode().expect("encodes")));
    let link = link.into_iter().map(|(name, m)| (format!("link-{name}"), m.encode().expect("encodes")));
    relay.chain(link).collect()
}

fn device_messages() -> Vec<(&'static str, DeviceMessage)> {
    vec![
        ("info-request", DeviceMessage::InfoRequest),
        (
            "info",
            DeviceMessage::Info(PedInfo {
                firmware_version: "2.9.0-1".into(),
                serial: "PED2-0000417".into(),
                mode: PedMode::Remote,
                protocol_versions: vec![2],
                rpk_serials: vec!["154438865".into()],
            }),
        ),
        ("update-begin", DeviceMessage::UpdateBegin { image_len: 4096 }),
        ("update-chunk", DeviceMessage::UpdateChunk { offset: 0, data: vec![0xab; 64] }),
        ("update-end", DeviceMessage::UpdateEnd),
        ("update-status", DeviceMessage::UpdateStatus { state: UpdateState::VerifyFailed, detail: "Failure".into() }),
        ("session-ended", DeviceMessage::SessionEnded { reason: SessionEndReason::IdleTimeout }),
    ]
}

fn device_message() -> Vec<Seed> {
    device_messages().into_iter().map(|(name, m)| (name.into(), m.encode().expect("encodes"))).collect()
}

fn usb_packets() -> Vec<Seed> {
    let t = &fixture().transcripts[0];
    let info = DeviceMessage::InfoRequest.encode().expect("encodes");
    vec![
        (
            "local-handshake".into(),
            [&t.hello, &t.share, &t.finished].iter().flat_map(|f| usb::frame_records(f)).collect(),
        ),
        ("info-request".into(), usb::frame_records(&info)),
    ]
}

/// Steps of `ped_host_frames`: a genuine hello, a key press, a raw frame.
fn hello(kind: u8) -> u8 {
    kind * 4
}

fn digit(d: u8) -> u8 {
    d * 4 + 2
}

/// Enter is the sixth of the target's buttons, selected by (selector / 4) mod 6 from 10 up.
const ENTER: u8 = 11 * 4 + 2;

fn raw_frame(frame: &[u8]) -> Vec<u8> {
    let len = u16::try_from(frame.len()).expect("a small frame").to_be_bytes();
    [&[1][..], &len, frame].concat()
}

fn ped_host_frames() -> Vec<Seed> {
    let password: Vec<u8> = b"27182818".iter().map(|c| digit(c - b'0')).chain([ENTER]).collect();
    let mut seeds = vec![
        ("hello-local".into(), vec![hello(0)]),
        ("hello-password-typed".into(), [&[hello(1)][..], &password].concat()),
        ("hello-rpv".into(), vec![hello(2)]),
        ("menu-keys".into(), vec![digit(1), ENTER, digit(7), ENTER, digit(3)]),
    ];
    for (name, message) in device_messages().into_iter().take(5) {
        seeds.push((format!("device-{name}"), raw_frame(&message.encode().expect("encodes"))));
    }
    seeds
}

fn firmware_image() -> Vec<Seed> {
    let payload = b"an image the fuzzer may alter".to_vec();
    let version = FirmwareVersion::new("2.9.1").expect("a version");
    let header = Header::for_payload(version, &payload).expect("a payload");
    let unsigned = [&header.encode()[..], &payload, &[0x5a; SIGNATURE_LEN]].concat();
    vec![("unsigned-image".into(), unsigned)]
}
