//! The HSM's audit log: the records it makes, their chain, and `hsm-emu audit verify`.
//!
//! Every command an administrator runs on the HSM (`ped connect`/`disconnect`, each PED
//! operation, every login, success or counted failure, `ped vector init`), and every
//! command refused, becomes one [`AuditRecord`]: its sequence number, the time, the HSM's
//! serial, the command (a one-time password given on it masked) and its result. Each
//! record carries the SHA-256 of the previous record's body, so the records of one HSM
//! form a chain (docs/hsm-emu.md "Audit log" says why a plain hash and not an HMAC).
//!
//! The HSM hands them to pedclient, its logging daemon (seed 5390), over its HSM link
//! (protocol §15.2, frame `2c`). [`AuditTrail`] is sans-IO: the pump gives it each
//! command's words and result and takes the frames to send; records made while no HSM
//! link is open wait in a queue of at most [`QUEUE_MAX`] (the oldest dropped first, which
//! `audit verify` shows as a gap) and go out when the next link opens. The chain's head
//! and the queue survive a restart in `audit.json` beside the state.

use std::collections::VecDeque;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ped_proto::hsm_link::{AUDIT_HASH_LEN, AuditRecord, HsmLinkMessage, MAX_AUDIT_EVENT_LEN};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Code, HsmCode, HsmError};
use crate::hsm::{Hsm, RoleName};

/// Records kept while no HSM link is open.
pub const QUEUE_MAX: usize = 1024;

const TRAIL_FILE: &str = "audit.json";

/// SHA-256 of a record's body: the next record's `prev`.
pub fn chain_hash(record: &AuditRecord) -> Option<[u8; AUDIT_HASH_LEN]> {
    record.body().ok().map(|body| Sha256::digest(&body).into())
}

/// What survives a restart.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    /// The last sequence number given.
    seq: u64,
    /// SHA-256 of the last record, hex.
    head: String,
    /// Records not yet handed to pedclient, as log lines.
    queued: Vec<String>,
}

/// The HSM's side of the audit log, sans-IO.
#[derive(Debug)]
pub struct AuditTrail {
    serial: String,
    seq: u64,
    head: [u8; AUDIT_HASH_LEN],
    queue: VecDeque<AuditRecord>,
    file: Option<PathBuf>,
    /// The Auditor's rotation (size, count), until it reaches pedclient.
    rotation: Option<(u64, u32)>,
}

impl AuditTrail {
    /// A trail for the HSM `serial`, kept in memory only.
    pub fn new(serial: &str) -> Self {
        AuditTrail {
            serial: serial.into(),
            seq: 0,
            head: [0; AUDIT_HASH_LEN],
            queue: VecDeque::new(),
            file: None,
            rotation: None,
        }
    }

    /// The trail of the HSM `serial` whose state is in `dir`: continued from its
    /// `audit.json` if there is one.
    pub fn open(dir: &Path, serial: &str) -> Result<Self, HsmError> {
        let file = dir.join(TRAIL_FILE);
        let mut trail = AuditTrail { file: Some(file.clone()), ..AuditTrail::new(serial) };
        let bytes = match std::fs::read(&file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(trail),
            Err(e) => return Err(general(&file, e)),
        };
        let saved: Saved = serde_json::from_slice(&bytes).map_err(|e| general(&file, e))?;
        let head = hex::decode(&saved.head).ok().and_then(|h| <[u8; AUDIT_HASH_LEN]>::try_from(h).ok());
        trail.head = head.ok_or_else(|| general(&file, "the chain head is not 32 bytes of hex"))?;
        trail.seq = saved.seq;
        for line in &saved.queued {
            trail.queue.push_back(AuditRecord::from_line(line).map_err(|e| general(&file, e))?);
        }
        Ok(trail)
    }

    /// The last sequence number and the chain's head (SHA-256 of the last record).
    pub fn head(&self) -> (u64, [u8; AUDIT_HASH_LEN]) {
        (self.seq, self.head)
    }

    /// Records one command: its words and how it ended, at `now` (Unix seconds). The
    /// record waits in the queue until [`AuditTrail::take_frames`].
    pub fn command(&mut self, now: u64, words: &[String], result: &Result<(), HsmError>) -> Result<(), HsmError> {
        self.record(now, describe(words, result))
    }

    /// Records `event` (printable ASCII; anything else is replaced, and it is cut to
    /// fit the frame).
    pub fn record(&mut self, now: u64, event: String) -> Result<(), HsmError> {
        let mut event: String = event.chars().map(|c| if c == ' ' || c.is_ascii_graphic() { c } else { '?' }).collect();
        event.truncate(MAX_AUDIT_EVENT_LEN);
        let record =
            AuditRecord { seq: self.seq + 1, time: now, hsm_serial: self.serial.clone(), event, prev: self.head };
        let head = chain_hash(&record)
            .ok_or_else(|| HsmError::hsm(HsmCode::GeneralError, "the HSM serial cannot head an audit record"))?;
        self.seq += 1;
        self.head = head;
        if self.queue.len() == QUEUE_MAX {
            self.queue.pop_front();
        }
        self.queue.push_back(record);
        self.save()
    }

    /// The queued records as Audit frames, in order, and the queue emptied: called when
    /// an HSM link is open. A frame the link then fails to take is lost to the log and
    /// shows there as a gap.
    pub fn take_frames(&mut self) -> Result<Vec<Vec<u8>>, HsmError> {
        let mut frames: Vec<Vec<u8>> =
            self.queue.iter().filter_map(|r| HsmLinkMessage::Audit(r.clone()).encode().ok()).collect();
        // After the records: pedclient applies it to the files they named.
        if let Some((rotate_size, rotate_count)) = self.rotation.take() {
            frames.extend(HsmLinkMessage::AuditConfig { rotate_size, rotate_count }.encode().ok());
        }
        self.queue.clear();
        self.save()?;
        Ok(frames)
    }

    /// Whether records wait for a link.
    pub fn has_queued(&self) -> bool {
        !self.queue.is_empty() || self.rotation.is_some()
    }

    /// `audit config -rotate-size BYTES -rotate-count N` (`None` for any other
    /// command): only a logged-in Auditor (white key, `role login -name au`) may set the
    /// rotation of this HSM's log at pedclient. Recorded either way; the setting goes to
    /// pedclient after the records before it, at once or at the next HSM link (kept in
    /// memory until then: a restart of the HSM forgets one not yet sent).
    pub fn configure(&mut self, now: u64, hsm: &Hsm, words: &[String]) -> Option<Result<(), HsmError>> {
        if !words.first().is_some_and(|w| w.eq_ignore_ascii_case("audit")) {
            return None;
        }
        let result = rotation(hsm, words);
        let kept = self.command(now, words, &result.as_ref().map(|_| ()).map_err(Clone::clone));
        Some(match (result, kept) {
            (Ok(setting), Ok(())) => {
                self.rotation = Some(setting);
                Ok(())
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        })
    }

    fn save(&self) -> Result<(), HsmError> {
        let Some(file) = &self.file else { return Ok(()) };
        let saved = Saved {
            seq: self.seq,
            head: hex::encode(self.head),
            queued: self.queue.iter().map(AuditRecord::to_line).collect(),
        };
        let json = serde_json::to_vec_pretty(&saved).map_err(|e| general(file, e))?;
        ped_fs::write_atomic(file, &json).map_err(|e| general(file, e))
    }
}

/// The rotation an `audit config` asks for, if its Auditor is logged in.
fn rotation(hsm: &Hsm, words: &[String]) -> Result<(u64, u32), HsmError> {
    let usage = || {
        HsmError::hsm(
            HsmCode::ArgumentsBad,
            "usage: audit config -rotate-size BYTES -rotate-count N (BYTES at least 1, N from 1 to 1000)",
        )
    };
    let [_, config, rest @ ..] = words else { return Err(usage()) };
    if !config.eq_ignore_ascii_case("config") {
        return Err(usage());
    }
    let (mut size, mut count) = (None, None);
    for pair in rest.chunks(2) {
        match pair {
            [flag, value] if flag.eq_ignore_ascii_case("-rotate-size") => size = value.parse::<u64>().ok(),
            [flag, value] if flag.eq_ignore_ascii_case("-rotate-count") => count = value.parse::<u32>().ok(),
            _ => return Err(usage()),
        }
    }
    let (Some(size), Some(count)) = (size.filter(|s| *s >= 1), count.filter(|c| (1..=1000).contains(c))) else {
        return Err(usage());
    };
    if !hsm.is_logged_in(RoleName::Au) {
        return Err(HsmError::hsm(
            HsmCode::UserNotLoggedIn,
            "only the Auditor changes the audit configuration: log in with `role login -name au` (white key) first",
        ));
    }
    Ok((size, count))
}

fn general(file: &Path, e: impl fmt::Display) -> HsmError {
    HsmError::hsm(HsmCode::GeneralError, format!("audit trail {}: {e}", file.display()))
}

/// The event text of a command: its words (a one-time password given after
/// `-password` masked), then `OK` or the error's code, and for a login refused by a
/// role's verifier that the failure was counted.
pub fn describe(words: &[String], result: &Result<(), HsmError>) -> String {
    let mut shown = Vec::with_capacity(words.len());
    let mut mask_next = false;
    for word in words {
        shown.push(if mask_next && word != "-" { "********" } else { word.as_str() });
        mask_next = word.trim_start_matches('-').eq_ignore_ascii_case("password");
    }
    let outcome = match result {
        Ok(()) => "OK".to_string(),
        Err(e) => {
            let counted = matches!(e.code, Code::Hsm(HsmCode::PinIncorrect | HsmCode::PinLocked))
                && words.first().is_some_and(|w| w.eq_ignore_ascii_case("role"));
            format!("{}{}", e.code.name(), if counted { " (failed login counted)" } else { "" })
        }
    };
    format!("{}: {outcome}", shown.join(" "))
}

/// What `audit verify` found wrong: the first bad record.
#[derive(Debug, PartialEq, Eq)]
pub struct BadRecord {
    /// The file.
    pub file: String,
    /// 1-based line number in it.
    pub line: usize,
    /// What is wrong, and what it means.
    pub why: String,
}

impl fmt::Display for BadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}: {}", self.file, self.line, self.why)
    }
}

/// A log that verified.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    /// Records checked.
    pub count: usize,
    /// The first and last sequence numbers.
    pub first: u64,
    /// The last.
    pub last: u64,
    /// The HSM.
    pub serial: String,
}

/// Checks audit log files, oldest first (`audit-S.log.2 audit-S.log.1 audit-S.log`), as
/// one chain: every line a record, one HSM, sequence numbers one apart, and each
/// record's `prev` the SHA-256 of the record before. A chain that starts at seq 1 must
/// start from zeros; one that starts later (older files rotated away) is taken from its
/// first record. Records cut from the end leave no trace in the chain itself: compare
/// the last seq with the HSM's (docs/hsm-emu.md).
pub fn verify(files: &[(String, String)]) -> Result<Verified, BadRecord> {
    let mut before: Option<AuditRecord> = None;
    let mut first = None;
    let mut count = 0;
    for (name, text) in files {
        let bad = |line: usize, why: String| BadRecord { file: name.clone(), line, why };
        if !text.is_empty() && !text.ends_with('\n') {
            let line = text.lines().count();
            return Err(bad(line, "the last line is cut short: the file was truncated (or a write torn)".into()));
        }
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let record = AuditRecord::from_line(line)
                .map_err(|e| bad(n, format!("not an audit record ({e}): the line was edited or damaged")))?;
            match &before {
                None if record.seq == 1 && record.prev != [0; AUDIT_HASH_LEN] => {
                    return Err(bad(
                        n,
                        "record 1 does not start the chain (its prev is not zero): it was edited".into(),
                    ));
                }
                None => {}
                Some(b) if record.hsm_serial != b.hsm_serial => {
                    return Err(bad(
                        n,
                        format!(
                            "record {} is HSM {}'s, not HSM {}'s: logs of two HSMs mixed",
                            record.seq, record.hsm_serial, b.hsm_serial
                        ),
                    ));
                }
                Some(b) if record.seq > b.seq.saturating_add(1) => {
                    return Err(bad(
                        n,
                        format!(
                            "gap: records {} to {} are missing before record {}",
                            b.seq + 1,
                            record.seq - 1,
                            record.seq
                        ),
                    ));
                }
                Some(b) if record.seq <= b.seq => {
                    return Err(bad(
                        n,
                        format!("record {} follows record {}: records were reordered or repeated", record.seq, b.seq),
                    ));
                }
                Some(b) if chain_hash(b) != Some(record.prev) => {
                    return Err(bad(
                        n,
                        format!(
                            "record {} does not chain to record {} before it: one of the two was edited",
                            record.seq, b.seq
                        ),
                    ));
                }
                Some(_) => {}
            }
            first.get_or_insert(record.seq);
            count += 1;
            before = Some(record);
        }
    }
    match (before, first) {
        (Some(last), Some(first)) => Ok(Verified { count, first, last: last.seq, serial: last.hsm_serial }),
        _ => Err(BadRecord {
            file: files.last().map(|(f, _)| f.clone()).unwrap_or_default(),
            line: 0,
            why: "no audit records: the file is empty (truncated?)".into(),
        }),
    }
}

/// `hsm-emu audit verify FILE…`: exit 0 with the record count, 1 with the first bad
/// record, 2 for a usage error or an unreadable file.
pub fn main(args: &[String]) -> ExitCode {
    let [verb, files @ ..] = args else {
        eprintln!("usage: hsm-emu audit verify FILE...   (oldest file first)");
        return ExitCode::from(2);
    };
    if verb != "verify" || files.is_empty() {
        eprintln!("usage: hsm-emu audit verify FILE...   (oldest file first)");
        return ExitCode::from(2);
    }
    let mut texts = Vec::with_capacity(files.len());
    for file in files {
        match std::fs::read(file) {
            Ok(bytes) => texts.push((file.clone(), String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) => {
                eprintln!("hsm-emu: cannot read {file}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    match verify(&texts) {
        Ok(v) => {
            let _ = writeln!(
                std::io::stdout(),
                "Audit log OK: {} records of HSM {}, seq {} to {}, chain intact.",
                v.count,
                v.serial,
                v.first,
                v.last
            );
            ExitCode::SUCCESS
        }
        Err(bad) => {
            let _ = writeln!(std::io::stdout(), "Audit log BAD: {bad}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(n: u64) -> (AuditTrail, String) {
        let mut trail = AuditTrail::new("150123");
        let mut text = String::new();
        for i in 1..=n {
            trail.record(1_700_000_000 + i, format!("role login -name so: OK #{i}")).unwrap();
        }
        for frame in trail.take_frames().unwrap() {
            let frame = ped_proto::frame::Frame::decode_exact(&frame).unwrap();
            let HsmLinkMessage::Audit(record) = HsmLinkMessage::decode(frame).unwrap() else { panic!("audit") };
            text.push_str(&record.to_line());
            text.push('\n');
        }
        (trail, text)
    }

    fn check(text: &str) -> Result<Verified, BadRecord> {
        verify(&[("a.log".into(), text.into())])
    }

    #[test]
    fn a_good_log_verifies_with_its_count() {
        let (trail, text) = log(5);
        let v = check(&text).unwrap();
        assert_eq!((v.count, v.first, v.last, v.serial.as_str()), (5, 1, 5, "150123"));
        let last = AuditRecord::from_line(text.lines().last().unwrap()).unwrap();
        assert_eq!(trail.head(), (5, chain_hash(&last).unwrap()));
        // Rotated files checked together, oldest first; a later file alone starts mid-chain.
        let lines: Vec<&str> = text.lines().collect();
        let older = format!("{}\n{}\n", lines[0], lines[1]);
        let newer = format!("{}\n{}\n{}\n", lines[2], lines[3], lines[4]);
        assert_eq!(verify(&[("o".into(), older), ("n".into(), newer.clone())]).unwrap().count, 5);
        assert_eq!(check(&newer).unwrap().first, 3);
    }

    #[test]
    fn a_truncated_log_is_bad() {
        let (_, text) = log(3);
        let cut = &text[..text.len() - 10];
        let bad = check(cut).unwrap_err();
        assert_eq!(bad.line, 3);
        assert!(bad.why.contains("truncated"), "{bad}");
        assert!(check("").unwrap_err().why.contains("empty"));
        let lines: Vec<&str> = text.lines().collect();
        let gap = format!("{}\n{}\n", lines[0], lines[2]);
        let bad = check(&gap).unwrap_err();
        assert_eq!((bad.line, bad.why.as_str()), (2, "gap: records 2 to 2 are missing before record 3"));
    }

    #[test]
    fn an_edited_record_is_bad() {
        let (_, text) = log(4);
        let edited = text.replacen("so: OK #2", "so: OK #9", 1);
        let bad = check(&edited).unwrap_err();
        assert_eq!(bad.line, 3);
        assert!(bad.why.contains("record 3 does not chain to record 2"), "{bad}");
        let first = text.replacen("so: OK #1", "au: OK #1", 1);
        assert_eq!(check(&first).unwrap_err().line, 2);
        let garbage = text.replacen(" 150123 ", " 150123  ", 1);
        assert!(check(&garbage).unwrap_err().why.contains("not an audit record"));
    }

    #[test]
    fn reordered_records_are_bad() {
        let (_, text) = log(4);
        let lines: Vec<&str> = text.lines().collect();
        let swapped = format!("{}\n{}\n{}\n{}\n", lines[0], lines[2], lines[1], lines[3]);
        let bad = check(&swapped).unwrap_err();
        assert!(bad.why.contains("gap") || bad.why.contains("reordered"), "{bad}");
        let repeated = format!("{}\n{}\n{}\n", lines[0], lines[1], lines[1]);
        assert!(check(&repeated).unwrap_err().why.contains("reordered or repeated"));
    }

    #[test]
    fn events_mask_the_password_and_say_a_failure_counted() {
        let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let ok = describe(&words("ped connect -ip 10.0.0.1 -password 12345678"), &Ok(()));
        assert_eq!(ok, "ped connect -ip 10.0.0.1 -password ********: OK");
        let wrong = HsmError::hsm(HsmCode::PinIncorrect, "x");
        assert_eq!(
            describe(&words("role login -name so"), &Err(wrong)),
            "role login -name so: CKR_PIN_INCORRECT (failed login counted)"
        );
    }

    #[test]
    fn the_trail_survives_a_restart_and_its_queue_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut trail = AuditTrail::open(dir.path(), "150123").unwrap();
        trail.record(1, "a".into()).unwrap();
        let sent = trail.take_frames().unwrap();
        trail.record(2, "b".into()).unwrap();
        let again = AuditTrail::open(dir.path(), "150123").unwrap();
        assert_eq!(again.head(), trail.head());
        assert!(again.has_queued());
        let mut mem = AuditTrail::new("150123");
        for i in 0..(QUEUE_MAX as u64 + 5) {
            mem.record(i, "e".into()).unwrap();
        }
        let frames = mem.take_frames().unwrap();
        assert_eq!(frames.len(), QUEUE_MAX);
        assert_eq!(sent.len(), 1);
    }
}
