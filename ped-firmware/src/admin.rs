//! Admin mode (seed 3543-3560, 5149-5200): PED Key (login, list types, duplicate),
//! Backup Devices, Software Update, Self Test. Nothing here talks to an HSM.
//!
//! Every screen can be left (seed 3496-3507): `<` goes back to the menu a screen was
//! chosen from (the keypad self test, where `<` is a key under test, ends with Enter);
//! in a tool that waits for the key holder (Duplicate, Self Test), Clear held and the
//! PED-key action timeout do the same.

use alloc::string::String;
use alloc::vec::Vec;

use ped_proto::pedkey::{self, PedKeyPayload};
use zeroize::Zeroizing;

use crate::flows::copy::Copier;
use crate::flows::{Ctx, Flow};
use crate::hal::{KeyContent, KeyPortError, KeySerial};
use crate::io::Button;
use crate::screen::Screen;
use crate::screens::{self, Header};

/// The key logged in under PED Key → Login: its content, read once, and its serial.
type Source = (Zeroizing<Vec<u8>>, Option<KeySerial>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyRead {
    Login,
    ListTypes,
}

/// The keypad keys the self test asks for, in the order listed on screen.
const TEST_KEYS: [(Button, &str); 16] = [
    (Button::Digit(1), "1"),
    (Button::Digit(2), "2"),
    (Button::Digit(3), "3"),
    (Button::Digit(4), "4"),
    (Button::Digit(5), "5"),
    (Button::Digit(6), "6"),
    (Button::Digit(7), "7"),
    (Button::Digit(8), "8"),
    (Button::Digit(9), "9"),
    (Button::Digit(0), "0"),
    (Button::Clear, " C"),
    (Button::Back, " <"),
    (Button::Log, " >"),
    (Button::Yes, " Y"),
    (Button::No, " N"),
    (Button::Enter, ""),
];

#[derive(Debug)]
enum SelfTest {
    Display,
    Keypad { display: bool, pressed: u16 },
    KeyPort { display: bool, keypad: bool, reading: bool },
    Report { display: bool, keypad: bool, key_port: bool },
}

#[derive(Debug)]
enum State {
    Menu,
    PedKey { source: Option<Source>, reading: Option<KeyRead> },
    Copy(Copier),
    SelfTest(SelfTest),
}

/// What the core does after an Admin-mode key press.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AdminStep {
    /// Stay in Admin mode.
    Stay,
    /// `<` at the Admin menu: back to Select Mode.
    Exit,
    /// 7 at the Admin menu, with a vendor key configured.
    SoftwareUpdate,
}

/// Admin mode's menus and tools.
#[derive(Debug)]
pub(crate) struct Admin {
    state: State,
}

fn copy_header() -> Header {
    Header::fixed("PED Key mode", "DUPLICATE...")
}

impl Admin {
    pub(crate) fn new() -> Self {
        Admin { state: State::Menu }
    }

    /// Whether a tool waits for the key holder (the PED-key action timeout runs and
    /// Clear held resets it), not a menu.
    pub(crate) fn waiting(&self) -> bool {
        matches!(self.state, State::Copy(_) | State::SelfTest(_))
    }

    /// Clear held or the timeout: leaves the tool for the menu it was chosen from;
    /// the title of the tool left, or `None` in a menu (nothing to reset).
    pub(crate) fn reset(&mut self) -> Option<&'static str> {
        match self.state {
            State::Copy(_) => {
                self.back_to_ped_key();
                Some("PED Key mode")
            }
            State::SelfTest(_) => {
                self.state = State::Menu;
                Some("Self Test")
            }
            State::Menu | State::PedKey { .. } => None,
        }
    }

    /// Whether every key goes to Admin mode (the keypad self test), `>` included.
    pub(crate) fn captures_keys(&self) -> bool {
        matches!(self.state, State::SelfTest(SelfTest::Keypad { .. }))
    }

    pub(crate) fn screen(&self) -> Screen {
        match &self.state {
            State::Menu => screens::admin_menu(),
            State::PedKey { source: None, .. } => screens::ped_key_menu(),
            State::PedKey { source: Some(_), .. } => screens::ped_key_menu_logged_in(),
            State::Copy(copier) => copier.screen(),
            State::SelfTest(SelfTest::Display) => screens::self_test_display(),
            State::SelfTest(SelfTest::Keypad { pressed, .. }) => {
                let left: String = TEST_KEYS
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| pressed & (1 << i) == 0)
                    .map(|(_, (_, name))| *name)
                    .collect();
                screens::self_test_keypad(left.trim_start())
            }
            State::SelfTest(SelfTest::KeyPort { .. }) => screens::self_test_key_port(),
            State::SelfTest(SelfTest::Report { display, keypad, key_port }) => {
                screens::self_test_report(*keypad, *display, *key_port)
            }
        }
    }

    pub(crate) fn on_button(&mut self, button: Button, ctx: &mut Ctx<'_>) -> AdminStep {
        match (&mut self.state, button) {
            (State::Menu, Button::Back) => return AdminStep::Exit,
            (State::Menu, Button::Digit(1)) => self.state = State::PedKey { source: None, reading: None },
            (State::Menu, Button::Digit(5)) => ctx.notify(screens::backup_not_applicable(), None),
            (State::Menu, Button::Digit(7)) if ctx.config.vendor_key.is_some() => return AdminStep::SoftwareUpdate,
            (State::Menu, Button::Digit(7)) => ctx.notify(screens::update_unavailable(), None),
            (State::Menu, Button::Digit(9)) => {
                ctx.log.push("Self test");
                self.state = State::SelfTest(SelfTest::Display);
            }
            (State::PedKey { reading: Some(_), .. }, _) => {}
            (State::PedKey { .. }, Button::Back) => self.state = State::Menu,
            (State::PedKey { source: None, reading }, Button::Digit(1)) => {
                *reading = Some(KeyRead::Login);
                ctx.read_key();
            }
            (State::PedKey { source: source @ Some(_), .. }, Button::Digit(2)) => {
                *source = None;
                ctx.log.push("PED Key logout");
            }
            (State::PedKey { reading, .. }, Button::Digit(3)) => {
                *reading = Some(KeyRead::ListTypes);
                ctx.read_key();
            }
            (State::PedKey { source: Some((content, serial)), .. }, Button::Digit(7)) => {
                let copier = Copier::of_key(copy_header(), content.clone(), *serial);
                self.state = State::Copy(copier);
            }
            (State::Copy(copier), _) => {
                if let Flow::Done(_) | Flow::Failed(_) = copier.on_button(button, ctx) {
                    self.back_to_ped_key();
                }
            }
            (State::SelfTest(test), _) => {
                let finished = Self::self_test_button(test, button, ctx);
                if finished {
                    self.state = State::Menu;
                }
            }
            _ => {}
        }
        AdminStep::Stay
    }

    /// One key press of the self test; true when it ends (Enter on the report, `<`).
    fn self_test_button(test: &mut SelfTest, button: Button, ctx: &mut Ctx<'_>) -> bool {
        match (&mut *test, button) {
            (SelfTest::Display, Button::Yes | Button::No) => {
                *test = SelfTest::Keypad { display: button == Button::Yes, pressed: 0 };
            }
            (SelfTest::Keypad { display, pressed }, Button::Enter) => {
                let all = (1u16 << (TEST_KEYS.len() - 1)) - 1;
                *test = SelfTest::KeyPort { display: *display, keypad: *pressed & all == all, reading: false };
            }
            (SelfTest::Keypad { pressed, .. }, _) => {
                if let Some(i) = TEST_KEYS.iter().position(|(b, _)| *b == button) {
                    *pressed |= 1 << i;
                }
            }
            (SelfTest::KeyPort { reading: reading @ false, .. }, Button::Enter) => {
                *reading = true;
                ctx.read_key();
            }
            (SelfTest::Display | SelfTest::KeyPort { reading: false, .. }, Button::Back) => return true,
            (SelfTest::Report { display, keypad, key_port }, Button::Enter | Button::Back) => {
                let all = *display && *keypad && *key_port;
                ctx.log.push(if all { "Self test: PASS" } else { "Self test: FAIL" });
                return true;
            }
            _ => {}
        }
        false
    }

    pub(crate) fn on_key_read(&mut self, result: Result<Option<KeyContent>, KeyPortError>, ctx: &mut Ctx<'_>) {
        match &mut self.state {
            State::PedKey { source, reading } => match reading.take() {
                Some(KeyRead::ListTypes) => {
                    let name = match &result {
                        Ok(Some(bytes)) => pedkey::identify(bytes).map_or("Unknown", |c| c.secret_name()),
                        Ok(None) => "Blank",
                        Err(_) => "None",
                    };
                    ctx.log.push("List types");
                    ctx.notify(screens::found_keys(name), None);
                }
                Some(KeyRead::Login) => match result {
                    Ok(Some(bytes)) if PedKeyPayload::decode(&bytes).is_ok() => {
                        *source = Some((bytes.into_inner(), ctx.inserted.map(|k| k.serial)));
                        ctx.log.push("PED Key login");
                    }
                    Ok(Some(_)) => ctx.notify(screens::found_keys("Unknown"), None),
                    Ok(None) => ctx.notify(screens::found_keys("Blank"), None),
                    Err(_) => ctx.notify(screens::found_keys("None"), None),
                },
                None => {}
            },
            State::Copy(copier) => {
                if let Flow::Failed(_) = copier.on_key_read(result, ctx) {
                    self.back_to_ped_key();
                }
            }
            State::SelfTest(test) => {
                if let SelfTest::KeyPort { display, keypad, reading: true } = *test {
                    *test = SelfTest::Report { display, keypad, key_port: result.is_ok() };
                }
            }
            State::Menu => {}
        }
    }

    pub(crate) fn on_key_written(&mut self, result: Result<(), KeyPortError>, ctx: &mut Ctx<'_>) {
        if let State::Copy(copier) = &mut self.state
            && let Flow::Failed(_) = copier.on_key_written(result, ctx)
        {
            ctx.notify(screens::operation_ended("PED Key mode", "Key write failed."), None);
            self.back_to_ped_key();
        }
    }

    /// Leaves a copy: the key logged in stays logged in.
    fn back_to_ped_key(&mut self) {
        if let State::Copy(_) = &self.state {
            let State::Copy(copier) = core::mem::replace(&mut self.state, State::Menu) else { return };
            self.state = State::PedKey { source: copier.into_source(), reading: None };
        }
    }
}
