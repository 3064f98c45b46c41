//! WriteSplits: stage 3 for every split and stage 4, the duplicate sets (seed
//! 4870-4965). Each split arrives wrapped under the HSM→PED CWK; the PED unwraps one
//! split at a time, binds it to the PIN typed for that key and writes it.

use alloc::vec::Vec;

use ped_proto::command::{PedFailure, Prompt, WrappedSplit};
use ped_proto::pedkey::{KeyColour, PedKeyPayload};
use ped_proto::pin::{PIN_MAX_DIGITS, Pin, PinSalt, apply_pin_mask_with_iterations};

use super::overwrite::{Answer, Overwrite};
use super::{Ctx, Flow};
use crate::entry::Entry;
use crate::hal::{KeyContent, KeyPortError, KeySerial};
use crate::io::Button;
use crate::screen::Screen;
use crate::screens::{self, Header};

enum Step {
    Insert,
    Inspecting,
    Confirm(Overwrite),
    /// The new PIN, then its confirmation with the PIN the first entry made (`None`:
    /// no PIN, Enter with nothing typed).
    NewPin {
        first: Entry,
        confirm: Option<(Option<Pin>, Entry)>,
    },
    Writing,
    /// Stage 4: "Are you duplicating this keyset?" (first) or "another duplicate set?".
    AskDuplicate,
}

/// A keyset being written.
pub(crate) struct Writer {
    header: Header,
    colour: KeyColour,
    splits: Vec<WrappedSplit>,
    offer_duplicates: bool,
    /// Duplicate sets finished (0 while the originals are written).
    sets_done: u8,
    /// Keys written in the current set.
    written: usize,
    /// Whether the current set is a duplicate set.
    duplicating: bool,
    /// Every key written in this operation: none of them may be overwritten by the next.
    used: Vec<KeySerial>,
    step: Step,
}

impl core::fmt::Debug for Writer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Writer").field("written", &self.written).field("sets_done", &self.sets_done).finish()
    }
}

/// What the writer reports when done: keys of the first set and duplicate sets.
pub(crate) struct Written {
    pub(crate) keys: u8,
    pub(crate) duplicate_sets: u8,
}

impl Writer {
    pub(crate) fn new(prompt: &Prompt, splits: Vec<WrappedSplit>, dup: bool) -> Self {
        Writer {
            header: Header::of(prompt),
            colour: prompt.role.colour(),
            splits,
            offer_duplicates: dup,
            sets_done: 0,
            written: 0,
            duplicating: false,
            used: Vec::new(),
            step: Step::Insert,
        }
    }

    fn total(&self) -> u8 {
        u8::try_from(self.splits.len()).unwrap_or(u8::MAX)
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    pub(crate) fn screen(&self) -> Screen {
        let h = &self.header;
        match &self.step {
            Step::Insert | Step::Inspecting | Step::Writing if self.written == 0 => screens::insert_key(h, self.colour),
            Step::Insert | Step::Inspecting | Step::Writing => {
                screens::insert_another_write(h, self.colour, self.written as u8, self.total())
            }
            Step::Confirm(c) => c.screen(h),
            Step::NewPin { first, confirm } => screens::new_pin(h, first.len(), confirm.as_ref().map(|(_, e)| e.len())),
            Step::AskDuplicate if self.sets_done == 0 => screens::duplicating_new(h),
            Step::AskDuplicate => screens::another_duplicate_set(h),
        }
    }

    pub(crate) fn on_button(&mut self, button: Button, ctx: &mut Ctx<'_>) -> Flow<Written> {
        match (&mut self.step, button) {
            (Step::Insert, Button::Enter) => {
                if ctx.inserted.is_some_and(|k| self.used.contains(&k.serial)) {
                    ctx.notify(screens::just_written(&self.header), None);
                } else {
                    self.step = Step::Inspecting;
                    ctx.read_key();
                }
            }
            (Step::Confirm(c), Button::Yes | Button::No) => match c.answer(button == Button::Yes) {
                Answer::Confirmed => self.step = Step::NewPin { first: Entry::new(PIN_MAX_DIGITS), confirm: None },
                Answer::Again(next) => self.step = Step::Confirm(next),
                Answer::Declined => self.step = Step::Insert,
            },
            (Step::NewPin { first, confirm }, Button::Digit(d)) => {
                ctx.type_digit(typing(first, confirm), d, || screens::pin_too_long(&self.header));
            }
            (Step::NewPin { first, confirm }, Button::Back) => {
                typing(first, confirm).backspace();
            }
            (Step::NewPin { first, confirm }, Button::Clear) => typing(first, confirm).clear(),
            // The rule is checked before the confirmation is asked for.
            (Step::NewPin { first, confirm: confirm @ None }, Button::Enter) if first.is_empty() => {
                *confirm = Some((None, Entry::new(PIN_MAX_DIGITS)));
            }
            (Step::NewPin { first, confirm: confirm @ None }, Button::Enter) => match Pin::parse(first.as_str()) {
                Ok(pin) => *confirm = Some((Some(pin), Entry::new(PIN_MAX_DIGITS))),
                Err(_) => {
                    first.clear();
                    ctx.notify(screens::pin_rule(&self.header), None);
                }
            },
            (Step::NewPin { first, confirm: Some((pin, second)) }, Button::Enter) => {
                if first.as_str() != second.as_str() {
                    ctx.notify(screens::pin_mismatch(&self.header), None);
                    self.step = Step::NewPin { first: Entry::new(PIN_MAX_DIGITS), confirm: None };
                    return Flow::Continue;
                }
                let pin = pin.take();
                return self.write(pin.as_ref(), ctx);
            }
            (Step::AskDuplicate, Button::Yes) => {
                self.written = 0;
                self.duplicating = true;
                self.step = Step::Insert;
            }
            (Step::AskDuplicate, Button::No) => {
                return Flow::Done(Written { keys: self.total(), duplicate_sets: self.sets_done });
            }
            _ => {}
        }
        Flow::Continue
    }

    pub(crate) fn on_key_read(&mut self, result: Result<Option<KeyContent>, KeyPortError>, ctx: &mut Ctx<'_>) {
        if !matches!(self.step, Step::Inspecting) {
            return;
        }
        match result {
            Ok(content) => self.step = Step::Confirm(Overwrite::for_content(content.as_deref())),
            Err(_) => {
                self.step = Step::Insert;
                ctx.notify(screens::no_key(&self.header), None);
            }
        }
    }

    fn write(&mut self, pin: Option<&Pin>, ctx: &mut Ctx<'_>) -> Flow<Written> {
        let split = &self.splits[self.written];
        let Some(session) = ctx.session else { return Flow::Failed(PedFailure::Busy) };
        let Ok(value) = session.unwrap_csp(&split.wrapped) else { return Flow::Failed(PedFailure::Busy) };
        let salt = PinSalt::generate(ctx.rng);
        let Ok(masked) = apply_pin_mask_with_iterations(&value, pin, &salt, &split.info, ctx.config.pin_iterations)
        else {
            return Flow::Failed(PedFailure::Busy);
        };
        let payload = PedKeyPayload {
            colour: self.colour,
            split: split.info,
            pin_protected: pin.is_some(),
            salt,
            masked_split: masked,
        };
        let Ok(bytes) = payload.encode() else { return Flow::Failed(PedFailure::Busy) };
        ctx.write_key(&bytes);
        self.step = Step::Writing;
        Flow::Continue
    }

    pub(crate) fn on_key_written(&mut self, result: Result<(), KeyPortError>, ctx: &mut Ctx<'_>) -> Flow<Written> {
        if !matches!(self.step, Step::Writing) {
            return Flow::Continue;
        }
        if result.is_err() {
            return Flow::Failed(PedFailure::KeyWriteFailed);
        }
        if let Some(key) = ctx.inserted {
            self.used.push(key.serial);
        }
        self.written += 1;
        ctx.log.push(&alloc::format!("Keys write: {:02} of {:02}", self.written, self.total()));
        if self.written < self.splits.len() {
            self.step = Step::Insert;
            return Flow::Continue;
        }
        if self.duplicating {
            self.sets_done += 1;
        }
        if self.offer_duplicates {
            self.step = Step::AskDuplicate;
            Flow::Continue
        } else {
            Flow::Done(Written { keys: self.total(), duplicate_sets: 0 })
        }
    }
}

/// The entry the digits go to: the confirmation once asked, the new PIN before.
fn typing<'a>(first: &'a mut Entry, confirm: &'a mut Option<(Option<Pin>, Entry)>) -> &'a mut Entry {
    match confirm {
        Some((_, entry)) => entry,
        None => first,
    }
}
