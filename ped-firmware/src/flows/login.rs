//! ReadKeyset: a login (seed 4880-4935). Each split goes to the HSM wrapped under the
//! PED→HSM CWK the moment it is unbound from its PIN; the PED keeps no clear split.

use alloc::vec::Vec;

use ped_proto::command::{PedFailure, Prompt, WrappedSplit};

use super::reader::{AcceptedSplit, Reader};
use super::{Ctx, Flow};
use crate::hal::{KeyContent, KeyPortError};
use crate::io::Button;
use crate::screen::Screen;
use crate::screens::Header;

/// Wraps one split for the HSM.
pub(crate) fn wrap(accepted: &AcceptedSplit, ctx: &Ctx<'_>) -> Result<WrappedSplit, PedFailure> {
    let session = ctx.session.ok_or(PedFailure::Busy)?;
    let wrapped = session.wrap_csp(&accepted.value).map_err(|_| PedFailure::Busy)?;
    Ok(WrappedSplit { info: accepted.info, wrapped })
}

/// A quorum being read for the HSM.
#[derive(Debug)]
pub(crate) struct Gather {
    reader: Reader,
    splits: Vec<WrappedSplit>,
}

impl Gather {
    /// Reads keys for `prompt`; `first` heads the first insert prompt.
    pub(crate) fn new(prompt: &Prompt, first: Header) -> Self {
        let rest = Header::of(prompt);
        Gather { reader: Reader::new(first, rest, prompt.role.colour()), splits: Vec::new() }
    }

    /// A login: every screen under the prompt's own header.
    pub(crate) fn login(prompt: &Prompt) -> Self {
        Self::new(prompt, Header::of(prompt))
    }

    pub(crate) fn screen(&self) -> Screen {
        self.reader.screen()
    }

    pub(crate) fn header(&self) -> &Header {
        self.reader.header()
    }

    pub(crate) fn on_button(&mut self, button: Button, ctx: &mut Ctx<'_>) -> Flow<Vec<WrappedSplit>> {
        let step = self.reader.on_button(button, ctx);
        self.take(step, ctx)
    }

    pub(crate) fn on_key_read(
        &mut self,
        result: Result<Option<KeyContent>, KeyPortError>,
        ctx: &mut Ctx<'_>,
    ) -> Flow<Vec<WrappedSplit>> {
        let step = self.reader.on_key_read(result, ctx);
        self.take(step, ctx)
    }

    fn take(&mut self, step: Flow<AcceptedSplit>, ctx: &mut Ctx<'_>) -> Flow<Vec<WrappedSplit>> {
        match step {
            Flow::Continue => Flow::Continue,
            Flow::Failed(f) => Flow::Failed(f),
            Flow::Done(accepted) => match wrap(&accepted, ctx) {
                Err(f) => Flow::Failed(f),
                Ok(split) => {
                    self.splits.push(split);
                    if accepted.complete {
                        ctx.log.push("Keys read: quorum");
                        Flow::Done(core::mem::take(&mut self.splits))
                    } else {
                        Flow::Continue
                    }
                }
            },
        }
    }
}
