//! PED-initiated mode as a process: -regen, -appliance register/list/delete, and
//! -mode connect/disconnect against a test peer that plays an appliance's pedclient with
//! the same pinned rustls configuration helpers (`pedserver::tls::server_config`).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use common::*;
use ped_wire::frame::{self, Frame, FrameType, HEADER_LEN};
use ped_wire::relay::{RELAY_VERSION, RelayMessage, RelayRole};
use pedserver::tls::{self, GeneratedIdentity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn with_config(config: &Path, args: &[&str]) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend(["-configfile", config.to_str().unwrap()]);
    pedserver(&all)
}

fn cert_dir(config: &Path) -> PathBuf {
    config.parent().unwrap().join("cert")
}

/// The appliance's identity, with its certificate written to `dir/NAME.pem`.
fn appliance(dir: &Path, cn: &str) -> (GeneratedIdentity, PathBuf) {
    let generated = GeneratedIdentity::new(cn).unwrap();
    let path = dir.join(format!("{cn}.pem"));
    std::fs::write(&path, &generated.cert_pem).unwrap();
    (generated, path)
}

fn human_fingerprint(generated: &GeneratedIdentity) -> String {
    tls::fingerprint_for_humans(&tls::fingerprint(&generated.identity().unwrap().cert))
}

#[test]
fn regen_register_list_delete() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pedserver.toml");

    let o = with_config(&config, &["-regen", "-commonname", "laptop"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let (cert, key) = tls::client_files(&cert_dir(&config), "laptop");
    assert!(out.contains(&format!("Private Key created and written to: {}", key.display())), "{out}");
    assert!(out.contains(&format!("Certificate created and written to: {}", cert.display())), "{out}");
    assert!(out.contains("Successfully regenerated the client certificate."));
    let ours = tls::read_certificate(&cert).unwrap();
    let fp = tls::fingerprint_for_humans(&tls::fingerprint(&ours));
    assert!(out.contains(&format!("Certificate SHA-256 fingerprint: {fp}")), "{out}");
    assert_eq!(tls::common_name(&ours), "laptop");
    for file in [&cert, &key] {
        assert_eq!(std::fs::metadata(file).unwrap().permissions().mode() & 0o777, 0o600, "{}", file.display());
    }
    assert_eq!(std::fs::metadata(cert_dir(&config)).unwrap().permissions().mode() & 0o777, 0o700);
    assert!(std::fs::read_to_string(&config).unwrap().contains("client-common-name = \"laptop\""));

    // Replacing it needs -force: the appliances registered the old one.
    let o = with_config(&config, &["-regen", "-commonname", "laptop2"]);
    assert!(!o.status.success() && text(&o).contains("-force"), "{}", text(&o));
    let o = with_config(&config, &["-regen", "-commonname", "laptop2", "-force"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!cert.exists() && !key.exists(), "the old pair is removed");
    assert!(tls::client_files(&cert_dir(&config), "laptop2").1.exists());

    let (a, a_file) = appliance(dir.path(), "test2");
    let (_, b_file) = appliance(dir.path(), "test1");
    let reg = |name: &str, file: &Path, extra: &[&str]| {
        let mut args = vec!["-appliance", "register", "-name", name, "-certificate", file.to_str().unwrap()];
        args.extend(extra);
        with_config(&config, &args)
    };
    let o = reg("abox", &a_file, &["-ip", "192.20.1.23", "-port", "9697"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains(&format!("Certificate SHA-256 fingerprint: {}", human_fingerprint(&a))), "{out}");
    assert!(out.contains("common name \"test2\""), "{out}");
    assert!(reg("bbox", &b_file, &["-ip", "192.20.12.34"]).status.success());
    let again = reg("abox", &b_file, &["-ip", "10.0.0.1"]);
    assert!(!again.status.success() && text(&again).contains("already registered"), "{}", text(&again));
    let bad = reg("cbox", &config, &["-ip", "10.0.0.1"]);
    assert!(!bad.status.success() && text(&bad).contains("certificate"), "{}", text(&bad));
    let bad_name = reg("../x", &a_file, &["-ip", "10.0.0.1"]);
    assert!(!bad_name.status.success(), "{}", text(&bad_name));

    let o = with_config(&config, &["-appliance", "list"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let lines: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(lines[0], "Server Name   IP Address     Port Number   Certificate Common Name", "{out}");
    assert!(lines[1].starts_with("-----------   ------------   -----------   -----------------------"), "{out}");
    assert_eq!(lines[2], "abox          192.20.1.23    9697          test2");
    assert_eq!(lines[3], "bbox          192.20.12.34   9696          test1");

    let o = with_config(&config, &["-appliance", "delete", "-name", "abox"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!tls::appliance_file(&cert_dir(&config), "abox").exists());
    let out = text(&with_config(&config, &["appliance", "list"]));
    assert!(!out.contains("abox") && out.contains("bbox"), "{out}");
    let o = with_config(&config, &["-appliance", "delete", "-name", "abox"]);
    assert!(!o.status.success() && text(&o).contains("no appliance named"), "{}", text(&o));
}

/// What the test peer saw.
type PeerResult = Result<Vec<RelayMessage>, String>;

/// An appliance's pedclient: accepts one TLS connection with the pinned configuration,
/// exchanges hellos, sends `records` records and checks their echo from the fake PED,
/// tells `ready`, then collects relay messages until the end of the stream.
fn peer(
    listener: std::net::TcpListener,
    config: Arc<rustls::ServerConfig>,
    records: usize,
) -> (mpsc::Receiver<()>, JoinHandle<PeerResult>) {
    let (ready_tx, ready) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
            let mut tls = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await.map_err(|e| e.to_string())?;
            let hello = read_frame(&mut tls).await.ok_or("no hello")?;
            match RelayMessage::decode(Frame::decode_exact(&hello).unwrap()).unwrap() {
                RelayMessage::Hello { role: RelayRole::Server, .. } => {}
                other => return Err(format!("expected the server's hello, got {other:?}")),
            }
            let ours = RelayMessage::Hello { version: RELAY_VERSION, role: RelayRole::Client, software: "test".into() };
            tls.write_all(&ours.encode().unwrap()).await.map_err(|e| e.to_string())?;
            for i in 0..records {
                let record = frame::encode(FrameType::Record, format!("record {i} over TLS").as_bytes());
                tls.write_all(&record).await.map_err(|e| e.to_string())?;
                let echo = read_frame(&mut tls).await.ok_or("no echo")?;
                if echo != record {
                    return Err(format!("echo {echo:?} differs from {record:?}"));
                }
            }
            let _ = ready_tx.send(());
            let mut seen = Vec::new();
            while let Some(f) = read_frame(&mut tls).await {
                seen.push(RelayMessage::decode(Frame::decode_exact(&f).unwrap()).unwrap());
            }
            Ok(seen)
        })
    });
    (ready, thread)
}

async fn read_frame<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Option<Vec<u8>> {
    let mut f = vec![0u8; HEADER_LEN];
    s.read_exact(&mut f).await.ok()?;
    let len = u32::from_be_bytes(f[4..8].try_into().unwrap()) as usize;
    f.resize(HEADER_LEN + len, 0);
    s.read_exact(&mut f[HEADER_LEN..]).await.ok()?;
    Some(f)
}

/// A running pedserver with a fake PED, a client certificate and the appliance `abox`
/// registered at a free port.
struct Rig {
    _ped: FakePed,
    server: PedServer,
    appliance: GeneratedIdentity,
    port: u16,
}

impl Rig {
    fn new(ped_dir: &Path) -> Rig {
        let ped = FakePed::new(ped_dir);
        let server = PedServer::start(&ped.spec(), &["-connectretrydelay", "200", "-socketreadtimeout", "3"]);
        server.wait_for("the PED", |v| v["ped"]["connected"] == true);
        let o = with_config(&server.config, &["-regen", "-commonname", "laptop"]);
        assert!(o.status.success(), "{}", text(&o));
        let (appliance, file) = appliance(server.dir.path(), "appliance");
        let port = free_port();
        let o = with_config(
            &server.config,
            &["-appliance", "register", "-name", "abox", "-certificate", file.to_str().unwrap(), "-ip", "127.0.0.1"]
                .into_iter()
                .chain(["-port", &port.to_string()])
                .collect::<Vec<_>>(),
        );
        assert!(o.status.success(), "{}", text(&o));
        Rig { _ped: ped, server, appliance, port }
    }

    fn our_cert(&self) -> rustls_pki_types::CertificateDer<'static> {
        tls::read_certificate(&tls::client_files(&cert_dir(&self.server.config), "laptop").0).unwrap()
    }

    /// The peer's configuration: presents `identity`, accepts only `client`.
    fn peer_config(
        identity: &GeneratedIdentity,
        client: rustls_pki_types::CertificateDer<'static>,
    ) -> Arc<rustls::ServerConfig> {
        tls::server_config(&identity.identity().unwrap(), client).unwrap()
    }

    fn listener(&self) -> std::net::TcpListener {
        std::net::TcpListener::bind(("127.0.0.1", self.port)).unwrap()
    }

    fn run(&self, mode: &str, name: &str) -> std::process::Output {
        self.server.run(mode, &["-name", name])
    }

    /// `-appliance ...` aimed at this server's configuration file and admin port.
    fn appliance_cmd(&self, args: &[&str]) -> std::process::Output {
        let common = self.server.common();
        pedserver(&[args, &common.iter().map(String::as_str).collect::<Vec<_>>()[..]].concat())
    }
}

#[test]
fn connect_relays_to_the_ped_shows_and_disconnects() {
    let dir = tempfile::tempdir().unwrap();
    let rig = Rig::new(dir.path());
    let (ready, peer) = peer(rig.listener(), Rig::peer_config(&rig.appliance, rig.our_cert()), 3);

    let o = rig.run("connect", "abox");
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains(&format!("Connecting to appliance abox (127.0.0.1:{}). Please wait....", rig.port)), "{out}");
    assert!(out.contains("Successfully connected to appliance abox"), "{out}");
    ready.recv_timeout(std::time::Duration::from_secs(10)).expect("records relayed through the fake PED");

    rig.server.wait_for("the link", |v| v["appliance_link"]["connected"] == true);
    let v = rig.server.show();
    assert_eq!(v["appliance_link"]["name"], "abox");
    assert_eq!(v["client"]["software"], "test");
    let shown = text(&rig.server.run("show", &[]));
    assert!(
        shown.contains(&format!("Appliance Link:             abox (127.0.0.1:{}), connected", rig.port)),
        "{shown}"
    );
    // The PED is taken: an inbound pedclient is refused, a second link too.
    assert_eq!(Client::raw(rig.server.port).relay(), RelayMessage::Busy);
    let o = rig.run("connect", "abox");
    assert!(!o.status.success() && text(&o).contains("already linked"), "{}", text(&o));
    // Deleting a connected appliance needs -force.
    let o = rig.appliance_cmd(&["-appliance", "delete", "-name", "abox"]);
    assert!(!o.status.success() && text(&o).contains("is connected"), "{}", text(&o));

    let o = rig.run("disconnect", "abox");
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Connection to appliance abox terminated."));
    let seen = peer.join().unwrap().unwrap();
    assert_eq!(seen, [RelayMessage::Bye], "the pedclient is told Bye, then the stream ends");
    rig.server.wait_for("the link to end", |v| v["appliance_link"].is_null() && v["client"].is_null());
    let o = rig.run("disconnect", "abox");
    assert!(!o.status.success() && text(&o).contains("not connected"), "{}", text(&o));
    // The PED is free again for an inbound pedclient.
    rig.server.connect().echo(b"inbound again");
}

#[test]
fn a_peer_with_another_certificate_is_refused_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let rig = Rig::new(dir.path());

    // The appliance presents a certificate other than the registered one: pedserver refuses.
    let impostor = GeneratedIdentity::new("appliance").unwrap();
    let (_, peer_a) = peer(rig.listener(), Rig::peer_config(&impostor, rig.our_cert()), 0);
    let o = rig.run("connect", "abox");
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("TLS handshake refused") && out.contains("fingerprint"), "{out}");
    assert!(peer_a.join().unwrap().is_err(), "the impostor got no session");
    assert!(!rig.server.log().contains("attempt 2 of"), "a certificate mismatch is not retried");

    // The appliance pins another client certificate: it refuses pedserver.
    let stranger = GeneratedIdentity::new("laptop").unwrap().identity().unwrap().cert;
    let (_, peer_b) = peer(rig.listener(), Rig::peer_config(&rig.appliance, stranger), 0);
    let o = rig.run("connect", "abox");
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("before its relay hello"), "{out}");
    let refused = peer_b.join().unwrap().unwrap_err();
    assert!(refused.contains("fingerprint") || refused.contains("certificate"), "{refused}");

    let v = rig.server.show();
    assert!(v["appliance_link"].is_null() && v["client"].is_null(), "{v}");
}

#[test]
fn connect_retries_until_the_peer_is_up_and_delete_force_disconnects() {
    let dir = tempfile::tempdir().unwrap();
    let rig = Rig::new(dir.path());
    let mut args = vec!["-mode".to_string(), "connect".into(), "-name".into(), "abox".into()];
    args.extend(rig.server.common());
    let connect = Command::new(env!("CARGO_BIN_EXE_pedserver"))
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(rig.server.log_has("attempt 2 of 20 failed"), "{}", rig.server.log());
    let v = rig.server.show();
    assert!(v["appliance_link"]["state"].as_str().unwrap().starts_with("connecting, attempt"), "{v}");
    let (ready, peer) = peer(rig.listener(), Rig::peer_config(&rig.appliance, rig.our_cert()), 1);
    let o = connect.wait_with_output().unwrap();
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let attempts: u32 = out.split(" after ").nth(1).and_then(|r| r.split(' ').next()).unwrap().parse().unwrap();
    assert!(attempts >= 3, "{out}");
    ready.recv_timeout(std::time::Duration::from_secs(10)).unwrap();

    let o = rig.appliance_cmd(&["-appliance", "delete", "-name", "abox", "-force"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("Connection to appliance abox terminated.") && out.contains("Appliance abox deleted."));
    assert_eq!(peer.join().unwrap().unwrap(), [RelayMessage::Bye]);
    let o = rig.run("connect", "abox");
    assert!(!o.status.success() && text(&o).contains("no appliance named"), "{}", text(&o));
}

#[test]
fn connect_gives_up_after_twenty_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &["-connectretrydelay", "10"]);
    assert!(with_config(&server.config, &["-regen", "-commonname", "laptop"]).status.success());
    let (_, file) = appliance(server.dir.path(), "appliance");
    let port = free_port().to_string();
    let register = ["-appliance", "register", "-name", "nobody", "-certificate", file.to_str().unwrap()];
    let o = with_config(&server.config, &[&register[..], &["-ip", "127.0.0.1", "-port", &port]].concat());
    assert!(o.status.success(), "{}", text(&o));
    let o = server.run("connect", &["-name", "nobody"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("after 20 attempts"), "{out}");
    assert!(server.show()["appliance_link"].is_null());
}
