//! Every Wycheproof ECDSA P-521/SHA-512 case, DER and IEEE P1363 encodings, through the
//! verifier the certificate chain uses: `valid` must verify, `invalid` must not,
//! `acceptable` may do either.
//!
//! The vectors live in `shared/vectors` beside the checkout (override with
//! `PED_VECTORS_DIR`); the test fails, not skips, when they are missing.

use std::path::PathBuf;

use ped_proto::cert::{verify_ecdsa_p521_sha512, verify_ecdsa_p521_sha512_p1363};
use serde_json::Value;

/// Counts of one file's cases by expected result, plus the ones that went wrong.
#[derive(Debug, Default, PartialEq)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
    wrong: Vec<String>,
}

fn vectors_dir() -> PathBuf {
    let dir = std::env::var_os("PED_VECTORS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"));
    assert!(
        dir.is_dir(),
        "test vectors not found at {}: check out `shared/` beside the repository or set PED_VECTORS_DIR",
        dir.display()
    );
    dir
}

fn unhex(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("hex string")).expect("valid hex")
}

/// Runs every case of `file` through `verify(public_key, msg, sig)`.
fn run(file: &str, verify: fn(&[u8], &[u8], &[u8]) -> bool) -> Tally {
    let path = vectors_dir().join("wycheproof").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(json["algorithm"], "ECDSA");
    let mut tally = Tally::default();
    let mut seen = 0;
    for group in json["testGroups"].as_array().expect("testGroups") {
        assert_eq!(group["publicKey"]["curve"], "secp521r1");
        assert_eq!(group["sha"], "SHA-512");
        let key = unhex(&group["publicKey"]["uncompressed"]);
        for case in group["tests"].as_array().expect("tests") {
            seen += 1;
            let accepted = verify(&key, &unhex(&case["msg"]), &unhex(&case["sig"]));
            let result = case["result"].as_str().expect("result");
            let ok = match result {
                "valid" => {
                    tally.valid += 1;
                    accepted
                }
                "invalid" => {
                    tally.invalid += 1;
                    !accepted
                }
                "acceptable" => {
                    tally.acceptable += 1;
                    true
                }
                other => panic!("unknown result {other:?}"),
            };
            if !ok {
                tally.wrong.push(format!("tcId {} ({result}, {}): {}", case["tcId"], case["comment"], accepted));
            }
        }
    }
    assert_eq!(seen, json["numberOfTests"].as_u64().expect("numberOfTests") as usize);
    tally
}

#[test]
fn wycheproof_ecdsa_p521_sha512_der() {
    let tally = run("ecdsa_secp521r1_sha512_test.json", verify_ecdsa_p521_sha512);
    assert!(tally.wrong.is_empty(), "{:#?}", tally.wrong);
    assert_eq!((tally.valid, tally.invalid, tally.acceptable), (232, 310, 0));
}

#[test]
fn wycheproof_ecdsa_p521_sha512_p1363() {
    let tally = run("ecdsa_secp521r1_sha512_p1363_test.json", verify_ecdsa_p521_sha512_p1363);
    assert!(tally.wrong.is_empty(), "{:#?}", tally.wrong);
    assert_eq!((tally.valid, tally.invalid, tally.acceptable), (231, 87, 0));
}

#[test]
fn the_verifiers_refuse_bad_keys_and_cross_encodings() {
    let dir = vectors_dir().join("wycheproof");
    let text = std::fs::read_to_string(dir.join("ecdsa_secp521r1_sha512_p1363_test.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let group = &json["testGroups"][0];
    let case = group["tests"].as_array().unwrap().iter().find(|c| c["result"] == "valid").expect("a valid case");
    let (key, msg, sig) = (unhex(&group["publicKey"]["uncompressed"]), unhex(&case["msg"]), unhex(&case["sig"]));
    assert!(verify_ecdsa_p521_sha512_p1363(&key, &msg, &sig));
    // A P1363 signature is not DER, and a key off the curve verifies nothing.
    assert!(!verify_ecdsa_p521_sha512(&key, &msg, &sig));
    let mut off_curve = key.clone();
    off_curve[132] ^= 1;
    assert!(!verify_ecdsa_p521_sha512_p1363(&off_curve, &msg, &sig));
    assert!(!verify_ecdsa_p521_sha512_p1363(&key[..132], &msg, &sig));
    assert!(!verify_ecdsa_p521_sha512_p1363(&key, &msg, &sig[..131]));
}
