//! The test rig: a PED on a [`Board`] with a key port of in-memory keys, and the HSM's
//! end of the channel played with ped-proto's own HSM half.
#![allow(dead_code, unreachable_pub)] // Each test binary uses its own part of the rig.

use std::num::NonZeroU32;

use ped_firmware::board::Output;
use ped_firmware::hal::{KeyContent, MemoryKeys};
use ped_firmware::io::{Button, Event};
use ped_firmware::screen::Screen;
use ped_firmware::update::slots::MemorySlots;
use ped_firmware::{Board, Ped, PedConfig};
use ped_proto::command::{Activity, HsmCommand, PedReply, Prompt, Role, WrappedSplit};
use ped_proto::factory::Factory;
use ped_proto::frame::{Frame, FrameType};
use ped_proto::handshake::SUPPORTED_VERSIONS;
use ped_proto::handshake::hsm::{self, HsmIdentity};
use ped_proto::orange::{ORANGE_SEED_LEN, RpkCredential, RpkEntry};
use ped_proto::pedkey::{KeyColour, PedKeyPayload};
use ped_proto::pin::{Pin, PinSalt, apply_pin_mask_with_iterations};
use ped_proto::quorum::{self, KeysetId, Quorum, Split, Verifier};
use ped_proto::record::{ChannelSession, Opened};
use ped_proto::secrets::{OneTimePassword, PasswordDigits};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use zeroize::Zeroizing;

/// Certificates are valid around this instant.
pub const NOW: u64 = 1_780_000_000;
/// PIN binding iterations in tests (the real count is 600, `pin::PIN_ITERATIONS`).
pub const ITERATIONS: u32 = 16;

pub fn iterations() -> NonZeroU32 {
    NonZeroU32::new(ITERATIONS).unwrap()
}

/// The PED under test on a board with a drawer of in-memory keys, and what it drew and
/// sent.
pub struct Rig {
    pub board: Board<MemoryKeys, MemorySlots>,
    pub rng: ChaCha20Rng,
    /// Frames the PED sent to the host, not yet taken.
    pub sent: Vec<Vec<u8>>,
    /// Every screen drawn, in order.
    pub drawn: Vec<Screen>,
    pub now_ms: u64,
}

impl Rig {
    pub fn new(root: Vec<u8>) -> Self {
        let mut config = PedConfig::new("PED-0001", "2.9.0-1", root);
        config.pin_iterations = iterations();
        Self::with_config(config)
    }

    pub fn with_config(config: PedConfig) -> Self {
        Self::with_flash(config, None)
    }

    /// A PED that owns `flash` (`None`: it has no update flash).
    pub fn with_flash(config: PedConfig, flash: Option<MemorySlots>) -> Self {
        let mut rig = Rig {
            board: Board::new(Ped::with_flash(config, flash), MemoryKeys::new()),
            rng: ChaCha20Rng::seed_from_u64(7),
            sent: Vec::new(),
            drawn: Vec::new(),
            now_ms: 0,
        };
        rig.event(Event::PowerOn);
        rig.tick(0);
        rig
    }

    /// Feeds an event and carries out every effect, as the board would.
    pub fn event(&mut self, event: Event) {
        self.board.handle(event, &mut self.rng);
        while let Some(output) = self.board.poll_output() {
            match output {
                Output::Draw(screen) => self.drawn.push(screen),
                Output::SendFrame(frame) => self.sent.push(frame),
            }
        }
    }

    pub fn ped(&self) -> &Ped<MemorySlots> {
        self.board.ped()
    }

    /// The key drawer; `keys()[i]` is key `i`.
    pub fn keys(&self) -> &MemoryKeys {
        self.board.port()
    }

    pub fn keys_mut(&mut self) -> &mut MemoryKeys {
        self.board.port_mut()
    }

    /// The drawer, for another rig (a new PED with the same keys): any key in the port
    /// is pulled out first.
    pub fn take_keys(&mut self) -> MemoryKeys {
        self.remove();
        std::mem::take(self.keys_mut())
    }

    /// The PED's update flash (a rig built [`with_flash`](Self::with_flash)).
    pub fn flash(&mut self) -> &mut MemorySlots {
        self.board.ped_mut().flash_mut().expect("a PED with update flash")
    }

    pub fn press(&mut self, button: Button) {
        self.event(Event::Pressed(button));
    }

    pub fn enter(&mut self) {
        self.press(Button::Enter);
    }

    pub fn digits(&mut self, digits: &str) {
        for d in digits.bytes() {
            self.press(Button::Digit(d - b'0'));
        }
    }

    /// Adds a key to the drawer; returns its index.
    pub fn add_key(&mut self, content: Option<Vec<u8>>) -> usize {
        self.keys_mut().add(content.map(KeyContent::from))
    }

    /// Puts key `index` in the port, pulling out the one in it (even the same key).
    pub fn insert(&mut self, index: usize) {
        self.remove();
        let key = self.keys_mut().insert(index);
        self.event(Event::KeyInserted(key));
    }

    /// Pulls the key out of the port, if one is in.
    pub fn remove(&mut self) {
        if self.keys_mut().remove().is_some() {
            self.event(Event::KeyRemoved);
        }
    }

    pub fn tick(&mut self, ms: u64) {
        self.now_ms += ms;
        self.event(Event::Tick { monotonic_ms: self.now_ms, unix_seconds: NOW });
    }

    pub fn host(&mut self, frame: Vec<u8>) {
        self.event(Event::HostFrame(frame));
    }

    pub fn take_sent(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.sent)
    }

    /// The screen now, as text lines.
    pub fn lines(&self) -> Vec<String> {
        self.ped().screen().text_lines().into_iter().map(String::from).collect()
    }

    pub fn shows(&self, expected: &[&str]) {
        assert_eq!(self.lines(), expected, "screen:\n{}", self.ped().screen());
    }
}

/// The HSM's end: its factory chain, identity, RPVs and the open session.
pub struct TestHsm {
    pub factory: Factory,
    pub identity: HsmIdentity,
    pub rpks: Vec<RpkEntry>,
    pub session: Option<ChannelSession>,
    pub rng: ChaCha20Rng,
}

impl TestHsm {
    pub fn new(serial: &str) -> Self {
        // One factory per serial: another serial has another root.
        let seed = serial.bytes().fold(99u64, |acc, b| acc.wrapping_mul(31).wrapping_add(u64::from(b)));
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let factory = Factory::manufacture(&mut rng, serial, NOW).unwrap();
        let identity = factory.hsm_identity(&mut rng, serial, NOW).unwrap();
        TestHsm { factory, identity, rpks: Vec::new(), session: None, rng }
    }

    pub fn root(&self) -> Vec<u8> {
        self.factory.root.certificate_der().to_vec()
    }

    /// Opens a Local PED-USB channel with the PED.
    pub fn connect_local(&mut self, rig: &mut Rig) {
        let (pending, hello) = hsm::start_local(&self.identity, SUPPORTED_VERSIONS, &mut self.rng).unwrap();
        rig.host(hello);
        let share = one_frame(rig);
        let (session, finished) = pending.receive_key_share(Frame::decode_exact(&share).unwrap()).unwrap();
        rig.host(finished);
        assert!(rig.take_sent().is_empty());
        self.session = Some(session);
    }

    /// Starts a C(2e,2s) channel; the PED then asks for the orange key unless cached.
    pub fn start_rpv(&mut self, rig: &mut Rig) -> hsm::AwaitingRpvKeyShare {
        let (pending, hello) = hsm::start_rpv(&self.identity, SUPPORTED_VERSIONS, &self.rpks, &mut self.rng).unwrap();
        rig.host(hello);
        pending
    }

    /// Completes a C(2e,2s) channel once the PED has answered.
    pub fn finish_rpv(&mut self, rig: &mut Rig, pending: hsm::AwaitingRpvKeyShare) {
        let share = one_frame(rig);
        let (session, finished, _) =
            pending.receive_key_share(Frame::decode_exact(&share).unwrap(), &self.rpks).unwrap();
        rig.host(finished);
        assert!(rig.take_sent().is_empty());
        self.session = Some(session);
    }

    /// Starts a password channel; returns the password the HSM shows.
    pub fn start_password(&mut self, rig: &mut Rig) -> (hsm::AwaitingPasswordProof, OneTimePassword, String) {
        let digits = PasswordDigits::generate(&mut self.rng);
        let text: String = digits.expose().iter().map(|&b| char::from(b)).collect();
        let password = OneTimePassword::new(digits);
        let (pending, hello) =
            hsm::start_password(&self.identity, SUPPORTED_VERSIONS, &password, &mut self.rng).unwrap();
        rig.host(hello);
        (pending, password, text)
    }

    /// A new orange keyset (its seed and identity), as `ped vector init` makes it; the
    /// HSM accepts its RPV from now on.
    pub fn new_rpk(&mut self) -> Orange {
        let orange = Orange::generate(&mut self.rng);
        self.accept(&orange);
        orange
    }

    /// The HSM accepts `orange`'s RPV too (a reused orange keyset).
    pub fn accept(&mut self, orange: &Orange) {
        self.rpks.push(RpkEntry::from_seed(orange.id, &orange.seed[..]).unwrap());
    }

    pub fn send(&mut self, rig: &mut Rig, command: &HsmCommand) {
        let record = self.session.as_mut().unwrap().seal(&command.encode().unwrap()).unwrap();
        rig.host(record);
    }

    /// Opens every record the PED sent.
    pub fn replies(&mut self, rig: &mut Rig) -> Vec<PedReply> {
        let session = self.session.as_mut().unwrap();
        rig.take_sent()
            .iter()
            .map(|f| match session.open(Frame::decode_exact(f).unwrap()).unwrap() {
                Opened::Data(payload) => PedReply::decode(&payload).unwrap(),
                Opened::Closed => panic!("closed"),
            })
            .collect()
    }

    /// Unwraps the splits of a Splits or Reused answer and reassembles the secret.
    pub fn reassemble(&self, splits: &[WrappedSplit]) -> Zeroizing<Vec<u8>> {
        let session = self.session.as_ref().unwrap();
        let splits: Vec<Split> =
            splits.iter().map(|w| Split::new(w.info, session.unwrap_csp(&w.wrapped).unwrap()).unwrap()).collect();
        quorum::reassemble(&splits).unwrap()
    }

    /// Splits `secret` M of N and wraps each split for the PED, as WriteSplits carries them.
    pub fn wrap_splits(&mut self, secret: &[u8], q: Quorum, id: KeysetId) -> Vec<WrappedSplit> {
        let session = self.session.as_ref().unwrap();
        quorum::split_secret(secret, q, id, &mut self.rng)
            .unwrap()
            .iter()
            .map(|s| WrappedSplit { info: *s.info(), wrapped: session.wrap_csp(s.expose_value()).unwrap() })
            .collect()
    }
}

/// The one frame the PED sent.
pub fn one_frame(rig: &mut Rig) -> Vec<u8> {
    let mut sent = rig.take_sent();
    assert_eq!(sent.len(), 1, "expected one frame");
    sent.pop().unwrap()
}

pub fn frame_type(bytes: &[u8]) -> FrameType {
    Frame::decode_exact(bytes).unwrap().frame_type
}

pub fn prompt(role: Role, activity: Activity) -> Prompt {
    Prompt { slot: "SLOT".into(), role, activity }
}

/// A keyset made by the test as an HSM would, written straight onto keys: its
/// secret, identity, verifier and the key contents (`pins[i]` for key i).
pub struct Keyset {
    pub secret: Zeroizing<Vec<u8>>,
    pub id: KeysetId,
    pub verifier: Verifier,
    pub contents: Vec<Vec<u8>>,
}

pub fn make_keyset(
    rng: &mut ChaCha20Rng,
    colour: KeyColour,
    secret: &[u8],
    q: Quorum,
    pins: &[Option<&str>],
) -> Keyset {
    let mut id = [0u8; 16];
    rand_core::Rng::fill_bytes(rng, &mut id);
    make_keyset_with_id(rng, colour, secret, q, pins, KeysetId::from_bytes(id))
}

/// [`make_keyset`] for the keyset `id`.
pub fn make_keyset_with_id(
    rng: &mut ChaCha20Rng,
    colour: KeyColour,
    secret: &[u8],
    q: Quorum,
    pins: &[Option<&str>],
    id: KeysetId,
) -> Keyset {
    let contents = quorum::split_secret(secret, q, id, rng)
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, split)| {
            let pin = pins.get(i).copied().flatten().map(|p| Pin::parse(p).unwrap());
            let salt = PinSalt::generate(rng);
            let masked =
                apply_pin_mask_with_iterations(split.expose_value(), pin.as_ref(), &salt, split.info(), iterations())
                    .unwrap();
            PedKeyPayload { colour, split: *split.info(), pin_protected: pin.is_some(), salt, masked_split: masked }
                .encode()
                .unwrap()
                .to_vec()
        })
        .collect();
    Keyset { secret: Zeroizing::new(secret.to_vec()), id, verifier: Verifier::of(&id, secret), contents }
}

/// An orange keyset's secret: its identity and 32-byte seed.
pub struct Orange {
    pub id: KeysetId,
    pub seed: Zeroizing<[u8; ORANGE_SEED_LEN]>,
}

impl Orange {
    pub fn generate(rng: &mut ChaCha20Rng) -> Self {
        let mut id = [0u8; 16];
        rand_core::Rng::fill_bytes(rng, &mut id);
        let mut seed = Zeroizing::new([0u8; ORANGE_SEED_LEN]);
        rand_core::Rng::fill_bytes(rng, &mut seed[..]);
        Orange { id: KeysetId::from_bytes(id), seed }
    }

    /// What the PED derives from the reassembled seed.
    pub fn credential(&self) -> RpkCredential {
        RpkCredential::from_seed(self.id, &self.seed[..]).unwrap()
    }
}

/// The orange keyset of `orange`, split M of N.
pub fn orange_keyset(rng: &mut ChaCha20Rng, orange: &Orange, q: Quorum, pins: &[Option<&str>]) -> Keyset {
    make_keyset_with_id(rng, KeyColour::Orange, &orange.seed[..], q, pins, orange.id)
}

/// The bytes of a format-1 PED key (before the PIN binding's redesign), built by hand:
/// "PEDK" 01 colour flags keyset[16] M N index salt[16] len16 split, and for an
/// orange key a len16 RPK certificate after it.
pub fn format1_key(colour: KeyColour, split: &[u8], orange_cert: Option<&[u8]>) -> Vec<u8> {
    let mut out = b"PEDK".to_vec();
    out.extend_from_slice(&[1, colour.to_byte(), 0]);
    out.extend_from_slice(&[0x42; 16]);
    out.extend_from_slice(&[1, 1, 1]);
    out.extend_from_slice(&[0x17; 16]);
    out.extend_from_slice(&u16::try_from(split.len()).unwrap().to_be_bytes());
    out.extend_from_slice(split);
    if let Some(cert) = orange_cert {
        out.extend_from_slice(&u16::try_from(cert.len()).unwrap().to_be_bytes());
        out.extend_from_slice(cert);
    }
    out
}

/// Presents key `index` and presses Enter, then types `pin` and Enter if given.
pub fn present(rig: &mut Rig, index: usize, pin: Option<&str>) {
    rig.insert(index);
    rig.enter();
    if let Some(pin) = pin {
        rig.digits(pin);
        rig.enter();
    }
}
