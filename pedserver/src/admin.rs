//! The admin port's requests: one request line, one answer line, then close (ped-daemon's
//! `admin` carries them and checks the admin token; this module says what they mean).
//!
//! | request | answer | token |
//! |---|---|---|
//! | `show` | the status report as one line of JSON | no |
//! | `stop` | `ok`, then the server shuts down | yes |
//! | `connect NAME` | `ok MESSAGE` once the link's relay session is up, or `error MESSAGE` | yes |
//! | `disconnect NAME` | `ok MESSAGE` once the link has ended, or `error MESSAGE` | yes |
//!
//! No request names a file: `connect` reads the appliance from the server's own
//! configuration file, the one it was started with, read again (bounded) at each request
//! so that an appliance registered after start is found; it answers only after the
//! attempts, up to 20, have succeeded or failed.

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
        "connect" => answer(server.connect_appliance(arg).await),
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
