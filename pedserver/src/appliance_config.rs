//! `-mode config -name NAME -show/-set`: one registered appliance's settings. Where its
//! pedclient listens is its own; each link setting is its own if it was set, else the
//! server's, and `-show` says which.
#![allow(clippy::print_stdout, reason = "this module is the command line's output")]

use std::process::ExitCode;

use ped_daemon::modes::{CommandConfig, ModeError};
use serde_json::json;

use crate::args::ApplianceChange;
use crate::cli::CliError;
use crate::config::{Appliance, Config, Paths};

/// How the seed's messages name pedserver.
const TITLE: &str = "Ped Server";

/// One setting as the link uses it.
struct Row {
    /// Its key in the configuration file.
    key: &'static str,
    /// Its value (shown as TOML writes it, which is JSON's spelling for these).
    value: serde_json::Value,
    /// The appliance's own (or else the server's).
    own: bool,
}

/// Every setting of `appliance`, with the server's where it has none of its own.
fn rows(appliance: &Appliance, server: &Config) -> Vec<Row> {
    let own = &appliance.link;
    let effective = own.over(server);
    let c = &effective.common;
    let row = |key, value, own| Row { key, value, own };
    vec![
        row("ip", json!(appliance.ip), true),
        row("port", json!(appliance.port), true),
        row("idle-timeout", json!(c.idle_timeout), own.idle_timeout.is_some()),
        row("socket-read-timeout", json!(c.socket_read_timeout), own.socket_read_timeout.is_some()),
        row("socket-write-timeout", json!(c.socket_write_timeout), own.socket_write_timeout.is_some()),
        row("ping-interval", json!(c.ping_interval), own.ping_interval.is_some()),
        row("ping-timeout", json!(c.ping_timeout), own.ping_timeout.is_some()),
        row("connect-retry-delay-ms", json!(effective.connect_retry_delay_ms), own.connect_retry_delay_ms.is_some()),
    ]
}

/// The keys `change` sets.
fn keys_set(change: &ApplianceChange) -> Vec<&'static str> {
    let l = &change.link;
    [
        ("ip", change.ip.is_some()),
        ("port", change.port.is_some()),
        ("idle-timeout", l.idle_timeout.is_some()),
        ("socket-read-timeout", l.socket_read_timeout.is_some()),
        ("socket-write-timeout", l.socket_write_timeout.is_some()),
        ("ping-interval", l.ping_interval.is_some()),
        ("ping-timeout", l.ping_timeout.is_some()),
        ("connect-retry-delay-ms", l.connect_retry_delay_ms.is_some()),
    ]
    .into_iter()
    .filter_map(|(key, given)| given.then_some(key))
    .collect()
}

/// `-mode config -name NAME -show`: the appliance's settings as TOML, each one the
/// server's marked so; with `-json`, an object whose `own` lists the appliance's own.
pub(crate) fn show(ctx: &CommandConfig<Config, Paths>, name: &str, json: bool) -> Result<ExitCode, CliError> {
    let server = &ctx.stored;
    let appliance = server.appliance(name)?;
    let rows = rows(appliance, server);
    if json {
        let mut object = json!({
            "name": appliance.name,
            "common-name": appliance.common_name,
            "fingerprint": appliance.fingerprint,
            "own": rows.iter().filter(|r| r.own).map(|r| r.key).collect::<Vec<_>>(),
        });
        for r in rows {
            object[r.key] = r.value;
        }
        println!("{}", serde_json::to_string_pretty(&object).map_err(ModeError::from)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{TITLE} launched in config mode.");
    println!("Configuration file: {}", ctx.file.display());
    println!("Appliance {name} (certificate common name {:?}):", appliance.common_name);
    for r in &rows {
        let whose = if r.own { "" } else { "  # the server's" };
        println!("{} = {}{whose}", r.key, r.value);
    }
    println!("Config command passed.");
    Ok(ExitCode::SUCCESS)
}

/// `-mode config -name NAME -set`: writes the settings given into the appliance's entry
/// (atomically, the rest of the file as it is now); an unknown name changes nothing.
pub(crate) fn set(
    ctx: &CommandConfig<Config, Paths>,
    name: &str,
    change: &ApplianceChange,
) -> Result<ExitCode, CliError> {
    println!("{TITLE} launched in config mode.");
    ctx.update(|config: &mut Config| {
        change.apply(config.appliance_mut(name)?);
        let appliance = config.appliance(name)?;
        let set = keys_set(change);
        let written: Vec<String> = rows(appliance, config)
            .into_iter()
            .filter(|r| set.contains(&r.key))
            .map(|r| format!("{} = {}", r.key, r.value))
            .collect();
        Ok::<_, CliError>(format!("Appliance {name}: {} written to {}", written.join(", "), ctx.file.display()))
    })?;
    println!("Config command passed.");
    Ok(ExitCode::SUCCESS)
}
