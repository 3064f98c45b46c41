//! Every text the PED draws, one function per screen.
//!
//! Screens the seed quotes (lines 3466-3560, 3840-3950, 4664-5200) are reproduced
//! exactly, line for line; the golden tests in `tests/screens.rs` hold them. Screens
//! the seed does not quote (other key colours, notices, the log, self test) follow
//! the seed's style and are listed in docs/firmware.md.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use ped_proto::command::{Activity, Prompt, Role};
use ped_proto::pedkey::KeyColour;

use crate::screen::{COLUMNS, Screen};

/// The two lines naming a key of `colour` in "Insert a ..." prompts. Blue and orange
/// are the seed's; the others are named as "List types" names their secrets.
pub fn key_label(colour: KeyColour) -> [&'static str; 2] {
    match colour {
        KeyColour::Blue => ["SO / HSM Admin", "PED Key (BLUE)"],
        KeyColour::Red => ["Domain", "PED Key (RED)"],
        KeyColour::Orange => ["RPK / Remote", "PED Key (ORANGE)"],
        KeyColour::Black => ["User", "PED Key (BLACK)"],
        KeyColour::White => ["Audit", "PED Key (WHITE)"],
    }
}

/// The role's short name on the activity line ("SO LOGIN...", "SETTING RPV...").
fn role_abbrev(role: Role) -> &'static str {
    match role {
        Role::HsmSo | Role::PartitionSo => "SO",
        Role::HsmDomain | Role::PartitionDomain => "DOMAIN",
        Role::Rpv => "RPV",
        Role::CryptoOfficer => "CO",
        Role::CryptoUser => "CU",
        Role::LimitedCryptoOfficer => "LCO",
        Role::Auditor => "AU",
    }
}

/// The second line of every HSM-driven screen: "SO LOGIN...", "READING SO PIN...",
/// "SETTING SO PIN...". Roles authenticated by a PIN-like secret say "PIN"; the
/// domain and the RPV do not ("SETTING RPV...", as the seed prints it).
pub fn activity_line(role: Role, activity: Activity) -> String {
    let name = role_abbrev(role);
    let pin = if matches!(role, Role::Rpv | Role::HsmDomain | Role::PartitionDomain) { "" } else { " PIN" };
    match activity {
        Activity::Login => format!("{name} LOGIN..."),
        Activity::Reading => format!("READING {name}{pin}..."),
        Activity::Setting => format!("SETTING {name}{pin}..."),
    }
}

/// The first two lines of every screen of an operation: the slot label ("SLOT" in the
/// seed) and the activity ("SO LOGIN...").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Line 1.
    pub slot: String,
    /// Line 2.
    pub activity: String,
}

impl Header {
    /// The header of an HSM command's prompt.
    pub fn of(prompt: &Prompt) -> Self {
        Header { slot: prompt.slot.clone(), activity: activity_line(prompt.role, prompt.activity) }
    }

    /// A header of fixed texts (Admin mode).
    pub fn fixed(slot: &str, activity: &str) -> Self {
        Header { slot: slot.into(), activity: activity.into() }
    }

    /// Seed 3887, 4146: the header of a connection's screens (its one-time password,
    /// its orange key), `label` where the seed prints the slot.
    pub fn session_key(label: &str) -> Self {
        Header::fixed(label, SESSION_KEY)
    }
}

/// Line 2 while a connection's session key is computed (seed 3887, 4146).
const SESSION_KEY: &str = "COMPUTE SESSION KEY.";

/// A screen under header `h`.
fn under(h: &Header, rest: &[&str]) -> Screen {
    let mut lines: Vec<&str> = Vec::with_capacity(2 + rest.len());
    lines.push(&h.slot);
    lines.push(&h.activity);
    lines.extend_from_slice(rest);
    Screen::new(&lines)
}

/// `*` per digit typed, as many as fit on a line.
pub fn stars(digits: usize) -> String {
    "*".repeat(digits.min(COLUMNS))
}

/// Seed 3533: the main menu with the firmware version.
pub fn select_mode(firmware_version: &str) -> Screen {
    let version = format!("PED V.{firmware_version}");
    Screen::new(&["Select Mode", "1 Local PED-SCP", "4 Admin", "7 Remote PED", "0 Local PED-USB", "", &version])
}

/// Not quoted: Local PED-SCP chosen on a PED for 7.x HSMs.
pub fn scp_refused() -> Screen {
    Screen::new(&[
        "Local PED-SCP",
        "is not supported",
        "with HSM firmware",
        "7.x. Use Local",
        "PED-USB (0).",
        "",
        "Press ENTER.",
    ])
}

/// Not quoted: the Remote PED mode's waiting screen; `hsm` once a channel is open.
pub fn remote_idle(hsm: Option<&str>) -> Screen {
    mode_idle("Remote PED mode", hsm)
}

/// Not quoted: the Local PED-USB mode's waiting screen.
pub fn local_idle(hsm: Option<&str>) -> Screen {
    mode_idle("Local PED-USB mode", hsm)
}

fn mode_idle(title: &str, hsm: Option<&str>) -> Screen {
    match hsm {
        Some(id) => Screen::new(&[title, "", "Connected to HSM", id, "", "", "", "< EXIT  > LOG"]),
        None => Screen::new(&[title, "", "Awaiting HSM", "", "", "", "", "< EXIT  > LOG"]),
    }
}

/// Seed 4722, 4874: shown as an HSM command arrives in Remote PED mode.
pub fn token_found(title: &str) -> Screen {
    Screen::new(&[title, "Token found"])
}

/// Seed 3717: leaving Remote (or Local PED-USB) mode.
pub fn exit_warning() -> Screen {
    Screen::new(&["", "** WARNING **", "Exiting now will", "invalidate the RPK.", "Confirm? YES/NO"])
}

/// Seed 3887: the one-time password of a connection before RPV initialisation.
/// `label` stands where the seed prints the slot: the HSM's serial number.
pub fn compute_session_key(label: &str, digits: usize) -> Screen {
    let typed = stars(digits);
    Screen::new(&[label, SESSION_KEY, "", "Enter PED Password.", "", &typed])
}

/// Seed 4810, 4887, 3843: insert the first key of a keyset.
pub fn insert_key(h: &Header, colour: KeyColour) -> Screen {
    let [a, b] = key_label(colour);
    under(h, &["Insert a", a, b, "Press ENTER."])
}

/// Seed 4830, 4915: the next key of a quorum being read.
pub fn insert_another_read(h: &Header, colour: KeyColour, read: u8, needed: u8) -> Screen {
    let [a, b] = key_label(colour);
    let count = format!("Keys read: {read:02} of {needed:02}");
    under(h, &[&count, "Insert another", a, b, "Press ENTER."])
}

/// Seed 4880: the next key of a keyset being written.
pub fn insert_another_write(h: &Header, colour: KeyColour, written: u8, total: u8) -> Screen {
    let [a, b] = key_label(colour);
    let count = format!("Keys write: {written:02} of {total:02}");
    under(h, &[&count, "Insert another", a, b, "Press ENTER."])
}

/// Seed 4821, 4898: the PIN of a key being read.
pub fn enter_pin(h: &Header, digits: usize) -> Screen {
    let typed = stars(digits);
    under(h, &["Enter PED PIN:", &typed])
}

/// Seed 4801: stage 1, reuse an existing keyset.
pub fn reuse_keyset(h: &Header) -> Screen {
    under(h, &["Would you like to", "reuse an existing", "keyset? (Y/N)"])
}

/// Seed 4838: stage 1, duplicate the keyset just read.
pub fn duplicating_reused(h: &Header) -> Screen {
    under(h, &["Are you duplicating", "this keyset? (Y/N)", "Warning: You will", "need all N keys!"])
}

/// The value typed for M or N: `>`, then two digits as the seed's `>03`.
fn two_digits(typed: &str) -> String {
    match typed.len() {
        0 => String::from(">"),
        1 => format!(">0{typed}"),
        _ => format!(">{typed}"),
    }
}

/// Seed 4857: stage 2, M.
pub fn m_value(h: &Header, typed: &str) -> Screen {
    let value = two_digits(typed);
    under(h, &["M value? (1-16)", "", &value])
}

/// Seed 4867: stage 2, N.
pub fn n_value(h: &Header, typed: &str) -> Screen {
    let value = two_digits(typed);
    under(h, &["N value? (M-16)", "", &value])
}

/// Seed 4892: overwriting a blank key.
pub fn overwrite_blank(h: &Header) -> Screen {
    under(h, &["  ** WARNING **", "This PED Key is", "blank.", "Overwrite? YES/NO"])
}

/// Seed 4903: overwriting a key that holds a secret (first confirmation).
pub fn overwrite_named(h: &Header, secret_name: &str) -> Screen {
    let named = format!("{secret_name}.");
    under(h, &["  ** WARNING **", "This PED Key is for", &named, "Overwrite? YES/NO"])
}

/// Seed 4912: overwriting a key that holds a secret (second confirmation).
pub fn overwrite_sure(h: &Header) -> Screen {
    under(h, &["  ** WARNING **", "Are you sure you", "want to overwrite", "this PED key? YES/NO"])
}

/// Seed 4925, 4935: a new PIN and its confirmation; a line of stars appears only once a
/// digit is typed, so Enter twice with nothing typed draws the seed's two-line screen.
pub fn new_pin(h: &Header, first: usize, confirm: Option<usize>) -> Screen {
    let (first_stars, confirm_stars) = (stars(first), stars(confirm.unwrap_or(0)));
    let mut rest: Vec<&str> = alloc::vec!["Enter new PED PIN:"];
    if first > 0 {
        rest.push(&first_stars);
    }
    if let Some(digits) = confirm {
        rest.push("Confirm new PED PIN:");
        if digits > 0 {
            rest.push(&confirm_stars);
        }
    }
    under(h, &rest)
}

/// Seed 4955: stage 4, the first duplicate set.
pub fn duplicating_new(h: &Header) -> Screen {
    under(h, &["Are you duplicating", "this keyset?(Y/N)"])
}

/// Seed 4961: stage 4, another duplicate set.
pub fn another_duplicate_set(h: &Header) -> Screen {
    under(h, &["Would you like to", "make another", "duplicate set?(Y/N)"])
}

/// Seed 3550, 5144: the Admin menu.
pub fn admin_menu() -> Screen {
    Screen::new(&["Admin mode...", "1 PED Key", "5 Backup Devices", "7 Software Update", "9 Self Test", "", "< EXIT"])
}

/// Seed 5181: the PED Key menu before login (the seed prints it both with and without
/// the blank line; this layout keeps "< EXIT" on line 5 in both PED Key menus).
pub fn ped_key_menu() -> Screen {
    Screen::new(&["PED Key mode", "1 Login", "3 List types", "", "< EXIT"])
}

/// Seed 5190: the PED Key menu once a key is logged in.
pub fn ped_key_menu_logged_in() -> Screen {
    Screen::new(&["PED Key mode", "2 Logout", "3 List types", "7 Duplicate", "< EXIT"])
}

/// Seed 5160: "List types" names the secret on the inserted key.
pub fn found_keys(name: &str) -> Screen {
    Screen::new(&["PED Key mode", "Found keys:", name, "", "Press ENTER."])
}

/// Not quoted: Backup Devices (seed 3558: not applicable to 7.x).
pub fn backup_not_applicable() -> Screen {
    Screen::new(&["Backup Devices", "Not applicable to", "Luna 7.x.", "", "Press ENTER."])
}

/// Not quoted: Software Update on a PED configured without a vendor key.
pub fn update_unavailable() -> Screen {
    Screen::new(&["Software Update", "Not available in", "this firmware.", "", "Press ENTER."])
}

/// Not quoted: a notice in the middle of an HSM-driven screen (wrong key, bad PIN).
pub fn notice(h: &Header, what: &[&str]) -> Screen {
    let mut rest: Vec<&str> = Vec::with_capacity(what.len() + 2);
    rest.push("  ** WARNING **");
    rest.extend_from_slice(what);
    rest.push("Press ENTER.");
    under(h, &rest)
}

/// Not quoted: a key of another colour was presented.
pub fn wrong_colour(h: &Header, colour: KeyColour) -> Screen {
    notice(h, &["Wrong PED Key.", "Not a", key_label(colour)[1]])
}

/// Not quoted: a split of this keyset was already presented in this login.
pub fn already_presented(h: &Header) -> Screen {
    notice(h, &["This PED Key was", "already presented."])
}

/// Not quoted: a key of the right colour but another keyset.
pub fn other_keyset(h: &Header) -> Screen {
    notice(h, &["This PED Key is of", "another keyset."])
}

/// Not quoted: an orange key whose keyset the HSM does not hold (another HSM's, or
/// one rotated away from). Nothing was asked or counted.
pub fn not_for_this_hsm(h: &Header) -> Screen {
    notice(h, &["This PED Key is not", "for this HSM."])
}

/// Not quoted: Enter pressed with no key in the port.
pub fn no_key(h: &Header) -> Screen {
    notice(h, &["No PED Key found."])
}

/// Not quoted: a blank key presented where a secret is read.
pub fn blank_key(h: &Header) -> Screen {
    notice(h, &["This PED Key is", "blank."])
}

/// Not quoted: a PIN that breaks the 4-48 digit rule.
pub fn pin_rule(h: &Header) -> Screen {
    notice(h, &["PIN: 4-48 digits,", "not starting with 0"])
}

/// Not quoted: a 49th digit typed for a PIN (the seed's rule: 4-48 digits).
pub fn pin_too_long(h: &Header) -> Screen {
    notice(h, &["A PIN has at most", "48 digits."])
}

/// Not quoted: Enter with part of the one-time password typed, or a 9th digit.
pub fn password_length(h: &Header) -> Screen {
    notice(h, &["The PED Password", "has 8 digits."])
}

/// Not quoted: the confirmation differs from the new PIN.
pub fn pin_mismatch(h: &Header) -> Screen {
    notice(h, &["PINs do not match."])
}

/// Not quoted: M or N out of range.
pub fn bad_m_or_n(h: &Header, which: char) -> Screen {
    let line = if which == 'M' { "M must be 1-16." } else { "N must be M-16." };
    notice(h, &[line])
}

/// Not quoted: the key in the port was written earlier in this operation.
pub fn just_written(h: &Header) -> Screen {
    notice(h, &["This PED Key was", "just written. Use", "another key."])
}

/// Not quoted: the end of an operation that failed, the reason from line 2 (one line
/// per `\n`).
pub fn operation_ended(title: &str, reason: &str) -> Screen {
    let mut lines: Vec<&str> = Vec::with_capacity(6);
    lines.push(title);
    lines.extend(reason.split('\n'));
    lines.extend(["", "Press ENTER."]);
    Screen::new(&lines)
}

/// Not quoted: `>`, the most recent actions since the mode was entered, newest last.
pub fn log(entries: &[String]) -> Screen {
    let shown = &entries[entries.len().saturating_sub(6)..];
    let mut lines: Vec<&str> = Vec::with_capacity(8);
    lines.push("Recent actions:");
    lines.extend(shown.iter().map(String::as_str));
    if shown.is_empty() {
        lines.push("(none)");
    }
    while lines.len() < 7 {
        lines.push("");
    }
    lines.push("Press ENTER.");
    Screen::new(&lines)
}

/// Not quoted: exact copies, insert the key to copy.
pub fn copy_insert_source(h: &Header, colour: Option<KeyColour>) -> Screen {
    let [a, b] = colour.map_or(["PED Key to copy", ""], key_label);
    under(h, &["Insert the", a, b, "Press ENTER."])
}

/// Not quoted: exact copies, insert the key to write.
pub fn copy_insert_target(h: &Header, copied: u8) -> Screen {
    let count = format!("Keys copied: {copied:02}");
    under(h, &[&count, "Insert a blank or", "reusable PED Key", "Press ENTER."])
}

/// Not quoted: exact copies, one more?
pub fn copy_another(h: &Header, copied: u8) -> Screen {
    let count = format!("Keys copied: {copied:02}");
    under(h, &[&count, "Copy another", "PED Key? (Y/N)"])
}

/// Not quoted: self test, the display step (every cell lit).
pub fn self_test_display() -> Screen {
    let full = "#".repeat(COLUMNS);
    Screen::new(&[&full, &full, &full, &full, &full, &full, "", "Display OK? YES/NO"])
}

/// Not quoted: self test, the keypad step; `left` lists the keys not yet pressed.
pub fn self_test_keypad(left: &str) -> Screen {
    Screen::new(&["Self Test: keypad", "Press every key,", "then ENTER.", "Not yet pressed:", left])
}

/// Not quoted: self test, the key port step.
pub fn self_test_key_port() -> Screen {
    Screen::new(&["Self Test: key port", "Insert a PED Key", "Press ENTER."])
}

/// Not quoted: the self-test report (seed 3560: PASS/FAIL).
pub fn self_test_report(keypad: bool, display: bool, key_port: bool) -> Screen {
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let lines = [
        format!("Keypad: {}", verdict(keypad)),
        format!("Display: {}", verdict(display)),
        format!("Key port: {}", verdict(key_port)),
    ];
    Screen::new(&["Self Test", &lines[0], &lines[1], &lines[2], "", "Press ENTER."])
}

/// Not quoted: exact copies, the key to write is the key being copied.
pub fn same_key(h: &Header) -> Screen {
    notice(h, &["This is the key", "being copied."])
}
