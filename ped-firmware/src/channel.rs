//! The PED's end of the HSM channel (seed 3656-3950): the handshake states that do
//! not wait for a key holder, the open session, and the RPK cache.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use ped_proto::handshake::ped::AwaitingFinished;
use ped_proto::orange::RpkCredential;
use ped_proto::record::ChannelSession;

/// RPKs remembered at most (one per HSM served; the oldest is forgotten first).
pub const RPK_CACHE_CAPACITY: usize = 4;

/// Where the channel stands.
#[derive(Debug, Default)]
pub(crate) enum Channel {
    /// No channel.
    #[default]
    Idle,
    /// The PED answered the hello and awaits the HSM's key confirmation.
    Finishing {
        state: Box<AwaitingFinished>,
        hsm: String,
        /// The RPK used, to cache once the HSM confirms it (`None` when it came from
        /// the cache already or the channel uses none).
        rpk: Option<RpkCredential>,
        /// Whether the RPK came from the cache (dropped from it if the HSM refuses).
        cached: bool,
    },
    /// Established: HSM commands arrive in records.
    Open { session: ChannelSession, hsm: String },
}

impl Channel {
    pub(crate) fn session(&self) -> Option<&ChannelSession> {
        match self {
            Channel::Open { session, .. } => Some(session),
            _ => None,
        }
    }

    /// The serial number of the HSM at the other end of an open channel.
    pub(crate) fn hsm(&self) -> Option<&str> {
        match self {
            Channel::Open { hsm, .. } => Some(hsm),
            _ => None,
        }
    }
}

/// The RPKs read from orange keys, by HSM serial, until invalidated.
#[derive(Debug, Default)]
pub(crate) struct RpkCache {
    entries: Vec<(String, RpkCredential)>,
}

impl RpkCache {
    pub(crate) fn get(&self, hsm: &str) -> Option<&RpkCredential> {
        self.entries.iter().find(|(id, _)| id == hsm).map(|(_, c)| c)
    }

    pub(crate) fn insert(&mut self, hsm: String, credential: RpkCredential) {
        self.remove(&hsm);
        if self.entries.len() == RPK_CACHE_CAPACITY {
            self.entries.remove(0);
        }
        self.entries.push((hsm, credential));
    }

    pub(crate) fn remove(&mut self, hsm: &str) {
        self.entries.retain(|(id, _)| id != hsm);
    }

    /// "Exiting now will invalidate the RPK": forget every RPK.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    pub(crate) fn serials(&self) -> Vec<String> {
        self.entries.iter().map(|(id, _)| id.clone()).collect()
    }
}
