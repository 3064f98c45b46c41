//! The confirmations before a key is overwritten (seed 4890-4915): one for a blank
//! key, two for a key that holds a secret.

use ped_proto::pedkey;

use crate::screen::Screen;
use crate::screens::{self, Header};

/// Which confirmation is on screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Overwrite {
    /// "This PED Key is blank. Overwrite? YES/NO"
    Blank,
    /// "This PED Key is for <secret>. Overwrite? YES/NO"
    Named(&'static str),
    /// "Are you sure you want to overwrite this PED key? YES/NO"
    Sure,
}

/// What an answer leads to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Write the key.
    Confirmed,
    /// Ask the next confirmation.
    Again(Overwrite),
    /// Do not write; ask for another key.
    Declined,
}

impl Overwrite {
    /// The first confirmation for a key with this content (`None`: blank).
    pub(crate) fn for_content(content: Option<&[u8]>) -> Self {
        match content {
            None => Overwrite::Blank,
            // A key this firmware did not write is still a key with something on it.
            Some(bytes) => Overwrite::Named(pedkey::identify(bytes).map_or("Unknown", |c| c.secret_name())),
        }
    }

    pub(crate) fn answer(self, yes: bool) -> Answer {
        match (self, yes) {
            (_, false) => Answer::Declined,
            (Overwrite::Named(_), true) => Answer::Again(Overwrite::Sure),
            (Overwrite::Blank | Overwrite::Sure, true) => Answer::Confirmed,
        }
    }

    pub(crate) fn screen(self, h: &Header) -> Screen {
        match self {
            Overwrite::Blank => screens::overwrite_blank(h),
            Overwrite::Named(name) => screens::overwrite_named(h, name),
            Overwrite::Sure => screens::overwrite_sure(h),
        }
    }
}
