//! The command line. Administrators type the seed's spellings (`-mode start`, `-m start`,
//! `mode start`, `-mode assignid -id 1234 -id_serialnumber 123456789`); ped-daemon's
//! `normalise` rewrites them into clap's `--long` form, then clap parses, prints the
//! usage and refuses unknown options and bad values (exit status 2).

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;

use clap::{ArgGroup, Parser, ValueEnum, error::ErrorKind};
use ped_daemon::args::{
    DaemonMode, ModeCommand, ModeOptions, ModeParser, SharedMode, parse_seed_argv, port, set_if_given as set,
    usage_error, zero_one,
};
use ped_daemon::seconds::Seconds;
use ped_daemon::settings::CommonArgs;

use crate::config::Config;

/// pedclient's own `-mode` values (the seed's list), after `start`, `stop`, `show` and
/// `config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Create or change a PED ID mapping: -id -id_ip -id_port.
    Setid,
    /// Assign a PED ID to an HSM: -id -id_serialnumber.
    Assignid,
    /// Release a PED ID from its HSM: -id.
    Releaseid,
    /// Delete a PED ID mapping: -id.
    Deleteid,
    /// Reach the pedserver of a PED ID and report its version and status: -id.
    Testid,
}

/// The settings every mode accepts; each overrides the configuration file for this run
/// (and is written to it by `-mode config -set`).
#[derive(Clone, Debug, Default, PartialEq, clap::Args)]
pub struct Settings {
    /// Admin port, used by stop and show [default 1504].
    #[arg(long, value_parser = port, value_name = "PORT")]
    pub admin: Option<u16>,
    /// 1: the admin port listens externally; 0: on localhost only [default 0].
    #[arg(long, value_parser = zero_one, value_name = "0|1")]
    pub eadmin: Option<bool>,
    /// The HSM link: the local socket an HSM (driver or hsm-emu) connects to.
    #[arg(long, value_name = "PATH")]
    pub hsmlink: Option<PathBuf>,
    /// The group whose members may use the HSM link (a name or a number) [default: pedclient's group].
    #[arg(long, value_name = "GROUP")]
    pub hsmlinkgroup: Option<String>,
    /// The idle timeout does not apply to links made through an assigned PED ID (0 or 1; alone: 1).
    #[arg(long, value_parser = zero_one, value_name = "0|1", num_args = 0..=1, default_missing_value = "1")]
    pub ignoreidletimeout: Option<bool>,
    /// Seconds internal services get to end at shutdown [default 5].
    #[arg(long, value_name = "SECS")]
    pub shutdowntimeout: Option<Seconds>,
    /// Seconds `start` waits for the background process to be ready [default 10].
    #[arg(long, value_name = "SECS")]
    pub pstartuptimeout: Option<Seconds>,
    /// Seconds `stop` waits for the background process to end [default 10].
    #[arg(long, value_name = "SECS")]
    pub pshutdowntimeout: Option<Seconds>,
    /// Accepted for the seed's command lines; pedclient always logs to its own file.
    #[arg(long)]
    pub locallogger: bool,
    /// With -mode start: the seed's Windows-service start; accepted, see docs/pedclient.md.
    #[arg(long)]
    pub winservice: bool,
    /// PED-initiated mode: 1 listens for pedserver's TLS connection [default 0].
    #[arg(long, value_parser = zero_one, value_name = "0|1")]
    pub pedinitiated: Option<bool>,
    /// PED-initiated mode: the port to listen on [default 9696].
    #[arg(long, value_parser = port, value_name = "PORT")]
    pub listenport: Option<u16>,
    /// PED-initiated mode: the address to listen on [default: every IPv4 interface].
    #[arg(long, value_name = "IP")]
    pub listenip: Option<IpAddr>,
    /// The directory of the HSMs' audit logs [default: audit/ beside the log file].
    #[arg(long, value_name = "DIR")]
    pub auditdir: Option<PathBuf>,
    /// An audit log file is rotated before it grows past this many bytes [default 1048576].
    #[arg(long, value_name = "BYTES")]
    pub auditrotatesize: Option<u64>,
    /// Audit log files kept per HSM, the current one included [default 10].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000), value_name = "N")]
    pub auditrotatecount: Option<u32>,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl Settings {
    /// Writes every given setting into `config`.
    pub fn apply(&self, config: &mut Config) {
        set(&mut config.admin_port, &self.admin);
        set(&mut config.external_admin, &self.eadmin);
        if self.hsmlink.is_some() {
            config.hsm_link = self.hsmlink.clone();
        }
        if self.hsmlinkgroup.is_some() {
            config.hsm_link_group = self.hsmlinkgroup.clone();
        }
        set(&mut config.ignore_idle_timeout, &self.ignoreidletimeout);
        set(&mut config.shutdown_timeout, &self.shutdowntimeout);
        set(&mut config.p_startup_timeout, &self.pstartuptimeout);
        set(&mut config.p_shutdown_timeout, &self.pshutdowntimeout);
        set(&mut config.ped_initiated, &self.pedinitiated);
        set(&mut config.listen_port, &self.listenport);
        if self.listenip.is_some() {
            config.listen_ip = self.listenip;
        }
        if self.auditdir.is_some() {
            config.audit_dir = self.auditdir.clone();
        }
        set(&mut config.audit_rotate_size, &self.auditrotatesize);
        set(&mut config.audit_rotate_count, &self.auditrotatecount);
        self.common.apply(&mut config.common);
    }
}

/// The whole command line, after ped-daemon's `normalise`.
#[derive(Debug, Parser)]
#[command(
    name = "pedclient",
    version,
    about = "Relays an HSM's PED traffic, unread, to a remote pedserver; keeps the PED ID mappings.",
    long_about = None,
    after_help = "Every option is also accepted with one dash (-mode start, -m start, mode start), \
as in the Luna documentation.\nExamples:\n  pedclient -mode start\n  pedclient -mode show\n  \
pedclient -mode setid -id 1234 -id_ip myhostname -id_port 1503\n  \
pedclient -mode assignid -id 1234 -id_serialnumber 123456789\n  pedclient -mode testid -id 1234",
    group(ArgGroup::new("what").required(true).args(["mode", "regen", "register"])),
)]
pub struct Cli {
    /// What to do.
    #[arg(short = 'm', long, value_parser = ModeParser::<Mode>::new(), value_name = "MODE")]
    pub mode: Option<DaemonMode<Mode>>,
    #[command(flatten)]
    pub options: ModeOptions,
    /// PED-initiated mode: make this pedclient's TLS key and certificate (with -commonname).
    #[arg(long)]
    pub regen: bool,
    /// PED-initiated mode: pin the pedserver certificate given with -certificate.
    #[arg(long)]
    pub register: bool,
    /// The PED ID of setid, assignid, releaseid, deleteid and testid.
    #[arg(long, value_name = "PED_ID")]
    pub id: Option<u32>,
    /// With setid: the pedserver's address or host name.
    #[arg(long = "id_ip", value_name = "HOSTNAME")]
    pub id_ip: Option<String>,
    /// With setid: the pedserver's port.
    #[arg(long = "id_port", value_parser = port, value_name = "PORT")]
    pub id_port: Option<u16>,
    /// With assignid: the serial number of the HSM the PED ID serves.
    #[arg(long = "id_serialnumber", value_name = "SERIAL")]
    pub id_serialnumber: Option<String>,
    /// With -register: pedserver's certificate (PEM or DER), made by `pedserver -regen`.
    #[arg(long, value_name = "FILE")]
    pub certificate: Option<PathBuf>,
    #[command(flatten)]
    pub settings: Settings,
}

/// What one invocation does.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// `-mode stop`, `show` and `config`, as pedserver has them.
    Mode(ModeCommand),
    /// `-mode setid`.
    SetId {
        /// PED ID.
        id: u32,
        /// pedserver's address.
        host: String,
        /// pedserver's port.
        port: u16,
    },
    /// `-mode assignid`.
    AssignId {
        /// PED ID.
        id: u32,
        /// The HSM's serial number.
        serial: String,
    },
    /// `-mode releaseid`.
    ReleaseId {
        /// PED ID.
        id: u32,
    },
    /// `-mode deleteid`.
    DeleteId {
        /// PED ID.
        id: u32,
    },
    /// `-mode testid`.
    TestId {
        /// PED ID.
        id: u32,
    },
    /// `-regen -commonname CN`.
    Regen {
        /// Subject common name.
        common_name: String,
        /// Replace an existing identity.
        force: bool,
    },
    /// `-register -certificate FILE`.
    Register {
        /// pedserver's certificate.
        certificate: PathBuf,
        /// Replace an existing registration.
        force: bool,
    },
}

/// One parsed invocation.
pub type Invocation = ped_daemon::args::Invocation<Command, Settings>;

impl Cli {
    /// Checks the options each mode requires and builds the [`Invocation`]; a missing or
    /// misplaced option is a usage error, as clap reports its own.
    pub fn into_invocation(self) -> Result<Invocation, clap::Error> {
        let missing = |what: &str| usage_error::<Cli>(ErrorKind::MissingRequiredArgument, what);
        let conflict = |what: &str| usage_error::<Cli>(ErrorKind::ArgumentConflict, what);
        let mode = self.mode;
        let only = |given: bool, modes: &[Mode], what: &str| {
            let fits = matches!(mode, Some(DaemonMode::Own(m)) if modes.contains(&m));
            if given && !fits { Err(conflict(what)) } else { Ok(()) }
        };
        self.options.check::<Cli>(mode.and_then(DaemonMode::shared), self.regen)?;
        if self.settings.winservice && mode != Some(DaemonMode::Shared(SharedMode::Start)) {
            return Err(conflict("-winservice belongs to -mode start"));
        }
        only(self.id_ip.is_some() || self.id_port.is_some(), &[Mode::Setid], "-id_ip and -id_port belong to setid")?;
        only(self.id_serialnumber.is_some(), &[Mode::Assignid], "-id_serialnumber belongs to -mode assignid")?;
        let id_modes = [Mode::Setid, Mode::Assignid, Mode::Releaseid, Mode::Deleteid, Mode::Testid];
        only(self.id.is_some(), &id_modes, "-id belongs to setid, assignid, releaseid, deleteid and testid")?;
        if self.certificate.is_some() && !self.register {
            return Err(conflict("-certificate belongs to -register"));
        }
        let id = || self.id.ok_or_else(|| missing("this mode needs -id <PED ID>"));
        let command = match (self.mode, self.regen, self.register) {
            (Some(DaemonMode::Shared(mode)), false, false) => Command::Mode(self.options.command::<Cli>(mode)?),
            (Some(DaemonMode::Own(Mode::Setid)), false, false) => Command::SetId {
                id: id()?,
                host: self.id_ip.clone().ok_or_else(|| missing("setid needs -id_ip <hostname>"))?,
                port: self.id_port.ok_or_else(|| missing("setid needs -id_port <port>"))?,
            },
            (Some(DaemonMode::Own(Mode::Assignid)), false, false) => Command::AssignId {
                id: id()?,
                serial: self.id_serialnumber.clone().ok_or_else(|| missing("assignid needs -id_serialnumber"))?,
            },
            (Some(DaemonMode::Own(Mode::Releaseid)), false, false) => Command::ReleaseId { id: id()? },
            (Some(DaemonMode::Own(Mode::Deleteid)), false, false) => Command::DeleteId { id: id()? },
            (Some(DaemonMode::Own(Mode::Testid)), false, false) => Command::TestId { id: id()? },
            (None, true, false) => {
                Command::Regen { common_name: self.options.common_name::<Cli>()?, force: self.options.force }
            }
            (None, false, true) => Command::Register {
                certificate: self.certificate.clone().ok_or_else(|| missing("-register needs -certificate <file>"))?,
                force: self.options.force,
            },
            _ => return Err(conflict("give one of -mode, -regen and -register")),
        };
        Ok(Invocation { command, config_file: self.options.configfile, settings: self.settings })
    }
}

/// Normalises and parses argv.
pub fn parse<I: IntoIterator<Item = OsString>>(argv: I) -> Result<Invocation, clap::Error> {
    parse_seed_argv::<Cli, _>(argv)?.into_invocation()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&str]) -> Result<Invocation, clap::Error> {
        parse(std::iter::once("pedclient").chain(args.iter().copied()).map(OsString::from))
    }

    #[test]
    fn the_seed_spellings_of_start_are_one_command() {
        let start = Command::Mode(ModeCommand::Start { foreground: false });
        for form in [&["-mode", "start"][..], &["-m", "start"], &["mode", "start"], &["--mode", "start"]] {
            assert_eq!(cmd(form).unwrap().command, start, "{form:?}");
        }
        let winservice = cmd(&["-mode", "start", "-winservice"]).unwrap();
        assert_eq!((winservice.command, winservice.settings.winservice), (start, true));
    }

    #[test]
    fn the_seed_examples_parse() {
        assert_eq!(
            cmd(&["-mode", "setid", "-id", "1234", "-id_ip", "myhostname", "-id_port", "3456"]).unwrap().command,
            Command::SetId { id: 1234, host: "myhostname".into(), port: 3456 }
        );
        assert_eq!(
            cmd(&["-mode", "assignid", "-id", "1234", "-id_serialnumber", "123456789"]).unwrap().command,
            Command::AssignId { id: 1234, serial: "123456789".into() }
        );
        assert_eq!(cmd(&["-mode", "releaseid", "-id", "1234"]).unwrap().command, Command::ReleaseId { id: 1234 });
        assert_eq!(cmd(&["-mode", "deleteid", "--id", "1234"]).unwrap().command, Command::DeleteId { id: 1234 });
        assert_eq!(cmd(&["mode", "testid", "-id", "1234"]).unwrap().command, Command::TestId { id: 1234 });
        assert_eq!(
            cmd(&["-mode", "config", "-show"]).unwrap().command,
            Command::Mode(ModeCommand::ConfigShow { json: false })
        );
        let log = cmd(&["-mode", "deleteid", "-id", "1", "-logfilename", "/tmp/x", "-loginfo", "0", "-locallogger"]);
        assert_eq!(log.unwrap().settings.common.log.loginfo, Some(false));
    }

    #[test]
    fn ignoreidletimeout_is_a_flag_or_takes_a_value() {
        let s = cmd(&["-mode", "config", "-set", "-ignoreidletimeout"]).unwrap().settings;
        assert_eq!(s.ignoreidletimeout, Some(true));
        let s = cmd(&["-mode", "config", "-set", "-ignoreidletimeout", "0"]).unwrap().settings;
        assert_eq!(s.ignoreidletimeout, Some(false));
        let s = cmd(&["-mode", "config", "-set", "IdleTimeout", "60"]).unwrap().settings;
        assert_eq!(s.common.idletimeout, Some("60".parse().unwrap()));
        let s = cmd(&["-mode", "config", "-set", "-idletimeout", "0.5", "-pinginterval", "0.25"]).unwrap().settings;
        assert_eq!(s.common.idletimeout.map(|t| t.get()), Some(std::time::Duration::from_millis(500)));
        assert_eq!(s.common.pinginterval.map(|t| t.to_string()), Some("0.25".into()));
    }

    #[test]
    fn mistakes_are_usage_errors() {
        assert_eq!(cmd(&["-mode", "start", "-bogus", "1"]).unwrap_err().kind(), ErrorKind::UnknownArgument);
        assert_eq!(cmd(&["-mode", "launch"]).unwrap_err().kind(), ErrorKind::InvalidValue);
        assert_eq!(cmd(&[]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(cmd(&["-mode", "setid", "-id", "1"]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(cmd(&["-mode", "testid"]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(cmd(&["-mode", "show", "-id", "1"]).unwrap_err().kind(), ErrorKind::ArgumentConflict);
        assert_eq!(cmd(&["-mode", "stop", "-winservice"]).unwrap_err().kind(), ErrorKind::ArgumentConflict);
        assert_eq!(cmd(&["-mode", "setid", "-id", "x"]).unwrap_err().kind(), ErrorKind::ValueValidation);
        assert_eq!(cmd(&["-mode", "start", "-idletimeout", "0"]).unwrap_err().kind(), ErrorKind::ValueValidation);
    }
}
