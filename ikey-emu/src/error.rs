//! Every failure a user of the store, the port or the CLI can meet, each saying what to
//! do, and the stable exit code the CLI gives it.

use std::io;
use std::path::PathBuf;

use ped_hal::KeySerial;

use crate::key::FieldError;
use crate::keyfile::FormatError;

/// A failure of the key store, a port or the CLI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value given on the command line or to the library is out of its rules.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// A port name breaks the rules of `PortName`.
    #[error("invalid port name {0:?}: use 1-64 letters, digits, '.', '_' or '-', not starting with '.'")]
    PortName(String),
    /// A fault setting is out of range.
    #[error("write latency {0} ms is over the limit of {max} ms", max = crate::faults::MAX_WRITE_LATENCY_MS)]
    Latency(u32),
    /// The command line named no fault and not `--clear` either.
    #[error("name at least one fault (--read-error, --write-error-after N, --write-latency-ms MS) or --clear")]
    NoFaultNamed,
    /// Neither `--dir`, `IKEY_EMU_DIR`, `XDG_DATA_HOME` nor `HOME` says where the keys are.
    #[error("no key directory: give --dir DIR, or set IKEY_EMU_DIR (or HOME)")]
    NoKeyDirectory,
    /// No key answers to this serial or label.
    #[error("no key {key} in {}; `ikey-emu list` shows the keys there{}", dir.display(), unreadable_note(*unreadable))]
    NoSuchKey {
        /// The serial or label looked for.
        key: String,
        /// The key directory.
        dir: PathBuf,
        /// Files that could not be read while looking (one of them may be the key).
        unreadable: usize,
    },
    /// A file named on the command line is not there.
    #[error("{}: no such file", path.display())]
    NoSuchFile {
        /// The file.
        path: PathBuf,
    },
    /// A label names more than one key (only possible if files were copied in by hand).
    #[error("label {label:?} names several keys ({serials}); name the key by its serial number")]
    AmbiguousLabel {
        /// The label.
        label: String,
        /// The serials that carry it.
        serials: String,
    },
    /// A file in the key directory is not what it should be.
    #[error("{}: {reason}; {}", path.display(), reason.advice())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: Damage,
    },
    /// Another process holds the lock for longer than this one waits.
    #[error("{what} is being written by another process (waited {waited_ms} ms); try again when it is done")]
    Busy {
        /// What is locked ("key 0000000042", "the ports").
        what: String,
        /// How long this process waited.
        waited_ms: u64,
    },
    /// The payload does not fit the key; nothing was written.
    #[error(
        "a payload of {len} bytes does not fit key {serial} ({capacity} bytes); nothing was written: \
         use a key with more capacity"
    )]
    TooLarge {
        /// The key.
        serial: KeySerial,
        /// The payload's length.
        len: usize,
        /// The key's capacity.
        capacity: u32,
    },
    /// The operating system refused a file operation.
    #[error("{}: {source}; check that the directory exists, is writable by you and the disk has room", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A key with this serial is already in the directory.
    #[error("key {serial} already exists in {}; choose another serial, or `import --replace` to overwrite it", dir.display())]
    SerialTaken {
        /// The serial.
        serial: KeySerial,
        /// The key directory.
        dir: PathBuf,
    },
    /// Another key already carries this label.
    #[error("label {label:?} is already on key {serial}; labels name keys, so each is used once")]
    LabelTaken {
        /// The label.
        label: String,
        /// The key that carries it.
        serial: KeySerial,
    },
    /// An export would overwrite a file.
    #[error("{} already exists; export to a new file name", path.display())]
    FileExists {
        /// The file.
        path: PathBuf,
    },
    /// No port of this name was ever opened.
    #[error(
        "no port {name:?} in {}; a port appears when a key is first inserted into it or a PED simulator opens it",
        dir.display()
    )]
    NoSuchPort {
        /// The port's name.
        name: String,
        /// The key directory.
        dir: PathBuf,
    },
    /// The port holds no key.
    #[error("port {port} is empty; `ikey-emu insert KEY --port {port}` puts a key in it")]
    PortEmpty {
        /// The port.
        port: String,
    },
    /// The port already holds a key.
    #[error("port {port} already holds key {serial}; `ikey-emu remove --port {port}` first")]
    PortOccupied {
        /// The port.
        port: String,
        /// The key in it.
        serial: KeySerial,
    },
    /// The key is in another port (a key is in one port at a time).
    #[error("key {serial} is in port {port}; `ikey-emu remove --port {port}` first")]
    KeyInOtherPort {
        /// The key.
        serial: KeySerial,
        /// The port it is in.
        port: String,
    },
    /// The key left the port before a write committed.
    #[error(
        "key {serial} was removed from port {port} before the write completed; it keeps its old content: \
         insert it again and repeat the write"
    )]
    RemovedDuringWrite {
        /// The key.
        serial: KeySerial,
        /// The port.
        port: String,
    },
    /// A read fault set by a rig.
    #[error("key {serial} did not answer the read (injected fault); `ikey-emu fault {serial} --clear` removes it")]
    InjectedReadFault {
        /// The key.
        serial: KeySerial,
    },
    /// A write fault set by a rig.
    #[error(
        "key {serial} failed the write after {after} bytes (injected fault) and keeps its old content; \
         `ikey-emu fault {serial} --clear` removes the fault"
    )]
    InjectedWriteFault {
        /// The key.
        serial: KeySerial,
        /// Payload bytes that reached the key.
        after: usize,
    },
}

fn unreadable_note(n: usize) -> String {
    match n {
        0 => String::new(),
        n => format!(" ({n} files there could not be read; `ikey-emu list` names them)"),
    }
}

/// What is wrong with a file in the key directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Damage {
    /// The key file does not decode.
    #[error("{0}")]
    Format(#[from] FormatError),
    /// A valid key file under another key's name (copied or renamed by hand).
    #[error("the file is named for key {named} but holds key {inside}")]
    SerialMismatch {
        /// The serial in the file name.
        named: KeySerial,
        /// The serial inside.
        inside: KeySerial,
    },
    /// A directory, a symbolic link or a device where a key file should be.
    #[error("not a regular file")]
    NotAFile,
    /// A file whose name is not a key's (`<serial>.ikey`).
    #[error("not a key file of ikey-emu (key files are named <serial>.ikey)")]
    ForeignName,
    /// A port's state file does not parse.
    #[error("port state unreadable: {0}")]
    PortState(String),
}

impl Damage {
    fn advice(&self) -> &'static str {
        match self {
            Damage::PortState(_) => "delete the file: the port is then empty",
            Damage::ForeignName | Damage::NotAFile => "move it out of the key directory",
            Damage::Format(_) | Damage::SerialMismatch { .. } => {
                "restore the key with `ikey-emu import --replace FILE` from an export, or move the file out of the key directory"
            }
        }
    }
}

/// The class of an error, which decides the CLI's exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Bad command line or value: exit 1.
    BadInput,
    /// No such key or port, or an empty port: exit 2.
    NotFound,
    /// A damaged, foreign or unreadable file: exit 3.
    Damaged,
    /// Locked by another process beyond the wait: exit 4.
    Busy,
    /// Payload over capacity: exit 5.
    Capacity,
    /// The OS refused a file operation: exit 6.
    Io,
    /// The serial or label is taken, the port is occupied, the key is in another
    /// port, or the export file exists: exit 7.
    Conflict,
    /// An injected fault fired: exit 8.
    Fault,
}

impl ErrorKind {
    /// The CLI's exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::BadInput => 1,
            ErrorKind::NotFound => 2,
            ErrorKind::Damaged => 3,
            ErrorKind::Busy => 4,
            ErrorKind::Capacity => 5,
            ErrorKind::Io => 6,
            ErrorKind::Conflict => 7,
            ErrorKind::Fault => 8,
        }
    }
}

impl Error {
    /// The error's class.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Field(_)
            | Error::PortName(_)
            | Error::Latency(_)
            | Error::NoFaultNamed
            | Error::NoKeyDirectory
            | Error::AmbiguousLabel { .. } => ErrorKind::BadInput,
            Error::NoSuchKey { .. }
            | Error::NoSuchFile { .. }
            | Error::NoSuchPort { .. }
            | Error::PortEmpty { .. }
            | Error::RemovedDuringWrite { .. } => ErrorKind::NotFound,
            Error::Damaged { .. } => ErrorKind::Damaged,
            Error::Busy { .. } => ErrorKind::Busy,
            Error::TooLarge { .. } => ErrorKind::Capacity,
            Error::Io { .. } => ErrorKind::Io,
            Error::SerialTaken { .. }
            | Error::LabelTaken { .. }
            | Error::FileExists { .. }
            | Error::PortOccupied { .. }
            | Error::KeyInOtherPort { .. } => ErrorKind::Conflict,
            Error::InjectedReadFault { .. } | Error::InjectedWriteFault { .. } => ErrorKind::Fault,
        }
    }

    /// The file the error is about, if it is about one.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Error::Damaged { path, .. }
            | Error::Io { path, .. }
            | Error::NoSuchFile { path }
            | Error::FileExists { path } => Some(path),
            _ => None,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn damaged(path: impl Into<PathBuf>, reason: impl Into<Damage>) -> Error {
        Error::Damaged { path: path.into(), reason: reason.into() }
    }
}
