//! The one effect loop around the PED core: [`Board`] owns the [`Ped`] and its key port,
//! carries out the key-port operations the core asks for (their answers fed back in
//! order) and queues what is left for the driver: the screens to draw and the frames to
//! send ([`Output`]). ped-sim, the firmware's tests, the in-memory network and the MCU
//! image drive the core through it; each brings its own key port, flash, clock and RNG.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use rand_core::CryptoRng;

use crate::core::Ped;
use crate::hal::{InsertedKey, KeyPort, KeySerial};
use crate::io::{Effect, Event};
use crate::screen::Screen;
use crate::update::slots::{ImageSlots, NoFlash};

/// What the PED asks of the hardware beyond its key port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Show this screen.
    Draw(Screen),
    /// Send this whole frame to the host.
    SendFrame(Vec<u8>),
}

/// A change of the key in the port that the core has not been told of yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortChange {
    /// The key the core knows of went out.
    pub removed: bool,
    /// The key now in the port.
    pub inserted: Option<InsertedKey>,
}

impl PortChange {
    /// The events that tell the core: [`Event::KeyRemoved`], then
    /// [`Event::KeyInserted`], each if it happened.
    pub fn events(self) -> impl Iterator<Item = Event> {
        self.removed.then_some(Event::KeyRemoved).into_iter().chain(self.inserted.map(Event::KeyInserted))
    }
}

/// The key the PED was last told of, to tell it of a change that happened out of its
/// sight (ped-sim's port is a file that `ikey-emu insert` changes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortWatch {
    told: Option<KeySerial>,
}

impl PortWatch {
    /// The key the PED was last told of.
    pub fn told(&self) -> Option<KeySerial> {
        self.told
    }

    /// Notes what `event` tells the PED about the port.
    pub fn note(&mut self, event: &Event) {
        match event {
            Event::KeyInserted(key) => self.told = Some(key.serial),
            Event::KeyRemoved => self.told = None,
            _ => {}
        }
    }

    /// Looks at `port`: what changed since the PED was last told, if anything. A port
    /// that does not answer did not change (the next look tries again).
    pub fn look<P: KeyPort>(&self, port: &mut P) -> Option<PortChange> {
        let now = port.inserted().ok()?;
        (now.map(|k| k.serial) != self.told).then_some(PortChange { removed: self.told.is_some(), inserted: now })
    }
}

/// The PED core, its key port `P` and its flash `F`, driven as a board drives it.
///
/// [`handle`](Self::handle) feeds an event and every key-port answer it leads to;
/// the screens and frames wait in [`poll_output`](Self::poll_output). The driver gives
/// the core a [`Event::Tick`] at [`poll_timeout`](Self::poll_timeout) and before each
/// input, and tells it of keys put in or pulled out ([`look_at_port`](Self::look_at_port)
/// for a port that changes out of its sight).
#[derive(Debug)]
pub struct Board<P: KeyPort, F: ImageSlots = NoFlash> {
    ped: Ped<F>,
    port: P,
    watch: PortWatch,
    outputs: VecDeque<Output>,
}

impl<P: KeyPort, F: ImageSlots> Board<P, F> {
    /// The board of `ped` with key port `port`, which the core has not been told of
    /// yet: feed [`Event::PowerOn`] first.
    pub fn new(ped: Ped<F>, port: P) -> Self {
        Board { ped, port, watch: PortWatch::default(), outputs: VecDeque::new() }
    }

    /// Feeds `event`, then the answers of the key-port operations it asks for, in the
    /// order asked, until the core asks for none.
    pub fn handle<R: CryptoRng>(&mut self, event: Event, rng: &mut R) {
        let mut events = VecDeque::from([event]);
        while let Some(event) = events.pop_front() {
            self.watch.note(&event);
            for effect in self.ped.handle(event, rng) {
                match effect {
                    Effect::Draw(screen) => self.outputs.push_back(Output::Draw(screen)),
                    Effect::SendFrame(frame) => self.outputs.push_back(Output::SendFrame(frame)),
                    Effect::ReadKey => events.push_back(Event::KeyRead(self.port.read())),
                    Effect::WriteKey(payload) => events.push_back(Event::KeyWritten(self.port.write(&payload))),
                    Effect::EraseKey => events.push_back(Event::KeyWritten(self.port.erase())),
                }
            }
        }
    }

    /// The next screen to draw or frame to send, oldest first.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When the core next needs a tick ([`Ped::poll_timeout`]).
    pub fn poll_timeout(&self) -> Option<u64> {
        self.ped.poll_timeout()
    }

    /// What changed in the port since the core was last told (by any event fed here);
    /// feed [`PortChange::events`] to tell it, after a tick.
    pub fn look_at_port(&mut self) -> Option<PortChange> {
        self.watch.look(&mut self.port)
    }

    /// The key the core was last told of.
    pub fn told_key(&self) -> Option<KeySerial> {
        self.watch.told()
    }

    /// The PED core.
    pub fn ped(&self) -> &Ped<F> {
        &self.ped
    }

    /// The PED core, for what a board does beside the events (its flash's faults).
    pub fn ped_mut(&mut self) -> &mut Ped<F> {
        &mut self.ped
    }

    /// The key port.
    pub fn port(&self) -> &P {
        &self.port
    }

    /// The key port, to put keys in and pull them out (then tell the core).
    pub fn port_mut(&mut self) -> &mut P {
        &mut self.port
    }
}
