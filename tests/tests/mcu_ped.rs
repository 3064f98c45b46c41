//! The remote ceremony of Chapter 5 with the remote PED being the firmware image
//! (`mcu/ped-board`) on QEMU `mps2-an386`, ped-sim its display, keypad and key port
//! (docs/board.md): local RPV initialisation, `ped connect`, `hsm init` over the remote
//! PED (orange key, blue and red 3 of 5 with PINs and a duplicate set), an SO quorum
//! login, `ped disconnect`. The same assertions as remote_ceremony's first test.
//!
//! Needs the image (`mcu/run-ped.sh --build-only`) and `qemu-system-arm` (`mcu/build.sh`
//! installs both toolchain and QEMU); without them it fails saying so.

use ped_proto::pedkey::KeyColour;
use ped_testkit::KeyHolder;
use tests::ceremony;
use tests::rig::{RemotePed, Rig, Settings};
use tests::sim::shown;

#[test]
fn the_remote_ceremony_and_an_so_login_on_the_firmware_image() {
    let mut rig = Rig::start(&Settings { remote: RemotePed::Mcu, ..Settings::default() });
    assert!(rig.remote.board().is_some(), "the remote PED is the image on QEMU");
    let c = ceremony::run(&mut rig);
    let show = rig.hsm.cli(&["ped", "show"]);
    assert!(show.text.contains("RPV initialized: Yes"), "{}", show.text);
    for (serials, colour) in [(&c.blue, KeyColour::Blue), (&c.red, KeyColour::Red)] {
        for serial in serials {
            let key = rig.keys.content(serial).expect("written by the board");
            assert_eq!(key.colour, colour);
            assert_eq!((key.split.quorum().m(), key.split.quorum().n()), (3, 5));
        }
    }
    let screens = rig.remote.screens();
    for text in ["COMPUTE SESSION KEY.", "SETTING SO PIN...", "SETTING DOMAIN...", "Keys write: 04 of 05"] {
        assert!(shown(&screens, text), "the board showed {text}");
    }

    ceremony::so_login(&mut rig, &c.blue_quorum()).ok();
    assert!(shown(&rig.remote.screens(), "Keys read: 02 of 03"));
    assert_eq!(rig.hsm.state_json()["so_failures"], 0);

    rig.hsm.cli(&["ped", "disconnect"]).ok();
    rig.remote.holder().wait("Awaiting HSM", 30);
    let board = rig.remote.board().expect("the board");
    let (heap, stack) = board.figures();
    // One `<name> <value>` line each, as mcu/budgets.sh reads them (.ci/run).
    eprintln!("heap_peak_bytes {heap}\nstack_peak_bytes {stack}");
    assert!(heap <= 64 * 1024 && stack > 0, "heap {heap}, stack {stack}");
    let log = std::fs::read_to_string(&board.debug_log).unwrap_or_default();
    assert!(!log.contains("PANIC") && !log.contains("out of memory"), "the board's console:\n{log}");
}
