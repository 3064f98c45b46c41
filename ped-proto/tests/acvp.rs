//! Runs the ACVP harness of `examples/acvp.rs` over every vector set under
//! `<vectors>/acvp/` (see `common::vectors_dir`) and pins, per folder, how many cases
//! pass, fail and are skipped. The counts are exact: a case that quietly turned into a
//! skip, or a folder that stopped being read, fails the test as surely as a wrong answer.

#[path = "../examples/acvp/harness.rs"]
mod harness;

mod common;

use std::fs;

use harness::Tally;

const fn tally(passed: usize, skipped: usize) -> Tally {
    Tally { passed, failed: 0, skipped }
}

/// Every folder under `acvp/`, with its expected tally. The skips are cases outside the
/// channel's code path (see the runner's output for the reason of each).
const FOLDERS: &[(&str, Tally)] = &[
    // AES-256 only (33 of 150); 17 of the AES-256 payloads are not whole bytes.
    ("ACVP-AES-CTR-1.0", tally(33, 117)),
    // kwCipher "cipher" at all three key sizes; the 3600 "inverse" cases are skipped.
    ("ACVP-AES-KWP-1.0", tally(3600, 3600)),
    ("HMAC-SHA2-512-1.0", tally(975, 0)),
    // The NIST sample has Koblitz curves only: handled algorithm, nothing on P-521.
    ("KAS-ECC-SSC-Sp800-56Ar3", tally(0, 20)),
    // The full KAS scheme on P-224 with SHA-1 and KMAC: not handled.
    ("KAS-ECC-Sp800-56Ar3", tally(0, 35)),
    // The HMAC-SHA2-224 groups: our MacData under that MAC, tag against NIST's. The
    // CMAC and KMAC groups are not an HMAC and are skipped (their MacData is still
    // compared with the server's internalProjection).
    ("KAS-KC-Sp800-56", tally(96, 192)),
    // SHA2-512 and HMAC-SHA2-512 (default and random salt), AFT and VAL.
    ("KDA-OneStep-Sp800-56Cr1", tally(150, 400)),
    ("KDA-OneStep-Sp800-56Cr2", tally(150, 400)),
    // KDA-OneStep: 30 checked against aws-lc's answers. KAS-ECC-SSC: its P-521 VAL
    // group has no verdicts (self-checked, skipped). KAS-ECC: not handled.
    ("aws-lc", tally(30, 310)),
];

fn check(folder: &str) {
    let expected = FOLDERS
        .iter()
        .find(|(name, _)| *name == folder)
        .map(|(_, tally)| *tally)
        .unwrap_or_else(|| panic!("{folder} is not listed in FOLDERS"));
    let dir = common::vectors_dir().join("acvp").join(folder);
    let report = harness::run_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.tally, expected, "{folder}:\n{}", report.lines.join("\n"));
}

#[test]
fn aes_ctr() {
    check("ACVP-AES-CTR-1.0");
}

#[test]
fn aes_kwp() {
    check("ACVP-AES-KWP-1.0");
}

#[test]
fn hmac_sha512() {
    check("HMAC-SHA2-512-1.0");
}

#[test]
fn kas_ecc_ssc() {
    check("KAS-ECC-SSC-Sp800-56Ar3");
}

#[test]
fn kas_ecc() {
    check("KAS-ECC-Sp800-56Ar3");
}

#[test]
fn kas_kc() {
    check("KAS-KC-Sp800-56");
}

#[test]
fn kda_one_step_cr1() {
    check("KDA-OneStep-Sp800-56Cr1");
}

#[test]
fn kda_one_step_cr2() {
    check("KDA-OneStep-Sp800-56Cr2");
}

#[test]
fn aws_lc() {
    check("aws-lc");
}

/// A folder added to the vectors must be added to `FOLDERS` (and so be run), and a
/// listed folder must still exist.
#[test]
fn every_folder_is_listed() {
    let acvp = common::vectors_dir().join("acvp");
    let mut found: Vec<String> = fs::read_dir(&acvp)
        .unwrap_or_else(|e| panic!("{}: {e}", acvp.display()))
        .map(|entry| entry.unwrap_or_else(|e| panic!("{}: {e}", acvp.display())))
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut listed: Vec<&str> = FOLDERS.iter().map(|(name, _)| *name).collect();
    listed.sort_unstable();
    assert_eq!(found, listed);
}

#[test]
fn unreadable_dir_is_an_error() {
    let missing = common::vectors_dir().join("acvp").join("no-such-vector-set");
    let error = harness::run_dir(&missing).expect_err("a missing directory must not yield a report");
    assert!(error.to_string().contains("no-such-vector-set"), "{error}");
}
