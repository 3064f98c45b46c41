//! The seed's command-line spellings. Administrators type `-mode start`, `-m start`,
//! `mode start` and `-set LogFileName x`; clap only knows `--long` options, so
//! [`normalise`] rewrites argv first. It is pure and unit-tested; clap then does the
//! parsing, the usage text and the errors, and [`exit_status`] turns those into the
//! daemons' exit statuses.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use clap::error::ErrorKind;

/// Rewrites the seed's spellings into clap's: `-name` → `--name` (lower-cased, so
/// `-LogFileName` works too), a leading bare `mode`/`appliance` → `--mode`/`--appliance`,
/// and `-set KEY VALUE` (the seed's `config -set LogFileName path`) → `--set --key VALUE`.
/// `-m` stays a short option. Anything else passes through unchanged for clap to judge.
pub fn normalise<I: IntoIterator<Item = OsString>>(argv: I) -> Vec<OsString> {
    let mut input = argv.into_iter();
    let mut out: Vec<OsString> = input.next().into_iter().collect();
    let rest: Vec<OsString> = input.collect();
    let mut i = 0;
    while i < rest.len() {
        let token = &rest[i];
        let Some(text) = token.to_str() else {
            out.push(token.clone());
            i += 1;
            continue;
        };
        if i == 0 && (text == "mode" || text == "appliance") {
            out.push(format!("--{text}").into());
        } else if let Some(name) = long_name(text) {
            out.push(name.clone().into());
            // `-set KEY VALUE`: a bare word right after -set names the setting.
            if name == "--set"
                && let Some(key) = rest.get(i + 1).and_then(|k| k.to_str())
                && !key.starts_with('-')
                && rest.get(i + 2).is_some()
            {
                out.push(format!("--{}", key.to_ascii_lowercase()).into());
                i += 1;
            }
        } else {
            out.push(token.clone());
        }
        i += 1;
    }
    out
}

/// `-name`/`--Name`/`--name=v` → `--name`/`--name=v`; `None` for values and `-m`.
fn long_name(text: &str) -> Option<String> {
    let body = text.strip_prefix("--").or_else(|| text.strip_prefix('-'))?;
    let (name, value) = match body.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (body, None),
    };
    let starts_alpha = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if !starts_alpha || (name.len() < 2 && !text.starts_with("--")) {
        return None;
    }
    let mut long = format!("--{}", name.to_ascii_lowercase());
    if let Some(v) = value {
        long.push('=');
        long.push_str(v);
    }
    Some(long)
}

/// A value the seed's switches and ports do not take.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// A switch is written `0` or `1`.
    #[error("`{0}` is not 0 or 1")]
    NotZeroOrOne(String),
    /// A port is 1-65535.
    #[error("`{0}` is not a port number (1-65535)")]
    NotAPort(String),
}

/// clap value parser of the seed's switches, which are written `0` or `1`.
pub fn zero_one(s: &str) -> Result<bool, ValueError> {
    match s {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(ValueError::NotZeroOrOne(s.to_string())),
    }
}

/// clap value parser of a port to listen on or connect to: 0 is refused, as it would
/// mean "any port" to a listener and nothing to a client.
pub fn port(s: &str) -> Result<u16, ValueError> {
    match s.parse::<u16>() {
        Ok(0) | Err(_) => Err(ValueError::NotAPort(s.to_string())),
        Ok(p) => Ok(p),
    }
}

/// Normalises argv ([`normalise`]) and parses it as `P`.
pub fn parse_seed_argv<P: clap::Parser, I: IntoIterator<Item = OsString>>(argv: I) -> Result<P, clap::Error> {
    P::try_parse_from(normalise(argv))
}

/// A usage error of `P`'s command line that clap cannot see (an option given to a mode it
/// does not belong to, one a mode needs), reported as clap reports its own.
pub fn usage_error<P: clap::CommandFactory>(kind: ErrorKind, what: &str) -> clap::Error {
    P::command().error(kind, what)
}

/// The options of the modes both daemons have (`start`, `stop`, `show`, `config`) and of
/// `-regen`, flattened into each daemon's command line.
#[derive(Clone, Debug, Default, PartialEq, Eq, clap::Args)]
pub struct ModeOptions {
    /// With -mode config: print the configuration.
    #[arg(long)]
    pub show: bool,
    /// With -mode config: write the other options to the configuration file.
    #[arg(long)]
    pub set: bool,
    /// With show or config -show: print JSON.
    #[arg(long)]
    pub json: bool,
    /// With -mode start: run in this process (for systemd) instead of in the background.
    #[arg(long)]
    pub foreground: bool,
    /// With -regen: the certificate's common name.
    #[arg(long, value_name = "CN")]
    pub commonname: Option<String>,
    /// Replace or delete without asking (-regen, and a registration or appliance in use).
    #[arg(long)]
    pub force: bool,
    /// Configuration file [default: /etc/NAME/NAME.toml as root, else ~/.config/NAME/NAME.toml].
    #[arg(long, value_name = "FILE")]
    pub configfile: Option<PathBuf>,
}

/// The modes both daemons have, as `-mode` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SharedMode {
    /// Start in the background (or in the foreground with --foreground).
    Start,
    /// Stop the running daemon through its admin port.
    Stop,
    /// Show whether the daemon runs and its status.
    Show,
    /// Show (-show) or change (-set) the configuration file.
    Config,
}

/// A `-mode` value: one both daemons have, or one of the daemon's own `M`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DaemonMode<M> {
    /// `start`, `stop`, `show` or `config`.
    Shared(SharedMode),
    /// The daemon's own.
    Own(M),
}

impl<M> DaemonMode<M> {
    /// The shared mode, if it is one.
    pub fn shared(self) -> Option<SharedMode> {
        match self {
            DaemonMode::Shared(mode) => Some(mode),
            DaemonMode::Own(_) => None,
        }
    }
}

/// clap's parser of `-mode`: the [`SharedMode`]s first, then the daemon's own `M`s, in
/// the usage text, the man page and the completions alike.
#[derive(Clone, Debug)]
pub struct ModeParser<M>(std::marker::PhantomData<M>);

impl<M> ModeParser<M> {
    /// The parser.
    pub fn new() -> Self {
        ModeParser(std::marker::PhantomData)
    }
}

impl<M> Default for ModeParser<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: ValueEnum + Clone + Send + Sync + 'static> clap::builder::TypedValueParser for ModeParser<M> {
    type Value = DaemonMode<M>;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<DaemonMode<M>, clap::Error> {
        let text = value.to_str().unwrap_or_default();
        if let Ok(shared) = <SharedMode as ValueEnum>::from_str(text, false) {
            return Ok(DaemonMode::Shared(shared));
        }
        if let Ok(own) = M::from_str(text, false) {
            return Ok(DaemonMode::Own(own));
        }
        // clap's own message for a bad value, with the valid ones.
        use clap::error::{ContextKind, ContextValue};
        let names = self.possible_values().into_iter().flatten().map(|v| v.get_name().to_string()).collect();
        let mut error = clap::Error::new(ErrorKind::InvalidValue).with_cmd(cmd);
        let arg = arg.map_or_else(|| "--mode".to_string(), ToString::to_string);
        error.insert(ContextKind::InvalidArg, ContextValue::String(arg));
        error.insert(ContextKind::InvalidValue, ContextValue::String(value.to_string_lossy().into_owned()));
        error.insert(ContextKind::ValidValue, ContextValue::Strings(names));
        Err(error)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let shared = SharedMode::value_variants().iter().filter_map(ValueEnum::to_possible_value);
        let own = M::value_variants().iter().filter_map(ValueEnum::to_possible_value);
        Some(Box::new(shared.chain(own)))
    }
}

/// What one of the [`SharedMode`]s does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModeCommand {
    /// `-mode start`.
    Start {
        /// Run here rather than in a background process.
        foreground: bool,
    },
    /// `-mode stop`.
    Stop,
    /// `-mode show`.
    Show {
        /// Machine-readable output.
        json: bool,
    },
    /// `-mode config -show`.
    ConfigShow {
        /// Machine-readable output.
        json: bool,
    },
    /// `-mode config -set`.
    ConfigSet,
}

impl ModeCommand {
    /// Whether the output is JSON, for machines, and so alone on stdout.
    pub fn json(&self) -> bool {
        matches!(self, ModeCommand::Show { json: true } | ModeCommand::ConfigShow { json: true })
    }
}

impl ModeOptions {
    /// Refuses an option given without the mode it belongs to: `mode` is the shared mode
    /// given, if any, and `regen` whether `-regen` was. Errors are `P`'s usage errors.
    pub fn check<P: clap::CommandFactory>(&self, mode: Option<SharedMode>, regen: bool) -> Result<(), clap::Error> {
        let conflict = |what: &str| Err(usage_error::<P>(ErrorKind::ArgumentConflict, what));
        if (self.show || self.set) && mode != Some(SharedMode::Config) {
            return conflict("-show and -set belong to -mode config");
        }
        if self.json && !matches!(mode, Some(SharedMode::Show | SharedMode::Config)) {
            return conflict("-json belongs to -mode show and -mode config -show");
        }
        if self.foreground && mode != Some(SharedMode::Start) {
            return conflict("-foreground belongs to -mode start");
        }
        if self.commonname.is_some() && !regen {
            return conflict("-commonname belongs to -regen");
        }
        Ok(())
    }

    /// The command of a shared `mode`; `-mode config` needs one of `-show` and `-set`.
    pub fn command<P: clap::CommandFactory>(&self, mode: SharedMode) -> Result<ModeCommand, clap::Error> {
        Ok(match mode {
            SharedMode::Start => ModeCommand::Start { foreground: self.foreground },
            SharedMode::Stop => ModeCommand::Stop,
            SharedMode::Show => ModeCommand::Show { json: self.json },
            SharedMode::Config => match (self.show, self.set) {
                (true, false) => ModeCommand::ConfigShow { json: self.json },
                (false, true) => ModeCommand::ConfigSet,
                _ => {
                    let what = "-mode config needs exactly one of -show and -set";
                    return Err(usage_error::<P>(ErrorKind::MissingRequiredArgument, what));
                }
            },
        })
    }

    /// `-regen`'s common name, which it needs.
    pub fn common_name<P: clap::CommandFactory>(&self) -> Result<String, clap::Error> {
        let missing = || usage_error::<P>(ErrorKind::MissingRequiredArgument, "-regen needs -commonname <name>");
        self.commonname.clone().ok_or_else(missing)
    }
}

/// One parsed invocation: the command, the configuration file it names and the settings
/// that override the file for this run.
#[derive(Debug)]
pub struct Invocation<C, S> {
    /// What to do.
    pub command: C,
    /// `-configfile`.
    pub config_file: Option<PathBuf>,
    /// The other options.
    pub settings: S,
}

/// Puts a command-line override in its configuration slot, if it was given.
pub fn set_if_given<T: Clone>(slot: &mut T, value: &Option<T>) {
    if let Some(v) = value {
        *slot = v.clone();
    }
}

/// The exit for a command line clap refused: `--help` and `--version` (which clap reports
/// as errors) print to stdout and succeed; any other mistake prints clap's message and
/// `usage`, and exits with status 2.
pub fn exit_status(error: clap::Error, usage: impl std::fmt::Display) -> ExitCode {
    if !error.use_stderr() {
        error.exit();
    }
    // clap omits the usage line for bad values; every mistake here shows it.
    let rendered = error.render().to_string();
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{rendered}");
    if !rendered.contains("Usage:") {
        let _ = writeln!(err, "\n{usage}");
    }
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        normalise(args.iter().map(OsString::from)).into_iter().map(|s| s.into_string().unwrap()).collect()
    }

    #[test]
    fn the_seed_spellings_of_a_mode_are_one() {
        for form in [&["p", "-mode", "start"][..], &["p", "mode", "start"], &["p", "--mode", "start"]] {
            assert_eq!(norm(form), ["p", "--mode", "start"], "{form:?}");
        }
        assert_eq!(norm(&["p", "-m", "start"]), ["p", "-m", "start"]);
        assert_eq!(norm(&["p", "--Mode=start"]), ["p", "--mode=start"]);
        assert_eq!(norm(&["p", "appliance", "list"]), ["p", "--appliance", "list"]);
        // Only the first word may be the bare mode.
        assert_eq!(norm(&["p", "-m", "mode"]), ["p", "-m", "mode"]);
    }

    #[test]
    fn single_dash_options_become_long_ones_and_m_stays_short() {
        assert_eq!(
            norm(&["p", "-mode", "config", "-set", "-PedWriteLay", "50", "-m"]),
            ["p", "--mode", "config", "--set", "--pedwritelay", "50", "-m"]
        );
        // A value that merely starts with a dash and a digit is left alone.
        assert_eq!(norm(&["p", "-port", "-1"]), ["p", "--port", "-1"]);
        assert_eq!(norm(&["p", "-id_serialnumber", "1"]), ["p", "--id_serialnumber", "1"]);
    }

    #[test]
    fn set_key_value_is_the_seeds_config_form() {
        assert_eq!(
            norm(&["p", "-mode", "config", "-set", "LogFileName", "/tmp/x.log"]),
            ["p", "--mode", "config", "--set", "--logfilename", "/tmp/x.log"]
        );
        // Without a value after it, the word is left for clap to judge.
        assert_eq!(norm(&["p", "-set", "LogFileName"]), ["p", "--set", "LogFileName"]);
    }

    #[test]
    fn value_parsers() {
        assert_eq!((zero_one("0"), zero_one("1")), (Ok(false), Ok(true)));
        assert!(zero_one("2").unwrap_err().to_string().contains("not 0 or 1"));
        assert_eq!(port("1503"), Ok(1503));
        for bad in ["0", "65536", "-1", "x"] {
            assert!(port(bad).unwrap_err().to_string().contains("not a port number"), "{bad}");
        }
    }
}
