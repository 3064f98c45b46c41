//! CreateKeyset: stage 1 (reuse an existing keyset, seed 4796-4845) and stage 2
//! (M of N, seed 4847-4872). Stages 3 and 4 follow when the HSM sends the splits
//! (`write`). `<` with nothing typed goes back a question: from N to M (its value
//! kept), from M to the reuse question when the HSM offered it.

use alloc::vec::Vec;

use ped_proto::command::{Activity, Prompt, ShapeChoice, WrappedSplit};
use ped_proto::quorum::{MAX_SPLITS, Quorum};

use super::copy::Copier;
use super::login::Gather;
use super::{Ctx, Flow};
use crate::entry::Entry;
use crate::hal::{KeyContent, KeyPortError};
use crate::io::Button;
use crate::screen::Screen;
use crate::screens::{self, Header};

/// How stages 1 and 2 end.
#[derive(Debug)]
pub(crate) enum Created {
    /// The holders presented an existing keyset (answered with Reused): its quorum,
    /// wrapped for the HSM.
    Reused(Vec<WrappedSplit>),
    /// A new keyset of this shape (answered with Shape).
    Shape(Quorum),
}

#[derive(Debug)]
enum Step {
    AskReuse,
    Reuse(Gather),
    AskDuplicate(Vec<WrappedSplit>),
    Duplicating(Copier, Vec<WrappedSplit>),
    M(Entry),
    N { m: u8, entry: Entry },
}

/// Stages 1 and 2 in progress.
#[derive(Debug)]
pub(crate) struct Create {
    setting: Header,
    reading: Prompt,
    shape: ShapeChoice,
    offer_reuse: bool,
    step: Step,
}

impl Create {
    /// Starts a creation, or answers at once when there is nothing to ask.
    pub(crate) fn start(prompt: &Prompt, offer_reuse: bool, shape: ShapeChoice) -> Result<Self, Created> {
        let reading = Prompt { activity: Activity::Reading, ..prompt.clone() };
        let step = match (offer_reuse, shape) {
            (true, _) => Step::AskReuse,
            (false, ShapeChoice::OnPed) => Step::M(Entry::new(2)),
            (false, ShapeChoice::Fixed(q)) => return Err(Created::Shape(q)),
        };
        Ok(Create { setting: Header::of(prompt), reading, shape, offer_reuse, step })
    }

    pub(crate) fn header(&self) -> &Header {
        match &self.step {
            Step::Reuse(gather) => gather.header(),
            Step::Duplicating(copier, _) => copier.header(),
            _ => &self.setting,
        }
    }

    pub(crate) fn screen(&self) -> Screen {
        let h = &self.setting;
        match &self.step {
            Step::AskReuse => screens::reuse_keyset(h),
            Step::Reuse(gather) => gather.screen(),
            Step::AskDuplicate(_) => screens::duplicating_reused(&Header::of(&self.reading)),
            Step::Duplicating(copier, _) => copier.screen(),
            Step::M(entry) => screens::m_value(h, entry.as_str()),
            Step::N { entry, .. } => screens::n_value(h, entry.as_str()),
        }
    }

    pub(crate) fn on_button(&mut self, button: Button, ctx: &mut Ctx<'_>) -> Flow<Created> {
        match (&mut self.step, button) {
            (Step::AskReuse, Button::Yes) => {
                self.step = Step::Reuse(Gather::new(&self.reading, self.setting.clone()));
            }
            (Step::AskReuse, Button::No) => return self.new_keyset(),
            (Step::Reuse(gather), _) => {
                let flow = gather.on_button(button, ctx);
                if let Some(flow) = self.reused(flow) {
                    return flow;
                }
            }
            (Step::AskDuplicate(splits), Button::Yes) => {
                let copier = Copier::new(Header::of(&self.reading), Some(self.reading.role.colour()));
                self.step = Step::Duplicating(copier, core::mem::take(splits));
            }
            (Step::AskDuplicate(splits), Button::No) => {
                let splits = core::mem::take(splits);
                return Flow::Done(Created::Reused(splits));
            }
            (Step::Duplicating(copier, splits), _) => match copier.on_button(button, ctx) {
                Flow::Done(_) => {
                    let splits = core::mem::take(splits);
                    return Flow::Done(Created::Reused(splits));
                }
                Flow::Failed(f) => return Flow::Failed(f),
                Flow::Continue => {}
            },
            (Step::M(entry), Button::Digit(d)) => ctx.type_digit(entry, d, || screens::bad_m_or_n(&self.setting, 'M')),
            (Step::N { entry, .. }, Button::Digit(d)) => {
                ctx.type_digit(entry, d, || screens::bad_m_or_n(&self.setting, 'N'));
            }
            (Step::M(entry), Button::Back) if entry.is_empty() && self.offer_reuse => self.step = Step::AskReuse,
            (Step::N { m, entry }, Button::Back) if entry.is_empty() => self.step = Step::M(Entry::holding(2, *m)),
            (Step::M(entry) | Step::N { entry, .. }, Button::Back) => {
                entry.backspace();
            }
            (Step::M(entry) | Step::N { entry, .. }, Button::Clear) => entry.clear(),
            (Step::M(entry), Button::Enter) => match entry.as_str().parse::<u8>() {
                Ok(m @ 1..=MAX_SPLITS) => self.step = Step::N { m, entry: Entry::new(2) },
                _ => {
                    entry.clear();
                    ctx.notify(screens::bad_m_or_n(&self.setting, 'M'), None);
                }
            },
            (Step::N { m, entry }, Button::Enter) => match entry.as_str().parse::<u8>().map(|n| Quorum::new(*m, n)) {
                Ok(Ok(q)) => {
                    ctx.log.push(&alloc::format!("M of N: {} of {}", q.m(), q.n()));
                    return Flow::Done(Created::Shape(q));
                }
                _ => {
                    entry.clear();
                    ctx.notify(screens::bad_m_or_n(&self.setting, 'N'), None);
                }
            },
            _ => {}
        }
        Flow::Continue
    }

    pub(crate) fn on_key_read(
        &mut self,
        result: Result<Option<KeyContent>, KeyPortError>,
        ctx: &mut Ctx<'_>,
    ) -> Flow<Created> {
        match &mut self.step {
            Step::Reuse(gather) => {
                let flow = gather.on_key_read(result, ctx);
                self.reused(flow).unwrap_or(Flow::Continue)
            }
            Step::Duplicating(copier, _) => match copier.on_key_read(result, ctx) {
                Flow::Failed(f) => Flow::Failed(f),
                _ => Flow::Continue,
            },
            _ => Flow::Continue,
        }
    }

    pub(crate) fn on_key_written(&mut self, result: Result<(), KeyPortError>, ctx: &mut Ctx<'_>) -> Flow<Created> {
        match &mut self.step {
            Step::Duplicating(copier, _) => match copier.on_key_written(result, ctx) {
                Flow::Failed(f) => Flow::Failed(f),
                _ => Flow::Continue,
            },
            _ => Flow::Continue,
        }
    }

    /// The quorum of a reused keyset is in: ask about duplicating it.
    fn reused(&mut self, flow: Flow<Vec<WrappedSplit>>) -> Option<Flow<Created>> {
        match flow {
            Flow::Continue => None,
            Flow::Failed(f) => Some(Flow::Failed(f)),
            Flow::Done(splits) => {
                self.step = Step::AskDuplicate(splits);
                None
            }
        }
    }

    fn new_keyset(&mut self) -> Flow<Created> {
        match self.shape {
            ShapeChoice::Fixed(q) => Flow::Done(Created::Shape(q)),
            ShapeChoice::OnPed => {
                self.step = Step::M(Entry::new(2));
                Flow::Continue
            }
        }
    }
}
