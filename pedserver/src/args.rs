//! The command line. Administrators type the seed's spellings (`-mode start`, `-m start`,
//! `mode start`, `-set LogFileName x`); clap only knows `--long` options, so ped-daemon's
//! `normalise` rewrites argv first. clap then does the parsing, the usage text and the
//! errors (unknown options and bad values exit non-zero, where the original ignored them).

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;

use clap::{ArgGroup, Parser, ValueEnum, error::ErrorKind};
use ped_daemon::args::{
    DaemonMode, ModeCommand, ModeOptions, ModeParser, SharedMode, parse_seed_argv, port, set_if_given as set,
    usage_error, zero_one,
};
use ped_daemon::seconds::{Seconds, Timeout};
use ped_daemon::settings::CommonArgs;

use crate::config::{Appliance, Config, LinkSettings, MAX_PED_WRITE_DELAY};
use crate::device::DeviceSpec;

/// pedserver's own `-mode` values, after `start`, `stop`, `show` and `config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// PED-initiated mode: connect out to a registered appliance.
    Connect,
    /// PED-initiated mode: end the connection to a registered appliance.
    Disconnect,
    /// Load a firmware image (-file) into the PED, at its Admin → 7 Software Update; the
    /// server must be stopped.
    Update,
}

/// `-appliance` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ApplianceAction {
    /// Register an appliance certificate (-name -certificate -ip [-port]).
    Register,
    /// List the registered appliances.
    List,
    /// Deregister an appliance (-name [-force]).
    Delete,
}

/// The settings every mode accepts; each overrides the configuration file for this run
/// (and is written to it by `-mode config -set`).
#[derive(Clone, Debug, Default, PartialEq, clap::Args)]
pub struct Settings {
    /// Server port that pedclient connects to [default 1503].
    #[arg(long, value_parser = port, value_name = "PORT")]
    pub port: Option<u16>,
    /// Admin port, used by stop/show/connect [default 1502].
    #[arg(long, value_parser = port, value_name = "PORT")]
    pub admin: Option<u16>,
    /// 1: the server port listens on all interfaces (or -ip); 0: on localhost only [default 1].
    #[arg(long, value_parser = zero_one, value_name = "0|1")]
    pub eserverport: Option<bool>,
    /// 1: the admin port listens externally; 0: on localhost only [default 0].
    #[arg(long, value_parser = zero_one, value_name = "0|1")]
    pub eadmin: Option<bool>,
    /// Address to listen on, IPv4 or IPv6 (needed on an IPv6-only network).
    #[arg(long, value_name = "IP")]
    pub ip: Option<IpAddr>,
    /// The PED: `usb`, `socket:PATH` (emulated endpoint, Unix socket) or `tcp:127.0.0.1:PORT`.
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<DeviceSpec>,
    /// Seconds internal services get to end at shutdown [default 5].
    #[arg(long, value_name = "SECS")]
    pub internalshutdowntimeout: Option<Seconds>,
    /// Seconds `start` waits for the background process to be ready [default 10].
    #[arg(long, value_name = "SECS")]
    pub bgprocessstartuptimeout: Option<Seconds>,
    /// Seconds `stop` waits for the background process to end [default 10].
    #[arg(long, value_name = "SECS")]
    pub bgprocessshutdowntimeout: Option<Seconds>,
    /// Microseconds between USB packet writes to the PED, 0-10000 [default 0].
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=MAX_PED_WRITE_DELAY as i64), value_name = "USECS")]
    pub pedwritelay: Option<u32>,
    /// Milliseconds between the 20 attempts of -mode connect [default 3000].
    #[arg(long, value_name = "MSECS")]
    pub connectretrydelay: Option<u64>,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl Settings {
    /// Writes every given setting into `config`.
    pub fn apply(&self, config: &mut Config) {
        set(&mut config.server_port, &self.port);
        set(&mut config.admin_port, &self.admin);
        set(&mut config.external_server_port, &self.eserverport);
        set(&mut config.external_admin, &self.eadmin);
        if self.ip.is_some() {
            config.ip = self.ip;
        }
        set(&mut config.device, &self.device);
        set(&mut config.internal_shutdown_timeout, &self.internalshutdowntimeout);
        set(&mut config.bg_process_startup_timeout, &self.bgprocessstartuptimeout);
        set(&mut config.bg_process_shutdown_timeout, &self.bgprocessshutdowntimeout);
        set(&mut config.ped_write_delay, &self.pedwritelay);
        set(&mut config.connect_retry_delay_ms, &self.connectretrydelay);
        self.common.apply(&mut config.common);
    }

    /// The settings an appliance can have of its own, for `-mode config -name NAME -set`;
    /// a setting of the server alone is a usage error naming it.
    fn appliance_change(&self) -> Result<ApplianceChange, clap::Error> {
        let c = &self.common;
        let server_only = [
            ("-admin", self.admin.is_some()),
            ("-eserverport", self.eserverport.is_some()),
            ("-eadmin", self.eadmin.is_some()),
            ("-device", self.device.is_some()),
            ("-internalshutdowntimeout", self.internalshutdowntimeout.is_some()),
            ("-bgprocessstartuptimeout", self.bgprocessstartuptimeout.is_some()),
            ("-bgprocessshutdowntimeout", self.bgprocessshutdowntimeout.is_some()),
            ("-pedwritelay", self.pedwritelay.is_some()),
            ("-logfilename", c.logfilename.is_some()),
            ("-loginfo", c.log.loginfo.is_some()),
            ("-logwarning", c.log.logwarning.is_some()),
            ("-logerror", c.log.logerror.is_some()),
            ("-logtrace", c.log.logtrace.is_some()),
            ("-maxlogfilesize", c.log.maxlogfilesize.is_some()),
        ];
        let given: Vec<&str> = server_only.iter().filter(|(_, given)| *given).map(|(name, _)| *name).collect();
        if !given.is_empty() {
            let (are, them) = if given.len() == 1 { ("is a setting", "it") } else { ("are settings", "them") };
            let what = format!(
                "{} {are} of the server, not of an appliance: set {them} with -mode config -set, without -name",
                given.join(", ")
            );
            return Err(usage_error::<Cli>(ErrorKind::ArgumentConflict, &what));
        }
        Ok(ApplianceChange {
            ip: self.ip,
            port: self.port,
            link: LinkSettings {
                idle_timeout: c.idletimeout,
                socket_read_timeout: c.socketreadtimeout,
                socket_write_timeout: c.socketwritetimeout,
                ping_interval: c.pinginterval,
                ping_timeout: c.pingtimeout,
                connect_retry_delay_ms: self.connectretrydelay,
            },
        })
    }
}

/// What `-mode config -name NAME -set` changes of a registered appliance: where its
/// pedclient listens, and its link's own settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplianceChange {
    /// Its pedclient's new address.
    pub ip: Option<IpAddr>,
    /// Its pedclient's new port.
    pub port: Option<u16>,
    /// The link settings given (the others stay as they are).
    pub link: LinkSettings,
}

impl ApplianceChange {
    /// Writes every given setting into `appliance`.
    pub fn apply(&self, appliance: &mut Appliance) {
        set(&mut appliance.ip, &self.ip);
        set(&mut appliance.port, &self.port);
        let (own, given) = (&mut appliance.link, &self.link);
        own.idle_timeout = given.idle_timeout.or(own.idle_timeout);
        own.socket_read_timeout = given.socket_read_timeout.or(own.socket_read_timeout);
        own.socket_write_timeout = given.socket_write_timeout.or(own.socket_write_timeout);
        own.ping_interval = given.ping_interval.or(own.ping_interval);
        own.ping_timeout = given.ping_timeout.or(own.ping_timeout);
        own.connect_retry_delay_ms = given.connect_retry_delay_ms.or(own.connect_retry_delay_ms);
    }

    fn is_empty(&self) -> bool {
        *self == ApplianceChange::default()
    }
}

/// The whole command line, after ped-daemon's `normalise`.
#[derive(Debug, Parser)]
#[command(
    name = "pedserver",
    version,
    about = "Bridges one PIN Entry Device to TCP so that a remote HSM can use it (a blind relay).",
    long_about = None,
    after_help = "Every option is also accepted with one dash (-mode start, -m start, mode start), \
as in the Luna documentation.\nExamples:\n  pedserver -mode start\n  pedserver -mode show\n  \
pedserver -mode config -set -pedwritelay 50\n  \
pedserver -mode config -name abox -set -idletimeout 600\n  pedserver -mode stop\n  \
pedserver -mode update -file ped-2.9.1-0.bin",
    group(ArgGroup::new("what").required(true).args(["mode", "appliance", "regen"])),
)]
pub struct Cli {
    /// What to do.
    #[arg(short = 'm', long, value_parser = ModeParser::<Mode>::new(), value_name = "MODE")]
    pub mode: Option<DaemonMode<Mode>>,
    #[command(flatten)]
    pub options: ModeOptions,
    /// Manage the appliances of PED-initiated mode.
    #[arg(long, value_enum, value_name = "ACTION")]
    pub appliance: Option<ApplianceAction>,
    /// Regenerate the client key and certificate of PED-initiated mode (with -commonname).
    #[arg(long)]
    pub regen: bool,
    /// Name of a registered appliance; -mode config -name shows and sets its own link settings.
    #[arg(long)]
    pub name: Option<String>,
    /// With -appliance register: the appliance's certificate (PEM).
    #[arg(long, value_name = "FILE")]
    pub certificate: Option<PathBuf>,
    /// With -mode update: the firmware image (.bin) to load into the PED.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// With -mode update: seconds to wait for each answer at the PED (YES to upload, the
    /// check of the image, YES to save) [default 200, the PED's action timeout].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<Timeout>,
    #[command(flatten)]
    pub settings: Settings,
}

/// What one invocation does.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// `-mode start`, `stop`, `show` and `config`, as pedclient has them.
    Mode(ModeCommand),
    /// `-mode config -name NAME -show`: an appliance's settings.
    ApplianceShow {
        /// The appliance.
        name: String,
        /// Machine-readable output.
        json: bool,
    },
    /// `-mode config -name NAME -set`.
    ApplianceSet {
        /// The appliance.
        name: String,
        /// What to change.
        change: ApplianceChange,
    },
    /// `-mode connect -name`.
    Connect {
        /// The appliance.
        name: String,
    },
    /// `-mode disconnect -name`.
    Disconnect {
        /// The appliance.
        name: String,
    },
    /// `-appliance register`.
    Register {
        /// Unique name.
        name: String,
        /// PEM file of the appliance's certificate.
        certificate: PathBuf,
        /// Where the appliance's pedclient listens.
        ip: IpAddr,
        /// Its port.
        port: u16,
    },
    /// `-appliance list`.
    List,
    /// `-appliance delete`.
    Delete {
        /// The appliance.
        name: String,
        /// No prompt.
        force: bool,
    },
    /// `-mode update -file`.
    Update {
        /// The firmware image.
        file: PathBuf,
        /// Seconds to wait for each answer at the PED.
        timeout: Timeout,
    },
    /// `-regen -commonname`.
    Regen {
        /// Subject common name.
        common_name: String,
        /// No prompt.
        force: bool,
    },
}

/// The port an appliance's pedclient listens on when `-port` is not given.
pub const DEFAULT_APPLIANCE_PORT: u16 = ped_daemon::tls::DEFAULT_PED_INITIATED_PORT;

/// One parsed invocation.
pub type Invocation = ped_daemon::args::Invocation<Command, Settings>;

impl Cli {
    /// Checks the options each mode requires and builds the [`Invocation`]; a missing or
    /// misplaced option is a usage error, as clap reports its own.
    pub fn into_invocation(self) -> Result<Invocation, clap::Error> {
        let missing = |what: &str| usage_error::<Cli>(ErrorKind::MissingRequiredArgument, what);
        let conflict = |what: &str| usage_error::<Cli>(ErrorKind::ArgumentConflict, what);
        self.options.check::<Cli>(self.mode.and_then(DaemonMode::shared), self.regen)?;
        if self.certificate.is_some() && self.appliance != Some(ApplianceAction::Register) {
            return Err(conflict("-certificate belongs to -appliance register"));
        }
        if (self.file.is_some() || self.timeout.is_some()) && self.mode != Some(DaemonMode::Own(Mode::Update)) {
            return Err(conflict("-file and -timeout belong to -mode update"));
        }
        let name = |n: Option<String>| n.ok_or_else(|| missing("this command needs -name <appliance name>"));
        let command = match (self.mode, self.appliance) {
            (Some(DaemonMode::Shared(SharedMode::Config)), None) if self.name.is_some() => {
                return self.appliance_config();
            }
            (Some(DaemonMode::Shared(mode)), None) => Command::Mode(self.options.command::<Cli>(mode)?),
            (Some(DaemonMode::Own(Mode::Connect)), None) => Command::Connect { name: name(self.name)? },
            (Some(DaemonMode::Own(Mode::Disconnect)), None) => Command::Disconnect { name: name(self.name)? },
            (Some(DaemonMode::Own(Mode::Update)), None) => Command::Update {
                file: self.file.ok_or_else(|| missing("-mode update needs -file <firmware image>"))?,
                timeout: self.timeout.unwrap_or(crate::update::DEFAULT_TIMEOUT),
            },
            (None, Some(ApplianceAction::Register)) => Command::Register {
                name: name(self.name)?,
                certificate: self.certificate.ok_or_else(|| missing("register needs -certificate <file>"))?,
                ip: self.settings.ip.ok_or_else(|| missing("register needs -ip <appliance address>"))?,
                port: self.settings.port.unwrap_or(DEFAULT_APPLIANCE_PORT),
            },
            (None, Some(ApplianceAction::List)) => Command::List,
            (None, Some(ApplianceAction::Delete)) => {
                Command::Delete { name: name(self.name)?, force: self.options.force }
            }
            (None, None) if self.regen => {
                Command::Regen { common_name: self.options.common_name::<Cli>()?, force: self.options.force }
            }
            _ => return Err(conflict("give one of -mode, -appliance and -regen")),
        };
        // In register, -ip and -port name the appliance, not this server's listener.
        let mut settings = self.settings;
        if matches!(command, Command::Register { .. }) {
            settings.ip = None;
            settings.port = None;
        }
        Ok(Invocation { command, config_file: self.options.configfile, settings })
    }
}

impl Cli {
    /// `-mode config -name NAME`: the settings given are the appliance's, none of them
    /// overrides the server's for this run.
    fn appliance_config(self) -> Result<Invocation, clap::Error> {
        let name = self.name.unwrap_or_default();
        let command = match self.options.command::<Cli>(SharedMode::Config)? {
            ModeCommand::ConfigShow { json } => {
                if self.settings != Settings::default() {
                    let what = "-mode config -name NAME -show takes no settings; give them with -set";
                    return Err(usage_error::<Cli>(ErrorKind::ArgumentConflict, what));
                }
                Command::ApplianceShow { name, json }
            }
            _ => {
                let change = self.settings.appliance_change()?;
                if change.is_empty() {
                    let what = "-mode config -name NAME -set needs a setting: -ip, -port, -idletimeout, \
-socketreadtimeout, -socketwritetimeout, -pinginterval, -pingtimeout or -connectretrydelay";
                    return Err(usage_error::<Cli>(ErrorKind::MissingRequiredArgument, what));
                }
                Command::ApplianceSet { name, change }
            }
        };
        Ok(Invocation { command, config_file: self.options.configfile, settings: Settings::default() })
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
        parse(std::iter::once("pedserver").chain(args.iter().copied()).map(OsString::from))
    }

    #[test]
    fn the_seed_spellings_of_start_are_one_command() {
        for form in [&["-mode", "start"][..], &["-m", "start"], &["mode", "start"], &["--mode", "start"]] {
            assert_eq!(cmd(form).unwrap().command, Command::Mode(ModeCommand::Start { foreground: false }), "{form:?}");
        }
        assert_eq!(cmd(&["--mode=start"]).unwrap().command, Command::Mode(ModeCommand::Start { foreground: false }));
    }

    #[test]
    fn set_key_value_is_the_seeds_config_form() {
        let inv = cmd(&["-mode", "config", "-set", "LogFileName", "/tmp/x.log"]).unwrap();
        assert_eq!(inv.command, Command::Mode(ModeCommand::ConfigSet));
        assert_eq!(inv.settings.common.logfilename, Some(PathBuf::from("/tmp/x.log")));
    }

    #[test]
    fn every_seed_option_parses_in_both_forms() {
        let seed = [
            "-port",
            "1234",
            "-admin",
            "1235",
            "-eserverport",
            "1",
            "-eadmin",
            "0",
            "-idletimeout",
            "60",
            "-socketreadtimeout",
            "5",
            "-socketwritetimeout",
            "5",
            "-internalshutdowntimeout",
            "3",
            "-bgprocessstartuptimeout",
            "9",
            "-bgprocessshutdowntimeout",
            "8",
            "-logfile",
            "/tmp/l",
            "-loginfo",
            "1",
            "-logwarning",
            "1",
            "-logerror",
            "1",
            "-logtrace",
            "0",
            "-maxlogfilesize",
            "100",
            "-pedwritelay",
            "50",
            "-pinginterval",
            "7",
            "-pingtimeout",
            "6",
            "-ip",
            "::1",
            "-name",
            "hello",
            "-force",
            "-configfile",
            "/tmp/c.toml",
        ];
        let mut single = vec!["-mode", "start"];
        single.extend(seed);
        let long: Vec<String> = single
            .iter()
            .map(|a| if a.starts_with('-') && a.len() > 2 { format!("-{a}") } else { a.to_string() })
            .collect();
        let a = cmd(&single).unwrap();
        let b = cmd(&long.iter().map(String::as_str).collect::<Vec<_>>()).unwrap();
        assert_eq!(a.settings, b.settings);
        assert_eq!(a.settings.pedwritelay, Some(50));
        assert_eq!(a.settings.ip, Some("::1".parse().unwrap()));
        assert_eq!(a.config_file, Some(PathBuf::from("/tmp/c.toml")));
        let mut config = Config::default();
        a.settings.apply(&mut config);
        assert_eq!((config.server_port, config.admin_port), (1234, 1235));
        assert_eq!(config.common.idle_timeout, Timeout::from_secs(60));
        assert_eq!(config.common.log_file, Some(PathBuf::from("/tmp/l")));
    }

    #[test]
    fn unknown_options_and_bad_values_are_errors() {
        assert_eq!(cmd(&["-mode", "start", "-bogus", "1"]).unwrap_err().kind(), ErrorKind::UnknownArgument);
        assert_eq!(cmd(&["-mode", "launch"]).unwrap_err().kind(), ErrorKind::InvalidValue);
        assert_eq!(cmd(&["-mode", "start", "-eadmin", "2"]).unwrap_err().kind(), ErrorKind::ValueValidation);
        assert_eq!(cmd(&["-mode", "start", "-pedwritelay", "10001"]).unwrap_err().kind(), ErrorKind::ValueValidation);
        assert_eq!(cmd(&["-mode", "start", "-port", "0"]).unwrap_err().kind(), ErrorKind::ValueValidation);
        assert_eq!(cmd(&[]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(cmd(&["-mode", "config"]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(cmd(&["-mode", "connect"]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(cmd(&["-mode", "start", "-show"]).unwrap_err().kind(), ErrorKind::ArgumentConflict);
        assert_eq!(cmd(&["-mode", "start", "-regen"]).unwrap_err().kind(), ErrorKind::ArgumentConflict);
    }

    #[test]
    fn config_with_a_name_sets_the_appliance_not_the_server() {
        let inv = cmd(&["-mode", "config", "-name", "abox", "-set", "-port", "9700", "-idletimeout", "60"]).unwrap();
        let Command::ApplianceSet { name, change } = inv.command else { panic!("{:?}", inv.command) };
        assert_eq!((name.as_str(), change.port, change.ip), ("abox", Some(9700), None));
        assert_eq!(change.link.idle_timeout, Some(Timeout::from_secs(60)));
        assert_eq!(inv.settings, Settings::default(), "-port is the appliance's, not the listener's");
        let mut appliance = Appliance {
            name,
            ip: "10.0.0.1".parse().unwrap(),
            port: 9697,
            common_name: String::new(),
            fingerprint: String::new(),
            link: LinkSettings { ping_timeout: Some(Timeout::from_secs(5)), ..LinkSettings::default() },
        };
        change.apply(&mut appliance);
        assert_eq!((appliance.port, appliance.link.ping_timeout), (9700, Some(Timeout::from_secs(5))));
        assert_eq!(appliance.link.idle_timeout, Some(Timeout::from_secs(60)));

        assert_eq!(
            cmd(&["-mode", "config", "-name", "abox", "-show", "-json"]).unwrap().command,
            Command::ApplianceShow { name: "abox".into(), json: true }
        );
        let kind = |args: &[&str]| cmd(args).unwrap_err().kind();
        assert_eq!(kind(&["-mode", "config", "-name", "a", "-set", "-admin", "1600"]), ErrorKind::ArgumentConflict);
        assert_eq!(kind(&["-mode", "config", "-name", "a", "-set", "-loginfo", "0"]), ErrorKind::ArgumentConflict);
        assert_eq!(kind(&["-mode", "config", "-name", "a", "-show", "-port", "1"]), ErrorKind::ArgumentConflict);
        assert_eq!(kind(&["-mode", "config", "-name", "a", "-set"]), ErrorKind::MissingRequiredArgument);
        assert_eq!(kind(&["-mode", "config", "-name", "a"]), ErrorKind::MissingRequiredArgument);
        assert_eq!(kind(&["-mode", "config", "-name", "a", "-set", "-idletimeout", "0"]), ErrorKind::ValueValidation);
    }

    #[test]
    fn update_takes_a_file_and_an_optional_timeout() {
        for form in [
            &["-mode", "update", "-file", "ped.bin"][..],
            &["mode", "update", "--file", "ped.bin"],
            &["-m", "update", "-file=ped.bin"],
        ] {
            let inv = cmd(form).unwrap();
            assert_eq!(
                inv.command,
                Command::Update { file: "ped.bin".into(), timeout: Timeout::from_secs(200) },
                "{form:?}"
            );
        }
        let inv = cmd(&["-mode", "update", "-file", "ped.bin", "-timeout", "30", "-device", "socket:/tmp/p"]).unwrap();
        assert_eq!(inv.command, Command::Update { file: "ped.bin".into(), timeout: "30".parse().unwrap() });
        assert_eq!(inv.settings.device, Some(DeviceSpec::Socket("/tmp/p".into())));
        assert_eq!(cmd(&["-mode", "update"]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(
            cmd(&["-mode", "update", "-file", "x", "-timeout", "0"]).unwrap_err().kind(),
            ErrorKind::ValueValidation
        );
        assert_eq!(cmd(&["-mode", "start", "-file", "x"]).unwrap_err().kind(), ErrorKind::ArgumentConflict);
        assert_eq!(cmd(&["-mode", "show", "-timeout", "5"]).unwrap_err().kind(), ErrorKind::ArgumentConflict);
    }

    #[test]
    fn appliance_and_regen_commands() {
        let reg = cmd(&["-appliance", "register", "-name", "hello", "-certificate", "a.pem", "-ip", "10.0.0.1"]);
        let reg = reg.unwrap();
        assert_eq!(
            reg.command,
            Command::Register {
                name: "hello".into(),
                certificate: "a.pem".into(),
                ip: "10.0.0.1".parse().unwrap(),
                port: DEFAULT_APPLIANCE_PORT
            }
        );
        assert_eq!(reg.settings.ip, None, "-ip of register is the appliance's, not the listener's");
        assert_eq!(cmd(&["appliance", "list"]).unwrap().command, Command::List);
        assert_eq!(
            cmd(&["-appliance", "delete", "-name", "x", "-force"]).unwrap().command,
            Command::Delete { name: "x".into(), force: true }
        );
        assert_eq!(
            cmd(&["-regen", "-commonname", "laptop"]).unwrap().command,
            Command::Regen { common_name: "laptop".into(), force: false }
        );
        assert_eq!(cmd(&["-mode", "show", "--json"]).unwrap().command, Command::Mode(ModeCommand::Show { json: true }));
    }
}
