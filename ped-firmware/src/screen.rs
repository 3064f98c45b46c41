//! The PED's display: 8 lines of at most 20 characters, as the seed's screens show.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Lines on the display.
pub const LINES: usize = 8;
/// Characters per line.
pub const COLUMNS: usize = 20;

/// One frame of the display. Lines are stored trimmed of trailing spaces, so golden
/// tests compare the text a person reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Screen {
    lines: [String; LINES],
}

impl Screen {
    /// A screen showing `lines` from the top, each cut to [`COLUMNS`] characters; more
    /// than [`LINES`] lines are cut too (a drawing bug, caught by the golden tests).
    pub fn new<S: AsRef<str>>(lines: &[S]) -> Self {
        let mut screen = Screen::default();
        for (slot, line) in screen.lines.iter_mut().zip(lines) {
            *slot = line.as_ref().chars().take(COLUMNS).collect::<String>().trim_end().into();
        }
        screen
    }

    /// The eight lines, empty ones included.
    pub fn lines(&self) -> &[String; LINES] {
        &self.lines
    }

    /// The lines up to the last one with text, as the seed prints a screen.
    pub fn text_lines(&self) -> Vec<&str> {
        let used = self.lines.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
        self.lines[..used].iter().map(String::as_str).collect()
    }
}

impl fmt::Display for Screen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in self.text_lines() {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}
