//! pedserver as a process, against a fake PED on the emulated USB endpoint.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use ped_wire::ErrorCode;
use ped_wire::frame::{self, FrameType};
use ped_wire::relay::{RELAY_VERSION, RelayMessage, RelayRole};

#[test]
fn start_show_stop_and_double_start() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &[]);
    server.wait_for("the PED's info", |v| v["ped"]["firmware_version"] == "2.9.0");

    let o = server.run("show", &[]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    for needle in [
        "Ped Server launched in status mode.",
        "Firmware Version:           2.9.0",
        "Ped2 Connection Status:     Connected",
        "Ped2 RPK Count              1",
        "(1a123456789a1234)",
        "Client Information:           Not Available",
        &format!("Server Port:                {}", server.port),
        "External Server Interface:  No",
        "Idle Timeout Value:         1800 (secs)",
        "Show command passed.",
    ] {
        assert!(out.contains(needle), "{needle:?} missing:\n{out}");
    }
    let v = server.show();
    assert_eq!(v["admin_port"], server.admin);
    assert_eq!(v["ped"]["protocol_versions"][0], 1);
    assert_eq!(v["pid"], server.pid());

    let again = server.run("start", &["-device", &ped.spec()]);
    assert!(!again.status.success());
    assert!(text(&again).contains("already running"), "{}", text(&again));

    let stop = server.run("stop", &[]);
    assert!(stop.status.success(), "{}", text(&stop));
    assert!(text(&stop).contains("Ped Server stopped."));
    let gone = server.run("show", &[]);
    assert!(!gone.status.success() && text(&gone).contains("not running"));
    // Restart on the same ports works (nothing left behind by stop, unlike the seed's VPN case).
    let o = server.run("start", &["-device", &ped.spec()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Background process started"));
}

#[test]
fn a_refused_client_that_writes_before_it_reads_gets_busy_not_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &[]);
    server.wait_for("the PED", |v| v["ped"]["connected"] == true);
    let _first = server.connect();
    server.wait_for("the client", |v| v["client"]["software"] == "test");
    // pedclient sends its hello and its status request without waiting for the server: a
    // refusal that closed with them unread (or arriving) would reset the connection, its
    // next write would fail, and pedclient would report a cut link instead of "busy".
    let hello = RelayMessage::Hello { version: RELAY_VERSION, role: RelayRole::Client, software: "late".into() };
    for _ in 0..5 {
        let mut late = Client::raw(server.port);
        late.send(&hello.encode().unwrap());
        // The refusal is over by now: the admin port answers after the accept was handled.
        server.wait_for("the first client", |v| v["client"]["software"] == "test");
        let status = RelayMessage::StatusRequest.encode().unwrap();
        assert!(late.stream.write_all(&status).is_ok(), "the refused connection was reset");
        assert_eq!(late.relay(), RelayMessage::Busy);
        assert_eq!(late.frame(), None, "closed after Busy");
    }
}

#[test]
fn a_second_client_is_refused_busy_and_the_first_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &[]);
    server.wait_for("the PED", |v| v["ped"]["connected"] == true);
    let mut first = server.connect();
    first.echo(b"first record");
    server.wait_for("the client", |v| v["client"]["software"] == "test");

    let mut second = Client::raw(server.port);
    assert_eq!(second.relay(), RelayMessage::Busy);
    assert_eq!(second.frame(), None, "closed after Busy");

    first.echo(b"still relaying");
    first.send(&RelayMessage::StatusRequest.encode().unwrap());
    let RelayMessage::Status(status) = first.relay() else { panic!("no status") };
    assert!(status.ped_connected);
    assert_eq!(status.rpk_serials, ["1a123456789a1234"]);
    first.send(&RelayMessage::Bye.encode().unwrap());
    assert_eq!(first.frame(), None);
    server.wait_for("the slot to free", |v| v["client"].is_null());
    server.connect().echo(b"next client");
}

#[test]
fn idle_timeout_and_ping_with_short_settings() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server =
        PedServer::start(&ped.spec(), &["-idletimeout", "0.45", "-pinginterval", "0.1", "-pingtimeout", "0.2"]);
    // A client that answers pings is still closed by the idle timeout.
    let mut c = server.connect();
    let start = Instant::now();
    let mut pings = 0;
    loop {
        match c.relay() {
            RelayMessage::Ping { nonce } => {
                pings += 1;
                c.send(&RelayMessage::Pong { nonce }.encode().unwrap());
            }
            RelayMessage::Error { code, .. } => {
                assert_eq!(code, ErrorCode::RcOperationTimedOut.value());
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(pings >= 2, "{pings} pings");
    assert!(start.elapsed() >= Duration::from_millis(450));
    assert_eq!(c.frame(), None);

    // A client that ignores pings is closed after interval + timeout.
    let mut silent = server.connect();
    let start = Instant::now();
    assert!(matches!(silent.relay(), RelayMessage::Ping { .. }));
    assert_eq!(silent.frame(), None);
    assert!(start.elapsed() < Duration::from_millis(450), "closed by the ping timeout, before the idle one");
    assert!(server.log_has("ping not answered in time"));
}

#[test]
fn unplug_and_replug_the_ped() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &[]);
    server.wait_for("the PED", |v| v["ped"]["connected"] == true);
    let mut c = server.connect();
    c.echo(b"before");
    ped.unplug();
    match c.relay() {
        RelayMessage::Error { code, .. } => assert_eq!(code, ErrorCode::CkrPedUnplugged.value()),
        other => panic!("expected CKR_PED_UNPLUGGED, got {other:?}"),
    }
    server.wait_for("the unplug", |v| v["ped"]["connected"] == false);
    // A client arriving now is told at its first channel frame.
    let mut late = server.connect();
    late.send(&frame::encode(FrameType::HsmHello, &[1, 2, 3]));
    assert_eq!(late.relay(), RelayMessage::error(ErrorCode::CkrPedUnplugged));

    ped.replug();
    server.wait_for("the replug", |v| v["ped"]["connected"] == true && v["ped"]["serial"] == "PED0001");
    server.connect().echo(b"after");
    assert!(server.log_has("PED disconnected"));
}

#[test]
fn a_ped_plugged_in_after_start_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ped.sock");
    let server = PedServer::start(&format!("socket:{}", path.display()), &[]);
    let o = server.run("show", &[]);
    assert!(text(&o).contains("Ped2 Connection Status:     Disconnected"), "{}", text(&o));
    std::fs::remove_file(&path).ok();
    let _ped = FakePed::new(dir.path());
    server.wait_for("the late PED", |v| v["ped"]["connected"] == true);
}

#[test]
fn relayed_bytes_are_exactly_those_sent_blindness() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &[]);
    server.wait_for("the PED", |v| v["ped"]["connected"] == true);
    let mut c = server.connect();
    // Frames of every size class, including multiples of the 64-byte packet.
    let secret = b"TEST-SECRET-0123456789";
    let mut sent = Vec::new();
    for (i, len) in [0usize, 1, 56, 63, 64, 120, 128, 4096, 32768].into_iter().enumerate() {
        let mut body: Vec<u8> = (0..len).map(|b| (b * 31 + i) as u8).collect();
        if len > secret.len() {
            body[..secret.len()].copy_from_slice(secret);
        }
        let kind = if i % 2 == 0 { FrameType::Record } else { FrameType::HsmHello };
        let f = frame::encode(kind, &body);
        c.send(&f);
        assert_eq!(c.frame().as_deref(), Some(&f[..]));
        sent.push(f);
    }
    assert_eq!(*ped.received.lock().unwrap(), sent, "the PED got exactly the bytes sent");
    // The server logged nothing of the payloads.
    assert!(!server.log().contains("TEST-SECRET"));
}

/// The descriptors of process `pid` once it has settled: the same count three looks in
/// a row, 20 ms apart.
fn settled_fd_count(pid: u32) -> usize {
    let mut counts = vec![fd_count(pid)];
    let deadline = Instant::now() + Duration::from_secs(10);
    while counts.len() < 3 || counts[counts.len() - 3..].iter().any(|&c| c != counts[counts.len() - 1]) {
        assert!(Instant::now() < deadline, "the descriptors of {pid} never settled: {counts:?}");
        std::thread::sleep(Duration::from_millis(20));
        counts.push(fd_count(pid));
    }
    counts[counts.len() - 1]
}

#[test]
fn five_hundred_hostile_connections_while_a_session_relays() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &["-socketreadtimeout", "0.2"]);
    server.wait_for("the PED", |v| v["ped"]["connected"] == true);
    let pid = server.pid();
    let baseline = settled_fd_count(pid);

    let mut session = server.connect();
    session.echo(b"login starts");

    let garbage = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    let half = frame::encode(FrameType::Record, &[7; 1000])[..500].to_vec();
    let mut hostile = Vec::new();
    for i in 0..500 {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", server.port)) else { continue };
        let _ = match i % 3 {
            0 => s.write_all(&garbage),
            1 => s.write_all(&half),
            _ => Ok(()),
        };
        hostile.push(s);
        if i % 50 == 0 {
            session.echo(format!("record {i}").as_bytes());
        }
    }
    session.echo(b"login completes");
    // Every hostile connection is refused: it reads Busy or end of stream, never relays.
    for mut s in hostile {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut s, &mut buf);
        assert!(buf.is_empty() || buf.starts_with(&frame::encode(FrameType::RelayBusy, &[])) || buf.starts_with(b"PD"));
    }
    session.echo(b"after the flood");
    drop(session);
    let deadline = Instant::now() + Duration::from_secs(10);
    while fd_count(pid) > baseline && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(fd_count(pid) <= baseline, "descriptors {} > baseline {baseline}", fd_count(pid));
    assert!(server.log_has("busy"));
}

#[test]
fn connections_that_never_say_hello_are_bounded_and_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &["-socketreadtimeout", "0.2"]);
    server.wait_for("the PED", |v| v["ped"]["connected"] == true);
    let pid = server.pid();
    let baseline = settled_fd_count(pid);
    let opened = Instant::now();
    let idle: Vec<TcpStream> = (0..600).map(|_| TcpStream::connect(("127.0.0.1", server.port)).unwrap()).collect();
    // At most max-pending-connections (512) of them are held; the oldest make room for
    // the rest at once, before the read timeout would close them.
    let held = |n: usize| n <= baseline + 512 + 2;
    while !held(fd_count(pid)) && opened.elapsed() < Duration::from_millis(150) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(held(fd_count(pid)), "{} open", fd_count(pid));
    // After the read timeout every one of them is gone and a real client gets through.
    wait_until("the held connections' read timeout", || fd_count(pid) <= baseline);
    server.connect().echo(b"through");
    drop(idle);
    assert!(server.log_has("no hello within the socket read timeout"));
}
