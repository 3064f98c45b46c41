//! What the PED shows, shared between the driver (which draws) and whoever watches:
//! the terminal UI, `wait-screen` and `screen` commands. Screens are numbered in the
//! order they were drawn.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ped_firmware::hal::KeySerial;
use ped_firmware::screen::Screen;
use ped_proto::device::PedMode;

/// Screens kept for `wait-screen`: a waiter looks at every screen drawn since it
/// started, even one replaced a moment later, as long as it is this recent.
const HISTORY: usize = 256;

/// A snapshot of the PED as a person would see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// The number of the screen: 1 is the one drawn at power-on.
    pub seq: u64,
    /// The LCD.
    pub screen: Screen,
    /// The PED's mode.
    pub mode: PedMode,
    /// Whether a host is connected to the USB endpoint.
    pub host: bool,
    /// The key in the port, as the PED last saw it.
    pub key: Option<KeySerial>,
}

impl View {
    /// Whether any line of the screen contains `text`.
    pub fn shows(&self, text: &str) -> bool {
        self.screen.lines().iter().any(|line| line.contains(text))
    }
}

#[derive(Debug)]
struct State {
    view: View,
    history: VecDeque<(u64, Screen)>,
}

/// The shared display.
#[derive(Debug)]
pub struct Display {
    state: Mutex<State>,
    drawn: Condvar,
}

impl Display {
    /// A display showing `screen` (number 0, before power-on).
    pub fn new(screen: Screen, mode: PedMode) -> Display {
        let view = View { seq: 0, screen: screen.clone(), mode, host: false, key: None };
        Display { state: Mutex::new(State { view, history: VecDeque::from([(0, screen)]) }), drawn: Condvar::new() }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave a half-written View: every update is one
        // assignment, so a poisoned lock still holds a consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The PED now.
    pub fn view(&self) -> View {
        self.lock().view.clone()
    }

    /// A new screen was drawn; returns its number.
    pub fn draw(&self, screen: Screen) -> u64 {
        let mut state = self.lock();
        state.view.seq += 1;
        state.view.screen = screen.clone();
        let seq = state.view.seq;
        if state.history.len() == HISTORY {
            state.history.pop_front();
        }
        state.history.push_back((seq, screen));
        self.drawn.notify_all();
        seq
    }

    /// Updates the status around the LCD.
    pub fn status(&self, mode: PedMode, host: bool, key: Option<KeySerial>) {
        let mut state = self.lock();
        state.view.mode = mode;
        state.view.host = host;
        state.view.key = key;
    }

    /// Waits until the screen now, or one drawn after it, contains `text`; returns that
    /// screen's number and the screen, or the last screen on a timeout.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> Result<(u64, Screen), Box<Screen>> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        let mut next = state.view.seq;
        loop {
            if let Some((seq, screen)) = state
                .history
                .iter()
                .filter(|(seq, _)| *seq >= next)
                .find(|(_, s)| s.lines().iter().any(|l| l.contains(text)))
            {
                return Ok((*seq, screen.clone()));
            }
            next = state.view.seq + 1;
            let now = Instant::now();
            if now >= deadline {
                return Err(Box::new(state.view.screen.clone()));
            }
            state = self.drawn.wait_timeout(state, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}
