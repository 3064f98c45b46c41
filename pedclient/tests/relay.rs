//! The HSM link against a real pedserver process fronting a fake PED: the test plays the
//! HSM. Connect, Connected, blind relay both ways, a refused second Connect, Busy,
//! unplug, idle timeout, garbage and silence from the peer, a cut link, and testid.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{FakePed, PedClient, PedServer, closed, text, wait_until};
use ped_wire::ErrorCode;
use ped_wire::frame::{self, FrameType};
use ped_wire::hsm_link::HsmLinkMessage;
use ped_wire::relay::{PedStatus, RELAY_VERSION, RelayMessage, RelayRole};

/// Connected to the pedserver on 127.0.0.1:`port`, dialled by pedclient.
fn connected(port: u16) -> HsmLinkMessage {
    HsmLinkMessage::Connected {
        firmware_version: "2.9.0".into(),
        pedserver: format!("127.0.0.1:{port}"),
        ped_initiated: false,
    }
}

/// Frames with distinctive bodies, as a handshake and records would be.
fn channel_frames() -> Vec<Vec<u8>> {
    let mut frames = vec![frame::encode(FrameType::HsmHello, &[0xa5; 1200])];
    for i in 0..20u8 {
        let body: Vec<u8> = (0..(100 + 700 * usize::from(i))).map(|j| (j as u8) ^ i).collect();
        frames.push(frame::encode(FrameType::Record, &body));
    }
    frames.push(frame::encode(FrameType::Record, &[0x42; 16384]));
    frames
}

#[test]
fn the_hsm_link_relays_blindly_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &[]);
    let client = PedClient::new();
    let port = server.port.to_string();
    assert!(client.run("setid", &["-id", "1", "-id_ip", "127.0.0.1", "-id_port", &port]).status.success());
    // testid reaches the pedserver and reports its version and its PED.
    let o = client.run("testid", &["-id", "1"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("pedserver 0.1.0") && out.contains("Connected") && out.contains("2.9.0"), "{out}");

    let client = client.start(&[]);
    let mut hsm = client.hsm();
    assert_eq!(hsm.connect_to("127.0.0.1", server.port), connected(server.port));
    let json = client.show();
    assert_eq!(json["daemon"]["links"][0]["firmware"], "2.9.0", "{json}");
    assert_eq!(json["daemon"]["links"][0]["hsm_serial"], "150123", "{json}");
    // testid against the now busy pedserver: judged as `ped connect` would be.
    let o = client.run("testid", &["-id", "1"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("CKR_DEVICE_ERROR") && out.contains("serves another HSM"), "{out}");

    // Capture: what the PED received is byte for byte what the HSM sent, and what the
    // HSM gets back is byte for byte what the PED sent (it echoes).
    let frames = channel_frames();
    for f in &frames {
        hsm.send(f);
    }
    for f in &frames {
        assert_eq!(hsm.frame().as_ref(), Some(f));
    }
    assert_eq!(*ped.received.lock().unwrap(), frames);

    // A second Connect while connected is refused; the first link carries on.
    let refused = closed(hsm.connect_to("10.9.9.9", 1503), ErrorCode::PedProtocolError.value());
    assert!(refused.contains("already open"), "{refused}");
    let record = frame::encode(FrameType::Record, b"still here");
    hsm.send(&record);
    assert_eq!(hsm.frame(), Some(record));

    // Disconnect: Closed with code 0; then the assigned mapping (empty host) is used.
    hsm.send_link(&HsmLinkMessage::Disconnect);
    closed(hsm.link(), 0);
    let o = client.run("assignid", &["-id", "1", "-id_serialnumber", "150123"]);
    assert!(o.status.success(), "{}", text(&o));
    // pedserver frees the PED when its session ends; it may take a moment.
    wait_until("pedserver to free the PED", || server.show()["client"].is_null());
    assert_eq!(hsm.connect_to("", 0), connected(server.port), "the mapped pedserver");
    let record = frame::encode(FrameType::Record, b"through the mapping");
    hsm.send(&record);
    assert_eq!(hsm.frame(), Some(record));
    assert!(client.log().contains("remote PED link up"), "{}", client.log());
}

#[test]
fn busy_when_another_hsm_holds_the_ped_and_unplug_is_ped_unplugged() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &[]);
    let client = PedClient::new().start(&[]);
    let mut first = client.hsm();
    assert_eq!(first.connect_to("127.0.0.1", server.port), connected(server.port));
    let mut second = client.hsm();
    let why = closed(second.connect_to("127.0.0.1", server.port), ErrorCode::CkrDeviceError.value());
    assert!(why.contains("serves another HSM"), "{why}");
    let record = frame::encode(FrameType::Record, b"undisturbed");
    first.send(&record);
    assert_eq!(first.frame(), Some(record));

    ped.unplug();
    let why = closed(first.link(), ErrorCode::CkrPedUnplugged.value());
    assert!(why.contains("pedserver"), "{why}");
    // Later channel frames are answered with CKR_PED_UNPLUGGED: ped connect again.
    first.send(&frame::encode(FrameType::Record, b"late"));
    closed(first.link(), ErrorCode::CkrPedUnplugged.value());
}

#[test]
fn the_idle_timeout_ends_a_quiet_link_unless_waived_for_assigned_ids() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &[]);
    let client = PedClient::new();
    let port = server.port.to_string();
    assert!(client.run("setid", &["-id", "5", "-id_ip", "127.0.0.1", "-id_port", &port]).status.success());
    assert!(client.run("assignid", &["-id", "5", "-id_serialnumber", "150123"]).status.success());
    let client = client.start(&["-idletimeout", "0.2", "-ignoreidletimeout"]);
    let mut hsm = client.hsm();
    // By address: the idle timeout applies.
    assert_eq!(hsm.connect_to("127.0.0.1", server.port), connected(server.port));
    let why = closed(hsm.link(), ErrorCode::RcOperationTimedOut.value());
    assert!(why.contains("idle"), "{why}");
    // Through the assigned PED ID with -ignoreidletimeout: it does not.
    wait_until("pedserver to free the PED", || server.show()["client"].is_null());
    assert_eq!(hsm.connect_to("", 0), connected(server.port), "the mapped pedserver");
    // Quiet for one and a half idle timeouts, pedserver still holding the link all along.
    let quiet = Instant::now();
    while quiet.elapsed() < Duration::from_millis(300) {
        assert!(!server.show()["client"].is_null(), "the waived link ended after {:?}", quiet.elapsed());
        std::thread::sleep(Duration::from_millis(50));
    }
    let record = frame::encode(FrameType::Record, b"after a quiet while");
    hsm.send(&record);
    assert_eq!(hsm.frame(), Some(record));
}

/// A peer on a TCP port that does `behave` with each connection.
fn fake_peer(behave: impl Fn(std::net::TcpStream) + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            behave(stream);
        }
    });
    port
}

/// Holds a peer's connection open, reading and dropping what comes, until pedclient
/// closes it.
fn until_closed(mut s: std::net::TcpStream) {
    let _ = std::io::copy(&mut s, &mut std::io::sink());
}

fn server_hello() -> Vec<u8> {
    RelayMessage::Hello { version: RELAY_VERSION, role: RelayRole::Server, software: "fake".into() }.encode().unwrap()
}

#[test]
fn garbage_silence_a_cut_link_and_no_listener_have_their_codes() {
    let client = PedClient::new().start(&["-socketreadtimeout", "0.2"]);
    let mut hsm = client.hsm();

    let garbage = fake_peer(|mut s| {
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        until_closed(s);
    });
    let why = closed(hsm.connect_to("127.0.0.1", garbage), ErrorCode::CkrCallbackError.value());
    assert!(why.contains("garbage"), "{why}");

    let silent = fake_peer(until_closed);
    closed(hsm.connect_to("127.0.0.1", silent), ErrorCode::RcOperationTimedOut.value());

    // Hellos and a status, one record relayed, then the TCP link is cut.
    let cut = fake_peer(|mut s| {
        let mut buf = [0u8; 4096];
        let _ = s.write_all(&server_hello());
        let _ = s.read(&mut buf);
        let status = PedStatus {
            ped_connected: true,
            firmware_version: "2.9.0".into(),
            protocol_version: 1,
            rpk_count: 0,
            rpk_serials: vec![],
        };
        let _ = s.write_all(&RelayMessage::Status(status).encode().unwrap());
        let _ = s.write_all(&frame::encode(FrameType::Record, b"one"));
        // The cut: end of stream after the record (a close with pedclient's bytes unread
        // could reset the connection before the record is read).
        let _ = s.shutdown(std::net::Shutdown::Write);
        until_closed(s);
    });
    assert_eq!(hsm.connect_to("127.0.0.1", cut), connected(cut));
    assert_eq!(hsm.frame(), Some(frame::encode(FrameType::Record, b"one")));
    closed(hsm.link(), ErrorCode::CkrPedUnplugged.value());

    let nobody = common::free_port();
    closed(hsm.connect_to("127.0.0.1", nobody), ErrorCode::RcSocketError.value());
    // No PED ID assigned to this HSM: a clear refusal.
    let why = closed(hsm.connect_to("", 0), ErrorCode::RcSocketError.value());
    assert!(why.contains("no PED ID is assigned"), "{why}");
}
