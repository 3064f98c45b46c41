//! Golden screens: every screen the seed quotes, line for line (seed line numbers in
//! the test names' comments). The flow tests check that the PED draws them in order.

use ped_firmware::screen::Screen;
use ped_firmware::screens::{self, Header};
use ped_proto::command::{Activity, Prompt, Role};
use ped_proto::pedkey::KeyColour;

fn so(activity: Activity) -> Header {
    Header::of(&Prompt { slot: "SLOT".into(), role: Role::HsmSo, activity })
}

fn golden(screen: Screen, seed: &str) {
    let expected: Vec<&str> = seed.lines().collect();
    assert_eq!(screen.text_lines(), expected, "\n{screen}");
    assert!(screen.lines().iter().all(|l| l.chars().count() <= 20));
}

#[test]
fn select_mode_3533() {
    golden(
        screens::select_mode("2.7.1-5"),
        "Select Mode\n1 Local PED-SCP\n4 Admin\n7 Remote PED\n0 Local PED-USB\n\nPED V.2.7.1-5",
    );
}

#[test]
fn admin_menu_3550_and_ped_key_menus_5160_5190() {
    golden(
        screens::admin_menu(),
        "Admin mode...\n1 PED Key\n5 Backup Devices\n7 Software Update\n9 Self Test\n\n< EXIT",
    );
    golden(screens::ped_key_menu(), "PED Key mode\n1 Login\n3 List types\n\n< EXIT");
    golden(screens::ped_key_menu_logged_in(), "PED Key mode\n2 Logout\n3 List types\n7 Duplicate\n< EXIT");
    golden(screens::found_keys("Domain"), "PED Key mode\nFound keys:\nDomain\n\nPress ENTER.");
}

#[test]
fn exit_warning_3717() {
    golden(screens::exit_warning(), "\n** WARNING **\nExiting now will\ninvalidate the RPK.\nConfirm? YES/NO");
}

#[test]
fn rpv_screens_3843_3852_3887() {
    let rpv = Header::of(&Prompt { slot: "SLOT".into(), role: Role::Rpv, activity: Activity::Setting });
    golden(screens::reuse_keyset(&rpv), "SLOT\nSETTING RPV...\nWould you like to\nreuse an existing\nkeyset? (Y/N)");
    golden(
        screens::insert_key(&rpv, KeyColour::Orange),
        "SLOT\nSETTING RPV...\nInsert a\nRPK / Remote\nPED Key (ORANGE)\nPress ENTER.",
    );
    golden(screens::compute_session_key("SLOT", 5), "SLOT\nCOMPUTE SESSION KEY.\n\nEnter PED Password.\n\n*****");
}

#[test]
fn token_found_4722() {
    golden(screens::token_found("Remote PED mode"), "Remote PED mode\nToken found");
}

#[test]
fn stage_1_reuse_4801_4845() {
    let setting = so(Activity::Setting);
    let reading = so(Activity::Reading);
    golden(
        screens::reuse_keyset(&setting),
        "SLOT\nSETTING SO PIN...\nWould you like to\nreuse an existing\nkeyset? (Y/N)",
    );
    golden(
        screens::insert_key(&setting, KeyColour::Blue),
        "SLOT\nSETTING SO PIN...\nInsert a\nSO / HSM Admin\nPED Key (BLUE)\nPress ENTER.",
    );
    golden(screens::enter_pin(&reading, 5), "SLOT\nREADING SO PIN...\nEnter PED PIN:\n*****");
    golden(
        screens::insert_another_read(&reading, KeyColour::Blue, 1, 3),
        "SLOT\nREADING SO PIN...\nKeys read: 01 of 03\nInsert another\nSO / HSM Admin\nPED Key (BLUE)\nPress ENTER.",
    );
    golden(
        screens::duplicating_reused(&reading),
        "SLOT\nREADING SO PIN...\nAre you duplicating\nthis keyset? (Y/N)\nWarning: You will\nneed all N keys!",
    );
}

#[test]
fn stage_2_m_of_n_4857_4867() {
    let h = so(Activity::Setting);
    golden(screens::m_value(&h, "3"), "SLOT\nSETTING SO PIN...\nM value? (1-16)\n\n>03");
    golden(screens::n_value(&h, "05"), "SLOT\nSETTING SO PIN...\nN value? (M-16)\n\n>05");
}

#[test]
fn stage_3_pin_4880_4940() {
    let h = so(Activity::Setting);
    golden(
        screens::insert_another_write(&h, KeyColour::Blue, 3, 5),
        "SLOT\nSETTING SO PIN...\nKeys write: 03 of 05\nInsert another\nSO / HSM Admin\nPED Key (BLUE)\nPress ENTER.",
    );
    golden(
        screens::overwrite_blank(&h),
        "SLOT\nSETTING SO PIN...\n  ** WARNING **\nThis PED Key is\nblank.\nOverwrite? YES/NO",
    );
    golden(
        screens::overwrite_named(&h, "Domain"),
        "SLOT\nSETTING SO PIN...\n  ** WARNING **\nThis PED Key is for\nDomain.\nOverwrite? YES/NO",
    );
    golden(
        screens::overwrite_sure(&h),
        "SLOT\nSETTING SO PIN...\n  ** WARNING **\nAre you sure you\nwant to overwrite\nthis PED key? YES/NO",
    );
    golden(
        screens::new_pin(&h, 5, Some(5)),
        "SLOT\nSETTING SO PIN...\nEnter new PED PIN:\n*****\nConfirm new PED PIN:\n*****",
    );
    golden(screens::new_pin(&h, 0, Some(0)), "SLOT\nSETTING SO PIN...\nEnter new PED PIN:\nConfirm new PED PIN:");
}

#[test]
fn stage_4_duplicates_4955_4961() {
    let h = so(Activity::Setting);
    golden(screens::duplicating_new(&h), "SLOT\nSETTING SO PIN...\nAre you duplicating\nthis keyset?(Y/N)");
    golden(
        screens::another_duplicate_set(&h),
        "SLOT\nSETTING SO PIN...\nWould you like to\nmake another\nduplicate set?(Y/N)",
    );
}

#[test]
fn login_5010_5040() {
    let h = so(Activity::Login);
    golden(
        screens::insert_key(&h, KeyColour::Blue),
        "SLOT\nSO LOGIN...\nInsert a\nSO / HSM Admin\nPED Key (BLUE)\nPress ENTER.",
    );
    golden(screens::enter_pin(&h, 5), "SLOT\nSO LOGIN...\nEnter PED PIN:\n*****");
    golden(
        screens::insert_another_read(&h, KeyColour::Blue, 1, 2),
        "SLOT\nSO LOGIN...\nKeys read: 01 of 02\nInsert another\nSO / HSM Admin\nPED Key (BLUE)\nPress ENTER.",
    );
}

#[test]
fn screens_the_seed_does_not_quote_follow_its_style() {
    let co = Header::of(&Prompt { slot: "PART1".into(), role: Role::CryptoOfficer, activity: Activity::Login });
    golden(
        screens::insert_key(&co, KeyColour::Black),
        "PART1\nCO LOGIN...\nInsert a\nUser\nPED Key (BLACK)\nPress ENTER.",
    );
    let dom = Header::of(&Prompt { slot: "SLOT".into(), role: Role::HsmDomain, activity: Activity::Setting });
    golden(
        screens::insert_key(&dom, KeyColour::Red),
        "SLOT\nSETTING DOMAIN...\nInsert a\nDomain\nPED Key (RED)\nPress ENTER.",
    );
    let au = Header::of(&Prompt { slot: "SLOT".into(), role: Role::Auditor, activity: Activity::Reading });
    golden(
        screens::insert_key(&au, KeyColour::White),
        "SLOT\nREADING AU PIN...\nInsert a\nAudit\nPED Key (WHITE)\nPress ENTER.",
    );
    // Every screen fits the 8 x 20 display.
    for screen in [
        screens::scp_refused(),
        screens::remote_idle(Some("HSM-1")),
        screens::local_idle(None),
        screens::backup_not_applicable(),
        screens::update_unavailable(),
        screens::self_test_display(),
        screens::self_test_keypad("1234567890 C < > Y N"),
        screens::self_test_key_port(),
        screens::self_test_report(true, true, false),
        screens::log(&vec![String::from("Mode: Remote PED"); 9]),
    ] {
        assert!(screen.text_lines().len() <= 8);
    }
}
