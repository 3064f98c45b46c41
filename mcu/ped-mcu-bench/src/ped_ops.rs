//! The PED's operations through the real ped-proto and ped-firmware code paths.
//!
//! The HSM's end runs in this same image, with ped-proto's own HSM half, but outside
//! every measured window and on the host arena (`heap.rs`): it builds the factory
//! chains, the hellos and the finished messages when the PED needs them. Every window
//! is the PED's work alone, on the PED's arena and with its stack painted
//! ([`Meter::ped`]).
//!
//! The `ped_side_*` figures drive the PED core (`ped_firmware::Ped::handle`) with the
//! events a board would feed it, from the HSM's hello (its bytes copied into the PED's
//! heap, as the USB link would leave them) to the HsmFinished it checks, and sum the
//! instructions of every `handle` call in between: the hello, and for an orange key the
//! key insertion, Enter, the key read, each PIN digit and Enter (the time the holder
//! takes is not the PED's). Screens are drawn as on the device. The PED's last
//! handshake frame leaves with the PedKeyShare; the HsmFinished that follows costs one
//! HMAC comparison and is counted too.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::hint::black_box;

use ped_firmware::hal::{InsertedKey, KeyContent, KeySerial};
use ped_firmware::io::{Button, Effect, Event};
use ped_firmware::{Ped, PedConfig};
use ped_proto::cert::{self, ChainCache};
use ped_proto::EcdhKeyPair;
use ped_proto::factory::Factory;
use ped_proto::frame::{Frame, FrameType};
use ped_proto::handshake::SUPPORTED_VERSIONS;
use ped_proto::handshake::hsm::{self, HsmIdentity};
use ped_proto::handshake::ped::AwaitingHello;
use ped_proto::orange::{ORANGE_SEED_LEN, RpkCredential, RpkEntry};
use ped_proto::pedkey::{KeyColour, PedKeyPayload};
use ped_proto::pin::{Pin, PinSalt, apply_pin_mask};
use ped_proto::quorum::{self, KeysetId, Quorum, Split};
use ped_proto::record::{ChannelSession, MAX_PAYLOAD_LEN, Opened};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use zeroize::Zeroizing;

use crate::clock::Calibration;
use crate::{HEAP, stack};

/// The certificates are issued at, and checked at, this instant (2026-09-21).
const NOW: u64 = 1_790_000_000;
const PED_SERIAL: &str = "PED-MCU-0001";
const PIN: &str = "24681357";

/// Measures PED work: instructions, the PED's heap and stack.
pub struct Meter<'a> {
    cal: &'a Calibration,
    /// The deepest stack any PED window reached, in bytes below its caller.
    pub stack_peak: usize,
}

impl<'a> Meter<'a> {
    pub fn new(cal: &'a Calibration) -> Self {
        Meter { cal, stack_peak: 0 }
    }

    /// Runs `f` as the PED: its allocations on the PED's arena, its stack painted; returns
    /// its result and the instructions it took.
    pub fn ped<T>(&mut self, f: impl FnOnce() -> T) -> (T, u64) {
        let top = stack::paint();
        HEAP.set_ped_side(true);
        let out = self.cal.span(f);
        HEAP.set_ped_side(false);
        let depth = stack::depth(top);
        if depth >= stack::PAINTED {
            panic!("a PED window used more than the {} bytes of stack painted", stack::PAINTED);
        }
        self.stack_peak = self.stack_peak.max(depth);
        if option_env!("PED_BENCH_DEBUG_STACK").is_some() && depth > 12_000 {
            cortex_m_semihosting::hprintln!("# DEBUG stack {} instr {}", depth, out.1);
        }
        out
    }
}

/// One HSM of the bench's factory.
struct Hsm {
    identity: HsmIdentity,
    rng: ChaCha20Rng,
}

/// The PED core as a board drives it, with one key in its port.
struct PedRig {
    ped: Box<Ped>,
    rng: ChaCha20Rng,
    key: Option<Vec<u8>>,
    sent: Vec<Vec<u8>>,
    now_ms: u64,
    /// Instructions of the PED's `handle` calls since the last `take_instructions`.
    instructions: u64,
}

impl PedRig {
    fn new(m: &mut Meter<'_>, root: &[u8], seed: u8) -> Self {
        let (ped, _) = m.ped(|| Box::new(Ped::new(PedConfig::new(PED_SERIAL, "7.8.0", root.to_vec()))));
        let mut rig = PedRig {
            ped,
            rng: ChaCha20Rng::from_seed([seed; 32]),
            key: None,
            sent: Vec::new(),
            now_ms: 0,
            instructions: 0,
        };
        rig.event(m, Event::PowerOn);
        rig
    }

    /// Feeds one event and carries out its effects (a key read is answered at once).
    fn event(&mut self, m: &mut Meter<'_>, event: Event) {
        let mut queue = vec![event];
        while let Some(event) = queue.pop() {
            let (effects, n) = m.ped(|| self.ped.handle(event, &mut self.rng));
            self.instructions += n;
            for effect in effects {
                match effect {
                    Effect::SendFrame(frame) => self.sent.push(frame),
                    Effect::ReadKey => {
                        let content = self.key.clone().map(KeyContent::from);
                        queue.push(Event::KeyRead(Ok(content)));
                    }
                    Effect::Draw(_) | Effect::WriteKey(_) | Effect::EraseKey => {}
                }
            }
        }
    }

    /// A frame from the HSM: copied into the PED's heap inside the window, as the USB
    /// link's reassembly leaves it there.
    fn host(&mut self, m: &mut Meter<'_>, bytes: &[u8]) {
        let (effects, n) = m.ped(|| {
            let frame = bytes.to_vec();
            self.ped.handle(Event::HostFrame(frame), &mut self.rng)
        });
        self.instructions += n;
        for effect in effects {
            if let Effect::SendFrame(frame) = effect {
                self.sent.push(frame);
            }
        }
    }

    /// Time passes (100 ms, as ped-sim and the board tick): an idle PED draws its next
    /// ephemeral key here. Returns the tick's instructions.
    fn tick(&mut self, m: &mut Meter<'_>) -> u64 {
        self.now_ms += 100;
        let before = self.instructions;
        self.event(m, Event::Tick { monotonic_ms: self.now_ms, unix_seconds: NOW });
        let n = self.instructions - before;
        self.instructions = before;
        n
    }

    fn one_frame(&mut self, wanted: FrameType) -> Vec<u8> {
        let frame = self.sent.pop().unwrap_or_else(|| panic!("the PED sent nothing"));
        check(self.sent.is_empty(), "the PED sent one frame");
        check(
            Frame::decode_exact(&frame).is_ok_and(|f| f.frame_type == wanted),
            "the PED's frame has the type awaited",
        );
        frame
    }

    fn take_instructions(&mut self) -> u64 {
        core::mem::take(&mut self.instructions)
    }

    /// The orange key's holder: insert, Enter, the PIN, Enter.
    fn present_orange(&mut self, m: &mut Meter<'_>, content: &[u8]) {
        self.key = Some(content.to_vec());
        self.event(m, Event::KeyInserted(InsertedKey { serial: KeySerial(4242), capacity: 8192 }));
        self.event(m, Event::Pressed(Button::Enter));
        for d in PIN.bytes() {
            self.event(m, Event::Pressed(Button::Digit(d - b'0')));
        }
        self.event(m, Event::Pressed(Button::Enter));
        self.event(m, Event::KeyRemoved);
        self.key = None;
    }
}

/// The orange keyset of the bench: one 1-of-1 key with a PIN, at the production count.
struct Orange {
    id: KeysetId,
    seed: Zeroizing<[u8; ORANGE_SEED_LEN]>,
    entry: RpkEntry,
    key: Vec<u8>,
}

fn key_content(rng: &mut ChaCha20Rng, colour: KeyColour, secret: &[u8], id: KeysetId) -> Vec<u8> {
    let quorum = Quorum::new(1, 1).unwrap_or_else(|_| panic!("1 of 1 is a quorum"));
    let splits = quorum::split_secret(secret, quorum, id, rng).unwrap_or_else(|_| panic!("split"));
    let pin = Pin::parse(PIN).unwrap_or_else(|_| panic!("PIN"));
    let salt = PinSalt::generate(rng);
    let split = &splits[0];
    let masked =
        apply_pin_mask(split.expose_value(), Some(&pin), &salt, split.info()).unwrap_or_else(|_| panic!("mask"));
    let payload = PedKeyPayload { colour, split: *split.info(), pin_protected: true, salt, masked_split: masked };
    payload.encode().unwrap_or_else(|_| panic!("encode")).to_vec()
}

impl Orange {
    fn new(rng: &mut ChaCha20Rng) -> Self {
        let id = KeysetId::generate(rng);
        let mut seed = Zeroizing::new([0u8; ORANGE_SEED_LEN]);
        rng.fill_bytes(&mut seed[..]);
        let entry = RpkEntry::from_seed(id, &seed[..]).unwrap_or_else(|_| panic!("RPK entry"));
        let key = key_content(rng, KeyColour::Orange, &seed[..], id);
        Orange { id, seed, entry, key }
    }
}

/// Runs every PED-level operation.
pub fn run(cal: &Calibration, report: &mut dyn FnMut(&str, u64)) -> usize {
    let mut m = Meter::new(cal);
    let mut rng = ChaCha20Rng::from_seed([0x42; 32]);

    // The factory: root → MIC → HOC A, B, C, each HSM with its static key (host side).
    let mut hrng = ChaCha20Rng::from_seed([7; 32]);
    let fa = Factory::manufacture(&mut hrng, "HSM-A", NOW - 3600).unwrap_or_else(|_| panic!("factory"));
    let root = fa.root.certificate_der().to_vec();
    let a = fa.hsm_identity(&mut hrng, "HSM-A", NOW - 3600).unwrap_or_else(|_| panic!("HSM A"));
    let Factory { root: r, mic, .. } = fa;
    let fb = Factory::manufacture_under(r, mic, &mut hrng, "HSM-B", NOW - 3600).unwrap_or_else(|_| panic!("B"));
    let b = fb.hsm_identity(&mut hrng, "HSM-B", NOW - 3600).unwrap_or_else(|_| panic!("HSM B"));
    let Factory { root: r, mic, .. } = fb;
    let fc = Factory::manufacture_under(r, mic, &mut hrng, "HSM-C", NOW - 3600).unwrap_or_else(|_| panic!("C"));
    let c = fc.hsm_identity(&mut hrng, "HSM-C", NOW - 3600).unwrap_or_else(|_| panic!("HSM C"));
    let mut a = Hsm { identity: a, rng: ChaCha20Rng::from_seed([1; 32]) };
    let mut b = Hsm { identity: b, rng: ChaCha20Rng::from_seed([2; 32]) };
    let mut c = Hsm { identity: c, rng: ChaCha20Rng::from_seed([3; 32]) };
    let orange = Orange::new(&mut rng);

    primitives(&mut m, report, &mut rng, &a.identity, &root);
    pin_unlock(&mut m, report, &mut rng, &orange);
    let (hsm_session, ped_session) = records_session(&mut m, &mut b, &root, &orange);
    records(&mut m, report, hsm_session, ped_session);
    local_handshakes(&mut m, report, &root, [&mut a, &mut b, &mut c]);
    remote_handshakes(&mut m, report, &root, [&mut a, &mut b], &orange);
    m.stack_peak
}

fn primitives(
    m: &mut Meter<'_>,
    report: &mut dyn FnMut(&str, u64),
    rng: &mut ChaCha20Rng,
    hsm: &HsmIdentity,
    root: &[u8],
) {
    // ped-proto's EcdhKeyPair::generate: 66 bytes masked to 521 bits, d·G.
    let (ours, n) = m.ped(|| EcdhKeyPair::generate(&mut *rng));
    report("p521_keygen", n);
    let theirs = EcdhKeyPair::generate(&mut *rng);
    let (z, n) = m.ped(|| ours.diffie_hellman(black_box(theirs.public())));
    check(z.as_bytes() == theirs.diffie_hellman(ours.public()).as_bytes(), "ECDH: both sides agree");
    report("p521_ecdh", n);

    // One certificate-sized ECDSA P-521/SHA-512 verification (ped-proto's verifier).
    use p521::ecdsa::signature::Signer;
    let message = [0x30_u8; 600];
    let signing =
        p521::ecdsa::SigningKey::from_bytes(&ours.private_bytes()[..].try_into().unwrap_or_else(|_| panic!()))
            .unwrap_or_else(|_| panic!("signing key"));
    let signature: p521::ecdsa::Signature = signing.sign(&message);
    let public = ours.public().to_uncompressed();
    let sig = signature.to_bytes();
    let (ok, n) = m.ped(|| cert::verify_ecdsa_p521_sha512_p1363(black_box(&public), black_box(&message), &sig));
    check(ok, "ECDSA P-521 verifies");
    check(!cert::verify_ecdsa_p521_sha512_p1363(&public, &message[1..], &sig), "ECDSA P-521 rejects a change");
    report("ecdsa_p521_verify", n);

    // The HSM's chain [static key, HOC, MIC] to the trusted root, nothing cached: four
    // signatures (the root's own included), parsing and every profile check.
    let chain: Vec<&[u8]> = hsm.chain.iter().map(Vec::as_slice).collect();
    let (verified, n) = m.ped(|| cert::verify_hsm_chain(black_box(&chain), root, NOW));
    check(verified.is_ok_and(|v| v.hsm_serial() == Some("HSM-A")), "the chain verifies");
    report("cert_chain_verify_3", n);
}

fn pin_unlock(m: &mut Meter<'_>, report: &mut dyn FnMut(&str, u64), rng: &mut ChaCha20Rng, orange: &Orange) {
    let pin = Pin::parse(PIN).unwrap_or_else(|_| panic!("PIN"));

    // A black key holding a 32-byte split: decode, then unmask at the production count
    // (what the firmware's key reader does once the PIN is entered).
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let id = KeysetId::generate(rng);
    let content = key_content(rng, KeyColour::Black, &secret, id);
    let (value, n) = m.ped(|| {
        let payload = PedKeyPayload::decode(black_box(&content)).ok()?;
        apply_pin_mask(&payload.masked_split, Some(&pin), &payload.salt, &payload.split).ok()
    });
    check(value.is_some_and(|v| v[..] == secret[..]), "the 32-byte split unmasks");
    report("pin_unlock_32B", n);

    // The orange key: decode, unmask, reassemble the 1-of-1 quorum, derive RPV and RPK.
    let (credential, n) = m.ped(|| {
        let payload = PedKeyPayload::decode(black_box(&orange.key)).ok()?;
        let value = apply_pin_mask(&payload.masked_split, Some(&pin), &payload.salt, &payload.split).ok()?;
        let split = Split::new(payload.split, value).ok()?;
        let seed = quorum::reassemble(&[split]).ok()?;
        RpkCredential::from_seed(*payload.split.keyset_id(), &seed).ok()
    });
    let credential = credential.unwrap_or_else(|| panic!("the orange key unlocks"));
    check(credential.rpv == orange.entry.rpv, "the orange key gives the RPV");
    check(credential.static_key.public_key() == orange.entry.public_key, "the orange key gives the RPK");
    check(credential.keyset_id == orange.id && orange.seed.len() == ORANGE_SEED_LEN, "the orange keyset");
    report("pin_unlock_orange", n);
}

/// A C(2e,2s) session at both ends, through ped-proto's handshake halves (not measured).
fn records_session(m: &mut Meter<'_>, hsm: &mut Hsm, root: &[u8], orange: &Orange) -> (ChannelSession, ChannelSession) {
    let rpks = [orange.entry.clone()];
    let (pending, hello) =
        hsm::start_rpv(&hsm.identity, SUPPORTED_VERSIONS, &rpks, &mut hsm.rng).unwrap_or_else(|_| panic!("hello"));
    let credential =
        RpkCredential::from_seed(orange.id, &orange.seed[..]).unwrap_or_else(|_| panic!("orange credential"));
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let ((awaiting, share), _) = m.ped(|| {
        let hello = Frame::decode_exact(&hello).unwrap_or_else(|_| panic!("hello frame"));
        AwaitingHello::new(PED_SERIAL.as_bytes(), SUPPORTED_VERSIONS)
            .receive_hello(hello, root, NOW, &mut ChainCache::default())
            .and_then(|h| h.respond_rpv(&credential, &mut rng))
            .unwrap_or_else(|_| panic!("the PED answers"))
    });
    let share = Frame::decode_exact(&share).unwrap_or_else(|_| panic!("share"));
    let (hsm_session, finished, _) = pending.receive_key_share(share, &rpks).unwrap_or_else(|_| panic!("HSM"));
    let finished = Frame::decode_exact(&finished).unwrap_or_else(|_| panic!("finished"));
    let (ped_session, _) = m.ped(|| awaiting.receive_finished(finished).unwrap_or_else(|_| panic!("PED")));
    (hsm_session, ped_session)
}

fn records(m: &mut Meter<'_>, report: &mut dyn FnMut(&str, u64), mut hsm: ChannelSession, mut ped: ChannelSession) {
    // The largest record (16 KiB payload), sealed by the PED and opened by the HSM...
    let payload: Vec<u8> = (0..MAX_PAYLOAD_LEN).map(|i| i as u8).collect();
    let (held, _) = m.ped(|| payload.clone());
    let (sealed, n) = m.ped(|| ped.seal(black_box(&held)));
    drop(held);
    let sealed = sealed.unwrap_or_else(|_| panic!("seal"));
    let opened = hsm.open(Frame::decode_exact(&sealed).unwrap_or_else(|_| panic!("frame")));
    check(matches!(opened, Ok(Opened::Data(p)) if p[..] == payload[..]), "the HSM opens the PED's record");
    report("record_16k_seal", n);
    drop(sealed);

    // ...and sealed by the HSM, opened by the PED (the frame in the PED's heap, as the
    // USB link leaves it).
    let sealed = hsm.seal(&payload).unwrap_or_else(|_| panic!("seal"));
    let (frame, _) = m.ped(|| sealed.clone());
    let (opened, n) =
        m.ped(|| Frame::decode_exact(black_box(&frame)).map_err(|_| ()).and_then(|f| ped.open(f).map_err(|_| ())));
    check(matches!(&opened, Ok(Opened::Data(p)) if p[..] == payload[..]), "the PED opens the HSM's record");
    report("record_16k_open", n);
}

/// C(1e,1s) at a PED in Local PED-USB mode: its first HSM ever (nothing cached), then a
/// second HSM of the same factory (cold: the root's self-signature and root → MIC are
/// known links), then the second again (warm: the chain is cached).
fn local_handshakes(m: &mut Meter<'_>, report: &mut dyn FnMut(&str, u64), root: &[u8], hsms: [&mut Hsm; 3]) {
    let mut rig = PedRig::new(m, root, 0x51);
    let n = rig.tick(m);
    check(rig.ped.ephemeral_ready(), "an idle tick draws the next ephemeral key");
    report("ped_idle_ephemeral_draw", n);
    let hsms = hsms;
    for (name, i) in [("ped_side_c1e1s_first_hsm", 0), ("ped_side_c1e1s_cold", 1), ("ped_side_c1e1s_warm", 1)] {
        let hsm = &mut *hsms[i];
        let (pending, hello) =
            hsm::start_local(&hsm.identity, SUPPORTED_VERSIONS, &mut hsm.rng).unwrap_or_else(|_| panic!("hello"));
        rig.host(m, &hello);
        let share = rig.one_frame(FrameType::PedKeyShare);
        let share = Frame::decode_exact(&share).unwrap_or_else(|_| panic!("share"));
        let (_session, finished) = pending.receive_key_share(share).unwrap_or_else(|_| panic!("the HSM finishes"));
        rig.host(m, &finished);
        check(rig.sent.is_empty(), "the PED accepts the HSM's confirmation");
        report(name, rig.take_instructions());
        rig.tick(m);
    }
    // Without an idle tick before it, a hello makes the PED draw its key on the
    // critical path: HSM C's second hello (its chain cached by the first, which took
    // the key drawn at the last tick).
    let c = &mut *hsms[2];
    for measured in [false, true] {
        let (_pending, hello) =
            hsm::start_local(&c.identity, SUPPORTED_VERSIONS, &mut c.rng).unwrap_or_else(|_| panic!("hello"));
        rig.host(m, &hello);
        rig.one_frame(FrameType::PedKeyShare);
        let n = rig.take_instructions();
        if measured {
            report("ped_side_c1e1s_warm_no_idle_key", n);
        }
    }
}

/// C(2e,2s) at a PED in Remote PED mode, with the orange keyset that both HSMs accept:
/// HSM A is its first HSM ever, then HSM B for the first time (cold: chain not cached
/// but the factory's shared links are, the orange key read and unlocked), then HSM B
/// again (warm: chain and RPK cached).
fn remote_handshakes(
    m: &mut Meter<'_>,
    report: &mut dyn FnMut(&str, u64),
    root: &[u8],
    hsms: [&mut Hsm; 2],
    orange: &Orange,
) {
    let mut rig = PedRig::new(m, root, 0x52);
    rig.tick(m);
    let rpks = [orange.entry.clone()];
    let hsms = hsms;
    let mut last = None;
    for (name, i, cached) in
        [("ped_side_c2e2s_first_hsm", 0, false), ("ped_side_c2e2s_cold", 1, false), ("ped_side_c2e2s_warm", 1, true)]
    {
        let hsm = &mut *hsms[i];
        let (pending, hello) =
            hsm::start_rpv(&hsm.identity, SUPPORTED_VERSIONS, &rpks, &mut hsm.rng).unwrap_or_else(|_| panic!("hello"));
        rig.host(m, &hello);
        if !cached {
            check(rig.sent.is_empty(), "the PED asks for the orange key");
            rig.present_orange(m, &orange.key);
        }
        let share = rig.one_frame(FrameType::PedKeyShare);
        let share = Frame::decode_exact(&share).unwrap_or_else(|_| panic!("share"));
        let (session, finished, _) = pending.receive_key_share(share, &rpks).unwrap_or_else(|_| panic!("HSM: TagU"));
        rig.host(m, &finished);
        check(rig.sent.is_empty(), "the PED accepts the HSM's confirmation");
        report(name, rig.take_instructions());
        rig.tick(m);
        last = Some(session);
    }

    // The PED with everything resident (chains, links, RPK, the next key) takes the
    // largest record an HSM may send: the heap's worst case. It holds no command, so
    // the PED answers Failed (PED busy) in a record of its own.
    let mut session = last.unwrap_or_else(|| panic!("a session"));
    let payload = vec![0xee_u8; MAX_PAYLOAD_LEN];
    let record = session.seal(&payload).unwrap_or_else(|_| panic!("seal"));
    rig.host(m, &record);
    let answer = rig.one_frame(FrameType::Record);
    let answer = session.open(Frame::decode_exact(&answer).unwrap_or_else(|_| panic!("answer")));
    check(matches!(answer, Ok(Opened::Data(_))), "the PED answers the record");
    report("ped_record_16k_in", rig.take_instructions());
}

fn check(ok: bool, what: &str) {
    if !ok {
        panic!("check failed: {what}");
    }
}
