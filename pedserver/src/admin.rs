//! The admin port's protocol: one request line, one answer line, then close.
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

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

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

fn answer(result: Result<String, String>) -> String {
    match result {
        Ok(message) => format!("ok {message}"),
        Err(message) => format!("error {message}"),
    }
}

/// Sends one request and returns the answer line (client side, used by the command line).
pub fn request(addr: SocketAddr, line: &str, timeout: Duration) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(line.as_bytes())?;
    stream.write_all(b"\n")?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    if answer.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the admin port closed without answering"));
    }
    Ok(answer.trim_end().to_string())
}
