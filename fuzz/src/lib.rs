//! What the fuzz targets share: a deterministic fixture (one factory, one HSM, one
//! orange key, one recorded handshake per channel kind) and the way an input becomes a
//! message.
//!
//! Every target reads its first byte as a selector. Bit 0 picks the mode: *raw* takes
//! the rest of the input as the message; *edit* applies it to a genuine message (see
//! [`edit`]), so the fuzzer starts next to valid inputs and reaches the checks behind
//! the decoders (signatures, tags, MACs) from a one-byte input. The other bits pick
//! which genuine message or which channel kind. [`seeds`] makes the seed corpus.

pub mod seeds;

use std::sync::{Mutex, OnceLock};

#[cfg(fuzzing)]
use ped_firmware::{Ped, PedConfig};
use ped_proto::Error;
use ped_proto::cert::ChainCache;
use ped_proto::factory::Factory;
use ped_proto::frame::Frame;
use ped_proto::handshake::hsm::{self, HsmIdentity};
use ped_proto::handshake::ped::{AwaitingFinished, AwaitingHello};
use ped_proto::handshake::{ChannelKind, SUPPORTED_VERSIONS};
use ped_proto::internal::ecdh::EcdhKeyPair;
use ped_proto::internal::kwp;
use ped_proto::orange::{ORANGE_SEED_LEN, RpkCredential, RpkEntry};
use ped_proto::quorum::KeysetId;
use ped_proto::record::{ChannelSession, Role};
use ped_proto::secrets::{OneTimePassword, PasswordDigits};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// The time every target runs at, inside every certificate's validity.
pub const NOW: u64 = 1_790_000_000;
/// The payload of the genuine first record of each direction.
pub const RECORD_PAYLOAD: &[u8] = b"read keyset: SO, blue, quorum 2";
/// The channel kinds, in the order selectors index them.
pub const KINDS: [ChannelKind; 3] = [ChannelKind::Local, ChannelKind::RemotePassword, ChannelKind::RemoteRpv];
/// The key and plaintext of the genuine wrapping that `kwp_unwrap` edits.
pub const KWP_KEY: [u8; 32] = [0x4b; 32];
/// See [`KWP_KEY`].
pub const KWP_PLAINTEXT: &[u8] = b"a 48-byte PED-key split, wrapped under the CWK..";

const SERIAL: &str = "154438865";
const PED_ID: &[u8] = b"PED-0001";
const PASSWORD: &str = "27182818";
/// Each end draws from its own seeded generator, so replaying one end reproduces its
/// messages byte for byte and the other end's recorded answers still fit.
const FACTORY_SEED: u64 = 0xf022_0000;
const HSM_SEED: u64 = 0xf022_0001;
const PED_SEED: u64 = 0xf022_0002;

/// A genuine handshake of one kind (whole frames) and the first record each way.
#[derive(Debug, Default)]
pub struct Transcript {
    /// The HsmHello frame.
    pub hello: Vec<u8>,
    /// The PedKeyShare frame.
    pub share: Vec<u8>,
    /// The HsmFinished frame.
    pub finished: Vec<u8>,
    /// The HSM's first record, over [`RECORD_PAYLOAD`].
    pub hsm_record: Vec<u8>,
    /// The PED's first record, over [`RECORD_PAYLOAD`].
    pub ped_record: Vec<u8>,
}

/// Everything the targets build once per process.
#[derive(Debug)]
pub struct Fixture {
    /// The trusted root certificate, DER.
    pub root: Vec<u8>,
    /// The HSM: identifier, static key, chain `[static, HOC, MIC]`.
    pub identity: HsmIdentity,
    /// The RPV entry the HSM holds.
    pub rpks: [RpkEntry; 1],
    /// What the PED derives from the orange key's seed.
    pub rpk: RpkCredential,
    /// The RPK certificate the HSM keeps (never sent; `cert_chain` edits it).
    pub rpk_cert: Vec<u8>,
    /// One transcript per kind, indexed as [`KINDS`].
    pub transcripts: [Transcript; 3],
    /// The two ends' sessions of each transcript, `[HSM, PED]`, indexed as [`KINDS`]:
    /// each has sealed its first record and received nothing. `fresh_session` copies
    /// them.
    pub sessions: Vec<[ChannelSession; 2]>,
    /// The PED's chain cache: warm after the first replay, so a replay costs the PED
    /// its ECDH only.
    cache: Mutex<ChainCache>,
    /// The PED's ephemeral key, drawn once: every replay of the PED answers with it (as
    /// the recorded one did), so no replay pays for a key generation.
    ped_ephemeral: EcdhKeyPair,
    /// The genuine wrapping of [`KWP_PLAINTEXT`] under [`KWP_KEY`].
    pub kwp_wrapped: Vec<u8>,
}

/// The HSM between its hello and the PED's key share.
#[derive(Debug)]
pub enum HsmState {
    /// Awaiting a local key share.
    Local(hsm::AwaitingLocalKeyShare),
    /// Awaiting a password-proving key share, with the password it checks.
    Password(hsm::AwaitingPasswordProof, OneTimePassword),
    /// Awaiting an RPV key share.
    Rpv(hsm::AwaitingRpvKeyShare),
}

/// The fixture, built on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(Fixture::build)
}

impl Fixture {
    fn build() -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(FACTORY_SEED);
        let factory = Factory::manufacture(&mut rng, SERIAL, NOW).expect("factory");
        let identity = factory.hsm_identity(&mut rng, SERIAL, NOW).expect("HSM identity");
        let keyset_id = KeysetId::generate(&mut rng);
        let mut seed = [0u8; ORANGE_SEED_LEN];
        rng.fill_bytes(&mut seed);
        let rpk_entry = RpkEntry::from_seed(keyset_id, &seed).expect("orange seed");
        let rpk = RpkCredential::from_seed(keyset_id, &seed).expect("orange seed");
        let rpk_cert = factory.certify_rpk(&mut rng, SERIAL, &rpk_entry.public_key, NOW).expect("RPK certificate");
        let mut fixture = Fixture {
            root: factory.root.certificate_der().to_vec(),
            identity,
            rpks: [rpk_entry],
            rpk,
            rpk_cert,
            transcripts: Default::default(),
            sessions: Vec::new(),
            cache: Mutex::new(ChainCache::default()),
            ped_ephemeral: EcdhKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(PED_SEED)),
            kwp_wrapped: kwp::wrap(&KWP_KEY, KWP_PLAINTEXT).expect("wrap"),
        };
        for (i, kind) in KINDS.into_iter().enumerate() {
            let (transcript, sessions) = fixture.record(kind);
            fixture.transcripts[i] = transcript;
            fixture.sessions.push(sessions);
        }
        fixture
    }

    /// The transcript of `kind`.
    pub fn transcript(&self, kind: ChannelKind) -> &Transcript {
        &self.transcripts[kind_index(kind)]
    }

    /// The HSM's first step, replayed from its seed: the hello is the recorded one.
    pub fn hsm_start(&self, kind: ChannelKind) -> (HsmState, Vec<u8>) {
        let mut rng = ChaCha20Rng::seed_from_u64(HSM_SEED);
        let versions = SUPPORTED_VERSIONS;
        match kind {
            ChannelKind::Local => {
                let (state, hello) = hsm::start_local(&self.identity, versions, &mut rng).expect("start");
                (HsmState::Local(state), hello)
            }
            ChannelKind::RemotePassword => {
                let password = OneTimePassword::new(PasswordDigits::parse(PASSWORD).expect("8 digits"));
                let (state, hello) = hsm::start_password(&self.identity, versions, &password, &mut rng).expect("start");
                (HsmState::Password(state, password), hello)
            }
            ChannelKind::RemoteRpv => {
                let (state, hello) = hsm::start_rpv(&self.identity, versions, &self.rpks, &mut rng).expect("start");
                (HsmState::Rpv(state), hello)
            }
        }
    }

    /// The HSM's second step on whatever key share arrives.
    pub fn hsm_receive(&self, state: HsmState, share: Frame<'_>) -> Result<(ChannelSession, Vec<u8>), Error> {
        match state {
            HsmState::Local(state) => state.receive_key_share(share),
            HsmState::Password(state, mut password) => state.receive_key_share(share, &mut password),
            HsmState::Rpv(state) => {
                state.receive_key_share(share, &self.rpks).map(|(session, finished, _)| (session, finished))
            }
        }
    }

    /// The PED's answer to whatever hello arrives, with its fixed ephemeral key.
    pub fn ped_respond(&self, hello: Frame<'_>) -> Result<(AwaitingFinished, Vec<u8>), Error> {
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let ped = AwaitingHello::new(PED_ID, SUPPORTED_VERSIONS).receive_hello(hello, &self.root, NOW, &mut cache)?;
        let ephemeral = self.ped_ephemeral.clone();
        match ped.kind() {
            ChannelKind::Local => ped.respond_local_with(ephemeral),
            ChannelKind::RemotePassword => {
                ped.respond_password_with(&PasswordDigits::parse(PASSWORD).expect("8 digits"), ephemeral)
            }
            ChannelKind::RemoteRpv => ped.respond_rpv_with(&self.rpk, ephemeral),
        }
    }

    /// A fresh session of one end of a recorded channel (nothing received yet): a copy
    /// of the one its handshake left. A failed open poisons a session for good, so each input needs
    /// its own, and a copy costs a few hundred bytes where replaying one end of the
    /// handshake cost one or two ECDH. `ChannelSession` is `Clone` only under
    /// `cfg(fuzzing)`.
    #[cfg(fuzzing)]
    pub fn fresh_session(&self, kind: ChannelKind, role: Role) -> ChannelSession {
        let [hsm, ped] = &self.sessions[kind_index(kind)];
        if role == Role::Hsm { hsm.clone() } else { ped.clone() }
    }

    /// A PED at power-on whose chain cache already holds the fixture's verified chain
    /// and whose first handshake's ephemeral key is the fixture's: what every new PED
    /// would spend first (four ECDSA verifications at the first genuine hello, a key
    /// generation at the first tick) is spent once per process.
    #[cfg(fuzzing)]
    pub fn warm_ped(&self, config: PedConfig) -> Ped {
        let cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        Ped::warmed_up(config, cache, self.ped_ephemeral.clone())
    }

    /// The genuine record the peer of `role` sends first.
    pub fn peer_record(&self, kind: ChannelKind, role: Role) -> &[u8] {
        let t = self.transcript(kind);
        if role == Role::Hsm { &t.ped_record } else { &t.hsm_record }
    }

    /// One handshake of `kind`, and its two sessions (`[HSM, PED]`), each having sealed
    /// its first record and received nothing.
    fn record(&self, kind: ChannelKind) -> (Transcript, [ChannelSession; 2]) {
        let (hsm, hello) = self.hsm_start(kind);
        let (ped, share) = self.ped_respond(frame_of(&hello)).expect("genuine hello");
        let (mut hsm_session, finished) = self.hsm_receive(hsm, frame_of(&share)).expect("genuine share");
        let mut ped_session = ped.receive_finished(frame_of(&finished)).expect("genuine finished");
        let hsm_record = hsm_session.seal(RECORD_PAYLOAD).expect("seal");
        let ped_record = ped_session.seal(RECORD_PAYLOAD).expect("seal");
        (Transcript { hello, share, finished, hsm_record, ped_record }, [hsm_session, ped_session])
    }
}

/// Where `kind` is in [`KINDS`], and so in the fixture's arrays.
fn kind_index(kind: ChannelKind) -> usize {
    KINDS.iter().position(|k| *k == kind).expect("every kind is recorded")
}

/// A frame this crate encoded.
pub fn frame_of(bytes: &[u8]) -> Frame<'_> {
    Frame::decode_exact(bytes).expect("a frame ped-proto encoded")
}

/// The body of a frame this crate encoded.
pub fn body_of(frame_bytes: &[u8]) -> &[u8] {
    frame_of(frame_bytes).body
}

/// The first byte of an input as a selector, and the rest.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// Whether the rest edits a genuine message (bit 0 of the selector).
    pub edit: bool,
    /// The selector's other seven bits, to pick a kind or a genuine message.
    pub pick: u8,
    /// The bytes after the selector.
    pub rest: &'a [u8],
}

impl<'a> Input<'a> {
    /// Splits an input; `None` for the empty input.
    pub fn split(data: &'a [u8]) -> Option<Self> {
        let (&selector, rest) = data.split_first()?;
        Some(Input { edit: selector & 1 == 1, pick: selector >> 1, rest })
    }

    /// The channel kind the selector picks.
    pub fn kind(&self) -> ChannelKind {
        KINDS[usize::from(self.pick) % KINDS.len()]
    }

    /// The message: the rest itself, or the rest applied as an [`edit`] of `genuine`.
    pub fn message(&self, genuine: &[u8]) -> Vec<u8> {
        if self.edit { edit(genuine, self.rest) } else { self.rest.to_vec() }
    }
}

/// Applies `delta` to `base` so that all-zero bytes change nothing: the first two
/// bytes are XORed into the length (as a big-endian `u16`; the message is cut, or
/// padded with zeros), the rest is XORed into the message from its start.
pub fn edit(base: &[u8], delta: &[u8]) -> Vec<u8> {
    let (len_delta, xor) = match delta {
        [hi, lo, xor @ ..] => (u16::from_be_bytes([*hi, *lo]), xor),
        [hi] => (u16::from_be_bytes([*hi, 0]), &[][..]),
        [] => (0, &[][..]),
    };
    // Every genuine message is under 64 KiB, so its length fits the u16 field.
    let base_len = u16::try_from(base.len()).expect("genuine messages are under 64 KiB");
    let mut out = base.to_vec();
    out.resize(usize::from(base_len ^ len_delta), 0);
    for (byte, x) in out.iter_mut().zip(xor) {
        *byte ^= x;
    }
    out
}
