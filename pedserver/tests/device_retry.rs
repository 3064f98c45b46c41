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

/// Connections the fake PED sees over the next `window`, looked at every 10 ms.
fn accepts_during(ped: &FakePed, window: Duration) -> usize {
    let (before, started) = (ped.accepts.load(Ordering::SeqCst), Instant::now());
    while started.elapsed() < window {
        std::thread::sleep(Duration::from_millis(10));
    }
    ped.accepts.load(Ordering::SeqCst) - before
}

#[test]
fn a_device_that_accepts_and_closes_at_once_is_retried_with_backoff_and_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    ped.unplug();
    let server = PedServer::start(&ped.spec(), &[]);
    wait_accepts(&ped, 2);

    // The backoff (0.1 s doubling to 2 s, its schedule unit-tested in device.rs) allows at
    // most one attempt in the next 150 ms, where the spin this guards against opened the
    // device some 45 times and wrote two lines each time.
    let lines_before = server.log().lines().count();
    let attempts = accepts_during(&ped, Duration::from_millis(150));
    assert!(attempts <= 1, "{attempts} attempts in 150 ms");
    let lines = server.log().lines().count() - lines_before;
    // Trace logging (the rig's -logtrace 1) writes at most 2 debug lines an attempt.
    assert!(lines <= 2 * attempts + 2, "{lines} log lines for {attempts} attempts:\n{}", server.log());
    assert_eq!(lines_with(&server, FLAPPING), 1, "{}", server.log());
    assert_eq!(lines_with(&server, "PED disconnected"), 0, "nothing was ever connected");
    assert_eq!(lines_with(&server, "PED connected"), 0);
    assert_eq!(server.show()["ped"]["connected"], false);

    // The PED turns up: found at the next attempt, its info shown.
    ped.replug();
    server.wait_for("the PED", |v| v["ped"]["connected"] == true && v["ped"]["serial"] == "PED0001");
    server.connect().echo(b"served");
    assert_eq!(lines_with(&server, "PED connected at socket:"), 1, "{}", server.log());

    // It flaps again: its loss is logged once, the first unanswered retry once more, and
    // the schedule, started over, still never spins.
    let seen = ped.accepts.load(Ordering::SeqCst);
    ped.unplug();
    wait_accepts(&ped, seen + 1);
    assert!(accepts_during(&ped, Duration::from_millis(150)) <= 2, "the retries back off again");
    assert!(server.log_has("PED disconnected"));
    assert_eq!(lines_with(&server, "PED disconnected"), 1, "{}", server.log());
    assert_eq!(lines_with(&server, FLAPPING), 2, "{}", server.log());
}
