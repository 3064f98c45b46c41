//! ped-sim as a board's peripherals (`--board ENDPOINT`): the PED core runs elsewhere
//! (the firmware image under QEMU, `mcu/ped-board`); this driver connects to the board's
//! peripheral link (docs/board.md), draws what it sends, takes the keypad and serves the
//! ikey-emu key port, so that the terminal UI, scripts and the control socket work as
//! with the in-process core.
//!
//! Every keypad key and key-port change goes to the board with a sequence number; the
//! action that caused it is done when the board answers Done with that number, so a
//! `press` returns once the PED has handled it, screens drawn and key operations served.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ikey_emu::{KeyStore, Port};
use ped_firmware::PedConfig;
use ped_firmware::board::PortWatch;
use ped_firmware::hal::{KeyPort, KeyPortError};
use ped_firmware::io::{Button, Event};
use ped_firmware::peripheral_link::{BootReason, Decoder, Provision, ToBoard, ToHost};
use ped_firmware::screen::Screen;
use ped_proto::device::PedMode;

use crate::config::Endpoint;
use crate::display::Display;
use crate::driver::{Action, Input, Outputs, TICK};
use crate::endpoint::Stream;

/// How long an action waits for the board's Done before it fails.
const BOARD_PATIENCE: Duration = Duration::from_secs(120);
/// How often a lost board link is tried again.
const RECONNECT: Duration = Duration::from_millis(200);

/// What the link reader tells the driver.
#[derive(Debug)]
pub enum BoardInput {
    /// Connected to the board; the write half.
    Connected(Stream),
    /// A message from the board.
    Message(ToHost),
    /// The board's link closed (QEMU stopped: the PED halted or was switched off).
    Gone,
}

/// An action waiting for the board's Done.
#[derive(Debug)]
struct Pending {
    seq: u16,
    done: Sender<Result<(), String>>,
    deadline: Instant,
}

/// The key port and what the board last heard of it.
#[derive(Debug)]
struct Keys {
    port: Port,
    watch: PortWatch,
}

/// The peripherals of a PED board.
#[derive(Debug)]
pub struct BoardDriver {
    provision: Provision,
    link: Option<Stream>,
    keys: Option<Keys>,
    display: Arc<Display>,
    outputs: Outputs,
    started: Instant,
    mode: PedMode,
    usb: bool,
    next_seq: u16,
    pending: Vec<Pending>,
}

impl BoardDriver {
    /// The peripherals of the board at `board` (the PED is built from `config` there),
    /// with key port `keys` (directory, port name). The link reader starts at once and
    /// reconnects whenever the board goes away; `inputs` is the driver's own queue.
    pub fn new(
        config: &PedConfig,
        board: &Endpoint,
        keys: Option<(&Path, &str)>,
        outputs: Outputs,
        unix_time: Option<u64>,
        inputs: Sender<Input>,
    ) -> Result<BoardDriver, String> {
        let keys = match keys {
            Some((dir, name)) => {
                let store = KeyStore::open(dir).map_err(|e| e.to_string())?;
                Some(Keys { port: Port::open(&store, name).map_err(|e| e.to_string())?, watch: PortWatch::default() })
            }
            None => None,
        };
        let Endpoint::Unix(path) = board.clone() else {
            return Err("--board takes socket:PATH, the board's peripheral UART (QEMU -chardev socket)".into());
        };
        let unix_seconds =
            unix_time.unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()));
        let provision = Provision {
            unix_seconds,
            key_timeout_ms: config.key_timeout_ms,
            pin_iterations: config.pin_iterations.get(),
            serial: config.serial.clone(),
            firmware_version: config.firmware_version.clone(),
            trusted_root: config.trusted_root.clone(),
        };
        let display = Arc::new(Display::new(Screen::default(), PedMode::SelectMode));
        thread::Builder::new()
            .name("board-link".into())
            .spawn(move || read_board(&path, &inputs))
            .map_err(|e| e.to_string())?;
        Ok(BoardDriver {
            provision,
            link: None,
            keys,
            display,
            outputs,
            started: Instant::now(),
            mode: PedMode::SelectMode,
            usb: false,
            next_seq: 0,
            pending: Vec::new(),
        })
    }

    /// What the driver draws on.
    pub fn display(&self) -> Arc<Display> {
        Arc::clone(&self.display)
    }

    /// Runs until [`Input::Quit`] or until every sender is gone.
    pub fn run(mut self, inputs: Receiver<Input>) {
        let mut next_tick = Instant::now() + TICK;
        loop {
            match inputs.recv_timeout(next_tick.saturating_duration_since(Instant::now())) {
                Ok(Input::Quit) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Input::Board(input)) => self.board(input),
                Ok(Input::Act { action, done }) => self.act(action, done),
                // No USB endpoint here: the board's USB link is QEMU's own socket.
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            }
            if Instant::now() >= next_tick {
                self.watch_port();
                self.expire();
                next_tick = Instant::now() + TICK;
            }
        }
        if let Some(link) = self.link.take() {
            link.shutdown();
        }
    }

    fn board(&mut self, input: BoardInput) {
        match input {
            BoardInput::Connected(link) => {
                self.link = Some(link);
                self.introduce();
            }
            BoardInput::Message(message) => self.message(message),
            BoardInput::Gone => {
                self.link = None;
                self.fail_pending("the PED board went away");
                self.show(Screen::new(&["PED board", "not connected."]));
            }
        }
    }

    /// Provision, then the port's state: on connecting and whenever the board booted.
    fn introduce(&mut self) {
        self.send(&ToBoard::Provision(self.provision.clone()));
        let now = self.keys.as_mut().and_then(|k| k.port.inserted().ok().flatten());
        self.tell(now.map_or(Event::KeyRemoved, Event::KeyInserted));
        self.publish_status();
    }

    fn message(&mut self, message: ToHost) {
        match message {
            ToHost::Booted(reason) => {
                if reason == BootReason::OutOfMemory {
                    eprintln!("ped-sim: the PED board restarted: out of memory");
                }
                self.fail_pending("the PED board restarted");
                self.introduce();
            }
            ToHost::Draw(screen) => self.show(screen),
            ToHost::Status { mode, usb } => {
                self.mode = mode;
                self.usb = usb;
                self.publish_status();
            }
            ToHost::ReadKey => {
                let result = self.key_port(|p| p.read());
                self.send(&ToBoard::KeyRead(result));
            }
            ToHost::WriteKey(payload) => {
                let result = self.key_port(|p| p.write(&payload));
                self.send(&ToBoard::KeyWritten(result));
            }
            ToHost::EraseKey => {
                let result = self.key_port(|p| p.erase());
                self.send(&ToBoard::KeyWritten(result));
            }
            ToHost::Done { seq } => {
                let (done, rest) = std::mem::take(&mut self.pending).into_iter().partition(|p| p.seq == seq);
                self.pending = rest;
                for p in done {
                    let _ = p.done.send(Ok(()));
                }
            }
            ToHost::Halted(reason) => {
                eprintln!("ped-sim: the PED board halted: {reason}");
                self.fail_pending("the PED board halted");
            }
        }
    }

    fn act(&mut self, action: Action, done: Sender<Result<(), String>>) {
        if self.link.is_none() {
            let _ = done.send(Err("the PED board is not connected".into()));
            return;
        }
        let last = match self.send_action(action) {
            Ok(last) => last,
            Err(e) => {
                let _ = done.send(Err(e));
                return;
            }
        };
        match last {
            Some(seq) => self.pending.push(Pending { seq, done, deadline: Instant::now() + BOARD_PATIENCE }),
            None => {
                let _ = done.send(Ok(()));
            }
        }
    }

    /// Sends what `action` does; the seq of the last event sent, if any.
    fn send_action(&mut self, action: Action) -> Result<Option<u16>, String> {
        Ok(match action {
            Action::Press(buttons) => {
                let mut last = None;
                for button in buttons {
                    last = Some(self.press(button));
                }
                last
            }
            Action::ClearHeld => {
                let seq = self.seq();
                self.send(&ToBoard::ClearHeld { seq });
                Some(seq)
            }
            Action::Insert(key) => {
                let keys = self.keys.as_ref().ok_or(NO_PORT)?;
                let serial = keys.port.store().resolve(&key).map_err(|e| e.to_string())?;
                let mut last = None;
                if keys.port.key().map_err(|e| e.to_string())?.is_some_and(|k| k != serial) {
                    keys.port.remove().map_err(|e| e.to_string())?;
                    last = self.watch_port();
                }
                self.keys.as_ref().ok_or(NO_PORT)?.port.insert(serial).map_err(|e| e.to_string())?;
                self.watch_port().or(last)
            }
            Action::Remove => {
                let keys = self.keys.as_ref().ok_or(NO_PORT)?;
                if keys.port.key().map_err(|e| e.to_string())?.is_some() {
                    keys.port.remove().map_err(|e| e.to_string())?;
                }
                self.watch_port()
            }
        })
    }

    fn press(&mut self, button: Button) -> u16 {
        let seq = self.seq();
        self.send(&ToBoard::Press { seq, button });
        seq
    }

    /// Tells the board about a key put in or pulled out (here or with the ikey-emu CLI);
    /// the seq of the last event sent.
    fn watch_port(&mut self) -> Option<u16> {
        self.link.as_ref()?;
        let keys = self.keys.as_mut()?;
        let change = keys.watch.look(&mut keys.port)?;
        let last = change.events().map(|event| self.tell(event)).last();
        self.publish_status();
        last
    }

    /// Sends the board a key-port event; its seq.
    fn tell(&mut self, event: Event) -> u16 {
        let seq = self.seq();
        let message = match &event {
            Event::KeyInserted(key) => ToBoard::KeyInserted { seq, key: *key },
            _ => ToBoard::KeyRemoved { seq },
        };
        if let Some(keys) = &mut self.keys {
            keys.watch.note(&event);
        }
        self.send(&message);
        seq
    }

    fn seq(&mut self) -> u16 {
        self.next_seq = self.next_seq.wrapping_add(1);
        self.next_seq
    }

    fn send(&mut self, message: &ToBoard) {
        let Some(link) = &mut self.link else { return };
        if let Err(e) = link.write_all(&message.encode()).and_then(|()| link.flush()) {
            eprintln!("ped-sim: board link: {e}");
            // The reader sees the end and reports Gone.
            link.shutdown();
        }
    }

    fn key_port<T>(&mut self, op: impl FnOnce(&mut Port) -> Result<T, KeyPortError>) -> Result<T, KeyPortError> {
        self.keys.as_mut().map_or(Err(KeyPortError::NoKey), |keys| op(&mut keys.port))
    }

    fn fail_pending(&mut self, why: &str) {
        for p in self.pending.drain(..) {
            let _ = p.done.send(Err(why.to_owned()));
        }
    }

    fn expire(&mut self) {
        let now = Instant::now();
        let (late, rest) = std::mem::take(&mut self.pending).into_iter().partition(|p| p.deadline <= now);
        self.pending = rest;
        for p in late {
            let _ = p.done.send(Err("the PED board did not answer".into()));
        }
    }

    /// Outputs first, then the display, as the in-process driver does.
    fn show(&mut self, screen: Screen) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.outputs.write(self.display.view().seq + 1, ms, self.mode, &screen);
        self.display.draw(screen);
    }

    fn publish_status(&self) {
        self.display.status(self.mode, self.usb, self.keys.as_ref().and_then(|k| k.watch.told()));
    }
}

/// Connects to the board (again and again), passing its messages to the driver.
fn read_board(path: &Path, inputs: &Sender<Input>) {
    loop {
        let Ok(stream) = UnixStream::connect(path) else {
            thread::sleep(RECONNECT);
            continue;
        };
        let (Ok(writer), mut reader) = (stream.try_clone(), stream) else { continue };
        if inputs.send(Input::Board(BoardInput::Connected(Stream::Unix(writer)))).is_err() {
            return;
        }
        let mut decoder = Decoder::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            for &byte in &buf[..n] {
                match decoder.push(byte) {
                    Some(Ok(raw)) => match ToHost::decode(&raw) {
                        Ok(message) => {
                            if inputs.send(Input::Board(BoardInput::Message(message))).is_err() {
                                return;
                            }
                        }
                        Err(e) => eprintln!("ped-sim: board link: {e}"),
                    },
                    Some(Err(e)) => eprintln!("ped-sim: board link: {e}"),
                    None => {}
                }
            }
        }
        if inputs.send(Input::Board(BoardInput::Gone)).is_err() {
            return;
        }
        thread::sleep(RECONNECT);
    }
}

const NO_PORT: &str = "no key port: start ped-sim with --keys DIR [--port NAME]";
