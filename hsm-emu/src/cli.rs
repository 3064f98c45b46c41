//! The command line: `serve`, and lunacm-style commands sent to a running HSM.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::channel::Firmware;
use crate::lunacm;
use crate::server::{ServeConfig, Server, SystemClock, os_rng};

/// `hsm-emu serve`.
#[derive(Debug, Parser)]
#[command(name = "hsm-emu serve", about = "Run the emulated HSM")]
struct Serve {
    /// The state directory (made, and the HSM manufactured, if new).
    #[arg(long)]
    state: PathBuf,
    /// The serial number given at manufacture.
    #[arg(long, default_value = "150001")]
    serial: String,
    /// The control socket: socket:PATH.
    #[arg(long)]
    control: String,
    /// The local PED's emulated USB endpoint: socket:PATH (ped-sim --usb).
    #[arg(long)]
    local_ped: Option<String>,
    /// pedclient's HSM link: socket:PATH.
    #[arg(long)]
    pedclient: Option<String>,
    /// PED-key action timeout, seconds.
    #[arg(long, default_value_t = 200)]
    key_timeout: u64,
    /// pedclient connect timeout and the margin on each PED reply, seconds.
    #[arg(long, default_value_t = 30)]
    link_timeout: u64,
    /// The clock at start, Unix seconds (tests with certificates made for an instant).
    #[arg(long)]
    unix_time: Option<u64>,
    /// Manufacture a new HSM in the factory of the HSM whose state directory this is
    /// (the same root and MIC, a HOC of its own), so that one PED trusts both.
    #[arg(long)]
    manufacturer: Option<PathBuf>,
    /// The HSM's firmware version: 7.4.2 or older makes its remote links speak only the
    /// legacy channel of those firmwares (docs/protocol.md §17); 7.7.0 and newer (the
    /// default) the current one.
    #[arg(long, value_parser = Firmware::parse)]
    firmware: Option<Firmware>,
}

/// Runs the command line; `args` excludes the program name.
pub fn main(args: Vec<String>) -> ExitCode {
    let mut control = None;
    let mut rest = args.as_slice();
    if let [flag, value, tail @ ..] = rest
        && (flag == "--control" || flag == "-control")
    {
        control = Some(value.clone());
        rest = tail;
    }
    match (rest.first().map(String::as_str), control) {
        (Some("serve"), _) => serve(&args),
        (Some("audit"), None) => crate::audit::main(&rest[1..]),
        (Some(_), Some(control)) => {
            let mut words = rest.to_vec();
            if let Err(e) = prompt_for_password(&mut words, &mut std::io::stdin().lock()) {
                eprintln!("hsm-emu: {e}");
                return ExitCode::from(2);
            }
            send(&control, &words)
        }
        (Some("-h" | "--help" | "help"), None) => {
            let _ = writeln!(std::io::stdout(), "{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The command line, for `--help` and after a mistake.
const USAGE: &str = "usage: hsm-emu serve --state DIR --control socket:PATH [--local-ped socket:PATH] \
[--pedclient socket:PATH]   (hsm-emu serve --help: every option)
       hsm-emu --control socket:PATH <command>   (ped connect|disconnect|set|show|vector init, \
hsm init|factoryreset|changepolicy, partition create|delete|init, role login|init|changepw|resetpw)
       `ped connect -password -` reads the one-time password from standard input
       hsm-emu audit verify FILE...   (pedclient's audit log files of one HSM, oldest first)";

fn serve(args: &[String]) -> ExitCode {
    // `serve` may come after a --control; clap sees only serve's own arguments.
    let words: Vec<&String> = args.iter().filter(|a| *a != "serve").collect();
    let serve = match Serve::try_parse_from(std::iter::once(&"hsm-emu serve".to_owned()).chain(words)) {
        Ok(s) => s,
        Err(e) => e.exit(),
    };
    let config = match config(serve) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hsm-emu: {e}");
            return ExitCode::from(2);
        }
    };
    // The clock and the RNG, chosen here: the system's clock (from --unix-time if
    // given) and the operating system's RNG.
    let clock = SystemClock::starting_at(config.unix_time);
    let server = match Server::with(config, Box::new(clock), os_rng()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hsm-emu: {e}");
            return ExitCode::FAILURE;
        }
    };
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hsm-emu: control socket: {e}");
            ExitCode::FAILURE
        }
    }
}

fn config(s: Serve) -> Result<ServeConfig, String> {
    Ok(ServeConfig {
        state: s.state,
        serial: s.serial,
        control: socket_path(&s.control)?,
        local_ped: s.local_ped.as_deref().map(socket_path).transpose()?,
        pedclient: s.pedclient.as_deref().map(socket_path).transpose()?,
        key_timeout: Duration::from_secs(s.key_timeout),
        link_timeout: Duration::from_secs(s.link_timeout),
        unix_time: s.unix_time,
        manufacturer: s.manufacturer,
        firmware: s.firmware.unwrap_or_default(),
    })
}

fn socket_path(arg: &str) -> Result<PathBuf, String> {
    arg.strip_prefix("socket:").map(PathBuf::from).ok_or_else(|| format!("`{arg}`: expected socket:PATH"))
}

/// `ped connect -password -`: the digits are read from `input` (one line; a prompt on
/// standard error first), so that they never show in the process list.
fn prompt_for_password(words: &mut [String], input: &mut dyn BufRead) -> Result<(), String> {
    if words.get(..2) != Some(&["ped".to_owned(), "connect".to_owned()][..]) {
        return Ok(());
    }
    // `-password`, or any beginning of it lunacm takes (`-pa`), then `-`.
    let is_password = |w: &str| {
        w.strip_prefix('-')
            .map(|n| n.trim_start_matches('-'))
            .is_some_and(|n| n.len() >= 2 && "password".starts_with(n))
    };
    let Some(at) = words.windows(2).position(|pair| is_password(&pair[0]) && pair[1] == "-") else {
        return Ok(());
    };
    eprint!("Enter the one-time password (8 digits): ");
    let mut line = String::new();
    input.read_line(&mut line).map_err(|e| format!("reading the password: {e}"))?;
    let digits = line.trim();
    if digits.is_empty() {
        return Err("no password was entered (`-password` alone generates one)".into());
    }
    words[at + 1] = digits.to_owned();
    Ok(())
}

/// Sends one command and copies the HSM's lines to stdout; the exit status says
/// whether the last line was lunacm's success (`Command Result : No Error`, or `ped
/// set`'s `Command Result : 0 (Success)`).
fn send(control: &str, words: &[String]) -> ExitCode {
    let run = || -> Result<bool, String> {
        let path = socket_path(control)?;
        let mut stream =
            UnixStream::connect(&path).map_err(|e| format!("{}: {e}; is `hsm-emu serve` running?", path.display()))?;
        let request = serde_json::to_string(words).map_err(|e| e.to_string())?;
        writeln!(stream, "{request}").map_err(|e| e.to_string())?;
        let mut last = String::new();
        let stdout = std::io::stdout();
        for line in BufReader::new(stream).lines() {
            let line = line.map_err(|e| e.to_string())?;
            let _ = writeln!(stdout.lock(), "{line}");
            last = line;
        }
        Ok(last == "Command Result : No Error" || last == lunacm::PED_SET_DONE)
    };
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("hsm-emu: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompted(words: &str, input: &str) -> Result<Vec<String>, String> {
        let mut words: Vec<String> = words.split_whitespace().map(str::to_owned).collect();
        prompt_for_password(&mut words, &mut input.as_bytes())?;
        Ok(words)
    }

    #[test]
    fn a_password_given_as_dash_is_read_from_standard_input() {
        let read = prompted("ped connect -ip h -password -", "18246843\n").unwrap();
        assert_eq!(read, ["ped", "connect", "-ip", "h", "-password", "18246843"]);
        let read = prompted("ped connect --pa - -ip h", "18246843\n").unwrap();
        assert_eq!(read, ["ped", "connect", "--pa", "18246843", "-ip", "h"]);
        assert_eq!(prompted("ped connect -password", "x").unwrap(), ["ped", "connect", "-password"]);
        assert_eq!(prompted("ped connect -password 18246843", "x").unwrap()[3], "18246843");
        assert_eq!(prompted("ped show", "x").unwrap(), ["ped", "show"]);
        assert_eq!(
            prompted("ped connect -password -", "\n").unwrap_err(),
            "no password was entered (`-password` alone generates one)"
        );
    }
}
