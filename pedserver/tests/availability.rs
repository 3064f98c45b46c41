//! The one PED stays reachable (issue 14, item 3): a client that connects right after
//! another said Bye gets the PED, not Busy.

mod common;

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
