//! The people at a PED: they insert PED keys, type PINs and answer the prompts. The
//! same steps drive a PED of the in-memory [`Net`](crate::Net) ([`NetHolder`]) and a
//! ped-sim process through its control socket (the `tests` crate's holder): the
//! ceremony helpers are written once, over [`KeyHolder`].

use std::time::Duration;

use ped_firmware::io::Button;

use crate::net::{Net, Which};

/// One key of a keyset: its serial and its PIN ("" for none).
pub type KeySpec<'a> = (&'a str, &'a str);

/// What a key holder does at a PED.
pub trait KeyHolder {
    /// A keypad key: `enter`, `yes`, `no`, `clear`, `<`, `>`, a digit.
    fn press(&mut self, key: &str);
    /// Digits on the keypad (nothing for "").
    fn type_digits(&mut self, digits: &str);
    /// Puts key `serial` in the port (pulling out any other).
    fn insert(&mut self, serial: &str);
    /// Pulls the key out of the port.
    fn remove(&mut self);
    /// Waits (up to `seconds`) for a screen with a line containing `text`.
    fn wait(&mut self, text: &str, seconds: u32);
    /// The lines shown now.
    fn screen(&mut self) -> Vec<String>;

    /// A key of a quorum being read: insert, Enter, its PIN if it has one.
    fn present(&mut self, serial: &str, pin: &str) {
        self.insert(serial);
        self.press("enter");
        if !pin.is_empty() {
            self.type_digits(pin);
            self.press("enter");
        }
    }

    /// Answers a login (or an orange-key read): waits for `prompt`, then presents `keys`.
    fn login(&mut self, prompt: &str, keys: &[KeySpec<'_>]) {
        self.wait(prompt, 60);
        for (serial, pin) in keys {
            self.present(serial, pin);
        }
    }

    /// Stages 1-2 of a creation: NO to reusing a keyset (the HSM offers it at every
    /// creation), then M and N.
    fn shape(&mut self, m: u8, n: u8) {
        self.wait("reuse an existing", 60);
        self.press("no");
        self.wait("M value?", 60);
        self.type_digits(&m.to_string());
        self.press("enter");
        self.type_digits(&n.to_string());
        self.press("enter");
    }

    /// Stage 3 on a blank key: insert, Enter, YES to overwrite, the new PIN twice.
    fn write_blank(&mut self, serial: &str, pin: &str) {
        self.insert(serial);
        self.press("enter");
        self.press("yes");
        for _ in 0..2 {
            self.type_digits(pin);
            self.press("enter");
        }
    }

    /// Stages 3-4: waits for the `colour` insert prompt (e.g. "(BLUE)"), writes `keys`,
    /// then one duplicate set per entry of `duplicates`.
    fn write(&mut self, colour: &str, keys: &[KeySpec<'_>], duplicates: &[&[KeySpec<'_>]]) {
        self.wait(colour, 60);
        for (serial, pin) in keys {
            self.write_blank(serial, pin);
        }
        for set in duplicates {
            self.press("yes");
            for (serial, pin) in *set {
                self.write_blank(serial, pin);
            }
        }
        self.press("no");
    }

    /// The one-time password of a connection before RPV initialisation.
    fn password(&mut self, digits: &str) {
        self.wait("Enter PED Password.", 60);
        self.type_digits(digits);
        self.press("enter");
    }
}

/// The key holders at one PED of a [`Net`]: each action lets the net run on until
/// nothing is due now; a wait lets virtual time pass until the screen comes.
#[derive(Debug)]
pub struct NetHolder<'a> {
    net: &'a mut Net,
    which: Which,
}

impl<'a> NetHolder<'a> {
    pub(crate) fn new(net: &'a mut Net, which: Which) -> Self {
        NetHolder { net, which }
    }

    /// Holds Clear down for five seconds.
    pub fn hold_clear(&mut self) {
        self.net.hold_clear(self.which);
    }

    /// Every screen this PED drew, as text lines.
    pub fn screens(&self) -> Vec<Vec<String>> {
        self.net.screens(self.which)
    }
}

impl KeyHolder for NetHolder<'_> {
    fn press(&mut self, key: &str) {
        self.net.press(self.which, key.parse::<Button>().unwrap_or_else(|e| panic!("`{key}`: {e}")));
    }

    fn type_digits(&mut self, digits: &str) {
        for d in digits.chars() {
            self.press(&d.to_string());
        }
    }

    fn insert(&mut self, serial: &str) {
        self.net.insert(self.which, serial);
    }

    fn remove(&mut self) {
        self.net.remove(self.which);
    }

    fn wait(&mut self, text: &str, seconds: u32) {
        let end = self.net.elapsed() + Duration::from_secs(seconds.into());
        loop {
            if self.net.ped(self.which).lines().iter().any(|l| l.contains(text)) {
                return;
            }
            let left = end.saturating_sub(self.net.elapsed());
            assert!(
                self.net.advance(left),
                "`{text}` was not shown within {seconds} s; the {:?} PED shows:\n{}",
                self.which,
                self.net.ped(self.which).lines().join("\n")
            );
        }
    }

    fn screen(&mut self) -> Vec<String> {
        self.net.ped(self.which).lines()
    }
}
