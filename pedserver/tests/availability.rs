//! The one PED stays reachable (issue 14, items 1 and 3): under a flood of connections
//! that never say hello, a real client still opens its session (hellos and the PED's
//! status, what `ped connect` needs) within a second; and a client that connects right
//! after another said Bye gets the PED, not Busy.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use ped_wire::frame::Frame;
use ped_wire::relay::{RELAY_VERSION, RelayMessage, RelayRole};

fn hello() -> Vec<u8> {
    RelayMessage::Hello { version: RELAY_VERSION, role: RelayRole::Client, software: "test".into() }.encode().unwrap()
}

/// What `ped connect` asks of pedserver: hello both ways, then the PED's status. The
/// client that got it, or what it got instead.
fn open_session(port: u16) -> Result<Client, String> {
    let mut c = Client::raw(port);
    c.send(&hello());
    let mut asked = false;
    loop {
        let Some(f) = c.frame() else { return Err("closed".into()) };
        match RelayMessage::decode(Frame::decode_exact(&f).map_err(|e| format!("{e:?}"))?) {
            Ok(RelayMessage::Hello { .. }) if !asked => {
                c.send(&RelayMessage::StatusRequest.encode().unwrap());
                asked = true;
            }
            Ok(RelayMessage::Status(status)) if asked && status.ped_connected => return Ok(c),
            other => return Err(format!("{other:?}")),
        }
    }
}

/// Says Bye and waits for the server's close.
fn bye(mut c: Client) {
    c.send(&RelayMessage::Bye.encode().unwrap());
    while c.frame().is_some() {}
}

#[test]
fn a_client_that_connects_right_after_a_bye_gets_the_ped_not_busy() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &[]);
    server.wait_for("the PED", |v| v["ped"]["connected"] == true);
    let mut holder = open_session(server.port).unwrap();
    for round in 0..50 {
        // A frame reached the PED: the ending session tells it so before the next may start.
        holder.echo(format!("round {round}").as_bytes());
        holder.send(&RelayMessage::Bye.encode().unwrap());
        let next = open_session(server.port);
        while holder.frame().is_some() {}
        holder = next.unwrap_or_else(|got| panic!("round {round}: the next client got {got}, not the PED"));
    }
    bye(holder);
}

/// How an attacker's connections behave.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Connect and say nothing.
    Silent,
    /// Dribble a hello, one byte a second.
    Slow,
    /// Send bytes that are no frame.
    Garbage,
}

struct Attack {
    stop: Arc<AtomicBool>,
    opened: Arc<AtomicUsize>,
    thread: JoinHandle<()>,
}

struct Conn {
    stream: TcpStream,
    sent: usize,
    last_byte: Instant,
}

fn dial(port: u16, kind: Kind, opened: &AtomicUsize) -> Option<Conn> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(100)).ok()?;
    opened.fetch_add(1, Ordering::Relaxed);
    if let Kind::Garbage = kind {
        let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    stream.set_nonblocking(true).ok()?;
    Some(Conn { stream, sent: 0, last_byte: Instant::now() })
}

/// `count` connections of one kind, on one thread; closed ones are opened again when
/// `renew`, until stopped.
fn attack(port: u16, kind: Kind, count: usize, renew: bool) -> Attack {
    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    let (s, o) = (stop.clone(), opened.clone());
    let thread = std::thread::spawn(move || {
        let hello = hello();
        let mut conns: Vec<Option<Conn>> = (0..count).map(|_| dial(port, kind, &o)).collect();
        let mut sink = [0u8; 4096];
        while !s.load(Ordering::Relaxed) {
            for slot in conns.iter_mut() {
                if let Some(c) = slot {
                    let closed = loop {
                        match c.stream.read(&mut sink) {
                            Ok(0) => break true,
                            Ok(_) => {}
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break false,
                            Err(_) => break true,
                        }
                    };
                    let due = matches!(kind, Kind::Slow)
                        && c.sent < hello.len()
                        && c.last_byte.elapsed() >= Duration::from_secs(1);
                    if !closed && due && c.stream.write_all(&hello[c.sent..=c.sent]).is_ok() {
                        c.sent += 1;
                        c.last_byte = Instant::now();
                    }
                    if closed {
                        *slot = None;
                    }
                }
                if slot.is_none() && renew {
                    *slot = dial(port, kind, &o);
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    Attack { stop, opened, thread }
}

impl Attack {
    fn end(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        self.opened.load(Ordering::Relaxed)
    }
}

fn open_files_limit() -> String {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits.lines().find(|l| l.starts_with("Max open files")).unwrap_or("Max open files: unknown").to_string()
}

#[test]
fn six_hundred_connections_that_never_say_hello_do_not_keep_a_real_client_out() {
    // The 500, and more than the 512 the waiting room holds: evictions happen.
    const ATTACKERS: usize = 600;
    const ROUNDS: usize = 10;
    // The generous bound the assertion holds on a loaded machine; the figures printed are
    // what the issue asks for (under 1 s).
    const BOUND: Duration = Duration::from_secs(3);
    eprintln!("{ATTACKERS} attacker connections at once; this process: {}", open_files_limit());
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &[]);
    server.wait_for("the PED", |v| v["ped"]["connected"] == true);
    let mut report = Vec::new();
    for kind in [Kind::Silent, Kind::Slow, Kind::Garbage] {
        for renew in [false, true] {
            let attack = attack(server.port, kind, ATTACKERS, renew);
            let filled = Instant::now() + Duration::from_secs(5);
            while attack.opened.load(Ordering::Relaxed) < ATTACKERS && Instant::now() < filled {
                std::thread::sleep(Duration::from_millis(20));
            }
            let mut times = Vec::new();
            for round in 0..ROUNDS {
                let start = Instant::now();
                let session = open_session(server.port)
                    .unwrap_or_else(|got| panic!("{kind:?}, renewed {renew}, round {round}: got {got}"));
                times.push(start.elapsed());
                bye(session);
                std::thread::sleep(Duration::from_millis(50));
            }
            let opened = attack.end();
            times.sort();
            let line = format!(
                "{kind:?} {}: {opened} attacker connections opened; real client's hello+status median {:?}, max {:?}",
                if renew { "renewed" } else { "held" },
                times[ROUNDS / 2],
                times[ROUNDS - 1]
            );
            eprintln!("{line}");
            report.push((line, times[ROUNDS - 1]));
        }
    }
    for (line, max) in &report {
        assert!(*max < BOUND, "{line}");
    }
    // The flood left nothing behind: the server is reachable as before, its waiting room
    // emptied by the hello deadline.
    open_session(server.port).map(bye).unwrap();
    assert!(server.log_has("the oldest of too many connections waiting"));
}
