//! Firmware update and boot, the Admin menu's "7 Software Update" (seed lines
//! 4420-4663), as a sans-IO module: the caller feeds it the host's device-control
//! frames and the key holder's answers, and hands it the flash ([`ImageSlots`]).
//!
//! The A/B rule. The image in use stays where it is; an upload goes to the *other*
//! slot, written chunk by chunk as it arrives (the PED never holds an image in RAM),
//! and is verified there (header, length, vendor signature, payload hash). Only the
//! key holder's YES at "Save Image?" changes anything that boot looks at: one write
//! of a boot record naming the new slot, to the older of the record's two copies.
//!
//! An image boots only if a valid boot record names it, or, on a PED whose flash has
//! no valid record at all, if it is the factory's image in slot A. [`boot`] tries the
//! slot the newest record names, then the slot the other record names (the image
//! saved before it), verifying each. Uploads never go to slot A while no record
//! exists, and [`Updater::begin`] takes every record naming the target slot away
//! before it erases that slot, so an image that was refused, failed to verify, or was
//! cut short by a power cut can never boot: nothing names it. So a power cut at any
//! instant boots the old image or the new one, never neither, and the new one only
//! after YES: the running image is never written to, the new one is only named once
//! it has verified and the key holder said YES, and boot never runs an image it has
//! not just verified. docs/firmware.md has the byte layouts and the
//! "Failure (VERIFY) (n)" numbers.
//!
//! Anti-rollback. Every image carries a security version in its signed header, and
//! the boot record carries the PED's minimum. [`Updater::finish`] refuses an image
//! below the minimum ("Failure (ROLLBACK)"), [`boot`] never runs one, and only
//! [`confirm`], which the running firmware calls once it has started, raises the
//! minimum, to the running image's security version: a crash before that leaves the
//! minimum where it was, so the image saved before stays a fallback until the new one
//! has run. Every record written carries the highest minimum of the records it
//! replaces, and no write tears the only copy holding it, so the minimum never falls.
//!
//! A session, as the core drives it:
//!
//! ```text
//! UpdateBegin{len}        -> Updater::begin   (unnames and erases the target slot)
//! UpdateChunk{off, data}  -> Updater::chunk   (in order, no gap, no overlap)
//! UpdateEnd               -> Updater::finish  -> VerifiedImage, "Save Image? YES/NO"
//! YES                     -> Updater::save    -> "Success" / "Press ENTER"
//! ```
//!
//! Any error abandons the session; the host starts again with `UpdateBegin`. A NO, a
//! failure or a session that simply stops needs no clean-up: the target slot is
//! named by no record, so what it holds is never booted.

#[cfg(feature = "std")]
pub mod file;
pub mod image;
pub mod screens;
pub mod slots;

use alloc::string::String;
use core::fmt;
use core::fmt::Write as _;

use ped_proto::device::{DeviceMessage, MAX_CHUNK_LEN, MAX_IMAGE_LEN, MAX_TEXT_LEN, UpdateState};

use crate::screen::Screen;
use image::{FirmwareVersion, Header, ImageError, MIN_IMAGE_LEN, Rejected, StoredLen, VendorKey, verify_stored};
use slots::{BootRecord, FlashError, ImageSlots, RECORD_LEN, RecordCopy, Slot};

/// Why an update session stopped. Every variant is shown on the PED, as
/// [`screen`](Self::screen) draws it, and reported to the host, as
/// [`status`](Self::status) encodes it. The image in use is untouched by all of them.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateError {
    /// The announced image length is below the smallest image or above the slot.
    /// VERIFY 1.
    LengthOutOfRange {
        /// The length announced.
        image_len: usize,
        /// The most the slot takes.
        max: usize,
    },
    /// A chunk not at the next expected offset, empty, too long, or past the announced
    /// end. VERIFY 2.
    OutOfSequence {
        /// The offset expected next.
        expected: usize,
        /// The chunk's offset.
        offset: u32,
    },
    /// A chunk or an end of upload with no upload in progress. VERIFY 2.
    NotUploading,
    /// The upload ended before the announced length was received. VERIFY 3.
    Incomplete {
        /// Bytes received.
        received: usize,
        /// Bytes announced.
        image_len: usize,
    },
    /// The image is not the vendor's, or is damaged. VERIFY 4-8.
    Image(ImageError),
    /// The flash failed while the image was written or read back. VERIFY 9.
    UploadFlash(FlashError),
    /// Save without a verified image from this session.
    NothingToSave,
    /// Writing the boot record failed.
    SaveFlash(FlashError),
    /// The boot record read back differs from the one written.
    SaveNotConfirmed,
    /// The boot record's sequence number cannot grow any more.
    SequenceExhausted,
    /// The image's security version is below the PED's minimum: an older firmware than
    /// the PED has run. "Failure (ROLLBACK)".
    Rollback {
        /// The image's security version.
        image: u16,
        /// The PED's minimum.
        minimum: u16,
    },
}

impl UpdateError {
    /// The number in "Failure (VERIFY) (n)", or `None` for a failure to save.
    pub fn verify_number(&self) -> Option<u8> {
        match self {
            UpdateError::LengthOutOfRange { .. } => Some(1),
            UpdateError::OutOfSequence { .. } | UpdateError::NotUploading => Some(2),
            UpdateError::Incomplete { .. } => Some(3),
            UpdateError::Image(e) => Some(e.verify_number()),
            UpdateError::UploadFlash(_) => Some(9),
            UpdateError::NothingToSave
            | UpdateError::SaveFlash(_)
            | UpdateError::SaveNotConfirmed
            | UpdateError::SequenceExhausted
            | UpdateError::Rollback { .. } => None,
        }
    }

    /// The state reported to the host.
    pub fn state(&self) -> UpdateState {
        match (self, self.verify_number()) {
            (UpdateError::Rollback { .. }, _) => UpdateState::Rollback,
            (_, Some(_)) => UpdateState::VerifyFailed,
            (_, None) => UpdateState::SaveFailed,
        }
    }

    /// The PED's screen for this failure.
    pub fn screen(&self) -> Screen {
        match (self, self.verify_number()) {
            (UpdateError::Rollback { .. }, _) => screens::rollback_failure(),
            (_, Some(n)) => screens::verify_failure(n),
            (_, None) => screens::save_failure(),
        }
    }

    /// The status frame for the host: the state, and the screen's first line with the
    /// cause, cut to the protocol's text limit.
    pub fn status(&self) -> DeviceMessage {
        let screen = self.screen();
        let mut detail = String::new();
        // Writing into a String cannot fail.
        let _ = write!(detail, "{}: {self}", screen.lines()[0]);
        detail.truncate(MAX_TEXT_LEN);
        DeviceMessage::UpdateStatus { state: self.state(), detail }
    }
}

impl fmt::Display for UpdateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpdateError::LengthOutOfRange { image_len, max } => {
                write!(f, "image length {image_len} not in {MIN_IMAGE_LEN}..={max}")
            }
            UpdateError::OutOfSequence { expected, offset } => {
                write!(f, "chunk at {offset}, expected {expected}; resend from start")
            }
            UpdateError::NotUploading => f.write_str("no upload in progress; send UpdateBegin"),
            UpdateError::Incomplete { received, image_len } => write!(f, "got {received} of {image_len} bytes"),
            UpdateError::Image(e) => e.fmt(f),
            UpdateError::UploadFlash(e) => write!(f, "upload: {e}"),
            UpdateError::NothingToSave => f.write_str("no verified image to save; upload again"),
            UpdateError::SaveFlash(e) => write!(f, "save: {e}"),
            UpdateError::SaveNotConfirmed => f.write_str("save: boot record did not read back"),
            UpdateError::SequenceExhausted => f.write_str("save: boot record sequence exhausted"),
            UpdateError::Rollback { image, minimum } => write!(f, "security version {image} < minimum {minimum}"),
        }
    }
}

impl core::error::Error for UpdateError {}

/// An image that has been received whole into a slot and has verified there; the
/// answer to "Save Image? YES/NO" decides whether it boots.
#[derive(Debug, PartialEq, Eq)]
pub struct VerifiedImage {
    slot: Slot,
    version: FirmwareVersion,
    image_len: usize,
}

impl VerifiedImage {
    /// The slot holding it.
    pub fn slot(&self) -> Slot {
        self.slot
    }

    /// Its firmware version.
    pub fn version(&self) -> FirmwareVersion {
        self.version
    }

    /// Its length in bytes.
    pub fn image_len(&self) -> usize {
        self.image_len
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    /// `minimum`: the PED's minimum security version when the session began.
    Receiving {
        slot: Slot,
        image_len: usize,
        received: usize,
        minimum: u16,
    },
    Verified {
        slot: Slot,
        minimum: u16,
    },
}

/// One PED's update sessions. Holds a few words of state; image bytes go straight to
/// flash.
#[derive(Debug)]
pub struct Updater {
    running: Option<Slot>,
    target: Slot,
    state: State,
}

impl Updater {
    /// An updater for a PED running the image in `running` (from [`boot`]; `None` on a
    /// PED that booted none, such as a blank simulator). Uploads go to the other slot,
    /// so the running image is never written to; on a PED that runs nothing they go to
    /// slot B, because boot takes an unnamed image in slot A for the factory's.
    pub fn new(running: Option<Slot>) -> Self {
        Updater { running, target: running.map_or(Slot::B, Slot::other), state: State::Idle }
    }

    /// The slot uploads are written to.
    pub fn target(&self) -> Slot {
        self.target
    }

    /// Starts a session for an image of `image_len` bytes: makes sure no boot record
    /// names the target slot and one names the running image, then erases the target
    /// slot. A session already under way is abandoned.
    pub fn begin<S: ImageSlots + ?Sized>(&mut self, image_len: u32, slots: &mut S) -> Result<(), UpdateError> {
        self.state = State::Idle;
        let max = slots.capacity().min(MAX_IMAGE_LEN as usize);
        let image_len = image_len as usize;
        if !(MIN_IMAGE_LEN..=max).contains(&image_len) {
            return Err(UpdateError::LengthOutOfRange { image_len, max });
        }
        let minimum = self.unname_target(slots).map_err(UpdateError::UploadFlash)?;
        slots.erase(self.target).map_err(UpdateError::UploadFlash)?;
        self.state = State::Receiving { slot: self.target, image_len, received: 0, minimum };
        Ok(())
    }

    /// Takes the target slot's name out of every record copy (its image, saved once,
    /// stops being a fallback as its slot is about to be overwritten): the copy is
    /// rewritten to name the running image instead, with its sequence number and the
    /// PED's minimum, so the minimum it held stays in flash; on a PED that runs nothing
    /// it is erased. If then no record names the running image, one is written naming
    /// it. That happens once in a PED's life, at its first update, for the factory's
    /// image in slot A: from then on records exist, and an unnamed slot A never boots,
    /// so the upload cannot pass for the factory's image, and the factory image stays
    /// the fallback of the first image saved. A cut during any of these writes leaves
    /// the other copy naming the running slot, or no record at all on a PED that has
    /// none yet; either way the running image boots. Returns the PED's minimum.
    fn unname_target<S: ImageSlots + ?Sized>(&self, slots: &mut S) -> Result<u16, FlashError> {
        // Strict reads: a copy that cannot be read might name the target.
        let records = read_records(slots)?;
        let minimum = minimum_of(&records);
        let mut running_named = false;
        for (copy, record) in RecordCopy::BOTH.into_iter().zip(records) {
            match (record, self.running) {
                (Some(record), Some(running)) if record.slot == self.target => {
                    let renamed = BootRecord { slot: running, sequence: record.sequence, minimum };
                    slots.write_record(copy, &renamed.encode())?;
                    running_named = true;
                }
                (Some(record), None) if record.slot == self.target => {
                    slots.write_record(copy, &[0xff; RECORD_LEN])?;
                }
                (Some(record), _) => running_named |= Some(record.slot) == self.running,
                (None, _) => {}
            }
        }
        match self.running {
            Some(running) if !running_named => {
                slots.write_record(RecordCopy::First, &BootRecord { slot: running, sequence: 1, minimum }.encode())?;
            }
            _ => {}
        }
        Ok(minimum)
    }

    /// Writes the next chunk. Chunks come in order, without gap or overlap: a resend
    /// would have to rewrite flash that is already programmed, and a gap would leave
    /// erased bytes inside the image, so either ends the session.
    pub fn chunk<S: ImageSlots + ?Sized>(
        &mut self,
        offset: u32,
        data: &[u8],
        slots: &mut S,
    ) -> Result<(), UpdateError> {
        let State::Receiving { slot, image_len, received, minimum } = self.state else {
            return Err(UpdateError::NotUploading);
        };
        self.state = State::Idle;
        if offset as usize != received
            || data.is_empty()
            || data.len() > MAX_CHUNK_LEN
            || data.len() > image_len - received
        {
            return Err(UpdateError::OutOfSequence { expected: received, offset });
        }
        slots.write(slot, received, data).map_err(UpdateError::UploadFlash)?;
        self.state = State::Receiving { slot, image_len, received: received + data.len(), minimum };
        Ok(())
    }

    /// Ends the upload and verifies the image as stored in flash (what would boot, not
    /// what was received): header, length, signature by `vendor_key`, payload hash;
    /// then its security version against the PED's minimum (only a signed header's
    /// is worth comparing).
    pub fn finish<S: ImageSlots + ?Sized>(
        &mut self,
        slots: &mut S,
        vendor_key: &VendorKey,
    ) -> Result<VerifiedImage, UpdateError> {
        let State::Receiving { slot, image_len, received, minimum } = core::mem::replace(&mut self.state, State::Idle)
        else {
            return Err(UpdateError::NotUploading);
        };
        if received != image_len {
            return Err(UpdateError::Incomplete { received, image_len });
        }
        let header =
            verify_stored(StoredLen::Known(image_len), vendor_key, |offset, buf| slots.read(slot, offset, buf))
                .map_err(|rejected| match rejected {
                    Rejected::Image(e) => UpdateError::Image(e),
                    Rejected::Read(e) => UpdateError::UploadFlash(e),
                })?;
        if header.security_version() < minimum {
            return Err(UpdateError::Rollback { image: header.security_version(), minimum });
        }
        self.state = State::Verified { slot, minimum };
        Ok(VerifiedImage { slot, version: header.version(), image_len })
    }

    /// The YES at "Save Image? YES/NO": one boot-record write makes `image` the one
    /// that boots. The record goes to the copy that does not hold the newest record,
    /// with the next sequence number and the PED's minimum unchanged (only
    /// [`confirm`] raises it), and is read back. If power is cut during the write, the
    /// newest record stays whole and the previous image boots.
    pub fn save<S: ImageSlots + ?Sized>(&mut self, image: VerifiedImage, slots: &mut S) -> Result<(), UpdateError> {
        let State::Verified { slot, minimum } = core::mem::replace(&mut self.state, State::Idle) else {
            return Err(UpdateError::NothingToSave);
        };
        if slot != image.slot {
            return Err(UpdateError::NothingToSave);
        }
        // Strict reads here, unlike at boot: a copy that merely failed to read may be
        // the newest one, and overwriting it would lose the sequence order.
        let records = read_records(slots).map_err(UpdateError::SaveFlash)?;
        // The minimum read at `begin` too: on a PED that runs nothing, `begin` may have
        // erased the only copies that held it.
        let minimum = minimum.max(minimum_of(&records));
        let (copy, sequence) = match newest(&records) {
            Some((copy, record)) => {
                (copy.other(), record.sequence.checked_add(1).ok_or(UpdateError::SequenceExhausted)?)
            }
            None => (RecordCopy::First, 1),
        };
        let record = BootRecord { slot: image.slot, sequence, minimum }.encode();
        slots.write_record(copy, &record).map_err(UpdateError::SaveFlash)?;
        let mut check = [0u8; RECORD_LEN];
        slots.read_record(copy, &mut check).map_err(UpdateError::SaveFlash)?;
        if check != record {
            return Err(UpdateError::SaveNotConfirmed);
        }
        Ok(())
    }
}

/// The image [`boot`] chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootedImage {
    /// Its slot.
    pub slot: Slot,
    /// Its firmware version, for "PED V.…".
    pub version: FirmwareVersion,
    /// Its security version, at or above the PED's minimum.
    pub security_version: u16,
    /// True if the first choice (the slot the newest boot record names, or A without a
    /// record) did not verify and the slot the other record names was booted instead.
    pub fell_back: bool,
}

/// Why one slot did not boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotFault {
    /// The slot does not hold a valid vendor image.
    Rejected(ImageError),
    /// The slot could not be read.
    Unreadable(FlashError),
    /// No valid boot record names the slot (and it is not the factory's slot A on a
    /// PED without records): whatever it holds was never saved with YES, so it is not
    /// even read.
    NotSaved,
    /// The slot holds a valid image older than the PED's minimum security version.
    BelowMinimum {
        /// The image's security version.
        image: u16,
        /// The PED's minimum.
        minimum: u16,
    },
}

impl fmt::Display for SlotFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlotFault::Rejected(e) => e.fmt(f),
            SlotFault::Unreadable(e) => e.fmt(f),
            SlotFault::NotSaved => f.write_str("no boot record names it"),
            SlotFault::BelowMinimum { image, minimum } => {
                write!(f, "security version {image} is below the minimum {minimum}")
            }
        }
    }
}

/// Neither slot holds an image that may boot and verifies: the PED has nothing to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootError {
    /// Why slot A did not boot.
    pub a: SlotFault,
    /// Why slot B did not boot.
    pub b: SlotFault,
}

impl BootError {
    /// What the boot loader shows.
    pub fn screen(&self) -> Screen {
        screens::no_valid_image()
    }
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no valid firmware image (slot A: {}; slot B: {})", self.a, self.b)
    }
}

impl core::error::Error for BootError {}

/// The boot loader's choice, among the images that may boot: the slot the newest
/// valid boot record names, then the slot the other valid record names (the image
/// saved before it); on a PED with no valid record, slot A alone (the factory's
/// image). The first whose image verifies against `vendor_key` and is not below the
/// PED's minimum security version boots. A slot no record names is never booted, so
/// an upload that was refused, failed or cut short cannot boot; an unreadable or torn
/// record copy only narrows the choice. Boot writes nothing: [`confirm`] does, once
/// the image runs.
pub fn boot<S: ImageSlots + ?Sized>(slots: &mut S, vendor_key: &VendorKey) -> Result<BootedImage, BootError> {
    let (newest, older, minimum) = named_slots(slots);
    let (first, second) = match newest {
        None => (Slot::A, None),
        Some(newest) => (newest, older.filter(|&slot| slot != newest)),
    };
    let first_fault = match verify_slot(slots, first, vendor_key, minimum) {
        Ok(header) => return Ok(booted(first, &header, false)),
        Err(fault) => fault,
    };
    let second_fault = match second.map(|slot| (slot, verify_slot(slots, slot, vendor_key, minimum))) {
        Some((slot, Ok(header))) => return Ok(booted(slot, &header, true)),
        Some((_, Err(fault))) => fault,
        None => SlotFault::NotSaved,
    };
    Err(match first {
        Slot::A => BootError { a: first_fault, b: second_fault },
        Slot::B => BootError { a: second_fault, b: first_fault },
    })
}

fn booted(slot: Slot, header: &Header, fell_back: bool) -> BootedImage {
    BootedImage { slot, version: header.version(), security_version: header.security_version(), fell_back }
}

/// The slots the valid boot-record copies name, newest first, and the PED's minimum
/// security version, the highest they record. A copy that cannot be read counts as
/// invalid: boot makes the best of what it can read.
fn named_slots<S: ImageSlots + ?Sized>(slots: &mut S) -> (Option<Slot>, Option<Slot>, u16) {
    let records = RecordCopy::BOTH.map(|copy| {
        let mut buf = [0u8; RECORD_LEN];
        slots.read_record(copy, &mut buf).ok().and_then(|()| BootRecord::decode(&buf))
    });
    let Some((copy, newest)) = newest(&records) else { return (None, None, 0) };
    let older = records[copy.other().index()].map(|record| record.slot);
    (Some(newest.slot), older, minimum_of(&records))
}

fn verify_slot<S: ImageSlots + ?Sized>(
    slots: &mut S,
    slot: Slot,
    vendor_key: &VendorKey,
    minimum: u16,
) -> Result<Header, SlotFault> {
    let max = slots.capacity();
    let header = verify_stored(StoredLen::FromHeader { max }, vendor_key, |offset, buf| slots.read(slot, offset, buf))
        .map_err(|rejected| match rejected {
            Rejected::Image(e) => SlotFault::Rejected(e),
            Rejected::Read(e) => SlotFault::Unreadable(e),
        })?;
    if header.security_version() < minimum {
        return Err(SlotFault::BelowMinimum { image: header.security_version(), minimum });
    }
    Ok(header)
}

/// The running firmware's word that the image [`boot`] chose has started: raises the
/// PED's minimum security version to `booted`'s if that is higher, so no older image
/// installs or boots from now on (docs/firmware.md, "Anti-rollback"). Called once per
/// power-on, after boot; it writes nothing unless the minimum rises.
///
/// Each copy that does not record the new minimum is rewritten to name the running
/// image with it, the copy that does not name the running image first: while one copy
/// is written, the other, whole, names the running image with the minimum both held
/// before. The image saved before, named by that first copy, stops being a fallback:
/// it ran, so its own security version is at most the old minimum, below the new one.
/// A cut between the two writes is finished by the next power-on's `confirm`.
pub fn confirm<S: ImageSlots + ?Sized>(slots: &mut S, booted: &BootedImage) -> Result<(), FlashError> {
    let records = read_records(slots)?;
    let minimum = minimum_of(&records).max(booted.security_version);
    let stale = |record: &Option<BootRecord>| record.is_none_or(|r| r.minimum < minimum);
    let raises = match records {
        [None, None] => minimum > 0,
        _ => records.iter().flatten().any(|r| r.minimum < minimum),
    };
    if !raises {
        return Ok(());
    }
    let home = RecordCopy::BOTH
        .into_iter()
        .zip(records)
        .filter(|(_, record)| record.is_some_and(|r| r.slot == booted.slot))
        .max_by_key(|(_, record)| record.map(|r| r.sequence))
        .map(|(copy, _)| copy);
    let mut sequence = newest(&records).map_or(0, |(_, record)| record.sequence);
    for copy in home.map_or(RecordCopy::BOTH, |home| [home.other(), home]) {
        if stale(&records[copy.index()]) {
            // A record sector wears out long before 2^64 writes.
            sequence = sequence.saturating_add(1);
            slots.write_record(copy, &BootRecord { slot: booted.slot, sequence, minimum }.encode())?;
        }
    }
    Ok(())
}

/// Both record copies, strictly: a copy that cannot be read fails the call.
fn read_records<S: ImageSlots + ?Sized>(slots: &mut S) -> Result<[Option<BootRecord>; 2], FlashError> {
    let mut records = [None; 2];
    for (copy, record) in RecordCopy::BOTH.into_iter().zip(&mut records) {
        let mut buf = [0u8; RECORD_LEN];
        slots.read_record(copy, &mut buf)?;
        *record = BootRecord::decode(&buf);
    }
    Ok(records)
}

/// The PED's minimum security version: the highest the valid copies record.
fn minimum_of(records: &[Option<BootRecord>; 2]) -> u16 {
    records.iter().flatten().map(|record| record.minimum).max().unwrap_or(0)
}

/// The valid copy with the highest sequence number (the first on a tie, which `save`
/// never writes).
fn newest(records: &[Option<BootRecord>; 2]) -> Option<(RecordCopy, BootRecord)> {
    let mut best: Option<(RecordCopy, BootRecord)> = None;
    for (copy, record) in RecordCopy::BOTH.into_iter().zip(records) {
        if let Some(record) = *record
            && best.is_none_or(|(_, b)| record.sequence > b.sequence)
        {
            best = Some((copy, record));
        }
    }
    best
}
