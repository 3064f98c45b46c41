//! `ikey-emu`: make, inspect, insert, remove, move and break emulated PED keys.
//! Exit codes: 0 ok, 1 bad input, 2 not found, 3 damaged file, 4 busy, 5 over
//! capacity, 6 I/O, 7 conflict, 8 injected fault (`docs/ikey-emu.md`); 141 when its
//! reader went away (`ikey-emu list | head -1`), quietly, as the daemons end then.
#![forbid(unsafe_code)]

use std::env;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ikey_emu::key::{DEFAULT_CAPACITY, parse_serial};
use ikey_emu::report::{KeyReport, ListReport, PortReport};
use ikey_emu::{Error, ErrorKind, Faults, KeyStore, Label, NewKey, Port};
use serde::Serialize;

/// Emulated PED keys: one secret each, stored one file per key, inserted into
/// virtual key ports that a PED simulator reads and writes.
#[derive(Debug, Parser)]
#[command(name = "ikey-emu", version)]
struct Cli {
    /// The key directory [default: $IKEY_EMU_DIR, else $XDG_DATA_HOME/ped/ikeys,
    /// else ~/.local/share/ped/ikeys]
    #[arg(long, global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// How long to wait for a key that another process is writing, in milliseconds.
    #[arg(long, global = true, value_name = "MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(0..=600_000))]
    lock_timeout_ms: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manufacture a blank key.
    Create {
        /// A label, unique in the directory (not all digits: digits name serials).
        #[arg(long)]
        label: Option<String>,
        /// The serial number [default: a free random ten-digit one].
        #[arg(long)]
        serial: Option<String>,
        /// The capacity in bytes, 1-65536.
        #[arg(long, default_value_t = DEFAULT_CAPACITY)]
        capacity: u32,
    },
    /// List the keys, and any file in the directory that is not a readable key.
    List,
    /// Show a key: type, serial, label, blank or not, writes, M of N, split index.
    Show {
        /// Serial number or label.
        key: String,
    },
    /// Insert a key into a port (one key per port, one port per key).
    Insert {
        /// Serial number or label.
        key: String,
        /// The port, one per PED.
        #[arg(long)]
        port: String,
    },
    /// Remove the key from a port.
    Remove {
        /// The port.
        #[arg(long)]
        port: String,
    },
    /// Show what is in a port, or in every port.
    Status {
        /// The port [default: all ports].
        #[arg(long)]
        port: Option<String>,
    },
    /// Make a key blank.
    Wipe {
        /// Serial number or label.
        key: String,
    },
    /// Copy a key to a new file, to move it to another rig (faults stay behind).
    Export {
        /// Serial number or label.
        key: String,
        /// The file to write; it must not exist.
        file: PathBuf,
    },
    /// Add a key from an exported file.
    Import {
        /// The exported file.
        file: PathBuf,
        /// Overwrite a key of the same serial.
        #[arg(long)]
        replace: bool,
    },
    /// Set the faults of a key as a PED sees it through a port (replacing those set).
    Fault {
        /// Serial number or label.
        key: String,
        /// Every read of the key's content fails.
        #[arg(long)]
        read_error: bool,
        /// Writes of N bytes or more fail after N bytes; the key keeps its old content.
        #[arg(long, value_name = "N")]
        write_error_after: Option<u32>,
        /// Every write takes this long (6000 and 36000: the seed's orange-key rewrites).
        #[arg(long, value_name = "MS")]
        write_latency_ms: Option<u32>,
        /// Remove every fault.
        #[arg(long, conflicts_with_all = ["read_error", "write_error_after", "write_latency_ms"])]
        clear: bool,
    },
}

/// Where the output goes, as an I/O error names it.
const STDOUT: &str = "standard output";
/// The status a shell shows for a program that SIGPIPE ended (128 + 13), as `yes | head`
/// gives. Rust ignores SIGPIPE, so a write to a closed pipe fails with EPIPE instead; the
/// work is done by then, and the reader that left wants no advice about directories.
const CLOSED_PIPE: u8 = 128 + 13;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { ErrorKind::BadInput.exit_code() } else { 0 });
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Io { path, source }) if path == Path::new(STDOUT) && source.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::from(CLOSED_PIPE)
        }
        Err(e) => {
            let _ = writeln!(io::stderr(), "ikey-emu: {e}");
            ExitCode::from(e.kind().exit_code())
        }
    }
}

fn default_dir() -> Result<PathBuf, Error> {
    if let Some(dir) = env::var_os("IKEY_EMU_DIR").filter(|v| !v.is_empty()) {
        return Ok(dir.into());
    }
    // The XDG spec says a relative XDG_DATA_HOME is to be ignored.
    if let Some(data) = env::var_os("XDG_DATA_HOME").map(PathBuf::from).filter(|p| p.is_absolute()) {
        return Ok(data.join("ped").join("ikeys"));
    }
    match env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/ped/ikeys")),
        None => Err(Error::NoKeyDirectory),
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    let dir = match cli.dir {
        Some(dir) => dir,
        None => default_dir()?,
    };
    let store = KeyStore::open(dir)?.with_lock_timeout(Duration::from_millis(cli.lock_timeout_ms));
    let out = Output { json: cli.json };
    match cli.command {
        Command::Create { label, serial, capacity } => {
            let new = NewKey {
                serial: serial.as_deref().map(parse_serial).transpose()?,
                label: label.as_deref().map(str::parse::<Label>).transpose()?,
                capacity,
            };
            let key = store.create(new)?;
            out.key(&KeyReport::new(&key, None), |r| match &r.label {
                Some(label) => format!("created key {} \"{label}\" ({} bytes), blank", r.serial, r.capacity),
                None => format!("created key {} ({} bytes), blank", r.serial, r.capacity),
            })
        }
        Command::List => {
            let listing = store.list()?;
            let ports: Vec<_> = store.ports()?.into_iter().filter_map(|p| p.key.ok().map(|s| (p.name, s))).collect();
            let report = ListReport::new(store.dir(), &listing, &ports);
            if out.json {
                return out.json(&report);
            }
            let mut text = String::new();
            for key in &report.keys {
                text.push_str(&key.line());
                text.push('\n');
            }
            if report.keys.is_empty() {
                text.push_str(&format!("no keys in {}\n", report.dir));
            }
            for problem in &report.problems {
                let _ = writeln!(io::stderr(), "ikey-emu: warning: {}", problem.error);
            }
            out.text(&text)
        }
        Command::Show { key } => {
            let serial = store.resolve(&key)?;
            let key = store.load(serial)?;
            let report = KeyReport::new(&key, store.port_of(serial)?.as_ref());
            out.key(&report, ToString::to_string)
        }
        Command::Insert { key, port } => {
            let serial = store.resolve(&key)?;
            let port = Port::open(&store, &port)?;
            port.insert(serial)?;
            let report = PortReport::new(port.name(), Ok(Some(serial)), |s| store.load(s));
            out.port(&report, |_| format!("key {serial} inserted into port {}", port.name()))
        }
        Command::Remove { port } => {
            let port = Port::existing(&store, &port)?;
            let serial = port.remove()?;
            if out.json {
                return out
                    .json(&serde_json::json!({ "port": port.name().to_string(), "removed": serial.to_string() }));
            }
            out.text(&format!("key {serial} removed from port {}\n", port.name()))
        }
        Command::Status { port: Some(name) } => {
            let port = Port::existing(&store, &name)?;
            let state = port.key();
            let report = PortReport::new(port.name(), state.as_ref().copied(), |s| store.load(s));
            out.port(&report, PortReport::line)
        }
        Command::Status { port: None } => {
            let reports: Vec<PortReport> = store
                .ports()?
                .iter()
                .map(|p| PortReport::new(&p.name, p.key.as_ref().copied(), |s| store.load(s)))
                .collect();
            if out.json {
                return out.json(&reports);
            }
            let text: String = reports.iter().map(|r| r.line() + "\n").collect();
            out.text(if text.is_empty() { "no ports\n" } else { &text })
        }
        Command::Wipe { key } => {
            let serial = store.resolve(&key)?;
            let key = store.wipe(serial)?;
            let report = KeyReport::new(&key, store.port_of(serial)?.as_ref());
            out.key(&report, |r| format!("key {} wiped (write {})", r.serial, r.write_count))
        }
        Command::Export { key, file } => {
            let serial = store.resolve(&key)?;
            store.export(serial, &file)?;
            if out.json {
                return out
                    .json(&serde_json::json!({ "serial": serial.to_string(), "file": file.display().to_string() }));
            }
            out.text(&format!("key {serial} exported to {}\n", file.display()))
        }
        Command::Import { file, replace } => {
            let key = store.import(&file, replace)?;
            let report = KeyReport::new(&key, store.port_of(key.serial())?.as_ref());
            out.key(&report, |r| format!("key {} imported", r.serial))
        }
        Command::Fault { key, read_error, write_error_after, write_latency_ms, clear } => {
            if !clear && !read_error && write_error_after.is_none() && write_latency_ms.is_none() {
                return Err(Error::NoFaultNamed);
            }
            let faults = Faults { read_error, write_error_after, write_latency_ms: write_latency_ms.unwrap_or(0) };
            let serial = store.resolve(&key)?;
            let key = store.set_faults(serial, faults)?;
            let report = KeyReport::new(&key, store.port_of(serial)?.as_ref());
            out.key(&report, |r| format!("key {} faults: {}", r.serial, r.faults))
        }
    }
}

struct Output {
    json: bool,
}

impl Output {
    fn write(&self, text: &str) -> Result<(), Error> {
        let mut stdout = io::stdout().lock();
        stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).map_err(|e| Error::io(STDOUT, e))
    }

    fn text(&self, text: &str) -> Result<(), Error> {
        self.write(text)
    }

    fn json(&self, value: &impl Serialize) -> Result<(), Error> {
        let mut text = serde_json::to_string_pretty(value).map_err(|e| Error::io(STDOUT, e.into()))?;
        text.push('\n');
        self.write(&text)
    }

    fn key(&self, report: &KeyReport, text: impl FnOnce(&KeyReport) -> String) -> Result<(), Error> {
        if self.json { self.json(report) } else { self.line(text(report)) }
    }

    fn port(&self, report: &PortReport, text: impl FnOnce(&PortReport) -> String) -> Result<(), Error> {
        if self.json { self.json(report) } else { self.line(text(report)) }
    }

    fn line(&self, mut text: String) -> Result<(), Error> {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        self.write(&text)
    }
}
