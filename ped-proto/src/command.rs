//! The PED command set: what the HSM asks of the PED, and what the PED answers, inside
//! the end-to-end channel (each message is the payload of one record).
//!
//! Splits always travel wrapped under the sender's CWK ([`WrappedSplit`]); the metadata
//! beside them (keyset, M, N, index) is what the PED shows and what the HSM needs to
//! reassemble, and is no secret.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{DecodeError, Error, ErrorCode};
use crate::kwp;
use crate::pedkey::{KeyColour, MAX_SPLIT_LEN};
use crate::quorum::{KeysetId, MAX_SPLITS, Quorum, SplitInfo};
use crate::wire::{Reader, WriteExt};

/// Longest slot label on the PED's first screen line.
pub const MAX_SLOT_LEN: usize = 16;
/// Longest wrapped split: the largest split, KWP-padded.
pub const MAX_WRAPPED_SPLIT_LEN: usize = kwp::wrapped_len(MAX_SPLIT_LEN);

/// The role or secret a command is about, as the PED screens name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// HSM Security Officer (blue).
    HsmSo,
    /// Partition Security Officer (blue).
    PartitionSo,
    /// HSM cloning domain (red).
    HsmDomain,
    /// Partition cloning domain (red).
    PartitionDomain,
    /// Remote PED Vector (orange).
    Rpv,
    /// Crypto Officer (black).
    CryptoOfficer,
    /// Crypto User (black; a gray sticker).
    CryptoUser,
    /// Limited Crypto Officer (black; a gray sticker).
    LimitedCryptoOfficer,
    /// Auditor (white).
    Auditor,
}

impl Role {
    /// Every role, in byte order.
    pub const ALL: [Role; 9] = [
        Role::HsmSo,
        Role::PartitionSo,
        Role::HsmDomain,
        Role::PartitionDomain,
        Role::Rpv,
        Role::CryptoOfficer,
        Role::CryptoUser,
        Role::LimitedCryptoOfficer,
        Role::Auditor,
    ];

    /// The role byte.
    pub const fn to_byte(self) -> u8 {
        match self {
            Role::HsmSo => 0x01,
            Role::PartitionSo => 0x02,
            Role::HsmDomain => 0x03,
            Role::PartitionDomain => 0x04,
            Role::Rpv => 0x05,
            Role::CryptoOfficer => 0x06,
            Role::CryptoUser => 0x07,
            Role::LimitedCryptoOfficer => 0x08,
            Role::Auditor => 0x09,
        }
    }

    /// The role for a byte.
    pub fn from_byte(b: u8) -> Result<Self, DecodeError> {
        Self::ALL.into_iter().find(|r| r.to_byte() == b).ok_or(DecodeError::InvalidValue("role"))
    }

    /// The colour of the keys that hold this role's secret.
    pub const fn colour(self) -> KeyColour {
        match self {
            Role::HsmSo | Role::PartitionSo => KeyColour::Blue,
            Role::HsmDomain | Role::PartitionDomain => KeyColour::Red,
            Role::Rpv => KeyColour::Orange,
            Role::CryptoOfficer | Role::CryptoUser | Role::LimitedCryptoOfficer => KeyColour::Black,
            Role::Auditor => KeyColour::White,
        }
    }
}

/// What the PED is doing, for its second screen line ("SO LOGIN...", "READING SO
/// PIN...", "SETTING SO PIN...").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    /// Authenticating the role.
    Login,
    /// Reading an existing keyset (reuse, or presenting the old keyset before a change).
    Reading,
    /// Creating the role's keys.
    Setting,
}

impl Activity {
    const fn to_byte(self) -> u8 {
        match self {
            Activity::Login => 0x01,
            Activity::Reading => 0x02,
            Activity::Setting => 0x03,
        }
    }

    const fn from_byte(b: u8) -> Result<Self, DecodeError> {
        match b {
            0x01 => Ok(Activity::Login),
            0x02 => Ok(Activity::Reading),
            0x03 => Ok(Activity::Setting),
            _ => Err(DecodeError::InvalidValue("activity")),
        }
    }
}

/// The context every prompt of a command is drawn in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    /// The first screen line (the HSM's slot label, "SLOT" by default), printable ASCII.
    pub slot: String,
    /// Whose keys.
    pub role: Role,
    /// What is being done with them.
    pub activity: Activity,
}

/// One split, its value wrapped under the sender's CWK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedSplit {
    /// Which split of which keyset.
    pub info: SplitInfo,
    /// `AES-256-KWP(CWK_sender→receiver, split value)`.
    pub wrapped: Vec<u8>,
}

impl AsRef<SplitInfo> for WrappedSplit {
    fn as_ref(&self) -> &SplitInfo {
        &self.info
    }
}

/// How M and N of a new keyset are decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShapeChoice {
    /// The key holders choose on the PED ("M value? (1-16)", "N value? (M-16)").
    OnPed,
    /// The HSM imposes them.
    Fixed(Quorum),
}

/// HSM → PED.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HsmCommand {
    /// Read a quorum of the role's keys (M from the first key) and return their splits.
    ReadKeyset {
        /// Screen context.
        prompt: Prompt,
    },
    /// Start creating the role's keys: offer reuse (stage 1), then settle M and N (stage 2).
    CreateKeyset {
        /// Screen context.
        prompt: Prompt,
        /// Whether the key holders may reuse an existing keyset.
        offer_reuse: bool,
        /// Who decides M and N.
        shape: ShapeChoice,
    },
    /// Write these N splits, one per key, each with its own PIN (stage 3), then offer
    /// duplicate sets (stage 4).
    WriteSplits {
        /// Screen context.
        prompt: Prompt,
        /// All N splits of the new keyset, in index order.
        splits: Vec<WrappedSplit>,
        /// Whether to offer duplicate sets.
        offer_duplicates: bool,
    },
    /// Copy presented keys of the role exactly (same split, same PIN binding).
    DuplicateKeyset {
        /// Screen context.
        prompt: Prompt,
    },
    /// Abandon the command in progress.
    Cancel,
}

/// Something the PED tells the HSM along the way; never a failure, never counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A key of another colour was inserted; the PED asked again.
    WrongColour,
    /// A split already presented in this command was inserted again; it was not counted.
    AlreadyPresented,
    /// Enter was pressed with no key inserted; the PED asked again.
    NoKey,
}

/// Why the PED could not complete a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PedFailure {
    /// No key action within the PED-key action timeout (200 s by default).
    Timeout,
    /// A key holder pressed No/Cancel, or the HSM cancelled.
    Cancelled,
    /// The key needed was not presented.
    KeyMissing,
    /// A key to be read holds no secret.
    KeyBlank,
    /// Writing a key failed.
    KeyWriteFailed,
    /// The PED is serving another command or HSM.
    Busy,
    /// A key's content is damaged or of an unknown format.
    BadKeyContent,
    /// A key was written in an older format; it must be re-created.
    OldKeyFormat,
}

impl PedFailure {
    const ALL: [PedFailure; 8] = [
        PedFailure::Timeout,
        PedFailure::Cancelled,
        PedFailure::KeyMissing,
        PedFailure::KeyBlank,
        PedFailure::KeyWriteFailed,
        PedFailure::Busy,
        PedFailure::BadKeyContent,
        PedFailure::OldKeyFormat,
    ];

    const fn to_byte(self) -> u8 {
        match self {
            PedFailure::Timeout => 0x01,
            PedFailure::Cancelled => 0x02,
            PedFailure::KeyMissing => 0x03,
            PedFailure::KeyBlank => 0x04,
            PedFailure::KeyWriteFailed => 0x05,
            PedFailure::Busy => 0x06,
            PedFailure::BadKeyContent => 0x07,
            PedFailure::OldKeyFormat => 0x08,
        }
    }

    /// The stable code the HSM reports for this failure.
    pub const fn code(self) -> ErrorCode {
        match self {
            PedFailure::Timeout => ErrorCode::RcOperationTimedOut,
            PedFailure::Cancelled => ErrorCode::CkrCancel,
            PedFailure::KeyMissing | PedFailure::KeyBlank => ErrorCode::CkrTokenNotPresent,
            PedFailure::KeyWriteFailed | PedFailure::BadKeyContent | PedFailure::OldKeyFormat => {
                ErrorCode::CkrDeviceError
            }
            PedFailure::Busy => ErrorCode::PedError,
        }
    }
}

/// PED → HSM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PedReply {
    /// Answer to ReadKeyset: the quorum's splits, each presented once.
    Splits(Vec<WrappedSplit>),
    /// Answer to CreateKeyset when the key holders chose to reuse an existing keyset.
    Reused(Vec<WrappedSplit>),
    /// Answer to CreateKeyset for a new keyset: its M and N.
    Shape(Quorum),
    /// Answer to WriteSplits: keys written in the first set, and duplicate sets made.
    Written {
        /// Keys of the first set written (N on success).
        keys: u8,
        /// Complete duplicate sets written after it.
        duplicate_sets: u8,
    },
    /// Answer to DuplicateKeyset: keys copied.
    Duplicated {
        /// Keys copied.
        keys: u8,
    },
    /// An informational event; the command goes on.
    Notice(Notice),
    /// The command ended without result.
    Failed(PedFailure),
}

const CMD_READ: u8 = 0x01;
const CMD_CREATE: u8 = 0x02;
const CMD_WRITE: u8 = 0x03;
const CMD_DUPLICATE: u8 = 0x04;
const CMD_CANCEL: u8 = 0x05;
const REPLY_SPLITS: u8 = 0x41;
const REPLY_REUSED: u8 = 0x42;
const REPLY_SHAPE: u8 = 0x43;
const REPLY_WRITTEN: u8 = 0x44;
const REPLY_DUPLICATED: u8 = 0x45;
const REPLY_NOTICE: u8 = 0x46;
const REPLY_FAILED: u8 = 0x4f;

impl HsmCommand {
    /// The record payload.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        match self {
            HsmCommand::ReadKeyset { prompt } => {
                out.put_u8(CMD_READ);
                put_prompt(&mut out, prompt)?;
            }
            HsmCommand::CreateKeyset { prompt, offer_reuse, shape } => {
                out.put_u8(CMD_CREATE);
                put_prompt(&mut out, prompt)?;
                out.put_u8(u8::from(*offer_reuse));
                match shape {
                    ShapeChoice::OnPed => out.extend_from_slice(&[0, 0]),
                    ShapeChoice::Fixed(q) => out.extend_from_slice(&[q.m(), q.n()]),
                }
            }
            HsmCommand::WriteSplits { prompt, splits, offer_duplicates } => {
                out.put_u8(CMD_WRITE);
                put_prompt(&mut out, prompt)?;
                put_splits(&mut out, splits)?;
                out.put_u8(u8::from(*offer_duplicates));
            }
            HsmCommand::DuplicateKeyset { prompt } => {
                out.put_u8(CMD_DUPLICATE);
                put_prompt(&mut out, prompt)?;
            }
            HsmCommand::Cancel => out.put_u8(CMD_CANCEL),
        }
        Ok(out)
    }

    /// Decodes a record payload.
    pub fn decode(payload: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(payload);
        let command = match r.u8("command")? {
            CMD_READ => HsmCommand::ReadKeyset { prompt: prompt(&mut r)? },
            CMD_CREATE => {
                let prompt = prompt(&mut r)?;
                let offer_reuse = flag(&mut r, "offer reuse")?;
                let shape = match (r.u8("M")?, r.u8("N")?) {
                    (0, 0) => ShapeChoice::OnPed,
                    (m, n) => ShapeChoice::Fixed(Quorum::new(m, n).map_err(|_| DecodeError::InvalidValue("M of N"))?),
                };
                HsmCommand::CreateKeyset { prompt, offer_reuse, shape }
            }
            CMD_WRITE => {
                let prompt = prompt(&mut r)?;
                let splits = splits(&mut r)?;
                check_one_whole_keyset(&splits)?;
                HsmCommand::WriteSplits { prompt, splits, offer_duplicates: flag(&mut r, "offer duplicates")? }
            }
            CMD_DUPLICATE => HsmCommand::DuplicateKeyset { prompt: prompt(&mut r)? },
            CMD_CANCEL => HsmCommand::Cancel,
            other => return Err(DecodeError::UnknownType(other).into()),
        };
        r.finish()?;
        Ok(command)
    }
}

impl PedReply {
    /// The record payload.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        match self {
            PedReply::Splits(splits) => {
                out.put_u8(REPLY_SPLITS);
                put_splits(&mut out, splits)?;
            }
            PedReply::Reused(splits) => {
                out.put_u8(REPLY_REUSED);
                put_splits(&mut out, splits)?;
            }
            PedReply::Shape(q) => out.extend_from_slice(&[REPLY_SHAPE, q.m(), q.n()]),
            PedReply::Written { keys, duplicate_sets } => {
                out.extend_from_slice(&[REPLY_WRITTEN, *keys, *duplicate_sets])
            }
            PedReply::Duplicated { keys } => out.extend_from_slice(&[REPLY_DUPLICATED, *keys]),
            PedReply::Notice(notice) => out.extend_from_slice(&[
                REPLY_NOTICE,
                match notice {
                    Notice::WrongColour => 0x01,
                    Notice::AlreadyPresented => 0x02,
                    Notice::NoKey => 0x03,
                },
            ]),
            PedReply::Failed(failure) => out.extend_from_slice(&[REPLY_FAILED, failure.to_byte()]),
        }
        Ok(out)
    }

    /// Decodes a record payload.
    pub fn decode(payload: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(payload);
        let reply = match r.u8("reply")? {
            REPLY_SPLITS => PedReply::Splits(splits(&mut r)?),
            REPLY_REUSED => PedReply::Reused(splits(&mut r)?),
            REPLY_SHAPE => {
                PedReply::Shape(Quorum::new(r.u8("M")?, r.u8("N")?).map_err(|_| DecodeError::InvalidValue("M of N"))?)
            }
            REPLY_WRITTEN => PedReply::Written { keys: r.u8("keys")?, duplicate_sets: r.u8("duplicate sets")? },
            REPLY_DUPLICATED => PedReply::Duplicated { keys: r.u8("keys")? },
            REPLY_NOTICE => PedReply::Notice(match r.u8("notice")? {
                0x01 => Notice::WrongColour,
                0x02 => Notice::AlreadyPresented,
                0x03 => Notice::NoKey,
                _ => return Err(DecodeError::InvalidValue("notice").into()),
            }),
            REPLY_FAILED => {
                let b = r.u8("failure")?;
                PedReply::Failed(
                    PedFailure::ALL
                        .into_iter()
                        .find(|f| f.to_byte() == b)
                        .ok_or(DecodeError::InvalidValue("failure"))?,
                )
            }
            other => return Err(DecodeError::UnknownType(other).into()),
        };
        r.finish()?;
        Ok(reply)
    }
}

fn put_prompt(out: &mut Vec<u8>, prompt: &Prompt) -> Result<(), Error> {
    if prompt.slot.is_empty() || prompt.slot.len() > MAX_SLOT_LEN || !printable(prompt.slot.as_bytes()) {
        return Err(DecodeError::InvalidValue("slot").into());
    }
    out.put_bytes_u8(prompt.slot.as_bytes());
    out.put_u8(prompt.role.to_byte());
    out.put_u8(prompt.activity.to_byte());
    Ok(())
}

fn prompt(r: &mut Reader<'_>) -> Result<Prompt, DecodeError> {
    let slot = r.bytes_u8("slot", MAX_SLOT_LEN)?;
    if slot.is_empty() || !printable(slot) {
        return Err(DecodeError::InvalidValue("slot"));
    }
    Ok(Prompt {
        slot: slot.iter().map(|&b| char::from(b)).collect(),
        role: Role::from_byte(r.u8("role")?)?,
        activity: Activity::from_byte(r.u8("activity")?)?,
    })
}

/// Printable ASCII only: the slot label is drawn on the PED's display.
fn printable(s: &[u8]) -> bool {
    s.iter().all(|b| (0x20..0x7f).contains(b))
}

fn flag(r: &mut Reader<'_>, field: &'static str) -> Result<bool, DecodeError> {
    match r.u8(field)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(DecodeError::InvalidValue(field)),
    }
}

fn put_splits(out: &mut Vec<u8>, splits: &[WrappedSplit]) -> Result<(), Error> {
    if splits.is_empty() || splits.len() > usize::from(MAX_SPLITS) {
        return Err(DecodeError::InvalidValue("split count").into());
    }
    out.put_u8(splits.len() as u8);
    for s in splits {
        if s.wrapped.len() < 16 || s.wrapped.len() > MAX_WRAPPED_SPLIT_LEN {
            return Err(DecodeError::InvalidValue("wrapped split").into());
        }
        out.extend_from_slice(s.info.keyset_id().as_bytes());
        out.extend_from_slice(&[s.info.quorum().m(), s.info.quorum().n(), s.info.index()]);
        out.put_bytes_u16(&s.wrapped);
    }
    Ok(())
}

fn splits(r: &mut Reader<'_>) -> Result<Vec<WrappedSplit>, Error> {
    let n = usize::from(r.u8("split count")?);
    if n == 0 || n > usize::from(MAX_SPLITS) {
        return Err(DecodeError::InvalidValue("split count").into());
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let keyset_id = KeysetId::from_bytes(r.array("keyset id")?);
        let quorum = Quorum::new(r.u8("M")?, r.u8("N")?).map_err(|_| DecodeError::InvalidValue("M of N"))?;
        let info = SplitInfo::new(keyset_id, r.u8("index")?, quorum).map_err(|_| DecodeError::InvalidValue("index"))?;
        let wrapped = r.bytes_u16("wrapped split", MAX_WRAPPED_SPLIT_LEN)?;
        if wrapped.len() < 16 || !wrapped.len().is_multiple_of(8) {
            return Err(DecodeError::InvalidValue("wrapped split").into());
        }
        out.push(WrappedSplit { info, wrapped: wrapped.to_vec() });
    }
    Ok(out)
}

/// A WriteSplits command carries exactly the N splits of one keyset, indices 1..=N.
fn check_one_whole_keyset(splits: &[WrappedSplit]) -> Result<(), Error> {
    let first = &splits[0].info;
    let whole = splits.len() == usize::from(first.quorum().n())
        && splits.iter().enumerate().all(|(i, s)| {
            s.info.keyset_id() == first.keyset_id()
                && s.info.quorum() == first.quorum()
                && usize::from(s.info.index()) == i + 1
        });
    if whole { Ok(()) } else { Err(DecodeError::InvalidValue("keyset splits").into()) }
}
