//! What the CLI prints about keys and ports, as JSON (`--json`, a stable interface for
//! rigs) and as text. Never a byte of a split: only what `Key::content` summarises.

use std::fmt::{self, Write as _};

use ped_hal::KeySerial;
use ped_proto::pedkey::KeyColour;
use serde::Serialize;

use crate::error::Error;
use crate::faults::Faults;
use crate::key::{Content, Key};
use crate::port::PortName;
use crate::store::Listing;

/// One key.
#[derive(Clone, Debug, Serialize)]
pub struct KeyReport {
    /// The serial number, ten digits or more.
    pub serial: String,
    /// The label, if any.
    pub label: Option<String>,
    /// Whether the key holds no secret.
    pub blank: bool,
    /// Capacity in bytes.
    pub capacity: u32,
    /// Payload bytes in use.
    pub used: usize,
    /// Writes so far.
    pub write_count: u64,
    /// What the payload says.
    pub content: ContentReport,
    /// The faults set on the key.
    pub faults: FaultReport,
    /// The port the key is in, if any.
    pub port: Option<String>,
}

/// A key's content.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ContentReport {
    /// No secret.
    Blank,
    /// One split of a keyset.
    Split {
        /// `blue`, `red`, `orange`, `black` or `white`.
        colour: &'static str,
        /// The secret's type as the PED names it: SO, Domain, Remote PED, User, Audit.
        secret: &'static str,
        /// Whether the PED asks for a PIN.
        pin: bool,
        /// The keyset identity, hex.
        keyset: String,
        /// Splits needed.
        m: u8,
        /// Splits in the keyset.
        n: u8,
        /// This split's index.
        index: u8,
    },
    /// A payload that does not decode as a PED key's content.
    Unrecognised {
        /// The colour if its header still says it.
        colour: Option<&'static str>,
        /// Why it does not decode.
        reason: String,
    },
}

/// A key's faults.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct FaultReport {
    /// Port reads fail.
    pub read_error: bool,
    /// Port writes of this many bytes or more fail after them.
    pub write_error_after: Option<u32>,
    /// Port writes take this long.
    pub write_latency_ms: u32,
}

impl From<Faults> for FaultReport {
    fn from(f: Faults) -> Self {
        FaultReport {
            read_error: f.read_error,
            write_error_after: f.write_error_after,
            write_latency_ms: f.write_latency_ms,
        }
    }
}

impl fmt::Display for FaultReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut set = Vec::new();
        if self.read_error {
            set.push("read error".to_owned());
        }
        if let Some(n) = self.write_error_after {
            set.push(format!("write error after {n} bytes"));
        }
        if self.write_latency_ms > 0 {
            set.push(format!("write latency {} ms", self.write_latency_ms));
        }
        if set.is_empty() { f.write_str("none") } else { f.write_str(&set.join(", ")) }
    }
}

fn colour_name(c: KeyColour) -> &'static str {
    match c {
        KeyColour::Blue => "blue",
        KeyColour::Red => "red",
        KeyColour::Orange => "orange",
        KeyColour::Black => "black",
        KeyColour::White => "white",
    }
}

impl KeyReport {
    /// The report of `key`, which is in `port` if any.
    pub fn new(key: &Key, port: Option<&PortName>) -> KeyReport {
        let content = match key.content() {
            Content::Blank => ContentReport::Blank,
            Content::Split(s) => ContentReport::Split {
                colour: colour_name(s.colour),
                secret: s.colour.secret_name(),
                pin: s.pin_protected,
                keyset: hex::encode(s.keyset_id),
                m: s.m,
                n: s.n,
                index: s.index,
            },
            Content::Unrecognised { colour, reason } => {
                ContentReport::Unrecognised { colour: colour.map(colour_name), reason }
            }
        };
        KeyReport {
            serial: key.serial().to_string(),
            label: key.label().map(ToString::to_string),
            blank: key.is_blank(),
            capacity: key.capacity(),
            used: key.payload_len(),
            write_count: key.write_count(),
            content,
            faults: key.faults().into(),
            port: port.map(ToString::to_string),
        }
    }

    /// One line for `list`.
    pub fn line(&self) -> String {
        let mut line = self.summary();
        if let Some(port) = &self.port {
            let _ = write!(line, "  [in port {port}]");
        }
        line
    }

    fn summary(&self) -> String {
        let what = match &self.content {
            ContentReport::Blank => "blank".to_owned(),
            ContentReport::Split { colour, secret, m, n, index, .. } => {
                format!("{colour} ({secret}) split {index} of {m}-of-{n}")
            }
            ContentReport::Unrecognised { colour, .. } => format!("{} (unrecognised content)", colour.unwrap_or("?")),
        };
        format!("{}  {:<16}  {what}", self.serial, self.label.as_deref().unwrap_or("-"))
    }
}

impl fmt::Display for KeyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "serial:       {}", self.serial)?;
        writeln!(f, "label:        {}", self.label.as_deref().unwrap_or("-"))?;
        match &self.content {
            ContentReport::Blank => writeln!(f, "type:         blank")?,
            ContentReport::Split { colour, secret, pin, keyset, m, n, index } => {
                writeln!(f, "type:         {secret} ({})", colour.to_uppercase())?;
                writeln!(f, "quorum:       {m} of {n}")?;
                writeln!(f, "split index:  {index}")?;
                writeln!(f, "PIN:          {}", if *pin { "set" } else { "none" })?;
                writeln!(f, "keyset:       {keyset}")?;
            }
            ContentReport::Unrecognised { colour, reason } => {
                writeln!(f, "type:         unrecognised content ({reason})")?;
                if let Some(c) = colour {
                    writeln!(f, "colour byte:  {c}")?;
                }
            }
        }
        writeln!(f, "used:         {} of {} bytes", self.used, self.capacity)?;
        writeln!(f, "writes:       {}", self.write_count)?;
        writeln!(f, "port:         {}", self.port.as_deref().unwrap_or("-"))?;
        writeln!(f, "faults:       {}", self.faults)?;
        Ok(())
    }
}

/// A file in the key directory that is not a readable key.
#[derive(Clone, Debug, Serialize)]
pub struct ProblemReport {
    /// The file.
    pub file: String,
    /// What is wrong and what to do.
    pub error: String,
}

/// The `list` output.
#[derive(Clone, Debug, Serialize)]
pub struct ListReport {
    /// The key directory.
    pub dir: String,
    /// The keys.
    pub keys: Vec<KeyReport>,
    /// The files that are not readable keys.
    pub problems: Vec<ProblemReport>,
}

impl ListReport {
    /// The report of a listing; `ports` says which key is in which port.
    pub fn new(dir: &std::path::Path, listing: &Listing, ports: &[(PortName, Option<KeySerial>)]) -> ListReport {
        let port_of = |serial| ports.iter().find(|(_, s)| *s == Some(serial)).map(|(n, _)| n);
        ListReport {
            dir: dir.display().to_string(),
            keys: listing.keys.iter().map(|k| KeyReport::new(k, port_of(k.serial()))).collect(),
            problems: listing
                .problems
                .iter()
                .map(|e| ProblemReport {
                    file: e.path().map(|p| p.display().to_string()).unwrap_or_default(),
                    error: e.to_string(),
                })
                .collect(),
        }
    }
}

/// One port.
#[derive(Clone, Debug, Serialize)]
pub struct PortReport {
    /// The port's name.
    pub port: String,
    /// The serial of the key in it, if any.
    pub serial: Option<String>,
    /// The key in it, if it reads.
    pub key: Option<KeyReport>,
    /// Why the port's state or its key does not read.
    pub error: Option<String>,
}

impl PortReport {
    /// The report of port `name` whose state read as `state`; `key` loads a key.
    pub fn new(
        name: &PortName,
        state: Result<Option<KeySerial>, &Error>,
        key: impl FnOnce(KeySerial) -> Result<Key, Error>,
    ) -> PortReport {
        let mut report = PortReport { port: name.to_string(), serial: None, key: None, error: None };
        match state {
            Err(e) => report.error = Some(e.to_string()),
            Ok(None) => {}
            Ok(Some(serial)) => {
                report.serial = Some(serial.to_string());
                match key(serial) {
                    Ok(k) => report.key = Some(KeyReport::new(&k, Some(name))),
                    Err(e) => report.error = Some(e.to_string()),
                }
            }
        }
        report
    }

    /// One line for `status`.
    pub fn line(&self) -> String {
        match (&self.serial, &self.key, &self.error) {
            (_, _, Some(error)) => format!("port {}: {error}", self.port),
            (_, Some(key), None) => format!("port {}: {}", self.port, key.summary()),
            _ => format!("port {}: empty", self.port),
        }
    }
}
