//! `ped connect` through a real pedclient to a real pedserver while 600 connections that
//! never say hello are reopened at pedserver as fast as it closes them (issue 14 item 1,
//! end to end; pedserver/tests/availability.rs has each kind of attack). 600: the issue's
//! 500, and more than pedserver's waiting room holds (512), so that it evicts.

mod common;

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{FakePed, PedClient, PedServer, closed};
use ped_wire::hsm_link::HsmLinkMessage;

#[test]
fn ped_connect_completes_within_a_second_while_silent_connections_flood_pedserver() {
    const ATTACKERS: usize = 600;
    const ROUNDS: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &[]);
    server.wait_for("the PED", |v| v["ped"]["connected"] == true);
    let client = PedClient::new().start(&[]);

    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    let (s, o, port) = (stop.clone(), opened.clone(), server.port);
    let attacker = std::thread::spawn(move || {
        let dial = || {
            let at = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            let stream = TcpStream::connect_timeout(&at, Duration::from_millis(100)).ok()?;
            stream.set_nonblocking(true).ok()?;
            o.fetch_add(1, Ordering::Relaxed);
            Some(stream)
        };
        let mut conns: Vec<Option<TcpStream>> = (0..ATTACKERS).map(|_| dial()).collect();
        let mut sink = [0u8; 1024];
        while !s.load(Ordering::Relaxed) {
            for slot in conns.iter_mut() {
                let closed = slot.as_mut().is_none_or(|c| {
                    loop {
                        match c.read(&mut sink) {
                            Ok(0) => break true,
                            Ok(_) => {}
                            Err(e) => break e.kind() != ErrorKind::WouldBlock,
                        }
                    }
                });
                if closed {
                    *slot = dial();
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    while opened.load(Ordering::Relaxed) < ATTACKERS {
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut times = Vec::new();
    for round in 0..ROUNDS {
        let mut hsm = client.hsm();
        let start = Instant::now();
        match hsm.connect_to("127.0.0.1", server.port) {
            HsmLinkMessage::Connected { .. } => times.push(start.elapsed()),
            other => panic!("round {round}: ped connect got {other:?}"),
        }
        hsm.send_link(&HsmLinkMessage::Disconnect);
        closed(hsm.link(), 0);
    }
    stop.store(true, Ordering::Relaxed);
    attacker.join().unwrap();
    times.sort();
    let (median, max) = (times[ROUNDS / 2], times[ROUNDS - 1]);
    eprintln!(
        "{} attacker connections opened; ped connect through pedclient median {median:?}, max {max:?}",
        opened.load(Ordering::Relaxed)
    );
    // The goal is 1 s; the bound leaves room for a loaded machine.
    assert!(max < Duration::from_secs(3), "{max:?}");
}
