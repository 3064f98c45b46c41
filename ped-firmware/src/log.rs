//! The `>` log: the most recent actions since the PED entered its current mode
//! (seed line 3503). Bounded, so a long session cannot grow the heap; entries are
//! short, fixed texts and never hold a secret.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

/// Entries kept; the screen shows the last six.
pub const LOG_CAPACITY: usize = 16;

/// Recent actions, oldest first.
#[derive(Debug, Default)]
pub struct ActionLog {
    entries: VecDeque<String>,
}

impl ActionLog {
    /// Appends an action, cut to one display line; the oldest is dropped when full.
    pub fn push(&mut self, entry: &str) {
        if self.entries.len() == LOG_CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(entry.chars().take(crate::screen::COLUMNS).collect());
    }

    /// Forgets everything: a mode was entered.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> Vec<String> {
        self.entries.iter().cloned().collect()
    }
}
