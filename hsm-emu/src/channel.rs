//! The HSM's end of a channel handshake, sans-IO: which of the three kinds a link
//! gets (or, on firmware 7.4.2 and older, the legacy channel of protocol §17), and the
//! one-time password's lifetime across attempts.

use ped_proto::frame::Frame;
use ped_proto::handshake::SUPPORTED_VERSIONS;
use ped_proto::handshake::hsm::{self, AwaitingLocalKeyShare, AwaitingPasswordProof, AwaitingRpvKeyShare};
use ped_proto::legacy::{self, FirmwareVersion, HsmAwaitingEcho, HsmAwaitingShare};
use ped_proto::record::ChannelSession;
use ped_proto::secrets::OneTimePassword;
use ped_proto::{Error, ErrorCode};
use rand_core::CryptoRng;

use crate::error::{HsmCode, HsmError};
use crate::hsm::{Hsm, Request};

/// The HSM's firmware as `serve --firmware` sets it: which remote channel it speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Firmware {
    /// 7.7.0 or newer (the default): the current channels only.
    #[default]
    Current,
    /// 7.4.2 or older: its remote links speak only the legacy channel (protocol §17).
    Legacy(FirmwareVersion),
}

impl Firmware {
    /// `7.4.2` and older, or `7.7.0` and newer; the versions between are neither
    /// channel's and are refused.
    pub fn parse(text: &str) -> Result<Self, String> {
        let version = FirmwareVersion::parse(text)
            .ok_or_else(|| format!("--firmware {text}: not a firmware version (MAJOR.MINOR.PATCH, e.g. 7.4.2)"))?;
        if version.is_legacy() {
            Ok(Firmware::Legacy(version))
        } else if version >= FirmwareVersion::CURRENT_OLDEST {
            Ok(Firmware::Current)
        } else {
            Err(format!(
                "--firmware {text}: this emulator is an HSM on firmware {} or older, or {} or newer",
                FirmwareVersion::LEGACY_NEWEST,
                FirmwareVersion::CURRENT_OLDEST
            ))
        }
    }
}

/// How a link's channel is authenticated.
#[derive(Debug)]
pub enum Auth {
    /// Local PED-USB: C(1e,1s).
    Local,
    /// Remote, before RPV initialisation: C(1e,1s) with the one-time password.
    Password(OneTimePassword),
    /// Remote with the RPV: C(2e,2s).
    Rpv,
    /// Remote with the RPV, on firmware 7.4.2 and older: the legacy channel.
    Legacy(FirmwareVersion),
}

impl Auth {
    /// The authentication a remote link gets: the password if one was given (only on a
    /// zeroised HSM), the RPV otherwise (which must exist).
    pub fn remote(hsm: &Hsm, password: Option<OneTimePassword>) -> Result<Self, HsmError> {
        Self::remote_on(hsm, password, Firmware::Current)
    }

    /// [`Auth::remote`] on `firmware`: an HSM on 7.4.2 or older has the RPV only, and
    /// speaks the legacy channel with it.
    pub fn remote_on(hsm: &Hsm, password: Option<OneTimePassword>, firmware: Firmware) -> Result<Self, HsmError> {
        Self::check_remote_on(hsm, password.is_some(), firmware)?;
        Ok(match (password, firmware) {
            (Some(p), _) => Auth::Password(p),
            (None, Firmware::Legacy(version)) => Auth::Legacy(version),
            (None, Firmware::Current) => Auth::Rpv,
        })
    }

    /// Whether a remote link may be authenticated with a one-time password
    /// (`with_password`) or the RPV, before one is lent to it.
    pub fn check_remote(hsm: &Hsm, with_password: bool) -> Result<(), HsmError> {
        Self::check_remote_on(hsm, with_password, Firmware::Current)
    }

    /// [`Auth::check_remote`] on `firmware` (7.4.2 and older: no password).
    pub fn check_remote_on(hsm: &Hsm, with_password: bool, firmware: Firmware) -> Result<(), HsmError> {
        if let (true, Firmware::Legacy(version)) = (with_password, firmware) {
            return Err(HsmError::hsm(
                HsmCode::NotAllowed,
                format!(
                    "an HSM on firmware {version} has no remote RPV initialisation: run `ped vector init` on a \
                     local PED, then `ped connect` without a password"
                ),
            ));
        }
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
    /// The legacy channel: the PED's public value awaited.
    Legacy(HsmAwaitingShare),
    /// The legacy channel: R1 back from the PED awaited.
    LegacyEcho(HsmAwaitingEcho),
}

/// Where a handshake stands after the PED's message.
#[derive(Debug)]
pub enum HandshakeStep {
    /// The channel is open; the last frame goes to the PED.
    Open(Box<ChannelSession>, Vec<u8>),
    /// The legacy channel's next message goes to the PED; its answer is awaited.
    Continue(Box<Handshake>, Vec<u8>),
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
            Auth::Legacy(version) => {
                let (p, hello) = legacy::hsm_start(&id.id, *version, hsm.rpks(), rng)?;
                (Handshake::Legacy(p), hello)
            }
        })
    }

    /// Takes the PED's message: the session and the HsmFinished frame, or (legacy
    /// channel) the next message to send. On failure the caller sends HandshakeFailed
    /// (`ped_proto::frame::handshake_failed`). The legacy channel's R1 that does not
    /// come back is a failed RPV login and is counted, as [`Handshake::finish`]'s
    /// failed key confirmation is.
    pub fn step<R: CryptoRng + ?Sized>(
        self,
        frame: &[u8],
        hsm: &mut Hsm,
        auth: &mut Auth,
        rng: &mut R,
    ) -> Result<HandshakeStep, HsmError> {
        let legacy_frame = || -> Result<Frame<'_>, HsmError> {
            let frame = Frame::decode_exact(frame).map_err(Error::from)?;
            if frame.frame_type == ped_proto::frame::FrameType::HandshakeFailed {
                return Err(Error::PeerFailed.into());
            }
            Ok(frame)
        };
        match self {
            Handshake::Legacy(p) => {
                let (next, challenge) = p.receive_share(legacy_frame()?, hsm.rpks(), rng)?;
                Ok(HandshakeStep::Continue(Box::new(Handshake::LegacyEcho(next)), challenge))
            }
            Handshake::LegacyEcho(p) => match p.receive_echo(legacy_frame()?, rng) {
                Ok((session, proof)) => {
                    hsm.reset_rpv_failures();
                    Ok(HandshakeStep::Open(Box::new(session), proof))
                }
                Err(Error::NonceMismatch) => {
                    let counted = hsm.count_rpv_failure();
                    let detail = format!("the PED's R1 did not come back on the legacy channel: {}", counted.detail);
                    Err(HsmError { code: counted.code, detail })
                }
                Err(e) => Err(e.into()),
            },
            current => current
                .finish(frame, hsm, auth)
                .map(|(session, finished)| HandshakeStep::Open(Box::new(session), finished)),
        }
    }

    /// Takes the PED's answer to a current hello; returns the session and the
    /// HsmFinished frame. On failure the caller sends HandshakeFailed
    /// (`ped_proto::frame::handshake_failed`).
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

#[cfg(test)]
mod tests {
    use super::Firmware;

    #[test]
    fn firmware_7_4_2_and_older_is_legacy_7_7_0_and_newer_current_and_between_refused() {
        assert!(matches!(Firmware::parse("7.4.2"), Ok(Firmware::Legacy(v)) if v.to_string() == "7.4.2"));
        assert!(matches!(Firmware::parse("6.3.0"), Ok(Firmware::Legacy(_))));
        assert_eq!(Firmware::parse("7.7.0"), Ok(Firmware::Current));
        assert_eq!(Firmware::parse("7.9.1"), Ok(Firmware::Current));
        let between = Firmware::parse("7.5.0").unwrap_err();
        assert!(between.contains("7.4.2 or older, or 7.7.0 or newer"), "{between}");
        for bad in ["7.4", "7.4.2.1", "seven", "7.4.256", ""] {
            assert!(Firmware::parse(bad).unwrap_err().contains("not a firmware version"), "{bad}");
        }
    }
}
