//! The typed errors of the secure channel. The stable codes users see
//! ([`ErrorCode`]) and the decoders' [`DecodeError`] live in `ped-wire`, which the
//! relays share without linking any cryptography.

use core::fmt;

pub use ped_wire::{DecodeError, ErrorCode};

use crate::quorum::QuorumError;

/// Every failure of this crate.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Bytes from the wire were malformed.
    Decode(DecodeError),
    /// A P-521 public key was not a valid point (wrong length or encoding, off the
    /// curve, or the identity).
    InvalidPublicKey,
    /// A private key value was zero, not below the group order, or of the wrong length.
    InvalidPrivateKey,
    /// A certificate failed a check; the reason names the check.
    Certificate(CertificateError),
    /// The peer offered no protocol version this end supports.
    NoCommonVersion,
    /// The channel kind offered by the HSM is not one this end accepts now.
    ChannelKindRefused,
    /// The peer's key-confirmation tag did not verify (wrong RPV, wrong password, or
    /// a man in the middle).
    KeyConfirmationFailed,
    /// The one-time password was wrong; `remaining` tries are left before it burns.
    PasswordRejected {
        /// Tries left before the password is burnt.
        remaining: u8,
    },
    /// The one-time password is burnt (3 failures) or was never set.
    PasswordBurnt,
    /// The orange keyset presented is not one whose RPV this HSM holds.
    UnknownRpk,
    /// The peer reported that the handshake failed (it says nothing more, by design).
    PeerFailed,
    /// A message arrived that the current state does not expect.
    UnexpectedMessage,
    /// A record failed authentication: tampered, replayed, reordered, reflected or truncated.
    RecordIntegrity,
    /// A wrapped CSP failed to unwrap.
    CspUnwrapFailed,
    /// The direction has reached its record limit; the session must be re-established.
    SessionLimitReached,
    /// The peer closed the channel; nothing more can be received.
    ChannelClosed,
    /// A plaintext exceeded the maximum record size.
    RecordTooLarge,
    /// A KDF output length was out of range.
    KdfLengthInvalid,
    /// A key had a length that the algorithm does not accept.
    KeyLengthInvalid,
    /// The legacy channel's nonce did not come back (R1 at the HSM, R2 at the PED): a
    /// wrong RPV, or a message altered on the way.
    NonceMismatch,
    /// The legacy channel (firmware 7.4.2 and older) was refused: the hello claims a
    /// firmware that speaks the current channel, or names an HSM this PED knows to
    /// speak it, or arrived while a current channel was open.
    LegacyRefused,
    /// An M-of-N operation was refused: a bad quorum, a split of the wrong keyset, a split
    /// presented twice, too few splits.
    Quorum(QuorumError),
}

/// Which certificate check failed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateError {
    /// The DER did not parse as an X.509 certificate.
    Malformed,
    /// A signature did not verify under the issuer's key.
    BadSignature,
    /// The signature algorithm is not ECDSA with SHA-512.
    UnsupportedAlgorithm,
    /// The public key is not a P-521 key.
    UnsupportedKey,
    /// The current time is outside the certificate's validity period.
    Expired,
    /// An issuer is not marked as a CA, or a path length constraint is exceeded.
    NotACa,
    /// The key usage extension does not allow the use made of the key.
    KeyUsage,
    /// A certificate's issuer name is not its parent's subject name.
    NameMismatch,
    /// The chain does not end at the trusted root.
    UntrustedRoot,
    /// The chain is empty or longer than the maximum depth.
    ChainLength,
    /// The RPK certificate was not issued by the HOC it was checked against.
    HocMismatch,
    /// The HSM's identifier in its hello is not the serial number its certificate
    /// carries.
    SerialMismatch,
}

impl Error {
    /// The stable code a user sees for this error.
    pub const fn code(&self) -> ErrorCode {
        match self {
            Error::Decode(_) | Error::UnexpectedMessage | Error::RecordTooLarge => ErrorCode::PedProtocolError,
            Error::InvalidPublicKey
            | Error::Certificate(_)
            | Error::ChannelKindRefused
            | Error::KeyConfirmationFailed
            | Error::PasswordRejected { .. }
            | Error::UnknownRpk
            | Error::PeerFailed
            | Error::NonceMismatch => ErrorCode::PedAuthFailed,
            Error::NoCommonVersion | Error::LegacyRefused => ErrorCode::PedVersionMismatch,
            Error::PasswordBurnt => ErrorCode::PedPasswordBurnt,
            Error::RecordIntegrity | Error::CspUnwrapFailed => ErrorCode::PedIntegrityError,
            Error::SessionLimitReached => ErrorCode::PedSessionLimit,
            Error::ChannelClosed => ErrorCode::CkrPedUnplugged,
            Error::InvalidPrivateKey | Error::KdfLengthInvalid | Error::KeyLengthInvalid => ErrorCode::PedError,
            // The key holder presented the wrong keys, or not enough of them.
            Error::Quorum(
                QuorumError::NoSplits
                | QuorumError::NotEnoughSplits { .. }
                | QuorumError::MixedKeysets
                | QuorumError::AlreadyPresented { .. },
            ) => ErrorCode::CkrTokenNotPresent,
            // Metadata or lengths out of range: a damaged key or a malformed message.
            Error::Quorum(
                QuorumError::InvalidQuorum { .. } | QuorumError::BadIndex { .. } | QuorumError::SecretLength { .. },
            ) => ErrorCode::PedProtocolError,
            // Keys that disagree, or a split past a complete quorum (a caller's bug).
            Error::Quorum(QuorumError::Inconsistent | QuorumError::QuorumComplete) => ErrorCode::PedError,
        }
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Decode(e)
    }
}

impl From<QuorumError> for Error {
    fn from(e: QuorumError) -> Self {
        Error::Quorum(e)
    }
}

impl From<CertificateError> for Error {
    fn from(e: CertificateError) -> Self {
        Error::Certificate(e)
    }
}

impl fmt::Display for CertificateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CertificateError::Malformed => "certificate is not valid DER X.509",
            CertificateError::BadSignature => "certificate signature does not verify",
            CertificateError::UnsupportedAlgorithm => "certificate is not signed with ECDSA P-521/SHA-512",
            CertificateError::UnsupportedKey => "certificate key is not a P-521 key",
            CertificateError::Expired => "certificate is not valid at the current time",
            CertificateError::NotACa => "issuer is not a CA or the path is too long",
            CertificateError::KeyUsage => "certificate key usage does not allow this use",
            CertificateError::NameMismatch => "certificate issuer does not match its parent's subject",
            CertificateError::UntrustedRoot => "certificate chain does not end at the trusted root",
            CertificateError::ChainLength => "certificate chain is empty or too long",
            CertificateError::HocMismatch => "RPK certificate was not issued by this HOC",
            CertificateError::SerialMismatch => "the HSM's serial number is not the one its certificate carries",
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Decode(e) => write!(f, "malformed message: {e}"),
            Error::InvalidPublicKey => f.write_str("invalid P-521 public key"),
            Error::InvalidPrivateKey => f.write_str("invalid P-521 private key"),
            Error::Certificate(e) => write!(f, "certificate check failed: {e}"),
            Error::NoCommonVersion => f.write_str("no common protocol version"),
            Error::ChannelKindRefused => f.write_str("channel kind refused in this mode"),
            Error::KeyConfirmationFailed => {
                f.write_str("key confirmation failed (wrong RPV, wrong password or not the expected peer)")
            }
            Error::PasswordRejected { remaining } => write!(f, "wrong one-time password; {remaining} tries left"),
            Error::PasswordBurnt => f.write_str("one-time password is burnt or not set"),
            Error::UnknownRpk => f.write_str("the orange key is not for this HSM (its RPV is not one the HSM holds)"),
            Error::PeerFailed => f.write_str("the peer ended the handshake"),
            Error::NonceMismatch => f.write_str(
                "the legacy (firmware 7.4.2) channel's nonce did not come back: wrong RPV (orange key or its PIN) or \
                 an altered message",
            ),
            Error::LegacyRefused => f.write_str(
                "legacy (firmware 7.4.2) channel refused: this HSM speaks the firmware 7.7 channel, which cannot be \
                 downgraded",
            ),
            Error::UnexpectedMessage => f.write_str("unexpected message for the current state"),
            Error::RecordIntegrity => f.write_str("record failed its integrity check"),
            Error::CspUnwrapFailed => f.write_str("wrapped CSP failed its integrity check"),
            Error::SessionLimitReached => f.write_str("session record limit reached"),
            Error::ChannelClosed => f.write_str("channel closed by the peer"),
            Error::RecordTooLarge => f.write_str("record plaintext exceeds the maximum size"),
            Error::KdfLengthInvalid => f.write_str("KDF output length out of range"),
            Error::KeyLengthInvalid => f.write_str("key length not accepted"),
            Error::Quorum(e) => write!(f, "quorum refused: {e}"),
        }?;
        write!(f, " — {}: {}", self.code(), self.code().advice())
    }
}

impl core::error::Error for Error {}
impl core::error::Error for CertificateError {}
