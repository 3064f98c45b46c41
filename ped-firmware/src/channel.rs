//! The PED's end of the HSM channel (seed 3656-3950): the handshake in progress (a
//! hello that waits for the key holder's password or orange key, an answer that awaits
//! the HSM's key confirmation), the open session, and the RPK cache.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use ped_proto::handshake::ped::{AwaitingFinished, HelloReceived};
#[cfg(feature = "legacy-7-4")]
use ped_proto::legacy::{PedAwaitingChallenge, PedAwaitingProof, PedHelloReceived};
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
    /// The HSM's hello is accepted; the PED answers it once the key holder has typed
    /// the one-time password or presented the orange key (the foreground's
    /// `Ui::Password` or `Ui::Orange`, under the PED-key action timeout).
    Hello { hello: Box<HelloReceived>, hsm: String },
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
    /// A legacy hello (HSM firmware 7.4.2 and older, protocol §17) waits for the
    /// orange key.
    #[cfg(feature = "legacy-7-4")]
    LegacyHello { hello: Box<PedHelloReceived>, hsm: String },
    /// The PED sent its public value and awaits R1; `rpk` is cached once the channel
    /// opens, unless it came from the cache (`cached`, dropped from it on failure).
    #[cfg(feature = "legacy-7-4")]
    LegacyChallenge { state: Box<PedAwaitingChallenge>, hsm: String, rpk: RpkCredential, cached: bool },
    /// The PED echoed R1 with its R2 and awaits R2 back.
    #[cfg(feature = "legacy-7-4")]
    LegacyProof { state: Box<PedAwaitingProof>, hsm: String, rpk: RpkCredential, cached: bool },
}

impl Channel {
    pub(crate) fn session(&self) -> Option<&ChannelSession> {
        match self {
            Channel::Open { session, .. } => Some(session),
            _ => None,
        }
    }

    /// The hello that waited for the key holder, and its HSM; the channel is idle
    /// until the PED answers it.
    pub(crate) fn take_hello(&mut self) -> Option<(Box<HelloReceived>, String)> {
        match core::mem::take(self) {
            Channel::Hello { hello, hsm } => Some((hello, hsm)),
            other => {
                *self = other;
                None
            }
        }
    }

    /// The legacy hello that waited for the orange key, and its HSM.
    #[cfg(feature = "legacy-7-4")]
    pub(crate) fn take_legacy_hello(&mut self) -> Option<(Box<PedHelloReceived>, String)> {
        match core::mem::take(self) {
            Channel::LegacyHello { hello, hsm } => Some((hello, hsm)),
            other => {
                *self = other;
                None
            }
        }
    }

    /// Whether the legacy channel's nonce exchange is under way.
    #[cfg(feature = "legacy-7-4")]
    pub(crate) fn in_legacy_exchange(&self) -> bool {
        matches!(self, Channel::LegacyChallenge { .. } | Channel::LegacyProof { .. })
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

/// HSMs that opened a current (firmware 7.7+) channel with this PED since power-on, by
/// serial: a legacy hello naming one of them is a downgrade attempt and is refused.
#[cfg(feature = "legacy-7-4")]
#[derive(Debug, Default)]
pub(crate) struct CurrentHsms {
    serials: Vec<String>,
}

#[cfg(feature = "legacy-7-4")]
impl CurrentHsms {
    /// Serials remembered at most (the oldest is forgotten first).
    const CAPACITY: usize = 16;

    pub(crate) fn remember(&mut self, hsm: &str) {
        if self.contains(hsm) {
            return;
        }
        if self.serials.len() == Self::CAPACITY {
            self.serials.remove(0);
        }
        self.serials.push(hsm.into());
    }

    pub(crate) fn contains(&self, hsm: &str) -> bool {
        self.serials.iter().any(|s| s == hsm)
    }
}
