//! What an HSM command can end with, as `Command Result : 0x… (NAME)`.

use std::fmt;

use ped_proto::ErrorCode;

/// HSM-side results that are not PED link failures: PKCS#11's own values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HsmCode {
    /// Bad arguments to the command.
    ArgumentsBad,
    /// A PED operation or connection is already in progress.
    OperationActive,
    /// The keyset presented did not reassemble to the role's secret (wrong key of the
    /// right colour, or a wrong PIN).
    PinIncorrect,
    /// The role is locked out by failed logins.
    PinLocked,
    /// The command needs a login first.
    UserNotLoggedIn,
    /// The role, partition or HSM is not initialised.
    NotInitialized,
    /// The command is not allowed in this state (e.g. remote RPV initialisation on an
    /// initialised HSM).
    NotAllowed,
    /// The state directory could not be written.
    GeneralError,
}

impl HsmCode {
    /// The value printed beside the name.
    pub const fn value(self) -> u32 {
        match self {
            HsmCode::GeneralError => 0x0000_0005,
            HsmCode::ArgumentsBad => 0x0000_0007,
            HsmCode::NotAllowed => 0x0000_0054,
            HsmCode::OperationActive => 0x0000_0090,
            HsmCode::PinIncorrect => 0x0000_00A0,
            HsmCode::PinLocked => 0x0000_00A4,
            HsmCode::UserNotLoggedIn => 0x0000_0101,
            HsmCode::NotInitialized => 0x0000_0102,
        }
    }

    /// The PKCS#11 name.
    pub const fn name(self) -> &'static str {
        match self {
            HsmCode::GeneralError => "CKR_GENERAL_ERROR",
            HsmCode::ArgumentsBad => "CKR_ARGUMENTS_BAD",
            HsmCode::NotAllowed => "CKR_FUNCTION_NOT_SUPPORTED",
            HsmCode::OperationActive => "CKR_OPERATION_ACTIVE",
            HsmCode::PinIncorrect => "CKR_PIN_INCORRECT",
            HsmCode::PinLocked => "CKR_PIN_LOCKED",
            HsmCode::UserNotLoggedIn => "CKR_USER_NOT_LOGGED_IN",
            HsmCode::NotInitialized => "CKR_USER_PIN_NOT_INITIALIZED",
        }
    }
}

/// A failed HSM command: a stable code and a sentence that says what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HsmError {
    /// The code.
    pub code: Code,
    /// What happened and what to do.
    pub detail: String,
}

/// Either a PED/link code (ped-proto's) or an HSM code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// A PED, channel or link failure.
    Ped(ErrorCode),
    /// An HSM-side refusal.
    Hsm(HsmCode),
}

impl Code {
    /// The numeric value.
    pub const fn value(self) -> u32 {
        match self {
            Code::Ped(c) => c.value(),
            Code::Hsm(c) => c.value(),
        }
    }

    /// The symbolic name.
    pub const fn name(self) -> &'static str {
        match self {
            Code::Ped(c) => c.name(),
            Code::Hsm(c) => c.name(),
        }
    }
}

impl HsmError {
    /// An HSM-side refusal.
    pub fn hsm(code: HsmCode, detail: impl Into<String>) -> Self {
        HsmError { code: Code::Hsm(code), detail: detail.into() }
    }

    /// A PED or link failure, with the code's own advice.
    pub fn ped(code: ErrorCode) -> Self {
        HsmError { code: Code::Ped(code), detail: code.advice().into() }
    }

    /// A PED failure, with a sentence of its own (what the key holders do next).
    pub fn ped_with(code: ErrorCode, detail: impl Into<String>) -> Self {
        HsmError { code: Code::Ped(code), detail: detail.into() }
    }

    /// The lunacm line: `Command Result : 0x8000002e (CKR_PED_UNPLUGGED)`.
    pub fn result_line(&self) -> String {
        format!("Command Result : 0x{:08x} ({})", self.code.value(), self.code.name())
    }
}

impl From<ped_proto::DecodeError> for HsmError {
    fn from(e: ped_proto::DecodeError) -> Self {
        ped_proto::Error::from(e).into()
    }
}

impl From<ped_proto::Error> for HsmError {
    fn from(e: ped_proto::Error) -> Self {
        HsmError { code: Code::Ped(e.code()), detail: e.to_string() }
    }
}

impl fmt::Display for HsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.result_line(), self.detail)
    }
}

impl std::error::Error for HsmError {}
