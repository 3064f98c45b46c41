//! The legacy channel of HSMs on firmware 7.4.2 and older (docs/protocol.md §17): a
//! login's worth of records both ways, each bad input of issue 16 with its code, the
//! decoders on any bytes, and the worked example of §17.5 (`PED_BLESS=1` rewrites it).

use std::convert::Infallible;
use std::fmt::Write as _;

use aes::Aes256;
use aes::cipher::{BlockCipherEncrypt, KeyInit, KeyIvInit, StreamCipher};
use ped_proto::frame::{self, Frame, FrameType};
use ped_proto::legacy::dh::{DH_LEN, DhKeyPair, DhPublic};
use ped_proto::legacy::{self, FirmwareVersion, LegacyHello, LegacyShare, PedHelloReceived};
use ped_proto::orange::{RpkCredential, RpkEntry};
use ped_proto::quorum::KeysetId;
use ped_proto::record::{ChannelSession, Opened};
use ped_proto::{Error, ErrorCode};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::{SeedableRng, TryCryptoRng, TryRng};
use sha2::{Digest, Sha256};

const HSM_ID: &[u8] = b"154438865";
const PED_ID: &[u8] = b"PED2-0000417";
const V742: FirmwareVersion = FirmwareVersion::LEGACY_NEWEST;
const PAYLOAD: &[u8] = b"read keyset: SO, blue, quorum 2";
const CSP: &[u8] = b"an example PED-key split, 48 bytes long........";
const BEGIN: &str = "<!-- legacy-example:begin -->\n";
const END: &str = "<!-- legacy-example:end -->";

/// Returns the scripted bytes, in order, to whoever draws next.
struct ScriptedRng(Vec<u8>);

impl TryRng for ScriptedRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_be_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_be_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        assert!(self.0.len() >= dst.len(), "script ran out of bytes");
        dst.copy_from_slice(&self.0[..dst.len()]);
        self.0.drain(..dst.len());
        Ok(())
    }
}
impl TryCryptoRng for ScriptedRng {}

fn f(bytes: &[u8]) -> Frame<'_> {
    Frame::decode_exact(bytes).expect("a whole frame")
}

fn orange(seed: u8) -> (RpkCredential, RpkEntry) {
    let id = KeysetId::from_bytes([0x0a; 16]);
    let seed = [seed; 32];
    (RpkCredential::from_seed(id, &seed).unwrap(), RpkEntry::from_seed(id, &seed).unwrap())
}

/// Every message of one handshake, and both sessions (or the first error and its side).
struct Run {
    frames: Vec<Vec<u8>>,
    hsm: ChannelSession,
    ped: ChannelSession,
}

fn handshake(
    hsm_rng: &mut (impl rand_core::CryptoRng + ?Sized),
    ped_rng: &mut (impl rand_core::CryptoRng + ?Sized),
    ped_rpk: &RpkCredential,
    hsm_rpk: &RpkEntry,
    tamper: impl Fn(usize, &mut Vec<u8>),
) -> Result<Run, (&'static str, Error)> {
    let mut frames = Vec::new();
    let mut send = |i: usize, mut frame: Vec<u8>| {
        tamper(i, &mut frame);
        frames.push(frame.clone());
        frame
    };
    let (hsm, hello) = legacy::hsm_start(HSM_ID, V742, std::slice::from_ref(hsm_rpk), hsm_rng).unwrap();
    let hello = send(0, hello);
    let ped = PedHelloReceived::receive(f(&hello)).map_err(|e| ("ped", e))?;
    let (ped, share) = ped.respond(PED_ID, ped_rpk, ped_rng).map_err(|e| ("ped", e))?;
    let share = send(1, share);
    let (hsm, challenge) =
        hsm.receive_share(f(&share), std::slice::from_ref(hsm_rpk), hsm_rng).map_err(|e| ("hsm", e))?;
    let challenge = send(2, challenge);
    let (ped, echo) = ped.receive_challenge(f(&challenge), ped_rng).map_err(|e| ("ped", e))?;
    let echo = send(3, echo);
    let (hsm, proof) = hsm.receive_echo(f(&echo), hsm_rng).map_err(|e| ("hsm", e))?;
    let proof = send(4, proof);
    let ped = ped.receive_proof(f(&proof)).map_err(|e| ("ped", e))?;
    Ok(Run { frames, hsm, ped })
}

fn seeded(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn open_data(session: &mut ChannelSession, record: &[u8]) -> Vec<u8> {
    match session.open(f(record)).expect("the record opens") {
        Opened::Data(data) => data.to_vec(),
        Opened::Closed => panic!("a close record"),
    }
}

#[test]
fn a_legacy_channel_carries_records_and_csps_both_ways_and_hides_them() {
    let (credential, entry) = orange(1);
    let mut run = handshake(&mut seeded(1), &mut seeded(2), &credential, &entry, |_, _| {}).unwrap();
    assert!(run.hsm.is_legacy() && run.ped.is_legacy());
    for i in 0..3u8 {
        let command = [PAYLOAD, &[i]].concat();
        let record = run.hsm.seal(&command).unwrap();
        assert!(!record.windows(PAYLOAD.len()).any(|w| w == PAYLOAD), "the record hides the command");
        assert_eq!(open_data(&mut run.ped, &record), command);
        let wrapped = run.ped.wrap_csp(CSP).unwrap();
        let answer = run.ped.seal(&wrapped).unwrap();
        assert!(!answer.windows(CSP.len()).any(|w| w == CSP), "the record hides the CSP");
        let opened = open_data(&mut run.hsm, &answer);
        assert_eq!(run.hsm.unwrap_csp(&opened).unwrap().as_slice(), CSP);
    }
    let close = run.ped.seal_close().unwrap();
    assert_eq!(run.hsm.open(f(&close)).unwrap(), Opened::Closed);
}

#[test]
fn a_wrong_rpv_fails_at_the_hsm_as_a_nonce_mismatch() {
    let (credential, _) = orange(1);
    let (_, other_entry) = orange(2);
    let Err(("hsm", e)) = handshake(&mut seeded(1), &mut seeded(2), &credential, &other_entry, |_, _| {}) else {
        panic!("the HSM must refuse the echo")
    };
    assert_eq!(e, Error::NonceMismatch);
    assert_eq!(e.code(), ErrorCode::PedAuthFailed);
    assert!(e.to_string().contains("wrong RPV"), "{e}");
}

#[test]
fn a_nonce_altered_on_either_way_is_a_mismatch_at_its_receiver() {
    let (credential, entry) = orange(1);
    // The echo (R2 ‖ R1) altered: the HSM does not find R1.
    let flip_echo = |i: usize, frame: &mut Vec<u8>| {
        if i == 3 {
            frame[frame::HEADER_LEN + 12] ^= 1;
        }
    };
    let r = handshake(&mut seeded(1), &mut seeded(2), &credential, &entry, flip_echo);
    assert!(matches!(r, Err(("hsm", Error::NonceMismatch))));
    // The proof (P2 ‖ R2) altered: the PED does not find R2.
    let flip_proof = |i: usize, frame: &mut Vec<u8>| {
        if i == 4 {
            frame[frame::HEADER_LEN + 3] ^= 0x80;
        }
    };
    let r = handshake(&mut seeded(1), &mut seeded(2), &credential, &entry, flip_proof);
    assert!(matches!(r, Err(("ped", Error::NonceMismatch))));
}

#[test]
fn an_altered_hello_or_share_gives_different_keys_and_fails() {
    let (credential, entry) = orange(1);
    // The hello's firmware byte rewritten (7.4.2 to 7.4.1): both the keys differ.
    let hello = |i: usize, frame: &mut Vec<u8>| {
        if i == 0 {
            frame[frame::HEADER_LEN + 3] = 1;
        }
    };
    assert!(matches!(
        handshake(&mut seeded(1), &mut seeded(2), &credential, &entry, hello),
        Err(("hsm", Error::NonceMismatch))
    ));
    let ped_id = |i: usize, frame: &mut Vec<u8>| {
        if i == 1 {
            frame[frame::HEADER_LEN + 1] ^= 1;
        }
    };
    assert!(matches!(
        handshake(&mut seeded(1), &mut seeded(2), &credential, &entry, ped_id),
        Err(("hsm", Error::NonceMismatch))
    ));
}

#[test]
fn a_hello_that_claims_firmware_7_7_is_refused_and_no_hsm_makes_one() {
    let (_, entry) = orange(1);
    let (_, hello) = legacy::hsm_start(HSM_ID, V742, std::slice::from_ref(&entry), &mut seeded(1)).unwrap();
    let mut body = f(&hello).body.to_vec();
    body[1..4].copy_from_slice(&[7, 7, 0]);
    let e = PedHelloReceived::receive(f(&frame::encode(FrameType::HsmHello, &body))).unwrap_err();
    assert_eq!(e, Error::LegacyRefused);
    assert_eq!(e.code(), ErrorCode::PedVersionMismatch);
    let current = FirmwareVersion::CURRENT_OLDEST;
    let refused = legacy::hsm_start(HSM_ID, current, std::slice::from_ref(&entry), &mut seeded(1)).unwrap_err();
    assert_eq!(refused, Error::LegacyRefused);
}

#[test]
fn an_orange_key_the_hello_does_not_list_is_refused_before_anything_is_sent() {
    let (_, entry) = orange(1);
    let other = RpkCredential::from_seed(KeysetId::from_bytes([0x0b; 16]), &[1; 32]).unwrap();
    let (_, hello) = legacy::hsm_start(HSM_ID, V742, std::slice::from_ref(&entry), &mut seeded(1)).unwrap();
    let ped = PedHelloReceived::receive(f(&hello)).unwrap();
    assert_eq!(ped.respond(PED_ID, &other, &mut seeded(2)).unwrap_err(), Error::UnknownRpk);
}

#[test]
fn a_record_altered_replayed_or_reordered_fails_its_digest() {
    let (credential, entry) = orange(1);
    let mut run = handshake(&mut seeded(1), &mut seeded(2), &credential, &entry, |_, _| {}).unwrap();
    let first = run.hsm.seal(b"one").unwrap();
    let second = run.hsm.seal(b"two").unwrap();
    let mut altered = first.clone();
    *altered.last_mut().unwrap() ^= 1;
    assert_eq!(run.ped.open(f(&altered)), Err(Error::RecordIntegrity));
    assert_eq!(run.ped.open(f(&first)), Err(Error::RecordIntegrity), "a refused record poisons the session");
    let mut run = handshake(&mut seeded(1), &mut seeded(2), &credential, &entry, |_, _| {}).unwrap();
    let first = run.hsm.seal(b"one").unwrap();
    let second_again = run.hsm.seal(b"two").unwrap();
    assert_eq!(second, second_again, "the same keys and nonces give the same stream");
    assert_eq!(run.ped.open(f(&second_again)), Err(Error::RecordIntegrity), "out of order");
    let mut run = handshake(&mut seeded(1), &mut seeded(2), &credential, &entry, |_, _| {}).unwrap();
    let record = run.hsm.seal(b"one").unwrap();
    assert_eq!(open_data(&mut run.ped, &record), b"one");
    assert_eq!(run.ped.open(f(&record)), Err(Error::RecordIntegrity), "replayed");
    let _ = first;
}

#[test]
fn public_values_outside_two_to_p_minus_two_are_refused() {
    let p_minus_1 = DhPublic::from_bytes(&{
        let mut v = [0xff; DH_LEN];
        // p − 1 of ffdhe2048: p ends in ff…ff, so p − 1 ends in …fe.
        v[DH_LEN - 1] = 0xfe;
        v
    });
    assert_eq!(p_minus_1, Err(Error::InvalidPublicKey));
    for bad in [
        [0u8; DH_LEN],
        {
            let mut v = [0u8; DH_LEN];
            v[DH_LEN - 1] = 1;
            v
        },
        [0xff; DH_LEN],
    ] {
        assert_eq!(DhPublic::from_bytes(&bad), Err(Error::InvalidPublicKey));
    }
    assert_eq!(DhPublic::from_bytes(&[2; 255]), Err(Error::InvalidPublicKey));
    // g^2 = 4 and g^3 = 8: the exponentiation is the group's.
    let mut three = [0u8; 32];
    three[31] = 3;
    assert_eq!(DhKeyPair::from_exponent(&three).unwrap().public().as_bytes()[DH_LEN - 1], 8);
    let mut one = [0u8; 32];
    one[31] = 1;
    assert_eq!(DhKeyPair::from_exponent(&one).unwrap_err(), Error::InvalidPrivateKey);
}

proptest! {
    #[test]
    fn the_legacy_decoders_are_total(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = LegacyHello::decode(&bytes);
        let _ = LegacyShare::decode(&bytes);
        let _ = legacy::messages::decode_nonce_block(&bytes);
        let _ = PedHelloReceived::receive(f(&frame::encode(FrameType::HsmHello, &bytes)));
    }
}

fn hex(b: &[u8]) -> String {
    hex::encode(b)
}

fn line(out: &mut String, name: &str, value: &[u8]) {
    let h = hex(value);
    if h.len() <= 64 {
        writeln!(out, "    {name:<18} {h}").unwrap();
    } else {
        writeln!(out, "    {name:<18} ({} bytes)", value.len()).unwrap();
        for chunk in h.as_bytes().chunks(64) {
            writeln!(out, "        {}", std::str::from_utf8(chunk).unwrap()).unwrap();
        }
    }
}

fn aes_block(key: &[u8], block: &[u8]) -> Vec<u8> {
    let mut b = aes::Block::try_from(block).unwrap();
    Aes256::new_from_slice(key).unwrap().encrypt_block(&mut b);
    b.to_vec()
}

/// §17.5: every random input fixed, both ends run, every value recomputed from the
/// document's rules with the primitives (AES, SHA-256, HKDF) where it can be.
fn render() -> String {
    let x_v = Sha256::digest(b"legacy example: HSM exponent").to_vec();
    let x_u = Sha256::digest(b"legacy example: PED exponent").to_vec();
    let (r1, p1, p2, r2) = ([0x11u8; 8], [0x22u8; 8], [0x33u8; 8], [0x44u8; 8]);
    let mut hsm_rng = ScriptedRng([x_v.as_slice(), &r1, &p1, &p2].concat());
    let mut ped_rng = ScriptedRng([x_u.as_slice(), &r2].concat());
    let (credential, entry) = orange(0x5e);
    let mut run = handshake(&mut hsm_rng, &mut ped_rng, &credential, &entry, |_, _| {}).unwrap();
    assert!(hsm_rng.0.is_empty() && ped_rng.0.is_empty(), "each end drew exactly its script");

    let body = |i: usize| f(&run.frames[i]).body.to_vec();
    let y_v = DhKeyPair::from_exponent(&x_v.clone().try_into().unwrap()).unwrap();
    let y_u = DhKeyPair::from_exponent(&x_u.clone().try_into().unwrap()).unwrap();
    let z = y_v.agree(y_u.public());
    assert_eq!(*z, *y_u.agree(y_v.public()), "both ends find the same Z");
    let mut info = legacy::handshake::KDF_LABEL.to_vec();
    info.extend_from_slice(&Sha256::digest(body(0)));
    info.extend_from_slice(&Sha256::digest(body(1)));
    let mut okm = [0u8; 96];
    hkdf::Hkdf::<Sha256>::new(Some(credential.rpv.expose()), z.as_slice()).expand(&info, &mut okm).unwrap();
    let (ke, k_h2p, k_p2h) = (&okm[..32], &okm[32..64], &okm[64..]);
    assert_eq!(body(2), aes_block(ke, &[r1, p1].concat()), "E(Ke, R1 ‖ P1)");
    assert_eq!(body(3), aes_block(ke, &[r2, r1].concat()), "E(Ke, R2 ‖ R1)");
    assert_eq!(body(4), aes_block(ke, &[p2, r2].concat()), "E(Ke, P2 ‖ R2)");

    let record = run.hsm.seal(PAYLOAD).unwrap();
    let mut content = vec![0x01];
    content.extend_from_slice(PAYLOAD);
    let header = &record[..frame::HEADER_LEN];
    let digest = Sha256::new().chain_update(0u64.to_be_bytes()).chain_update(header).chain_update(&content).finalize();
    let plain = [content.as_slice(), &digest].concat();
    let iv = [r1, r2].concat();
    let mut feedback = iv.clone();
    let mut keystream = Vec::new();
    while keystream.len() < plain.len() {
        feedback = aes_block(k_h2p, &feedback);
        keystream.extend_from_slice(&feedback);
    }
    let by_hand: Vec<u8> = plain.iter().zip(&keystream).map(|(p, k)| p ^ k).collect();
    assert_eq!(&record[frame::HEADER_LEN..], by_hand.as_slice(), "OFB by hand");
    assert_eq!(open_data(&mut run.ped, &record), PAYLOAD);
    // The stream runs on across records, as the `ofb` crate's one stream does.
    let mut reference = ofb::Ofb::<Aes256>::new_from_slices(k_h2p, &iv).unwrap();
    let mut first = plain.clone();
    reference.apply_keystream(&mut first);
    assert_eq!(&record[frame::HEADER_LEN..], first.as_slice(), "the ofb crate's first record");
    let next = run.hsm.seal(CSP).unwrap();
    let next_plain = open_data(&mut run.ped, &next);
    let header = &next[..frame::HEADER_LEN];
    let hasher = Sha256::new().chain_update(1u64.to_be_bytes()).chain_update(header).chain_update([0x01]);
    let mut expected = [&[0x01], next_plain.as_slice(), &hasher.chain_update(CSP).finalize()].concat();
    reference.apply_keystream(&mut expected);
    assert_eq!(&next[frame::HEADER_LEN..], expected.as_slice(), "the ofb crate's second record");

    let mut out = String::new();
    writeln!(
        out,
        "Inputs: HSM `{}` on firmware 7.4.2, PED `{}`, orange seed 32 × `5e`",
        std::str::from_utf8(HSM_ID).unwrap(),
        std::str::from_utf8(PED_ID).unwrap()
    )
    .unwrap();
    writeln!(out, "(keyset `0a` × 16), R1 = `11` × 8, P1 = `22` × 8, P2 = `33` × 8, R2 = `44` × 8.\n").unwrap();
    line(&mut out, "RPV", credential.rpv.expose());
    line(&mut out, "x_V", &x_v);
    line(&mut out, "x_U", &x_u);
    line(&mut out, "HsmHello", &run.frames[0]);
    line(&mut out, "PedKeyShare", &run.frames[1]);
    line(&mut out, "Z", z.as_slice());
    line(&mut out, "info", &info);
    line(&mut out, "Ke", ke);
    line(&mut out, "K_HSM→PED", k_h2p);
    line(&mut out, "K_PED→HSM", k_p2h);
    line(&mut out, "E(R1 ‖ P1)", &run.frames[2]);
    line(&mut out, "E(R2 ‖ R1)", &run.frames[3]);
    line(&mut out, "E(P2 ‖ R2)", &run.frames[4]);
    writeln!(out, "\nThe first HSM→PED record (seq 0) carries `{}`:\n", std::str::from_utf8(PAYLOAD).unwrap()).unwrap();
    line(&mut out, "IV_HSM→PED", &iv);
    line(&mut out, "digest", &digest);
    line(&mut out, "record", &record);
    out
}

#[test]
fn the_worked_example_matches_the_document() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md");
    let doc = std::fs::read_to_string(&path).expect("docs/protocol.md is readable");
    let rendered = render();
    let (Some(start), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/protocol.md has no §17.5 markers");
    };
    let start = start + BEGIN.len();
    if std::env::var_os("PED_BLESS").is_some() {
        std::fs::write(&path, format!("{}{}{}", &doc[..start], rendered, &doc[end..])).unwrap();
        return;
    }
    assert!(doc[start..end] == rendered, "docs/protocol.md §17.5 differs from the code; rerun with PED_BLESS=1");
}
