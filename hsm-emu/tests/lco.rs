//! The Limited Crypto Officer (seed 3328, 6643-6693, 6813-6844) at the command level: a
//! [`Console`] with the real PED core (ped-firmware's test rig) as its local PED, 1-of-1
//! keysets. Who may make, reset and use the LCO; its own failed-login counter and
//! lockout; an LCO command on a partition that has none, or on an HSM whose firmware has
//! no LCO; what `hsm.json` keeps.

#[path = "../../ped-firmware/tests/common/mod.rs"]
mod common;
mod steps;

use std::time::Duration;

use common::{NOW, Rig, present};
use hsm_emu::channel::Firmware;
use hsm_emu::console::{Console, ConsoleConfig, LinkKind, Output};
use hsm_emu::state::Store;
use hsm_emu::{Hsm, HsmError, RoleName};
use ped_firmware::io::Button;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::Value;
use steps::{TIMEOUTS, write_single};

/// A console and its local PED.
struct Bench {
    console: Console,
    firmware: Firmware,
    rig: Rig,
    rng: ChaCha20Rng,
    now: Duration,
    linked: bool,
    /// Frames the console sent to the PED.
    to_ped: usize,
    /// The last command's lines and result.
    lines: Vec<String>,
    done: Option<Result<(), HsmError>>,
    dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Bench {
        Bench::on(Firmware::Current)
    }

    /// An HSM on `firmware`.
    fn on(firmware: Firmware) -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(16);
        let (console, root) = Bench::console(&dir, &mut rng, firmware);
        let rig = Rig::new(root);
        let now = Duration::from_secs(NOW);
        Bench { console, firmware, rig, rng, now, linked: false, to_ped: 0, lines: Vec::new(), done: None, dir }
    }

    fn console(dir: &tempfile::TempDir, rng: &mut ChaCha20Rng, firmware: Firmware) -> (Console, Vec<u8>) {
        let store = Store::open(dir.path().join("hsm")).unwrap();
        let hsm = Hsm::start(&store, "150001", rng, NOW).unwrap();
        let root = hsm.root_der().to_vec();
        let config = ConsoleConfig { local_ped: true, pedclient: false, timeouts: TIMEOUTS };
        (Console::new(hsm, Box::new(store), config, Duration::from_secs(NOW)).with_firmware(firmware), root)
    }

    /// The HSM restarts (every login ends with the process, docs/hsm-emu.md) and a PED
    /// with the same keys is plugged in.
    fn restart(&mut self) {
        let (console, root) = Bench::console(&self.dir, &mut self.rng, self.firmware);
        let keys = self.rig.take_keys();
        self.console = console;
        self.rig = Rig::new(root);
        *self.rig.keys_mut() = keys;
        self.linked = false;
    }

    /// Passes frames both ways until neither end has more.
    fn drive(&mut self) {
        loop {
            let mut moved = false;
            while let Some(output) = self.console.poll_output() {
                moved = true;
                match output {
                    Output::Line(line) => self.lines.push(line),
                    Output::Open(kind) => {
                        assert_eq!(kind, LinkKind::Local);
                        self.linked = true;
                    }
                    Output::Transmit(frame) => {
                        self.to_ped += 1;
                        self.rig.host(frame);
                    }
                    Output::Close => self.linked = false,
                    Output::Done(result) => self.done = Some(result),
                }
            }
            for frame in self.rig.take_sent() {
                if self.linked {
                    self.console.handle_frame(self.now, &mut self.rng, &frame);
                    moved = true;
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn start(&mut self, words: &str) {
        let words: Vec<String> = words.split_whitespace().map(str::to_owned).collect();
        self.lines.clear();
        self.done = None;
        self.console.execute(self.now, &mut self.rng, &words).expect("not refused at once");
        self.drive();
    }

    /// The result of the command started last, once the key holders are done.
    fn finish(&mut self) -> Result<(), HsmError> {
        self.drive();
        self.done.take().unwrap_or_else(|| panic!("still running: {:?} {:?}", self.lines, self.rig.lines()))
    }

    /// A command no key holder answers.
    fn cli(&mut self, words: &str) -> Result<(), HsmError> {
        self.start(words);
        self.finish()
    }

    /// `words` creating one new 1-of-1 keyset on a new blank key with `pin`; the key.
    fn create(&mut self, words: &str, pin: &str) -> usize {
        let key = self.rig.add_key(None);
        self.start(words);
        create_one(self, key, pin);
        self.finish().unwrap_or_else(|e| panic!("{words}: {e}"));
        key
    }

    /// `role login -name NAME` with `key` and `pin`.
    fn login(&mut self, name: &str, key: usize, pin: Option<&str>) -> Result<(), HsmError> {
        self.start(&format!("role login -name {name}"));
        present(&mut self.rig, key, pin);
        self.finish()
    }

    fn state(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.dir.path().join("hsm/hsm.json")).unwrap()).unwrap()
    }

    fn state_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("hsm/hsm.json")).unwrap()
    }

    /// Whether the PED drew a screen with `text` on a line.
    fn drawn(&self, text: &str) -> bool {
        self.rig.drawn.iter().any(|s| s.text_lines().iter().any(|l| l.contains(text)))
    }
}

/// Stage 1 NO, 1 of 1 (the HSM answers with the split to write), then the blank key
/// `key` written with `pin` and no duplicate.
fn create_one(b: &mut Bench, key: usize, pin: &str) {
    b.rig.press(Button::No);
    for n in ["1", "1"] {
        b.rig.digits(n);
        b.rig.enter();
    }
    b.drive();
    write_single(&mut b.rig, key, pin);
    b.drive();
}

fn no_pin(pin: &str) -> Option<&str> {
    (!pin.is_empty()).then_some(pin)
}

const CO_PIN: &str = "2468";
const LCO_PIN: &str = "5791";

/// The keys of [`partition`].
struct Keys {
    po: usize,
    co: usize,
}

/// `hsm init`, the HSM SO logged in, `partition create`, `partition init`, the Partition
/// SO logged in, the CO made by it and logged in.
fn partition(b: &mut Bench) -> Keys {
    let key = b.rig.add_key(None);
    let red = b.rig.add_key(None);
    b.start("hsm init -label lab");
    create_one(b, key, "");
    create_one(b, red, "");
    b.finish().unwrap();
    b.login("so", key, None).unwrap();
    b.cli("partition create").unwrap();
    let (po, red) = (b.rig.add_key(None), b.rig.add_key(None));
    b.start("partition init -label part1");
    create_one(b, po, "");
    create_one(b, red, "");
    b.finish().unwrap();
    b.login("po", po, None).unwrap();
    let co = b.create("role init -name co", CO_PIN);
    b.login("co", co, no_pin(CO_PIN)).unwrap();
    Keys { po, co }
}

/// The error's lunacm lines: `Error in execution`, the sentence, the result line.
fn refused(e: &HsmError) -> String {
    format!("{}\n{}", e.detail, e.result_line())
}

#[test]
fn an_lco_command_on_a_partition_without_an_lco_is_refused_changes_nothing_and_never_reaches_the_ped() {
    let mut b = Bench::new();
    partition(&mut b);
    let (before, frames) = (b.state_text(), b.to_ped);
    for words in ["role login -name lco", "role changepw -name lco", "role resetpw -name lco"] {
        let e = b.cli(words).expect_err(words);
        assert_eq!(
            refused(&e),
            "the Limited Crypto Officer is not initialised; the Crypto Officer makes it with `role init -name lco`\n\
             Command Result : 0x00000102 (CKR_USER_PIN_NOT_INITIALIZED)",
            "{words}"
        );
        assert_eq!(b.lines[0], "Please attend to the PED.");
        assert_eq!(b.lines[1], "Error in execution: CKR_USER_PIN_NOT_INITIALIZED.");
    }
    assert_eq!(b.state_text(), before, "nothing changed");
    assert_eq!(b.to_ped, frames, "the PED was asked nothing");
    assert!(!b.drawn("LCO"), "no LCO prompt on the PED");
    let part = &b.state()["partition"];
    assert_eq!((part["lco"].clone(), part["lco_failures"].clone()), (Value::Null, 0.into()));
}

#[test]
fn the_co_makes_the_lco_which_logs_in_changes_its_keys_and_may_make_the_cu() {
    let mut b = Bench::new();
    let k = partition(&mut b);
    let lco = b.create("role init -name lco", LCO_PIN);
    assert!(b.drawn("SETTING LCO PIN..."), "the PED names the role");
    assert!(b.drawn("PED Key (BLACK)"), "a gray LCO key is black to the PED (seed 4733)");
    let part = b.state()["partition"].clone();
    assert!(part["lco"]["keyset_id"].is_string(), "{part}");
    assert_ne!(part["lco"]["keyset_id"], part["co"]["keyset_id"]);

    // A second `role init` would replace it around the lockout: refused, naming the way.
    let before = b.state_text();
    let e = b.cli("role init -name lco").unwrap_err();
    assert_eq!(
        refused(&e),
        "the Limited Crypto Officer is already initialised; the Crypto Officer replaces it with `role resetpw \
         -name lco`\nCommand Result : 0x00000054 (CKR_FUNCTION_NOT_SUPPORTED)"
    );
    assert_eq!(b.state_text(), before);

    b.login("lco", lco, no_pin(LCO_PIN)).unwrap();
    assert!(b.drawn("LCO LOGIN..."));
    assert!(b.console.hsm().is_logged_in(RoleName::Lco));

    // Its own credential, old keyset first (seed 5340-5350).
    let new = b.rig.add_key(None);
    b.start("role changepw -name lco");
    present(&mut b.rig, lco, no_pin(LCO_PIN));
    b.drive();
    assert!(b.drawn("READING LCO PIN..."));
    create_one(&mut b, new, "");
    b.finish().unwrap();
    b.login("lco", lco, no_pin(LCO_PIN)).unwrap_err();
    b.login("lco", new, None).unwrap();

    // Only the CO makes the LCO; the LCO, like the CO, makes the CU (seed 6660), but
    // resets neither the CU nor itself.
    b.restart();
    b.login("lco", new, None).unwrap();
    let e = b.cli("role init -name lco").unwrap_err();
    assert_eq!(refused(&e), "log in as Crypto Officer first\nCommand Result : 0x00000101 (CKR_USER_NOT_LOGGED_IN)");
    let cu = b.create("role init -name cu", "");
    for words in ["role resetpw -name cu", "role resetpw -name lco"] {
        let e = b.cli(words).unwrap_err();
        assert_eq!(refused(&e), "log in as Crypto Officer first\nCommand Result : 0x00000101 (CKR_USER_NOT_LOGGED_IN)");
    }
    b.login("cu", cu, None).unwrap();

    // The Partition SO alone cannot make it either.
    b.restart();
    b.login("po", k.po, None).unwrap();
    assert_eq!(b.cli("role resetpw -name lco").unwrap_err().detail, "log in as Crypto Officer first");
    assert_eq!(b.cli("role init -name lco").unwrap_err().detail, "log in as Crypto Officer first");
    assert_eq!(
        b.cli("role init -name cu").unwrap_err().detail,
        "log in as Crypto Officer (or Limited Crypto Officer) first"
    );
}

#[test]
fn ten_failed_lco_logins_lock_the_lco_alone_and_the_co_resets_it_whatever_policy_15_says() {
    let mut b = Bench::new();
    let k = partition(&mut b);
    let lco = b.create("role init -name lco", LCO_PIN);
    b.restart();
    for failures in 1..=10 {
        // A wrong PIN, then the CO's black key: both counted, as the CO's would be.
        let e =
            if failures % 2 == 1 { b.login("lco", lco, Some("1111")) } else { b.login("lco", k.co, no_pin(CO_PIN)) }
                .unwrap_err();
        if failures < 10 {
            assert_eq!(
                refused(&e),
                format!(
                    "the keys or PINs presented are not this role's ({failures} of 10 consecutive failures lock \
                     the LCO)\nCommand Result : 0x000000a0 (CKR_PIN_INCORRECT)"
                )
            );
        } else {
            assert_eq!(
                refused(&e),
                "10 consecutive failed LCO logins: the Limited Crypto Officer is locked out (the CO and CU are \
                 not); the Crypto Officer resets it with `role resetpw -name lco`\n\
                 Command Result : 0x000000a4 (CKR_PIN_LOCKED)"
            );
        }
        let part = &b.state()["partition"];
        assert_eq!((part["lco_failures"].clone(), part["user_failures"].clone()), (failures.into(), 0.into()));
    }
    assert_eq!(b.state()["partition"]["lco_locked"], true);

    // Locked: refused before the PED is asked, even with the right key.
    let frames = b.to_ped;
    let e = b.cli("role login -name lco").unwrap_err();
    assert_eq!(
        refused(&e),
        "the Limited Crypto Officer is locked out by failed logins (the CO and CU are not); the Crypto Officer \
         resets it with `role resetpw -name lco`\nCommand Result : 0x000000a4 (CKR_PIN_LOCKED)"
    );
    assert_eq!(b.to_ped, frames);

    // The CO still works (seed 6674) and resets the LCO with HSM policy 15 at 0 (6842).
    assert_eq!(b.state()["so_reset_partition_pin"], false);
    b.login("co", k.co, no_pin(CO_PIN)).unwrap();
    let new = b.create("role resetpw -name lco", "");
    assert!(b.drawn("SETTING LCO PIN..."));
    let part = b.state()["partition"].clone();
    assert_eq!((part["lco_locked"].clone(), part["lco_failures"].clone()), (false.into(), 0.into()));
    b.login("lco", lco, no_pin(LCO_PIN)).unwrap_err();
    assert_eq!(b.state()["partition"]["lco_failures"], 1, "the old key is a failure like any other");
    b.login("lco", new, None).unwrap();
    assert_eq!(b.state()["partition"]["lco_failures"], 0, "a success clears the count");
}

#[test]
fn a_co_and_cu_lockout_leaves_the_lco_and_a_partition_reinit_erases_it() {
    let mut b = Bench::new();
    let k = partition(&mut b);
    let lco = b.create("role init -name lco", "");
    b.restart();
    for _ in 0..10 {
        b.login("co", lco, None).unwrap_err();
    }
    let part = b.state()["partition"].clone();
    assert_eq!((part["users_locked"].clone(), part["lco_locked"].clone()), (true.into(), false.into()));
    for name in ["co", "cu"] {
        let e = b.cli(&format!("role login -name {name}")).unwrap_err();
        assert_eq!(e.result_line(), "Command Result : 0x000000a4 (CKR_PIN_LOCKED)");
    }
    b.login("lco", lco, None).unwrap();

    // Seed 6109: re-initialising the partition erases the CO, LCO and CU credentials and
    // ends their sessions.
    b.login("po", k.po, None).unwrap();
    let (po, domain) = (b.rig.add_key(None), b.rig.add_key(None));
    b.start("partition init -label part1");
    create_one(&mut b, po, "");
    create_one(&mut b, domain, "");
    b.finish().unwrap();
    let part = b.state()["partition"].clone();
    for field in ["co", "cu", "lco"] {
        assert!(part[field].is_null(), "{field}: {part}");
    }
    assert_eq!((part["lco_failures"].clone(), part["lco_locked"].clone()), (0.into(), false.into()));
    assert!(!b.console.hsm().is_logged_in(RoleName::Lco), "the LCO's session ended");
    let e = b.cli("role login -name lco").unwrap_err();
    assert_eq!(
        e.detail,
        "the Limited Crypto Officer is not initialised; the Crypto Officer makes it with `role init -name lco`"
    );
}

/// Seed 6844: "LCO is applicable to Luna HSM Firmware 7.7.0 and newer".
#[test]
fn an_hsm_on_firmware_7_4_2_refuses_every_lco_command_and_keeps_its_other_roles() {
    let mut b = Bench::on(Firmware::parse("7.4.2").unwrap());
    let k = partition(&mut b);
    let (before, frames) = (b.state_text(), b.to_ped);
    for words in ["role init -name lco", "role login -name lco", "role changepw -name lco", "role resetpw -name lco"] {
        let e = b.cli(words).expect_err(words);
        assert_eq!(
            refused(&e),
            "this HSM runs firmware 7.4.2, which has no Limited Crypto Officer: the role needs firmware 7.7.0 or \
             newer\nCommand Result : 0x00000054 (CKR_FUNCTION_NOT_SUPPORTED)",
            "{words}"
        );
    }
    assert_eq!(b.state_text(), before, "nothing changed");
    assert_eq!(b.to_ped, frames, "the PED was asked nothing");
    let cu = b.create("role init -name cu", "");
    b.login("cu", cu, None).unwrap();
    b.login("co", k.co, no_pin(CO_PIN)).unwrap();
}
