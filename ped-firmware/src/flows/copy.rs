//! Exact copies of PED keys (seed 5170-5200, "the PED key is duplicated exactly"):
//! the same bytes, so the same split, salt and PIN. Used by the HSM's
//! DuplicateKeyset, by stage 1's "Are you duplicating this keyset?" and by Admin mode's
//! Duplicate. One key's content at a time is held, never a quorum. `<` at any prompt
//! (not while a key is read or written) stops copying, as No to "Copy another" does:
//! the copies made so far stand.

use alloc::vec::Vec;

use ped_proto::command::{Notice, PedFailure};
use ped_proto::pedkey::{KeyColour, PedKeyPayload};
use zeroize::Zeroizing;

use super::overwrite::{Answer, Overwrite};
use super::{Ctx, Flow};
use crate::hal::{KeyContent, KeyPortError, KeySerial};
use crate::io::Button;
use crate::screen::Screen;
use crate::screens::{self, Header};

#[derive(Debug)]
enum Step {
    InsertSource,
    ReadingSource,
    InsertTarget,
    Inspecting,
    Confirm(Overwrite),
    Writing,
    Another,
}

/// Keys being copied.
pub(crate) struct Copier {
    header: Header,
    /// The colour a source key must have (`None` in Admin mode: any key).
    colour: Option<KeyColour>,
    /// Admin mode copies the key logged in; the others read a source per copy.
    fixed_source: bool,
    source: Option<(Zeroizing<Vec<u8>>, Option<KeySerial>)>,
    copied: u8,
    step: Step,
}

impl core::fmt::Debug for Copier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Copier").field("step", &self.step).field("copied", &self.copied).finish_non_exhaustive()
    }
}

impl Copier {
    /// Copies keys of `colour`, each read first.
    pub(crate) fn new(header: Header, colour: Option<KeyColour>) -> Self {
        Copier { header, colour, fixed_source: false, source: None, copied: 0, step: Step::InsertSource }
    }

    /// Copies the key already read (`content`, from the key `serial`).
    pub(crate) fn of_key(header: Header, content: Zeroizing<Vec<u8>>, serial: Option<KeySerial>) -> Self {
        Copier {
            header,
            colour: None,
            fixed_source: true,
            source: Some((content, serial)),
            copied: 0,
            step: Step::InsertTarget,
        }
    }

    /// The key copied in Admin mode, which stays logged in after the copy.
    pub(crate) fn into_source(self) -> Option<(Zeroizing<Vec<u8>>, Option<KeySerial>)> {
        if self.fixed_source { self.source } else { None }
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    pub(crate) fn screen(&self) -> Screen {
        let h = &self.header;
        match self.step {
            Step::InsertSource | Step::ReadingSource => screens::copy_insert_source(h, self.colour),
            Step::InsertTarget | Step::Inspecting | Step::Writing => screens::copy_insert_target(h, self.copied),
            Step::Confirm(c) => c.screen(h),
            Step::Another => screens::copy_another(h, self.copied),
        }
    }

    pub(crate) fn on_button(&mut self, button: Button, ctx: &mut Ctx<'_>) -> Flow<u8> {
        match (&self.step, button) {
            (Step::InsertSource, Button::Enter) => {
                self.step = Step::ReadingSource;
                ctx.read_key();
            }
            (Step::InsertTarget, Button::Enter) => {
                let source_serial = self.source.as_ref().and_then(|(_, serial)| *serial);
                if source_serial.is_some() && ctx.inserted.map(|k| k.serial) == source_serial {
                    ctx.notify(screens::same_key(&self.header), None);
                } else {
                    self.step = Step::Inspecting;
                    ctx.read_key();
                }
            }
            (Step::Confirm(c), Button::Yes | Button::No) => match c.answer(button == Button::Yes) {
                Answer::Again(next) => self.step = Step::Confirm(next),
                Answer::Declined => self.step = Step::InsertTarget,
                Answer::Confirmed => match &self.source {
                    Some((content, _)) => {
                        ctx.write_key(content);
                        self.step = Step::Writing;
                    }
                    None => self.step = Step::InsertSource,
                },
            },
            (Step::Another, Button::Yes) => {
                self.step = if self.fixed_source { Step::InsertTarget } else { Step::InsertSource };
            }
            (Step::Another, Button::No) => return Flow::Done(self.copied),
            (Step::InsertSource | Step::InsertTarget | Step::Confirm(_) | Step::Another, Button::Back) => {
                return Flow::Done(self.copied);
            }
            _ => {}
        }
        Flow::Continue
    }

    pub(crate) fn on_key_read(
        &mut self,
        result: Result<Option<KeyContent>, KeyPortError>,
        ctx: &mut Ctx<'_>,
    ) -> Flow<u8> {
        let h = &self.header;
        match self.step {
            Step::ReadingSource => {
                self.step = Step::InsertSource;
                match result {
                    Err(_) => ctx.notify(screens::no_key(h), Some(Notice::NoKey)),
                    Ok(None) => ctx.notify(screens::blank_key(h), Some(Notice::NoKey)),
                    Ok(Some(bytes)) => {
                        let bytes = bytes.into_inner();
                        let Ok(payload) = PedKeyPayload::decode(&bytes) else {
                            return Flow::Failed(PedFailure::BadKeyContent);
                        };
                        match self.colour {
                            Some(colour) if colour != payload.colour => {
                                ctx.notify(screens::wrong_colour(h, colour), Some(Notice::WrongColour));
                            }
                            _ => {
                                self.source = Some((bytes, ctx.inserted.map(|k| k.serial)));
                                self.step = Step::InsertTarget;
                            }
                        }
                    }
                }
            }
            Step::Inspecting => match result {
                Ok(content) => self.step = Step::Confirm(Overwrite::for_content(content.as_deref())),
                Err(_) => {
                    self.step = Step::InsertTarget;
                    ctx.notify(screens::no_key(h), None);
                }
            },
            _ => {}
        }
        Flow::Continue
    }

    pub(crate) fn on_key_written(&mut self, result: Result<(), KeyPortError>, ctx: &mut Ctx<'_>) -> Flow<u8> {
        if !matches!(self.step, Step::Writing) {
            return Flow::Continue;
        }
        if result.is_err() {
            return Flow::Failed(PedFailure::KeyWriteFailed);
        }
        self.copied = self.copied.saturating_add(1);
        ctx.log.push("PED Key copied");
        if !self.fixed_source {
            self.source = None;
        }
        self.step = Step::Another;
        Flow::Continue
    }
}
