//! The admin port's requests: one request line, one answer line, then close (ped-daemon's
//! `admin` carries them; this module says what they mean).
//!
//! | request | answer |
//! |---|---|
//! | `show` | the status report as one line of JSON |
//! | `stop` | `ok`, then the server shuts down |
//! | `connect NAME CONFIGFILE` | `ok MESSAGE` once the link's relay session is up, or `error MESSAGE` |
//! | `disconnect NAME` | `ok MESSAGE` once the link has ended, or `error MESSAGE` |
//!
//! `connect` reads the appliance from the configuration file the command line names (an
//! appliance registered after start is found), and answers only after the attempts, up
//! to 20, have succeeded or failed.
//!
//! The admin port listens on localhost unless `-eadmin 1`: anyone who can reach it can
//! stop the server, as in the original, so it should stay local.

use std::sync::Arc;

use crate::outbound::LinkError;
use crate::server::Server;

/// Answers one request (server side).
pub(crate) async fn handle(server: &Arc<Server>, line: &str) -> String {
    let (verb, arg) = line.split_once(' ').map_or((line, ""), |(v, a)| (v, a.trim()));
    match verb {
        "show" => serde_json::to_string(&server.report()).unwrap_or_else(|e| format!("error {e}")),
        "stop" => {
            tracing::info!("stop requested on the admin port");
            server.stop();
            "ok".into()
        }
        "connect" => {
            let (name, config_file) = arg.split_once(' ').unwrap_or((arg, ""));
            answer(server.connect_appliance(name, std::path::Path::new(config_file.trim())).await)
        }
        "disconnect" => answer(server.disconnect_appliance(arg).await),
        _ => {
            tracing::warn!("unknown admin request {verb:?} {arg:?}");
            format!("error unknown request {verb:?}")
        }
    }
}

fn answer(result: Result<String, LinkError>) -> String {
    match result {
        Ok(message) => format!("ok {message}"),
        Err(message) => format!("error {message}"),
    }
}
