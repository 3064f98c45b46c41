//! The HSM's command level, sans-IO, in quinn-proto's shape: which command may run now
//! (one at a time), the PED link's life across commands, and every line the
//! administrator reads, `Command Result` included.
//!
//! A [`Console`] owns the [`Hsm`], its [`Persist`]ence and at most one PED link's
//! [`Conductor`]: it asks for the link to be opened when a command needs it (a Local
//! PED-USB link at the first PED command, pedclient's HSM link at `ped connect`), keeps
//! how the last remote link ended (for `ped show`, and to fail PED commands with
//! CKR_PED_UNPLUGGED "reconnect Remote PED" until `ped connect` or `ped disconnect`),
//! gives the PED's frames between commands to the conductor as they come, saves the
//! state after each command, and drops the link at `hsm factoryreset`.
//!
//! - inputs: [`Console::execute`] (a command's words), [`Console::handle_frame`] (a
//!   whole frame from the open link), [`Console::handle_link_error`] (the link could not
//!   open, failed or ended), [`Console::handle_timeout`], [`Console::abandon`] (the
//!   running command's administrator went away); `now` is the time since the Unix
//!   epoch as the clock chosen at start-up reads it;
//! - outputs: [`Console::poll_output`] (in order: lines for the running command's
//!   administrator, opening and closing the link, frames on it, the command's end) and
//!   [`Console::poll_timeout`].
//!
//! The server's pump and the in-memory test network run this same object.

use std::collections::VecDeque;
use std::time::Duration;

use ped_proto::ErrorCode;
use ped_proto::secrets::{OneTimePassword, PasswordDigits};
use rand_core::CryptoRng;

use crate::channel::{Auth, Firmware};
use crate::conductor::{self, Conductor, LinkState, Timeouts, ended_before};
use crate::error::{HsmCode, HsmError};
use crate::hsm::{Hsm, Request, RoleName};
use crate::lunacm::{self, Command, Connect, LinkEnd, Password, ShownLink, Status};
use crate::state::{HsmState, Store};

/// Default pedserver port.
pub const DEFAULT_PED_PORT: u16 = 1503;

/// Where the HSM's state is saved after each change. A save that fails fails the
/// command that made the change.
pub trait Persist {
    /// Saves `state` whole (atomically).
    fn save(&mut self, state: &HsmState) -> Result<(), HsmError>;
}

impl Persist for Store {
    fn save(&mut self, state: &HsmState) -> Result<(), HsmError> {
        self.save_state(state).map_err(|e| HsmError::hsm(HsmCode::GeneralError, e.to_string()))
    }
}

/// Which links this HSM has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsoleConfig {
    /// A Local PED-USB endpoint is configured.
    pub local_ped: bool,
    /// pedclient's HSM link is configured.
    pub pedclient: bool,
    /// How long the conductors wait.
    pub timeouts: Timeouts,
}

/// The link to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// The local PED's USB endpoint.
    Local,
    /// pedclient's HSM link.
    Pedclient,
}

/// What the pump does next.
#[derive(PartialEq, Eq)]
pub enum Output {
    /// A line for the running command's administrator.
    Line(String),
    /// Open the link (replacing none: a link open before is closed first); a failure
    /// comes back as [`Console::handle_link_error`].
    Open(LinkKind),
    /// One whole frame on the open link (none open: dropped).
    Transmit(Vec<u8>),
    /// Close the open link, after the frames before this.
    Close,
    /// The running command is over; its lines, `Command Result` last, came before.
    Done(Result<(), HsmError>),
}

/// A line may carry the one-time password: `Debug` shows its length only.
impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Line(line) => write!(f, "Line({} chars)", line.len()),
            Output::Open(kind) => f.debug_tuple("Open").field(kind).finish(),
            Output::Transmit(frame) => write!(f, "Transmit({} bytes)", frame.len()),
            Output::Close => f.write_str("Close"),
            Output::Done(result) => f.debug_tuple("Done").field(result).finish(),
        }
    }
}

/// The command in progress, waiting on the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Running {
    /// `ped connect`: pedclient's Connected awaited.
    Connect,
    /// A PED command.
    Request,
}

/// The last one-time password and its tries, kept across `ped connect`s: the same
/// digits get three tries in all, however many links they are given to.
#[derive(Debug)]
struct Remembered {
    digits: PasswordDigits,
    /// `None` while lent to a link, and once that link's channel changed to the RPV
    /// (the password spent).
    password: Option<OneTimePassword>,
}

/// The HSM's command level.
pub struct Console {
    hsm: Hsm,
    store: Box<dyn Persist + Send>,
    config: ConsoleConfig,
    firmware: Firmware,
    started: Duration,
    ped: Option<Conductor>,
    /// How the last remote link ended, for `ped show`; cleared by the next `ped connect`.
    last_end: Option<LinkEnd>,
    password: Option<Remembered>,
    running: Option<Running>,
    out: VecDeque<Output>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("config", &self.config)
            .field("firmware", &self.firmware)
            .field("ped", &self.ped.as_ref().map(Conductor::state))
            .field("last_end", &self.last_end)
            .field("running", &self.running)
            .finish_non_exhaustive()
    }
}

/// Why a command is refused while another runs.
fn operation_active() -> HsmError {
    HsmError::hsm(
        HsmCode::OperationActive,
        "another command is in progress (one command runs at a time); wait for it to finish and retry",
    )
}

impl Console {
    /// The console of `hsm`, saving to `store`; `started`: when the HSM started (for
    /// `ped show`'s up time), on the clock of every `now`.
    pub fn new(hsm: Hsm, store: Box<dyn Persist + Send>, config: ConsoleConfig, started: Duration) -> Self {
        Console {
            hsm,
            store,
            config,
            firmware: Firmware::Current,
            started,
            ped: None,
            last_end: None,
            password: None,
            running: None,
            out: VecDeque::new(),
        }
    }

    /// The console of an HSM on `firmware` (`serve --firmware`): on 7.4.2 and older its
    /// remote links speak only the legacy channel (docs/protocol.md §17), and it has no LCO.
    pub fn with_firmware(mut self, firmware: Firmware) -> Self {
        if let Firmware::Legacy(version) = firmware {
            self.hsm.set_firmware_without_lco(version.to_string());
        }
        self.firmware = firmware;
        self
    }

    /// The HSM.
    pub fn hsm(&self) -> &Hsm {
        &self.hsm
    }

    /// Whether a command is in progress.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// The next thing for the pump to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Console::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.ped.as_ref().and_then(Conductor::poll_timeout)
    }

    /// Starts one command. While another runs it is refused at once with
    /// CKR_OPERATION_ACTIVE (the `Err`, lines and all left to the caller:
    /// [`lunacm::result_lines`]); nothing of it is kept or queued. Otherwise its lines and
    /// its [`Output::Done`] come through [`Console::poll_output`], at once or once the
    /// link has answered.
    pub fn execute<R: CryptoRng + ?Sized>(
        &mut self,
        now: Duration,
        rng: &mut R,
        words: &[String],
    ) -> Result<(), HsmError> {
        if self.running.is_some() {
            return Err(operation_active());
        }
        let command = match lunacm::parse(words) {
            Ok(c) => c,
            Err(e) => {
                self.finish(false, Err(e));
                return Ok(());
            }
        };
        let set = matches!(command, Command::PedSet { .. });
        let result = match command {
            Command::PedConnect(connect) => match self.connect(now, rng, connect) {
                Ok(()) => return Ok(()),
                Err(e) => Err(e),
            },
            Command::Ped(request) => {
                self.request(now, rng, request);
                return Ok(());
            }
            Command::PedDisconnect => self.disconnect(now),
            Command::PedSet { ip, port } => {
                self.hsm.set_ped_default(ip, port);
                self.persist()
            }
            Command::PedShow => {
                for line in lunacm::ped_show(&self.status(now)) {
                    self.line(line);
                }
                Ok(())
            }
            Command::HsmFactoryReset => self.factory_reset(now),
            Command::HsmChangePolicy { policy, value, force } => self.change_policy(policy, value, force),
            Command::PartitionCreate => self.hsm.create_partition().and_then(|()| self.persist()),
            Command::PartitionDelete => self.hsm.delete_partition().and_then(|()| self.persist()),
        };
        self.finish(set, result);
        Ok(())
    }

    /// A whole frame from the open link.
    pub fn handle_frame<R: CryptoRng + ?Sized>(&mut self, now: Duration, rng: &mut R, frame: &[u8]) {
        if let Some(c) = self.ped.as_mut() {
            c.handle_frame(now, &mut self.hsm, rng, frame);
            self.drain();
        }
    }

    /// The link could not be opened, failed, or ended (pedclient's Closed included).
    pub fn handle_link_error(&mut self, now: Duration, e: HsmError) {
        if let Some(c) = self.ped.as_mut() {
            c.handle_link_error(now, &mut self.hsm, e);
            self.drain();
        }
    }

    /// Time has come to `now` (see [`Console::poll_timeout`]).
    pub fn handle_timeout(&mut self, now: Duration) {
        if let Some(c) = self.ped.as_mut() {
            c.handle_timeout(now, &mut self.hsm);
            self.drain();
        }
    }

    /// The running command's administrator went away: a command that has not reached
    /// the PED's key holders never will; one at the PED is cancelled there, so that the
    /// PED is free for the next command (a `ped connect` gives its link up). The command
    /// still ends with [`Output::Done`], for nobody.
    pub fn abandon(&mut self, now: Duration) {
        let Some(running) = self.running else { return };
        let Some(c) = self.ped.as_mut() else { return };
        match running {
            Running::Connect => c.disconnect(now, &mut self.hsm),
            Running::Request => c.cancel(now, &mut self.hsm),
        }
        self.drain();
    }

    /// `ped disconnect`.
    fn disconnect(&mut self, now: Duration) -> Result<(), HsmError> {
        match self.ped.take() {
            Some(mut c) => {
                if c.is_remote() {
                    // A link that had already ended keeps that reason.
                    self.last_end = Some(match c.state() {
                        LinkState::Ended(Some(e)) => LinkEnd::Failed(e.clone()),
                        _ => LinkEnd::Disconnected,
                    });
                }
                c.disconnect(now, &mut self.hsm);
                self.release(c);
                Ok(())
            }
            // A link that already ended: the HSM goes back to its local PED.
            None if matches!(self.last_end, Some(LinkEnd::Failed(_))) => {
                self.last_end = Some(LinkEnd::Disconnected);
                Ok(())
            }
            None => Err(HsmError::hsm(HsmCode::ArgumentsBad, "no Remote PED is connected")),
        }
    }

    /// `hsm factoryreset`.
    fn factory_reset(&mut self, now: Duration) -> Result<(), HsmError> {
        self.hsm.factory_reset();
        // The channel was opened for the HSM as it was; the HSM goes back to its local
        // PED, and a Remote PED needs `ped connect -password` again.
        let ped = self.ped.take();
        if self.last_end.is_some() || ped.as_ref().is_some_and(Conductor::is_remote) {
            self.last_end = Some(LinkEnd::FactoryReset);
        }
        if let Some(mut c) = ped {
            c.disconnect(now, &mut self.hsm);
            self.release(c);
        }
        self.persist()?;
        self.line("The HSM is reset to its factory state; run `hsm init` (and `ped vector init` for a Remote PED).");
        Ok(())
    }

    /// `hsm changepolicy`.
    fn change_policy(&mut self, policy: u32, value: u32, force: bool) -> Result<(), HsmError> {
        let erased = self.hsm.change_policy(policy, value, force)?;
        self.persist()?;
        self.line(format!("HSM policy {policy} (Enable SO reset of partition PIN) is {value}."));
        if erased {
            self.line(
                "The partition and its contents were erased; the HSM SO makes a new one with `partition create`.",
            );
        }
        Ok(())
    }

    fn status(&self, now: Duration) -> Status<'_> {
        let state = self.hsm.state();
        let link = match self.ped.as_ref().and_then(Conductor::remote_peer) {
            Some((host, port, reached)) => ShownLink::Remote { host, port, reached },
            None => ShownLink::NotRemote { last_end: self.last_end.as_ref(), local: self.config.local_ped },
        };
        Status {
            serial: self.hsm.serial(),
            label: state.label.as_deref(),
            rpv: self.hsm.has_rpv(),
            link,
            default_ip: state.ped_ip.as_deref(),
            default_port: state.ped_port.unwrap_or(DEFAULT_PED_PORT),
            so_failures: state.so_failures,
            up_time: now.saturating_sub(self.started),
        }
    }

    /// `ped connect`: checks, then asks for pedclient's link and sends Connect.
    fn connect<R: CryptoRng + ?Sized>(&mut self, now: Duration, rng: &mut R, connect: Connect) -> Result<(), HsmError> {
        if self.ped.as_ref().is_some_and(Conductor::is_remote) {
            return Err(HsmError::hsm(
                HsmCode::OperationActive,
                "a Remote PED is already connected; `ped disconnect` first",
            ));
        }
        if !self.config.pedclient {
            return Err(HsmError::hsm(
                HsmCode::NotAllowed,
                "this HSM has no pedclient link (serve --pedclient socket:PATH)",
            ));
        }
        let state = self.hsm.state();
        let host = connect.ip.or_else(|| state.ped_ip.clone()).unwrap_or_default();
        let port = connect.port.or(state.ped_port).unwrap_or(DEFAULT_PED_PORT);
        let digits = match connect.password {
            None => None,
            Some(Password::Generate) => Some(PasswordDigits::generate(rng)),
            Some(Password::Given(digits)) => Some(digits),
        };
        Auth::check_remote_on(&self.hsm, digits.is_some(), self.firmware)?;
        let password = digits.as_ref().map(|d| self.password_for(d)).transpose()?;
        let auth = Auth::remote_on(&self.hsm, password, self.firmware)?;
        // One link at a time: while remote is connected, the local PED is not used.
        if let Some(local) = self.ped.take() {
            self.release(local);
            self.out.push_back(Output::Close);
        }
        self.out.push_back(Output::Open(LinkKind::Pedclient));
        let serial = self.hsm.serial().to_owned();
        self.ped = Some(Conductor::remote(now, &serial, host, port, auth, digits, self.config.timeouts));
        self.running = Some(Running::Connect);
        self.drain();
        Ok(())
    }

    /// The one-time password for `digits`, lent to the new link: the same digits as
    /// before keep their tries (and a password that opened a channel stays spent); new
    /// digits start afresh.
    fn password_for(&mut self, digits: &PasswordDigits) -> Result<OneTimePassword, HsmError> {
        let password = match self.password.take() {
            Some(r) if same_digits(&r.digits, digits) => match r.password {
                Some(p) if !p.is_burnt() => p,
                password => {
                    self.password = Some(Remembered { digits: r.digits, password });
                    return Err(HsmError::ped_with(
                        ErrorCode::PedPasswordBurnt,
                        "this one-time password is used up (three wrong tries in all, or it already opened a \
                         channel); run `ped connect -password` to generate a new one, or give new digits",
                    ));
                }
            },
            _ => OneTimePassword::new(digits.clone()),
        };
        self.password = Some(Remembered { digits: digits.clone(), password: None });
        Ok(password)
    }

    /// A PED command: over the link there is, or a local one opened for it.
    fn request<R: CryptoRng + ?Sized>(&mut self, now: Duration, rng: &mut R, request: Request) {
        self.line("Please attend to the PED.");
        // lunacm warns before every HSM SO login, even one that then finds no PED (seed
        // 3636-3645); a zeroised HSM has no SO to zeroise and refuses the login instead.
        if matches!(request, Request::Login(RoleName::So)) && !self.hsm.is_zeroised() {
            self.line(lunacm::so_login_caution(self.hsm.state().so_failures));
        }
        if self.ped.is_none() {
            // After a remote link ended, PED commands fail as the seed shows
            // (CKR_PED_UNPLUGGED: "reconnect Remote PED before issuing commands") until
            // `ped connect` opens a new link or `ped disconnect` hands the HSM back to its
            // local PED: a key holder standing at the remote PED must not find the
            // command waiting on a local one.
            if let Some(LinkEnd::Failed(e)) = &self.last_end {
                let e = ended_before(e);
                return self.end_request(Err(e));
            }
            if !self.config.local_ped {
                return self.end_request(Err(HsmError::ped(ErrorCode::CkrPedUnplugged)));
            }
            self.out.push_back(Output::Open(LinkKind::Local));
            self.ped = Some(Conductor::local(self.config.timeouts));
        }
        self.running = Some(Running::Request);
        if let Some(c) = self.ped.as_mut() {
            c.run(now, &mut self.hsm, rng, request);
        }
        self.drain();
    }

    /// Moves the conductor's output to the pump, ends the running command at its
    /// `Done`, and drops a link that is over.
    fn drain(&mut self) {
        while let Some(output) = self.ped.as_mut().and_then(Conductor::poll_output) {
            match output {
                conductor::Output::Transmit(frame) => self.out.push_back(Output::Transmit(frame)),
                conductor::Output::Line(line) => self.out.push_back(Output::Line(line)),
                conductor::Output::Close => self.out.push_back(Output::Close),
                conductor::Output::Done(result) => match self.running {
                    Some(Running::Connect) => {
                        if result.is_ok() {
                            self.last_end = None;
                        } else if let Some(c) = self.ped.take() {
                            // A failed `ped connect` leaves things as they were before it.
                            self.release(c);
                        }
                        self.finish(false, result);
                    }
                    Some(Running::Request) => self.end_request(result),
                    None => {}
                },
            }
        }
        self.settle();
    }

    /// A PED command is over: nothing of a failed one is kept; the state is saved.
    fn end_request(&mut self, result: Result<(), HsmError>) {
        if result.is_err() {
            self.hsm.abort();
        }
        let result = self.persist().and(result);
        self.settle();
        self.finish(false, result);
    }

    /// Drops a link that is over; a remote one's end is kept, for `ped show` and the
    /// next PED command.
    fn settle(&mut self) {
        let Some(c) = &self.ped else { return };
        let LinkState::Ended(end) = c.state() else { return };
        if c.is_remote()
            && let Some(e) = end
        {
            self.last_end = Some(LinkEnd::Failed(e.clone()));
        }
        if let Some(c) = self.ped.take() {
            self.release(c);
        }
    }

    /// A conductor dropped: what it still has to send goes out, and a one-time
    /// password it carried is kept with its tries.
    fn release(&mut self, mut c: Conductor) {
        while let Some(output) = c.poll_output() {
            match output {
                conductor::Output::Transmit(frame) => self.out.push_back(Output::Transmit(frame)),
                conductor::Output::Close => self.out.push_back(Output::Close),
                conductor::Output::Line(_) | conductor::Output::Done(_) => {}
            }
        }
        if let (Some(password), Some(r)) = (c.into_password(), self.password.as_mut()) {
            r.password = Some(password);
        }
    }

    fn persist(&mut self) -> Result<(), HsmError> {
        if self.hsm.take_dirty() {
            self.store.save(self.hsm.state())?;
        }
        Ok(())
    }

    fn line(&mut self, line: impl Into<String>) {
        self.out.push_back(Output::Line(line.into()));
    }

    /// The command is over: its result lines, then Done. `set`: `ped set`, whose
    /// success lunacm words its own way.
    fn finish(&mut self, set: bool, result: Result<(), HsmError>) {
        self.running = None;
        match &result {
            Ok(()) if set => self.line(lunacm::PED_SET_DONE),
            _ => {
                for line in lunacm::result_lines(&result) {
                    self.line(line);
                }
            }
        }
        self.out.push_back(Output::Done(result));
    }
}

/// Digits compare in constant time.
fn same_digits(a: &PasswordDigits, b: &PasswordDigits) -> bool {
    a.expose().iter().zip(b.expose()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
