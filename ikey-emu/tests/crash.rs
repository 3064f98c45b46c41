//! Crash safety and concurrency between processes. The child processes are this test
//! binary itself, re-executed with `CHILD_ENV` set so that only `child_process` runs,
//! in the mode that variable names.

mod common;

use std::env;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{check_payload, payload_from_seed};
use ikey_emu::{Error, Faults, Key, KeySerial, KeyStore, NewKey, Port};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

const CHILD_ENV: &str = "IKEY_EMU_TEST_CHILD";
const KEYS: u64 = 4;
/// Key 4 sits in this port and is written through it, as a PED does.
const PORT: &str = "crash";

/// The children's entry point; a no-op in an ordinary test run.
#[test]
fn child_process() {
    let Ok(spec) = env::var(CHILD_ENV) else { return };
    let (mode, rest) = spec.split_once(':').unwrap();
    let (dir, seed) = rest.rsplit_once(':').unwrap();
    let seed: u64 = seed.parse().unwrap();
    let store = KeyStore::open(dir).unwrap().with_lock_timeout(Duration::from_secs(60));
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    match mode {
        // Writes for ever, until killed: keys 1-3 through the store, key 4 through its port.
        "writer" => {
            let port = Port::open(&store, PORT).unwrap();
            loop {
                let serial = 1 + rng.next_u64() % KEYS;
                let payload = payload_from_seed(rng.next_u64());
                if serial == KEYS {
                    port.write_payload(&payload).unwrap();
                } else {
                    store.write(KeySerial(serial), &payload).unwrap();
                }
            }
        }
        // Writes key 1 a hundred times, then exits.
        "hundred" => {
            for _ in 0..100 {
                store.write(KeySerial(1), &payload_from_seed(rng.next_u64())).unwrap();
            }
        }
        // One slow write through the port (the key has a write latency).
        "slow" => {
            Port::open(&store, PORT).unwrap().write_payload(&payload_from_seed(seed)).unwrap();
        }
        other => panic!("unknown child mode {other}"),
    }
}

fn spawn_child(mode: &str, dir: &std::path::Path, seed: u64) -> Child {
    Command::new(env::current_exe().unwrap())
        .args(["--exact", "child_process", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{mode}:{}:{seed}", dir.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn make_keys(store: &KeyStore) {
    for serial in 1..=KEYS {
        store.create(NewKey { serial: Some(KeySerial(serial)), ..NewKey::default() }).unwrap();
    }
    Port::open(store, PORT).unwrap().insert(KeySerial(KEYS)).unwrap();
}

/// Every key reads, whole, and is either as it was (`before`) or has moved on to content
/// that a writer wrote in full.
fn check_old_or_new(store: &KeyStore, before: &mut [Option<Key>]) -> u64 {
    let listing = store.list().unwrap();
    assert!(listing.problems.is_empty(), "unreadable files after a kill: {:?}", listing.problems);
    let mut total = 0;
    for (i, old) in before.iter_mut().enumerate() {
        let key = store.load(KeySerial(i as u64 + 1)).unwrap_or_else(|e| panic!("unreadable after a kill: {e}"));
        match old {
            Some(old) if key.write_count() == old.write_count() => {
                assert_eq!(key.payload(), old.payload(), "same write count, different content");
            }
            Some(old) => assert!(key.write_count() > old.write_count(), "the write count went back"),
            None => {}
        }
        if let Some(p) = key.payload() {
            assert!(check_payload(p), "key {} holds a torn payload", key.serial());
        }
        total += key.write_count();
        *old = Some(key);
    }
    total
}

#[test]
fn sigkill_at_random_instants_leaves_every_key_old_or_new() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let store = KeyStore::open(&dir).unwrap();
    make_keys(&store);
    let mut rng = ChaCha20Rng::seed_from_u64(0xc4a5_0001);
    let mut before = vec![None; KEYS as usize];
    let (mut kills, mut mid_write) = (0u32, 0u32);
    let start = Instant::now();
    let mut writes = 0;
    // At least 1,000 writes, and enough kills that many land inside one.
    while writes < 1_000 || kills < 150 {
        assert!(start.elapsed() < Duration::from_secs(120), "only {writes} writes in two minutes");
        let mut child = spawn_child("writer", &dir, rng.next_u64());
        thread::sleep(Duration::from_micros(1_000 + rng.next_u64() % 12_000));
        // Child::kill sends SIGKILL on Unix: no destructor, no flush, no unlock but the kernel's.
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        let staged = (1..=KEYS).any(|s| dir.join(format!(".{}.ikey.tmp", KeySerial(s))).exists());
        mid_write += u32::from(staged);
        writes = check_old_or_new(&store, &mut before);
    }
    eprintln!("{writes} writes, {kills} kills, {mid_write} of them with a write staged");
    assert!(mid_write > 0, "no kill landed inside a write: the test did not test");
    // After the crashes the keys still take writes, through the store and the port.
    store.write(KeySerial(1), b"after").unwrap();
    Port::open(&store, PORT).unwrap().write_payload(b"after").unwrap();
}

#[test]
fn two_processes_writing_one_key_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let store = KeyStore::open(&dir).unwrap();
    make_keys(&store);
    let children = [spawn_child("hundred", &dir, 1), spawn_child("hundred", &dir, 2)];
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a writer failed");
    }
    let key = store.load(KeySerial(1)).unwrap();
    assert_eq!(key.write_count(), 200, "every write of both processes counted once");
    assert!(check_payload(key.payload().unwrap()));
}

#[test]
fn a_writer_that_cannot_wait_fails_cleanly_and_the_other_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let store = KeyStore::open(&dir).unwrap().with_lock_timeout(Duration::from_millis(100));
    make_keys(&store);
    store.write(KeySerial(KEYS), b"old").unwrap();
    store.set_faults(KeySerial(KEYS), Faults { write_latency_ms: 1_500, ..Faults::NONE }).unwrap();
    let mut child = spawn_child("slow", &dir, 77);
    let staged = dir.join(format!(".{}.ikey.tmp", KeySerial(KEYS)));
    let start = Instant::now();
    while !staged.exists() {
        assert!(start.elapsed() < Duration::from_secs(10), "the slow write never started");
        thread::sleep(Duration::from_millis(5));
    }
    let err = store.write(KeySerial(KEYS), b"mine").unwrap_err();
    assert!(matches!(err, Error::Busy { .. }), "{err}");
    assert!(err.to_string().contains("key 0000000004"), "{err}");
    let cli = Command::new(env!("CARGO_BIN_EXE_ikey-emu"))
        .args(["--dir", dir.to_str().unwrap(), "--lock-timeout-ms", "50", "wipe", "4"])
        .output()
        .unwrap();
    assert_eq!(cli.status.code(), Some(4), "{}", String::from_utf8_lossy(&cli.stderr));
    assert!(child.wait().unwrap().success());
    let key = store.load(KeySerial(KEYS)).unwrap();
    assert_eq!(key.payload(), Some(&payload_from_seed(77)[..]));
    assert_eq!(key.write_count(), 2);
}
