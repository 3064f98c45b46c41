//! Typed errors and the stable codes users see.
//!
//! Every failure a user can meet carries an [`ErrorCode`]: the seed's own codes where
//! one fits (`CKR_PED_UNPLUGGED`, `RC_SOCKET_ERROR` …) and project codes in the
//! `0xC000_09xx` range for failures of the secure channel, which the seed does not
//! number. Codes never change once published; docs/protocol.md lists them.

use core::fmt;

use crate::quorum::QuorumError;

/// A stable, numbered error code with a name and a sentence that says what to do.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The operation was cancelled (by a key holder on the PED, or by the HSM).
    CkrCancel,
    /// The HSM's callback to the PED failed; usually the PED link is too slow or broken.
    CkrCallbackError,
    /// Generic device failure.
    CkrDeviceError,
    /// No PED key was presented.
    CkrTokenNotPresent,
    /// The PED is not connected.
    CkrPedUnplugged,
    /// A PED operation or a remote reply did not arrive in time.
    RcOperationTimedOut,
    /// A socket could not be opened, bound or used.
    RcSocketError,
    /// Generic PED protocol failure.
    PedError,
    /// The secure channel could not be authenticated (certificate, RPV, password or key confirmation).
    PedAuthFailed,
    /// A frame or message was malformed.
    PedProtocolError,
    /// The two ends share no protocol version.
    PedVersionMismatch,
    /// The one-time password has been used up by failed attempts.
    PedPasswordBurnt,
    /// A record failed its integrity check (tampered, replayed, reordered, reflected).
    PedIntegrityError,
    /// The session reached its record limit and must be re-established.
    PedSessionLimit,
}

impl ErrorCode {
    /// Every code, in a stable order (used by docs and tests).
    pub const ALL: [ErrorCode; 14] = [
        ErrorCode::CkrCancel,
        ErrorCode::CkrCallbackError,
        ErrorCode::CkrDeviceError,
        ErrorCode::CkrTokenNotPresent,
        ErrorCode::CkrPedUnplugged,
        ErrorCode::RcOperationTimedOut,
        ErrorCode::RcSocketError,
        ErrorCode::PedError,
        ErrorCode::PedAuthFailed,
        ErrorCode::PedProtocolError,
        ErrorCode::PedVersionMismatch,
        ErrorCode::PedPasswordBurnt,
        ErrorCode::PedIntegrityError,
        ErrorCode::PedSessionLimit,
    ];

    /// The 32-bit value printed as `0x%08x` beside the name.
    pub const fn value(self) -> u32 {
        match self {
            ErrorCode::CkrCancel => 0x0000_0001,
            ErrorCode::CkrCallbackError => 0x0000_000A,
            ErrorCode::CkrDeviceError => 0x0000_0030,
            ErrorCode::CkrTokenNotPresent => 0x0000_00E0,
            ErrorCode::CkrPedUnplugged => 0x8000_002E,
            ErrorCode::RcOperationTimedOut => 0xC000_0303,
            ErrorCode::RcSocketError => 0xC000_0500,
            ErrorCode::PedError => 0xC000_0900,
            ErrorCode::PedAuthFailed => 0xC000_0901,
            ErrorCode::PedProtocolError => 0xC000_0902,
            ErrorCode::PedVersionMismatch => 0xC000_0903,
            ErrorCode::PedPasswordBurnt => 0xC000_0904,
            ErrorCode::PedIntegrityError => 0xC000_0905,
            ErrorCode::PedSessionLimit => 0xC000_0906,
        }
    }

    /// The code for a numeric value, if it is one of ours.
    pub fn from_value(value: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.value() == value)
    }

    /// The symbolic name, as the seed prints it.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::CkrCancel => "CKR_CANCEL",
            ErrorCode::CkrCallbackError => "CKR_CALLBACK_ERROR",
            ErrorCode::CkrDeviceError => "CKR_DEVICE_ERROR",
            ErrorCode::CkrTokenNotPresent => "CKR_TOKEN_NOT_PRESENT",
            ErrorCode::CkrPedUnplugged => "CKR_PED_UNPLUGGED",
            ErrorCode::RcOperationTimedOut => "RC_OPERATION_TIMED_OUT",
            ErrorCode::RcSocketError => "RC_SOCKET_ERROR",
            ErrorCode::PedError => "PED_ERROR",
            ErrorCode::PedAuthFailed => "PED_ERROR_AUTH_FAILED",
            ErrorCode::PedProtocolError => "PED_ERROR_PROTOCOL",
            ErrorCode::PedVersionMismatch => "PED_ERROR_VERSION_MISMATCH",
            ErrorCode::PedPasswordBurnt => "PED_ERROR_PASSWORD_BURNT",
            ErrorCode::PedIntegrityError => "PED_ERROR_INTEGRITY",
            ErrorCode::PedSessionLimit => "PED_ERROR_SESSION_LIMIT",
        }
    }

    /// What the user should do about it.
    pub const fn advice(self) -> &'static str {
        match self {
            ErrorCode::CkrCancel => "The operation was cancelled; run the command again when ready.",
            ErrorCode::CkrCallbackError => {
                "The PED did not answer in time over its link; check the USB cable and try `pedserver -mode config -set -pedwritelay 50`."
            }
            ErrorCode::CkrDeviceError => "The device reported a failure; check its log and retry.",
            ErrorCode::CkrTokenNotPresent => "No PED key was presented; insert the requested key and retry.",
            ErrorCode::CkrPedUnplugged => {
                "The PED is not connected; reconnect it (or run `ped connect` again for a Remote PED) before issuing commands."
            }
            ErrorCode::RcOperationTimedOut => {
                "The operation timed out; check the network path to the PED and the PED-key action timeout, then retry."
            }
            ErrorCode::RcSocketError => "A socket failed; check the address, port, firewall and permissions.",
            ErrorCode::PedError => "The PED protocol failed; retry, and report the log if it persists.",
            ErrorCode::PedAuthFailed => {
                "The secure channel was not authenticated; check that the orange key (RPV), the password or the HSM certificate chain is the right one."
            }
            ErrorCode::PedProtocolError => {
                "A malformed message was received; check that both ends run compatible software."
            }
            ErrorCode::PedVersionMismatch => {
                "The HSM and the PED share no protocol version; update the PED firmware or the HSM software."
            }
            ErrorCode::PedPasswordBurnt => {
                "The one-time password was refused three times and is no longer valid; generate a new one with `ped connect -password`."
            }
            ErrorCode::PedIntegrityError => {
                "A message failed its integrity check and the channel was closed; check the network path, then reconnect."
            }
            ErrorCode::PedSessionLimit => {
                "The channel carried its maximum number of records; reconnect to start a new one."
            }
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08x} ({})", self.value(), self.name())
    }
}

/// Why a byte string could not be decoded. Every decoder of this crate returns one of
/// these for any input it does not accept; none of them panics.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended before the named field was complete.
    Truncated(&'static str),
    /// A PED key written in an older format (the PED asks for it to be re-created).
    OldKeyFormat(u8),
    /// Bytes were left over after the last field.
    TrailingBytes,
    /// A length field exceeded its documented maximum.
    TooLong {
        /// The field whose length was refused.
        field: &'static str,
        /// The largest length allowed.
        max: usize,
    },
    /// The frame did not start with the magic bytes.
    BadMagic,
    /// The frame format version is not one this implementation reads.
    UnsupportedFrameVersion(u8),
    /// The type byte is not defined.
    UnknownType(u8),
    /// A field held a value outside its defined range.
    InvalidValue(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated(field) => write!(f, "input ends inside field `{field}`"),
            DecodeError::OldKeyFormat(v) => {
                write!(f, "PED key format {v} is older than this PED reads: re-create the key")
            }
            DecodeError::TrailingBytes => f.write_str("unexpected bytes after the last field"),
            DecodeError::TooLong { field, max } => {
                write!(f, "field `{field}` is longer than its maximum of {max} bytes")
            }
            DecodeError::BadMagic => f.write_str("not a PED link frame (bad magic)"),
            DecodeError::UnsupportedFrameVersion(v) => write!(f, "frame format version {v} is not supported"),
            DecodeError::UnknownType(t) => write!(f, "unknown type 0x{t:02x}"),
            DecodeError::InvalidValue(field) => write!(f, "field `{field}` holds an invalid value"),
        }
    }
}

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
            | Error::PeerFailed => ErrorCode::PedAuthFailed,
            Error::NoCommonVersion => ErrorCode::PedVersionMismatch,
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
impl core::error::Error for DecodeError {}
impl core::error::Error for CertificateError {}
