//! PED-initiated mode against a real `pedserver -mode connect`: pinned mutual TLS both
//! ways, the parked connection adopted by an HSM, frames relayed over it; a pedserver
//! whose certificate was not registered is refused.

mod common;

use common::{FakePed, PedClient, PedServer, free_port, text, wait_until};
use ped_wire::frame::{self, FrameType};
use ped_wire::hsm_link::HsmLinkMessage;

#[test]
fn pedserver_connects_out_and_an_hsm_uses_its_link() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &["-connectretrydelay", "100"]);
    let client = PedClient::new();

    // Certificates, made and pinned both ways.
    let client_cert = client.regen("appliance1");
    assert!(client_cert.exists());
    let server_cert = server.regen("laptop7");
    let o = client.raw(&["-register", "-certificate", server_cert.to_str().unwrap()]);
    assert!(o.status.success() && text(&o).contains("\"laptop7\""), "{}", text(&o));
    let listen = free_port().to_string();
    server.register_appliance("abox", &client_cert, &listen);

    let client = client.start(&["-pedinitiated", "1", "-listenport", &listen, "-listenip", "127.0.0.1"]);
    // Before pedserver connects, an HSM hears that no PED is there.
    let mut hsm = client.hsm();
    common::closed(hsm.connect_to("", 0), ped_wire::ErrorCode::CkrPedUnplugged.value());

    let o = server.run("connect", &["-name", "abox", "-connectretrydelay", "100"]);
    assert!(o.status.success(), "{}", text(&o));
    wait_until("pedclient to see the pedserver", || !client.show()["daemon"]["ped_initiated"]["connected"].is_null());

    match hsm.connect_to("", 0) {
        HsmLinkMessage::Connected { firmware_version, pedserver, ped_initiated: true } => {
            assert_eq!(firmware_version, "2.9.0");
            // The address pedserver connected from: loopback, its own (ephemeral) port.
            assert!(pedserver.starts_with("127.0.0.1:"), "{pedserver}");
        }
        other => panic!("expected a PED-initiated Connected, got {other:?}"),
    }
    let frames: Vec<Vec<u8>> = (0..5u8).map(|i| frame::encode(FrameType::Record, &[i; 3000])).collect();
    for f in &frames {
        hsm.send(f);
    }
    for f in &frames {
        assert_eq!(hsm.frame().as_ref(), Some(f));
    }
    assert_eq!(*ped.received.lock().unwrap(), frames, "relayed unchanged through TLS and pedserver");

    // Ending the HSM's link ends pedserver's: it connects again for the next session.
    hsm.send_link(&HsmLinkMessage::Disconnect);
    common::closed(hsm.link(), 0);
    wait_until("pedserver's link to end", || server.show()["appliance_link"].is_null());
    wait_until("pedclient to be free", || client.show()["daemon"]["ped_initiated"]["connected"].is_null());
}

#[test]
fn an_unregistered_pedserver_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ped = FakePed::new(dir.path());
    let server = PedServer::start(&ped.spec(), &[]);
    let client = PedClient::new();
    let client_cert = client.regen("appliance1");
    // pedclient pins another pedserver's certificate, not this one's.
    let other = tempfile::tempdir().unwrap();
    let other_config = other.path().join("pedserver.toml");
    let o = std::process::Command::new(common::binary("pedserver"))
        .args(["-regen", "-commonname", "stranger", "-configfile", other_config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let stranger = other.path().join("cert/client/stranger.pem");
    assert!(client.raw(&["-register", "-certificate", stranger.to_str().unwrap()]).status.success());
    server.regen("laptop7");
    let listen = free_port().to_string();
    server.register_appliance("abox", &client_cert, &listen);
    let client = client.start(&["-pedinitiated", "1", "-listenport", &listen, "-listenip", "127.0.0.1"]);
    let o = server.run("connect", &["-name", "abox", "-connectretrydelay", "50", "-socketreadtimeout", "2"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(client.show()["daemon"]["ped_initiated"]["connected"].is_null());
    wait_until("the refusal in pedclient's log", || client.log().contains("TLS handshake with"));
}
