//! Measures the costs that size the channel: the P-521 primitives, each end's share of
//! a handshake, and the record layer against the bare primitives under it.
//!
//! ```text
//! cargo run --release -p ped-proto --example bench
//! ```
//!
//! Prints one line per figure, `<name> <median_ns>`, all measured in this run, then
//! ratio lines `<name> <x>`:
//!
//! - `<end>_side_<scheme>_ratio`: that end's handshake time over the sum of the P-521
//!   operations it must perform (measured above). Near 1 means the protocol adds
//!   nothing worth optimising around the curve arithmetic.
//! - `record_16k_throughput_vs_raw`: the record layer's throughput at 16 KiB as a
//!   fraction of bare AES-256-CTR + HMAC-SHA-512 doing the same work; 0.91 means the
//!   record layer costs 10 % more than the primitives it is made of.
//!
//! Each figure is the median of many timed iterations after a warm-up, so a stray
//! scheduler pause moves it little.

use std::error::Error;
use std::hint::black_box;
use std::time::Instant;

use der::{Decode, Encode};
use getrandom::SysRng;
use ped_proto::cert::{self, ChainCache};
use ped_proto::factory::Factory;
use ped_proto::frame::{Frame, FrameHeader, FrameType};
use ped_proto::handshake::SUPPORTED_VERSIONS;
use ped_proto::handshake::hsm::{self, HsmIdentity};
use ped_proto::handshake::ped::AwaitingHello;
use ped_proto::internal::ctr;
use ped_proto::internal::ecdh::EcdhKeyPair;
use ped_proto::internal::kdf::{self, AuxFunction};
use ped_proto::internal::mac;
use ped_proto::orange::{ORANGE_SEED_LEN, RpkCredential, RpkEntry};
use ped_proto::quorum::KeysetId;
use ped_proto::record::{ChannelSession, MAX_PAYLOAD_LEN, Opened};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng, UnwrapErr};
use x509_cert::Certificate;

const NOW: u64 = 1_790_000_000;
const SERIAL: &str = "154438865";
const PED_ID: &[u8] = b"PED-0001";

/// Timed iterations by the scale of the operation: fractions of a millisecond and more
/// (P-521, handshakes), tens of microseconds (16 KiB records), about a microsecond.
const SLOW: usize = 200;
const FAST: usize = 2_000;
const TINY: usize = 20_000;

/// How the handshake of one end is timed alone: each end draws its randomness from a
/// ChaCha20 generator re-seeded with a fixed seed at every iteration, so it sends the
/// same messages every time, and the other end's answers, computed once beforehand,
/// fit every iteration. The timed end does all of its real work (key generation, every
/// ECDH, every signature check, the KDF, the tags); only the source of its random bytes
/// differs from production (ChaCha20 instead of the OS, nanoseconds against a
/// millisecond-scale total).
const HSM_SEED: u64 = 0xbe9c_0001;
const PED_SEED: u64 = 0xbe9c_0002;

/// ECDSA verifications a PED with a cold cache performs: each chain check verifies the
/// root's self-signature and then each of the three links below it. Every kind checks
/// the HSM's chain only (protocol version 2 sends no RPK certificate).
const VERIFIES_PER_CHAIN: f64 = 4.0;

#[allow(clippy::print_stdout, reason = "a benchmark reports on its terminal")]
fn main() -> Result<(), Box<dyn Error>> {
    let setup = Setup::new()?;

    let mut os_rng = UnwrapErr(SysRng);
    let keygen = report("p521_keygen", median_ns(SLOW, || EcdhKeyPair::generate(&mut os_rng)));
    let (a, b) = (EcdhKeyPair::generate(&mut os_rng), EcdhKeyPair::generate(&mut os_rng));
    let ecdh = report("p521_ecdh", median_ns(SLOW, || a.diffie_hellman(b.public())));

    let signed = SignedCert::leaf_of(&setup.identity.chain)?;
    if !cert::verify_ecdsa_p521_sha512(&signed.issuer_key, &signed.tbs, &signed.signature) {
        return Err("the leaf certificate's signature does not verify".into());
    }
    let verify = report(
        "ecdsa_p521_verify",
        median_ns(SLOW, || {
            cert::verify_ecdsa_p521_sha512(&signed.issuer_key, black_box(&signed.tbs), &signed.signature)
        }),
    );

    // A C(1e,1s) password-channel derivation: 66-byte Z, a FixedInfo of the size the
    // schedule builds (AlgorithmID, both parties' identifiers and ephemeral data,
    // SuppPubInfo with the hello hash, the password), 1024 bits out.
    let z = [0x5a; 66];
    let fixed_info = [0xa5; 293];
    let mut dkm = [0u8; 128];
    report(
        "kdf_onestep_sha512_128B",
        median_ns(TINY, || {
            kdf::one_step(AuxFunction::Sha512, &z, black_box(&fixed_info), &mut dkm).expect("128 bytes is in range");
            dkm
        }),
    );

    let rpv = Recorded::new(&setup, Scheme::C2e2s)?;
    let hsm_c2 = report("hsm_side_c2e2s", median_ns(SLOW, || setup.hsm_side(&rpv).expect("recorded share")));
    let ped_c2 =
        report("ped_side_c2e2s", median_ns(SLOW, || setup.ped_side(&rpv, &mut ChainCache::default()).expect("cold")));
    // The first warm-up iteration verifies both chains; every timed one finds them cached.
    let mut warm = ChainCache::default();
    let ped_c2_warm = report("ped_side_c2e2s_warm", median_ns(SLOW, || setup.ped_side(&rpv, &mut warm).expect("warm")));

    let local = Recorded::new(&setup, Scheme::C1e1s)?;
    let hsm_c1 = report("hsm_side_c1e1s", median_ns(SLOW, || setup.hsm_side(&local).expect("recorded share")));
    let ped_c1 =
        report("ped_side_c1e1s", median_ns(SLOW, || setup.ped_side(&local, &mut ChainCache::default()).expect("cold")));

    let (mut hsm, mut ped) = setup.channel(Scheme::C2e2s)?;
    let payload = vec![0x3c; MAX_PAYLOAD_LEN];
    let record = report("record_16k_roundtrip", median_ns(FAST, || round_trip(&mut hsm, &mut ped, &payload)));
    let mut content = vec![0x3c; 1 + payload.len()];
    let raw = report("raw_ctr_hmac_16k_roundtrip", median_ns(FAST, || raw_round_trip(&mut content)));
    report("record_64b_roundtrip", median_ns(TINY, || round_trip(&mut hsm, &mut ped, &payload[..64])));
    // Every kind's records are AES-256-CTR + HMAC-SHA-512 now: the local channel's
    // cost the same as the remote one's.
    let (mut hsm, mut ped) = setup.channel(Scheme::C1e1s)?;
    report("record_16k_roundtrip_c1e1s", median_ns(FAST, || round_trip(&mut hsm, &mut ped, &payload)));

    // The PED's orange work once the seed is reassembled: RPV and RPK scalar (SHA-512
    // and RFC 9380 hash_to_field; no scalar multiplication), against the HSM's entry
    // for the same seed (which adds d·G).
    let seed = [0x5au8; ORANGE_SEED_LEN];
    let id = KeysetId::from_bytes([0x0a; 16]);
    report(
        "orange_credential_from_seed",
        median_ns(FAST, || RpkCredential::from_seed(id, black_box(&seed)).expect("32 bytes")),
    );
    report("orange_entry_from_seed", median_ns(SLOW, || RpkEntry::from_seed(id, black_box(&seed)).expect("32 bytes")));

    // The P-521 work each end cannot avoid. HSM, C(2e,2s): its ephemeral key, then Ze
    // and Zs. PED, C(2e,2s): the same three, plus one chain's signatures when cold.
    // HSM, C(1e,1s): Z only (its contribution is a nonce). PED, C(1e,1s): its
    // ephemeral key and Z, plus one chain's signatures when cold.
    let ratios = [
        ("hsm_side_c2e2s_ratio", hsm_c2 / (keygen + 2.0 * ecdh)),
        ("ped_side_c2e2s_ratio", ped_c2 / (keygen + 2.0 * ecdh + VERIFIES_PER_CHAIN * verify)),
        ("ped_side_c2e2s_warm_ratio", ped_c2_warm / (keygen + 2.0 * ecdh)),
        ("hsm_side_c1e1s_ratio", hsm_c1 / ecdh),
        ("ped_side_c1e1s_ratio", ped_c1 / (keygen + ecdh + VERIFIES_PER_CHAIN * verify)),
        // Time ratio record/raw = throughput ratio raw/record.
        ("record_16k_throughput_vs_raw", raw / record),
    ];
    for (name, x) in ratios {
        println!("{name} {x:.3}");
    }
    Ok(())
}

/// Prints one figure and returns it for the ratios.
#[allow(clippy::print_stdout, reason = "a benchmark reports on its terminal")]
fn report(name: &str, median_ns: u64) -> f64 {
    println!("{name} {median_ns}");
    median_ns as f64
}

/// The median, in nanoseconds, of `iterations` timed runs of `op` after a warm-up of a
/// tenth as many (which also faults in every page and fills the caches).
fn median_ns<T>(iterations: usize, mut op: impl FnMut() -> T) -> u64 {
    for _ in 0..iterations / 10 {
        black_box(op());
    }
    let mut samples: Vec<u64> = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            black_box(op());
            u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
        })
        .collect();
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// One HSM's factory chain, identity and orange key.
struct Setup {
    root: Vec<u8>,
    identity: HsmIdentity,
    rpks: [RpkEntry; 1],
    rpk: RpkCredential,
}

/// The two schemes benchmarked. The password channel is C(1e,1s) like the local one,
/// with one more HMAC on each side; it adds nothing to measure.
#[derive(Clone, Copy)]
enum Scheme {
    /// Local: C(1e,1s), the HSM contributes a nonce.
    C1e1s,
    /// Remote after RPV initialisation: C(2e,2s).
    C2e2s,
}

/// A handshake of one scheme whose messages were recorded with the fixed seeds: each end,
/// replayed with its seed, meets exactly these messages from the other.
struct Recorded {
    scheme: Scheme,
    hello: Vec<u8>,
    share: Vec<u8>,
    finished: Vec<u8>,
}

impl Setup {
    fn new() -> Result<Self, Box<dyn Error>> {
        let mut rng = UnwrapErr(SysRng);
        let factory = Factory::manufacture(&mut rng, SERIAL, NOW)?;
        let identity = factory.hsm_identity(&mut rng, SERIAL, NOW)?;
        let keyset_id = KeysetId::generate(&mut rng);
        let mut seed = [0u8; ORANGE_SEED_LEN];
        rng.fill_bytes(&mut seed);
        let rpk_entry = RpkEntry::from_seed(keyset_id, &seed)?;
        let rpk = RpkCredential::from_seed(keyset_id, &seed)?;
        Ok(Setup { root: factory.root.certificate_der().to_vec(), identity, rpks: [rpk_entry], rpk })
    }

    /// The HSM's whole handshake: hello, then the recorded key share. Returns the
    /// HsmFinished frame.
    fn hsm_side(&self, recorded: &Recorded) -> Result<Vec<u8>, Box<dyn Error>> {
        let mut rng = ChaCha20Rng::seed_from_u64(HSM_SEED);
        let share = Frame::decode_exact(&recorded.share)?;
        Ok(match recorded.scheme {
            Scheme::C2e2s => {
                let (state, _hello) = hsm::start_rpv(&self.identity, SUPPORTED_VERSIONS, &self.rpks, &mut rng)?;
                state.receive_key_share(share, &self.rpks)?.1
            }
            Scheme::C1e1s => {
                let (state, _hello) = hsm::start_local(&self.identity, SUPPORTED_VERSIONS, &mut rng)?;
                state.receive_key_share(share)?.1
            }
        })
    }

    /// The PED's whole handshake: the recorded hello, its answer, the recorded
    /// HsmFinished. `cache` decides whether the chains are verified or remembered.
    fn ped_side(&self, recorded: &Recorded, cache: &mut ChainCache) -> Result<ChannelSession, Box<dyn Error>> {
        let mut rng = ChaCha20Rng::seed_from_u64(PED_SEED);
        let ped = AwaitingHello::new(PED_ID, SUPPORTED_VERSIONS).receive_hello(
            Frame::decode_exact(&recorded.hello)?,
            &self.root,
            NOW,
            cache,
        )?;
        let (ped, share) = match recorded.scheme {
            Scheme::C2e2s => ped.respond_rpv(&self.rpk, &mut rng)?,
            Scheme::C1e1s => ped.respond_local(&mut rng)?,
        };
        if share != recorded.share {
            return Err("the PED's replay diverged from its recording".into());
        }
        Ok(ped.receive_finished(Frame::decode_exact(&recorded.finished)?)?)
    }

    /// An established channel: (HSM session, PED session).
    fn channel(&self, scheme: Scheme) -> Result<(ChannelSession, ChannelSession), Box<dyn Error>> {
        let recorded = Recorded::new(self, scheme)?;
        let mut rng = ChaCha20Rng::seed_from_u64(HSM_SEED);
        let share = Frame::decode_exact(&recorded.share)?;
        let hsm = match scheme {
            Scheme::C2e2s => {
                hsm::start_rpv(&self.identity, SUPPORTED_VERSIONS, &self.rpks, &mut rng)?
                    .0
                    .receive_key_share(share, &self.rpks)?
                    .0
            }
            Scheme::C1e1s => {
                hsm::start_local(&self.identity, SUPPORTED_VERSIONS, &mut rng)?.0.receive_key_share(share)?.0
            }
        };
        Ok((hsm, self.ped_side(&recorded, &mut ChainCache::default())?))
    }
}

impl Recorded {
    fn new(setup: &Setup, scheme: Scheme) -> Result<Self, Box<dyn Error>> {
        let mut hsm_rng = ChaCha20Rng::seed_from_u64(HSM_SEED);
        let hello = match scheme {
            Scheme::C2e2s => hsm::start_rpv(&setup.identity, SUPPORTED_VERSIONS, &setup.rpks, &mut hsm_rng)?.1,
            Scheme::C1e1s => hsm::start_local(&setup.identity, SUPPORTED_VERSIONS, &mut hsm_rng)?.1,
        };
        let mut ped_rng = ChaCha20Rng::seed_from_u64(PED_SEED);
        let ped = AwaitingHello::new(PED_ID, SUPPORTED_VERSIONS).receive_hello(
            Frame::decode_exact(&hello)?,
            &setup.root,
            NOW,
            &mut ChainCache::default(),
        )?;
        let (_, share) = match scheme {
            Scheme::C2e2s => ped.respond_rpv(&setup.rpk, &mut ped_rng)?,
            Scheme::C1e1s => ped.respond_local(&mut ped_rng)?,
        };
        let mut recorded = Recorded { scheme, hello, share, finished: Vec::new() };
        recorded.finished = setup.hsm_side(&recorded)?;
        Ok(recorded)
    }
}

/// The signed parts of a certificate and its issuer's key: what one link of a chain
/// check verifies.
struct SignedCert {
    tbs: Vec<u8>,
    signature: Vec<u8>,
    issuer_key: Vec<u8>,
}

impl SignedCert {
    /// The HSM static-key certificate (`chain[0]`) and the HOC's key (`chain[1]`).
    fn leaf_of(chain: &[Vec<u8>]) -> Result<Self, Box<dyn Error>> {
        let [leaf, hoc, ..] = chain else { return Err("the chain has no issuer".into()) };
        let leaf = Certificate::from_der(leaf)?;
        let hoc = Certificate::from_der(hoc)?;
        Ok(SignedCert {
            tbs: leaf.tbs_certificate().to_der()?,
            signature: leaf.signature().raw_bytes().to_vec(),
            issuer_key: hoc.tbs_certificate().subject_public_key_info().subject_public_key.raw_bytes().to_vec(),
        })
    }
}

/// Seal on the HSM, open on the PED.
fn round_trip(hsm: &mut ChannelSession, ped: &mut ChannelSession, payload: &[u8]) {
    let sealed = hsm.seal(black_box(payload)).expect("payload within the record limit");
    let frame = Frame::decode_exact(&sealed).expect("a sealed record is one frame");
    match ped.open(frame) {
        Ok(Opened::Data(data)) => assert_eq!(data.len(), payload.len()),
        other => panic!("a sealed record did not open: {other:?}"),
    }
}

/// The record layer's cryptographic work on one data record whose content (type byte
/// and payload) is `content`, and nothing else: AES-256-CTR over the content,
/// HMAC-SHA-512 over sequence number, header and ciphertext; then the check of the tag
/// and the decryption. In place, without the record layer's frame building and copies.
fn raw_round_trip(content: &mut [u8]) {
    const DEK: [u8; ctr::KEY_LEN] = [0x11; ctr::KEY_LEN];
    const DMK: [u8; 64] = [0x22; 64];
    let counter = [0u8; ctr::BLOCK_LEN];
    let seq = 0u64.to_be_bytes();
    let header = FrameHeader { frame_type: FrameType::Record, body_len: content.len() + mac::TAG_LEN }.encode();

    ctr::aes256_ctr_apply(&DEK, &counter, content);
    let tag = mac::hmac_sha512(&DMK, &[&seq, &header, content]);
    let expected = mac::hmac_sha512(&DMK, &[&seq, &header, black_box(&*content)]);
    assert!(mac::tags_equal(&expected, black_box(&tag)));
    ctr::aes256_ctr_apply(&DEK, &counter, content);
    black_box(content);
}
