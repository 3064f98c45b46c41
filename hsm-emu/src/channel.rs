//! The HSM's end of a channel handshake, sans-IO: which of the three kinds a link
//! gets, and the one-time password's lifetime across attempts.

use ped_proto::frame::Frame;
use ped_proto::handshake::SUPPORTED_VERSIONS;
use ped_proto::handshake::hsm::{self, AwaitingLocalKeyShare, AwaitingPasswordProof, AwaitingRpvKeyShare};
use ped_proto::record::ChannelSession;
use ped_proto::secrets::OneTimePassword;
use ped_proto::{Error, ErrorCode};
use rand_core::CryptoRng;

use crate::error::{HsmCode, HsmError};
use crate::hsm::{Hsm, Request};

/// How a link's channel is authenticated.
#[derive(Debug)]
pub enum Auth {
    /// Local PED-USB: C(1e,1s).
    Local,
    /// Remote, before RPV initialisation: C(1e,1s) with the one-time password.
    Password(OneTimePassword),
    /// Remote with the RPV: C(2e,2s).
    Rpv,
}

impl Auth {
    /// The authentication a remote link gets: the password if one was given (only on a
    /// zeroised HSM), the RPV otherwise (which must exist).
    pub fn remote(hsm: &Hsm, password: Option<OneTimePassword>) -> Result<Self, HsmError> {
        Self::check_remote(hsm, password.is_some())?;
        Ok(match password {
            Some(p) => Auth::Password(p),
            None => Auth::Rpv,
        })
    }

    /// Whether a remote link may be authenticated with a one-time password
    /// (`with_password`) or the RPV, before one is lent to it.
    pub fn check_remote(hsm: &Hsm, with_password: bool) -> Result<(), HsmError> {
        if with_password && !hsm.is_zeroised() {
            return Err(HsmError::hsm(
                HsmCode::NotAllowed,
                "a one-time password is only for remote RPV initialisation on a zeroised HSM",
            ));
        }
        if !with_password && !hsm.has_rpv() {
            return Err(HsmError::hsm(
                HsmCode::NotInitialized,
                "the RPV is not initialised: run `ped vector init` on a local PED, or `ped connect -password`",
            ));
        }
        Ok(())
    }
}

impl Auth {
    /// What authenticates the link after `request` completed over it: a one-time-password
    /// channel exists only to initialise the RPV, so once the new RPV is in force the link
    /// is renegotiated with it (seed: "the HSM establishes a Remote PED connection using
    /// the newly-created RPV"). Returns whether the channel must be dropped, so that the
    /// next PED command starts a C(2e,2s) handshake on the same link.
    pub fn after(&mut self, request: &Request, hsm: &Hsm) -> bool {
        let switch = matches!(self, Auth::Password(_)) && *request == Request::VectorInit && hsm.has_rpv();
        if switch {
            *self = Auth::Rpv;
        }
        switch
    }
}

/// A handshake awaiting the PED's key share.
#[derive(Debug)]
pub enum Handshake {
    /// C(1e,1s).
    Local(AwaitingLocalKeyShare),
    /// C(1e,1s) with the password.
    Password(AwaitingPasswordProof),
    /// C(2e,2s).
    Rpv(AwaitingRpvKeyShare),
}

impl Handshake {
    /// Builds the HsmHello for `auth`.
    pub fn start<R: CryptoRng + ?Sized>(hsm: &Hsm, auth: &Auth, rng: &mut R) -> Result<(Self, Vec<u8>), HsmError> {
        let id = hsm.identity();
        Ok(match auth {
            Auth::Local => {
                let (p, hello) = hsm::start_local(id, SUPPORTED_VERSIONS, rng)?;
                (Handshake::Local(p), hello)
            }
            Auth::Password(password) => {
                let (p, hello) = hsm::start_password(id, SUPPORTED_VERSIONS, password, rng)?;
                (Handshake::Password(p), hello)
            }
            Auth::Rpv => {
                let (p, hello) = hsm::start_rpv(id, SUPPORTED_VERSIONS, hsm.rpks(), rng)?;
                (Handshake::Rpv(p), hello)
            }
        })
    }

    /// Takes the PED's answer; returns the session and the HsmFinished frame. On
    /// failure the caller sends HandshakeFailed (`ped_proto::frame::handshake_failed`).
    ///
    /// A C(2e,2s) key confirmation that fails for an orange keyset the HSM holds is a
    /// failed RPV login and is counted ([`Hsm::count_rpv_failure`]); an orange keyset
    /// it does not hold is not.
    pub fn finish(self, frame: &[u8], hsm: &mut Hsm, auth: &mut Auth) -> Result<(ChannelSession, Vec<u8>), HsmError> {
        let frame = Frame::decode_exact(frame).map_err(Error::from)?;
        if frame.frame_type == ped_proto::frame::FrameType::HandshakeFailed {
            return Err(Error::PeerFailed.into());
        }
        Ok(match (self, auth) {
            (Handshake::Local(p), _) => p.receive_key_share(frame)?,
            (Handshake::Password(p), Auth::Password(password)) => p.receive_key_share(frame, password)?,
            (Handshake::Rpv(p), _) => match p.receive_key_share(frame, hsm.rpks()) {
                Ok((session, finished, _)) => {
                    hsm.reset_rpv_failures();
                    (session, finished)
                }
                Err(Error::KeyConfirmationFailed) => return Err(hsm.count_rpv_failure()),
                Err(e) => return Err(e.into()),
            },
            _ => return Err(HsmError::ped(ErrorCode::PedError)),
        })
    }
}
