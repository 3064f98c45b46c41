//! What `-mode show` prints: the running daemon's report (one JSON line on the admin
//! port) and the PED ID mappings of the configuration file, as text or JSON.

use ped_daemon::seconds::Timeout;
use serde::{Deserialize, Serialize};

use crate::config::Mapping;

/// The running daemon, as its admin port reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Its process ID.
    pub pid: u32,
    /// Its software version.
    pub version: String,
    /// The HSM link socket it listens on.
    pub hsm_link: String,
    /// Its admin port.
    pub admin_port: u16,
    /// Seconds since it started.
    pub uptime_secs: u64,
    /// The idle timeout of remote links, seconds.
    pub idle_timeout: Timeout,
    /// Whether links through an assigned PED ID ignore it.
    pub ignore_idle_timeout: bool,
    /// PED-initiated mode, when on.
    pub ped_initiated: Option<PedInitiatedReport>,
    /// One entry per connected HSM.
    pub links: Vec<LinkReport>,
}

impl ped_daemon::modes::DaemonStatus for StatusReport {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn admin_port(&self) -> u16 {
        self.admin_port
    }
}

/// PED-initiated mode's listener.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PedInitiatedReport {
    /// Where it listens.
    pub listen: String,
    /// The pinned pedserver certificate's common name.
    pub pedserver: String,
    /// The pedserver connected now, if any (its address and software).
    pub connected: Option<String>,
}

/// One HSM connected on the HSM link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkReport {
    /// The HSM's serial, once it has asked for a link.
    pub hsm_serial: Option<String>,
    /// The pedserver the remote link reaches, while one is being made or is up.
    pub pedserver: Option<String>,
    /// The PED's firmware version, while the remote link is up.
    pub firmware: Option<String>,
    /// Seconds the remote link has been up.
    pub connected_secs: u64,
    /// How the last remote link ended, if one did.
    pub last_closed: Option<String>,
}

/// `-mode show -json`: the daemon (absent when it does not run) and the mappings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Show {
    /// Whether a daemon answered.
    pub running: bool,
    /// Its report.
    pub daemon: Option<StatusReport>,
    /// The PED ID mappings of the configuration file.
    pub mappings: Vec<Mapping>,
}

impl Show {
    /// The status block.
    pub fn to_text(&self) -> String {
        let mut t = String::new();
        match &self.daemon {
            None => t += "Client Information:         Not Running\n",
            Some(d) => {
                t += "Client Information:\n";
                t += &format!("  Software Version:         {}\n", d.version);
                t += &format!("  Process ID:               {}\n", d.pid);
                t += &format!("  HSM Link:                 {}\n", d.hsm_link);
                t += &format!("  Admin Port:               {}\n", d.admin_port);
                t += &format!("  Client Up Time:           {} (secs)\n", d.uptime_secs);
                let ignored = if d.ignore_idle_timeout { " (not for assigned PED IDs)" } else { "" };
                t += &format!("  Idle Timeout Value:       {} (secs){ignored}\n", d.idle_timeout);
                match &d.ped_initiated {
                    None => t += "  PED-Initiated Mode:       Off\n",
                    Some(p) => {
                        t += &format!(
                            "  PED-Initiated Mode:       listening on {}, pedserver {:?}\n",
                            p.listen, p.pedserver
                        );
                        let now = p.connected.as_deref().unwrap_or("(none)");
                        t += &format!("  PED-Initiated Link:       {now}\n");
                    }
                }
                t += "\nHSM Links:\n";
                if d.links.is_empty() {
                    t += "  (none)\n";
                }
                for (i, l) in d.links.iter().enumerate() {
                    let hsm = l.hsm_serial.as_deref().unwrap_or("(not identified yet)");
                    match (&l.pedserver, &l.firmware) {
                        (Some(server), Some(fw)) => {
                            let secs = l.connected_secs;
                            t += &format!(
                                "  {}. HSM {hsm}: connected to {server}, PED firmware {fw}, {secs} (secs)\n",
                                i + 1
                            )
                        }
                        (Some(server), None) => t += &format!("  {}. HSM {hsm}: connecting to {server}\n", i + 1),
                        _ => t += &format!("  {}. HSM {hsm}: no remote PED link\n", i + 1),
                    }
                    if let Some(last) = &l.last_closed {
                        t += &format!("     last link ended: {last}\n");
                    }
                }
            }
        }
        t += "\nPED ID Mappings:\n";
        if self.mappings.is_empty() {
            t += "  (none)\n";
        } else {
            t += &format!("  {:<10} {:<32} {}\n", "PED ID", "PEDserver", "HSM Serial Number");
            for m in &self.mappings {
                let server = crate::hsm_session::host_port(&m.host, m.port);
                t +=
                    &format!("  {:<10} {:<32} {}\n", m.id, server, m.hsm_serial.as_deref().unwrap_or("(not assigned)"));
            }
        }
        t
    }
}
