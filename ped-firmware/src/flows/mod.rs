//! The PED-key flows: small state machines that the core drives with key presses and
//! key-port results. They never touch hardware: they ask for reads and writes through
//! [`Ctx`] and say through [`Flow`] when they are done.

pub(crate) mod copy;
pub(crate) mod create;
pub(crate) mod login;
pub(crate) mod overwrite;
pub(crate) mod password;
pub(crate) mod reader;
pub(crate) mod write;

use alloc::vec::Vec;

use ped_proto::command::{Notice, PedFailure, PedReply};
use ped_proto::record::ChannelSession;
use rand_core::CryptoRng;

use crate::config::PedConfig;
use crate::entry::Entry;
use zeroize::Zeroizing;

use crate::hal::{InsertedKey, KeyContent};
use crate::io::Effect;
use crate::log::ActionLog;
use crate::screen::Screen;

/// What a flow may use and ask for while it handles one event.
pub(crate) struct Ctx<'a> {
    pub(crate) rng: &'a mut dyn CryptoRng,
    pub(crate) config: &'a PedConfig,
    /// The key in the port, as the last KeyInserted / KeyRemoved said.
    pub(crate) inserted: Option<InsertedKey>,
    /// The open channel, for wrapping and unwrapping splits.
    pub(crate) session: Option<&'a ChannelSession>,
    pub(crate) effects: &'a mut Vec<Effect>,
    pub(crate) log: &'a mut ActionLog,
    /// A notice to show over the flow's screen until the next key press.
    pub(crate) notice: Option<Screen>,
    /// Notices for the HSM (never failures).
    pub(crate) replies: Vec<PedReply>,
}

impl Ctx<'_> {
    pub(crate) fn read_key(&mut self) {
        self.effects.push(Effect::ReadKey);
    }

    pub(crate) fn write_key(&mut self, payload: &[u8]) {
        self.effects.push(Effect::WriteKey(KeyContent::new(Zeroizing::new(payload.to_vec()))));
    }

    /// Types `digit` into `entry`; a digit past its end is refused with `full` shown,
    /// never dropped unsaid.
    pub(crate) fn type_digit(&mut self, entry: &mut Entry, digit: u8, full: impl FnOnce() -> Screen) {
        if !entry.push(digit) {
            self.notify(full(), None);
        }
    }

    /// Shows `screen` over the flow and, with `notice`, tells the HSM.
    pub(crate) fn notify(&mut self, screen: Screen, notice: Option<Notice>) {
        self.notice = Some(screen);
        if let Some(notice) = notice {
            self.replies.push(PedReply::Notice(notice));
        }
    }
}

/// Where a flow stands after an event.
#[derive(Debug)]
pub(crate) enum Flow<T> {
    /// Still going.
    Continue,
    /// Finished with this result.
    Done(T),
    /// Ended; the HSM is told why.
    Failed(PedFailure),
}
