//! Admin → 7 Software Update: the screens and key presses around `update::Updater`,
//! which owns the image format, the flash writes and the A/B rule. Every screen of it
//! can be left as the PED's other screens are: `<` (or NO) goes back to the Admin
//! menu, and the core's Clear held and PED-key action timeout [`abandon`] it.
//!
//! [`abandon`]: SoftwareUpdate::abandon

use alloc::format;

use ped_proto::device::{DeviceMessage, UpdateState};

use crate::io::Button;
use crate::screen::Screen;
use crate::update::image::VendorKey;
use crate::update::slots::{ImageSlots, Slot};
use crate::update::{UpdateError, Updater, VerifiedImage, screens};

#[derive(Debug)]
enum Phase {
    /// "Upload Image? YES/NO"
    Prompt,
    /// YES was pressed: the host may send the image.
    Uploading,
    /// The image verified: "Save Image? YES/NO".
    Save(VerifiedImage),
    /// Success or a failure, until Enter.
    Ended(Screen),
}

/// One visit to the Software Update screen.
#[derive(Debug)]
pub(crate) struct SoftwareUpdate {
    updater: Updater,
    phase: Phase,
}

fn status(state: UpdateState, detail: &str) -> DeviceMessage {
    DeviceMessage::UpdateStatus { state, detail: detail.into() }
}

impl SoftwareUpdate {
    /// Uploads go to the slot the PED is not running from.
    pub(crate) fn new(running: Option<Slot>) -> Self {
        SoftwareUpdate { updater: Updater::new(running), phase: Phase::Prompt }
    }

    pub(crate) fn screen(&self) -> Screen {
        match &self.phase {
            Phase::Prompt => screens::upload_prompt(),
            Phase::Uploading => screens::uploading(),
            Phase::Save(_) => screens::save_prompt(),
            Phase::Ended(screen) => screen.clone(),
        }
    }

    /// A key press; returns whether the screen is left (back to the Admin menu) and the
    /// status to send the host, if any.
    pub(crate) fn on_button(
        &mut self,
        button: Button,
        flash: Option<&mut dyn ImageSlots>,
    ) -> (bool, Option<DeviceMessage>) {
        match (&self.phase, button) {
            (Phase::Prompt, Button::Yes) => self.phase = Phase::Uploading,
            (Phase::Prompt, Button::No | Button::Back) => return (true, None),
            (Phase::Uploading, Button::No | Button::Back) => {
                return (
                    true,
                    Some(status(UpdateState::Refused, "Upload cancelled at the PED; the image in use stays")),
                );
            }
            (Phase::Save(_), Button::No | Button::Back) => {
                self.phase = Phase::Prompt;
                return (true, Some(status(UpdateState::Refused, "Save declined; the image in use stays")));
            }
            (Phase::Save(_), Button::Yes) => {
                let Phase::Save(image) = core::mem::replace(&mut self.phase, Phase::Prompt) else {
                    return (false, None);
                };
                let saved = match flash {
                    Some(flash) => self.updater.save(image, flash),
                    None => Err(UpdateError::NothingToSave),
                };
                return (false, Some(self.end(saved.map(|()| status(UpdateState::Success, "Success")))));
            }
            (Phase::Ended(_), Button::Enter | Button::Back) => return (true, None),
            _ => {}
        }
        (false, None)
    }

    /// Clear held or the timeout ended the visit, `reason` on the screen: the status
    /// to send a host that waits for this PED (an upload or a save under way), if any.
    /// Nothing is written: the image in use stays, and an image awaiting its save is
    /// named by no boot record.
    pub(crate) fn abandon(&mut self, reason: &str) -> Option<DeviceMessage> {
        let waiting = matches!(self.phase, Phase::Uploading | Phase::Save(_));
        self.phase = Phase::Prompt;
        waiting.then(|| status(UpdateState::Refused, &format!("{reason} The image in use stays.")))
    }

    /// An update frame from the host.
    pub(crate) fn on_message(
        &mut self,
        message: DeviceMessage,
        flash: Option<&mut dyn ImageSlots>,
        vendor_key: &VendorKey,
    ) -> Option<DeviceMessage> {
        if !matches!(self.phase, Phase::Uploading) {
            return Some(status(UpdateState::Refused, "Answer YES to Upload Image? on the PED first"));
        }
        let Some(flash) = flash else {
            return Some(status(UpdateState::Refused, "This PED has no update flash"));
        };
        match message {
            DeviceMessage::UpdateBegin { image_len } => {
                let begun = self.updater.begin(image_len, flash);
                Some(self.end(begun.map(|()| status(UpdateState::Uploading, "Uploading image"))))
            }
            DeviceMessage::UpdateChunk { offset, data } => match self.updater.chunk(offset, &data, flash) {
                Ok(()) => None,
                Err(e) => Some(self.end(Err(e))),
            },
            DeviceMessage::UpdateEnd => match self.updater.finish(flash, vendor_key) {
                Ok(image) => {
                    self.phase = Phase::Save(image);
                    Some(status(UpdateState::AwaitingConfirmation, "Save Image? YES/NO"))
                }
                Err(e) => Some(self.end(Err(e))),
            },
            _ => None,
        }
    }

    /// Shows a failure (the session is over) or passes a success through.
    fn end(&mut self, result: Result<DeviceMessage, UpdateError>) -> DeviceMessage {
        match result {
            Ok(message) => {
                if let DeviceMessage::UpdateStatus { state: UpdateState::Success, .. } = message {
                    self.phase = Phase::Ended(screens::success());
                }
                message
            }
            Err(e) => {
                self.phase = Phase::Ended(e.screen());
                e.status()
            }
        }
    }
}
