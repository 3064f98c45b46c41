//! `ped-fs`: the few file-system moves everything durable in the workspace is made of
//! (DESIGN.md rule 7, "nothing is lost on a crash"): an atomic replace ([`write_atomic`],
//! [`Staged`]), a private directory, a bounded read, and an advisory lock with a bounded
//! wait. ikey-emu's key files, hsm-emu's state files and the daemons' configuration files
//! and certificates are all written through [`Staged`].
//!
//! # The atomic replace
//!
//! 1. The bytes go to a temporary file beside the destination, under a fixed name
//!    (`.NAME.tmp` by [`temp_path`]), owner-only, and are flushed (`fsync`).
//! 2. The temporary file is renamed over the destination, and the directory is flushed,
//!    so that the rename itself survives a power cut.
//!
//! A reader sees the old file or the new one, whole, at every instant; so does a reader
//! after a kill at any instant, or after a power cut once the write has returned.
//!
//! The temporary name is fixed rather than random so that writes killed mid-way leave at
//! most one stale temporary file per destination, which the next write reuses: no pile
//! of temporary files grows. Two writers of the same destination take turns on it: the
//! temporary file is locked (`flock`) from its opening until after the rename, and a
//! writer that obtains the lock on a file that has meanwhile been renamed into place (or
//! deleted) opens the temporary name afresh instead of writing into it.
//!
//! # Files that must change together
//!
//! A key and its certificate are two files, and a kill between two atomic replaces leaves
//! a key beside a certificate of another key. [`replace_files`] changes any number of
//! files of one directory in one step: it builds the directory's next version beside it
//! (`.NAME.new`: the new files, written and flushed, and hard links to the files it
//! keeps), then swaps the two directories with `renameat2(RENAME_EXCHANGE)`, flushes the
//! parent, and deletes the old version, now under `.NAME.new`. The swap is the single
//! instant the change happens: before it every path leads to the old files, after it to
//! the new ones. A kill leaves at most the one `.NAME.new` beside the directory (an
//! unfinished next version, or a finished old one), which the next change deletes first.
//!
//! # What is not here
//!
//! The PED's firmware slots in files (`ped-firmware/src/update/file.rs`) emulate flash:
//! an erase, then programming in place, a page at a time, as on the board. A torn slot
//! after a crash is what the board meets too, and what its boot record's checksum and the
//! image's signature are there to catch; replacing the whole file atomically would hide
//! exactly the failure the simulator must show. They stay in-place writes.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

/// Replaces `dest` with `bytes` atomically (see the crate documentation): a file it
/// creates is owner-only (0600), and so is a file it replaces.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> io::Result<()> {
    Staged::write(temp_path(dest), bytes)?.commit(dest)
}

/// The temporary file a write of `dest` goes through: `.NAME.tmp` in the same directory
/// (a rename is atomic only within one file system).
pub fn temp_path(dest: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(dest.file_name().unwrap_or(dest.as_os_str()));
    name.push(".tmp");
    parent(dest).join(name)
}

/// Creates `path` and any missing parents, readable by the owner only.
pub fn private_dir(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(path)
}

/// Flushes a directory's entries, so that a rename in it survives a power cut.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Why a bounded read gave no bytes.
#[derive(Debug)]
pub enum ReadError {
    /// No such file.
    NotFound,
    /// Something other than a regular file (a directory, a symbolic link, a device).
    NotAFile,
    /// Longer than allowed; at least this many bytes.
    Oversized(usize),
    /// The file system refused.
    Io(io::Error),
}

/// Reads a regular file of at most `max` bytes without ever holding more than
/// `max + 1` of them: a huge or endless file costs nothing. The bytes are wiped on drop.
pub fn read_regular(path: &Path, max: usize) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ReadError::NotFound),
        Err(e) => return Err(ReadError::Io(e)),
    };
    if !meta.is_file() {
        return Err(ReadError::NotAFile);
    }
    let file = match File::open(path) {
        Ok(f) => f,
        // Renamed away between the two calls: the file is gone, as if never there.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ReadError::NotFound),
        Err(e) => return Err(ReadError::Io(e)),
    };
    let hint = usize::try_from(meta.len()).unwrap_or(usize::MAX).min(max + 1);
    let mut buf = Zeroizing::new(Vec::with_capacity(hint));
    file.take(max as u64 + 1).read_to_end(&mut buf).map_err(ReadError::Io)?;
    if buf.len() > max {
        return Err(ReadError::Oversized(usize::try_from(meta.len()).unwrap_or(usize::MAX).max(buf.len())));
    }
    Ok(buf)
}

/// A temporary file written and flushed beside its destination, not yet in place, and
/// locked until it is. Dropped uncommitted, it is deleted: a failed write leaves the
/// destination alone.
#[derive(Debug)]
pub struct Staged {
    path: PathBuf,
    /// Holds the lock on the temporary file until the rename is done.
    file: File,
    committed: bool,
}

impl Staged {
    /// Writes `bytes` to `tmp` (owner-only, replacing any stale one) and flushes them.
    pub fn write(tmp: PathBuf, bytes: &[u8]) -> io::Result<Staged> {
        Staged::write_with(tmp, bytes, |_| Ok(()))
    }

    /// Like [`Staged::write`], and `prepare` runs on the file after the bytes are written
    /// and before they are flushed: it may change the file's owner or mode, which the
    /// flush then makes durable with the content.
    pub fn write_with(tmp: PathBuf, bytes: &[u8], prepare: impl FnOnce(&File) -> io::Result<()>) -> io::Result<Staged> {
        let file = open_locked(&tmp)?;
        let mut staged = Staged { path: tmp, file, committed: false };
        staged.file.set_len(0)?;
        staged.file.set_permissions(fs::Permissions::from_mode(0o600))?;
        staged.file.write_all(bytes)?;
        prepare(&staged.file)?;
        staged.file.sync_all()?;
        Ok(staged)
    }

    /// Renames the file over `dest` and flushes the directory: from here on every
    /// reader sees the new content, and a crash before here leaves the old.
    pub fn commit(mut self, dest: &Path) -> io::Result<()> {
        fs::rename(&self.path, dest)?;
        self.committed = true;
        sync_dir(parent(dest))
    }

    /// Like [`Staged::commit`] but fails with `AlreadyExists` rather than replace
    /// `dest` (a hard link is the atomic create-if-absent of POSIX file systems).
    pub fn commit_new(self, dest: &Path) -> io::Result<()> {
        fs::hard_link(&self.path, dest)?;
        // Self's drop unlinks the temporary name; the content lives on under `dest`.
        drop(self);
        sync_dir(parent(dest))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        // Unlinked while still locked: a writer waiting on this file finds it gone and
        // starts afresh.
        if !self.committed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Opens (creating if missing) and locks the temporary file `tmp`, making sure that the
/// file locked is still the one under that name: another writer may have renamed it into
/// place, or deleted it, while this one waited for the lock. Never truncates or follows
/// into anything but the regular file found under `tmp`.
fn open_locked(tmp: &Path) -> io::Result<File> {
    loop {
        let file = OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(tmp)?;
        file.lock()?;
        let locked = file.metadata()?;
        match fs::symlink_metadata(tmp) {
            Ok(now) if now.is_file() && (now.dev(), now.ino()) == (locked.dev(), locked.ino()) => return Ok(file),
            // A symbolic link (or anything else) planted under the temporary name.
            Ok(now) if !now.is_file() => {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "the temporary file is not a regular file"));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
}

/// Replaces, adds or removes files of the directory `dir` in one atomic step (see "Files
/// that must change together" above); its other files stay, and so do its mode, owner and
/// group. A missing `dir` is created (0700). Each file written is owner-only (0600), with
/// the owner and group of the file it replaces, or else of the directory: root
/// regenerating a service's key leaves it the service's. Changes of one directory take
/// turns (a lock on its parent).
pub fn replace_files(dir: &Path, write: &[(&str, &[u8])], remove: &[&str]) -> io::Result<()> {
    let name = dir.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no directory name"))?;
    let up = parent(dir);
    fs::create_dir_all(up)?;
    let turn = File::open(up)?;
    turn.lock()?;
    let mut next_name = std::ffi::OsString::from(".");
    next_name.push(name);
    next_name.push(".new");
    let next = up.join(next_name);
    match fs::remove_dir_all(&next) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    fs::DirBuilder::new().mode(0o700).create(&next)?;
    let current = match fs::metadata(dir) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    if let Some(current) = &current {
        keep_owner(&next, current)?;
        fs::set_permissions(&next, fs::Permissions::from_mode(current.mode() & 0o7777))?;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let file_name = entry.file_name();
            let replaced = write.iter().map(|(n, _)| n).chain(remove).any(|n| file_name == **n);
            if !replaced {
                fs::hard_link(entry.path(), next.join(&file_name))?;
            }
        }
    }
    for (file_name, bytes) in write {
        let path = next.join(file_name);
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
        file.write_all(bytes)?;
        if let Some(owner) = fs::metadata(dir.join(file_name)).ok().or_else(|| current.clone()) {
            keep_owner(&path, &owner)?;
        }
        file.sync_all()?;
    }
    sync_dir(&next)?;
    if current.is_some() {
        rustix::fs::renameat_with(rustix::fs::CWD, &next, rustix::fs::CWD, dir, rustix::fs::RenameFlags::EXCHANGE)?;
    } else {
        fs::rename(&next, dir)?;
    }
    sync_dir(up)?;
    match fs::remove_dir_all(&next) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Gives `path` the owner and group of `like` where they differ. Only root may give a
/// file away; anyone else keeps what they create, as any editor would.
fn keep_owner(path: &Path, like: &fs::Metadata) -> io::Result<()> {
    let now = fs::symlink_metadata(path)?;
    if (now.uid(), now.gid()) == (like.uid(), like.gid()) || !rustix::process::geteuid().is_root() {
        return Ok(());
    }
    std::os::unix::fs::chown(path, Some(like.uid()), Some(like.gid()))
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// An advisory lock on a lock file, held until dropped (closing the file releases it,
/// and so does the death of the process: a killed writer never leaves a file locked).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Why a lock was not taken.
#[derive(Debug)]
pub enum LockError {
    /// Another holder kept it for the whole wait, this long.
    Busy(Duration),
    /// The lock file could not be opened or locked.
    Io(io::Error),
}

/// Takes the exclusive lock on `path`, waiting at most `timeout`.
///
/// The lock files are never renamed or replaced, unlike the files they guard: a lock on
/// a file that a rename swaps out would guard nothing.
pub fn lock(path: &Path, timeout: Duration) -> Result<Lock, LockError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(LockError::Io)?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Lock { _file: file }),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(LockError::Io(e)),
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(LockError::Busy(waited));
        }
        thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(Duration::from_millis(8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_whole_owner_only_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.json");
        write_atomic(&dest, b"old").unwrap();
        write_atomic(&dest, b"new").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        assert_eq!(fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(names(dir.path()), ["f.json"]);
        assert_eq!(temp_path(&dest), dir.path().join(".f.json.tmp"));
        assert_eq!(temp_path(Path::new("f")), Path::new("./.f.tmp"));
    }

    /// What a write killed before its rename leaves: a stale temporary file, possibly
    /// torn, and the old destination. The next write reuses the name: one stale file at
    /// most, whatever the number of kills.
    #[test]
    fn a_killed_write_leaves_the_old_file_and_one_reusable_temp() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        write_atomic(&dest, b"old").unwrap();
        fs::write(temp_path(&dest), b"torn, and longer than the new content").unwrap();
        fs::set_permissions(temp_path(&dest), fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"old");
        let staged = Staged::write(temp_path(&dest), b"new").unwrap();
        assert_eq!(fs::metadata(temp_path(&dest)).unwrap().permissions().mode() & 0o777, 0o600);
        staged.commit(&dest).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["f"]);
    }

    #[test]
    fn an_uncommitted_write_changes_nothing_and_commit_new_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        write_atomic(&dest, b"old").unwrap();
        drop(Staged::write(temp_path(&dest), b"new").unwrap());
        assert_eq!((fs::read(&dest).unwrap(), names(dir.path())), (b"old".to_vec(), vec!["f".to_owned()]));
        let err = Staged::write(temp_path(&dest), b"new").unwrap().commit_new(&dest).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        let other = dir.path().join("g");
        Staged::write(temp_path(&other), b"g").unwrap().commit_new(&other).unwrap();
        assert_eq!(names(dir.path()), ["f", "g"]);
    }

    #[test]
    fn a_symlink_under_the_temporary_name_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let dest = dir.path().join("f");
        std::os::unix::fs::symlink(&victim, temp_path(&dest)).unwrap();
        assert_eq!(write_atomic(&dest, b"new").unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(!dest.exists());
    }

    /// Writers of one destination in several threads: every read sees one whole
    /// version, and one temporary name served them all.
    #[test]
    fn concurrent_writers_take_turns() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        write_atomic(&dest, &[0; 4096]).unwrap();
        thread::scope(|s| {
            for n in 1..=4u8 {
                let dest = &dest;
                s.spawn(move || {
                    for _ in 0..50 {
                        write_atomic(dest, &[n; 4096]).unwrap();
                    }
                });
            }
            s.spawn(|| {
                for _ in 0..200 {
                    let bytes = fs::read(&dest).unwrap();
                    assert!(bytes.len() == 4096 && bytes.iter().all(|b| *b == bytes[0]), "a torn read");
                }
            });
        });
        assert_eq!(names(dir.path()), ["f"]);
    }

    #[test]
    fn prepare_runs_before_the_flush() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        let staged =
            Staged::write_with(temp_path(&dest), b"x", |f| f.set_permissions(fs::Permissions::from_mode(0o640)))
                .unwrap();
        staged.commit(&dest).unwrap();
        assert_eq!(fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o640);
    }

    #[test]
    fn replace_files_changes_a_pair_keeps_the_rest_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("cert");
        replace_files(&certs, &[("a.pem", b"cert 1"), ("aKey.pem", b"key 1")], &[]).unwrap();
        assert_eq!(fs::metadata(&certs).unwrap().permissions().mode() & 0o777, 0o700);
        fs::write(certs.join("other"), b"kept").unwrap();
        fs::set_permissions(&certs, fs::Permissions::from_mode(0o750)).unwrap();
        replace_files(&certs, &[("b.pem", b"cert 2"), ("bKey.pem", b"key 2")], &["a.pem", "aKey.pem"]).unwrap();
        assert_eq!(names(&certs), ["b.pem", "bKey.pem", "other"]);
        assert_eq!(
            (fs::read(certs.join("bKey.pem")).unwrap(), fs::read(certs.join("other")).unwrap()),
            (b"key 2".to_vec(), b"kept".to_vec())
        );
        assert_eq!(fs::metadata(certs.join("b.pem")).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(&certs).unwrap().permissions().mode() & 0o777, 0o750);
        assert_eq!(names(dir.path()), ["cert"]);
    }

    /// Root regenerating a service's key (here the service is nobody, 65534): the
    /// directory and the files it replaces stay the service's.
    #[test]
    fn root_replacing_a_services_pair_leaves_it_theirs() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: only root can give a file to another user (CI runs as root)");
            return;
        }
        const NOBODY: u32 = 65534;
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("client");
        replace_files(&certs, &[("c.pem", b"1"), ("cKey.pem", b"1")], &[]).unwrap();
        for p in [certs.clone(), certs.join("c.pem"), certs.join("cKey.pem")] {
            std::os::unix::fs::chown(&p, Some(NOBODY), Some(NOBODY)).unwrap();
        }
        replace_files(&certs, &[("c.pem", b"2"), ("cKey.pem", b"2"), ("new.pem", b"2")], &[]).unwrap();
        for p in [certs.clone(), certs.join("c.pem"), certs.join("cKey.pem"), certs.join("new.pem")] {
            let m = fs::metadata(&p).unwrap();
            assert_eq!((m.uid(), m.gid()), (NOBODY, NOBODY), "{}", p.display());
        }
    }

    const PAIR_WRITER_ENV: &str = "PED_FS_TEST_PAIR_WRITER";

    /// The killed writer of `a_killed_pair_write_leaves_a_matching_pair`: writes pair
    /// after pair for ever, each generation's two files naming it. A no-op in an ordinary
    /// test run.
    #[test]
    fn pair_writer_child() {
        let Some(dir) = std::env::var_os(PAIR_WRITER_ENV) else { return };
        for n in 1u64.. {
            let (cert, key) = (format!("certificate {n}"), format!("key {n} {}", "k".repeat(n as usize % 3000)));
            replace_files(Path::new(&dir), &[("c.pem", cert.as_bytes()), ("cKey.pem", key.as_bytes())], &[]).unwrap();
        }
    }

    /// `kill -9` of a process writing a key and its certificate, 50 times: the two files
    /// are always of one generation, and at most one staging directory is left, which the
    /// next write removes. (Two atomic replaces in a row mismatched 48 times in 200.)
    #[test]
    fn a_killed_pair_write_leaves_a_matching_pair() {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("client");
        replace_files(&certs, &[("c.pem", b"certificate 0"), ("cKey.pem", b"key 0 ")], &[]).unwrap();
        let mut changed = 0;
        for round in 0..50u64 {
            let mut child = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "tests::pair_writer_child", "--nocapture"])
                .env(PAIR_WRITER_ENV, &certs)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            thread::sleep(Duration::from_millis(5 + round % 7 * 3));
            child.kill().unwrap();
            child.wait().unwrap();
            let cert = String::from_utf8(fs::read(certs.join("c.pem")).unwrap()).unwrap();
            let key = String::from_utf8(fs::read(certs.join("cKey.pem")).unwrap()).unwrap();
            let n = cert.strip_prefix("certificate ").unwrap();
            assert!(key.starts_with(&format!("key {n} ")), "round {round}: {cert:?} beside {key:?}");
            changed += usize::from(n != "0");
            let left = names(dir.path());
            assert!(left == ["client"] || left == [".client.new", "client"], "left behind: {left:?}");
        }
        assert!(changed > 0, "the writer never got to write");
        replace_files(&certs, &[("c.pem", b"certificate x")], &[]).unwrap();
        assert_eq!(names(dir.path()), ["client"]);
    }

    #[test]
    fn bounded_reads_and_locks() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        assert!(matches!(read_regular(&f, 4), Err(ReadError::NotFound)));
        fs::write(&f, b"12345").unwrap();
        assert!(matches!(read_regular(&f, 4), Err(ReadError::Oversized(5))));
        assert_eq!(read_regular(&f, 5).unwrap().as_slice(), b"12345");
        assert!(matches!(read_regular(dir.path(), 4), Err(ReadError::NotAFile)));
        let sub = dir.path().join("a/b");
        private_dir(&sub).unwrap();
        assert_eq!(fs::metadata(&sub).unwrap().permissions().mode() & 0o777, 0o700);
        let l = dir.path().join("l.lock");
        let held = lock(&l, Duration::ZERO).unwrap();
        assert!(matches!(lock(&l, Duration::from_millis(5)), Err(LockError::Busy(_))));
        drop(held);
        lock(&l, Duration::ZERO).unwrap();
    }
}
