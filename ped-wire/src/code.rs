//! The stable codes users see.
//!
//! Every failure a user can meet carries an [`ErrorCode`]: the seed's own codes where
//! one fits (`CKR_PED_UNPLUGGED`, `RC_SOCKET_ERROR` …) and project codes in the
//! `0xC000_09xx` range for failures of the secure channel, which the seed does not
//! number. Codes never change once published; docs/protocol.md lists them.

use core::fmt;

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
