//! ped-sim as pedserver sees it: a device on the emulated USB endpoint that answers
//! InfoRequest, takes one host at a time, and sees keys put in with ikey-emu.

#[path = "../../tests/common/mod.rs"]
mod common;
mod support;

use std::fs;
use std::io::Read;
use std::thread;
use std::time::{Duration, Instant};

use common::TestHsm;
use ikey_emu::{KeySerial, KeyStore, NewKey, Port};
use ped_proto::device::{DeviceMessage, PedMode};
use ped_proto::frame::Frame;
use support::{Control, Sim, UsbHost, connect, path_arg, socket_arg};

#[test]
fn ped_sim_answers_info_serves_one_host_and_sees_ikey_emu_insertions() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.der");
    fs::write(&root, TestHsm::new("HSM-7").root()).unwrap();
    let keys = dir.path().join("keys");
    let store = KeyStore::open(&keys).unwrap();
    store.create(NewKey { serial: Some(KeySerial(77)), ..NewKey::default() }).unwrap();
    let (usb, control) = (dir.path().join("usb.sock"), dir.path().join("control.sock"));
    let sim = Sim::spawn(&[
        "--headless",
        "--serial",
        "PED-4711",
        "--trusted-root",
        &path_arg(&root),
        "--keys",
        &path_arg(&keys),
        "--port",
        "bench",
        "--usb",
        &socket_arg(&usb),
        "--control",
        &socket_arg(&control),
        "--state",
        &path_arg(&dir.path().join("state")),
    ]);
    let mut control = Control::connect(&control);

    let mut host = UsbHost::plug(&usb);
    host.send(&DeviceMessage::InfoRequest.encode().unwrap());
    let reply = host.recv().expect("an answer");
    let DeviceMessage::Info(info) = DeviceMessage::decode(Frame::decode_exact(&reply).unwrap()).unwrap() else {
        panic!("expected Info")
    };
    assert_eq!(
        (info.serial.as_str(), info.firmware_version.as_str(), info.mode),
        ("PED-4711", "2.9.0-1", PedMode::SelectMode)
    );

    // A second host is unplugged at once: one cable, one PED.
    let mut second = connect(&usb);
    assert_eq!(second.read(&mut [0u8; 16]).unwrap(), 0);
    assert_eq!(control.run("status")["host"], true);

    // `ikey-emu insert` in another process writes the port state; the PED sees it.
    Port::existing(&store, "bench").unwrap().insert(KeySerial(77)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while control.run("status")["key"] != "0000000077" {
        assert!(Instant::now() < deadline, "the insertion was not seen");
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(control.run("remove"), serde_json::json!({"ok": true}));
    assert_eq!(control.run("status")["key"], serde_json::Value::Null);

    assert_eq!(control.run("press 4")["ok"], true);
    let waited = control.run(r#"{"cmd":"wait-screen","arg":"Admin","timeout":10}"#);
    assert_eq!(waited["ok"], true, "{waited}");
    assert_eq!(control.run("screen")["lines"], waited["lines"]);
    assert_eq!(control.run("fly")["ok"], false);

    drop(host);
    assert_eq!(control.run("quit")["ok"], true);
    assert!(sim.wait().success());
}
