//! Property tests for every decoder of the crate (DESIGN.md rule 4: "every decoder is
//! total"): arbitrary bytes yield a value or a typed error and never a panic; valid
//! messages round-trip; accepted encodings are canonical; mutations of genuine
//! messages are refused by the state machines that receive them.
//!
//! Cost model: a P-521 scalar multiplication or an ECDSA verification costs about half
//! a millisecond (the crate is optimised even in test builds), so the keys, the
//! certificates and one genuine handshake transcript per channel kind are made once, in
//! [`fixture`]. The properties that need a live state machine (a handshake state is
//! consumed by its transition, and a record that fails poisons its session) rebuild
//! one end per case by replaying that end with the seed it was recorded with: its
//! messages come out byte for byte the same, so the other end's recorded answers still
//! fit and only this end's few P-521 operations are paid.

use std::cell::RefCell;
use std::sync::OnceLock;

use ped_proto::cert::{self, ChainCache, LeafRole};
use ped_proto::command::{HsmCommand, PedFailure, PedReply};
use ped_proto::factory::Factory;
use ped_proto::frame::{self, FORMAT_VERSION, Frame, FrameHeader, FrameType, HEADER_LEN, MAGIC, MAX_BODY_LEN};
use ped_proto::handshake::hsm::{self, HsmIdentity};
use ped_proto::handshake::messages::{
    MAX_CERT_LEN, MAX_CERTS, MAX_ID_LEN, MAX_ORANGE_KEYSETS, MAX_VERSIONS, NONCE_LEN, PROTOCOL_VERSION_2,
};
use ped_proto::handshake::ped::{AwaitingFinished, AwaitingHello};
use ped_proto::handshake::{ChannelKind, HsmEphemeral, HsmFinished, HsmHello, PedKeyShare, SUPPORTED_VERSIONS};
use ped_proto::internal::ecdh::{EcdhKeyPair, EcdhPublicKey, FIELD_LEN, PUBLIC_KEY_LEN};
use ped_proto::internal::kwp;
use ped_proto::internal::mac::TAG_LEN;
use ped_proto::orange::{RpkCredential, RpkEntry};
use ped_proto::pedkey::{self, KeyColour, PedKeyPayload};
use ped_proto::quorum::KeysetId;
use ped_proto::record::{ChannelSession, Opened, Role};
use ped_proto::secrets::{OneTimePassword, PasswordDigits};
use ped_proto::{CertificateError, DecodeError, Error};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

const NOW: u64 = 1_790_000_000;
const SERIAL: &str = "154438865";
const PED_ID: &[u8] = b"PED-0001";
const PASSWORD: &str = "27182818";
const RECORD_PAYLOAD: &[u8] = b"read keyset: SO, blue, quorum 2";
const KINDS: [ChannelKind; 3] = [ChannelKind::Local, ChannelKind::RemotePassword, ChannelKind::RemoteRpv];

/// Seeds of the scripted RNGs. Each end of the recorded handshakes draws from its own
/// seeded generator, so replaying that end reproduces its messages exactly.
const FACTORY_SEED: u64 = 0xdec0_de00;
const HSM_SEED: u64 = 0xdec0_de01;
const PED_SEED: u64 = 0xdec0_de02;
/// Real public keys used to build valid messages besides the handshake's own.
const SPARE_KEYS: usize = 4;

/// Case counts. Pure decoders cost microseconds a case; properties that replay one
/// end of a handshake or verify a chain cost a few milliseconds a case.
const CHEAP_CASES: u32 = 2048;
const CRYPTO_CASES: u32 = 256;

// ---------------------------------------------------------------------------------------
// The fixture: keys, certificates and one recorded handshake per kind.
// ---------------------------------------------------------------------------------------

/// What both ends hold before any handshake.
struct Parties {
    root: Vec<u8>,
    identity: HsmIdentity,
    rpks: [RpkEntry; 1],
    rpk: RpkCredential,
    /// The RPK certificate the HSM keeps (never sent), for the chain properties.
    rpk_cert: Vec<u8>,
}

/// A genuine handshake of one kind, every message as a whole frame, and the first
/// record each way over [`RECORD_PAYLOAD`].
struct Transcript {
    hello: Vec<u8>,
    share: Vec<u8>,
    finished: Vec<u8>,
    hsm_record: Vec<u8>,
    ped_record: Vec<u8>,
}

struct Fixture {
    parties: Parties,
    spare_keys: Vec<EcdhPublicKey>,
    transcripts: [Transcript; 3],
}

/// The HSM between its hello and the PED's key share.
enum HsmState {
    Local(hsm::AwaitingLocalKeyShare),
    Password(hsm::AwaitingPasswordProof, OneTimePassword),
    Rpv(hsm::AwaitingRpvKeyShare),
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(FACTORY_SEED);
        let factory = Factory::manufacture(&mut rng, SERIAL, NOW).unwrap();
        let identity = factory.hsm_identity(&mut rng, SERIAL, NOW).unwrap();
        let keyset_id = KeysetId::generate(&mut rng);
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let rpk_entry = RpkEntry::from_seed(keyset_id, &seed).unwrap();
        let rpk = RpkCredential::from_seed(keyset_id, &seed).unwrap();
        let rpk_cert = factory.certify_rpk(&mut rng, SERIAL, &rpk_entry.public_key, NOW).unwrap();
        let spare_keys = (0..SPARE_KEYS).map(|_| *EcdhKeyPair::generate(&mut rng).public()).collect();
        let root = factory.root.certificate_der().to_vec();
        let parties = Parties { root, identity, rpks: [rpk_entry], rpk, rpk_cert };
        let mut cache = ChainCache::default();
        let transcripts = KINDS.map(|kind| parties.record(kind, &mut cache));
        Fixture { parties, spare_keys, transcripts }
    })
}

impl Fixture {
    fn transcript(&self, kind: ChannelKind) -> &Transcript {
        &self.transcripts[KINDS.iter().position(|k| *k == kind).expect("every kind is recorded")]
    }

    /// A fresh session of one end, rebuilt by replaying that end of the recorded
    /// handshake. The replayed end's messages are checked against the recording, so a
    /// replay that diverged would fail loudly instead of testing the wrong thing.
    fn fresh_session(&self, kind: ChannelKind, role: Role, cache: &mut ChainCache) -> ChannelSession {
        let t = self.transcript(kind);
        match role {
            Role::Hsm => {
                let (state, hello) = self.parties.hsm_start(kind);
                assert_eq!(hello, t.hello, "HSM replay diverged");
                let (session, finished) = self.parties.hsm_receive(state, frame_of(&t.share)).unwrap();
                assert_eq!(finished, t.finished, "HSM replay diverged");
                session
            }
            Role::Ped => {
                let (ped, share) = self.parties.ped_respond(frame_of(&t.hello), cache).unwrap();
                assert_eq!(share, t.share, "PED replay diverged");
                ped.receive_finished(frame_of(&t.finished)).unwrap()
            }
        }
    }
}

impl Parties {
    fn hsm_start(&self, kind: ChannelKind) -> (HsmState, Vec<u8>) {
        let mut rng = ChaCha20Rng::seed_from_u64(HSM_SEED);
        match kind {
            ChannelKind::Local => {
                let (state, hello) = hsm::start_local(&self.identity, SUPPORTED_VERSIONS, &mut rng).unwrap();
                (HsmState::Local(state), hello)
            }
            ChannelKind::RemotePassword => {
                let password = OneTimePassword::new(PasswordDigits::parse(PASSWORD).unwrap());
                let (state, hello) =
                    hsm::start_password(&self.identity, SUPPORTED_VERSIONS, &password, &mut rng).unwrap();
                (HsmState::Password(state, password), hello)
            }
            ChannelKind::RemoteRpv => {
                let (state, hello) = hsm::start_rpv(&self.identity, SUPPORTED_VERSIONS, &self.rpks, &mut rng).unwrap();
                (HsmState::Rpv(state), hello)
            }
        }
    }

    fn hsm_receive(&self, state: HsmState, share: Frame<'_>) -> Result<(ChannelSession, Vec<u8>), Error> {
        match state {
            HsmState::Local(state) => state.receive_key_share(share),
            HsmState::Password(state, mut password) => state.receive_key_share(share, &mut password),
            HsmState::Rpv(state) => {
                state.receive_key_share(share, &self.rpks).map(|(session, finished, _)| (session, finished))
            }
        }
    }

    /// The PED's answer to `hello`, for whichever kind the hello announces.
    fn ped_respond(&self, hello: Frame<'_>, cache: &mut ChainCache) -> Result<(AwaitingFinished, Vec<u8>), Error> {
        let mut rng = ChaCha20Rng::seed_from_u64(PED_SEED);
        let ped = AwaitingHello::new(PED_ID, SUPPORTED_VERSIONS).receive_hello(hello, &self.root, NOW, cache)?;
        match ped.kind() {
            ChannelKind::Local => ped.respond_local(&mut rng),
            ChannelKind::RemotePassword => ped.respond_password(&PasswordDigits::parse(PASSWORD).unwrap(), &mut rng),
            ChannelKind::RemoteRpv => ped.respond_rpv(&self.rpk, &mut rng),
        }
    }

    fn record(&self, kind: ChannelKind, cache: &mut ChainCache) -> Transcript {
        let (hsm, hello) = self.hsm_start(kind);
        let (ped, share) = self.ped_respond(frame_of(&hello), cache).unwrap();
        let (mut hsm_session, finished) = self.hsm_receive(hsm, frame_of(&share)).unwrap();
        let mut ped_session = ped.receive_finished(frame_of(&finished)).unwrap();
        let hsm_record = hsm_session.seal(RECORD_PAYLOAD).unwrap();
        let ped_record = ped_session.seal(RECORD_PAYLOAD).unwrap();
        // Positive controls: the records the properties mutate do open when intact.
        assert_eq!(ped_session.open(frame_of(&hsm_record)), Ok(Opened::Data(RECORD_PAYLOAD.to_vec().into())));
        assert_eq!(hsm_session.open(frame_of(&ped_record)), Ok(Opened::Data(RECORD_PAYLOAD.to_vec().into())));
        Transcript { hello, share, finished, hsm_record, ped_record }
    }
}

thread_local! {
    /// A chain cache per test thread: warm after the thread's first handshake, so PED
    /// replays skip the eight signature verifications of a cold one.
    static CACHE: RefCell<ChainCache> = RefCell::new(ChainCache::default());
}

fn with_cache<T>(f: impl FnOnce(&mut ChainCache) -> T) -> T {
    CACHE.with(|cache| f(&mut cache.borrow_mut()))
}

fn frame_of(bytes: &[u8]) -> Frame<'_> {
    Frame::decode_exact(bytes).expect("a frame this crate encoded")
}

fn body_of(frame_bytes: &[u8]) -> &[u8] {
    frame_of(frame_bytes).body
}

// ---------------------------------------------------------------------------------------
// Strategies.
// ---------------------------------------------------------------------------------------

fn kind() -> impl Strategy<Value = ChannelKind> {
    proptest::sample::select(KINDS.to_vec())
}

/// Every defined frame type, found through the decoder so that types added later are
/// covered without editing this file.
fn frame_type() -> impl Strategy<Value = FrameType> {
    proptest::sample::select((0..=u8::MAX).filter_map(|b| FrameType::from_byte(b).ok()).collect::<Vec<_>>())
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Hsm), Just(Role::Ped)]
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

/// A real, valid P-521 public key.
fn real_key() -> impl Strategy<Value = EcdhPublicKey> {
    (0..SPARE_KEYS).prop_map(|i| fixture().spare_keys[i])
}

/// `len` bytes of a pattern. The decoders never look inside certificates or bodies,
/// so a pattern serves as well as random bytes and avoids generating (and shrinking)
/// kilobytes element by element.
fn blob(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add(i as u8).wrapping_mul(31)).collect()
}

/// Blob lengths that favour the edges of a `1..=max` field.
fn blob_len(max: usize) -> impl Strategy<Value = usize> {
    prop_oneof![4 => 1..=64usize, 1 => Just(max), 1 => 1..=max]
}

/// Eight header bytes, each field biased towards its valid values so that the later
/// checks are reached as often as the earlier ones fail.
fn header_bytes() -> impl Strategy<Value = [u8; HEADER_LEN]> {
    let magic = prop_oneof![3 => Just(MAGIC), 1 => any::<[u8; 2]>()];
    let format = prop_oneof![3 => Just(FORMAT_VERSION), 1 => any::<u8>()];
    let type_byte = prop_oneof![3 => frame_type().prop_map(FrameType::to_byte), 1 => any::<u8>()];
    let max = MAX_BODY_LEN as u32;
    let len = prop_oneof![3 => 0..=64u32, 1 => 0..=max, 1 => max - 2..=max + 2, 1 => any::<u32>()];
    (magic, format, type_byte, len).prop_map(|(magic, format, type_byte, len)| {
        let mut out = [0u8; HEADER_LEN];
        out[..2].copy_from_slice(&magic);
        out[2] = format;
        out[3] = type_byte;
        out[4..].copy_from_slice(&len.to_be_bytes());
        out
    })
}

/// An edit of a byte string. Positions are drawn as [`Index`]es so they land inside
/// whatever length the string has by then.
#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: Index, mask: u8 },
    Truncate { keep: Index },
    Insert { at: Index, bytes: Vec<u8> },
    Remove { at: Index, count: usize },
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let one = prop_oneof![
        4 => (any::<Index>(), 1..=u8::MAX).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        1 => any::<Index>().prop_map(|keep| Mutation::Truncate { keep }),
        1 => (any::<Index>(), vec(any::<u8>(), 1..8)).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        1 => (any::<Index>(), 1..8usize).prop_map(|(at, count)| Mutation::Remove { at, count }),
    ];
    vec(one, 1..=3)
}

fn mutate(original: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = original.to_vec();
    for m in mutations {
        match m {
            Mutation::Flip { at, mask } if !out.is_empty() => {
                let i = at.index(out.len());
                out[i] ^= mask;
            }
            Mutation::Truncate { keep } => out.truncate(keep.index(out.len() + 1)),
            Mutation::Insert { at, bytes } => {
                let i = at.index(out.len() + 1);
                out.splice(i..i, bytes.iter().copied());
            }
            Mutation::Remove { at, count } if !out.is_empty() => {
                let i = at.index(out.len());
                out.drain(i..(i + count).min(out.len()));
            }
            Mutation::Flip { .. } | Mutation::Remove { .. } => {}
        }
    }
    out
}

fn keyset_id() -> impl Strategy<Value = KeysetId> {
    any::<[u8; 16]>().prop_map(KeysetId::from_bytes)
}

/// A valid hello of any kind: versions, identifier, orange keysets (C(2e,2s): 1 to 4)
/// and chain anywhere in their ranges.
fn valid_hello() -> impl Strategy<Value = HsmHello> {
    let certs = vec((blob_len(MAX_CERT_LEN), any::<u8>()).prop_map(|(len, seed)| blob(len, seed)), 1..=MAX_CERTS);
    (
        kind(),
        vec(any::<u16>(), 1..=MAX_VERSIONS),
        vec(0x20u8..0x7f, 1..=MAX_ID_LEN),
        any::<[u8; NONCE_LEN]>(),
        real_key(),
        vec(keyset_id(), 1..=MAX_ORANGE_KEYSETS),
        certs,
    )
        .prop_map(|(kind, versions, hsm_id, nonce, key, keysets, chain)| {
            let (ephemeral, orange_keysets) = if kind.is_full_unified() {
                (HsmEphemeral::Key(key), keysets)
            } else {
                (HsmEphemeral::Nonce(nonce), Vec::new())
            };
            HsmHello { kind, versions, hsm_id, ephemeral, orange_keysets, chain }
        })
}

/// A valid key share for `kind`.
fn valid_share(kind: ChannelKind) -> impl Strategy<Value = PedKeyShare> {
    (any::<u16>(), vec(0x20u8..0x7f, 1..=MAX_ID_LEN), real_key(), keyset_id(), any::<[u8; TAG_LEN]>()).prop_map(
        move |(version, ped_id, ephemeral, keyset, tag)| PedKeyShare {
            version,
            ped_id,
            ephemeral,
            orange_keyset: kind.is_full_unified().then_some(keyset),
            tag: kind.ped_confirms().then_some(tag),
        },
    )
}

/// A valid key share of any kind, with its kind.
fn any_valid_share() -> impl Strategy<Value = (ChannelKind, PedKeyShare)> {
    kind().prop_flat_map(|kind| (Just(kind), valid_share(kind)))
}

// ---------------------------------------------------------------------------------------
// Frames.
// ---------------------------------------------------------------------------------------

/// What [`FrameHeader::decode`] must answer, checked in the documented order.
fn header_oracle(b: &[u8; HEADER_LEN]) -> Result<(FrameType, usize), DecodeError> {
    if b[..2] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    if b[2] != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedFrameVersion(b[2]));
    }
    let frame_type = FrameType::from_byte(b[3])?;
    let len = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
    if len > MAX_BODY_LEN {
        return Err(DecodeError::TooLong { field: "frame body", max: MAX_BODY_LEN });
    }
    Ok((frame_type, len))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CHEAP_CASES, ..ProptestConfig::default() })]

    /// Any eight bytes decode exactly as the spec's header checks say, and an accepted
    /// header re-encodes to the same bytes.
    #[test]
    fn frame_header_decode_is_total_and_exact(bytes in header_bytes()) {
        let decoded = FrameHeader::decode(&bytes);
        let expected = header_oracle(&bytes);
        prop_assert_eq!(decoded.map(|h| (h.frame_type, h.body_len)), expected);
        if let Ok(header) = decoded {
            prop_assert_eq!(header.encode(), bytes);
        }
    }

    /// `Frame::parse` on any buffer: needs more bytes exactly when the header or the
    /// body is incomplete, refuses exactly the bad headers, and otherwise returns the
    /// frame that re-encodes to the bytes it consumed. `decode_exact` agrees.
    #[test]
    fn frame_parse_is_total_and_exact(
        header in header_bytes(),
        tail in bytes(200),
        cut in proptest::option::of(any::<Index>()),
    ) {
        let mut buf = header.to_vec();
        buf.extend_from_slice(&tail);
        // Half the buffers are cut anywhere, header included.
        if let Some(cut) = cut {
            buf.truncate(cut.index(buf.len() + 1));
        }
        let parsed = Frame::parse(&buf);
        match buf.first_chunk::<HEADER_LEN>().map(header_oracle) {
            None => prop_assert_eq!(parsed, Ok(None)),
            Some(Err(e)) => prop_assert_eq!(parsed, Err(e)),
            Some(Ok((_, len))) if buf.len() < HEADER_LEN + len => prop_assert_eq!(parsed, Ok(None)),
            Some(Ok((frame_type, len))) => {
                let (frame, used) = parsed.unwrap().unwrap();
                prop_assert_eq!(used, HEADER_LEN + len);
                prop_assert_eq!(frame.frame_type, frame_type);
                prop_assert_eq!(frame::encode(frame.frame_type, frame.body), &buf[..used]);
            }
        }
        let exact = Frame::decode_exact(&buf);
        match Frame::parse(&buf) {
            Ok(Some((frame, used))) if used == buf.len() => prop_assert_eq!(exact, Ok(frame)),
            Ok(Some(_)) => prop_assert_eq!(exact, Err(DecodeError::TrailingBytes)),
            Ok(None) => prop_assert_eq!(exact, Err(DecodeError::Truncated("frame"))),
            Err(e) => prop_assert_eq!(exact, Err(e)),
        }
    }

    /// Unbiased bytes, for inputs no strategy above thought of.
    #[test]
    fn frame_decoders_never_panic_on_arbitrary_bytes(buf in bytes(64)) {
        let _ = Frame::parse(&buf);
        let _ = Frame::decode_exact(&buf);
        if let Some(header) = buf.first_chunk::<HEADER_LEN>() {
            let _ = FrameHeader::decode(header);
        }
    }

    /// A valid frame round-trips; followed by more bytes it is parsed alone; and every
    /// proper prefix of it needs more bytes.
    #[test]
    fn valid_frames_round_trip_and_every_truncation_needs_more(
        frame_type in frame_type(),
        len in prop_oneof![8 => 0..=300usize, 1 => Just(MAX_BODY_LEN)],
        seed in any::<u8>(),
        trailing in bytes(16),
    ) {
        let body = blob(len, seed);
        let encoded = frame::encode(frame_type, &body);
        prop_assert_eq!(encoded.len(), HEADER_LEN + len);
        let frame = Frame::decode_exact(&encoded).unwrap();
        prop_assert_eq!((frame.frame_type, frame.body), (frame_type, &body[..]));
        prop_assert_eq!(&frame.header().encode()[..], &encoded[..HEADER_LEN]);

        let mut stream = encoded.clone();
        stream.extend_from_slice(&trailing);
        prop_assert_eq!(Frame::parse(&stream), Ok(Some((frame, encoded.len()))));
        if !trailing.is_empty() {
            prop_assert_eq!(Frame::decode_exact(&stream), Err(DecodeError::TrailingBytes));
        }

        // Every cut of a small frame; for the largest, the cuts around the header.
        let cuts: Vec<usize> = if len <= 300 { (0..encoded.len()).collect() } else { (0..=HEADER_LEN + 1).collect() };
        for cut in cuts {
            prop_assert_eq!(Frame::parse(&encoded[..cut]), Ok(None), "cut at {}", cut);
            prop_assert_eq!(Frame::decode_exact(&encoded[..cut]), Err(DecodeError::Truncated("frame")));
        }
    }

    /// A length above the maximum is refused from the eight header bytes alone, before
    /// any of the body exists.
    #[test]
    fn oversized_length_is_refused_from_the_header_alone(
        frame_type in frame_type(),
        len in (MAX_BODY_LEN as u32 + 1)..=u32::MAX,
        body in bytes(16),
    ) {
        let mut header = FrameHeader { frame_type, body_len: 0 }.encode();
        header[4..].copy_from_slice(&len.to_be_bytes());
        let too_long = DecodeError::TooLong { field: "frame body", max: MAX_BODY_LEN };
        prop_assert_eq!(FrameHeader::decode(&header), Err(too_long));
        prop_assert_eq!(Frame::parse(&header), Err(too_long));
        let mut buf = header.to_vec();
        buf.extend_from_slice(&body);
        prop_assert_eq!(Frame::parse(&buf), Err(too_long));
        prop_assert_eq!(Frame::decode_exact(&buf), Err(too_long));
    }
}

#[test]
fn body_length_limit_is_inclusive() {
    let largest = frame::encode(FrameType::Record, &vec![0u8; MAX_BODY_LEN]);
    assert_eq!(Frame::decode_exact(&largest).map(|f| f.body.len()), Ok(MAX_BODY_LEN));
    let mut header = largest[..HEADER_LEN].to_vec();
    header[4..].copy_from_slice(&(MAX_BODY_LEN as u32 + 1).to_be_bytes());
    assert_eq!(Frame::parse(&header), Err(DecodeError::TooLong { field: "frame body", max: MAX_BODY_LEN }));
}

// ---------------------------------------------------------------------------------------
// Handshake messages.
// ---------------------------------------------------------------------------------------

/// Decoding is canonical: whatever a decoder accepts re-encodes to exactly the bytes
/// it was given, so no two byte strings carry the same message.
fn assert_hello_canonical(body: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(hello) = HsmHello::decode(body) {
        prop_assert_eq!(hello.encode().unwrap(), body);
    }
    Ok(())
}

fn assert_share_canonical(body: &[u8], kind: ChannelKind) -> Result<(), TestCaseError> {
    if let Ok(share) = PedKeyShare::decode(body, kind) {
        prop_assert_eq!(share.encode(kind).unwrap(), body);
    }
    Ok(())
}

/// The decoders, before anything, read a kind byte or a version; arbitrary bytes with
/// a plausible first byte get further than uniform ones.
fn plausible_bytes() -> impl Strategy<Value = Vec<u8>> {
    (prop_oneof![1..=3u8, any::<u8>()], bytes(400)).prop_map(|(first, mut rest)| {
        rest.insert(0, first);
        rest
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CHEAP_CASES, ..ProptestConfig::default() })]

    #[test]
    fn hsm_hello_decode_is_total(body in plausible_bytes()) {
        assert_hello_canonical(&body)?;
    }

    /// Arbitrary bytes after a genuine kind-03 hello's ephemeral key (uniform bytes
    /// never get past the point validation to reach the orange keyset list).
    #[test]
    fn hsm_hello_orange_keyset_list_decode_is_total(
        count in prop_oneof![0..=MAX_ORANGE_KEYSETS as u8 + 1, any::<u8>()],
        tail in prop_oneof![bytes(120), (0..=6usize, any::<u8>()).prop_map(|(n, seed)| blob(16 * n + 5, seed))],
    ) {
        let genuine = body_of(&fixture().transcript(ChannelKind::RemoteRpv).hello);
        let at = 5 + SERIAL.len() + PUBLIC_KEY_LEN;
        let body = [&genuine[..at], &[count], &tail[..]].concat();
        let decoded = HsmHello::decode(&body);
        if let Ok(hello) = &decoded {
            prop_assert!((1..=MAX_ORANGE_KEYSETS).contains(&hello.orange_keysets.len()));
            prop_assert_eq!(hello.orange_keysets.len(), usize::from(count));
        }
        if !(1..=MAX_ORANGE_KEYSETS as u8).contains(&count) {
            prop_assert!(decoded.is_err());
        }
        assert_hello_canonical(&body)?;
    }

    /// A genuine kind-03 share with any keyset bytes and any tail.
    #[test]
    fn ped_key_share_orange_keyset_decode_is_total(tail in bytes(TAG_LEN + 40)) {
        let genuine = body_of(&fixture().transcript(ChannelKind::RemoteRpv).share);
        let at = 3 + PED_ID.len() + PUBLIC_KEY_LEN;
        let body = [&genuine[..at], &tail[..]].concat();
        let decoded = PedKeyShare::decode(&body, ChannelKind::RemoteRpv);
        prop_assert_eq!(decoded.is_ok(), tail.len() == 16 + TAG_LEN);
        assert_share_canonical(&body, ChannelKind::RemoteRpv)?;
    }

    #[test]
    fn ped_key_share_decode_is_total_for_every_kind(body in plausible_bytes()) {
        for kind in KINDS {
            assert_share_canonical(&body, kind)?;
        }
    }

    #[test]
    fn hsm_finished_decode_accepts_exactly_one_tag(body in bytes(2 * TAG_LEN)) {
        match HsmFinished::decode(&body) {
            Ok(finished) => prop_assert_eq!(finished.encode(), body),
            Err(_) => prop_assert_ne!(body.len(), TAG_LEN),
        }
    }

    #[test]
    fn hsm_hello_round_trips(hello in valid_hello()) {
        let body = hello.encode().unwrap();
        prop_assert_eq!(HsmHello::decode(&body), Ok(hello));
        // The largest hello (four 4 KiB certificates) still fits one frame.
        prop_assert!(body.len() <= MAX_BODY_LEN);
    }

    /// A share made for one kind decodes as that kind and as no other: the decoder
    /// cannot be confused about which fields are present.
    #[test]
    fn ped_key_share_round_trips_for_its_kind_only((kind, share) in any_valid_share()) {
        let body = share.encode(kind).unwrap();
        for other in KINDS {
            let decoded = PedKeyShare::decode(&body, other);
            if other == kind {
                prop_assert_eq!(decoded, Ok(share.clone()));
            } else {
                prop_assert!(decoded.is_err(), "{:?} share accepted as {:?}", kind, other);
            }
        }
    }

    #[test]
    fn hsm_finished_round_trips(tag in any::<[u8; TAG_LEN]>()) {
        let finished = HsmFinished { tag };
        prop_assert_eq!(HsmFinished::decode(&finished.encode()), Ok(finished));
    }

    #[test]
    fn mutated_hellos_never_panic_and_decode_canonically(
        generated in valid_hello(),
        genuine in kind(),
        use_genuine in any::<bool>(),
        edits in mutations(),
    ) {
        let body = if use_genuine {
            body_of(&fixture().transcript(genuine).hello).to_vec()
        } else {
            generated.encode().unwrap()
        };
        assert_hello_canonical(&mutate(&body, &edits))?;
    }

    #[test]
    fn mutated_key_shares_never_panic_and_decode_canonically(
        (kind, generated) in any_valid_share(),
        use_genuine in any::<bool>(),
        edits in mutations(),
    ) {
        let body = if use_genuine {
            body_of(&fixture().transcript(kind).share).to_vec()
        } else {
            generated.encode(kind).unwrap()
        };
        let mutated = mutate(&body, &edits);
        for kind in KINDS {
            assert_share_canonical(&mutated, kind)?;
        }
    }

    /// The encoders enforce the same limits as the decoders: a hello with a field out of
    /// range is never put on the wire.
    #[test]
    fn hello_encoder_refuses_exactly_what_the_decoder_would(
        kind in kind(),
        n_versions in 0..=MAX_VERSIONS + 1,
        id_len in 0..=MAX_ID_LEN + 1,
        cert_lens in vec(
            prop_oneof![Just(0), 1..=64usize, Just(MAX_CERT_LEN), Just(MAX_CERT_LEN + 1)],
            0..=MAX_CERTS + 1,
        ),
        key in real_key(),
        nonce_not_key in any::<bool>(),
        n_orange in 0..=MAX_ORANGE_KEYSETS + 1,
    ) {
        let ephemeral = if nonce_not_key { HsmEphemeral::Nonce([7; NONCE_LEN]) } else { HsmEphemeral::Key(key) };
        let hello = HsmHello {
            kind,
            versions: vec![1; n_versions],
            hsm_id: vec![b'7'; id_len],
            ephemeral,
            orange_keysets: (0..n_orange).map(|i| KeysetId::from_bytes([i as u8; 16])).collect(),
            chain: cert_lens.iter().map(|len| blob(*len, 3)).collect(),
        };
        let orange_in_range =
            if kind.is_full_unified() { (1..=MAX_ORANGE_KEYSETS).contains(&n_orange) } else { n_orange == 0 };
        let in_range = (1..=MAX_VERSIONS).contains(&n_versions)
            && (1..=MAX_ID_LEN).contains(&id_len)
            && (1..=MAX_CERTS).contains(&cert_lens.len())
            && cert_lens.iter().all(|len| (1..=MAX_CERT_LEN).contains(len))
            && nonce_not_key != kind.is_full_unified()
            && orange_in_range;
        match hello.encode() {
            Ok(body) => {
                prop_assert!(in_range);
                prop_assert_eq!(HsmHello::decode(&body), Ok(hello));
            }
            Err(_) => prop_assert!(!in_range),
        }
    }
}

/// Protocol version 2's C(2e,2s) hello, byte for byte: `03 ‖ u8 nv ‖ nv × u16 ‖ len8 IDV
/// ‖ EphemPubV[133] ‖ u8 r ‖ r × keyset id[16] ‖ u8 nc ‖ nc × len16 cert`.
#[test]
fn a_kind_03_hello_lists_its_orange_keysets_after_the_ephemeral_key() {
    let key = fixture().spare_keys[0];
    let ids: Vec<KeysetId> = (1..=4u8).map(|i| KeysetId::from_bytes([i * 0x11; 16])).collect();
    for r in 1..=MAX_ORANGE_KEYSETS {
        let hello = HsmHello {
            kind: ChannelKind::RemoteRpv,
            versions: vec![PROTOCOL_VERSION_2],
            hsm_id: SERIAL.as_bytes().to_vec(),
            ephemeral: HsmEphemeral::Key(key),
            orange_keysets: ids[..r].to_vec(),
            chain: vec![vec![0x30, 0x00]],
        };
        let body = hello.encode().unwrap();
        let mut expected = vec![0x03, 0x01, 0x00, 0x02, SERIAL.len() as u8];
        expected.extend_from_slice(SERIAL.as_bytes());
        expected.extend_from_slice(&key.to_uncompressed());
        expected.push(r as u8);
        for id in &ids[..r] {
            expected.extend_from_slice(id.as_bytes());
        }
        expected.extend_from_slice(&[0x01, 0x00, 0x02, 0x30, 0x00]);
        assert_eq!(body, expected, "{r} keysets");
        assert_eq!(HsmHello::decode(&body), Ok(hello));
    }

    // 0 or 5 keysets: neither encoded nor decoded.
    let at = 5 + SERIAL.len() + PUBLIC_KEY_LEN;
    for (r, error) in [
        (0, DecodeError::InvalidValue("orange keysets")),
        (5, DecodeError::TooLong { field: "orange keysets", max: MAX_ORANGE_KEYSETS }),
    ] {
        let hello = HsmHello {
            kind: ChannelKind::RemoteRpv,
            versions: vec![PROTOCOL_VERSION_2],
            hsm_id: SERIAL.as_bytes().to_vec(),
            ephemeral: HsmEphemeral::Key(key),
            orange_keysets: (0..r).map(|i| KeysetId::from_bytes([i; 16])).collect(),
            chain: vec![vec![0x30, 0x00]],
        };
        assert_eq!(hello.encode(), Err(Error::Decode(error)), "{r} keysets");
        let mut body = HsmHello { orange_keysets: vec![KeysetId::from_bytes([9; 16])], ..hello }.encode().unwrap();
        // Rewrite the count and the list in place of the one keyset.
        body.splice(at..at + 17, [vec![r], vec![0xab; 16 * usize::from(r)]].concat());
        assert_eq!(HsmHello::decode(&body), Err(Error::Decode(error)), "{r} keysets");
    }

    // The C(1e,1s) kinds carry no list, and cannot be made to.
    for kind in [ChannelKind::Local, ChannelKind::RemotePassword] {
        let hello = HsmHello {
            kind,
            versions: vec![PROTOCOL_VERSION_2],
            hsm_id: SERIAL.as_bytes().to_vec(),
            ephemeral: HsmEphemeral::Nonce([7; NONCE_LEN]),
            orange_keysets: vec![ids[0]],
            chain: vec![vec![0x30, 0x00]],
        };
        assert!(hello.encode().is_err(), "{kind:?} with an orange keyset");
        let plain = HsmHello { orange_keysets: Vec::new(), ..hello };
        let body = plain.encode().unwrap();
        assert_eq!(body.len(), 5 + SERIAL.len() + NONCE_LEN + 5);
        assert_eq!(HsmHello::decode(&body).unwrap().orange_keysets, Vec::<KeysetId>::new());
    }

    // The genuine hello of the fixture lists the HSM's one orange keyset.
    let genuine = HsmHello::decode(body_of(&fixture().transcript(ChannelKind::RemoteRpv).hello)).unwrap();
    assert_eq!(genuine.orange_keysets, vec![fixture().parties.rpks[0].keyset_id]);
    assert_eq!(genuine.versions, SUPPORTED_VERSIONS);
}

/// Protocol version 2's C(2e,2s) key share, byte for byte: `u16 version ‖ len8 IDU ‖
/// EphemPubU[133] ‖ orange keyset id[16] ‖ tag[64]`.
#[test]
fn a_kind_03_key_share_names_its_orange_keyset() {
    let key = fixture().spare_keys[1];
    let id = KeysetId::from_bytes(*b"orange keyset 01");
    let share = PedKeyShare {
        version: PROTOCOL_VERSION_2,
        ped_id: PED_ID.to_vec(),
        ephemeral: key,
        orange_keyset: Some(id),
        tag: Some([0x7e; TAG_LEN]),
    };
    let body = share.encode(ChannelKind::RemoteRpv).unwrap();
    let mut expected = vec![0x00, 0x02, PED_ID.len() as u8];
    expected.extend_from_slice(PED_ID);
    expected.extend_from_slice(&key.to_uncompressed());
    expected.extend_from_slice(b"orange keyset 01");
    expected.extend_from_slice(&[0x7e; TAG_LEN]);
    assert_eq!(body, expected);
    assert_eq!(PedKeyShare::decode(&body, ChannelKind::RemoteRpv), Ok(share.clone()));
    // The same body is no share of the other kinds, and no cut of it is one of its own.
    for kind in [ChannelKind::Local, ChannelKind::RemotePassword] {
        assert!(PedKeyShare::decode(&body, kind).is_err(), "{kind:?}");
    }
    for cut in 0..body.len() {
        assert!(PedKeyShare::decode(&body[..cut], ChannelKind::RemoteRpv).is_err(), "cut at {cut}");
    }
    // The keyset is required for kind 03 and forbidden for the others.
    let without = PedKeyShare { orange_keyset: None, ..share.clone() };
    assert!(without.encode(ChannelKind::RemoteRpv).is_err());
    assert!(share.encode(ChannelKind::RemotePassword).is_err());
    // The genuine share of the fixture names the PED's orange keyset.
    let genuine =
        PedKeyShare::decode(body_of(&fixture().transcript(ChannelKind::RemoteRpv).share), ChannelKind::RemoteRpv);
    assert_eq!(genuine.unwrap().orange_keyset, Some(fixture().parties.rpk.keyset_id));
}

// ---------------------------------------------------------------------------------------
// Public keys, key wrapping, signatures.
// ---------------------------------------------------------------------------------------

/// The field prime of P-521, 2^521 - 1, in the 66-byte big-endian form of a coordinate.
fn p521_prime() -> [u8; FIELD_LEN] {
    let mut p = [0xff; FIELD_LEN];
    p[0] = 0x01;
    p
}

/// `a + b` for 66-byte big-endian numbers whose sum fits (a coordinate plus p does).
fn add_be(a: &[u8], b: &[u8; FIELD_LEN]) -> [u8; FIELD_LEN] {
    let mut out = [0u8; FIELD_LEN];
    let mut carry = 0u16;
    for i in (0..FIELD_LEN).rev() {
        let sum = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "a coordinate plus p fits in 528 bits");
    out
}

fn compressed(key: &EcdhPublicKey) -> Vec<u8> {
    let point = key.to_uncompressed();
    let mut out = vec![0x02 | (point[PUBLIC_KEY_LEN - 1] & 1)];
    out.extend_from_slice(&point[1..=FIELD_LEN]);
    out
}

/// A key of each length AES accepts.
fn aes_key() -> impl Strategy<Value = Vec<u8>> {
    proptest::sample::select(vec![16usize, 24, 32]).prop_flat_map(|n| vec(any::<u8>(), n))
}

/// Arbitrary point encodings: every SEC1 prefix, the lengths of every form.
fn point_bytes() -> impl Strategy<Value = Vec<u8>> {
    let prefix = prop_oneof![Just(0x00u8), Just(0x02), Just(0x03), Just(0x04), any::<u8>()];
    let len = prop_oneof![Just(0usize), Just(FIELD_LEN), Just(PUBLIC_KEY_LEN - 1), 0..=PUBLIC_KEY_LEN + 4];
    (prefix, len, any::<u8>()).prop_map(|(prefix, len, seed)| {
        let mut out = blob(len, seed);
        out.insert(0, prefix);
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CHEAP_CASES, ..ProptestConfig::default() })]

    #[test]
    fn public_key_decoders_are_total_and_canonical(bytes in prop_oneof![point_bytes(), bytes(140)]) {
        let uncompressed = EcdhPublicKey::from_uncompressed(&bytes);
        let sec1 = EcdhPublicKey::from_sec1(&bytes);
        if let Ok(key) = uncompressed {
            prop_assert_eq!(&key.to_uncompressed()[..], &bytes[..]);
            prop_assert_eq!(sec1, Ok(key));
        }
        if let (Ok(key), Some(0x04)) = (sec1, bytes.first()) {
            prop_assert_eq!(&key.to_uncompressed()[..], &bytes[..]);
        }
    }

    /// A real key decodes from both SEC1 forms; the wire decoder takes only the
    /// uncompressed one; any altered bit, or a coordinate not reduced modulo p, is
    /// refused (SP 800-56A §5.6.2.3.3 full validation).
    #[test]
    fn real_public_keys_round_trip_and_alterations_are_refused(
        key in real_key(),
        at in any::<Index>(),
        mask in 1..=u8::MAX,
    ) {
        let point = key.to_uncompressed();
        prop_assert_eq!(EcdhPublicKey::from_uncompressed(&point), Ok(key));
        prop_assert_eq!(EcdhPublicKey::from_sec1(&point), Ok(key));
        let short = compressed(&key);
        prop_assert_eq!(EcdhPublicKey::from_sec1(&short), Ok(key));
        prop_assert_eq!(EcdhPublicKey::from_uncompressed(&short), Err(Error::InvalidPublicKey));

        let mut altered = point;
        altered[at.index(PUBLIC_KEY_LEN)] ^= mask;
        prop_assert_eq!(EcdhPublicKey::from_uncompressed(&altered), Err(Error::InvalidPublicKey));

        let p = p521_prime();
        let (x, y) = point[1..].split_at(FIELD_LEN);
        let x_plus_p = [&[0x04u8][..], &add_be(x, &p), y].concat();
        let y_plus_p = [&[0x04u8][..], x, &add_be(y, &p)].concat();
        for unreduced in [x_plus_p, y_plus_p] {
            prop_assert_eq!(EcdhPublicKey::from_uncompressed(&unreduced), Err(Error::InvalidPublicKey));
            prop_assert_eq!(EcdhPublicKey::from_sec1(&unreduced), Err(Error::InvalidPublicKey));
        }
    }

    /// Unwrapping is total: the length checks come first, then the key length, then
    /// the integrity check. Anything it accepts is a genuine wrapping of its output.
    #[test]
    fn kwp_unwrap_is_total(
        key in prop_oneof![vec(any::<u8>(), 0..=40), aes_key()],
        wrapped in prop_oneof![bytes(200), (2..=40usize).prop_flat_map(|blocks| vec(any::<u8>(), blocks * 8))],
    ) {
        let length_ok = wrapped.len() >= 16 && wrapped.len() % 8 == 0;
        match kwp::unwrap(&key, &wrapped) {
            Ok(plain) => prop_assert_eq!(kwp::wrap(&key, &plain), Ok(wrapped.clone())),
            Err(Error::CspUnwrapFailed) => {}
            Err(Error::KeyLengthInvalid) => prop_assert!(length_ok && ![16, 24, 32].contains(&key.len())),
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
        if !length_ok {
            prop_assert_eq!(kwp::unwrap(&key, &wrapped), Err(Error::CspUnwrapFailed));
        }
    }

    /// Wrap then unwrap is the identity; the wrapping has the documented length; any
    /// alteration of it, or another key, fails the integrity check.
    #[test]
    fn kwp_round_trips_and_alterations_are_refused(
        key in aes_key(),
        plain in vec(any::<u8>(), 1..=300),
        edits in mutations(),
        key_bit in any::<Index>(),
    ) {
        let wrapped = kwp::wrap(&key, &plain).unwrap();
        prop_assert_eq!(wrapped.len(), kwp::wrapped_len(plain.len()));
        prop_assert_eq!(&kwp::unwrap(&key, &wrapped).unwrap()[..], &plain[..]);

        let altered = mutate(&wrapped, &edits);
        if altered != wrapped {
            prop_assert_eq!(kwp::unwrap(&key, &altered), Err(Error::CspUnwrapFailed));
        }
        let mut other_key = key.clone();
        other_key[key_bit.index(key.len())] ^= 1;
        prop_assert_eq!(kwp::unwrap(&other_key, &wrapped), Err(Error::CspUnwrapFailed));
    }

    /// The signature check of the chain verifier takes any key, message and signature
    /// bytes and answers false for all of them but a genuine signature.
    #[test]
    fn ecdsa_verify_is_total(
        key in prop_oneof![point_bytes(), real_key().prop_map(|k| k.to_uncompressed().to_vec())],
        msg in bytes(64),
        sig in bytes(160),
    ) {
        prop_assert!(!cert::verify_ecdsa_p521_sha512(&key, &msg, &sig));
        prop_assert!(!cert::verify_ecdsa_p521_sha512_p1363(&key, &msg, &sig));
    }
}

#[test]
fn kwp_refuses_out_of_range_lengths_before_allocating() {
    let key = [0x42; 32];
    assert_eq!(kwp::wrap(&key, &[]), Err(Error::KeyLengthInvalid));
    assert_eq!(kwp::wrap(&key, &vec![0; kwp::MAX_WRAP_INPUT + 1]), Err(Error::KeyLengthInvalid));
    let oversized = vec![0u8; kwp::wrapped_len(kwp::MAX_WRAP_INPUT) + 8];
    assert_eq!(kwp::unwrap(&key, &oversized), Err(Error::CspUnwrapFailed));
}

#[test]
fn identity_and_empty_points_are_refused() {
    for bytes in [&[][..], &[0x00], &[0x04], &[0x02], &[0x03]] {
        assert_eq!(EcdhPublicKey::from_sec1(bytes), Err(Error::InvalidPublicKey), "{bytes:02x?}");
        assert_eq!(EcdhPublicKey::from_uncompressed(bytes), Err(Error::InvalidPublicKey), "{bytes:02x?}");
    }
}

// ---------------------------------------------------------------------------------------
// PED key payloads (format 2) and the PED command set.
// ---------------------------------------------------------------------------------------

/// Bytes that look like a PED key: the magic most of the time, a format byte that is
/// often 1, 2 or 3, a colour often valid, then anything.
fn plausible_payload() -> impl Strategy<Value = Vec<u8>> {
    let magic = prop_oneof![4 => Just(pedkey::MAGIC.to_vec()), 1 => bytes(4)];
    let format = prop_oneof![2 => Just(pedkey::FORMAT), 1 => Just(1u8), 1 => Just(3u8), 1 => any::<u8>()];
    let colour = prop_oneof![3 => 1..=5u8, 1 => any::<u8>()];
    let flags = prop_oneof![3 => 0..=1u8, 1 => any::<u8>()];
    (magic, format, colour, flags, bytes(pedkey::MAX_PAYLOAD_LEN + 8))
        .prop_map(|(magic, format, colour, flags, rest)| [magic, vec![format, colour, flags], rest].concat())
}

/// A valid format-2 payload of any colour and shape.
fn valid_payload() -> impl Strategy<Value = PedKeyPayload> {
    (
        proptest::sample::select(KeyColour::ALL.to_vec()),
        keyset_id(),
        (1u8..=16).prop_flat_map(|n| (1..=n, Just(n), 1..=n)),
        any::<bool>(),
        any::<[u8; 16]>(),
        vec(any::<u8>(), 1..=pedkey::MAX_SPLIT_LEN),
    )
        .prop_map(|(colour, id, (m, n, index), pin_protected, salt, masked)| PedKeyPayload {
            colour,
            split: ped_proto::quorum::SplitInfo::new(id, index, ped_proto::quorum::Quorum::new(m, n).unwrap()).unwrap(),
            pin_protected,
            salt: ped_proto::pin::PinSalt::from_bytes(salt),
            masked_split: zeroize::Zeroizing::new(masked),
        })
}

/// What the payload header check must answer, whatever the length (the header is read
/// before the length is checked, so an old key is named as such).
fn payload_header_oracle(b: &[u8]) -> Option<DecodeError> {
    match b {
        [m0, m1, m2, m3, ..] if [*m0, *m1, *m2, *m3] != pedkey::MAGIC => Some(DecodeError::BadMagic),
        [_, _, _, _, 1, ..] => Some(DecodeError::OldKeyFormat(1)),
        [_, _, _, _, format, ..] if *format != pedkey::FORMAT => Some(DecodeError::UnsupportedFrameVersion(*format)),
        _ => None,
    }
}

fn assert_payload_canonical(bytes: &[u8]) -> Result<(), TestCaseError> {
    let decoded = PedKeyPayload::decode(bytes);
    if let Ok(payload) = &decoded {
        prop_assert_eq!(&payload.encode().unwrap()[..], bytes);
        prop_assert_eq!(pedkey::identify(bytes), Ok(payload.colour));
    }
    if let Some(expected) = payload_header_oracle(bytes) {
        prop_assert_eq!(decoded.unwrap_err(), Error::Decode(expected));
        prop_assert_eq!(pedkey::identify(bytes), Err(Error::Decode(expected)));
    }
    Ok(())
}

/// Bytes that look like a PED command or reply: a defined opcode most of the time.
fn plausible_command_bytes() -> impl Strategy<Value = Vec<u8>> {
    let opcode = prop_oneof![2 => 0x01..=0x05u8, 2 => 0x41..=0x4fu8, 1 => Just(0x47u8), 1 => any::<u8>()];
    (opcode, bytes(300)).prop_map(|(op, mut rest)| {
        rest.insert(0, op);
        rest
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CHEAP_CASES, ..ProptestConfig::default() })]

    /// Any bytes: a payload, or the typed error the header rules name (an old format
    /// is OldKeyFormat, a newer one UnsupportedFrameVersion), never a panic; whatever
    /// is accepted re-encodes to the same bytes.
    #[test]
    fn ped_key_payload_decode_is_total_and_canonical(bytes in prop_oneof![plausible_payload(), bytes(80)]) {
        assert_payload_canonical(&bytes)?;
    }

    #[test]
    fn ped_key_payloads_round_trip_and_survive_mutation(payload in valid_payload(), edits in mutations()) {
        let bytes = payload.encode().unwrap();
        prop_assert_eq!(bytes.len(), 44 + payload.masked_split.len());
        let back = PedKeyPayload::decode(&bytes).unwrap();
        prop_assert_eq!((back.colour, back.split, back.pin_protected), (payload.colour, payload.split, payload.pin_protected));
        prop_assert_eq!(back.salt, payload.salt);
        prop_assert_eq!(&back.masked_split[..], &payload.masked_split[..]);
        assert_payload_canonical(&mutate(&bytes, &edits))?;
    }

    /// The PED's replies and the HSM's commands: total on any bytes, canonical when
    /// accepted; the version-1 ReusedRpv reply (0x47) never decodes.
    #[test]
    fn ped_replies_and_commands_decode_totally_and_canonically(bytes in plausible_command_bytes()) {
        if let Ok(reply) = PedReply::decode(&bytes) {
            prop_assert_eq!(reply.encode().unwrap(), bytes.clone());
        }
        if let Ok(command) = HsmCommand::decode(&bytes) {
            prop_assert_eq!(command.encode().unwrap(), bytes.clone());
        }
        if bytes[0] == 0x47 {
            prop_assert!(PedReply::decode(&bytes).is_err());
        }
    }

    /// Every failure byte round-trips or is refused; 0x08 is OldKeyFormat.
    #[test]
    fn ped_failure_bytes(b in any::<u8>()) {
        match PedReply::decode(&[0x4f, b]) {
            Ok(reply) => {
                prop_assert!((1..=8).contains(&b));
                prop_assert_eq!(reply.encode().unwrap(), vec![0x4f, b]);
                if b == 0x08 {
                    prop_assert_eq!(reply, PedReply::Failed(PedFailure::OldKeyFormat));
                }
            }
            Err(_) => prop_assert!(!(1..=8).contains(&b)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Certificate chains.
// ---------------------------------------------------------------------------------------

/// The real certificates in one list, so that a strategy can arrange them by index:
/// `[HSM static, HOC, MIC, root, RPK]`.
fn real_certs() -> [&'static [u8]; 5] {
    let p = &fixture().parties;
    [&p.identity.chain[0], &p.identity.chain[1], &p.identity.chain[2], &p.root, &p.rpk_cert]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CHEAP_CASES, ..ProptestConfig::default() })]

    /// Arbitrary DER never panics and never verifies, as the chain or as the root.
    #[test]
    fn arbitrary_der_never_verifies(chain in vec(bytes(600), 0..=cert::MAX_CHAIN_LEN + 1), root in bytes(600)) {
        let chain: Vec<&[u8]> = chain.iter().map(Vec::as_slice).collect();
        prop_assert!(cert::verify_hsm_chain(&chain, &fixture().parties.root, NOW).is_err());
        prop_assert!(cert::verify_hsm_chain(&real_certs()[..3], &root, NOW).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CRYPTO_CASES, ..ProptestConfig::default() })]

    /// Any alteration of any certificate, the trusted root included, is refused.
    #[test]
    fn mutated_chains_never_verify(which in 0..4usize, edits in mutations()) {
        let certs = real_certs();
        let mutated = mutate(certs[which], &edits);
        prop_assume!(mutated != certs[which]);
        let mut chain: Vec<&[u8]> = certs[..3].to_vec();
        let mut root = certs[3];
        if which == 3 { root = &mutated } else { chain[which] = &mutated }
        prop_assert!(cert::verify_hsm_chain(&chain, root, NOW).is_err());
    }

    /// Real certificates in any order and number: only the two true chains verify, and
    /// each certifies its own leaf's key, in its own role only.
    #[test]
    fn only_true_arrangements_of_real_certificates_verify(picks in vec(0..5usize, 0..=cert::MAX_CHAIN_LEN + 1)) {
        let certs = real_certs();
        let chain: Vec<&[u8]> = picks.iter().map(|i| certs[*i]).collect();
        let p = &fixture().parties;
        let as_hsm = cert::verify_chain(&chain, &p.root, NOW, LeafRole::HsmStatic);
        let as_rpk = cert::verify_chain(&chain, &p.root, NOW, LeafRole::RpkStatic);
        match picks.as_slice() {
            [0, 1, 2] => {
                prop_assert_eq!(as_hsm.map(|v| *v.leaf_key()), Ok(*p.identity.static_key.public()));
                prop_assert_eq!(as_rpk, Err(CertificateError::KeyUsage), "the HSM's leaf is no RPK");
            }
            [4, 1, 2] => {
                prop_assert_eq!(as_rpk.map(|v| *v.leaf_key()), Ok(p.rpks[0].public_key));
                prop_assert_eq!(as_hsm, Err(CertificateError::KeyUsage), "an RPK never passes for the HSM");
            }
            [] => prop_assert_eq!(as_hsm, Err(CertificateError::ChainLength)),
            _ => prop_assert!(as_hsm.is_err() && as_rpk.is_err(), "{:?} verified", picks),
        }
    }
}

/// The two true chains, which random arrangements above reach only by chance.
#[test]
fn the_two_true_chains_verify_each_in_its_own_role() {
    let certs = real_certs();
    let p = &fixture().parties;
    let hsm_chain = [certs[0], certs[1], certs[2]];
    let rpk_chain = [certs[4], certs[1], certs[2]];
    let hsm = cert::verify_chain(&hsm_chain, &p.root, NOW, LeafRole::HsmStatic).unwrap();
    assert_eq!(hsm.leaf_key(), p.identity.static_key.public());
    let rpk = cert::verify_chain(&rpk_chain, &p.root, NOW, LeafRole::RpkStatic).unwrap();
    assert_eq!(*rpk.leaf_key(), p.rpks[0].public_key);
    assert_eq!(cert::verify_hsm_chain(&rpk_chain, &p.root, NOW), Err(CertificateError::KeyUsage));
    assert!(cert::verify_chain(&hsm_chain, &p.root, NOW, LeafRole::RpkStatic).is_err());
}

// ---------------------------------------------------------------------------------------
// The state machines on altered messages, and the record layer.
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: CRYPTO_CASES, ..ProptestConfig::default() })]

    /// No altered key share yields a channel. In the remote kinds the PED's tag makes
    /// the HSM refuse it. Local confirmation is unilateral (V to U): the HSM cannot tell
    /// an altered share (another PED identifier, another valid key) from a genuine one
    /// and answers it, and the PED that sent the genuine share refuses that answer.
    #[test]
    fn no_altered_key_share_yields_a_channel(kind in kind(), edits in mutations()) {
        let fx = fixture();
        let t = fx.transcript(kind);
        let genuine = body_of(&t.share);
        let mutated = mutate(genuine, &edits);
        prop_assume!(mutated != genuine && mutated.len() <= MAX_BODY_LEN);
        let (state, _) = fx.parties.hsm_start(kind);
        let share = Frame { frame_type: FrameType::PedKeyShare, body: &mutated };
        if let Ok((_, finished)) = fx.parties.hsm_receive(state, share) {
            prop_assert_eq!(kind, ChannelKind::Local, "the HSM accepted an altered remote share");
            let (ped, _) = with_cache(|cache| fx.parties.ped_respond(frame_of(&t.hello), cache)).unwrap();
            prop_assert!(ped.receive_finished(frame_of(&finished)).is_err());
        }
    }

    /// The local HSM answers a share from another PED identifier (the case above finds
    /// it by chance only); the genuine PED refuses the answer.
    #[test]
    fn local_hsm_answers_an_altered_identifier_but_the_ped_refuses(at in 0..PED_ID.len(), other in 0x20u8..0x7f) {
        let fx = fixture();
        let t = fx.transcript(ChannelKind::Local);
        let mut share = body_of(&t.share).to_vec();
        prop_assume!(share[3 + at] != other);
        // Identifiers are printable ASCII; any other byte is refused by the decoder.
        share[3 + at] = other;
        let (state, _) = fx.parties.hsm_start(ChannelKind::Local);
        let (_, finished) =
            fx.parties.hsm_receive(state, Frame { frame_type: FrameType::PedKeyShare, body: &share }).unwrap();
        let (ped, _) = with_cache(|cache| fx.parties.ped_respond(frame_of(&t.hello), cache)).unwrap();
        prop_assert_eq!(ped.receive_finished(frame_of(&finished)).unwrap_err(), Error::KeyConfirmationFailed);
    }

    /// The PED refuses every altered HsmFinished of every kind.
    #[test]
    fn ped_refuses_every_altered_finished(kind in kind(), edits in mutations()) {
        let fx = fixture();
        let t = fx.transcript(kind);
        let genuine = body_of(&t.finished);
        let mutated = mutate(genuine, &edits);
        prop_assume!(mutated != genuine);
        let (ped, _) = with_cache(|cache| fx.parties.ped_respond(frame_of(&t.hello), cache)).unwrap();
        let finished = Frame { frame_type: FrameType::HsmFinished, body: &mutated };
        prop_assert!(ped.receive_finished(finished).is_err());
    }

    /// The PED may accept an altered hello whose certificates are intact (a changed
    /// nonce, an extra version offered), but it never accepts altered certificates,
    /// and the hello hash in the key derivation makes the handshake fail all the same:
    /// no altered hello ever yields a channel.
    #[test]
    fn no_altered_hello_yields_a_channel(kind in kind(), edits in mutations(), head_only in any::<bool>()) {
        let fx = fixture();
        let t = fx.transcript(kind);
        let genuine = body_of(&t.hello);
        // Uniform edits nearly always land in the certificates, which the chain check
        // catches; half the cases edit only the fields before them, which it cannot.
        let mutated = if head_only {
            let (head, chain) = genuine.split_at(hello_head_len(genuine));
            [mutate(head, &edits), chain.to_vec()].concat()
        } else {
            mutate(genuine, &edits)
        };
        prop_assume!(mutated != genuine && mutated.len() <= MAX_BODY_LEN);
        let hello = Frame { frame_type: FrameType::HsmHello, body: &mutated };
        let Ok((ped, share)) = with_cache(|cache| fx.parties.ped_respond(hello, cache)) else {
            return Ok(());
        };
        prop_assert_eq!(HsmHello::decode(&mutated).unwrap().chain, HsmHello::decode(genuine).unwrap().chain);
        let (state, _) = fx.parties.hsm_start(kind);
        if let Ok((_, finished)) = fx.parties.hsm_receive(state, frame_of(&share)) {
            prop_assert!(ped.receive_finished(frame_of(&finished)).is_err());
        }
    }
}

/// The length of a hello's fields before its certificate count and certificates.
fn hello_head_len(body: &[u8]) -> usize {
    let hello = HsmHello::decode(body).expect("a genuine hello");
    let chain_len: usize = hello.chain.iter().map(|cert| 2 + cert.len()).sum();
    body.len() - chain_len - 1
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CRYPTO_CASES, ..ProptestConfig::default() })]

    /// A fresh session refuses any frame that is not its peer's genuine next record,
    /// with the error for what it is, and is poisoned afterwards: even the genuine
    /// record then fails.
    #[test]
    fn sessions_refuse_arbitrary_frames_and_stay_poisoned(
        kind in kind(),
        role in role(),
        frame_type in prop_oneof![4 => Just(FrameType::Record), 1 => frame_type()],
        body in prop_oneof![bytes(200), (0..=2200usize, any::<u8>()).prop_map(|(len, seed)| blob(len, seed))],
    ) {
        let fx = fixture();
        let mut session = with_cache(|cache| fx.fresh_session(kind, role, cache));
        let expected = if frame_type == FrameType::Record { Error::RecordIntegrity } else { Error::UnexpectedMessage };
        prop_assert_eq!(session.open(Frame { frame_type, body: &body }), Err(expected));
        let t = fx.transcript(kind);
        let genuine = if role == Role::Hsm { &t.ped_record } else { &t.hsm_record };
        prop_assert_eq!(session.open(frame_of(genuine)), Err(Error::RecordIntegrity));
    }

    /// Any alteration of a genuine record is refused as an integrity failure.
    #[test]
    fn sessions_refuse_altered_records(kind in kind(), role in role(), edits in mutations()) {
        let fx = fixture();
        let t = fx.transcript(kind);
        let genuine = body_of(if role == Role::Hsm { &t.ped_record } else { &t.hsm_record });
        let mutated = mutate(genuine, &edits);
        prop_assume!(mutated != genuine);
        let mut session = with_cache(|cache| fx.fresh_session(kind, role, cache));
        let record = Frame { frame_type: FrameType::Record, body: &mutated };
        prop_assert_eq!(session.open(record), Err(Error::RecordIntegrity));
    }
}
