//! lunacm's command language, parsed: the words the control socket takes become a
//! [`Command`], or the `CKR_ARGUMENTS_BAD` error lunacm would print. No I/O, no HSM:
//! whether a command is allowed now is for whoever runs it. And lunacm's own lines:
//! the `ped show` block ([`ped_show`]) and the caution before an HSM SO login
//! ([`so_login_caution`]).
//!
//! Words are matched as lunacm spells them (`ped connect`, `role login`, ...); `ped
//! vector` stands for `ped vector init`. Options are `-name value` (or `--name value`);
//! `ped connect`'s `-password` and the `-force` of the destructive commands may stand
//! alone. Role names are case-insensitive.

use std::time::Duration;

use ped_proto::secrets::PasswordDigits;

use crate::conductor::Remote;
use crate::error::{HsmCode, HsmError};
use crate::hsm::{HSM_SO_MAX_FAILURES, Request, RoleName};

/// One lunacm command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `ped connect [-slot 0] [-ip A] [-port P] [-password [8 digits]]`.
    PedConnect(Connect),
    /// `ped disconnect`.
    PedDisconnect,
    /// `ped set -ip A -port P` (at least one of them).
    PedSet {
        /// `-ip`.
        ip: Option<String>,
        /// `-port`.
        port: Option<u16>,
    },
    /// `ped show`.
    PedShow,
    /// A command carried out over the PED: `ped vector init`, `hsm init`, `partition
    /// init`, `role login|init|changepw|resetpw`.
    Ped(Request),
    /// `hsm factoryreset -force`.
    HsmFactoryReset,
    /// `hsm changepolicy -policy P -value V [-force]`.
    HsmChangePolicy {
        /// `-policy`.
        policy: u32,
        /// `-value`.
        value: u32,
        /// `-force`: the answer to lunacm's question before a destructive change.
        force: bool,
    },
    /// `partition create`.
    PartitionCreate,
    /// `partition delete -force`.
    PartitionDelete,
}

/// `ped connect`'s options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connect {
    /// `-ip`; `None`: the `ped set` default, else pedclient's mapping.
    pub ip: Option<String>,
    /// `-port`; `None`: the `ped set` default, else 1503.
    pub port: Option<u16>,
    /// `-password`: a one-time-password channel.
    pub password: Option<Password>,
}

/// `ped connect -password`'s value.
#[derive(Clone, Debug)]
pub enum Password {
    /// `-password` alone: the HSM generates the digits and shows them.
    Generate,
    /// `-password 12345678`.
    Given(PasswordDigits),
}

impl PartialEq for Password {
    /// Digits compare in constant time.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Password::Generate, Password::Generate) => true,
            (Password::Given(a), Password::Given(b)) => {
                a.expose().iter().zip(b.expose()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
            }
            _ => false,
        }
    }
}

impl Eq for Password {}

/// The list lunacm's help gives, as the error for a command it does not know.
pub const COMMANDS: &str = "commands: ped connect|disconnect|set|show|vector init, \
                            hsm init|factoryreset|changepolicy, partition create|delete|init, \
                            role login|init|changepw|resetpw";

fn bad(what: impl Into<String>) -> HsmError {
    HsmError::hsm(HsmCode::ArgumentsBad, what)
}

/// Parses the words of one command.
pub fn parse<S: AsRef<str>>(words: &[S]) -> Result<Command, HsmError> {
    let words: Vec<&str> = words.iter().map(AsRef::as_ref).collect();
    let (spec, rest) = Spec::find(&words).ok_or_else(|| bad(COMMANDS))?;
    (spec.build)(&Options::parse(spec, rest)?)
}

fn ped_set(opts: &Options<'_>) -> Result<Command, HsmError> {
    let port = opts.port()?;
    let ip = opts.get("ip").map(str::to_owned);
    if ip.is_none() && port.is_none() {
        return Err(opts.bad("ped set takes -ip and/or -port"));
    }
    Ok(Command::PedSet { ip, port })
}

fn change_policy(opts: &Options<'_>) -> Result<Command, HsmError> {
    let number = |name: &str| opts.need(name)?.parse::<u32>().map_err(|_| opts.bad(format!("-{name} takes a number")));
    let (policy, value) = (number("policy")?, number("value")?);
    Ok(Command::HsmChangePolicy { policy, value, force: opts.get("force").is_some() })
}

fn role(opts: &Options<'_>) -> Result<RoleName, HsmError> {
    RoleName::parse(opts.need("name")?).ok_or_else(|| opts.bad("-name is one of so, po, co, lco, cu, au"))
}

const PED_CONNECT: &str = "ped connect [-slot 0] [-ip <address>] [-port <port>] [-password [<8 digits>]]";
const PED_DISCONNECT: &str = "ped disconnect";
const PED_SET: &str = "ped set [-ip <address>] [-port <port>]";
const PED_SHOW: &str = "ped show";
const PED_VECTOR: &str = "ped vector init";
const HSM_INIT: &str = "hsm init -label <label>";
const HSM_FACTORYRESET: &str = "hsm factoryreset -force";
const HSM_CHANGEPOLICY: &str = "hsm changepolicy -policy 15 -value 0|1 [-force]";
const PARTITION_CREATE: &str = "partition create";
const PARTITION_DELETE: &str = "partition delete -force";
const PARTITION_INIT: &str = "partition init -label <label>";
const ROLE_LOGIN: &str = "role login -name so|po|co|lco|cu|au";
const ROLE_INIT: &str = "role init -name co|lco|cu|au";
const ROLE_CHANGEPW: &str = "role changepw -name so|po|co|lco|cu|au";
const ROLE_RESETPW: &str = "role resetpw -name co|lco|cu";

/// How an option takes its value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Takes {
    /// `-name value`.
    Value,
    /// `-force`: nothing.
    Nothing,
    /// `-password [digits]`: a value, or none.
    MaybeValue,
}

/// One command: its words, its options, the usage its refusals print, and how its
/// options make the [`Command`].
struct Spec {
    words: &'static [&'static str],
    options: &'static [(&'static str, Takes)],
    usage: &'static str,
    build: fn(&Options<'_>) -> Result<Command, HsmError>,
}

const LABEL: &[(&str, Takes)] = &[("label", Takes::Value)];
const FORCE: &[(&str, Takes)] = &[("force", Takes::Nothing)];
const NAME: &[(&str, Takes)] = &[("name", Takes::Value)];

/// Every command, the longer spelling of a command before its abbreviation.
const SPECS: &[Spec] = &[
    Spec {
        words: &["ped", "connect"],
        options: &[
            ("slot", Takes::Value),
            ("ip", Takes::Value),
            ("port", Takes::Value),
            ("password", Takes::MaybeValue),
        ],
        usage: PED_CONNECT,
        build: |o| Ok(Command::PedConnect(connect(o)?)),
    },
    Spec { words: &["ped", "disconnect"], options: &[], usage: PED_DISCONNECT, build: |_| Ok(Command::PedDisconnect) },
    Spec {
        words: &["ped", "set"],
        options: &[("ip", Takes::Value), ("port", Takes::Value)],
        usage: PED_SET,
        build: ped_set,
    },
    Spec { words: &["ped", "show"], options: &[], usage: PED_SHOW, build: |_| Ok(Command::PedShow) },
    Spec {
        words: &["ped", "vector", "init"],
        options: &[],
        usage: PED_VECTOR,
        build: |_| Ok(Command::Ped(Request::VectorInit)),
    },
    Spec {
        words: &["ped", "vector"],
        options: &[],
        usage: PED_VECTOR,
        build: |_| Ok(Command::Ped(Request::VectorInit)),
    },
    Spec {
        words: &["hsm", "init"],
        options: LABEL,
        usage: HSM_INIT,
        build: |o| Ok(Command::Ped(Request::HsmInit { label: o.need("label")?.into() })),
    },
    Spec {
        words: &["hsm", "factoryreset"],
        options: FORCE,
        usage: HSM_FACTORYRESET,
        build: |o| {
            confirmed(o, "hsm factoryreset", "the HSM's roles, partition, label, counters and RPV")?;
            Ok(Command::HsmFactoryReset)
        },
    },
    Spec {
        words: &["hsm", "changepolicy"],
        options: &[("policy", Takes::Value), ("value", Takes::Value), ("force", Takes::Nothing)],
        usage: HSM_CHANGEPOLICY,
        build: change_policy,
    },
    Spec {
        words: &["partition", "create"],
        options: &[],
        usage: PARTITION_CREATE,
        build: |_| Ok(Command::PartitionCreate),
    },
    Spec {
        words: &["partition", "delete"],
        options: FORCE,
        usage: PARTITION_DELETE,
        build: |o| {
            confirmed(o, "partition delete", "the partition and its roles")?;
            Ok(Command::PartitionDelete)
        },
    },
    Spec {
        words: &["partition", "init"],
        options: LABEL,
        usage: PARTITION_INIT,
        build: |o| Ok(Command::Ped(Request::PartitionInit { label: o.need("label")?.into() })),
    },
    Spec {
        words: &["role", "login"],
        options: NAME,
        usage: ROLE_LOGIN,
        build: |o| Ok(Command::Ped(Request::Login(role(o)?))),
    },
    Spec {
        words: &["role", "init"],
        options: NAME,
        usage: ROLE_INIT,
        build: |o| Ok(Command::Ped(Request::RoleInit(role(o)?))),
    },
    Spec {
        words: &["role", "changepw"],
        options: NAME,
        usage: ROLE_CHANGEPW,
        build: |o| Ok(Command::Ped(Request::ChangePw(role(o)?))),
    },
    Spec {
        words: &["role", "resetpw"],
        options: NAME,
        usage: ROLE_RESETPW,
        build: |o| Ok(Command::Ped(Request::ResetPw(role(o)?))),
    },
];

impl Spec {
    /// The command `words` start with, and the words after it.
    fn find<'w, 'a>(words: &'w [&'a str]) -> Option<(&'static Spec, &'w [&'a str])> {
        SPECS.iter().find_map(|spec| {
            let rest = words.strip_prefix(spec.words)?;
            // `ped vector` stands for `ped vector init`, not for `ped vector <anything>`.
            let abbreviated = spec.words == ["ped", "vector"];
            (!abbreviated || rest.first().is_none_or(|w| w.starts_with('-'))).then_some((spec, rest))
        })
    }

    /// The option `-given` names: itself, or the one option it abbreviates (lunacm's
    /// `role login -n so`, seed 3633).
    fn option(&self, given: &str) -> Result<(&'static str, Takes), HsmError> {
        if let Some(&exact) = self.options.iter().find(|(name, _)| *name == given) {
            return Ok(exact);
        }
        let matching: Vec<_> = self.options.iter().filter(|(name, _)| name.starts_with(given)).collect();
        match matching.as_slice() {
            [one] if !given.is_empty() => Ok(**one),
            [] | [_] => Err(self.bad(format!("-{given} is not an option of {}", self.words.join(" ")))),
            several => {
                let names: Vec<String> = several.iter().map(|(name, _)| format!("-{name}")).collect();
                Err(self.bad(format!("-{given} is ambiguous ({})", names.join(", "))))
            }
        }
    }

    /// A refusal with the command's usage.
    fn bad(&self, what: impl std::fmt::Display) -> HsmError {
        bad(format!("{what}; usage: {}", self.usage))
    }
}

fn connect(opts: &Options<'_>) -> Result<Connect, HsmError> {
    // lunacm's `-slot` picks one of several HSMs in a server; this HSM is slot 0.
    if let Some(slot) = opts.get("slot").filter(|s| s.parse::<u32>() != Ok(0)) {
        return Err(bad(format!("there is no slot {slot}: this HSM is slot 0 (ped connect -slot 0, or no -slot)")));
    }
    let password = match opts.get("password") {
        None => None,
        Some("") => Some(Password::Generate),
        Some(digits) => Some(Password::Given(
            PasswordDigits::parse(digits)
                .ok_or_else(|| bad("-password takes exactly 8 digits (or none, to generate them)"))?,
        )),
    };
    Ok(Connect { ip: opts.get("ip").map(str::to_owned), port: opts.port()?, password })
}

/// lunacm asks before it destroys anything ("Type 'proceed' to continue"); a command
/// sent over the control socket cannot be asked, so `-force` is its answer, as it is
/// lunacm's way to skip the question.
fn confirmed(opts: &Options<'_>, command: &str, what: &str) -> Result<(), HsmError> {
    if opts.get("force").is_none() {
        return Err(bad(format!(
            "{command} destroys {what}; nothing was changed. Run `{command} -force` to go ahead."
        )));
    }
    Ok(())
}

/// A command's options, by their full names (`-force` and a `-password` alone: "").
struct Options<'a> {
    spec: &'static Spec,
    given: Vec<(&'static str, &'a str)>,
}

impl<'a> Options<'a> {
    fn parse(spec: &'static Spec, args: &[&'a str]) -> Result<Self, HsmError> {
        let mut given = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let word = args[i]
                .strip_prefix('-')
                .map(|n| n.trim_start_matches('-'))
                .ok_or_else(|| spec.bad(format!("unexpected `{}`", args[i])))?;
            let (name, takes) = spec.option(word)?;
            let value = args.get(i + 1).filter(|v| !v.starts_with('-'));
            match (takes, value) {
                (Takes::Value | Takes::MaybeValue, Some(value)) => {
                    given.push((name, *value));
                    i += 2;
                }
                (Takes::Nothing | Takes::MaybeValue, _) => {
                    given.push((name, ""));
                    i += 1;
                }
                (Takes::Value, None) => return Err(bad(format!("-{name} needs a value"))),
            }
        }
        Ok(Options { spec, given })
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.given.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// A required option's value.
    fn need(&self, name: &str) -> Result<&'a str, HsmError> {
        self.get(name).ok_or_else(|| self.bad(format!("-{name} is needed")))
    }

    fn bad(&self, what: impl std::fmt::Display) -> HsmError {
        self.spec.bad(what)
    }

    fn port(&self) -> Result<Option<u16>, HsmError> {
        self.get("port").map(|p| p.parse().map_err(|_| bad("-port takes a number 1-65535"))).transpose()
    }
}

/// How the last remote link ended, as `ped show` tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEnd {
    /// `ped disconnect`.
    Disconnected,
    /// `hsm factoryreset`.
    FactoryReset,
    /// pedclient closed it, or it failed under a command.
    Failed(HsmError),
}

/// The PED link as `ped show` tells it.
#[derive(Clone, Copy, Debug)]
pub enum ShownLink<'a> {
    /// A remote link is up: the address `ped connect` asked for (an empty host: none)
    /// and what pedclient reached.
    Remote {
        /// `-ip`, or the default; empty for a PED ID mapping.
        host: &'a str,
        /// `-port`, or the default.
        port: u16,
        /// pedclient's Connected.
        reached: &'a Remote,
    },
    /// No remote link: how the last one ended, and whether a local PED is configured.
    NotRemote {
        /// How the last remote link ended.
        last_end: Option<&'a LinkEnd>,
        /// `--local-ped` was given.
        local: bool,
    },
}

/// What `ped show` prints.
#[derive(Clone, Copy, Debug)]
pub struct Status<'a> {
    /// The HSM's serial.
    pub serial: &'a str,
    /// Its label; `None` when zeroised.
    pub label: Option<&'a str>,
    /// Whether an RPV is in force.
    pub rpv: bool,
    /// The PED link.
    pub link: ShownLink<'a>,
    /// `ped set -ip`.
    pub default_ip: Option<&'a str>,
    /// `ped set -port`, or 1503.
    pub default_port: u16,
    /// The HSM SO's failed logins.
    pub so_failures: u32,
    /// Since the HSM started.
    pub up_time: Duration,
}

/// `ped show`'s lines.
pub fn ped_show(s: &Status<'_>) -> Vec<String> {
    let mut out = vec![
        format!("HSM serial: {}", s.serial),
        format!("HSM label: {}", s.label.unwrap_or("(zeroised)")),
        format!("RPV initialized: {}", if s.rpv { "Yes" } else { "No" }),
    ];
    match s.link {
        ShownLink::Remote { reached: Remote { firmware, pedserver, ped_initiated: true }, .. } => {
            out.push(format!("Remote PED: connected (PED-initiated from {pedserver}), PED firmware {firmware}"));
        }
        // A bare `ped connect` asked for no address (a PED ID mapping): the one
        // pedclient reached.
        ShownLink::Remote { host: "", reached: Remote { firmware, pedserver, .. }, .. } => {
            out.push(format!("Remote PED: connected to {pedserver}, PED firmware {firmware}"));
        }
        ShownLink::Remote { host, port, reached: Remote { firmware, .. } } => {
            // An IPv6 address in brackets, as pedclient reports one, so the port stands apart.
            let host = if host.contains(':') { format!("[{host}]") } else { host.to_owned() };
            out.push(format!("Remote PED: connected to {host}:{port}, PED firmware {firmware}"));
        }
        ShownLink::NotRemote { last_end, local } => {
            match last_end {
                Some(LinkEnd::Disconnected) => out.push("Remote PED: not connected (ended by ped disconnect)".into()),
                Some(LinkEnd::FactoryReset) => {
                    out.push("Remote PED: not connected (ended by hsm factoryreset)".into());
                }
                Some(LinkEnd::Failed(e)) => out.push(format!(
                    "Remote PED: not connected (the link ended: {}; 0x{:08x} {})",
                    e.detail,
                    e.code.value(),
                    e.code.name()
                )),
                None => {}
            }
            out.push(format!("Local PED-USB: {}", if local { "configured" } else { "not configured" }));
        }
    }
    out.push(format!("Default Remote PED: {}:{}", s.default_ip.unwrap_or("(none)"), s.default_port));
    out.push(format!("HSM SO failed logins: {}", s.so_failures));
    out.push(format!("Up time: {} (secs)", s.up_time.as_secs()));
    out
}

/// `ped set`'s success, in the seed's words (4170-4174).
pub const PED_SET_DONE: &str = "Command Result : 0 (Success)";

/// The lines that end a command: on success lunacm's `Command Result : No Error`; on
/// failure lunacm's `Error in execution: CKR_….` (seed 3647, 4290), the sentence that
/// says what happened and what to do, then the result line. (`ped set`'s success is
/// [`PED_SET_DONE`].)
pub fn result_lines(result: &Result<(), HsmError>) -> Vec<String> {
    match result {
        Ok(()) => vec!["Command Result : No Error".into()],
        Err(e) => vec![format!("Error in execution: {}.", e.code.name()), e.detail.clone(), e.result_line()],
    }
}

/// lunacm's warning before an HSM SO login, with the attempts left before the HSM
/// zeroises itself, in the seed's words and line breaks (3641-3643).
pub fn so_login_caution(failures: u32) -> String {
    let left = HSM_SO_MAX_FAILURES.saturating_sub(failures);
    format!(
        "Caution: You have only {left} so login attempts left. If you fail {left}\n\
         more consecutive login attempts (i.e. with no successful\n\
         logins in between) the HSM will be ZEROIZED!!!"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;

    fn ok(words: &str) -> Command {
        let words: Vec<&str> = words.split_whitespace().collect();
        parse(&words).unwrap_or_else(|e| panic!("{words:?}: {e}"))
    }

    /// The sentence of a CKR_ARGUMENTS_BAD.
    fn refused(words: &str) -> String {
        let words: Vec<&str> = words.split_whitespace().collect();
        let e = parse(&words).expect_err(&format!("{words:?} parsed"));
        assert_eq!(e.code, Code::Hsm(HsmCode::ArgumentsBad), "{words:?}");
        e.detail
    }

    #[test]
    fn ped_connect_takes_slot_0_ip_port_and_a_password() {
        assert_eq!(ok("ped connect"), Command::PedConnect(Connect::default()));
        assert_eq!(
            ok("ped connect -slot 0 -ip 10.0.0.2 -port 1600"),
            Command::PedConnect(Connect { ip: Some("10.0.0.2".into()), port: Some(1600), password: None })
        );
        assert_eq!(
            ok("ped connect --ip ::1"),
            Command::PedConnect(Connect { ip: Some("::1".into()), ..Connect::default() })
        );
        assert_eq!(
            ok("ped connect -password"),
            Command::PedConnect(Connect { password: Some(Password::Generate), ..Connect::default() })
        );
        assert_eq!(
            ok("ped connect -password -ip h"),
            Command::PedConnect(Connect { ip: Some("h".into()), password: Some(Password::Generate), port: None })
        );
        let Command::PedConnect(Connect { password: Some(given), .. }) = ok("ped connect -password 18246843") else {
            panic!("no password")
        };
        assert!(given == Password::Given(PasswordDigits::parse("18246843").unwrap()));
        assert!(given != Password::Given(PasswordDigits::parse("18246844").unwrap()));
        assert!(given != Password::Generate);
    }

    #[test]
    fn ped_connect_refuses_other_slots_bad_ports_and_passwords() {
        assert_eq!(
            refused("ped connect -slot 3"),
            "there is no slot 3: this HSM is slot 0 (ped connect -slot 0, or no -slot)"
        );
        assert_eq!(
            refused("ped connect -slot x"),
            "there is no slot x: this HSM is slot 0 (ped connect -slot 0, or no -slot)"
        );
        assert_eq!(refused("ped connect -port 70000"), "-port takes a number 1-65535");
        assert_eq!(refused("ped connect -port"), "-port needs a value");
        assert_eq!(
            refused("ped connect -password 1234"),
            "-password takes exactly 8 digits (or none, to generate them)"
        );
        assert_eq!(refused("ped connect 10.0.0.2"), format!("unexpected `10.0.0.2`; usage: {PED_CONNECT}"));
    }

    #[test]
    fn ped_disconnect_show_and_set() {
        assert_eq!(ok("ped disconnect"), Command::PedDisconnect);
        assert_eq!(ok("ped show"), Command::PedShow);
        assert_eq!(ok("ped set -ip a.example"), Command::PedSet { ip: Some("a.example".into()), port: None });
        assert_eq!(ok("ped set -port 1600"), Command::PedSet { ip: None, port: Some(1600) });
        assert_eq!(ok("ped set -ip a -port 2"), Command::PedSet { ip: Some("a".into()), port: Some(2) });
        assert_eq!(refused("ped set"), format!("ped set takes -ip and/or -port; usage: {PED_SET}"));
        assert_eq!(refused("ped set -port abc"), "-port takes a number 1-65535");
        assert_eq!(refused("ped disconnect -now"), "-now is not an option of ped disconnect; usage: ped disconnect");
        assert_eq!(refused("ped show all"), "unexpected `all`; usage: ped show");
    }

    #[test]
    fn ped_vector_init_and_its_abbreviation() {
        assert_eq!(ok("ped vector init"), Command::Ped(Request::VectorInit));
        assert_eq!(ok("ped vector"), Command::Ped(Request::VectorInit));
        assert_eq!(refused("ped vector erase"), COMMANDS);
    }

    #[test]
    fn hsm_init_needs_a_label() {
        assert_eq!(ok("hsm init -label L"), Command::Ped(Request::HsmInit { label: "L".into() }));
        assert_eq!(ok("hsm init --label L"), Command::Ped(Request::HsmInit { label: "L".into() }));
        assert_eq!(refused("hsm init"), "-label is needed; usage: hsm init -label <label>");
        assert_eq!(refused("hsm init -label"), "-label needs a value");
    }

    #[test]
    fn destructive_commands_take_force_only() {
        assert_eq!(ok("hsm factoryreset -force"), Command::HsmFactoryReset);
        assert_eq!(
            refused("hsm factoryreset"),
            "hsm factoryreset destroys the HSM's roles, partition, label, counters and RPV; nothing was changed. \
             Run `hsm factoryreset -force` to go ahead."
        );
        assert_eq!(
            refused("hsm factoryreset -force -label x"),
            "-label is not an option of hsm factoryreset; usage: hsm factoryreset -force"
        );
        assert_eq!(refused("hsm factoryreset -force yes"), "unexpected `yes`; usage: hsm factoryreset -force");
        assert_eq!(ok("partition delete -force"), Command::PartitionDelete);
        assert_eq!(
            refused("partition delete"),
            "partition delete destroys the partition and its roles; nothing was changed. \
             Run `partition delete -force` to go ahead."
        );
        assert_eq!(
            refused("partition delete -label x"),
            "-label is not an option of partition delete; usage: partition delete -force"
        );
    }

    #[test]
    fn hsm_changepolicy_takes_policy_value_and_force() {
        assert_eq!(
            ok("hsm changepolicy -policy 15 -value 1"),
            Command::HsmChangePolicy { policy: 15, value: 1, force: false }
        );
        assert_eq!(
            ok("hsm changepolicy -policy 15 -value 1 -force"),
            Command::HsmChangePolicy { policy: 15, value: 1, force: true }
        );
        // Which policies and values exist is the HSM's to say.
        assert_eq!(
            ok("hsm changepolicy -policy 7 -value 9"),
            Command::HsmChangePolicy { policy: 7, value: 9, force: false }
        );
        assert_eq!(refused("hsm changepolicy -policy 15"), format!("-value is needed; usage: {HSM_CHANGEPOLICY}"));
        assert_eq!(
            refused("hsm changepolicy -policy x -value 1"),
            format!("-policy takes a number; usage: {HSM_CHANGEPOLICY}")
        );
        assert_eq!(
            refused("hsm changepolicy -policy 15 -value on"),
            format!("-value takes a number; usage: {HSM_CHANGEPOLICY}")
        );
        assert_eq!(
            refused("hsm changepolicy -policy 15 -value 1 -label x"),
            format!("-label is not an option of hsm changepolicy; usage: {HSM_CHANGEPOLICY}")
        );
    }

    #[test]
    fn partition_create_and_init() {
        assert_eq!(ok("partition create"), Command::PartitionCreate);
        assert_eq!(ok("partition init -label P"), Command::Ped(Request::PartitionInit { label: "P".into() }));
        assert_eq!(refused("partition init"), "-label is needed; usage: partition init -label <label>");
        assert_eq!(
            refused("partition create -label P"),
            "-label is not an option of partition create; usage: partition create"
        );
    }

    /// Seed 6643-6693: the Limited Crypto Officer's four commands.
    #[test]
    fn the_limited_crypto_officer_is_lco() {
        assert_eq!(ok("role init -name lco"), Command::Ped(Request::RoleInit(RoleName::Lco)));
        assert_eq!(ok("role login -name LCO"), Command::Ped(Request::Login(RoleName::Lco)));
        assert_eq!(ok("role changepw -n lco"), Command::Ped(Request::ChangePw(RoleName::Lco)));
        assert_eq!(ok("role resetpw -name lco"), Command::Ped(Request::ResetPw(RoleName::Lco)));
        assert_eq!(RoleName::Lco.role(), ped_proto::command::Role::LimitedCryptoOfficer);
    }

    #[test]
    fn role_commands_name_a_role_in_any_case() {
        assert_eq!(ok("role login -name so"), Command::Ped(Request::Login(RoleName::So)));
        assert_eq!(ok("role login -name PO"), Command::Ped(Request::Login(RoleName::Po)));
        assert_eq!(ok("role init -name co"), Command::Ped(Request::RoleInit(RoleName::Co)));
        assert_eq!(ok("role changepw -name cu"), Command::Ped(Request::ChangePw(RoleName::Cu)));
        assert_eq!(ok("role resetpw -name Au"), Command::Ped(Request::ResetPw(RoleName::Au)));
        assert_eq!(refused("role login"), format!("-name is needed; usage: {ROLE_LOGIN}"));
        assert_eq!(
            refused("role login -name admin"),
            format!("-name is one of so, po, co, lco, cu, au; usage: {ROLE_LOGIN}")
        );
        assert_eq!(
            refused("role init -name lc"),
            format!("-name is one of so, po, co, lco, cu, au; usage: {ROLE_INIT}")
        );
        assert_eq!(refused("role logout -name so"), COMMANDS);
    }

    /// Issue 14 item 12: `ped connect -ipp X` connected to the default address.
    #[test]
    fn unknown_options_are_refused_with_the_commands_usage() {
        assert_eq!(
            refused("ped connect -ipp 10.0.0.2"),
            format!("-ipp is not an option of ped connect; usage: {PED_CONNECT}")
        );
        assert_eq!(
            refused("ped set -ip a -verbose"),
            format!("-verbose is not an option of ped set; usage: {PED_SET}")
        );
        assert_eq!(
            refused("role login -name so -slot 0"),
            "-slot is not an option of role login; usage: role login -name so|po|co|lco|cu|au"
        );
        assert_eq!(refused("hsm init -label L -"), "- is not an option of hsm init; usage: hsm init -label <label>");
    }

    /// lunacm takes any unique beginning of an option's name (seed 3633, 4282:
    /// `role login -n so`); one that fits several is refused, naming them.
    #[test]
    fn options_may_be_abbreviated_while_unambiguous() {
        assert_eq!(ok("role login -n so"), Command::Ped(Request::Login(RoleName::So)));
        assert_eq!(ok("role changepw --na co"), Command::Ped(Request::ChangePw(RoleName::Co)));
        assert_eq!(ok("hsm init -l L"), Command::Ped(Request::HsmInit { label: "L".into() }));
        assert_eq!(
            ok("ped connect -i h -po 1600 -pa"),
            Command::PedConnect(Connect { ip: Some("h".into()), port: Some(1600), password: Some(Password::Generate) })
        );
        assert_eq!(
            ok("hsm changepolicy -p 15 -v 1 -f"),
            Command::HsmChangePolicy { policy: 15, value: 1, force: true }
        );
        assert_eq!(ok("hsm factoryreset -f"), Command::HsmFactoryReset);
        assert_eq!(refused("ped connect -p 1600"), format!("-p is ambiguous (-port, -password); usage: {PED_CONNECT}"));
    }

    #[test]
    fn unknown_words_list_the_commands() {
        assert_eq!(refused(""), COMMANDS);
        assert_eq!(refused("lunacm"), COMMANDS);
        assert_eq!(refused("PED show"), COMMANDS, "command words are lunacm's, in its case");
        assert!(COMMANDS.starts_with("commands: ped connect|disconnect|set|show|vector init, hsm init|"));
    }

    /// Seed 4286-4294: `Error in execution: CKR_PED_UNPLUGGED.` before the Command Result.
    #[test]
    fn a_failed_command_ends_as_lunacm_says_it() {
        let e = HsmError::ped_with(ped_proto::ErrorCode::CkrPedUnplugged, "the Remote PED link had ended");
        assert_eq!(
            result_lines(&Err(e)),
            [
                "Error in execution: CKR_PED_UNPLUGGED.",
                "the Remote PED link had ended",
                "Command Result : 0x8000002e (CKR_PED_UNPLUGGED)"
            ]
        );
        assert_eq!(result_lines(&Ok(())), ["Command Result : No Error"]);
    }

    #[test]
    fn the_so_caution_counts_down_the_attempts_left() {
        assert_eq!(
            so_login_caution(0),
            "Caution: You have only 3 so login attempts left. If you fail 3\n\
             more consecutive login attempts (i.e. with no successful\n\
             logins in between) the HSM will be ZEROIZED!!!"
        );
        assert!(so_login_caution(2).starts_with("Caution: You have only 1 so login attempts left. If you fail 1\n"));
        assert!(so_login_caution(7).starts_with("Caution: You have only 0 so login"), "never negative");
    }

    fn status<'a>(link: ShownLink<'a>) -> Status<'a> {
        Status {
            serial: "150001",
            label: Some("lab"),
            rpv: true,
            link,
            default_ip: None,
            default_port: 1503,
            so_failures: 1,
            up_time: Duration::from_millis(42_900),
        }
    }

    #[test]
    fn ped_show_tells_the_remote_link_by_the_address_asked_for_or_reached() {
        let reached = Remote { firmware: "2.9.0-1".into(), pedserver: "10.0.0.9:1503".into(), ped_initiated: false };
        let remote = |host, port| ped_show(&status(ShownLink::Remote { host, port, reached: &reached }))[3].clone();
        assert_eq!(remote("10.0.0.2", 1600), "Remote PED: connected to 10.0.0.2:1600, PED firmware 2.9.0-1");
        assert_eq!(remote("::1", 1503), "Remote PED: connected to [::1]:1503, PED firmware 2.9.0-1");
        assert_eq!(remote("", 1503), "Remote PED: connected to 10.0.0.9:1503, PED firmware 2.9.0-1");
        let initiated = Remote { ped_initiated: true, ..reached.clone() };
        let lines = ped_show(&status(ShownLink::Remote { host: "", port: 1503, reached: &initiated }));
        assert_eq!(
            lines,
            [
                "HSM serial: 150001",
                "HSM label: lab",
                "RPV initialized: Yes",
                "Remote PED: connected (PED-initiated from 10.0.0.9:1503), PED firmware 2.9.0-1",
                "Default Remote PED: (none):1503",
                "HSM SO failed logins: 1",
                "Up time: 42 (secs)",
            ]
        );
    }

    #[test]
    fn ped_show_tells_how_the_last_remote_link_ended_and_the_local_ped() {
        let shown = |last_end, local| ped_show(&status(ShownLink::NotRemote { last_end, local }))[3..5].to_vec();
        assert_eq!(shown(None, true), ["Local PED-USB: configured", "Default Remote PED: (none):1503"]);
        assert_eq!(
            shown(Some(&LinkEnd::Disconnected), false),
            ["Remote PED: not connected (ended by ped disconnect)", "Local PED-USB: not configured"]
        );
        assert_eq!(
            shown(Some(&LinkEnd::FactoryReset), true)[0],
            "Remote PED: not connected (ended by hsm factoryreset)"
        );
        let idle = LinkEnd::Failed(HsmError::ped_with(
            ped_proto::ErrorCode::RcOperationTimedOut,
            "remote PED link idle for 1800 s; run ped connect again",
        ));
        assert_eq!(
            shown(Some(&idle), true)[0],
            "Remote PED: not connected (the link ended: remote PED link idle for 1800 s; run ped connect again; \
             0xc0000303 RC_OPERATION_TIMED_OUT)"
        );
        let mut zeroised = status(ShownLink::NotRemote { last_end: None, local: false });
        zeroised.label = None;
        zeroised.rpv = false;
        assert_eq!(ped_show(&zeroised)[1..3], ["HSM label: (zeroised)", "RPV initialized: No"]);
    }
}
