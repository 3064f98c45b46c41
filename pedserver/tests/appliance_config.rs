//! `-mode config -name NAME -show/-set` as a process, on a temporary configuration file:
//! an appliance's own link settings are stored and shown, an unknown name or a value out
//! of range changes nothing, and `-mode connect` runs the link with the appliance's
//! settings rather than the server's.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use common::*;
use ped_wire::frame::{Frame, HEADER_LEN};
use ped_wire::relay::{RELAY_VERSION, RelayMessage, RelayRole};
use pedserver::tls::{self, GeneratedIdentity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn with_config(config: &Path, args: &[&str]) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend(["-configfile", config.to_str().unwrap()]);
    pedserver(&all)
}

/// Registers `name` at 127.0.0.1:`port` in `config`, its certificate written beside it.
fn register(config: &Path, name: &str, port: u16) -> GeneratedIdentity {
    let identity = GeneratedIdentity::new(name).unwrap();
    let file = config.parent().unwrap().join(format!("{name}.pem"));
    std::fs::write(&file, &identity.cert_pem).unwrap();
    let port = port.to_string();
    let args = ["-appliance", "register", "-name", name, "-certificate", file.to_str().unwrap(), "-ip", "127.0.0.1"];
    let o = with_config(config, &[&args[..], &["-port", &port]].concat());
    assert!(o.status.success(), "{}", text(&o));
    identity
}

/// A configuration file with the appliances `abox` (port 9697) and `bbox` (9698).
fn two_appliances(dir: &Path) -> PathBuf {
    let config = dir.join("pedserver.toml");
    register(&config, "abox", 9697);
    register(&config, "bbox", 9698);
    config
}

#[test]
fn set_then_show_an_appliances_own_settings() {
    let dir = tempfile::tempdir().unwrap();
    let config = two_appliances(dir.path());

    let set = ["-mode", "config", "-name", "abox", "-set", "-idletimeout", "600", "-port", "9700"];
    let o = with_config(&config, &[&set[..], &["-connectretrydelay", "50"]].concat());
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let written = "Appliance abox: port = 9700, idle-timeout = 600, connect-retry-delay-ms = 50 written to";
    assert!(out.contains(&format!("{written} {}", config.display())), "{out}");
    let file = std::fs::read_to_string(&config).unwrap();
    let abox = file.split("[[appliance]]").nth(1).unwrap();
    assert!(abox.contains("port = 9700\n") && abox.contains("idle-timeout = 600\n"), "{file}");
    assert!(abox.contains("connect-retry-delay-ms = 50\n") && !abox.contains("ping-interval"), "{file}");
    let bbox = file.split("[[appliance]]").nth(2).unwrap();
    assert!(!bbox.contains("idle-timeout") && bbox.contains("port = 9698\n"), "bbox untouched: {file}");

    // The server's settings show through where the appliance has none; the seed's
    // spelling and a fraction.
    let o = with_config(&config, &["-mode", "config", "-set", "-socketreadtimeout", "4"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = with_config(&config, &["mode", "config", "-name", "abox", "-set", "-pingtimeout", "0.5"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = with_config(&config, &["-mode", "config", "-name", "abox", "-show"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let expected = "\
Appliance abox (certificate common name \"abox\"):
ip = \"127.0.0.1\"
port = 9700
idle-timeout = 600
socket-read-timeout = 4  # the server's
socket-write-timeout = 10  # the server's
ping-interval = 60  # the server's
ping-timeout = 0.5
connect-retry-delay-ms = 50
Config command passed.
";
    assert!(out.ends_with(expected), "{out}");

    let o = with_config(&config, &["-mode", "config", "-name", "bbox", "-show", "-json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["name"].as_str(), v["ip"].as_str()), (Some("bbox"), Some("127.0.0.1")));
    assert_eq!((v["port"].as_u64(), v["idle-timeout"].as_u64()), (Some(9698), Some(1800)));
    assert_eq!(v["socket-read-timeout"].as_u64(), Some(4));
    assert_eq!(v["own"], serde_json::json!(["ip", "port"]));

    // The whole file's -show has the appliance's keys too; the list has its new port.
    let o = with_config(&config, &["-mode", "config", "-show"]);
    assert!(text(&o).contains("idle-timeout = 600\n"), "{}", text(&o));
    let o = with_config(&config, &["-appliance", "list"]);
    assert!(text(&o).contains("abox          127.0.0.1    9700"), "{}", text(&o));
}

#[test]
fn an_unknown_name_is_refused_with_the_registered_ones() {
    let dir = tempfile::tempdir().unwrap();
    let config = two_appliances(dir.path());
    let before = std::fs::read(&config).unwrap();
    let listed = "no appliance named \"cbox\" is registered; the registered ones are \"abox\", \"bbox\" (pedserver \
-appliance list)";
    for args in [&["-set", "-idletimeout", "60"][..], &["-show"], &["-show", "-json"]] {
        let o = with_config(&config, &[&["-mode", "config", "-name", "cbox"], args].concat());
        let out = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {out}");
        assert!(out.contains(&format!("Error: {listed}")), "{args:?}: {out}");
        assert!(!out.contains("Config command passed"), "{out}");
        assert_eq!(std::fs::read(&config).unwrap(), before, "{args:?} changed nothing");
    }
    let o = with_config(&config, &["-mode", "connect", "-name", "cbox"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains(listed), "{}", text(&o));

    let empty = dir.path().join("empty.toml");
    let o = with_config(&empty, &["-mode", "config", "-name", "abox", "-set", "-port", "9000"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let none = "no appliance named \"abox\" is registered; none is (pedserver -appliance register";
    assert!(text(&o).contains(none), "{}", text(&o));
    assert!(!empty.exists(), "nothing written");
}

#[test]
fn values_out_of_range_and_server_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = two_appliances(dir.path());
    let before = std::fs::read(&config).unwrap();
    let refused = |args: &[&str], says: &str| {
        let o = with_config(&config, &[&["-mode", "config", "-name", "abox"], args].concat());
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}");
        assert!(out.contains(says), "{args:?}: {out}");
        assert_eq!(std::fs::read(&config).unwrap(), before, "{args:?} changed nothing");
    };
    refused(&["-set", "-idletimeout", "0"], "`0` is not a number of seconds");
    refused(&["-set", "-pingtimeout", "-1"], "-1");
    refused(&["-set", "-port", "0"], "`0` is not a port number (1-65535)");
    refused(&["-set", "-port", "70000"], "`70000` is not a port number (1-65535)");
    refused(&["-set", "-ip", "300.1.1.1"], "300.1.1.1");
    refused(&["-set", "-connectretrydelay", "soon"], "soon");
    refused(
        &["-set", "-admin", "1600", "-pedwritelay", "5"],
        "-admin, -pedwritelay are settings of the server, not of an appliance: set them with -mode config -set, without -name",
    );
    refused(&["-set"], "-mode config -name NAME -set needs a setting");
    refused(&["-show", "-port", "9000"], "takes no settings; give them with -set");

    // A value out of range written into the file by hand is refused when it is read.
    let edited = String::from_utf8(before).unwrap().replacen("port = 9697\n", "port = 9697\nidle-timeout = 0\n", 1);
    std::fs::write(&config, edited).unwrap();
    let o = with_config(&config, &["-mode", "config", "-name", "abox", "-show"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains(&config.display().to_string()), "{}", text(&o));
}

/// An appliance's pedclient: accepts one pinned TLS connection, exchanges the relay
/// hellos, then says nothing and reports when pedserver ends the stream.
fn quiet_peer(
    listener: std::net::TcpListener,
    config: Arc<rustls::ServerConfig>,
) -> mpsc::Receiver<Result<(), String>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let ended = rt.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
            let mut tls = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await.map_err(|e| e.to_string())?;
            let mut hello = vec![0u8; HEADER_LEN];
            tls.read_exact(&mut hello).await.map_err(|e| e.to_string())?;
            let len = u32::from_be_bytes(hello[4..8].try_into().unwrap()) as usize;
            hello.resize(HEADER_LEN + len, 0);
            tls.read_exact(&mut hello[HEADER_LEN..]).await.map_err(|e| e.to_string())?;
            match RelayMessage::decode(Frame::decode_exact(&hello).unwrap()).unwrap() {
                RelayMessage::Hello { role: RelayRole::Server, .. } => {}
                other => return Err(format!("expected the server's hello, got {other:?}")),
            }
            let ours = RelayMessage::Hello { version: RELAY_VERSION, role: RelayRole::Client, software: "test".into() };
            tls.write_all(&ours.encode().unwrap()).await.map_err(|e| e.to_string())?;
            let mut rest = Vec::new();
            let _ = tls.read_to_end(&mut rest).await;
            Ok(())
        });
        let _ = tx.send(ended);
    });
    rx
}

#[test]
fn connect_runs_the_link_with_the_appliances_settings() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    // The server's own settings hold a quiet link for 30 minutes and wait 3 s between
    // attempts.
    let server = PedServer::start(&ped.spec(), &[]);
    server.wait_for("the PED", |v| v["ped"]["connected"] == true);
    assert!(with_config(&server.config, &["-regen", "-commonname", "laptop"]).status.success());
    let port = free_port();
    let appliance = register(&server.config, "abox", port);
    let o = with_config(&server.config, &["-mode", "config", "-name", "abox", "-set", "-idletimeout", "0.2"]);
    assert!(o.status.success(), "{}", text(&o));

    let ours = tls::read_certificate(&tls::client_files(&server.dir.path().join("cert"), "laptop").0).unwrap();
    let peer_config = tls::server_config(&appliance.identity().unwrap(), ours).unwrap();
    let ended = quiet_peer(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap(), peer_config);
    let o = server.run("connect", &["-name", "abox"]);
    assert!(o.status.success(), "{}", text(&o));
    // pedserver closes the quiet link after the appliance's 0.2 s, not the server's 1800 s.
    ended.recv_timeout(Duration::from_secs(10)).expect("the link ends").unwrap();
    assert!(server.log_has(&format!("closed appliance abox (127.0.0.1:{port}): idle timeout")), "{}", server.log());
    server.wait_for("the link to end", |v| v["appliance_link"].is_null());

    // Nobody listens: 20 attempts 10 ms apart, each given 0.2 s, not 3 s apart.
    let nobody = free_port();
    register(&server.config, "nobody", nobody);
    let set = ["-mode", "config", "-name", "nobody", "-set", "-connectretrydelay", "10", "-socketreadtimeout", "0.2"];
    assert!(with_config(&server.config, &set).status.success());
    let t0 = Instant::now();
    let o = server.run("connect", &["-name", "nobody"]);
    let out = text(&o);
    assert!(!o.status.success() && out.contains("after 20 attempts"), "{out}");
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}: the server's 3 s delay was used", t0.elapsed());
}
