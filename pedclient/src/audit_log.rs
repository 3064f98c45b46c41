//! pedclient as the HSM's logging daemon (seed 5390): the audit records each HSM sends
//! on its HSM link (protocol §15.2, frame `2c`) go to that HSM's rotating log file, one
//! line per record, made durable one by one.
//!
//! - One file per HSM serial, `audit-SERIAL.log` in the audit directory (`-auditdir`),
//!   so that each file holds one HSM's chain in order.
//! - Before a record would take the file past `-auditrotatesize` bytes, the file is
//!   rotated: `.log` becomes `.log.1`, `.log.1` becomes `.log.2` …, and the oldest beyond
//!   `-auditrotatecount` files is deleted. A record is never split across files.
//! - Durable: each line is written whole and `fsync`ed before the next is taken, and
//!   every rotation fsyncs the directory. A crash loses at most the record being
//!   written; `hsm-emu audit verify` names a torn last line.
//!
//! [`AuditLog`] is the file logic; [`AuditSink`] runs it on a thread of its own, so an
//! HSM link (and a PED operation on it) never waits for a disk, and a slow disk never
//! delays a link.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};

use ped_wire::hsm_link::AuditRecord;

/// Where and how the audit logs are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    /// The directory of the files.
    pub dir: PathBuf,
    /// A file is rotated before it would grow past this many bytes.
    pub rotate_size: u64,
    /// Files kept per HSM, the current one included (at least 1).
    pub rotate_count: u32,
}

/// The audit log files of every HSM.
#[derive(Debug)]
pub struct AuditLog {
    config: AuditConfig,
    /// The current file of each HSM, and its size.
    open: HashMap<String, (File, u64)>,
    /// Rotations an HSM's Auditor set (size, count), in force until pedclient restarts.
    rotations: HashMap<String, (u64, u32)>,
}

/// The file name stem for an HSM serial: printable ASCII, with anything a path could
/// take for a separator replaced.
fn stem(serial: &str) -> String {
    let safe: String =
        serial.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    format!("audit-{safe}.log")
}

/// The path of generation `n` (0: the current file) of `base`.
pub fn generation(base: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return base.to_path_buf();
    }
    let mut name = base.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Whether a file of `size` bytes must be rotated before `line` bytes are added: never
/// an empty one, so a record longer than the limit still gets a file of its own.
pub fn must_rotate(size: u64, line: u64, rotate_size: u64) -> bool {
    size > 0 && size.saturating_add(line) > rotate_size
}

impl AuditLog {
    /// The logs under `config.dir` (created, owner and group only, when the first record
    /// comes).
    pub fn new(config: AuditConfig) -> Self {
        AuditLog { config, open: HashMap::new(), rotations: HashMap::new() }
    }

    /// The HSM `serial`'s Auditor set its rotation: `size` bytes a file, `count` files.
    pub fn set_rotation(&mut self, serial: &str, size: u64, count: u32) {
        self.rotations.insert(serial.to_owned(), (size.max(1), count.max(1)));
    }

    /// The current file of the HSM `serial`.
    pub fn path_for(&self, serial: &str) -> PathBuf {
        self.config.dir.join(stem(serial))
    }

    /// Appends `record` to its HSM's file, rotating first if it would grow past the
    /// limit, and returns once the line is on disk.
    pub fn write(&mut self, record: &AuditRecord) -> io::Result<()> {
        let mut line = record.to_line().into_bytes();
        line.push(b'\n');
        let base = self.path_for(&record.hsm_serial);
        if !self.open.contains_key(&record.hsm_serial) {
            let file = self.open_current(&base)?;
            let size = file.metadata()?.len();
            self.open.insert(record.hsm_serial.clone(), (file, size));
        }
        let size = self.open.get(&record.hsm_serial).map_or(0, |(_, size)| *size);
        let (rotate_size, keep) = self
            .rotations
            .get(&record.hsm_serial)
            .copied()
            .unwrap_or((self.config.rotate_size, self.config.rotate_count));
        if must_rotate(size, line.len() as u64, rotate_size) {
            self.open.remove(&record.hsm_serial);
            self.rotate(&base, keep)?;
            let file = self.open_current(&base)?;
            self.open.insert(record.hsm_serial.clone(), (file, 0));
        }
        let Some((file, size)) = self.open.get_mut(&record.hsm_serial) else {
            return Err(io::Error::other("audit log file not open"));
        };
        file.write_all(&line)?;
        file.sync_data()?;
        *size += line.len() as u64;
        Ok(())
    }

    fn open_current(&self, base: &Path) -> io::Result<File> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        fs::DirBuilder::new().recursive(true).mode(0o750).create(&self.config.dir)?;
        let existed = base.exists();
        let file = OpenOptions::new().create(true).append(true).mode(0o640).open(base)?;
        if !existed {
            sync_dir(&self.config.dir)?;
        }
        Ok(file)
    }

    /// `.log.(k)` → `.log.(k+1)` from the oldest kept down, `.log` → `.log.1`; the one
    /// past the count is deleted.
    fn rotate(&self, base: &Path, keep: u32) -> io::Result<()> {
        let keep = keep.max(1);
        let oldest = generation(base, keep - 1);
        if keep == 1 {
            return fs::remove_file(&oldest).and_then(|()| sync_dir(&self.config.dir));
        }
        match fs::remove_file(&oldest) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        for n in (0..keep - 1).rev() {
            match fs::rename(generation(base, n), generation(base, n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        sync_dir(&self.config.dir)
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What the writer thread is given.
#[derive(Debug)]
enum Job {
    Record(AuditRecord),
    Rotation { serial: String, size: u64, count: u32 },
}

/// The audit log on a thread of its own: [`AuditSink::send`] never waits for the disk.
#[derive(Clone, Debug)]
pub struct AuditSink {
    jobs: Sender<Job>,
}

impl AuditSink {
    /// Starts the writer thread for `config`. A write that fails is logged and the next
    /// record tried again (a full disk may be freed).
    pub fn start(config: AuditConfig) -> io::Result<AuditSink> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let mut log = AuditLog::new(config);
        std::thread::Builder::new().name("audit-log".into()).spawn(move || {
            for job in inbox {
                let record = match job {
                    Job::Record(record) => record,
                    Job::Rotation { serial, size, count } => {
                        log.set_rotation(&serial, size, count);
                        continue;
                    }
                };
                match log.write(&record) {
                    Ok(()) => tracing::debug!("audit record {} of HSM {} written", record.seq, record.hsm_serial),
                    Err(e) => tracing::error!(
                        "audit record {} of HSM {} NOT written to {}: {e}",
                        record.seq,
                        record.hsm_serial,
                        log.path_for(&record.hsm_serial).display()
                    ),
                }
            }
        })?;
        Ok(AuditSink { jobs })
    }

    /// Hands `record` to the writer.
    pub fn send(&self, record: AuditRecord) {
        let _ = self.jobs.send(Job::Record(record));
    }

    /// The HSM `serial`'s rotation from now on (its Auditor's `audit config`), in order
    /// with its records.
    pub fn rotate(&self, serial: String, size: u64, count: u32) {
        let _ = self.jobs.send(Job::Rotation { serial, size, count });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, event: &str) -> AuditRecord {
        AuditRecord { seq, time: 1_700_000_000 + seq, hsm_serial: "150123".into(), event: event.into(), prev: [7; 32] }
    }

    fn files(dir: &Path) -> Vec<(String, u64)> {
        let mut out: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| (e.file_name().into_string().unwrap(), e.metadata().unwrap().len()))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn one_line_per_record_in_the_hsms_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut log =
            AuditLog::new(AuditConfig { dir: dir.path().join("audit"), rotate_size: 1 << 20, rotate_count: 3 });
        log.write(&record(1, "ped connect: OK")).unwrap();
        log.write(&record(2, "role login -name so: OK")).unwrap();
        let other = AuditRecord { hsm_serial: "77/../x".into(), ..record(1, "hsm init: OK") };
        log.write(&other).unwrap();
        let text = fs::read_to_string(dir.path().join("audit/audit-150123.log")).unwrap();
        assert_eq!(
            text,
            format!("{}\n{}\n", record(1, "ped connect: OK").to_line(), record(2, "role login -name so: OK").to_line())
        );
        assert!(dir.path().join("audit/audit-77_.._x.log").exists());
    }

    #[test]
    fn rotation_keeps_count_files_each_within_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let line = record(1, "e").to_line().len() as u64 + 1;
        let config = AuditConfig { dir: dir.path().to_path_buf(), rotate_size: 3 * line, rotate_count: 3 };
        let mut log = AuditLog::new(config.clone());
        for seq in 1..=10 {
            log.write(&record(seq, "e")).unwrap();
        }
        // 10 records, 3 a file: 1-3 were deleted, 4-6 in .2, 7-9 in .1, 10 (a digit
        // longer) current.
        let found = files(dir.path());
        assert_eq!(
            found,
            [
                ("audit-150123.log".to_string(), line + 1),
                ("audit-150123.log.1".to_string(), 3 * line),
                ("audit-150123.log.2".to_string(), 3 * line)
            ]
        );
        let oldest = fs::read_to_string(dir.path().join("audit-150123.log.2")).unwrap();
        assert!(oldest.starts_with("4 "), "{oldest}");
        // A new writer (pedclient restarted) appends to the current file, counting its size.
        let mut again = AuditLog::new(config);
        again.write(&record(11, "e")).unwrap();
        again.write(&record(12, "e")).unwrap();
        again.write(&record(13, "e")).unwrap();
        // 88-byte lines now: 10 and 11 fill .1 as far as fits, 12 and 13 are current.
        let seqs = |name: &str| -> Vec<String> {
            let text = fs::read_to_string(dir.path().join(name)).unwrap();
            text.lines().map(|l| l.split(' ').next().unwrap().to_string()).collect()
        };
        assert_eq!(seqs("audit-150123.log.1"), ["10", "11"]);
        assert_eq!(seqs("audit-150123.log"), ["12", "13"]);
        assert_eq!(files(dir.path()).len(), 3);
    }

    #[test]
    fn a_record_over_the_size_gets_a_file_of_its_own_and_count_1_keeps_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = AuditLog::new(AuditConfig { dir: dir.path().to_path_buf(), rotate_size: 10, rotate_count: 1 });
        log.write(&record(1, "a long event, longer than ten bytes")).unwrap();
        log.write(&record(2, "another")).unwrap();
        let found = files(dir.path());
        assert_eq!(found.len(), 1);
        assert!(fs::read_to_string(dir.path().join("audit-150123.log")).unwrap().starts_with("2 "));
        assert!(must_rotate(5, 6, 10) && !must_rotate(0, 60, 10) && !must_rotate(4, 6, 10));
    }

    #[test]
    fn an_auditors_rotation_applies_to_that_hsm_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut log =
            AuditLog::new(AuditConfig { dir: dir.path().to_path_buf(), rotate_size: 1 << 20, rotate_count: 5 });
        log.set_rotation("150123", 1, 2);
        for seq in 1..=4 {
            log.write(&record(seq, "e")).unwrap();
            log.write(&AuditRecord { hsm_serial: "999".into(), ..record(seq, "e") }).unwrap();
        }
        let names: Vec<String> = files(dir.path()).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["audit-150123.log", "audit-150123.log.1", "audit-999.log"]);
    }
}
