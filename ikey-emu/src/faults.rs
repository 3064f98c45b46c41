//! Faults a test rig can inject into one key, as seen by a PED through the key port.
//!
//! They are off by default and stored in the key's own file, so every process that
//! opens the key directory (the PED simulator, the CLI) sees the same ones. They act
//! only on the port: the CLI's inspection and its administrative writes (`wipe`,
//! `import`) are the rig's own view and never fail on purpose.

use std::time::Duration;

/// The longest write latency a key can be given: ten minutes, well above the seed's
/// 36-second RPK rewrite and the PED's 200-second key timeout.
pub const MAX_WRITE_LATENCY_MS: u32 = 600_000;

/// The faults set on a key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Faults {
    /// Every read of the key's content through the port fails, as a token with a bad
    /// contact does. The key can still be seen in the port (its serial answers).
    pub read_error: bool,
    /// The key stops taking data at payload offset N: a write through the port of N
    /// bytes or more fails after its first N bytes have reached the key, which keeps its
    /// old content. Shorter writes complete; `Some(0)` fails every write, erase included.
    pub write_error_after: Option<u32>,
    /// Every write through the port takes at least this long (in the seed, overwriting
    /// an orange key took about 6 s, and takes 36 s with firmware 7.7.0's orange keys).
    pub write_latency_ms: u32,
}

impl Faults {
    /// No fault: the key behaves.
    pub const NONE: Faults = Faults { read_error: false, write_error_after: None, write_latency_ms: 0 };

    /// Whether no fault is set.
    pub fn is_none(&self) -> bool {
        *self == Faults::NONE
    }

    /// Whether the settings are within range (the latency is bounded so that a typo
    /// cannot hang a rig for days).
    pub fn is_valid(&self) -> bool {
        self.write_latency_ms <= MAX_WRITE_LATENCY_MS
    }

    /// If a port write of `len` payload bytes fails, how many of them reach the key first.
    pub fn write_cut(&self, len: usize) -> Option<usize> {
        let after = usize::try_from(self.write_error_after?).unwrap_or(usize::MAX);
        (len >= after).then_some(after)
    }

    /// How long a port write is held before it commits.
    pub fn write_latency(&self) -> Duration {
        Duration::from_millis(u64::from(self.write_latency_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_cut_follows_the_documented_rule() {
        let f = Faults { write_error_after: Some(100), ..Faults::NONE };
        assert_eq!(f.write_cut(99), None);
        assert_eq!(f.write_cut(100), Some(100));
        assert_eq!(f.write_cut(4000), Some(100));
        let zero = Faults { write_error_after: Some(0), ..Faults::NONE };
        assert_eq!(zero.write_cut(0), Some(0), "an erase fails too");
        assert_eq!(Faults::NONE.write_cut(usize::MAX), None);
    }

    #[test]
    fn latency_is_bounded() {
        assert!(Faults { write_latency_ms: MAX_WRITE_LATENCY_MS, ..Faults::NONE }.is_valid());
        assert!(!Faults { write_latency_ms: MAX_WRITE_LATENCY_MS + 1, ..Faults::NONE }.is_valid());
    }
}
