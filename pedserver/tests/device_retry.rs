//! pedserver against a device endpoint that accepts and closes at once (ped-rig
//! --interactive's USB recorder before ped-sim runs, a flapping real PED): it must retry
//! with a backoff and log the trouble once, not spin.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;

/// Log lines that contain `needle`.
fn lines_with(server: &PedServer, needle: &str) -> usize {
    server.log().lines().filter(|l| l.contains(needle)).count()
}

/// Waits until the fake PED has seen `n` connections.
fn wait_accepts(ped: &FakePed, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while ped.accepts.load(Ordering::SeqCst) < n {
        assert!(Instant::now() < deadline, "pedserver stopped trying the device");
        std::thread::sleep(Duration::from_millis(10));
    }
}

const FLAPPING: &str = "closed before answering InfoRequest";

#[test]
fn a_device_that_accepts_and_closes_at_once_is_retried_with_backoff_and_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    ped.unplug();
    let server = PedServer::start(&ped.spec(), &[]);
    wait_accepts(&ped, 2);

    // The next two attempts, timed: the backoff (0.1 s doubling to 2 s) puts at least
    // 0.2 + 0.4 s before them, where the spin this guards against opened the device some
    // 300 times a second and wrote two lines each time.
    let (before, lines_before, started) =
        (ped.accepts.load(Ordering::SeqCst), server.log().lines().count(), Instant::now());
    wait_accepts(&ped, before + 2);
    let took = started.elapsed();
    let attempts = ped.accepts.load(Ordering::SeqCst) - before;
    let lines = server.log().lines().count() - lines_before;
    assert!(took >= Duration::from_millis(500), "{attempts} attempts in {took:?}");
    // Trace logging (the rig's -logtrace 1) writes at most 2 debug lines an attempt.
    assert!(lines <= 2 * attempts + 2, "{lines} log lines for {attempts} attempts:\n{}", server.log());
    assert_eq!(lines_with(&server, FLAPPING), 1, "{}", server.log());
    assert_eq!(lines_with(&server, "PED disconnected"), 0, "nothing was ever connected");
    assert_eq!(lines_with(&server, "PED connected"), 0);
    assert_eq!(server.show()["ped"]["connected"], false);

    // The PED turns up: found within the backoff's cap, its info shown.
    ped.replug();
    server.wait_for("the PED", |v| v["ped"]["connected"] == true && v["ped"]["serial"] == "PED0001");
    server.connect().echo(b"served");
    assert_eq!(lines_with(&server, "PED connected at socket:"), 1, "{}", server.log());

    // It flaps again: its loss is logged once, and the first unanswered retry once more.
    let seen = ped.accepts.load(Ordering::SeqCst);
    ped.unplug();
    wait_accepts(&ped, seen + 3);
    assert!(server.log_has("PED disconnected"));
    assert_eq!(lines_with(&server, "PED disconnected"), 1, "{}", server.log());
    assert_eq!(lines_with(&server, FLAPPING), 2, "{}", server.log());
}
