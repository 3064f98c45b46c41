//! The `-mode show` status block of the seed, as a value (`--json`, and the admin
//! port's answer) and as the seed's text. Pure.

use std::fmt::Write;

use ped_daemon::seconds::Timeout;
use serde::{Deserialize, Serialize};

/// Everything `show` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Process id of the server.
    pub pid: u32,
    /// This host's name.
    pub hostname: String,
    /// The address the server port listens on.
    pub ip: String,
    /// pedserver's version.
    pub software_version: String,
    /// The device spec (`usb`, `socket:…`, `tcp:…`).
    pub device: String,
    /// The PED.
    pub ped: PedReport,
    /// The client holding the PED, if any.
    pub client: Option<ClientReport>,
    /// Server port.
    pub server_port: u16,
    /// Whether it listens beyond localhost.
    pub external_server_interface: bool,
    /// Admin port.
    pub admin_port: u16,
    /// Whether it listens beyond localhost.
    pub external_admin_interface: bool,
    /// Seconds since start.
    pub server_up_secs: u64,
    /// Seconds without a client.
    pub server_idle_secs: u64,
    /// The idle timeout.
    pub idle_timeout_secs: Timeout,
    /// Sum over ended and current connections.
    pub total_connection_secs: u64,
    /// Sum of their idle seconds.
    pub total_connection_idle_secs: u64,
    /// The PED-initiated link, while it connects or relays.
    #[serde(default)]
    pub appliance_link: Option<LinkReport>,
}

/// A PED-initiated link (`-mode connect`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkReport {
    /// The registered appliance's name.
    pub name: String,
    /// Its pedclient's address.
    pub address: String,
    /// The relay session is up.
    pub connected: bool,
    /// `connected`, or which attempt is under way.
    pub state: String,
}

/// The PED as the server knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PedReport {
    /// A PED is open.
    pub connected: bool,
    /// Its firmware version (empty until it answered).
    pub firmware_version: String,
    /// Its serial number.
    pub serial: String,
    /// The channel protocol versions it speaks.
    pub protocol_versions: Vec<u16>,
    /// Serials of the HSMs whose RPKs it has cached.
    pub rpk_serials: Vec<String>,
}

/// The connected pedclient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientReport {
    /// Its address.
    pub address: String,
    /// Its hello's software string.
    pub software: String,
    /// Seconds connected.
    pub connection_secs: u64,
    /// Seconds since the last frame.
    pub idle_secs: u64,
    /// Sum of the idle gaps.
    pub total_idle_secs: u64,
}

fn percent(part: u64, whole: u64) -> u64 {
    part.saturating_mul(100).checked_div(whole).unwrap_or(100)
}

fn yes_no(b: bool) -> &'static str {
    if b { "Yes" } else { "No" }
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() { "(unknown)" } else { s }
}

impl ped_daemon::modes::DaemonStatus for StatusReport {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn admin_port(&self) -> u16 {
        self.admin_port
    }
}

/// What the text view works out of a report: the current connection's times (0 without a
/// client, as the seed prints them), the idle shares and the RPK count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Server idle time, % of its up time.
    pub server_idle_percent: u64,
    /// Seconds the current client has been connected.
    pub current_connection_secs: u64,
    /// Seconds since its last frame.
    pub current_connection_idle_secs: u64,
    /// Sum of its idle gaps.
    pub current_connection_total_idle_secs: u64,
    /// That sum, % of its connection time.
    pub current_connection_total_idle_percent: u64,
    /// Idle share of every connection, % of their time.
    pub total_connection_idle_percent: u64,
    /// RPKs the PED has cached.
    pub ped_rpk_count: usize,
}

/// `-mode show -json` of a running server: `running`, the report's fields and the
/// [`Figures`], so the JSON says what the text says (`{"running": false}` when no server
/// answers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShowJson<'a> {
    /// Always true: a server answered.
    pub running: bool,
    /// The server's report.
    #[serde(flatten)]
    pub report: &'a StatusReport,
    /// What the text view works out of it.
    #[serde(flatten)]
    pub figures: Figures,
}

impl StatusReport {
    /// The figures the text view shows beside the report's own fields.
    pub fn figures(&self) -> Figures {
        let (conn, idle, total_idle) =
            self.client.as_ref().map_or((0, 0, 0), |c| (c.connection_secs, c.idle_secs, c.total_idle_secs));
        Figures {
            server_idle_percent: percent(self.server_idle_secs, self.server_up_secs),
            current_connection_secs: conn,
            current_connection_idle_secs: idle,
            current_connection_total_idle_secs: total_idle,
            current_connection_total_idle_percent: percent(total_idle, conn),
            total_connection_idle_percent: percent(self.total_connection_idle_secs, self.total_connection_secs),
            ped_rpk_count: self.ped.rpk_serials.len(),
        }
    }

    /// `-mode show -json`.
    pub fn to_json(&self) -> ShowJson<'_> {
        ShowJson { running: true, report: self, figures: self.figures() }
    }

    /// The seed's block (seed lines 4113-4140), every field filled.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let ped = &self.ped;
        let protocols = ped.protocol_versions.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
        let serials =
            if ped.rpk_serials.is_empty() { "(none)".to_string() } else { format!("({})", ped.rpk_serials.join(", ")) };
        // Writing to a String cannot fail.
        let _ = writeln!(s, "Server Information:");
        let _ = writeln!(s, "  Hostname:                   {}", self.hostname);
        let _ = writeln!(s, "  IP:                         {}", self.ip);
        let _ = writeln!(s, "  Firmware Version:           {}", or_unknown(&ped.firmware_version));
        let _ = writeln!(s, "  PedII Protocol Version:     {}", or_unknown(&protocols));
        let _ = writeln!(s, "  Software Version:           {}", self.software_version);
        let _ = writeln!(s, "  Device:                     {}", self.device);
        let _ = writeln!(s);
        let status = if ped.connected { "Connected" } else { "Disconnected" };
        let _ = writeln!(s, "  Ped2 Connection Status:     {status}");
        let _ = writeln!(s, "  Ped2 Serial Number:         {}", or_unknown(&ped.serial));
        let _ = writeln!(s, "  Ped2 RPK Count              {}", self.figures().ped_rpk_count);
        let _ = writeln!(s, "  Ped2 RPK Serial Numbers     {serials}");
        let _ = writeln!(s);
        match &self.client {
            None => {
                let _ = writeln!(s, "Client Information:           Not Available");
            }
            Some(c) => {
                let _ = writeln!(s, "Client Information:");
                let _ = writeln!(s, "  Client Address:             {}", c.address);
                let _ = writeln!(s, "  Client Software:            {}", c.software);
            }
        }
        if let Some(link) = &self.appliance_link {
            let _ = writeln!(s, "  Appliance Link:             {} ({}), {}", link.name, link.address, link.state);
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "Operating Information:");
        let _ = writeln!(s, "  Server Port:                {}", self.server_port);
        let _ = writeln!(s, "  External Server Interface:  {}", yes_no(self.external_server_interface));
        let _ = writeln!(s, "  Admin Port:                 {}", self.admin_port);
        let _ = writeln!(s, "  External Admin Interface:   {}", yes_no(self.external_admin_interface));
        let _ = writeln!(s);
        let f = self.figures();
        let (up, idle) = (self.server_up_secs, self.server_idle_secs);
        let _ = writeln!(s, "  Server Up Time:             {up} (secs)");
        let _ = writeln!(s, "  Server Idle Time:           {idle} (secs) ({}%)", f.server_idle_percent);
        let _ = writeln!(s, "  Idle Timeout Value:         {} (secs)", self.idle_timeout_secs);
        let _ = writeln!(s);
        let _ = writeln!(s, "  Current Connection Time:    {} (secs)", f.current_connection_secs);
        let _ = writeln!(s, "  Current Connection Idle Time: {} (secs)", f.current_connection_idle_secs);
        let (total_idle, pct) = (f.current_connection_total_idle_secs, f.current_connection_total_idle_percent);
        let _ = writeln!(s, "  Current Connection Total Idle Time: {total_idle} (secs) ({pct}%)");
        let (total, total_idle) = (self.total_connection_secs, self.total_connection_idle_secs);
        let _ = writeln!(s, "  Total Connection Time:      {total} (secs)");
        let _ = writeln!(s, "  Total Connection Idle Time: {total_idle} (secs) ({}%)", f.total_connection_idle_percent);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> StatusReport {
        StatusReport {
            pid: 1,
            hostname: "DWG9999".into(),
            ip: "0.0.0.0".into(),
            software_version: "0.1.0".into(),
            device: "usb".into(),
            ped: PedReport {
                connected: true,
                firmware_version: "2.9.0".into(),
                serial: "PED-1".into(),
                protocol_versions: vec![1],
                rpk_serials: vec!["1a123456789a1234".into()],
            },
            client: None,
            server_port: 1503,
            external_server_interface: true,
            admin_port: 1502,
            external_admin_interface: false,
            server_up_secs: 190,
            server_idle_secs: 190,
            idle_timeout_secs: Timeout::from_secs(1800),
            total_connection_secs: 0,
            total_connection_idle_secs: 0,
            appliance_link: None,
        }
    }

    #[test]
    fn the_seeds_fields_are_all_there() {
        let text = report().to_text();
        for needle in [
            "Hostname:                   DWG9999",
            "Firmware Version:           2.9.0",
            "PedII Protocol Version:     1",
            "Ped2 Connection Status:     Connected",
            "Ped2 RPK Count              1",
            "Ped2 RPK Serial Numbers     (1a123456789a1234)",
            "Client Information:           Not Available",
            "Server Port:                1503",
            "External Server Interface:  Yes",
            "External Admin Interface:   No",
            "Server Up Time:             190 (secs)",
            "Server Idle Time:           190 (secs) (100%)",
            "Idle Timeout Value:         1800 (secs)",
            "Current Connection Total Idle Time: 0 (secs) (100%)",
            "Total Connection Idle Time: 0 (secs) (100%)",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from\n{text}");
        }
    }

    /// A client connected 10 s, idle 2 s now and 5 s in all.
    fn client() -> ClientReport {
        ClientReport {
            address: "10.0.0.9:40000".into(),
            software: "pedclient 0.1.0".into(),
            connection_secs: 10,
            idle_secs: 2,
            total_idle_secs: 5,
        }
    }

    #[test]
    fn a_client_and_a_missing_ped_are_shown() {
        let mut r = report();
        r.ped = PedReport::default();
        r.client = Some(client());
        let text = r.to_text();
        assert!(text.contains("Ped2 Connection Status:     Disconnected"));
        assert!(text.contains("Firmware Version:           (unknown)"));
        assert!(text.contains("Client Address:             10.0.0.9:40000"));
        assert!(text.contains("Current Connection Total Idle Time: 5 (secs) (50%)"));
        r.appliance_link = Some(LinkReport {
            name: "abox".into(),
            address: "192.20.1.23:9697".into(),
            connected: true,
            state: "connected".into(),
        });
        assert!(r.to_text().contains("Appliance Link:             abox (192.20.1.23:9697), connected"));
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<StatusReport>(&json).unwrap(), r);
    }

    #[test]
    fn the_json_of_show_says_what_the_text_says() {
        let mut r = report();
        let none = serde_json::to_value(r.to_json()).unwrap();
        assert_eq!(none["running"], true);
        assert_eq!((&none["current_connection_secs"], &none["current_connection_idle_secs"]), (&0.into(), &0.into()));
        assert_eq!((&none["server_idle_percent"], &none["ped_rpk_count"]), (&100.into(), &1.into()));
        assert_eq!(none["idle_timeout_secs"], 1800);
        r.client = Some(client());
        let v = serde_json::to_value(r.to_json()).unwrap();
        let text = r.to_text();
        for (key, line) in [
            ("current_connection_secs", "Current Connection Time:    10 (secs)"),
            ("current_connection_idle_secs", "Current Connection Idle Time: 2 (secs)"),
            ("current_connection_total_idle_secs", "Current Connection Total Idle Time: 5 (secs) (50%)"),
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
            assert!(line.contains(&format!(" {} (secs)", v[key])), "{key} = {} but the text says {line}", v[key]);
        }
        assert_eq!(v["current_connection_total_idle_percent"], 50);
        assert_eq!(v["client"]["address"], "10.0.0.9:40000");
        assert_eq!(serde_json::from_value::<StatusReport>(v).unwrap(), r, "the report's own fields are all there");
    }
}
