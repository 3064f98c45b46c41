//! A PED in the net: the real core, its key port on the net's drawer of PED keys, and
//! every screen it drew.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use ped_firmware::board::{Board, Output};
use ped_firmware::hal::{InsertedKey, KeyContent, KeyPort, KeyPortError, KeySerial};
use ped_firmware::io::{Button, Event};
use ped_firmware::screen::Screen;
use ped_firmware::{Ped, PedConfig};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// How much a PED key holds, as ikey-emu's default key.
const KEY_CAPACITY: usize = 8192;

/// Every PED key of the net, blank or written, wherever it is: the key holders carry
/// them from one PED to another as in the process rig.
#[derive(Debug, Default)]
pub struct Drawer {
    keys: BTreeMap<KeySerial, Option<Vec<u8>>>,
    next: u64,
}

impl Drawer {
    /// `n` new blank keys; their serials as the PED shows them.
    pub fn blank(&mut self, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                self.next += 1;
                let serial = KeySerial(1_000_000 + self.next);
                self.keys.insert(serial, None);
                serial.to_string()
            })
            .collect()
    }

    /// What key `serial` holds (`None`: blank or unknown).
    pub fn content(&self, serial: &str) -> Option<Vec<u8>> {
        self.keys.get(&parse_serial(serial)).cloned().flatten()
    }

    /// Puts `content` on key `serial` (a key made elsewhere, or tampered with).
    pub fn set(&mut self, serial: &str, content: Option<Vec<u8>>) {
        self.keys.insert(parse_serial(serial), content);
    }
}

/// A serial as [`KeySerial`]'s `Display` writes it.
pub(crate) fn parse_serial(serial: &str) -> KeySerial {
    KeySerial(serial.parse().unwrap_or_else(|_| panic!("`{serial}` is not a PED key serial")))
}

/// One PED's key port over the shared drawer.
#[derive(Debug)]
struct DrawerPort {
    drawer: Rc<RefCell<Drawer>>,
    inserted: Option<KeySerial>,
}

impl KeyPort for DrawerPort {
    fn inserted(&mut self) -> Result<Option<InsertedKey>, KeyPortError> {
        Ok(self.inserted.map(|serial| InsertedKey { serial, capacity: KEY_CAPACITY }))
    }

    fn read(&mut self) -> Result<Option<KeyContent>, KeyPortError> {
        let serial = self.inserted.ok_or(KeyPortError::NoKey)?;
        Ok(self.drawer.borrow().keys.get(&serial).cloned().flatten().map(KeyContent::from))
    }

    fn write(&mut self, payload: &[u8]) -> Result<(), KeyPortError> {
        let serial = self.inserted.ok_or(KeyPortError::NoKey)?;
        if payload.len() > KEY_CAPACITY {
            return Err(KeyPortError::TooLarge { capacity: KEY_CAPACITY });
        }
        self.drawer.borrow_mut().keys.insert(serial, Some(payload.to_vec()));
        Ok(())
    }

    fn erase(&mut self) -> Result<(), KeyPortError> {
        let serial = self.inserted.ok_or(KeyPortError::NoKey)?;
        self.drawer.borrow_mut().keys.insert(serial, None);
        Ok(())
    }
}

/// A PED of the net.
#[derive(Debug)]
pub(crate) struct PedNode {
    board: Board<DrawerPort>,
    rng: ChaCha20Rng,
    /// Frames for the host, not yet put on the wire.
    sent: VecDeque<Vec<u8>>,
    /// Every screen drawn, in order, the first (power-on) included.
    drawn: Vec<Screen>,
    unix_start: u64,
}

impl PedNode {
    pub(crate) fn new(config: PedConfig, drawer: Rc<RefCell<Drawer>>, seed: u64, unix_start: u64) -> PedNode {
        let mut node = PedNode {
            board: Board::new(Ped::new(config), DrawerPort { drawer, inserted: None }),
            rng: ChaCha20Rng::seed_from_u64(seed),
            sent: VecDeque::new(),
            drawn: Vec::new(),
            unix_start,
        };
        node.feed(Event::PowerOn);
        node.tick(0);
        node
    }

    /// Gives the core the time, as a board does before each input and when the core asks.
    pub(crate) fn tick(&mut self, now_ms: u64) {
        let unix_seconds = self.unix_start + now_ms / 1000;
        self.feed(Event::Tick { monotonic_ms: now_ms, unix_seconds });
    }

    /// Feeds one event; the board carries out the key port's part.
    pub(crate) fn feed(&mut self, event: Event) {
        self.board.handle(event, &mut self.rng);
        while let Some(output) = self.board.poll_output() {
            match output {
                Output::Draw(screen) => self.drawn.push(screen),
                Output::SendFrame(frame) => self.sent.push_back(frame),
            }
        }
    }

    /// When the core wants its next tick, in the net's milliseconds.
    pub(crate) fn poll_timeout(&self) -> Option<u64> {
        self.board.poll_timeout()
    }

    pub(crate) fn take_sent(&mut self) -> Option<Vec<u8>> {
        self.sent.pop_front()
    }

    pub(crate) fn press(&mut self, button: Button) {
        self.feed(Event::Pressed(button));
    }

    /// Puts key `serial` in the port, pulling out any other first.
    pub(crate) fn insert(&mut self, serial: &str) {
        let serial = parse_serial(serial);
        assert!(self.board.port().drawer.borrow().keys.contains_key(&serial), "key {serial} is not in the drawer");
        if self.board.port().inserted.is_some() {
            self.remove();
        }
        self.board.port_mut().inserted = Some(serial);
        self.feed(Event::KeyInserted(InsertedKey { serial, capacity: KEY_CAPACITY }));
    }

    pub(crate) fn remove(&mut self) {
        if self.board.port_mut().inserted.take().is_some() {
            self.feed(Event::KeyRemoved);
        }
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        self.board.ped().screen().text_lines().into_iter().map(String::from).collect()
    }

    pub(crate) fn drawn(&self) -> &[Screen] {
        &self.drawn
    }
}
