//! The PED's end of the legacy channel of HSMs on firmware 7.4.2 and older
//! (docs/protocol.md §17): spoken only when the HSM's hello asks for it, named on the
//! screen before the orange key is asked, and refused for an HSM this PED has seen
//! speak the current channel.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use ped_proto::Error;
use ped_proto::device::PedMode;
use ped_proto::frame::{self, Frame};
use ped_proto::legacy::PedHelloReceived;
use ped_proto::orange::RpkCredential;
use ped_proto::pedkey::KeyColour;
use rand_core::CryptoRng;

use super::{Ped, Ui};
use crate::channel::Channel;
use crate::flows::reader::Reader;
use crate::io::Effect;
use crate::screens::{self, Header};
use crate::update::slots::ImageSlots;

/// The screen's reason when a legacy hello is a downgrade attempt.
const LEGACY_REFUSED: &str = "Legacy refused:\nHSM is on 7.7+.";

impl<F: ImageSlots> Ped<F> {
    /// A hello whose first byte asks for the legacy channel. A current channel open
    /// at the time stays open, and the HSM at its end hears nothing: the hello is not
    /// its.
    pub(super) fn legacy_hello<R: CryptoRng>(&mut self, frame: Frame<'_>, rng: &mut R, out: &mut Vec<Effect>) {
        if self.channel.session().is_some_and(|s| !s.is_legacy()) {
            self.log.push("Legacy refused");
            self.overlay = Some(screens::operation_ended("Connection", LEGACY_REFUSED));
            return;
        }
        self.channel = Channel::Idle;
        if self.busy() {
            self.ui = Ui::Home;
            self.deadline = None;
        }
        let hello = match PedHelloReceived::receive(frame) {
            Ok(hello) => hello,
            Err(Error::LegacyRefused) => return self.legacy_refused(out),
            Err(_) => return self.legacy_failed(out, "Handshake failed."),
        };
        let hsm: String = hello.hsm_id().iter().map(|&b| char::from(b)).collect();
        if self.current_hsms.contains(&hsm) {
            return self.legacy_refused(out);
        }
        match (self.mode, &self.ui) {
            (PedMode::SelectMode, Ui::Home) => self.enter_mode(PedMode::Remote),
            (PedMode::Remote, _) => self.ui = Ui::Home,
            _ => return self.legacy_failed(out, "Wrong PED mode."),
        }
        let label = format!("Legacy HSM {}", hello.firmware());
        self.log.push(&label);
        let keysets = hello.orange_keysets();
        if let Some(rpk) = self.rpks.get(&hsm).filter(|rpk| keysets.contains(&rpk.keyset_id)).cloned() {
            return self.legacy_respond(hello, hsm, rpk, true, rng, out);
        }
        // Seed 4146's orange-key prompt, its first line naming the legacy channel.
        let header = Header::session_key(&label);
        let reader = Reader::of_keysets(header.clone(), header, KeyColour::Orange, keysets);
        self.ui = Ui::Orange { reader, splits: Vec::new() };
        self.channel = Channel::LegacyHello { hello: Box::new(hello), hsm };
        self.start_deadline();
    }

    /// The orange quorum is read for a legacy hello: answer it with its RPV.
    pub(super) fn legacy_orange<R: CryptoRng>(
        &mut self,
        hello: PedHelloReceived,
        hsm: String,
        credential: Option<RpkCredential>,
        rng: &mut R,
        out: &mut Vec<Effect>,
    ) {
        match credential {
            Some(rpk) => self.legacy_respond(hello, hsm, rpk, false, rng, out),
            None => {
                out.push(Effect::SendFrame(frame::handshake_failed()));
                self.overlay = Some(screens::operation_ended("Connection", "RPK unreadable."));
            }
        }
    }

    fn legacy_respond<R: CryptoRng>(
        &mut self,
        hello: PedHelloReceived,
        hsm: String,
        rpk: RpkCredential,
        cached: bool,
        rng: &mut R,
        out: &mut Vec<Effect>,
    ) {
        match hello.respond(self.config.serial.as_bytes(), &rpk, rng) {
            Ok((state, share)) => {
                out.push(Effect::SendFrame(share));
                self.channel = Channel::LegacyChallenge { state: Box::new(state), hsm, rpk, cached };
            }
            Err(_) => {
                if cached {
                    self.rpks.remove(&hsm);
                }
                self.legacy_failed(out, "RPK refused.");
            }
        }
    }

    /// R1 (answered with the echo), then R2 back (the channel opens), or the HSM's
    /// refusal.
    pub(super) fn legacy_exchange<R: CryptoRng>(&mut self, frame: Frame<'_>, rng: &mut R, out: &mut Vec<Effect>) {
        let peer_failed = frame.frame_type == frame::FrameType::HandshakeFailed;
        let (failure, hsm, cached) = match core::mem::take(&mut self.channel) {
            Channel::LegacyChallenge { state, hsm, rpk, cached } => match state.receive_challenge(frame, rng) {
                Ok((state, echo)) => {
                    out.push(Effect::SendFrame(echo));
                    self.channel = Channel::LegacyProof { state: Box::new(state), hsm, rpk, cached };
                    return;
                }
                Err(e) => (e, hsm, cached),
            },
            Channel::LegacyProof { state, hsm, rpk, cached } => match state.receive_proof(frame) {
                Ok(session) => {
                    self.log.push("HSM connected");
                    if !cached {
                        self.rpks.insert(hsm.clone(), rpk);
                    }
                    self.channel = Channel::Open { session, hsm };
                    return;
                }
                Err(e) => (e, hsm, cached),
            },
            other => {
                self.channel = other;
                return;
            }
        };
        if cached {
            self.rpks.remove(&hsm);
        }
        if !peer_failed {
            out.push(Effect::SendFrame(frame::handshake_failed()));
        }
        self.log.push("HSM refused");
        let reason = if failure == Error::NonceMismatch { "Nonce mismatch:\nHSM refused." } else { "HSM refused." };
        self.overlay = Some(screens::operation_ended("Connection", reason));
    }

    /// A downgrade attempt: nothing changes but the screen.
    fn legacy_refused(&mut self, out: &mut Vec<Effect>) {
        self.log.push("Legacy refused");
        out.push(Effect::SendFrame(frame::handshake_failed()));
        self.overlay = Some(screens::operation_ended("Connection", LEGACY_REFUSED));
    }

    fn legacy_failed(&mut self, out: &mut Vec<Effect>, reason: &str) {
        self.log.push("HSM refused");
        out.push(Effect::SendFrame(frame::handshake_failed()));
        self.overlay = Some(screens::operation_ended("Connection", reason));
    }
}
