//! The ceremonies of Chapter 5 as steps, written once over [`Bench`]: the in-memory
//! [`Net`](crate::Net) and the process rig of the `tests` crate both carry them out.
//! Local RPV initialisation, `ped connect`, `hsm init` over the Remote PED (blue and red
//! 3 of 5 with PINs and a duplicate set), logins, role and partition set-up.

use ped_proto::orange::RpkCredential;
use ped_proto::pedkey::{KeyColour, PedKeyPayload};
use ped_proto::pin::{Pin, apply_pin_mask_with_iterations};
use ped_proto::quorum::{Split, reassemble};

use crate::holder::{KeyHolder, KeySpec};
use crate::net::{CliResult, Which};

/// A whole system a ceremony runs on: an HSM's administrator, the key holders at each
/// PED, the PED keys.
pub trait Bench {
    /// The key holders at one PED.
    type Holder<'a>: KeyHolder
    where
        Self: 'a;

    /// Starts a lunacm command at the HSM; [`Bench::finish`] waits for its end.
    fn start(&mut self, words: &[&str]);
    /// The end of the command started last.
    fn finish(&mut self) -> CliResult;
    /// The key holders at PED `which`.
    fn holder(&mut self, which: Which) -> Self::Holder<'_>;
    /// `n` new blank PED keys; their serials.
    fn blank(&mut self, n: usize) -> Vec<String>;
    /// What key `serial` holds (`None`: blank).
    fn key_bytes(&self, serial: &str) -> Option<Vec<u8>>;
    /// The PIN binding iteration count of the bench's PEDs.
    fn pin_iterations(&self) -> u32;

    /// Runs a command no key holder answers.
    fn cli(&mut self, words: &[&str]) -> CliResult {
        self.start(words);
        self.finish()
    }
}

/// The orange key's PIN.
pub const ORANGE_PIN: &str = "81726354";
/// The blue keyset's PINs ("" for none), then its duplicate set's.
pub const BLUE_PINS: [&str; 10] =
    ["739146", "528371", "", "604815", "917263", "846201", "", "385917", "270694", "659042"];
/// The red keyset's PINs, then its duplicate set's.
pub const RED_PINS: [&str; 10] = ["472913", "", "", "", "193847", "472913", "", "", "", "193847"];

/// The keys the ceremony wrote.
#[derive(Debug, Clone)]
pub struct Ceremony {
    /// The orange key (1 of 1).
    pub orange: String,
    /// Blue keys: the set (0-4), then the duplicate set (5-9).
    pub blue: Vec<String>,
    /// Red keys, likewise.
    pub red: Vec<String>,
}

impl Ceremony {
    /// Blue key `i` and its PIN.
    pub fn blue(&self, i: usize) -> KeySpec<'_> {
        (&self.blue[i], BLUE_PINS[i])
    }

    /// A quorum of 3 blue keys from both sets: duplicate split 2, originals 3 and 5.
    pub fn blue_quorum(&self) -> [KeySpec<'_>; 3] {
        [self.blue(6), self.blue(2), self.blue(4)]
    }
}

fn specs<'a>(serials: &'a [String], pins: &[&'a str]) -> Vec<KeySpec<'a>> {
    serials.iter().zip(pins).map(|(s, p)| (s.as_str(), *p)).collect()
}

/// `ped vector init` at the local PED: NO to reusing an orange keyset, a new 1-of-1
/// orange key with [`ORANGE_PIN`], taken out of the local PED afterwards.
pub fn local_rpv(bench: &mut impl Bench) -> String {
    local_rpv_with(bench, ORANGE_PIN)
}

/// [`local_rpv`] with the orange key's PIN `pin`.
pub fn local_rpv_with(bench: &mut impl Bench, pin: &str) -> String {
    let orange = bench.blank(1).remove(0);
    bench.start(&["ped", "vector", "init"]);
    let mut local = bench.holder(Which::Local);
    local.shape(1, 1);
    local.write("(ORANGE)", &[(&orange, pin)], &[]);
    drop(local);
    let out = bench.finish();
    out.ok();
    assert!(out.text.starts_with("Please attend to the PED.\n"), "{}", out.text);
    bench.holder(Which::Local).remove();
    orange
}

/// A keyset `hsm init` creates: M of N, and one PIN per key ("" for none), the set's N
/// first, then N more for each duplicate set.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    /// The quorum.
    pub m: u8,
    /// The keys in a set.
    pub n: u8,
    /// The PINs, `n` per set written.
    pub pins: &'a [&'a str],
}

/// `hsm init -label rig` over the connected Remote PED, which first asks for the orange
/// key (unless `orange` is `None`: its RPK is cached); blue and red 3 of 5 with a
/// duplicate set, [`BLUE_PINS`] and [`RED_PINS`].
pub fn remote_hsm_init(bench: &mut impl Bench, orange: Option<&str>) -> (Vec<String>, Vec<String>) {
    let (blue, red) = (Plan { m: 3, n: 5, pins: &BLUE_PINS }, Plan { m: 3, n: 5, pins: &RED_PINS });
    hsm_init(bench, Which::Remote, orange.map(|o| (o, ORANGE_PIN)), blue, red)
}

/// `hsm init -label rig` at PED `which` with the keysets of `blue` and `red` and the
/// orange key and PIN `orange` (`None`: its RPK is cached, or a local PED); the serials
/// of the blue keys and of the red keys, in the order written.
pub fn hsm_init(
    bench: &mut impl Bench,
    which: Which,
    orange: Option<KeySpec<'_>>,
    blue: Plan<'_>,
    red: Plan<'_>,
) -> (Vec<String>, Vec<String>) {
    let serials = [bench.blank(blue.pins.len()), bench.blank(red.pins.len())];
    bench.start(&["hsm", "init", "-label", "rig"]);
    let mut holder = bench.holder(which);
    if let Some(orange) = orange {
        holder.login("COMPUTE SESSION KEY", &[orange]);
    }
    for ((colour, plan), serials) in [("(BLUE)", blue), ("(RED)", red)].into_iter().zip(&serials) {
        holder.shape(plan.m, plan.n);
        let keys = specs(serials, plan.pins);
        let (set, duplicates) = keys.split_at(usize::from(plan.n));
        let duplicates: Vec<&[KeySpec<'_>]> = duplicates.chunks(usize::from(plan.n)).collect();
        holder.write(colour, set, &duplicates);
    }
    drop(holder);
    bench.finish().ok();
    let [blue, red] = serials;
    (blue, red)
}

/// Local RPV, `ped connect`, remote `hsm init`.
pub fn run(bench: &mut impl Bench) -> Ceremony {
    let orange = local_rpv(bench);
    bench.cli(&["ped", "connect"]).ok();
    let (blue, red) = remote_hsm_init(bench, Some(&orange));
    Ceremony { orange, blue, red }
}

/// The line the PED shows while it reads the keyset of `role login -name NAME`.
pub fn login_prompt(name: &str) -> &'static str {
    match name {
        "co" => "CO LOGIN...",
        "cu" => "CU LOGIN...",
        "au" => "AU LOGIN...",
        // The HSM SO and the Partition SO both hold blue keys (seed 3310-3400).
        _ => "SO LOGIN...",
    }
}

/// `role login -name NAME` answered with `keys` at PED `which`; the CLI's result.
pub fn role_login(bench: &mut impl Bench, which: Which, name: &str, keys: &[KeySpec<'_>]) -> CliResult {
    bench.start(&["role", "login", "-name", name]);
    bench.holder(which).login(login_prompt(name), keys);
    bench.finish()
}

/// `role login -name so` at the Remote PED.
pub fn so_login(bench: &mut impl Bench, keys: &[KeySpec<'_>]) -> CliResult {
    role_login(bench, Which::Remote, "so", keys)
}

/// Stage 1 answered YES (seed 4796-4845): waits for the reuse question, presents the
/// existing keyset's quorum `keys`, and answers NO to duplicating it.
pub fn reuse(holder: &mut impl KeyHolder, keys: &[KeySpec<'_>]) {
    holder.wait("reuse an existing", 60);
    holder.press("yes");
    for (serial, pin) in keys {
        holder.present(serial, pin);
    }
    holder.wait("Are you duplicating", 10);
    holder.press("no");
}

/// A new 1-of-1 keyset at a creation (no reuse, no duplicate): the `colour` prompt
/// (e.g. "(BLACK)"), key `serial` (blank) with `pin`.
pub fn create_one(holder: &mut impl KeyHolder, colour: &str, serial: &str, pin: &str) {
    holder.shape(1, 1);
    holder.write(colour, &[(serial, pin)], &[]);
}

/// `role init -name NAME` (co, cu, au) at PED `which`: a 1-of-1 black (or white) keyset
/// on the blank key `serial` with `pin`; the CLI's result.
pub fn role_init(bench: &mut impl Bench, which: Which, name: &str, serial: &str, pin: &str) -> CliResult {
    let colour = if name == "au" { "(WHITE)" } else { "(BLACK)" };
    bench.start(&["role", "init", "-name", name]);
    create_one(&mut bench.holder(which), colour, serial, pin);
    bench.finish()
}

/// `role init -name NAME` at PED `which`, answered by reusing the existing keyset whose
/// quorum is `keys` (stage 1 YES, no duplicate); the CLI's result.
pub fn role_init_reused(bench: &mut impl Bench, which: Which, name: &str, keys: &[KeySpec<'_>]) -> CliResult {
    bench.start(&["role", "init", "-name", name]);
    reuse(&mut bench.holder(which), keys);
    bench.finish()
}

/// `role changepw -name NAME` (seed 5225-5400): the old keyset `old` read first (the
/// PED says READING), then a new 1-of-1 keyset of `colour` on the blank key `new`.
pub fn change_pw(
    bench: &mut impl Bench,
    which: Which,
    name: &str,
    old: &[KeySpec<'_>],
    colour: &str,
    new: KeySpec<'_>,
) -> CliResult {
    bench.start(&["role", "changepw", "-name", name]);
    let mut holder = bench.holder(which);
    holder.login("READING", old);
    create_one(&mut holder, colour, new.0, new.1);
    drop(holder);
    bench.finish()
}

/// `role resetpw -name NAME` (co, cu; seed 5118-5142) at PED `which`: no keyset is read,
/// a new 1-of-1 black keyset is written on the blank key `serial` with `pin`.
pub fn reset_pw(bench: &mut impl Bench, which: Which, name: &str, serial: &str, pin: &str) -> CliResult {
    bench.start(&["role", "resetpw", "-name", name]);
    create_one(&mut bench.holder(which), "(BLACK)", serial, pin);
    bench.finish()
}

/// Enter on a notice still shown (e.g. "HSM disconnected."), which the next key press
/// would only dismiss.
pub fn dismiss_notice(holder: &mut impl KeyHolder) {
    if holder.screen().iter().any(|l| l == "Press ENTER.") {
        holder.press("enter");
    }
}

/// From Local PED-USB or Remote PED mode back to Select Mode: `<`, then YES to the
/// warning that the cached RPKs are forgotten (seed 3717).
pub fn leave_mode(holder: &mut impl KeyHolder) {
    dismiss_notice(holder);
    holder.press("<");
    holder.wait("invalidate the RPK.", 10);
    holder.press("yes");
    holder.wait("Select Mode", 10);
}

/// From Local PED-USB or Remote PED mode to the Admin menu: [`leave_mode`], then 4 at
/// Select Mode (seed 3533).
pub fn enter_admin_mode(holder: &mut impl KeyHolder) {
    leave_mode(holder);
    holder.press("4");
    holder.wait("Admin mode...", 10);
}

/// Admin mode, PED Key menu: "3 List types" with key `serial` in the port; the name
/// under "Found keys:" (seed 5160-5190), the notice then dismissed.
pub fn list_type(holder: &mut impl KeyHolder, serial: &str) -> String {
    holder.insert(serial);
    holder.press("3");
    let screen = holder.screen();
    assert_eq!(screen[..2], ["PED Key mode", "Found keys:"], "{screen:?}");
    holder.press("enter");
    screen[2].clone()
}

/// The Partition SO's PIN of [`partition`].
pub const PO_PIN: &str = "1357";
/// The CO's PIN of [`partition`].
pub const CO_PIN: &str = "2468";

/// The keys of one partition made by [`partition`], 1 of 1 each: Partition SO (with
/// [`PO_PIN`]), partition domain, CO (with [`CO_PIN`]), CU.
#[derive(Debug)]
pub struct Partition {
    /// The Partition SO's blue key.
    pub po: String,
    /// The partition domain's red key.
    pub domain: String,
    /// The CO's black key.
    pub co: String,
    /// The CU's key.
    pub cu: String,
}

/// With the HSM SO logged in: `partition create` (seed 5095), `partition init -label
/// LABEL` making its Partition SO, then the CO by the Partition SO and the CU by the CO
/// (refused before the CO logs in); the Partition SO and the CO stay logged in.
pub fn partition(bench: &mut impl Bench, which: Which, label: &str) -> Partition {
    bench.cli(&["partition", "create"]).ok();
    let keys = bench.blank(4);
    bench.start(&["partition", "init", "-label", label]);
    let mut holder = bench.holder(which);
    create_one(&mut holder, "(BLUE)", &keys[0], PO_PIN);
    create_one(&mut holder, "(RED)", &keys[1], "");
    drop(holder);
    bench.finish().ok();
    role_login(bench, which, "po", &[(&keys[0], PO_PIN)]).ok();
    role_init(bench, which, "co", &keys[2], CO_PIN).ok();
    bench.cli(&["role", "init", "-name", "cu"]).failed_with("CKR_USER_NOT_LOGGED_IN");
    role_login(bench, which, "co", &[(&keys[2], CO_PIN)]).ok();
    role_init(bench, which, "cu", &keys[3], "").ok();
    let [po, domain, co, cu] = <[String; 4]>::try_from(keys).expect("four keys");
    Partition { po, domain, co, cu }
}

/// What key `serial` holds, decoded.
pub fn content(bench: &impl Bench, serial: &str) -> Option<PedKeyPayload> {
    bench.key_bytes(serial).map(|bytes| PedKeyPayload::decode(&bytes).expect("a PED key the PED wrote"))
}

/// The keyset identity written on key `serial`, in hex as hsm.json spells it.
pub fn keyset_of(bench: &impl Bench, serial: &str) -> String {
    let key = content(bench, serial).expect("a written key");
    key.split.keyset_id().as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Every secret the keys hold, found from the keys and the PINs typed: each masked
/// split as written, each split unmasked, and each keyset's reassembled secret (for the
/// orange keyset, the seed and the RPV and RPK private key derived from it).
pub fn secrets(bench: &impl Bench, keys: &[KeySpec<'_>]) -> Vec<Vec<u8>> {
    let iterations = std::num::NonZeroU32::new(bench.pin_iterations()).expect("a positive count");
    let mut found = Vec::new();
    let mut orange = Vec::new();
    let mut splits: Vec<Split> = Vec::new();
    for (serial, pin) in keys {
        let content = content(bench, serial).expect("a written key");
        let pin = (!pin.is_empty()).then(|| Pin::parse(pin).expect("a PIN"));
        let split = apply_pin_mask_with_iterations(
            &content.masked_split,
            pin.as_ref(),
            &content.salt,
            &content.split,
            iterations,
        )
        .expect("unmasks");
        if content.colour == KeyColour::Orange {
            orange.push(*content.split.keyset_id());
        }
        found.push(content.masked_split.to_vec());
        found.push(split.to_vec());
        splits.push(Split::new(content.split, split).expect("a split"));
    }
    let mut keysets: Vec<Vec<Split>> = Vec::new();
    for split in splits {
        match keysets.iter_mut().find(|k| k[0].keyset_id() == split.keyset_id()) {
            Some(k) if !k.iter().any(|s| s.index() == split.index()) => k.push(split),
            Some(_) => {}
            None => keysets.push(vec![split]),
        }
    }
    for keyset in keysets {
        let secret = reassemble(&keyset).expect("a whole keyset reassembles");
        found.push(secret.to_vec());
        let keyset_id = *keyset[0].keyset_id();
        if orange.contains(&keyset_id) {
            let rpk = RpkCredential::from_seed(keyset_id, &secret).expect("an orange seed");
            found.push(rpk.rpv.expose().to_vec());
            found.push(rpk.static_key.private_bytes().to_vec());
        }
    }
    found
}
