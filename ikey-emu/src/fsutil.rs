//! The few file-system moves everything durable is made of: a private directory, a
//! bounded read, an atomic replace, and an advisory lock with a bounded wait.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

/// Creates `path` and any missing parents, readable by the owner only.
pub(crate) fn private_dir(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(path)
}

/// Flushes a directory's entries, so that a rename in it survives a power cut.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Why a bounded read gave no bytes.
#[derive(Debug)]
pub(crate) enum ReadError {
    NotFound,
    NotAFile,
    Oversized(usize),
    Io(io::Error),
}

/// Reads a regular file of at most `max` bytes without ever holding more than
/// `max + 1` of them: a huge or endless file in the key directory costs nothing.
pub(crate) fn read_regular(path: &Path, max: usize) -> Result<Zeroizing<Vec<u8>>, ReadError> {
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
        // Renamed away between the two calls: the key is gone, as if never there.
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

/// A temporary file written and flushed beside its destination, not yet in place.
/// Dropped uncommitted, it is deleted: a failed write leaves the destination alone.
#[derive(Debug)]
pub(crate) struct Staged {
    path: PathBuf,
    committed: bool,
}

impl Staged {
    /// Writes `bytes` to `tmp` (owner-only, replacing any stale one) and flushes them.
    pub(crate) fn write(tmp: PathBuf, bytes: &[u8]) -> io::Result<Staged> {
        let staged = Staged { path: tmp, committed: false };
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&staged.path)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        Ok(staged)
    }

    /// Renames the file over `dest` and flushes the directory: from here on every
    /// reader sees the new content, and a crash before here leaves the old.
    pub(crate) fn commit(mut self, dest: &Path) -> io::Result<()> {
        fs::rename(&self.path, dest)?;
        self.committed = true;
        sync_dir(parent(dest))
    }

    /// Like [`Staged::commit`] but fails with `AlreadyExists` rather than replace
    /// `dest` (a hard link is the atomic create-if-absent of POSIX file systems).
    pub(crate) fn commit_new(self, dest: &Path) -> io::Result<()> {
        fs::hard_link(&self.path, dest)?;
        // Self's drop unlinks the temporary name; the content lives on under `dest`.
        drop(self);
        sync_dir(parent(dest))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// An advisory lock on a lock file, held until dropped (closing the file releases it,
/// and so does the death of the process: a killed writer never leaves a key locked).
#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
}

/// Why a lock was not taken.
#[derive(Debug)]
pub(crate) enum LockError {
    Busy(Duration),
    Io(io::Error),
}

/// Takes the exclusive lock on `path`, waiting at most `timeout`.
///
/// The lock files are never renamed or replaced, unlike the key files they guard: a
/// lock on a file that a rename swaps out would guard nothing.
pub(crate) fn lock(path: &Path, timeout: Duration) -> Result<Lock, LockError> {
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
