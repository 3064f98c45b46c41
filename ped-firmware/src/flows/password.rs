//! The one-time password of a connection before RPV initialisation (seed 3880-3935):
//! the 8 digits the HSM shows, typed on the keypad. Enter with nothing typed ends the
//! session (seed 3930: the prompt `ped disconnect` leaves behind); Enter with part of
//! the password, or a 9th digit, says that 8 are needed and asks again.

use ped_proto::secrets::PASSWORD_DIGITS;

use super::{Ctx, Flow};
use crate::entry::Entry;
use crate::io::Button;
use crate::screen::Screen;
use crate::screens::{self, Header};

/// The password prompt.
#[derive(Debug)]
pub(crate) struct Password {
    header: Header,
    entry: Entry,
}

impl Password {
    /// The prompt of the connection from the HSM `label`.
    pub(crate) fn new(label: &str) -> Self {
        Password { header: Header::session_key(label), entry: Entry::new(PASSWORD_DIGITS) }
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    pub(crate) fn screen(&self) -> Screen {
        screens::compute_session_key(&self.header.slot, self.entry.len())
    }

    /// The digits typed: all 8, or none.
    pub(crate) fn as_str(&self) -> &str {
        self.entry.as_str()
    }

    /// A key press; Done when Enter is pressed with all 8 digits or with none.
    pub(crate) fn on_button(&mut self, button: Button, ctx: &mut Ctx<'_>) -> Flow<()> {
        match button {
            Button::Digit(d) => ctx.type_digit(&mut self.entry, d, || screens::password_length(&self.header)),
            Button::Back => {
                self.entry.backspace();
            }
            Button::Clear => self.entry.clear(),
            Button::Enter if self.entry.is_empty() || self.entry.len() == PASSWORD_DIGITS => return Flow::Done(()),
            Button::Enter => {
                self.entry.clear();
                ctx.notify(screens::password_length(&self.header), None);
            }
            _ => {}
        }
        Flow::Continue
    }
}
