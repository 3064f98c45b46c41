//! The board: the one thread that owns the PED core and feeds it events, carrying out
//! its effects on the key port, the USB link, the flash and the display.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use getrandom::SysRng;
use ikey_emu::{KeyStore, Port};
use ped_firmware::board::Output;
use ped_firmware::io::{Button, Event};
use ped_firmware::screen::Screen;
use ped_firmware::update;
use ped_firmware::update::file::FileSlots;
use ped_firmware::{Board, Ped, PedConfig};
use ped_proto::device::{MAX_IMAGE_LEN, PedMode};
use rand_core::UnwrapErr;

use crate::display::Display;
use crate::endpoint::{Stream, frame_records};

/// How often the key port is looked at: a key inserted with the ikey-emu CLI (in
/// another process; the port state is a file) is seen within this time. The core itself
/// is ticked only when it asks ([`Ped::poll_timeout`]) and before each input.
pub const TICK: Duration = Duration::from_millis(100);

/// Something for the driver to do.
#[derive(Debug)]
pub enum Input {
    /// A host plugged into the USB endpoint.
    HostConnected {
        /// Which connection.
        id: u64,
        /// Its write half.
        link: Stream,
    },
    /// A whole frame from host `id`.
    HostFrame {
        /// Which connection.
        id: u64,
        /// The frame.
        frame: Vec<u8>,
    },
    /// Host `id` unplugged.
    HostGone {
        /// Which connection.
        id: u64,
    },
    /// A key holder's action; the result goes back on `done`.
    Act {
        /// What to do.
        action: Action,
        /// Where to say it was done.
        done: Sender<Result<(), String>>,
    },
    /// From the board's peripheral link (`--board`; the in-process driver ignores it).
    Board(crate::board::BoardInput),
    /// Stop.
    Quit,
}

/// What a key holder does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Presses these keypad keys in order.
    Press(Vec<Button>),
    /// Holds Clear for five seconds.
    ClearHeld,
    /// Puts this key (serial or ikey-emu label) in the port, pulling out any other.
    Insert(String),
    /// Pulls the key out.
    Remove,
}

/// Where every screen is written, as JSON lines and as text.
#[derive(Default)]
pub struct Outputs {
    json: Option<Box<dyn Write + Send>>,
    text: Option<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for Outputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outputs").field("json", &self.json.is_some()).field("text", &self.text.is_some()).finish()
    }
}

impl Outputs {
    /// Opens the outputs; `-` is stdout.
    pub fn open(json: Option<&Path>, text: Option<&Path>) -> io::Result<Outputs> {
        let open = |path: Option<&Path>| -> io::Result<Option<Box<dyn Write + Send>>> {
            Ok(match path {
                None => None,
                Some(p) if p == Path::new("-") => Some(Box::new(io::stdout())),
                Some(p) => Some(Box::new(File::create(p)?)),
            })
        };
        Ok(Outputs { json: open(json)?, text: open(text)? })
    }

    pub(crate) fn write(&mut self, seq: u64, ms: u64, mode: PedMode, screen: &Screen) {
        if let Some(out) = &mut self.json {
            let line = serde_json::json!({"seq": seq, "ms": ms, "mode": format!("{mode:?}"), "lines": screen.lines()});
            // A reader that went away (a closed pipe) must not stop the PED.
            let _ = writeln!(out, "{line}").and_then(|()| out.flush());
        }
        if let Some(out) = &mut self.text {
            let _ = write!(out, "--- screen {seq} ({mode:?}, {ms} ms) ---\n{screen}").and_then(|()| out.flush());
        }
    }
}

/// The simulated board: the core and its key port (if the simulator has one) on a
/// [`Board`], driven by the system clock, the OS RNG, the USB endpoint and the display.
#[derive(Debug)]
pub struct Driver {
    board: Board<Option<Port>, FileSlots>,
    rng: UnwrapErr<SysRng>,
    host: Option<(u64, Stream)>,
    display: Arc<Display>,
    outputs: Outputs,
    started: Instant,
    unix_at_start: u64,
}

/// The PED's flash in `state/flash`, and the configuration the boot loader leaves:
/// the booted image's slot and version, or the configured version on blank flash
/// (a simulator starts without an image, as if from the factory's).
pub fn boot(mut config: PedConfig, state: Option<&Path>) -> Result<(PedConfig, Option<FileSlots>), String> {
    let Some(state) = state else { return Ok((config, None)) };
    let dir = state.join("flash");
    let mut flash =
        FileSlots::open(&dir, MAX_IMAGE_LEN as usize).map_err(|e| format!("flash in {}: {e}", dir.display()))?;
    if let Some(key) = &config.vendor_key {
        match update::boot(&mut flash, key) {
            Ok(booted) => {
                // The firmware has started: its level becomes the PED's minimum (anti-rollback).
                update::confirm(&mut flash, &booted).map_err(|e| format!("flash in {}: {e}", dir.display()))?;
                config.firmware_version = booted.version.to_string();
                config.running_slot = Some(booted.slot);
            }
            // Blank flash is the normal start: nothing booted from it, and an update
            // goes to slot B.
            Err(_) => config.running_slot = None,
        }
    }
    Ok((config, Some(flash)))
}

impl Driver {
    /// A PED at power-on with `config`, its flash, and key port `port` of the key
    /// directory `keys`.
    pub fn new(
        config: PedConfig,
        flash: Option<FileSlots>,
        keys: Option<(&Path, &str)>,
        outputs: Outputs,
        unix_time: Option<u64>,
    ) -> Result<Driver, String> {
        let port = match keys {
            Some((dir, name)) => {
                let store = KeyStore::open(dir).map_err(|e| e.to_string())?;
                Some(Port::open(&store, name).map_err(|e| e.to_string())?)
            }
            None => None,
        };
        let unix_at_start =
            unix_time.unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()));
        let ped = Ped::with_flash(config, flash);
        let display = Arc::new(Display::new(ped.screen().clone(), ped.mode()));
        let mut driver = Driver {
            board: Board::new(ped, port),
            rng: UnwrapErr(SysRng),
            host: None,
            display,
            outputs,
            started: Instant::now(),
            unix_at_start,
        };
        // Power-on draws the first screen (number 1), as a board's display starts blank.
        driver.feed(Event::PowerOn);
        driver.watch_port();
        driver.tick();
        Ok(driver)
    }

    /// What the driver draws on, for the UI and the commands to watch.
    pub fn display(&self) -> Arc<Display> {
        Arc::clone(&self.display)
    }

    /// Runs until [`Input::Quit`] or until every sender is gone.
    /// Sleeps until an input, the core's [`Ped::poll_timeout`] or the next look at the
    /// key port (with a key port only), whichever comes first.
    pub fn run(mut self, inputs: Receiver<Input>) {
        let mut next_look = Instant::now() + TICK;
        loop {
            let core = self.board.poll_timeout().map(|ms| self.started + Duration::from_millis(ms));
            let look = self.board.port().is_some().then_some(next_look);
            let received = match core.into_iter().chain(look).min() {
                Some(wake) => inputs.recv_timeout(wake.saturating_duration_since(Instant::now())),
                None => inputs.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match received {
                Ok(Input::Quit) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(input) => {
                    // The clock first: what the input starts counts from now.
                    self.tick();
                    self.input(input);
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if self.board.port().is_some() && Instant::now() >= next_look {
                self.watch_port();
                next_look = Instant::now() + TICK;
            }
            if self.board.poll_timeout().is_some_and(|ms| self.monotonic_ms() >= ms) {
                self.tick();
            }
        }
        if let Some((_, link)) = self.host.take() {
            link.shutdown();
        }
    }

    fn input(&mut self, input: Input) {
        match input {
            Input::HostConnected { id, link } => {
                if let Some((_, old)) = self.host.replace((id, link)) {
                    old.shutdown();
                }
                self.publish_status();
            }
            Input::HostFrame { id, frame } => {
                if self.host.as_ref().is_some_and(|(current, _)| *current == id) {
                    self.feed(Event::HostFrame(frame));
                }
            }
            Input::HostGone { id } => {
                if self.host.as_ref().is_some_and(|(current, _)| *current == id) {
                    self.host = None;
                    self.feed(Event::HostDisconnected);
                }
            }
            Input::Act { action, done } => {
                let result = self.act(action);
                // The asker may have given up waiting; the action happened anyway.
                let _ = done.send(result);
            }
            Input::Board(_) | Input::Quit => {}
        }
    }

    fn act(&mut self, action: Action) -> Result<(), String> {
        match action {
            Action::Press(buttons) => buttons.into_iter().for_each(|b| self.feed(Event::Pressed(b))),
            Action::ClearHeld => self.feed(Event::ClearHeld),
            Action::Insert(key) => {
                let port = self.board.port().as_ref().ok_or(NO_PORT)?;
                let serial = port.store().resolve(&key).map_err(|e| e.to_string())?;
                if port.key().map_err(|e| e.to_string())?.is_some_and(|k| k != serial) {
                    port.remove().map_err(|e| e.to_string())?;
                    self.watch_port();
                }
                self.board.port().as_ref().ok_or(NO_PORT)?.insert(serial).map_err(|e| e.to_string())?;
                self.watch_port();
            }
            Action::Remove => {
                let port = self.board.port().as_ref().ok_or(NO_PORT)?;
                if port.key().map_err(|e| e.to_string())?.is_some() {
                    port.remove().map_err(|e| e.to_string())?;
                }
                self.watch_port();
            }
        }
        Ok(())
    }

    fn monotonic_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Gives the core the time.
    fn tick(&mut self) {
        let elapsed = self.started.elapsed();
        let monotonic_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        self.feed(Event::Tick { monotonic_ms, unix_seconds: self.unix_at_start + elapsed.as_secs() });
    }

    /// Tells the PED about a key put in or pulled out, by this simulator or by
    /// `ikey-emu insert/remove` in another process (the port state is a file).
    fn watch_port(&mut self) {
        let Some(change) = self.board.look_at_port() else { return };
        // The clock first: a key holder's action restarts the PED-key action timeout.
        self.tick();
        change.events().for_each(|event| self.feed(event));
    }

    /// Feeds one event through the board (which serves the key port), then draws and
    /// sends what it output.
    fn feed(&mut self, event: Event) {
        self.board.handle(event, &mut self.rng);
        while let Some(output) = self.board.poll_output() {
            match output {
                Output::Draw(screen) => self.show(screen),
                Output::SendFrame(frame) => self.send(&frame),
            }
        }
        self.publish_status();
    }

    /// Writes the screen to the outputs, then draws it: whoever sees it on the display
    /// (a `wait-screen`) finds it in the outputs too. The driver is the only drawer, so
    /// the next number is the display's plus one.
    fn show(&mut self, screen: Screen) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.outputs.write(self.display.view().seq + 1, ms, self.board.ped().mode(), &screen);
        self.display.draw(screen);
    }

    /// Sends a frame to the host, if one is plugged in; a frame for a host that went
    /// away is lost, as on a cable pulled out.
    fn send(&mut self, frame: &[u8]) {
        let Some((_, link)) = &mut self.host else { return };
        if let Err(e) = link.write_all(&frame_records(frame)).and_then(|()| link.flush()) {
            eprintln!("ped-sim: usb: {e}; unplugging");
            // The reader then sees the end and reports HostGone, the one path that
            // tells the core.
            link.shutdown();
        }
    }

    fn publish_status(&self) {
        self.display.status(self.board.ped().mode(), self.host.is_some(), self.board.told_key());
    }
}

const NO_PORT: &str = "no key port: start ped-sim with --keys DIR [--port NAME]";
