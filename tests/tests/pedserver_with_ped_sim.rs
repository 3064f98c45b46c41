//! pedserver in front of a real ped-sim process: the PED's identity reaches `show`, and
//! unplugging and replugging the simulated PED is seen while the server keeps running.

use ped_proto::factory::Factory;
use rand_core::SeedableRng;
use tests::{PedServer, ped_sim, wait_until};

#[test]
fn pedserver_reports_ped_sim_and_survives_its_unplug_and_replug() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(6);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let factory = Factory::manufacture(&mut rng, "154438865", now).unwrap();
    let root = dir.path().join("root.der");
    std::fs::write(&root, factory.root.certificate_der()).unwrap();
    let usb = dir.path().join("ped.sock");

    let sim = ped_sim(dir.path(), "PED-0001", &root, &usb);
    wait_until("ped-sim's USB socket", || usb.exists());
    let server = PedServer::start(&format!("socket:{}", usb.display()));
    wait_until("pedserver to read the PED's identity", || {
        let ped = &server.show()["ped"];
        ped["connected"] == true && ped["serial"] == "PED-0001"
    });
    let ped = &server.show()["ped"];
    assert_eq!(ped["protocol_versions"], serde_json::json!([2]));
    assert!(!ped["firmware_version"].as_str().unwrap().is_empty());

    sim.kill();
    std::fs::remove_file(&usb).ok();
    wait_until("pedserver to see the PED unplugged", || server.show()["ped"]["connected"] == false);

    let _sim = ped_sim(dir.path(), "PED-0001", &root, &usb);
    wait_until("pedserver to find the PED again", || server.show()["ped"]["connected"] == true);
}
