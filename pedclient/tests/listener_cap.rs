//! pedclient's PED-initiated listener under a flood of connections that never finish
//! their TLS handshake (issue 14 item 4): at most 64 handshakes wait, the oldest making
//! room for a newcomer, and the registered pedserver still connects at once.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{FakePed, PedClient, PedServer, fd_count, free_port, text, wait_until};
use ped_wire::hsm_link::HsmLinkMessage;

/// Open descriptors of `pid` once they stop changing (the daemon has accepted what it will).
fn settled_fds(pid: u32) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = fd_count(pid);
    let mut same = 0;
    while same < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        let now = fd_count(pid);
        same = if now == last { same + 1 } else { 0 };
        last = now;
    }
    last
}

#[test]
fn idle_connections_to_the_ped_initiated_listener_are_capped_and_pedserver_still_connects() {
    const IDLE: usize = 500;
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &["-connectretrydelay", "100"]);
    let client = PedClient::new();
    let client_cert = client.regen("appliance1");
    let server_cert = server.regen("laptop7");
    assert!(client.raw(&["-register", "-certificate", server_cert.to_str().unwrap()]).status.success());
    let port = free_port();
    let listen = port.to_string();
    server.register_appliance("abox", &client_cert, &listen);
    let client = client.start(&["-pedinitiated", "1", "-listenport", &listen, "-listenip", "127.0.0.1"]);
    let pid = client.show()["daemon"]["pid"].as_u64().unwrap() as u32;
    let baseline = settled_fds(pid);

    let idle: Vec<TcpStream> = (0..IDLE).filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok()).collect();
    let held = settled_fds(pid) - baseline;
    eprintln!("{} idle connections opened; pedclient holds {held} descriptors more than before", idle.len());
    assert_eq!(idle.len(), IDLE);
    assert!(held <= 64 + 2, "{held} descriptors held for {IDLE} idle connections");

    let start = Instant::now();
    let o = server.run("connect", &["-name", "abox", "-connectretrydelay", "100"]);
    let took = start.elapsed();
    assert!(o.status.success(), "{}", text(&o));
    eprintln!("pedserver -mode connect through the flood took {took:?} (the process included)");
    assert!(took < Duration::from_secs(5), "{took:?}");
    wait_until("pedclient to see the pedserver", || !client.show()["daemon"]["ped_initiated"]["connected"].is_null());
    let mut hsm = client.hsm();
    assert!(
        matches!(hsm.connect_to("", 0), HsmLinkMessage::Connected { ped_initiated: true, .. }),
        "the HSM reaches the PED through pedserver's link"
    );
    assert!(client.log().contains("dropped a TLS handshake"));
    drop(idle);
}
