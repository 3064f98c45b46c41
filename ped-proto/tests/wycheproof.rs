//! Project Wycheproof vectors (C2SP/wycheproof) through the channel's primitives: P-521
//! ECC CDH with X.509 SubjectPublicKeyInfo and with raw SEC1 public keys, AES-KWP and
//! HMAC-SHA-512.
//!
//! `valid` cases must produce the expected value, `invalid` ones must be rejected, and
//! `acceptable` ones may go either way but must be right if accepted. Every file pins
//! the exact number of cases of each outcome, so that a case which quietly stops being
//! checked (or flips between accepted and rejected) fails the test.

mod common;

use std::fs;

use p521::NistP521;
use p521::elliptic_curve::ALGORITHM_OID;
use p521::pkcs8::{AssociatedOid, DecodePublicKey, SubjectPublicKeyInfoRef};
use ped_proto::internal::ecdh::{EcdhKeyPair, EcdhPublicKey, FIELD_LEN, PUBLIC_KEY_LEN};
use ped_proto::internal::{kwp, mac};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A byte string, hex in the JSON.
#[derive(Debug)]
struct Hex(Vec<u8>);

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        hex::decode(text).map(Hex).map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Expectation {
    Valid,
    Invalid,
    Acceptable,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestFile<G> {
    algorithm: String,
    number_of_tests: usize,
    test_groups: Vec<G>,
}

#[derive(Deserialize)]
struct EcdhGroup {
    curve: String,
    tests: Vec<EcdhTest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EcdhTest {
    tc_id: u64,
    comment: String,
    public: Hex,
    private: Hex,
    shared: Hex,
    result: Expectation,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KwpGroup {
    key_size: usize,
    tests: Vec<KwpTest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KwpTest {
    tc_id: u64,
    comment: String,
    key: Hex,
    msg: Hex,
    ct: Hex,
    result: Expectation,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MacGroup {
    key_size: usize,
    tag_size: usize,
    tests: Vec<MacTest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MacTest {
    tc_id: u64,
    comment: String,
    key: Hex,
    msg: Hex,
    tag: Hex,
    result: Expectation,
}

fn load<G: DeserializeOwned>(name: &str, algorithm: &str) -> TestFile<G> {
    let path = common::vectors_dir().join("wycheproof").join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file: TestFile<G> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(file.algorithm, algorithm, "{}", path.display());
    file
}

/// What our code made of one case.
enum Verdict {
    /// Accepted the input; `correct` says whether the output is the expected one.
    Accepted {
        correct: bool,
    },
    Rejected,
}

/// Outcome counts of one file.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    valid_matched: usize,
    invalid_rejected: usize,
    acceptable_accepted: usize,
    acceptable_rejected: usize,
}

#[derive(Default)]
struct Run {
    counts: Counts,
    failures: Vec<String>,
    cases: usize,
}

impl Run {
    fn record(&mut self, tc_id: u64, comment: &str, expectation: Expectation, verdict: Result<Verdict, String>) {
        self.cases += 1;
        let failure = match (expectation, verdict) {
            (_, Err(why)) => why,
            (Expectation::Valid, Ok(Verdict::Accepted { correct: true })) => {
                self.counts.valid_matched += 1;
                return;
            }
            (Expectation::Invalid, Ok(Verdict::Rejected)) => {
                self.counts.invalid_rejected += 1;
                return;
            }
            (Expectation::Acceptable, Ok(Verdict::Accepted { correct: true })) => {
                self.counts.acceptable_accepted += 1;
                return;
            }
            (Expectation::Acceptable, Ok(Verdict::Rejected)) => {
                self.counts.acceptable_rejected += 1;
                return;
            }
            (Expectation::Valid, Ok(Verdict::Rejected)) => "valid case rejected".to_owned(),
            (Expectation::Invalid, Ok(Verdict::Accepted { .. })) => "invalid case accepted".to_owned(),
            (_, Ok(Verdict::Accepted { correct: false })) => "accepted with a wrong result".to_owned(),
        };
        self.failures.push(format!("tc {tc_id} ({comment}): {failure}"));
    }

    fn assert(self, number_of_tests: usize, expected: Counts) {
        assert!(self.failures.is_empty(), "{} failures:\n{}", self.failures.len(), self.failures.join("\n"));
        assert_eq!(self.cases, number_of_tests, "cases run versus numberOfTests");
        assert_eq!(self.counts, expected);
    }
}

/// Wycheproof writes the private key as a signed big-endian integer (a leading 00 when
/// the top bit is set) or shorter than the field: bring it to the 66 bytes our API takes.
fn private_scalar(bytes: &[u8]) -> Option<[u8; FIELD_LEN]> {
    let start = bytes.len().saturating_sub(FIELD_LEN);
    let (excess, tail) = bytes.split_at(start);
    if excess.iter().any(|&b| b != 0) {
        return None;
    }
    let mut out = [0u8; FIELD_LEN];
    out[FIELD_LEN - tail.len()..].copy_from_slice(tail);
    Some(out)
}

type PublicKeyDecoder = fn(&[u8]) -> Result<Option<EcdhPublicKey>, String>;

fn run_ecdh(file: TestFile<EcdhGroup>, decode: PublicKeyDecoder) -> Run {
    let mut run = Run::default();
    for group in &file.test_groups {
        assert_eq!(group.curve, "secp521r1");
        for test in &group.tests {
            let verdict = ecdh_verdict(test, decode);
            run.record(test.tc_id, &test.comment, test.result, verdict);
        }
    }
    run
}

fn ecdh_verdict(test: &EcdhTest, decode: PublicKeyDecoder) -> Result<Verdict, String> {
    // Every Wycheproof private key is a valid scalar: refusing one is our failure.
    let pair = private_scalar(&test.private.0)
        .and_then(|scalar| EcdhKeyPair::from_private_bytes(&scalar).ok())
        .ok_or("private key refused")?;
    Ok(match decode(&test.public.0)? {
        Some(peer) => Verdict::Accepted { correct: pair.diffie_hellman(&peer).as_bytes()[..] == test.shared.0[..] },
        None => Verdict::Rejected,
    })
}

/// SubjectPublicKeyInfo: p521's SPKI support parses the DER and checks the algorithm
/// (id-ecPublicKey with the named curve secp521r1; explicit parameters and other curves
/// are refused), then the point goes through our validation. p521's own one-call
/// decoder must reach the same decision.
fn decode_spki(der: &[u8]) -> Result<Option<EcdhPublicKey>, String> {
    let ours = SubjectPublicKeyInfoRef::try_from(der)
        .ok()
        .filter(|spki| spki.algorithm.assert_oids(ALGORITHM_OID, NistP521::OID).is_ok())
        .and_then(|spki| spki.subject_public_key.as_bytes())
        .and_then(|point| EcdhPublicKey::from_sec1(point).ok());
    let library = p521::PublicKey::from_public_key_der(der).ok();
    if ours.map(|key| *key.as_p521()) != library {
        return Err(format!("our decoding ({}) and p521's ({}) disagree", ours.is_some(), library.is_some()));
    }
    Ok(ours)
}

/// A raw SEC1 point through `from_sec1` (compressed allowed). The wire decoder
/// `from_uncompressed` must accept exactly the uncompressed subset of it.
fn decode_point(bytes: &[u8]) -> Result<Option<EcdhPublicKey>, String> {
    let any_form = EcdhPublicKey::from_sec1(bytes).ok();
    let uncompressed = bytes.len() == PUBLIC_KEY_LEN && bytes[0] == 0x04;
    let wire = EcdhPublicKey::from_uncompressed(bytes).ok();
    if wire != any_form.filter(|_| uncompressed) {
        return Err(format!(
            "from_uncompressed ({}) disagrees with from_sec1 ({})",
            wire.is_some(),
            any_form.is_some()
        ));
    }
    Ok(any_form)
}

#[test]
fn ecdh_secp521r1_spki() {
    let file = load::<EcdhGroup>("ecdh_secp521r1_test.json", "ECDH");
    let number_of_tests = file.number_of_tests;
    run_ecdh(file, decode_spki).assert(
        number_of_tests,
        Counts { valid_matched: 632, invalid_rejected: 56, acceptable_accepted: 1, acceptable_rejected: 227 },
    );
}

#[test]
fn ecdh_secp521r1_ecpoint() {
    let file = load::<EcdhGroup>("ecdh_secp521r1_ecpoint_test.json", "ECDH");
    let number_of_tests = file.number_of_tests;
    run_ecdh(file, decode_point).assert(
        number_of_tests,
        Counts { valid_matched: 632, invalid_rejected: 28, acceptable_accepted: 1, acceptable_rejected: 0 },
    );
}

#[test]
fn aes_kwp() {
    let file = load::<KwpGroup>("aes_kwp_test.json", "AES-KWP");
    let mut run = Run::default();
    for group in &file.test_groups {
        for test in &group.tests {
            assert_eq!(test.key.0.len() * 8, group.key_size, "tc {}: key length versus keySize", test.tc_id);
            let verdict = match kwp::unwrap(&test.key.0, &test.ct.0) {
                // Wrapping is deterministic: a valid case must also wrap to exactly ct.
                Ok(plaintext) => Verdict::Accepted {
                    correct: plaintext[..] == test.msg.0[..]
                        && kwp::wrap(&test.key.0, &test.msg.0).is_ok_and(|wrapped| wrapped == test.ct.0),
                },
                Err(_) => Verdict::Rejected,
            };
            run.record(test.tc_id, &test.comment, test.result, Ok(verdict));
        }
    }
    run.assert(
        file.number_of_tests,
        Counts { valid_matched: 77, invalid_rejected: 177, acceptable_accepted: 0, acceptable_rejected: 0 },
    );
}

#[test]
fn hmac_sha512() {
    let file = load::<MacGroup>("hmac_sha512_test.json", "HMACSHA512");
    let mut run = Run::default();
    for group in &file.test_groups {
        assert!(group.tag_size % 8 == 0 && group.tag_size / 8 <= mac::TAG_LEN, "tagSize {}", group.tag_size);
        for test in &group.tests {
            assert_eq!(test.key.0.len() * 8, group.key_size, "tc {}: key length versus keySize", test.tc_id);
            let tag = mac::hmac_sha512(&test.key.0, &[&test.msg.0]);
            let verdict = if mac::tags_equal(&tag[..group.tag_size / 8], &test.tag.0) {
                Verdict::Accepted { correct: true }
            } else {
                Verdict::Rejected
            };
            run.record(test.tc_id, &test.comment, test.result, Ok(verdict));
        }
    }
    run.assert(
        file.number_of_tests,
        Counts { valid_matched: 66, invalid_rejected: 108, acceptable_accepted: 0, acceptable_rejected: 0 },
    );
}
