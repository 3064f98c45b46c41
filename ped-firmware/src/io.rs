//! What goes into the PED core and what comes out of it. The core is a deterministic
//! state machine: the device driver (board firmware, the simulator, a test) feeds it
//! [`Event`]s and carries out the [`Effect`]s it returns.

use alloc::vec::Vec;

use crate::hal::{InsertedKey, KeyContent, KeyPortError};
use crate::screen::Screen;

/// A key of the PED keypad (seed lines 3496-3507).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Button {
    /// 0-9: menu choices, PINs, M and N, the one-time password.
    Digit(u8),
    /// Clears the current entry; held five seconds, resets the current operation.
    Clear,
    /// `<`: backspace, or back to the previous menu.
    Back,
    /// `>`: the log of recent actions since entering the mode.
    Log,
    /// Yes.
    Yes,
    /// No.
    No,
    /// Enter.
    Enter,
}

/// A keypad key's name that is none of [`Button`]'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownButton;

impl core::fmt::Display for UnknownButton {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("press 0-9, enter, clear, <, >, yes or no")
    }
}

/// A key by the name a person or a script gives it (any case): a digit, `enter`, `clear`
/// or `c`, `back` or `<`, `log` or `>`, `yes` or `y`, `no` or `n`. ped-sim's control
/// commands and the test kit's key holders both read keys this way.
impl core::str::FromStr for Button {
    type Err = UnknownButton;

    fn from_str(name: &str) -> Result<Self, UnknownButton> {
        let is = |word: &str| name.eq_ignore_ascii_case(word);
        Ok(match name.as_bytes() {
            [d] if d.is_ascii_digit() => Button::Digit(d - b'0'),
            _ if is("enter") => Button::Enter,
            _ if is("clear") || is("c") => Button::Clear,
            _ if is("back") || is("<") => Button::Back,
            _ if is("log") || is(">") => Button::Log,
            _ if is("yes") || is("y") => Button::Yes,
            _ if is("no") || is("n") => Button::No,
            _ => return Err(UnknownButton),
        })
    }
}

/// Something that happened to the PED.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Power on. The boot loader (`update::boot`) has already chosen and verified the
    /// image and the driver built the [`crate::Ped`] with its slot; the core forgets
    /// any channel and shows Select Mode.
    PowerOn,
    /// A keypad key was pressed.
    Pressed(Button),
    /// Clear has been held down for five seconds.
    ClearHeld,
    /// A PED key was inserted in the key port.
    KeyInserted(InsertedKey),
    /// The PED key was pulled out.
    KeyRemoved,
    /// A whole frame arrived from the host (HSM, pedserver or an update tool).
    HostFrame(Vec<u8>),
    /// The host link went away (USB unplugged, pedserver gone).
    HostDisconnected,
    /// Time passed: the monotonic clock in milliseconds and the wall clock in Unix
    /// seconds (for certificate validity).
    Tick {
        /// Milliseconds since an arbitrary start, never going back.
        monotonic_ms: u64,
        /// Seconds since the Unix epoch.
        unix_seconds: u64,
    },
    /// The answer to [`Effect::ReadKey`].
    KeyRead(Result<Option<KeyContent>, KeyPortError>),
    /// The answer to [`Effect::WriteKey`] or [`Effect::EraseKey`].
    KeyWritten(Result<(), KeyPortError>),
}

/// Something the PED core asks its hardware to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Show this screen.
    Draw(Screen),
    /// Send this whole frame to the host.
    SendFrame(Vec<u8>),
    /// Read the key in the port; the result comes back as [`Event::KeyRead`].
    ReadKey,
    /// Write this payload to the key in the port; the result comes back as
    /// [`Event::KeyWritten`].
    WriteKey(KeyContent),
    /// Make the key in the port blank; the result comes back as [`Event::KeyWritten`].
    EraseKey,
}
