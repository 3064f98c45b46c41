//! The firmware's `KeyPort` over the key store: what a PED simulator sees.

mod common;

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use common::{old_orange_payload, orange_payload, split_payload};
use ikey_emu::{Error, ErrorKind, Faults, KeySerial, KeyStore, NewKey, Port};
use ped_hal::{InsertedKey, KeyPort, KeyPortError};
use ped_proto::pedkey::{self, KeyColour, PedKeyPayload};

fn rig() -> (tempfile::TempDir, KeyStore, Port) {
    let tmp = tempfile::tempdir().unwrap();
    let store = KeyStore::open(tmp.path().join("keys")).unwrap();
    for serial in [1, 2] {
        store.create(NewKey { serial: Some(KeySerial(serial)), ..NewKey::default() }).unwrap();
    }
    let port = Port::open(&store, "ped1").unwrap();
    (tmp, store, port)
}

#[test]
fn insert_read_blank_write_a_real_payload_read_back_remove() {
    let (_tmp, store, mut port) = rig();
    assert_eq!(port.inserted(), Ok(None));
    assert_eq!(port.read(), Err(KeyPortError::NoKey));
    assert_eq!(port.write(b"x"), Err(KeyPortError::NoKey));

    port.insert(KeySerial(1)).unwrap();
    assert_eq!(port.inserted(), Ok(Some(InsertedKey { serial: KeySerial(1), capacity: 8192 })));
    assert_eq!(port.read(), Ok(None), "a new key is blank");

    let payload = orange_payload(2, 3, 3);
    port.write(&payload).unwrap();
    let back = port.read().unwrap().unwrap();
    assert_eq!(back.as_bytes(), &payload[..]);
    assert_eq!(pedkey::identify(&back).unwrap(), KeyColour::Orange);
    let decoded = PedKeyPayload::decode(&back).unwrap();
    assert_eq!((decoded.split.index(), decoded.split.quorum().m(), decoded.split.quorum().n()), (3, 2, 3));

    // Another process (here: another handle) sees the same key and content.
    let mut other = Port::open(&store, "ped1").unwrap();
    assert_eq!(other.read().unwrap().unwrap().as_bytes(), &payload[..]);

    assert_eq!(port.remove().unwrap(), KeySerial(1));
    assert_eq!(port.inserted(), Ok(None));
    assert_eq!(store.load(KeySerial(1)).unwrap().payload(), Some(&payload[..]), "the key keeps its content");

    port.insert(KeySerial(2)).unwrap();
    port.write(&split_payload(KeyColour::White, 1, 1, 1, false)).unwrap();
    port.erase().unwrap();
    assert_eq!(port.read(), Ok(None));
    assert_eq!(store.load(KeySerial(2)).unwrap().write_count(), 2);
}

#[test]
fn one_key_per_port_and_one_port_per_key() {
    let (_tmp, store, port) = rig();
    let ped2 = Port::open(&store, "ped2").unwrap();
    port.insert(KeySerial(1)).unwrap();
    port.insert(KeySerial(1)).unwrap();
    assert!(matches!(port.insert(KeySerial(2)), Err(Error::PortOccupied { .. })));
    assert!(matches!(ped2.insert(KeySerial(1)), Err(Error::KeyInOtherPort { .. })));
    assert_eq!(ped2.insert(KeySerial(3)).unwrap_err().kind(), ErrorKind::NotFound);
    assert!(matches!(ped2.remove(), Err(Error::PortEmpty { .. })));
    assert_eq!(store.port_of(KeySerial(1)).unwrap().unwrap().to_string(), "ped1");
    for bad in ["", ".hidden", "a/b", "ped 1", &"p".repeat(65)] {
        assert!(matches!(Port::open(&store, bad), Err(Error::PortName(_))), "{bad:?}");
    }
    assert!(matches!(Port::existing(&store, "never"), Err(Error::NoSuchPort { .. })));
}

#[test]
fn over_capacity_is_refused_through_the_port() {
    let (_tmp, store, mut port) = rig();
    store.create(NewKey { serial: Some(KeySerial(3)), capacity: 128, ..NewKey::default() }).unwrap();
    port.insert(KeySerial(3)).unwrap();
    // A format-1 orange key, its RPK certificate beside the split, does not fit.
    assert_eq!(port.write(&old_orange_payload(1, 1, 1)), Err(KeyPortError::TooLarge { capacity: 128 }));
    assert_eq!(port.read(), Ok(None));
    assert_eq!(store.load(KeySerial(3)).unwrap().write_count(), 0);
}

#[test]
fn faults_read_error_write_error_after_n_and_latency() {
    let (_tmp, store, mut port) = rig();
    port.insert(KeySerial(1)).unwrap();
    let old = split_payload(KeyColour::Black, 1, 1, 1, false);
    port.write(&old).unwrap();

    store.set_faults(KeySerial(1), Faults { read_error: true, ..Faults::NONE }).unwrap();
    assert_eq!(port.read(), Err(KeyPortError::ReadFailed));
    assert!(port.inserted().unwrap().is_some(), "the key still answers with its serial");
    assert!(matches!(port.read_payload(), Err(Error::InjectedReadFault { .. })));

    // A large payload (a format-1 orange key with its certificate) is cut; the short
    // old one is not.
    let orange = old_orange_payload(1, 1, 1);
    assert!(old.len() < 200 && orange.len() > 200);
    store.set_faults(KeySerial(1), Faults { write_error_after: Some(200), ..Faults::NONE }).unwrap();
    assert_eq!(port.write(&orange), Err(KeyPortError::WriteFailed));
    assert!(matches!(port.write_payload(&orange), Err(Error::InjectedWriteFault { after: 200, .. })));
    assert_eq!(store.load(KeySerial(1)).unwrap().payload(), Some(&old[..]), "old content, whole");
    port.write(&old).unwrap();

    store.set_faults(KeySerial(1), Faults { write_error_after: Some(0), ..Faults::NONE }).unwrap();
    assert_eq!(port.erase(), Err(KeyPortError::WriteFailed));

    store.set_faults(KeySerial(1), Faults { write_latency_ms: 150, ..Faults::NONE }).unwrap();
    let start = Instant::now();
    port.write(&orange).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(150));
    assert!(store.set_faults(KeySerial(1), Faults { write_latency_ms: 600_001, ..Faults::NONE }).is_err());

    store.set_faults(KeySerial(1), Faults::NONE).unwrap();
    assert_eq!(port.read().unwrap().unwrap().as_bytes(), &orange[..]);
    // The inspection view ignores the port's faults.
    store.set_faults(KeySerial(1), Faults { read_error: true, ..Faults::NONE }).unwrap();
    assert_eq!(store.load(KeySerial(1)).unwrap().payload(), Some(&orange[..]));
}

#[test]
fn removing_the_key_during_a_write_leaves_the_old_content() {
    let (_tmp, store, port) = rig();
    port.insert(KeySerial(1)).unwrap();
    let old = split_payload(KeyColour::Blue, 1, 1, 1, false);
    port.write_payload(&old).unwrap();
    store.set_faults(KeySerial(1), Faults { write_latency_ms: 400, ..Faults::NONE }).unwrap();

    let mut writer = port.clone();
    let new = orange_payload(1, 1, 1);
    let write = thread::spawn(move || writer.write(&new));
    // Wait until the write is under way (its temporary file is staged), then pull the key.
    let tmp = store.dir().join(".0000000001.ikey.tmp");
    let start = Instant::now();
    while !tmp.exists() {
        assert!(start.elapsed() < Duration::from_secs(5), "the write never started");
        thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(port.remove().unwrap(), KeySerial(1));
    assert_eq!(write.join().unwrap(), Err(KeyPortError::NoKey));
    let key = store.load(KeySerial(1)).unwrap();
    assert_eq!((key.payload(), key.write_count()), (Some(&old[..]), 1));
    assert!(!tmp.exists());
}

#[test]
fn pulling_the_key_and_putting_it_back_during_a_write_still_abandons_it() {
    let (_tmp, store, port) = rig();
    port.insert(KeySerial(1)).unwrap();
    store.set_faults(KeySerial(1), Faults { write_latency_ms: 400, ..Faults::NONE }).unwrap();
    let mut writer = port.clone();
    let write = thread::spawn(move || writer.write(b"new"));
    let tmp = store.dir().join(".0000000001.ikey.tmp");
    let start = Instant::now();
    while !tmp.exists() {
        assert!(start.elapsed() < Duration::from_secs(5), "the write never started");
        thread::sleep(Duration::from_millis(2));
    }
    port.remove().unwrap();
    port.insert(KeySerial(1)).unwrap();
    assert_eq!(write.join().unwrap(), Err(KeyPortError::NoKey));
    assert!(store.load(KeySerial(1)).unwrap().is_blank());
}

#[test]
fn removing_the_key_after_the_write_commits_keeps_the_new_content() {
    let (_tmp, store, mut port) = rig();
    port.insert(KeySerial(1)).unwrap();
    let new = orange_payload(1, 1, 1);
    port.write(&new).unwrap();
    port.remove().unwrap();
    assert_eq!(store.load(KeySerial(1)).unwrap().payload(), Some(&new[..]));
}

#[test]
fn a_damaged_key_or_port_reads_as_a_failed_read() {
    let (_tmp, store, mut port) = rig();
    port.insert(KeySerial(1)).unwrap();
    fs::write(store.key_path(KeySerial(1)), b"IKEY\x01garbage").unwrap();
    assert_eq!(port.inserted(), Err(KeyPortError::ReadFailed));
    assert_eq!(port.read(), Err(KeyPortError::ReadFailed));
    assert_eq!(port.write(b"x"), Err(KeyPortError::ReadFailed));

    fs::write(port.path(), b"{\"format\":1,\"key\":\"0000000001\",\"insertions\":1,\"extra\":true}").unwrap();
    let err = port.key().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Damaged);
    assert!(err.to_string().contains("ped1.port") && err.to_string().contains("extra"), "{err}");
    // Other ports are unaffected.
    let ped2 = Port::open(&store, "ped2").unwrap();
    ped2.insert(KeySerial(2)).unwrap();
    assert_eq!(ped2.key().unwrap(), Some(KeySerial(2)));
}
