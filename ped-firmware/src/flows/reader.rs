//! Reading a quorum of keys of one colour, key by key (seed 4880-4935): insert, Enter,
//! the PIN if the key has one, "Keys read: 01 of 03", another key. Shared by login,
//! the reuse of an existing keyset and the orange key of a Remote PED.
//!
//! Refused at once, re-prompted and never counted: no key, a blank key, a key of
//! another colour, another keyset's key, a split already presented, and (for the
//! orange key of a Remote PED) a keyset the HSM did not list. A key of an older
//! format ends the operation with a notice to re-create it. A wrong PIN is not
//! detectable here: the PIN only unmasks the split, and a wrong one gives a wrong split
//! that the HSM's verifier rejects after the whole quorum.

use alloc::vec::Vec;

use ped_proto::command::{Notice, PedFailure};
use ped_proto::error::{DecodeError, Error};
use ped_proto::pedkey::{KeyColour, PedKeyPayload};
use ped_proto::pin::{PIN_MAX_DIGITS, Pin, apply_pin_mask_with_iterations};
use ped_proto::quorum::{KeysetId, Progress, QuorumCollector, QuorumError, SplitInfo};
use zeroize::Zeroizing;

use super::{Ctx, Flow};
use crate::entry::Entry;
use crate::hal::{KeyContent, KeyPortError};
use crate::io::Button;
use crate::screen::Screen;
use crate::screens::{self, Header};

/// One split read and unbound from its PIN.
pub(crate) struct AcceptedSplit {
    pub(crate) info: SplitInfo,
    /// The split itself: the caller wraps it for the HSM at once, or (orange keys
    /// only) keeps it to reassemble the orange seed.
    pub(crate) value: Zeroizing<Vec<u8>>,
    /// Whether this split completed the quorum.
    pub(crate) complete: bool,
}

enum Step {
    Insert,
    Reading,
    Pin { payload: PedKeyPayload, entry: Entry },
}

/// A quorum being read.
pub(crate) struct Reader {
    first: Header,
    rest: Header,
    colour: KeyColour,
    collector: QuorumCollector<SplitInfo>,
    /// The keysets the HSM accepts (the orange keysets its hello lists); `None`: any.
    keysets: Option<Vec<KeysetId>>,
    step: Step,
}

impl core::fmt::Debug for Reader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reader").field("colour", &self.colour).field("progress", &self.progress()).finish()
    }
}

impl Reader {
    /// Reads keys of `colour`; `first` heads the first insert prompt, `rest` the PINs
    /// and the later prompts (they differ when a keyset is reused: "SETTING SO PIN..."
    /// then "READING SO PIN...").
    pub(crate) fn new(first: Header, rest: Header, colour: KeyColour) -> Self {
        Reader { first, rest, colour, collector: QuorumCollector::new(None), keysets: None, step: Step::Insert }
    }

    /// Reads keys of `colour` from one of `keysets` only: the orange key of a Remote
    /// PED, where the HSM's hello lists the orange keysets whose RPV it holds. A key of
    /// another keyset is refused before its PIN is asked, so that an orange key for
    /// another HSM never costs its holder a failed login.
    pub(crate) fn of_keysets(first: Header, rest: Header, colour: KeyColour, keysets: Vec<KeysetId>) -> Self {
        Reader { keysets: Some(keysets), ..Self::new(first, rest, colour) }
    }

    pub(crate) fn progress(&self) -> Option<Progress> {
        self.collector.progress()
    }

    /// The header of the later prompts, for notices.
    pub(crate) fn header(&self) -> &Header {
        if self.progress().is_some() { &self.rest } else { &self.first }
    }

    pub(crate) fn screen(&self) -> Screen {
        match (&self.step, self.progress()) {
            (Step::Pin { entry, .. }, _) => screens::enter_pin(&self.rest, entry.len()),
            (_, None) => screens::insert_key(&self.first, self.colour),
            (_, Some(p)) => screens::insert_another_read(&self.rest, self.colour, p.read, p.needed),
        }
    }

    pub(crate) fn on_button(&mut self, button: Button, ctx: &mut Ctx<'_>) -> Flow<AcceptedSplit> {
        match (&mut self.step, button) {
            (Step::Insert, Button::Enter) => {
                self.step = Step::Reading;
                ctx.read_key();
            }
            (Step::Pin { entry, .. }, Button::Digit(d)) => {
                ctx.type_digit(entry, d, || screens::pin_too_long(&self.rest))
            }
            (Step::Pin { entry, .. }, Button::Back) => {
                entry.backspace();
            }
            (Step::Pin { entry, .. }, Button::Clear) => entry.clear(),
            (Step::Pin { .. }, Button::Enter) => return self.pin_entered(ctx),
            _ => {}
        }
        Flow::Continue
    }

    pub(crate) fn on_key_read(
        &mut self,
        result: Result<Option<KeyContent>, KeyPortError>,
        ctx: &mut Ctx<'_>,
    ) -> Flow<AcceptedSplit> {
        if !matches!(self.step, Step::Reading) {
            return Flow::Continue;
        }
        self.step = Step::Insert;
        let h = self.header().clone();
        let bytes = match result {
            Ok(Some(bytes)) => bytes.into_inner(),
            Ok(None) => {
                ctx.notify(screens::blank_key(&h), Some(Notice::NoKey));
                return Flow::Continue;
            }
            Err(_) => {
                ctx.notify(screens::no_key(&h), Some(Notice::NoKey));
                return Flow::Continue;
            }
        };
        let payload = match PedKeyPayload::decode(&bytes) {
            Ok(payload) => payload,
            Err(Error::Decode(DecodeError::OldKeyFormat(_))) => return Flow::Failed(PedFailure::OldKeyFormat),
            Err(_) => return Flow::Failed(PedFailure::BadKeyContent),
        };
        if payload.colour != self.colour {
            ctx.notify(screens::wrong_colour(&h, self.colour), Some(Notice::WrongColour));
            return Flow::Continue;
        }
        if self.keysets.as_ref().is_some_and(|ids| !ids.contains(payload.split.keyset_id())) {
            ctx.notify(screens::not_for_this_hsm(&h), Some(Notice::WrongColour));
            return Flow::Continue;
        }
        match self.collector.accept(payload.split) {
            Ok(_) => {}
            Err(QuorumError::AlreadyPresented { .. }) => {
                ctx.notify(screens::already_presented(&h), Some(Notice::AlreadyPresented));
                return Flow::Continue;
            }
            Err(_) => {
                // Another keyset of the same colour: as wrong as a wrong colour, and as
                // harmless, so it is reported the same way.
                ctx.notify(screens::other_keyset(&h), Some(Notice::WrongColour));
                return Flow::Continue;
            }
        }
        if payload.pin_protected {
            self.step = Step::Pin { payload, entry: Entry::new(PIN_MAX_DIGITS) };
            return Flow::Continue;
        }
        self.unmask(payload, None, ctx)
    }

    fn pin_entered(&mut self, ctx: &mut Ctx<'_>) -> Flow<AcceptedSplit> {
        let Step::Pin { entry, .. } = &mut self.step else { return Flow::Continue };
        let Ok(pin) = Pin::parse(entry.as_str()) else {
            // The rule is public; a PIN that breaks it cannot be this key's.
            entry.clear();
            let h = self.rest.clone();
            ctx.notify(screens::pin_rule(&h), None);
            return Flow::Continue;
        };
        let Step::Pin { payload, .. } = core::mem::replace(&mut self.step, Step::Insert) else {
            return Flow::Continue;
        };
        self.unmask(payload, Some(&pin), ctx)
    }

    fn unmask(&mut self, payload: PedKeyPayload, pin: Option<&Pin>, ctx: &mut Ctx<'_>) -> Flow<AcceptedSplit> {
        let iterations = ctx.config.pin_iterations;
        let Ok(value) =
            apply_pin_mask_with_iterations(&payload.masked_split, pin, &payload.salt, &payload.split, iterations)
        else {
            return Flow::Failed(PedFailure::BadKeyContent);
        };
        Flow::Done(AcceptedSplit { info: payload.split, value, complete: self.collector.is_complete() })
    }
}
