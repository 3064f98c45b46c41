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
    Ok(match words.as_slice() {
        ["ped", "connect", rest @ ..] => Command::PedConnect(connect(rest)?),
        ["ped", "disconnect"] => Command::PedDisconnect,
        ["ped", "set", rest @ ..] => {
            let opts = Options::parse(rest, &[])?;
            let port = opts.port()?;
            let ip = opts.get("ip").map(str::to_owned);
            if ip.is_none() && port.is_none() {
                return Err(bad("ped set takes -ip and/or -port"));
            }
            Command::PedSet { ip, port }
        }
        ["ped", "show"] => Command::PedShow,
        ["ped", "vector", "init"] | ["ped", "vector"] => Command::Ped(Request::VectorInit),
        ["hsm", "init", rest @ ..] => {
            let label = Options::parse(rest, &[])?.get("label").ok_or_else(|| bad("hsm init needs -label"))?.into();
            Command::Ped(Request::HsmInit { label })
        }
        ["hsm", "factoryreset", rest @ ..] => {
            confirmed(rest, "hsm factoryreset", "the HSM's roles, partition, label, counters and RPV")?;
            Command::HsmFactoryReset
        }
        ["hsm", "changepolicy", rest @ ..] => {
            let opts = Options::parse(rest, &["force"])?;
            if let Some((name, _)) = opts.0.iter().find(|(n, _)| !["policy", "value", "force"].contains(n)) {
                return Err(bad(format!("hsm changepolicy takes -policy, -value and -force, not -{name}")));
            }
            let number = |name: &str| {
                opts.get(name)
                    .ok_or_else(|| bad("hsm changepolicy needs -policy P -value V"))?
                    .parse::<u32>()
                    .map_err(|_| bad(format!("-{name} takes a number")))
            };
            let (policy, value) = (number("policy")?, number("value")?);
            Command::HsmChangePolicy { policy, value, force: opts.get("force").is_some() }
        }
        ["partition", "create"] => Command::PartitionCreate,
        ["partition", "delete", rest @ ..] => {
            confirmed(rest, "partition delete", "the partition and its roles")?;
            Command::PartitionDelete
        }
        ["partition", "init", rest @ ..] => {
            let opts = Options::parse(rest, &[])?;
            let label = opts.get("label").ok_or_else(|| bad("partition init needs -label"))?.into();
            Command::Ped(Request::PartitionInit { label })
        }
        ["role", verb @ ("login" | "init" | "changepw" | "resetpw"), rest @ ..] => {
            let opts = Options::parse(rest, &[])?;
            let name = opts.get("name").ok_or_else(|| bad("the role command needs -name so|po|co|cu|au"))?;
            let role = RoleName::parse(name).ok_or_else(|| bad("-name is one of so, po, co, cu, au"))?;
            Command::Ped(match *verb {
                "login" => Request::Login(role),
                "init" => Request::RoleInit(role),
                "resetpw" => Request::ResetPw(role),
                _ => Request::ChangePw(role),
            })
        }
        _ => return Err(bad(COMMANDS)),
    })
}

fn connect(args: &[&str]) -> Result<Connect, HsmError> {
    let opts = Options::parse(args, &["password"])?;
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
fn confirmed(args: &[&str], command: &str, what: &str) -> Result<(), HsmError> {
    let opts = Options::parse(args, &["force"])?;
    if opts.0.iter().any(|(name, _)| *name != "force") {
        return Err(bad(format!("{command} takes -force only")));
    }
    if opts.get("force").is_none() {
        return Err(bad(format!(
            "{command} destroys {what}; nothing was changed. Run `{command} -force` to go ahead."
        )));
    }
    Ok(())
}

/// lunacm's `-name value` options; `flags_with_optional_value` may stand alone.
struct Options<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Options<'a> {
    fn parse(args: &[&'a str], flags_with_optional_value: &[&str]) -> Result<Self, HsmError> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let name = args[i]
                .strip_prefix('-')
                .map(|n| n.trim_start_matches('-'))
                .ok_or_else(|| bad(format!("unexpected `{}`", args[i])))?;
            match args.get(i + 1) {
                Some(value) if !value.starts_with('-') => {
                    out.push((name, *value));
                    i += 2;
                }
                _ if flags_with_optional_value.contains(&name) => {
                    out.push((name, ""));
                    i += 1;
                }
                _ => return Err(bad(format!("-{name} needs a value"))),
            }
        }
        Ok(Options(out))
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
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
/// failure the sentence that says what to do, then the result line. (`ped set`'s
/// success is [`PED_SET_DONE`].)
pub fn result_lines(result: &Result<(), HsmError>) -> Vec<String> {
    match result {
        Ok(()) => vec!["Command Result : No Error".into()],
        Err(e) => vec![e.detail.clone(), e.result_line()],
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
        assert_eq!(refused("ped connect 10.0.0.2"), "unexpected `10.0.0.2`");
    }

    #[test]
    fn ped_disconnect_show_and_set() {
        assert_eq!(ok("ped disconnect"), Command::PedDisconnect);
        assert_eq!(ok("ped show"), Command::PedShow);
        assert_eq!(ok("ped set -ip a.example"), Command::PedSet { ip: Some("a.example".into()), port: None });
        assert_eq!(ok("ped set -port 1600"), Command::PedSet { ip: None, port: Some(1600) });
        assert_eq!(ok("ped set -ip a -port 2"), Command::PedSet { ip: Some("a".into()), port: Some(2) });
        assert_eq!(refused("ped set"), "ped set takes -ip and/or -port");
        assert_eq!(refused("ped set -port abc"), "-port takes a number 1-65535");
        assert_eq!(refused("ped disconnect -now"), COMMANDS, "ped disconnect takes nothing");
        assert_eq!(refused("ped show all"), COMMANDS);
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
        assert_eq!(refused("hsm init"), "hsm init needs -label");
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
        assert_eq!(refused("hsm factoryreset -force -label x"), "hsm factoryreset takes -force only");
        assert_eq!(ok("partition delete -force"), Command::PartitionDelete);
        assert_eq!(
            refused("partition delete"),
            "partition delete destroys the partition and its roles; nothing was changed. \
             Run `partition delete -force` to go ahead."
        );
        assert_eq!(refused("partition delete -label x"), "partition delete takes -force only");
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
        assert_eq!(refused("hsm changepolicy -policy 15"), "hsm changepolicy needs -policy P -value V");
        assert_eq!(refused("hsm changepolicy -policy x -value 1"), "-policy takes a number");
        assert_eq!(refused("hsm changepolicy -policy 15 -value on"), "-value takes a number");
        assert_eq!(
            refused("hsm changepolicy -policy 15 -value 1 -label x"),
            "hsm changepolicy takes -policy, -value and -force, not -label"
        );
    }

    #[test]
    fn partition_create_and_init() {
        assert_eq!(ok("partition create"), Command::PartitionCreate);
        assert_eq!(ok("partition init -label P"), Command::Ped(Request::PartitionInit { label: "P".into() }));
        assert_eq!(refused("partition init"), "partition init needs -label");
        assert_eq!(refused("partition create -label P"), COMMANDS);
    }

    #[test]
    fn role_commands_name_a_role_in_any_case() {
        assert_eq!(ok("role login -name so"), Command::Ped(Request::Login(RoleName::So)));
        assert_eq!(ok("role login -name PO"), Command::Ped(Request::Login(RoleName::Po)));
        assert_eq!(ok("role init -name co"), Command::Ped(Request::RoleInit(RoleName::Co)));
        assert_eq!(ok("role changepw -name cu"), Command::Ped(Request::ChangePw(RoleName::Cu)));
        assert_eq!(ok("role resetpw -name Au"), Command::Ped(Request::ResetPw(RoleName::Au)));
        assert_eq!(refused("role login"), "the role command needs -name so|po|co|cu|au");
        assert_eq!(refused("role login -name admin"), "-name is one of so, po, co, cu, au");
        assert_eq!(refused("role logout -name so"), COMMANDS);
    }

    #[test]
    fn unknown_words_list_the_commands() {
        assert_eq!(refused(""), COMMANDS);
        assert_eq!(refused("lunacm"), COMMANDS);
        assert_eq!(refused("PED show"), COMMANDS, "command words are lunacm's, in its case");
        assert!(COMMANDS.starts_with("commands: ped connect|disconnect|set|show|vector init, hsm init|"));
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
