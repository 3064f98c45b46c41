//! `-mode update`: loading a firmware image into the PED (Admin → 7 Software Update;
//! seed lines 4420-4663, where LunaPED_Update.exe does it). This module is the upload
//! as a state machine without I/O: it says which device-control frame to send next,
//! takes the PED's answers and the passing of time, and ends in an [`Outcome`].
//! [`run`] drives it over the PED's USB pipe and prints what it reports.
//!
//! The host never judges the image: it has no vendor key. It checks only that the file
//! can be an image at all (its length); the PED verifies the signature and the payload
//! as stored in its flash, and says so in its `UpdateStatus`.
//!
//! The conversation (docs/pedserver.md, "Firmware update"):
//!
//! 1. `InfoRequest`: who the PED is and which firmware it runs.
//! 2. `UpdateBegin` until the PED answers `Uploading`. Before the key holder has answered
//!    YES to "Upload Image?" the PED answers `Refused` and nothing else happens, so the
//!    host asks again every [`POLL_INTERVAL`] for up to the operation timeout (the PED's
//!    own action timeout, 200 s): the person may walk to the PED after starting this.
//! 3. `UpdateChunk`s in order, each at most [`MAX_CHUNK_LEN`] bytes; the PED answers only
//!    a failure.
//! 4. `UpdateEnd`: the PED verifies the image and answers `AwaitingConfirmation` (it asks
//!    "Save Image? YES/NO"), `VerifyFailed`, or `Rollback` for a signed image older than
//!    the PED's minimum (anti-rollback, "Failure (ROLLBACK)").
//! 5. The key holder's YES or NO: `Success`, `SaveFailed` or `Refused`.

pub mod run;

use std::fmt;
use std::time::{Duration, Instant};

use ped_daemon::seconds::{Timeout, in_seconds};
use ped_wire::ErrorCode;
use ped_wire::device::{DeviceMessage, MAX_CHUNK_LEN, MAX_IMAGE_LEN, PedInfo, UpdateState};

/// Time between two `UpdateBegin`s while the PED waits for its YES.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How long the host waits for each answer at the PED unless `-timeout` says otherwise:
/// the PED's PED-key action timeout, so the person has as long as the PED gives them.
pub const DEFAULT_TIMEOUT: Timeout = Timeout::from_secs(200);
/// The PED answers `InfoRequest` at once in every mode; silence means no PED is there.
pub const INFO_TIMEOUT: Duration = Duration::from_secs(5);
/// The shortest image: a 112-byte header, one byte of payload and a 132-byte signature
/// (docs/firmware.md, "Image format").
pub const MIN_IMAGE_LEN: u64 = 112 + 1 + 132;

/// Why a file cannot be an image, before the PED is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageLenError {
    /// Shorter than the smallest image.
    TooShort(u64),
    /// Longer than a PED takes.
    TooLong(u64),
}

impl fmt::Display for ImageLenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageLenError::TooShort(n) => write!(
                f,
                "{n} bytes is too short for a PED firmware image (at least {MIN_IMAGE_LEN}): check that this is the .bin file of the update package"
            ),
            ImageLenError::TooLong(n) => write!(
                f,
                "{n} bytes is too long for a PED firmware image (at most {MAX_IMAGE_LEN}): check that this is the .bin file of the update package"
            ),
        }
    }
}

impl std::error::Error for ImageLenError {}

/// The length of a file that may be an image, as `UpdateBegin` carries it.
pub fn check_image_len(len: u64) -> Result<u32, ImageLenError> {
    if len < MIN_IMAGE_LEN {
        return Err(ImageLenError::TooShort(len));
    }
    u32::try_from(len).ok().filter(|&n| n <= MAX_IMAGE_LEN).ok_or(ImageLenError::TooLong(len))
}

/// Where the upload stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the PED's Info.
    Identify,
    /// Asking with `UpdateBegin` until the key holder has answered YES to "Upload Image?".
    WaitingForYes,
    /// Sending chunks.
    Sending,
    /// `UpdateEnd` sent; the PED verifies the image.
    Verifying,
    /// The PED asks "Save Image? YES/NO".
    WaitingForSave,
    /// Over: see [`Upload::outcome`].
    Done,
}

impl Phase {
    /// What the host was waiting for, in the words of an error message.
    fn waiting_for(self) -> &'static str {
        match self {
            Phase::Identify => "the PED to answer",
            Phase::WaitingForYes => "YES to \"Upload Image?\" on the PED",
            Phase::Sending => "the PED to take the image",
            Phase::Verifying => "the PED to verify the image",
            Phase::WaitingForSave | Phase::Done => "YES or NO to \"Save Image?\" on the PED",
        }
    }
}

/// How an update ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The PED saved the image; it boots at the next power-on.
    Saved,
    /// The key holder said NO (or left Software Update during the upload).
    Refused {
        /// The PED's words.
        detail: String,
    },
    /// The image failed the PED's checks ("Failure (VERIFY) (n)").
    VerifyFailed {
        /// The PED's words, e.g. "Failure (VERIFY) (7): image not signed by the vendor key".
        detail: String,
    },
    /// The image is older than the PED's minimum security version ("Failure (ROLLBACK)").
    Rollback {
        /// The PED's words, e.g. "Failure (ROLLBACK): security version 1 < minimum 2".
        detail: String,
    },
    /// The PED could not save the image.
    SaveFailed {
        /// The PED's words.
        detail: String,
    },
    /// Nobody answered at the PED (or the PED did not) in time.
    TimedOut {
        /// The phase that waited.
        phase: Phase,
        /// The operation timeout that ran out.
        after: Duration,
        /// The PED's last refusal while waiting for YES, if any.
        last_refusal: Option<String>,
    },
    /// The PED went away (unplugged, or the link failed).
    Unplugged {
        /// The phase it went away in.
        phase: Phase,
    },
}

impl Outcome {
    /// `Ok` with the closing line for a saved image; otherwise the outcome as the error,
    /// whose message says what to do.
    pub fn result(&self) -> Result<&'static str, Outcome> {
        match self {
            Outcome::Saved => Ok(SAVED),
            failed => Err(failed.clone()),
        }
    }
}

/// The closing line of a saved image.
const SAVED: &str =
    "PED: Success. Press ENTER on the PED; it runs the new firmware after it is unplugged and reconnected.";

impl std::error::Error for Outcome {}

impl fmt::Display for Outcome {
    /// What happened and what to do (the closing line for a saved image).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const OLD_IMAGE_STAYS: &str = "The PED keeps the image it runs.";
        match self {
            Outcome::Saved => f.write_str(SAVED),
            Outcome::Refused { detail } => write!(
                f,
                "the update was refused at the PED ({detail}). {OLD_IMAGE_STAYS} Run the update again and answer YES to both questions on the PED."
            ),
            Outcome::VerifyFailed { detail } => write!(
                f,
                "{detail}. The PED did not accept the image (it is not the vendor's image for this PED, or it was damaged); {} Check the file (docs/firmware.md, \"Failure numbers\"), then press Enter on the PED.",
                OLD_IMAGE_STAYS.to_lowercase()
            ),
            Outcome::Rollback { detail } => write!(
                f,
                "{detail}. The PED refuses firmware older than the newest it has run (anti-rollback); {} Load the current image for this PED or a newer one (docs/firmware.md, \"Anti-rollback\"), then press Enter on the PED.",
                OLD_IMAGE_STAYS.to_lowercase()
            ),
            Outcome::SaveFailed { detail } => write!(
                f,
                "{detail}. The PED could not save the image; it boots the old image or the new one, both verified. Press Enter on the PED and run the update again; if it fails again, have the PED serviced."
            ),
            Outcome::TimedOut { phase: Phase::Identify, .. } => write!(
                f,
                "the PED did not answer (rx error): {}. Check the cable and that the PED is powered on, then run the update again. If a pedserver runs on this computer, stop it first: pedserver -mode stop.",
                ErrorCode::RcOperationTimedOut
            ),
            Outcome::TimedOut { phase, after, last_refusal } => {
                let said = last_refusal.as_ref().map(|d| format!(" (the PED said: {d})")).unwrap_or_default();
                let next = match phase {
                    Phase::WaitingForYes => {
                        "On the PED choose 4 (Admin mode), then 7 (Software Update), and run the update again; answer YES to \"Upload Image?\"."
                    }
                    Phase::WaitingForSave => {
                        "The PED still asks \"Save Image?\": YES there installs the image, NO keeps the old one."
                    }
                    _ => "The PED keeps the image it runs; run the update again.",
                };
                write!(
                    f,
                    "no answer after waiting {} s for {}{said}: {}. {next}",
                    in_seconds(*after),
                    phase.waiting_for(),
                    ErrorCode::RcOperationTimedOut
                )
            }
            Outcome::Unplugged { phase: Phase::Identify } => write!(
                f,
                "the PED closed the link before it answered (rx error): {}. Another program may hold the PED: if a pedserver runs on this computer, stop it with pedserver -mode stop; otherwise check the cable. Then run the update again.",
                ErrorCode::CkrPedUnplugged
            ),
            Outcome::Unplugged { phase: Phase::WaitingForSave | Phase::Done } => write!(
                f,
                "the PED was unplugged before it reported the save: {}. Look at the PED: \"Success\" means the new image is saved; otherwise it keeps the image it runs.",
                ErrorCode::CkrPedUnplugged
            ),
            Outcome::Unplugged { phase } => write!(
                f,
                "the PED was unplugged while waiting for {}: {}. {OLD_IMAGE_STAYS} Reconnect it and run the update again.",
                phase.waiting_for(),
                ErrorCode::CkrPedUnplugged
            ),
        }
    }
}

/// What the upload has to tell its user, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The PED said who it is.
    Identified(PedInfo),
    /// The key holder must answer YES to "Upload Image?": "PED operation is required
    /// (to upload image)...".
    UploadPrompt,
    /// The PED refused `UpdateBegin` with words not heard before (where it stands).
    Refusal(String),
    /// YES was answered; the chunks start.
    Accepted,
    /// `sent` of `total` bytes are on their way.
    Progress {
        /// Bytes handed to the PED so far.
        sent: u32,
        /// The image's length.
        total: u32,
    },
    /// The whole image and `UpdateEnd` are sent: "(Sent N bytes in M microseconds).".
    AllSent {
        /// The image's length.
        bytes: u32,
        /// From YES to the last frame.
        elapsed: Duration,
    },
    /// The image verified: "PED operation is required (to save image)...".
    SavePrompt,
}

/// One upload, from the first `InfoRequest` to its [`Outcome`].
#[derive(Debug)]
pub struct Upload {
    image: Vec<u8>,
    len: u32,
    timeout: Duration,
    phase: Phase,
    /// When the current wait for the PED ends.
    deadline: Instant,
    /// While waiting for YES: when the next `UpdateBegin` is due; `None` while one is
    /// unanswered, so that each answer is to the latest question.
    next_begin: Option<Instant>,
    info_requested: bool,
    sent: u32,
    accepted_at: Option<Instant>,
    last_refusal: Option<String>,
    events: std::collections::VecDeque<Event>,
    outcome: Option<Outcome>,
}

impl Upload {
    /// An upload of `image`, each wait at the PED lasting at most `timeout`.
    pub fn new(image: Vec<u8>, timeout: Duration, now: Instant) -> Result<Upload, ImageLenError> {
        let len = check_image_len(image.len() as u64)?;
        Ok(Upload {
            image,
            len,
            timeout,
            phase: Phase::Identify,
            deadline: now + INFO_TIMEOUT.min(timeout),
            next_begin: None,
            info_requested: false,
            sent: 0,
            accepted_at: None,
            last_refusal: None,
            events: Default::default(),
            outcome: None,
        })
    }

    /// Where it stands.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// How it ended, once it has.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// The next thing to tell the user.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next frame for the PED, if one is due at `now`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<DeviceMessage> {
        match self.phase {
            Phase::Identify if !self.info_requested => {
                self.info_requested = true;
                Some(DeviceMessage::InfoRequest)
            }
            Phase::WaitingForYes if self.next_begin.is_some_and(|t| t <= now) => {
                self.next_begin = None;
                Some(DeviceMessage::UpdateBegin { image_len: self.len })
            }
            Phase::Sending if self.sent < self.len => {
                let start = self.sent as usize;
                let end = (start + MAX_CHUNK_LEN).min(self.image.len());
                self.sent = end as u32;
                self.events.push_back(Event::Progress { sent: self.sent, total: self.len });
                Some(DeviceMessage::UpdateChunk { offset: start as u32, data: self.image[start..end].to_vec() })
            }
            Phase::Sending => {
                let elapsed = self.accepted_at.map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
                self.events.push_back(Event::AllSent { bytes: self.len, elapsed });
                self.enter(Phase::Verifying, now);
                Some(DeviceMessage::UpdateEnd)
            }
            _ => None,
        }
    }

    /// When [`Upload::handle_timeout`] is due: the next `UpdateBegin` or the end of the
    /// current wait. `None` once done, and while sending (the writes are bounded).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Done | Phase::Sending => None,
            _ => Some(self.next_begin.map_or(self.deadline, |t| t.min(self.deadline))),
        }
    }

    /// Time has passed: gives up when the current wait is over.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !matches!(self.phase, Phase::Done | Phase::Sending) && now >= self.deadline {
            let phase = self.phase;
            let after = if phase == Phase::Identify { INFO_TIMEOUT.min(self.timeout) } else { self.timeout };
            let last_refusal = self.last_refusal.take();
            self.finish(Outcome::TimedOut { phase, after, last_refusal });
        }
    }

    /// The PED's link is gone.
    pub fn handle_unplugged(&mut self) {
        if self.phase != Phase::Done {
            self.finish(Outcome::Unplugged { phase: self.phase });
        }
    }

    /// A device-control message from the PED. Anything that does not fit the phase is
    /// left alone: the answers to the `UpdateChunk`s sent after a failure, or a status
    /// meant for an earlier host.
    pub fn handle_message(&mut self, message: DeviceMessage, now: Instant) {
        match (self.phase, message) {
            (Phase::Identify, DeviceMessage::Info(info)) => {
                self.events.push_back(Event::Identified(info));
                self.events.push_back(Event::UploadPrompt);
                self.enter(Phase::WaitingForYes, now);
                self.next_begin = Some(now);
            }
            (phase, DeviceMessage::UpdateStatus { state, detail }) => self.status(phase, state, detail, now),
            _ => {}
        }
    }

    fn status(&mut self, phase: Phase, state: UpdateState, detail: String, now: Instant) {
        match (phase, state) {
            (Phase::WaitingForYes, UpdateState::Refused) if self.next_begin.is_none() => {
                if self.last_refusal.as_ref() != Some(&detail) {
                    self.events.push_back(Event::Refusal(detail.clone()));
                    self.last_refusal = Some(detail);
                }
                self.next_begin = Some(now + POLL_INTERVAL);
            }
            (Phase::WaitingForYes, UpdateState::Uploading) if self.next_begin.is_none() => {
                self.accepted_at = Some(now);
                self.events.push_back(Event::Accepted);
                self.enter(Phase::Sending, now);
            }
            (Phase::Verifying, UpdateState::AwaitingConfirmation) => {
                self.events.push_back(Event::SavePrompt);
                self.enter(Phase::WaitingForSave, now);
            }
            (Phase::WaitingForSave, UpdateState::Success) => self.finish(Outcome::Saved),
            // Once the image is on its way, a refusal is the key holder's NO (or leaving
            // Software Update), and failures end the update whenever they come.
            (Phase::Sending | Phase::Verifying | Phase::WaitingForSave, UpdateState::Refused) => {
                self.finish(Outcome::Refused { detail })
            }
            (Phase::WaitingForYes | Phase::Sending | Phase::Verifying, UpdateState::VerifyFailed) => {
                self.finish(Outcome::VerifyFailed { detail })
            }
            (Phase::WaitingForYes | Phase::Sending | Phase::Verifying, UpdateState::Rollback) => {
                self.finish(Outcome::Rollback { detail })
            }
            (Phase::WaitingForSave, UpdateState::SaveFailed) => self.finish(Outcome::SaveFailed { detail }),
            _ => {}
        }
    }

    fn enter(&mut self, phase: Phase, now: Instant) {
        self.phase = phase;
        self.deadline = now + self.timeout;
    }

    fn finish(&mut self, outcome: Outcome) {
        self.phase = Phase::Done;
        self.outcome = Some(outcome);
    }
}

/// The progress lines printed when stderr is not a terminal (a log, a test): one each
/// time a quarter of the image is passed, so a 16 MiB image gives four lines, not a
/// thousand. `Some(percent)` when `sent` passes a quarter that `before` had not.
pub fn plain_progress(before: u32, sent: u32, total: u32) -> Option<u32> {
    let quarter = |n: u32| (u64::from(n) * 4 / u64::from(total.max(1))) as u32;
    (quarter(sent) > quarter(before)).then(|| quarter(sent) * 25)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ped_wire::device::PedMode;

    const TIMEOUT: Duration = Duration::from_secs(200);

    fn info() -> PedInfo {
        PedInfo {
            firmware_version: "2.9.0-1".into(),
            serial: "PED-0001".into(),
            mode: PedMode::Admin,
            protocol_versions: vec![1],
            rpk_serials: vec![],
        }
    }

    fn status(state: UpdateState, detail: &str) -> DeviceMessage {
        DeviceMessage::UpdateStatus { state, detail: detail.into() }
    }

    fn events(u: &mut Upload) -> Vec<Event> {
        std::iter::from_fn(|| u.poll_event()).collect()
    }

    /// An upload of `len` bytes (byte i is i mod 251) that has identified its PED.
    fn identified(len: usize, t0: Instant) -> Upload {
        let image: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut u = Upload::new(image, TIMEOUT, t0).unwrap();
        assert_eq!(u.poll_transmit(t0), Some(DeviceMessage::InfoRequest));
        assert_eq!(u.poll_transmit(t0), None, "one InfoRequest");
        u.handle_message(DeviceMessage::Info(info()), t0);
        assert_eq!(events(&mut u), [Event::Identified(info()), Event::UploadPrompt]);
        u
    }

    /// Sends every chunk; returns them with the frame that follows them.
    fn send_all(u: &mut Upload, now: Instant) -> (Vec<(u32, Vec<u8>)>, DeviceMessage) {
        let mut chunks = Vec::new();
        loop {
            match u.poll_transmit(now).expect("a frame while sending") {
                DeviceMessage::UpdateChunk { offset, data } => chunks.push((offset, data)),
                other => return (chunks, other),
            }
        }
    }

    #[test]
    fn lengths_outside_an_image_are_refused_before_the_ped_is_asked() {
        assert_eq!(check_image_len(0), Err(ImageLenError::TooShort(0)));
        assert_eq!(check_image_len(244), Err(ImageLenError::TooShort(244)));
        assert_eq!(check_image_len(245), Ok(245));
        assert_eq!(check_image_len(u64::from(MAX_IMAGE_LEN)), Ok(MAX_IMAGE_LEN));
        assert_eq!(check_image_len(u64::from(MAX_IMAGE_LEN) + 1), Err(ImageLenError::TooLong(16 * 1024 * 1024 + 1)));
        assert_eq!(check_image_len(u64::MAX), Err(ImageLenError::TooLong(u64::MAX)));
        assert!(Upload::new(vec![0; 10], TIMEOUT, Instant::now()).is_err());
        assert!(ImageLenError::TooShort(10).to_string().contains("too short for a PED firmware image"));
    }

    #[test]
    fn a_whole_update_sends_sequential_chunks_and_ends_saved() {
        let t0 = Instant::now();
        let len = 2 * MAX_CHUNK_LEN + 1000;
        let mut u = identified(len, t0);
        assert_eq!(u.poll_transmit(t0), Some(DeviceMessage::UpdateBegin { image_len: len as u32 }));
        let t1 = t0 + Duration::from_secs(3);
        u.handle_message(status(UpdateState::Uploading, "Uploading image"), t1);
        assert_eq!(u.phase(), Phase::Sending);
        assert_eq!(u.poll_timeout(), None, "no deadline while sending");

        let t2 = t1 + Duration::from_micros(1234);
        let (chunks, end) = send_all(&mut u, t2);
        assert_eq!(end, DeviceMessage::UpdateEnd);
        let offsets: Vec<u32> = chunks.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, [0, MAX_CHUNK_LEN as u32, 2 * MAX_CHUNK_LEN as u32]);
        assert!(chunks.iter().all(|(_, d)| d.len() <= MAX_CHUNK_LEN));
        let joined: Vec<u8> = chunks.into_iter().flat_map(|(_, d)| d).collect();
        assert_eq!(joined, u.image, "the image, whole and in order");
        let total = len as u32;
        assert_eq!(
            events(&mut u),
            [
                Event::Accepted,
                Event::Progress { sent: MAX_CHUNK_LEN as u32, total },
                Event::Progress { sent: 2 * MAX_CHUNK_LEN as u32, total },
                Event::Progress { sent: total, total },
                Event::AllSent { bytes: total, elapsed: Duration::from_micros(1234) },
            ]
        );
        assert_eq!(u.phase(), Phase::Verifying);
        assert_eq!(u.poll_transmit(t2), None, "nothing after UpdateEnd");

        u.handle_message(status(UpdateState::AwaitingConfirmation, "Save Image? YES/NO"), t2);
        assert_eq!(events(&mut u), [Event::SavePrompt]);
        assert_eq!(u.poll_timeout(), Some(t2 + TIMEOUT), "the key holder has the whole timeout to save");
        u.handle_message(status(UpdateState::Success, "Success"), t2);
        assert_eq!(u.outcome(), Some(&Outcome::Saved));
        assert!(u.outcome().unwrap().result().is_ok());
        assert_eq!(u.poll_transmit(t2), None);
        assert_eq!(u.poll_timeout(), None);
    }

    #[test]
    fn refusals_before_yes_are_asked_again_until_the_timeout() {
        let t0 = Instant::now();
        let mut u = identified(1000, t0);
        assert!(matches!(u.poll_transmit(t0), Some(DeviceMessage::UpdateBegin { .. })));
        assert_eq!(u.poll_transmit(t0), None, "one UpdateBegin unanswered at a time");
        assert_eq!(u.poll_timeout(), Some(t0 + TIMEOUT));

        let first = "Answer YES to Upload Image? on the PED first";
        u.handle_message(status(UpdateState::Refused, first), t0);
        assert_eq!(events(&mut u), [Event::Refusal(first.into())]);
        assert_eq!(u.poll_timeout(), Some(t0 + POLL_INTERVAL));
        assert_eq!(u.poll_transmit(t0), None, "not before the poll interval");
        let t1 = t0 + POLL_INTERVAL;
        assert!(matches!(u.poll_transmit(t1), Some(DeviceMessage::UpdateBegin { .. })));
        u.handle_message(status(UpdateState::Refused, first), t1);
        assert_eq!(events(&mut u), [], "the same words are said once");

        // The person left the prompt: the PED says where it stands now.
        let t2 = t1 + POLL_INTERVAL;
        assert!(u.poll_transmit(t2).is_some());
        u.handle_message(status(UpdateState::Refused, "Not in Admin mode, Software Update"), t2);
        assert_eq!(events(&mut u), [Event::Refusal("Not in Admin mode, Software Update".into())]);

        u.handle_timeout(t0 + TIMEOUT - Duration::from_millis(1));
        assert_eq!(u.outcome(), None);
        u.handle_timeout(t0 + TIMEOUT);
        let outcome = u.outcome().unwrap().clone();
        assert_eq!(
            outcome,
            Outcome::TimedOut {
                phase: Phase::WaitingForYes,
                after: TIMEOUT,
                last_refusal: Some("Not in Admin mode, Software Update".into())
            }
        );
        let message = outcome.result().unwrap_err().to_string();
        assert!(message.contains("RC_OPERATION_TIMED_OUT"), "{message}");
        assert!(message.contains("7 (Software Update)"), "{message}");
    }

    #[test]
    fn an_answer_to_an_earlier_begin_is_not_taken_for_yes() {
        let t0 = Instant::now();
        let mut u = identified(1000, t0);
        u.poll_transmit(t0);
        u.handle_message(status(UpdateState::Refused, "Answer YES"), t0);
        // Nothing is outstanding now: a stray Uploading is not an answer.
        u.handle_message(status(UpdateState::Uploading, "Uploading image"), t0);
        assert_eq!(u.phase(), Phase::WaitingForYes);
    }

    #[test]
    fn failures_end_the_update_with_the_peds_words() {
        let t0 = Instant::now();
        let seven = "Failure (VERIFY) (7): image not signed by the vendor key";
        let rollback = "Failure (ROLLBACK): security version 1 < minimum 2";
        let cases: [(Phase, DeviceMessage, Outcome); 6] = [
            (
                Phase::Verifying,
                status(UpdateState::VerifyFailed, seven),
                Outcome::VerifyFailed { detail: seven.into() },
            ),
            (
                Phase::Sending,
                status(UpdateState::VerifyFailed, "Failure (VERIFY) (9): flash"),
                Outcome::VerifyFailed { detail: "Failure (VERIFY) (9): flash".into() },
            ),
            (Phase::Verifying, status(UpdateState::Rollback, rollback), Outcome::Rollback { detail: rollback.into() }),
            (
                Phase::Sending,
                status(UpdateState::Refused, "Not in Admin mode, Software Update"),
                Outcome::Refused { detail: "Not in Admin mode, Software Update".into() },
            ),
            (
                Phase::WaitingForSave,
                status(UpdateState::Refused, "Save declined; the image in use stays"),
                Outcome::Refused { detail: "Save declined; the image in use stays".into() },
            ),
            (
                Phase::WaitingForSave,
                status(UpdateState::SaveFailed, "Failure (SAVE)"),
                Outcome::SaveFailed { detail: "Failure (SAVE)".into() },
            ),
        ];
        for (phase, message, expected) in cases {
            let mut u = identified(40_000, t0);
            u.poll_transmit(t0);
            u.handle_message(status(UpdateState::Uploading, "Uploading image"), t0);
            if phase != Phase::Sending {
                send_all(&mut u, t0);
            }
            if phase == Phase::WaitingForSave {
                u.handle_message(status(UpdateState::AwaitingConfirmation, "Save Image? YES/NO"), t0);
            }
            assert_eq!(u.phase(), phase);
            u.handle_message(message, t0);
            assert_eq!(u.outcome(), Some(&expected));
            assert_eq!(u.poll_transmit(t0), None, "nothing is sent after the end");
            // The answers to chunks already under way change nothing.
            u.handle_message(status(UpdateState::Refused, "Answer YES to Upload Image? on the PED first"), t0);
            assert_eq!(u.outcome(), Some(&expected));
        }
        let message = Outcome::VerifyFailed { detail: seven.into() }.result().unwrap_err().to_string();
        assert!(message.starts_with("Failure (VERIFY) (7): image not signed by the vendor key. "), "{message}");
        let message = Outcome::Rollback { detail: rollback.into() }.result().unwrap_err().to_string();
        assert!(message.starts_with(&format!("{rollback}. The PED refuses firmware older than")), "{message}");
        assert!(message.contains("keeps the image it runs"), "{message}");
        let message = Outcome::Refused { detail: "Save declined".into() }.result().unwrap_err().to_string();
        assert!(message.contains("refused"), "{message}");
    }

    #[test]
    fn an_unplugged_ped_ends_the_update_with_ckr_ped_unplugged() {
        let t0 = Instant::now();
        let mut u = identified(40_000, t0);
        u.poll_transmit(t0);
        u.handle_message(status(UpdateState::Uploading, "Uploading image"), t0);
        u.poll_transmit(t0);
        u.handle_unplugged();
        let outcome = u.outcome().unwrap().clone();
        assert_eq!(outcome, Outcome::Unplugged { phase: Phase::Sending });
        let message = outcome.result().unwrap_err().to_string();
        assert!(message.contains("0x8000002e (CKR_PED_UNPLUGGED)"), "{message}");
        assert!(message.contains("keeps the image it runs"), "{message}");
        u.handle_unplugged();
        assert_eq!(u.outcome(), Some(&outcome), "the first end stays");

        // A PED that closes the link before it says anything is held by another program.
        let mut busy = Upload::new(vec![0; 1000], TIMEOUT, t0).unwrap();
        busy.poll_transmit(t0);
        busy.handle_unplugged();
        let message = busy.outcome().unwrap().result().unwrap_err().to_string();
        assert!(message.contains("pedserver -mode stop"), "{message}");
    }

    #[test]
    fn a_silent_ped_times_out_quickly_at_identify() {
        let t0 = Instant::now();
        let mut u = Upload::new(vec![0; 1000], TIMEOUT, t0).unwrap();
        u.poll_transmit(t0);
        assert_eq!(u.poll_timeout(), Some(t0 + INFO_TIMEOUT));
        u.handle_timeout(t0 + INFO_TIMEOUT);
        let message = u.outcome().unwrap().result().unwrap_err().to_string();
        assert!(message.contains("did not answer (rx error)"), "{message}");
    }

    #[test]
    fn plain_progress_is_one_line_per_quarter() {
        let total = 100_000;
        let mut lines = Vec::new();
        let mut before = 0;
        for sent in (16_384..total).step_by(16_384).chain([total]) {
            lines.extend(plain_progress(before, sent, total));
            before = sent;
        }
        assert_eq!(lines, [25, 50, 75, 100]);
        assert_eq!(plain_progress(0, 1000, 1000), Some(100), "a one-chunk image");
        assert_eq!(plain_progress(0, 10, 1000), None);
    }
}
