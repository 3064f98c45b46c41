//! The PED device: which one to open ([`DeviceSpec`]).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which PED to serve. The same relay code runs over each: every kind is a pipe of USB
/// packets (docs/usb.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceSpec {
    /// A real PED on USB (vendor:product 1209:0001), found by polling, so one plugged in
    /// before or after the server started is picked up.
    Usb,
    /// The emulated endpoint of `ped-sim` on a Unix socket.
    Socket(PathBuf),
    /// The emulated endpoint on TCP (loopback).
    Tcp(SocketAddr),
}

impl FromStr for DeviceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "usb" {
            Ok(DeviceSpec::Usb)
        } else if let Some(path) = s.strip_prefix("socket:").filter(|p| !p.is_empty()) {
            Ok(DeviceSpec::Socket(path.into()))
        } else if let Some(addr) = s.strip_prefix("tcp:") {
            addr.parse().map(DeviceSpec::Tcp).map_err(|e| format!("`{addr}`: {e}"))
        } else {
            Err(format!("`{s}` is not a device: use usb, socket:PATH or tcp:HOST:PORT"))
        }
    }
}

impl TryFrom<String> for DeviceSpec {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<DeviceSpec> for String {
    fn from(d: DeviceSpec) -> String {
        d.to_string()
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Usb => f.write_str("usb"),
            DeviceSpec::Socket(p) => write!(f, "socket:{}", p.display()),
            DeviceSpec::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_back() {
        for text in ["usb", "socket:/run/ped-sim.sock", "tcp:127.0.0.1:4000", "tcp:[::1]:4000"] {
            assert_eq!(text.parse::<DeviceSpec>().unwrap().to_string(), text);
        }
        for bad in ["", "socket:", "tcp:nowhere", "serial:/dev/ttyS0"] {
            assert!(bad.parse::<DeviceSpec>().is_err(), "{bad}");
        }
    }
}
