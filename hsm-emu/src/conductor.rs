//! One PED link's conduct, sans-IO: the HSM's end of a link to a PED (Local PED-USB, or
//! Remote through pedclient), in quinn-proto's shape.
//!
//! A [`Conductor`] owns what lives as long as the link: its state ([`LinkState`]:
//! Connecting, Up, Ended), how its channel is authenticated ([`Auth`]), the handshake
//! in progress, the channel session, and the PED operation in progress. It touches no
//! socket, clock or thread:
//!
//! - inputs: [`Conductor::handle_frame`] (a whole frame from the link),
//!   [`Conductor::handle_link_error`] (the transport failed or ended),
//!   [`Conductor::handle_timeout`], [`Conductor::run`] (a PED command to carry out)
//!   and [`Conductor::disconnect`]; each takes `now`, the time since the Unix epoch
//!   as the clock chosen at start-up reads it, and those that may need randomness an
//!   RNG;
//! - outputs: [`Conductor::poll_output`] (frames to send, lines for the administrator,
//!   the result of `ped connect` or of the command, closing the link) and
//!   [`Conductor::poll_timeout`] (when [`Conductor::handle_timeout`] is due).
//!
//! The HSM itself ([`Hsm`]) outlives its links: it is lent to each call that needs it.
//! `server` is the pump around this: sockets, threads, the real clock and the OS RNG.

use std::collections::VecDeque;
use std::time::Duration;

use ped_proto::ErrorCode;
use ped_proto::command::{HsmCommand, PedReply};
use ped_proto::frame::{self, Frame, FrameType};
use ped_proto::hsm_link::HsmLinkMessage;
use ped_proto::record::{ChannelSession, Opened};
use ped_proto::secrets::{OneTimePassword, PasswordDigits};
use rand_core::CryptoRng;

use crate::channel::{Auth, Handshake, HandshakeStep};
use crate::error::{Code, HsmCode, HsmError};
use crate::hsm::{Hsm, Operation, Request, Step};

/// What pedclient reached for a remote link, as its Connected says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    /// The PED's firmware version.
    pub firmware: String,
    /// pedserver's `HOST:PORT` as pedclient sees it (dialled, or connected from).
    pub pedserver: String,
    /// pedserver connected to pedclient (PED-initiated mode).
    pub ped_initiated: bool,
}

/// How long the HSM waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// The PED-key action timeout (the PED's own is 200 s).
    pub key: Duration,
    /// pedclient's Connected, and the margin on each PED reply (which may take
    /// `key + link`).
    pub link: Duration,
}

impl Timeouts {
    fn reply(self) -> Duration {
        self.key + self.link
    }
}

/// Where a link stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Remote: Connect sent, pedclient's Connected awaited.
    Connecting,
    /// The link carries frames (a channel may or may not be open on it).
    Up,
    /// Over: why (pedclient's Closed, a cut, a timeout, a broken channel); `None`
    /// when the HSM ended it ([`Conductor::disconnect`]).
    Ended(Option<HsmError>),
}

/// What the pump does next.
#[derive(PartialEq, Eq)]
pub enum Output {
    /// Send this whole frame on the link.
    Transmit(Vec<u8>),
    /// Print this line for the administrator.
    Line(String),
    /// `ped connect`, or the command given to [`Conductor::run`], is over.
    Done(Result<(), HsmError>),
    /// Close the link (after the frames before this).
    Close,
}

/// A line may carry the one-time password: `Debug` shows its length only.
impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Transmit(frame) => write!(f, "Transmit({} bytes)", frame.len()),
            Output::Line(line) => write!(f, "Line({} chars)", line.len()),
            Output::Done(result) => f.debug_tuple("Done").field(result).finish(),
            Output::Close => f.write_str("Close"),
        }
    }
}

/// The kind of link.
#[derive(Debug)]
enum Kind {
    Local,
    /// The address `ped connect` asked for (an empty host: none) and what pedclient reached.
    Remote {
        host: String,
        port: u16,
        reached: Option<Remote>,
    },
}

/// The work in progress.
#[derive(Debug)]
enum Work {
    Idle,
    /// `ped connect`: Connected awaited; the password to show once it comes.
    Connecting {
        shown: Option<PasswordDigits>,
    },
    /// A handshake for `request`, the PED's key share awaited.
    Handshake {
        pending: Box<Handshake>,
        request: Request,
    },
    /// `request`'s operation, the PED's reply awaited.
    Operation {
        op: Operation,
        request: Request,
    },
}

/// The HSM's end of one PED link.
#[derive(Debug)]
pub struct Conductor {
    kind: Kind,
    state: LinkState,
    auth: Auth,
    session: Option<ChannelSession>,
    work: Work,
    deadline: Option<Duration>,
    timeouts: Timeouts,
    /// The command's administrator went away: the operation goes no further.
    cancelled: bool,
    out: VecDeque<Output>,
}

impl Conductor {
    /// A Local PED-USB link, plugged in: up at once, C(1e,1s) at the first command.
    pub fn local(timeouts: Timeouts) -> Self {
        Conductor {
            kind: Kind::Local,
            state: LinkState::Up,
            auth: Auth::Local,
            session: None,
            work: Work::Idle,
            deadline: None,
            timeouts,
            cancelled: false,
            out: VecDeque::new(),
        }
    }

    /// A remote link through pedclient (`ped connect`): sends Connect for `host:port`
    /// (an empty host: pedclient's mapping for `serial`) and waits `timeouts.link` for
    /// Connected. `shown`, the one-time password `auth` carries, is printed once the
    /// link is up. [`Output::Done`] ends `ped connect`.
    pub fn remote(
        now: Duration,
        serial: &str,
        host: String,
        port: u16,
        auth: Auth,
        shown: Option<PasswordDigits>,
        timeouts: Timeouts,
    ) -> Self {
        let mut c = Conductor {
            kind: Kind::Remote { host: host.clone(), port, reached: None },
            state: LinkState::Connecting,
            auth,
            session: None,
            work: Work::Connecting { shown },
            deadline: Some(now + timeouts.link),
            timeouts,
            cancelled: false,
            out: VecDeque::new(),
        };
        match (HsmLinkMessage::Connect { hsm_serial: serial.into(), host, port }).encode() {
            Ok(connect) => c.out.push_back(Output::Transmit(connect)),
            Err(e) => c.end(e.into()),
        }
        c
    }

    /// The link's state.
    pub fn state(&self) -> &LinkState {
        &self.state
    }

    /// Whether this is a Remote PED link.
    pub fn is_remote(&self) -> bool {
        matches!(self.kind, Kind::Remote { .. })
    }

    /// A remote link's address as `ped connect` asked for it (an empty host: none
    /// asked) and what pedclient reached, once Connected.
    pub fn remote_peer(&self) -> Option<(&str, u16, &Remote)> {
        match &self.kind {
            Kind::Remote { host, port, reached: Some(r) } => Some((host, *port, r)),
            _ => None,
        }
    }

    /// Whether a channel is open on the link.
    pub fn has_channel(&self) -> bool {
        self.session.is_some()
    }

    /// Whether a command (or `ped connect`) is in progress.
    pub fn is_busy(&self) -> bool {
        !matches!(self.work, Work::Idle)
    }

    /// The link's one-time password (with its tries), once the link is given up; `None`
    /// for a link on the RPV, or whose password channel changed to the RPV.
    pub fn into_password(self) -> Option<OneTimePassword> {
        match self.auth {
            Auth::Password(password) => Some(password),
            Auth::Local | Auth::Rpv | Auth::Legacy(_) => None,
        }
    }

    /// The next thing for the pump to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Conductor::handle_timeout`] is due: while waiting for pedclient or the PED.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.deadline
    }

    /// Runs `request` over the link's channel, opening it first if none is open (a new
    /// handshake: the PED asks for the orange key or the password on a remote link).
    /// Its result comes as [`Output::Done`].
    pub fn run<R: CryptoRng + ?Sized>(&mut self, now: Duration, hsm: &mut Hsm, rng: &mut R, request: Request) {
        if self.is_busy() {
            self.out.push_back(Output::Done(Err(HsmError::hsm(
                HsmCode::OperationActive,
                "a PED operation is in progress; wait for it to finish and retry",
            ))));
            return;
        }
        match &self.state {
            LinkState::Up => {}
            // A remote link that ended fails the command as the seed shows
            // (CKR_PED_UNPLUGGED, "reconnect Remote PED before issuing commands"),
            // with how it ended; a local one with its own failure.
            LinkState::Ended(end) => {
                let end = end.clone().unwrap_or_else(|| HsmError::ped(ErrorCode::CkrPedUnplugged));
                let e = if self.is_remote() { ended_before(&end) } else { end };
                hsm.abort();
                self.out.push_back(Output::Done(Err(e)));
                return;
            }
            LinkState::Connecting => {
                self.out.push_back(Output::Done(Err(HsmError::ped(ErrorCode::CkrPedUnplugged))));
                return;
            }
        }
        self.cancelled = false;
        if self.session.is_some() {
            self.begin(now, hsm, request);
            return;
        }
        match Handshake::start(hsm, &self.auth, rng) {
            Ok((pending, hello)) => {
                self.out.push_back(Output::Transmit(hello));
                self.work = Work::Handshake { pending: Box::new(pending), request };
                self.deadline = Some(now + self.timeouts.reply());
            }
            Err(e) => self.finish(hsm, None, Err(e)),
        }
    }

    /// A whole frame from the link.
    pub fn handle_frame<R: CryptoRng + ?Sized>(&mut self, now: Duration, hsm: &mut Hsm, rng: &mut R, bytes: &[u8]) {
        if matches!(self.state, LinkState::Ended(_)) {
            return;
        }
        // pedclient's Closed ends a remote link, whatever is in progress.
        if self.is_remote()
            && let Some(closed) = closed(bytes)
        {
            self.handle_link_error(now, hsm, closed);
            return;
        }
        match std::mem::replace(&mut self.work, Work::Idle) {
            Work::Connecting { shown } => {
                let connected = Frame::decode_exact(bytes)
                    .map_err(ped_proto::Error::from)
                    .map_err(HsmError::from)
                    .and_then(|f| HsmLinkMessage::decode(f).map_err(HsmError::from));
                match connected {
                    Ok(HsmLinkMessage::Connected { firmware_version, pedserver, ped_initiated }) => {
                        if let Kind::Remote { reached, .. } = &mut self.kind {
                            *reached = Some(Remote { firmware: firmware_version, pedserver, ped_initiated });
                        }
                        self.state = LinkState::Up;
                        self.deadline = None;
                        if let Some(shown) = shown {
                            let digits = String::from_utf8_lossy(shown.expose());
                            self.out.push_back(Output::Line(format!(
                                "Please attend to the PED and enter following password: {digits}"
                            )));
                        }
                        self.out.push_back(Output::Done(Ok(())));
                    }
                    Ok(_) => self.connect_failed(HsmError::ped(ErrorCode::PedProtocolError)),
                    Err(e) => self.connect_failed(e),
                }
            }
            // Between commands the PED sends only to end its channel (its key holder
            // left Local PED-USB or Remote PED mode): whatever comes means the two ends
            // no longer share it; the next command opens a new one.
            Work::Idle => self.session = None,
            Work::Handshake { pending, request } => match pending.step(bytes, hsm, &mut self.auth, rng) {
                Ok(HandshakeStep::Open(session, finished)) => {
                    self.out.push_back(Output::Transmit(finished));
                    self.session = Some(*session);
                    self.begin(now, hsm, request);
                }
                // The legacy channel's nonce exchange: two more messages.
                Ok(HandshakeStep::Continue(pending, next)) => {
                    self.out.push_back(Output::Transmit(next));
                    self.wait(now, Work::Handshake { pending, request });
                }
                Err(e) => {
                    let refused = Frame::decode_exact(bytes).is_ok_and(|f| f.frame_type == FrameType::HandshakeFailed);
                    let e = if refused && !self.is_remote() { refused_locally() } else { e };
                    self.out.push_back(Output::Transmit(frame::handshake_failed()));
                    self.finish(hsm, None, Err(e));
                }
            },
            Work::Operation { mut op, request } => {
                let step = self.reply(now, hsm, rng, &mut op, bytes);
                match step {
                    Ok(Step::Send(_)) if self.cancelled => {
                        self.finish(hsm, Some((&op, &request)), Err(cancelled()));
                    }
                    Ok(Step::Send(command)) => match self.send(&command) {
                        Ok(()) => self.wait(now, Work::Operation { op, request }),
                        Err(e) => self.finish(hsm, Some((&op, &request)), Err(e)),
                    },
                    Ok(Step::Wait(_)) => self.wait(now, Work::Operation { op, request }),
                    Ok(Step::Done) => self.finish(hsm, Some((&op, &request)), Ok(())),
                    Err(e) => self.finish(hsm, Some((&op, &request)), Err(e)),
                }
            }
        }
    }

    /// The transport failed or ended (pedclient's Closed, a cut, a send that failed,
    /// a USB stream that no longer decodes): the link is over, and a command in
    /// progress fails with `e`. Between commands, a local link's failure is the next
    /// command's; a remote link's end makes it CKR_PED_UNPLUGGED with how it ended.
    pub fn handle_link_error(&mut self, _now: Duration, hsm: &mut Hsm, e: HsmError) {
        if matches!(self.state, LinkState::Ended(_)) {
            return;
        }
        match std::mem::replace(&mut self.work, Work::Idle) {
            Work::Idle => self.end(e),
            Work::Connecting { .. } => self.connect_failed(e),
            Work::Handshake { .. } => self.finish_gone(hsm, None, e),
            Work::Operation { op, request } => self.finish_gone(hsm, Some((&op, &request)), e),
        }
    }

    /// Time has come to `now`: past [`Conductor::poll_timeout`], what was awaited
    /// failed, RC_OPERATION_TIMED_OUT, and the link is over.
    pub fn handle_timeout(&mut self, now: Duration, hsm: &mut Hsm) {
        if self.deadline.is_some_and(|d| now >= d) {
            self.deadline = None;
            self.handle_link_error(now, hsm, HsmError::ped(ErrorCode::RcOperationTimedOut));
        }
    }

    /// The command's administrator went away (the link stays, for the next command): a
    /// handshake waiting for the PED's key holder is refused, so the PED stops waiting;
    /// an operation at the PED gets Cancel, and ends with the PED's answer (or goes no
    /// further, if the PED answered its step first). The command ends as
    /// [`Output::Done`] with the error.
    pub fn cancel(&mut self, now: Duration, hsm: &mut Hsm) {
        match std::mem::replace(&mut self.work, Work::Idle) {
            Work::Handshake { .. } => {
                self.out.push_back(Output::Transmit(frame::handshake_failed()));
                self.finish(hsm, None, Err(cancelled()));
            }
            Work::Operation { op, request } => {
                self.cancelled = true;
                match self.send(&HsmCommand::Cancel) {
                    // The PED answers a Cancel at once: no key holder is waited for.
                    Ok(()) => {
                        self.work = Work::Operation { op, request };
                        self.deadline = Some(now + self.timeouts.link);
                    }
                    Err(e) => self.finish(hsm, Some((&op, &request)), Err(e)),
                }
            }
            other => self.work = other,
        }
    }

    /// Ends the link from the HSM's side (`ped disconnect`, `hsm factoryreset`): a
    /// remote one gets Disconnect. A command in progress fails with CKR_PED_UNPLUGGED.
    pub fn disconnect(&mut self, now: Duration, hsm: &mut Hsm) {
        if self.is_busy() {
            self.handle_link_error(now, hsm, HsmError::ped(ErrorCode::CkrPedUnplugged));
        }
        // A link already over was closed when it ended.
        if matches!(self.state, LinkState::Ended(_)) {
            return;
        }
        if self.is_remote()
            && let Ok(frame) = HsmLinkMessage::Disconnect.encode()
        {
            self.out.push_back(Output::Transmit(frame));
        }
        self.state = LinkState::Ended(None);
        self.session = None;
        self.deadline = None;
        self.out.push_back(Output::Close);
    }

    /// Starts `request`'s operation over the open channel.
    fn begin(&mut self, now: Duration, hsm: &mut Hsm, request: Request) {
        let Some(session) = self.session.as_ref() else {
            return self.finish(hsm, None, Err(HsmError::ped(ErrorCode::PedError)));
        };
        match hsm.begin(request.clone(), session.kind()) {
            Ok((op, first)) => match self.send(&first) {
                Ok(()) => self.wait(now, Work::Operation { op, request }),
                Err(e) => self.finish(hsm, Some((&op, &request)), Err(e)),
            },
            Err(e) => self.finish(hsm, None, Err(e)),
        }
    }

    fn wait(&mut self, now: Duration, work: Work) {
        self.work = work;
        self.deadline = Some(now + self.timeouts.reply());
    }

    /// Seals `command` and queues it.
    fn send(&mut self, command: &HsmCommand) -> Result<(), HsmError> {
        let session = self.session.as_mut().ok_or_else(|| HsmError::ped(ErrorCode::PedError))?;
        let sealed = session.seal(&command.encode()?)?;
        self.out.push_back(Output::Transmit(sealed));
        Ok(())
    }

    /// Opens the PED's reply and hands it to the operation.
    fn reply<R: CryptoRng + ?Sized>(
        &mut self,
        now: Duration,
        hsm: &mut Hsm,
        rng: &mut R,
        op: &mut Operation,
        bytes: &[u8],
    ) -> Result<Step, HsmError> {
        let frame = Frame::decode_exact(bytes).map_err(ped_proto::Error::from)?;
        if frame.frame_type == FrameType::HandshakeFailed {
            // The PED sends it for a record it refused (altered, replayed, out of
            // order, or with no channel at its end) and drops its channel.
            return Err(HsmError {
                code: Code::Ped(ErrorCode::PedIntegrityError),
                detail: "the PED refused a record of this channel (it failed the PED's integrity or sequence \
                         check) and closed the channel; run ped connect and the command again"
                    .into(),
            });
        }
        let session = self.session.as_mut().ok_or_else(|| HsmError::ped(ErrorCode::PedError))?;
        let payload = match session.open(frame)? {
            Opened::Data(payload) => payload,
            Opened::Closed => return Err(HsmError::ped(ErrorCode::CkrPedUnplugged)),
        };
        let reply = PedReply::decode(&payload)?;
        hsm.on_reply(op, reply, session, rng, now.as_secs())
    }

    /// The command is over: its result, and what it leaves of the channel and the link.
    fn finish(&mut self, hsm: &mut Hsm, op: Option<(&Operation, &Request)>, result: Result<(), HsmError>) {
        self.conclude(hsm, op, result, false);
    }

    /// The command failed because the transport is gone: the link ends with its error.
    fn finish_gone(&mut self, hsm: &mut Hsm, op: Option<(&Operation, &Request)>, e: HsmError) {
        self.conclude(hsm, op, Err(e), true);
    }

    fn conclude(
        &mut self,
        hsm: &mut Hsm,
        op: Option<(&Operation, &Request)>,
        result: Result<(), HsmError>,
        gone: bool,
    ) {
        self.work = Work::Idle;
        self.deadline = None;
        let result = match result {
            Ok(()) => {
                if let Some((_, request)) = op
                    && self.auth.after(request, hsm)
                {
                    // The PED takes a new hello on an open channel as the HSM starting
                    // over; the password channel's keys go with this session and carry
                    // nothing more.
                    self.session = None;
                }
                Ok(())
            }
            Err(mut e) => {
                hsm.abort();
                if let Some((role, n)) = op.and_then(|(op, _)| op.writing()) {
                    // The PED writes each key as its holder presents it: some of the N
                    // may already carry the new keyset, which the HSM never took into force.
                    e.detail = format!(
                        "{}\nThe PED was writing the {n} {} keys of a new keyset: any written before this \
                         failure hold a keyset this HSM never put in force and open nothing. Nothing changed on \
                         the HSM; run the command again and overwrite those keys.",
                        e.detail,
                        format!("{:?}", role.colour()).to_lowercase(),
                    );
                }
                if gone || link_failure(&e) {
                    self.end(e.clone());
                }
                Err(e)
            }
        };
        self.out.push_back(Output::Done(result));
    }

    /// `ped connect` failed: the link is over, and the command with it.
    fn connect_failed(&mut self, e: HsmError) {
        self.work = Work::Idle;
        self.end(e.clone());
        self.out.push_back(Output::Done(Err(e)));
    }

    /// The link is over (keeping the first reason).
    fn end(&mut self, e: HsmError) {
        if !matches!(self.state, LinkState::Ended(_)) {
            self.state = LinkState::Ended(Some(e));
        }
        self.session = None;
        self.deadline = None;
        self.out.push_back(Output::Close);
    }
}

/// The PED refused a local hello: it is in another mode (Remote PED or Admin), or does
/// not trust this HSM. lunacm answers CKR_DEVICE_ERROR (seed 3555).
fn refused_locally() -> HsmError {
    HsmError::ped_with(
        ErrorCode::CkrDeviceError,
        "the PED refused the local channel: it must be in Local PED-USB mode. On the PED press < back to Select \
         Mode, then 0 (Local PED-USB), and run the command again (a PED that does not trust this HSM's root \
         certificate refuses it too)",
    )
}

/// A command whose administrator went away.
fn cancelled() -> HsmError {
    HsmError::ped_with(ErrorCode::CkrCancel, "the command's administrator went away; the HSM cancelled it at the PED")
}

/// A PED command issued after the remote link ended: CKR_PED_UNPLUGGED, as lunacm
/// reports it, with the way the link ended.
pub fn ended_before(end: &HsmError) -> HsmError {
    if end.code == Code::Ped(ErrorCode::CkrPedUnplugged) {
        return end.clone();
    }
    HsmError {
        code: Code::Ped(ErrorCode::CkrPedUnplugged),
        detail: format!("the Remote PED link had ended ({}: {})", end.code.name(), end.detail),
    }
}

/// A Closed frame's end of the link: its code, and pedclient's sentence.
pub fn closed(frame: &[u8]) -> Option<HsmError> {
    let parsed = Frame::decode_exact(frame).ok().filter(|f| f.frame_type == FrameType::LinkClosed)?;
    Some(match HsmLinkMessage::decode(parsed) {
        Ok(HsmLinkMessage::Closed { code, message }) => HsmError {
            code: Code::Ped(ErrorCode::from_value(code).unwrap_or(ErrorCode::CkrPedUnplugged)),
            detail: if message.is_empty() { "the remote PED link closed".into() } else { message },
        },
        _ => HsmError::ped(ErrorCode::PedProtocolError),
    })
}

/// Whether an error leaves the link unusable (the transport or the channel broke). A
/// refused handshake (wrong password, wrong orange key) keeps the link: the next
/// command sends a new hello.
fn link_failure(e: &HsmError) -> bool {
    matches!(
        e.code,
        Code::Ped(
            ErrorCode::CkrPedUnplugged
                | ErrorCode::RcOperationTimedOut
                | ErrorCode::RcSocketError
                | ErrorCode::PedIntegrityError
                | ErrorCode::PedProtocolError
                | ErrorCode::PedSessionLimit
                | ErrorCode::PedPasswordBurnt
                | ErrorCode::PedVersionMismatch
        )
    )
}
