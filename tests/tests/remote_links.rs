//! Opening, ending and switching remote links, with every component a process: RPV
//! initialisation over a one-time password, a burnt password, a wrong orange key, RPV
//! rotation, a second pedserver, an unplugged PED and the idle timeout.

use tests::ceremony::{self, ORANGE_PIN};
use tests::rig::{Rig, Settings};
use tests::sim::shown;

#[test]
fn remote_rpv_init_with_a_one_time_password_and_three_wrong_tries_burn_one() {
    let mut rig = Rig::start(&Settings { key_timeout: 3, ..Settings::default() });
    let mut remote = rig.remote.holder();

    // Three wrong tries burn the password.
    rig.connect(&["-password", "55555555"]).ok();
    let mut results = Vec::new();
    for _ in 0..3 {
        let init = rig.hsm.start_cli(&["ped", "vector", "init"]);
        remote.password("12345678");
        results.push(init.join().unwrap());
        // The PED says so and waits for Enter before the next try.
        remote.wait("HSM refused.", 10);
        remote.press("enter");
    }
    assert!(results[0].result().contains("PED_ERROR"), "{}", results[0].text);
    results[2].failed_with("PED_ERROR_PASSWORD_BURNT");
    // The burnt password ends the remote link: a new connect is needed.
    assert!(!rig.hsm.cli(&["ped", "show"]).text.contains("Remote PED: connected"));

    // A generated password, typed right: only RPV initialisation goes over it.
    let out = rig.connect(&["-password"]);
    out.ok();
    let shown_line = out.text.lines().find(|l| l.contains("enter following password: ")).expect("shown");
    let password = shown_line.rsplit(' ').next().unwrap().to_owned();
    assert_eq!(password.len(), 8);
    let login = rig.hsm.start_cli(&["role", "login", "-name", "so"]);
    remote.password(&password);
    login.join().unwrap().failed_with("CKR_FUNCTION_NOT_SUPPORTED");
    let orange = rig.keys.blank(1).remove(0);
    let init = rig.hsm.start_cli(&["ped", "vector", "init"]);
    remote.shape(false, 1, 1);
    remote.write("(ORANGE)", &[(&orange, ORANGE_PIN)], &[]);
    init.join().unwrap().ok();
    assert!(rig.hsm.cli(&["ped", "show"]).text.contains("RPV initialized: Yes"));
    assert!(shown(&rig.remote.screens(), "COMPUTE SESSION KEY."));

    // The new RPV opens the next connection.
    rig.hsm.cli(&["ped", "disconnect"]).ok();
    rig.connect(&[]).ok();
    ceremony::remote_hsm_init(&mut rig, &mut remote, Some(&orange));
}
