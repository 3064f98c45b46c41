//! Digits typed on the keypad (PINs, the one-time password, M and N), wiped on drop.

use zeroize::Zeroizing;

use alloc::string::String;

/// What the key holder is typing. `Clear` empties it, `<` removes the last digit.
#[derive(Debug)]
pub(crate) struct Entry {
    digits: Zeroizing<String>,
    max: usize,
}

impl Entry {
    /// An empty entry taking at most `max` digits.
    pub(crate) fn new(max: usize) -> Self {
        Entry { digits: Zeroizing::new(String::with_capacity(max)), max }
    }

    /// An entry holding `number` already (M, when `<` goes back to it from N).
    pub(crate) fn holding(max: usize, number: u8) -> Self {
        let mut entry = Entry::new(max);
        entry.digits.push_str(&alloc::format!("{number}"));
        entry
    }

    /// Adds a digit (0-9); false when the entry is full and the digit was refused, so
    /// that the flow can say why nothing appeared.
    #[must_use]
    pub(crate) fn push(&mut self, digit: u8) -> bool {
        if self.digits.len() >= self.max {
            return false;
        }
        if digit <= 9 {
            self.digits.push(char::from(b'0' + digit));
        }
        true
    }

    /// `<`: removes the last digit; false when there was none (then `<` means "back").
    pub(crate) fn backspace(&mut self) -> bool {
        self.digits.pop().is_some()
    }

    /// `Clear`.
    pub(crate) fn clear(&mut self) {
        self.digits.clear();
    }

    /// How many digits are typed (what the screen shows as stars).
    pub(crate) fn len(&self) -> usize {
        self.digits.len()
    }

    /// Whether nothing is typed.
    pub(crate) fn is_empty(&self) -> bool {
        self.digits.is_empty()
    }

    /// The digits.
    pub(crate) fn as_str(&self) -> &str {
        &self.digits
    }
}
