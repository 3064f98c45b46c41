//! The ACVP vector-set runner shared by `examples/acvp.rs` and `tests/acvp.rs`.
//!
//! Two layouts are read:
//! - NIST ACVP-Server: `prompt.json`, `expectedResults.json` and, when present,
//!   `internalProjection.json` (the server's view, with intermediate values).
//! - aws-lc: `vectors/*.json`, each a JSON array `[header, vector set]`, with the answers
//!   in `expected/<same name>` when aws-lc ships them.
//!
//! Every case goes through the ped-proto primitive that the secure channel itself uses.
//! A case counts as passed only when that code produced the answer; it is skipped,
//! never passed, when nothing in our code path can decide it (another curve, hash or
//! cipher), and a VAL case without its verdict is only self-checked and also skipped.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

#[path = "kas.rs"]
mod kas;
#[path = "kda.rs"]
mod kda;
#[path = "symmetric.rs"]
mod symmetric;

/// Counts of test cases by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) passed: usize,
    pub(crate) failed: usize,
    pub(crate) skipped: usize,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }

    fn record(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Passed { .. } => self.passed += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Skipped(_) => self.skipped += 1,
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed, {} skipped", self.passed, self.failed, self.skipped)
    }
}

/// The result of one run: readable lines (per vector file, per kind of group, per
/// failure) and the totals.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) lines: Vec<String>,
    pub(crate) tally: Tally,
}

/// A directory that cannot be read as ACVP vector sets.
#[derive(Debug)]
pub(crate) struct HarnessError(String);

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

/// Runs every vector set found in `dir` (either layout).
pub(crate) fn run_dir(dir: &Path) -> Result<Report, HarnessError> {
    let mut report = Report { lines: Vec::new(), tally: Tally::default() };
    for set in load_dir(dir)? {
        run_set(&set, &mut report)?;
    }
    Ok(report)
}

/// The verdict on one test case.
#[derive(Debug)]
enum Outcome {
    /// Our code produced the expected answer. `note` says what was checked when it was
    /// less than the whole answer.
    Passed { note: Option<String> },
    /// Our code disagreed with the expected answer, or the vector could not be read.
    Failed(String),
    /// Nothing in our code path can decide this case; the reason says why.
    Skipped(String),
}

impl Outcome {
    fn passed() -> Self {
        Outcome::Passed { note: None }
    }

    fn skipped(reason: impl Into<String>) -> Self {
        Outcome::Skipped(reason.into())
    }
}

/// One test case with everything the vector set says about it.
#[derive(Clone, Copy, Debug)]
struct Case<'a> {
    group: &'a Value,
    test: &'a Value,
    /// The entry of `expectedResults.json` (or aws-lc's `expected/`) for this tcId.
    expected: Option<&'a Value>,
    /// The entry of `internalProjection.json` for this tcId.
    projection: Option<&'a Value>,
}

impl Case<'_> {
    fn test_type(&self) -> Result<&str, String> {
        str_field(self.group, "testType")
    }
}

/// Decides one case. `Err` is a failure: our code refused an input it must take, or the
/// vector lacks a field that the algorithm requires.
type Check = fn(&Case<'_>) -> Result<Outcome, String>;

fn checker(algorithm: &str, mode: &str, revision: &str) -> Option<Check> {
    match (algorithm, mode, revision) {
        ("KDA", "OneStep", "Sp800-56Cr1" | "Sp800-56Cr2") => Some(kda::check),
        ("KAS-KC", _, "Sp800-56") => Some(kas::check_kc),
        ("KAS-ECC-SSC", _, "Sp800-56Ar3") => Some(kas::check_ssc),
        ("ACVP-AES-KWP", _, "1.0") => Some(symmetric::check_kwp),
        ("ACVP-AES-CTR", _, "1.0") => Some(symmetric::check_ctr),
        ("HMAC-SHA2-512", _, "1.0") => Some(symmetric::check_hmac),
        _ => None,
    }
}

/// One vector set and its answers.
struct VectorSet {
    name: String,
    prompt: Value,
    expected: Option<Value>,
    projection: Option<Value>,
}

fn load_dir(dir: &Path) -> Result<Vec<VectorSet>, HarnessError> {
    if !dir.is_dir() {
        return Err(HarnessError(format!("{}: not a readable directory", dir.display())));
    }
    let prompt = dir.join("prompt.json");
    if prompt.is_file() {
        // Without the expected results no case could be judged: refuse rather than skip all.
        let set = VectorSet {
            name: dir.display().to_string(),
            prompt: read_set(&prompt)?,
            expected: Some(read_set(&dir.join("expectedResults.json"))?),
            projection: read_optional(&dir.join("internalProjection.json"))?,
        };
        return Ok(vec![set]);
    }
    let vectors = dir.join("vectors");
    if vectors.is_dir() {
        let mut files = json_files(&vectors)?;
        if files.is_empty() {
            return Err(HarnessError(format!("{}: no *.json vector sets", vectors.display())));
        }
        files.sort();
        let mut sets = Vec::with_capacity(files.len());
        for file in files {
            // aws-lc ships answers for some sets only, under the same file name.
            let expected = match file.file_name() {
                Some(name) => read_optional(&dir.join("expected").join(name))?,
                None => None,
            };
            sets.push(VectorSet {
                name: file.display().to_string(),
                prompt: read_set(&file)?,
                expected,
                projection: None,
            });
        }
        return Ok(sets);
    }
    Err(HarnessError(format!(
        "{}: neither prompt.json (NIST ACVP-Server layout) nor vectors/ (aws-lc layout) found",
        dir.display()
    )))
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>, HarnessError> {
    let entries = fs::read_dir(dir).map_err(|e| HarnessError(format!("{}: {e}", dir.display())))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| HarnessError(format!("{}: {e}", dir.display())))?.path();
        if path.is_file() && path.extension().is_some_and(|ext| ext == "json") {
            files.push(path);
        }
    }
    Ok(files)
}

fn read_optional(path: &Path) -> Result<Option<Value>, HarnessError> {
    if path.exists() { read_set(path).map(Some) } else { Ok(None) }
}

/// Reads a vector set: a JSON object with `testGroups`, or aws-lc's `[header, set]`.
fn read_set(path: &Path) -> Result<Value, HarnessError> {
    let text = fs::read_to_string(path).map_err(|e| HarnessError(format!("{}: {e}", path.display())))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| HarnessError(format!("{}: not JSON: {e}", path.display())))?;
    let set = match value {
        Value::Array(mut items) if items.len() == 2 => items.swap_remove(1),
        other => other,
    };
    if set.get("testGroups").and_then(Value::as_array).is_none() {
        return Err(HarnessError(format!("{}: no testGroups array: not an ACVP vector set", path.display())));
    }
    Ok(set)
}

/// Indexes the tests of an answer file by tcId (unique across an ACVP file).
fn index_tests<'a>(set: Option<&'a Value>, name: &str) -> Result<HashMap<u64, &'a Value>, HarnessError> {
    let mut index = HashMap::new();
    let Some(set) = set else { return Ok(index) };
    for group in set["testGroups"].as_array().into_iter().flatten() {
        for test in group.get("tests").and_then(Value::as_array).into_iter().flatten() {
            let id = tc_id(test).map_err(|e| HarnessError(format!("{name}: {e}")))?;
            index.insert(id, test);
        }
    }
    Ok(index)
}

fn tc_id(test: &Value) -> Result<u64, String> {
    test.get("tcId").and_then(Value::as_u64).ok_or_else(|| "a test without a numeric tcId".to_owned())
}

/// Outcomes of the groups that share one description.
#[derive(Default)]
struct Summary {
    groups: usize,
    tally: Tally,
    notes: BTreeMap<String, usize>,
}

fn run_set(set: &VectorSet, report: &mut Report) -> Result<(), HarnessError> {
    let error = |e: String| HarnessError(format!("{}: {e}", set.name));
    let algorithm = str_field(&set.prompt, "algorithm").map_err(error)?;
    let mode = set.prompt.get("mode").and_then(Value::as_str).unwrap_or("");
    let revision = str_field(&set.prompt, "revision").map_err(error)?;
    let expected = index_tests(set.expected.as_ref(), &set.name)?;
    let projection = index_tests(set.projection.as_ref(), &set.name)?;
    let check = checker(algorithm, mode, revision);

    let answers = if set.expected.is_some() { "" } else { " (no expected results)" };
    let kind = [algorithm, mode, revision].into_iter().filter(|part| !part.is_empty()).collect::<Vec<_>>().join(" ");
    report.lines.push(format!("{}: {kind}{answers}", set.name));
    let mut summaries: Vec<(String, Summary)> = Vec::new();
    let mut set_tally = Tally::default();
    for group in set.prompt["testGroups"].as_array().into_iter().flatten() {
        let tg_id = group.get("tgId").and_then(Value::as_u64).ok_or_else(|| error("a group without tgId".into()))?;
        let description = describe(group);
        let index = match summaries.iter().position(|(d, _)| *d == description) {
            Some(index) => index,
            None => {
                summaries.push((description, Summary::default()));
                summaries.len() - 1
            }
        };
        let summary = &mut summaries[index].1;
        summary.groups += 1;
        let mut group_tally = Tally::default();
        for test in group.get("tests").and_then(Value::as_array).into_iter().flatten() {
            let id = tc_id(test).map_err(error)?;
            let outcome = match check {
                None => Outcome::skipped(format!("{kind} is not handled by this runner")),
                Some(check) => {
                    let case = Case {
                        group,
                        test,
                        expected: expected.get(&id).copied(),
                        projection: projection.get(&id).copied(),
                    };
                    check(&case).unwrap_or_else(Outcome::Failed)
                }
            };
            group_tally.record(&outcome);
            match outcome {
                Outcome::Failed(why) => report.lines.push(format!("  FAIL tg {tg_id} tc {id}: {why}")),
                Outcome::Skipped(note) | Outcome::Passed { note: Some(note) } => {
                    *summary.notes.entry(note).or_default() += 1;
                }
                Outcome::Passed { note: None } => {}
            }
        }
        summary.tally.add(group_tally);
        set_tally.add(group_tally);
    }
    for (description, summary) in &summaries {
        let plural = if summary.groups == 1 { "" } else { "s" };
        report.lines.push(format!("  {description} ({} group{plural}): {}", summary.groups, summary.tally));
        for (note, count) in &summary.notes {
            report.lines.push(format!("      {count} × {note}"));
        }
    }
    report.lines.push(format!("  {set_tally}"));
    report.tally.add(set_tally);
    Ok(())
}

/// A one-line description of a group: its test type and scalar parameters (one level
/// of nesting, for `kdfConfiguration` and the like).
fn describe(group: &Value) -> String {
    let mut parts = vec![group.get("testType").and_then(Value::as_str).unwrap_or("?").to_owned()];
    for (key, value) in group.as_object().into_iter().flatten() {
        match (key.as_str(), value) {
            ("tgId" | "testType" | "tests", _) | (_, Value::Array(_)) => {}
            (_, Value::Object(inner)) => {
                for (inner_key, inner_value) in inner {
                    push_scalar(&mut parts, inner_key, inner_value);
                }
            }
            _ => push_scalar(&mut parts, key, value),
        }
    }
    parts.join(" ")
}

fn push_scalar(parts: &mut Vec<String>, key: &str, value: &Value) {
    match value {
        Value::String(text) => parts.push(format!("{key}={text}")),
        Value::Number(_) | Value::Bool(_) => parts.push(format!("{key}={value}")),
        Value::Null | Value::Array(_) | Value::Object(_) => {}
    }
}

fn field<'a>(value: &'a Value, key: &str) -> Result<&'a Value, String> {
    value.get(key).ok_or_else(|| format!("missing field `{key}`"))
}

fn str_field<'a>(value: &'a Value, key: &str) -> Result<&'a str, String> {
    field(value, key)?.as_str().ok_or_else(|| format!("field `{key}` is not a string"))
}

fn bool_field(value: &Value, key: &str) -> Result<bool, String> {
    field(value, key)?.as_bool().ok_or_else(|| format!("field `{key}` is not a boolean"))
}

/// A length in bits (ACVP states every length in bits).
fn bits_field(value: &Value, key: &str) -> Result<usize, String> {
    field(value, key)?
        .as_u64()
        .and_then(|bits| usize::try_from(bits).ok())
        .ok_or_else(|| format!("field `{key}` is not a length"))
}

fn hex_field(value: &Value, key: &str) -> Result<Vec<u8>, String> {
    hex::decode(str_field(value, key)?).map_err(|e| format!("field `{key}` is not hex: {e}"))
}

/// The outcome of an AFT case whose set ships no answers (aws-lc omits some).
fn no_expected_results() -> Outcome {
    Outcome::skipped("AFT case without expected results: nothing to compare with")
}

/// Compares our output with the expected one.
fn compare(what: &str, computed: &[u8], expected: &[u8]) -> Outcome {
    if computed == expected {
        Outcome::passed()
    } else {
        Outcome::Failed(format!(
            "{what}: computed {}, expected {}",
            hex::encode_upper(computed),
            hex::encode_upper(expected)
        ))
    }
}

/// Compares a MAC tag with the expected one through `mac::tags_equal`, the channel's
/// own comparison.
fn compare_tag(computed: &[u8], expected: &[u8]) -> Outcome {
    if ped_proto::internal::mac::tags_equal(computed, expected) {
        Outcome::passed()
    } else {
        Outcome::Failed(format!(
            "tag: computed {}, expected {}",
            hex::encode_upper(computed),
            hex::encode_upper(expected)
        ))
    }
}

/// Judges a VAL case: `accepted` is our verdict on the candidate the prompt carries.
/// Without the expected verdict the case is only self-checked, and skipped: our verdict
/// cannot be told apart from a candidate corrupted on purpose.
fn judge_val(accepted: bool, case: &Case<'_>) -> Result<Outcome, String> {
    let ours = if accepted { "accepted" } else { "rejected" };
    match case.expected {
        Some(expected) => {
            let verdict = bool_field(expected, "testPassed")?;
            Ok(if verdict == accepted {
                Outcome::passed()
            } else {
                Outcome::Failed(format!("candidate {ours}, expected testPassed={verdict}"))
            })
        }
        None => Ok(Outcome::skipped(format!("VAL without expected results, self-check only: candidate {ours}"))),
    }
}
