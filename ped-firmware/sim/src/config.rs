//! The simulator's settings: a TOML file (`--config`) overridden by the command line.

use std::fs;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use clap::Parser;
use ped_firmware::PedConfig;
use ped_firmware::update::image::VendorKey;
use serde::Deserialize;

/// The firmware version a simulated PED reports when its flash holds no image.
pub const DEFAULT_FIRMWARE_VERSION: &str = "2.9.0-1";
/// The serial a simulated PED has unless told otherwise.
pub const DEFAULT_SERIAL: &str = "PED-SIM-0001";
/// The key port a simulated PED opens unless told otherwise.
pub const DEFAULT_PORT: &str = "ped";

/// A local stream socket: `socket:PATH` (Unix) or `tcp:127.0.0.1:PORT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket at this path.
    Unix(PathBuf),
    /// A TCP address on the loopback interface.
    Tcp(SocketAddr),
}

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("socket:").filter(|p| !p.is_empty()) {
            return Ok(Endpoint::Unix(path.into()));
        }
        let Some(addr) = s.strip_prefix("tcp:") else {
            return Err(format!("`{s}` is not an endpoint: use socket:PATH or tcp:127.0.0.1:PORT"));
        };
        let addr: SocketAddr = addr.parse().map_err(|e| format!("`{addr}`: {e}"))?;
        // The endpoint carries keypad-free control of a PED: whoever reaches it can
        // drive logins. It is for this machine only.
        if !addr.ip().is_loopback() {
            return Err(format!("`{addr}` is not a loopback address; ped-sim listens on this machine only"));
        }
        Ok(Endpoint::Tcp(addr))
    }
}

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "ped-sim", version, about = "A simulated PIN Entry Device")]
pub struct Cli {
    /// A TOML file with any of the settings below (snake_case keys); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The PED's serial number (its identity in the handshake and in Info).
    #[arg(long)]
    pub serial: Option<String>,
    /// The firmware version shown and reported when the flash holds no image.
    #[arg(long, value_name = "VERSION")]
    pub firmware_version: Option<String>,
    /// The manufacturer's root certificate (PEM or DER) every HSM chain must end in.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// The vendor's image-signing public key: the SEC1 hex file `make_image keygen`
    /// writes. Without it Software Update is not offered.
    #[arg(long, value_name = "FILE")]
    pub vendor_key: Option<PathBuf>,
    /// The PED-key action timeout in seconds (default 200).
    #[arg(long, value_name = "SECONDS")]
    pub key_timeout: Option<u64>,
    /// PBKDF2 iterations of the PIN binding; only for tests (keys written with another
    /// count do not read on a real PED).
    #[arg(long, value_name = "N", hide = true)]
    pub pin_iterations: Option<NonZeroU32>,
    /// State directory: the firmware flash lives in STATE/flash.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// The ikey-emu key directory.
    #[arg(long, value_name = "DIR")]
    pub keys: Option<PathBuf>,
    /// The ikey-emu key port this PED reads (default `ped`).
    #[arg(long, value_name = "NAME")]
    pub port: Option<String>,
    /// The emulated USB endpoint to listen on: socket:PATH or tcp:127.0.0.1:PORT.
    #[arg(long, value_name = "ENDPOINT")]
    pub usb: Option<Endpoint>,
    /// Be the peripherals (display, keypad, key port) of a PED board instead of running
    /// the core: the board's peripheral UART, socket:PATH (QEMU's `-chardev socket`; see
    /// docs/board.md). The board's USB link is its own socket, so --usb and --state do
    /// not apply.
    #[arg(long, value_name = "ENDPOINT", conflicts_with_all = ["usb", "state"])]
    pub board: Option<Endpoint>,
    /// A control socket taking script commands, one per line: socket:PATH or tcp:….
    #[arg(long, value_name = "ENDPOINT")]
    pub control: Option<Endpoint>,
    /// Run the commands of this script file, then exit (or keep serving the control
    /// socket if one is given, until its `quit`). Implies --headless.
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
    /// No terminal UI: keys come from the script or the control socket.
    #[arg(long)]
    pub headless: bool,
    /// Write every screen as a JSON line to FILE (`-`: stdout). Headless, without
    /// --json or --text, screens go to stdout as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write every screen as text to FILE (`-`: stdout).
    #[arg(long, value_name = "FILE")]
    pub text: Option<PathBuf>,
    /// The wall clock at start-up, in Unix seconds (certificate validity); for tests
    /// whose certificates are made for a fixed instant.
    #[arg(long, value_name = "SECONDS")]
    pub unix_time: Option<u64>,
}

/// The settings of the TOML file: the same names as the flags, in snake_case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    serial: Option<String>,
    firmware_version: Option<String>,
    trusted_root: Option<PathBuf>,
    vendor_key: Option<PathBuf>,
    key_timeout: Option<u64>,
    pin_iterations: Option<NonZeroU32>,
    state: Option<PathBuf>,
    keys: Option<PathBuf>,
    port: Option<String>,
    usb: Option<String>,
    control: Option<String>,
    board: Option<String>,
}

/// How the keypad is driven.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Front {
    /// The terminal UI.
    Tui,
    /// This script, then the control socket if any.
    Script(PathBuf),
    /// The control socket only, until `quit`.
    Headless,
}

/// Everything the simulator starts with.
#[derive(Debug)]
pub struct Settings {
    /// The core's configuration (its version is replaced by the booted image's).
    pub ped: PedConfig,
    /// The state directory, for the flash.
    pub state: Option<PathBuf>,
    /// The key directory and port name.
    pub keys: Option<(PathBuf, String)>,
    /// The emulated USB endpoint.
    pub usb: Option<Endpoint>,
    /// The control socket.
    pub control: Option<Endpoint>,
    /// The board whose peripherals this is (`--board`), instead of the in-process core.
    pub board: Option<Endpoint>,
    /// The keypad's driver.
    pub front: Front,
    /// Where JSON screen lines go.
    pub json: Option<PathBuf>,
    /// Where text screens go.
    pub text: Option<PathBuf>,
    /// The wall clock at start-up, if fixed.
    pub unix_time: Option<u64>,
}

impl Settings {
    /// Merges the file named by `--config` (if any) under the flags and loads the
    /// files they name.
    pub fn resolve(cli: Cli) -> Result<Settings, String> {
        let file = match &cli.config {
            Some(path) => {
                let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => FileSettings::default(),
        };
        let root_path = cli
            .trusted_root
            .or(file.trusted_root)
            .ok_or("no trusted root: give --trusted-root FILE (the HSM factory's root certificate)")?;
        let serial = cli.serial.or(file.serial).unwrap_or_else(|| DEFAULT_SERIAL.into());
        let version = cli.firmware_version.or(file.firmware_version).unwrap_or_else(|| DEFAULT_FIRMWARE_VERSION.into());
        let mut ped = PedConfig::new(&serial, &version, read_certificate(&root_path)?);
        if let Some(seconds) = cli.key_timeout.or(file.key_timeout) {
            ped.key_timeout_ms = seconds.saturating_mul(1000);
        }
        if let Some(iterations) = cli.pin_iterations.or(file.pin_iterations) {
            ped.pin_iterations = iterations;
        }
        if let Some(path) = cli.vendor_key.or(file.vendor_key) {
            ped.vendor_key = Some(read_vendor_key(&path)?);
        }
        let keys =
            cli.keys.or(file.keys).map(|dir| (dir, cli.port.or(file.port).unwrap_or_else(|| DEFAULT_PORT.into())));
        let endpoint = |flag: Option<Endpoint>, file: Option<String>| match flag {
            Some(e) => Ok(Some(e)),
            None => file.map(|s| s.parse()).transpose(),
        };
        let front = match (cli.script, cli.headless) {
            (Some(script), _) => Front::Script(script),
            (None, true) => Front::Headless,
            (None, false) => Front::Tui,
        };
        let (json, text) = match (cli.json, cli.text, &front) {
            (None, None, Front::Script(_) | Front::Headless) => (Some(PathBuf::from("-")), None),
            (json, text, _) => (json, text),
        };
        Ok(Settings {
            ped,
            state: cli.state.or(file.state),
            keys,
            usb: endpoint(cli.usb, file.usb)?,
            control: endpoint(cli.control, file.control)?,
            board: endpoint(cli.board, file.board)?,
            front,
            json,
            text,
            unix_time: cli.unix_time,
        })
    }
}

/// A certificate file, PEM or DER.
fn read_certificate(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !bytes.starts_with(b"-----BEGIN") {
        return Ok(bytes);
    }
    match pem_rfc7468::decode_vec(&bytes) {
        Ok(("CERTIFICATE", der)) => Ok(der),
        Ok((label, _)) => Err(format!("{}: a PEM {label}, not a CERTIFICATE", path.display())),
        Err(e) => Err(format!("{}: not a PEM certificate: {e}", path.display())),
    }
}

/// The vendor key as `make_image keygen` writes it: SEC1 hex.
fn read_vendor_key(path: &Path) -> Result<VendorKey, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bytes = hex::decode(text.trim()).map_err(|e| format!("{}: not hex: {e}", path.display()))?;
    VendorKey::from_sec1(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}
