//! The HSM session: one HSM link connection, and the remote link it asks for, as a sans-IO
//! state machine (pedserver's counterpart is its `session`): bytes from the HSM and from
//! pedserver, the outcome of a dial, and the time go in; frames for either side, the
//! decision to dial or to close, and events for `show` come out. The tokio adapter
//! (`daemon`) only moves bytes, dials, and sleeps until [`Link::poll_deadline`].
//!
//! ```text
//!  Idle ──Connect──> Dialing ──dialled / adopted──> Opening ──Ready──> Relaying
//!   ▲                                                     │                │
//!   └── Closed{code} to the HSM: Disconnect, refusal, unplug, garbage, timeout, EOF ──┘
//! ```
//!
//! Opening is the relay hellos and the status request, judged by [`RelayClient`]
//! (shared with `-mode testid`).
//!
//! Blind by construction: only the 8-byte header of a channel frame is looked at;
//! handshake frames and records pass unread. Only HSM link control (§15.2 of
//! docs/protocol.md) and relay control (§15) are consumed here, and neither carries a
//! secret. One remote link per HSM link at a time: a Connect while one is being made or
//! is up is answered with Closed and leaves that link alone.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ped_daemon::frames::{FrameReader, Keepalive, KeepaliveDue, relay_control as relay};
use ped_wire::ErrorCode;
use ped_wire::frame::{Frame, FrameType};
use ped_wire::hsm_link::{AuditRecord, HsmLinkMessage};
use ped_wire::relay::RelayMessage;

use crate::relay_client::{Answer, RelayClient};

/// The timers of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// No channel frame either way for this long ends the link; `None` never.
    pub idle: Option<Duration>,
    /// The relay hellos and status, and every started frame from pedserver, within this.
    pub read: Duration,
    /// A quiet pedserver is pinged after this; `None` disables pings.
    pub ping_interval: Option<Duration>,
    /// A ping unanswered for this long ends the link.
    pub ping_timeout: Duration,
}

/// What the adapter must do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send these bytes (one frame) to the HSM.
    ToHsm(Vec<u8>),
    /// Send these bytes (one frame) to pedserver.
    ToServer(Vec<u8>),
    /// Reach pedserver: `host:port`, or with an empty host the PED ID assigned to
    /// `hsm_serial`; then call [`Link::dialled`], [`Link::adopted`] or [`Link::dial_failed`].
    Dial {
        /// The HSM's serial number.
        hsm_serial: String,
        /// pedserver's address; empty for the assigned mapping.
        host: String,
        /// pedserver's port.
        port: u16,
    },
    /// Close the connection to pedserver (after sending every earlier `ToServer`).
    CloseServer,
    /// Close the HSM's connection (after sending every earlier `ToHsm`); the link is over.
    CloseHsm,
    /// The remote link is up (for `show` and the log).
    Up {
        /// pedserver's software string.
        software: String,
        /// The PED's firmware version.
        firmware: String,
    },
    /// An audit record from the HSM, for its audit log (`audit_log`): handed on at
    /// once, whatever the remote link is doing.
    Audit(AuditRecord),
    /// The HSM's Auditor set the rotation of that HSM's audit log (`audit_log`).
    AuditRotation {
        /// The HSM, as its audit records name it.
        hsm_serial: String,
        /// Bytes a file may reach.
        rotate_size: u64,
        /// Files kept.
        rotate_count: u32,
    },
    /// The remote link ended or could not be made (for `show` and the log).
    Down {
        /// The code told to the HSM (0: a deliberate disconnect).
        code: u32,
        /// The sentence told to the HSM.
        message: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Dialing,
    Opening,
    Relaying,
    Closed,
}

/// One HSM's connection to pedclient. See the module documentation.
#[derive(Debug)]
pub struct Link {
    state: State,
    timeouts: Timeouts,
    /// Whether the idle timeout applies to the current remote link.
    idle_applies: bool,
    hsm: FrameReader,
    server: FrameReader,
    out: VecDeque<Output>,
    /// What the current remote link reaches, for messages.
    target: String,
    /// pedserver's `HOST:PORT`, for the HSM's Connected.
    address: String,
    /// The current remote link is a PED-initiated connection that pedclient adopted.
    ped_initiated: bool,
    /// When the current state began (the hellos' and status' deadline runs from it).
    since: Instant,
    /// Last channel frame either way.
    last_activity: Instant,
    /// The relay session's opening, while [`State::Opening`].
    opening: Option<RelayClient>,
    /// Pings go to a quiet pedserver only.
    keepalive: Keepalive,
    /// The serial of the HSM's audit records, once one came.
    audit_serial: Option<String>,
}

fn to_hsm(msg: &HsmLinkMessage) -> Vec<u8> {
    msg.encode().unwrap_or_else(|_| {
        HsmLinkMessage::closed(ErrorCode::PedError).encode().expect("a fixed closed message encodes")
    })
}

/// `text` as printable ASCII, at most `max` bytes.
fn printable(text: &str, max: usize) -> String {
    let mut s: String = text.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect();
    s.truncate(max);
    s
}

/// A Closed message's text: printable ASCII within the frame's 200 bytes.
fn sentence(text: String) -> String {
    let mut s: String = text.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect();
    s.truncate(ped_wire::hsm_link::MAX_MESSAGE_LEN);
    s
}

impl Link {
    /// A new HSM connection at `now`, with no remote link yet.
    pub fn new(now: Instant, timeouts: Timeouts, nonce_seed: u64) -> Link {
        Link {
            state: State::Idle,
            timeouts,
            idle_applies: true,
            hsm: FrameReader::default(),
            server: FrameReader::default(),
            out: VecDeque::new(),
            target: String::new(),
            address: String::new(),
            ped_initiated: false,
            since: now,
            last_activity: now,
            opening: None,
            keepalive: Keepalive::new(now, timeouts.ping_interval, timeouts.ping_timeout, nonce_seed),
            audit_serial: None,
        }
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Whether the HSM connection is over.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether a remote link is up (hellos and status done).
    pub fn is_relaying(&self) -> bool {
        self.state == State::Relaying
    }

    /// When [`Link::handle_timeout`] must next be called.
    pub fn poll_deadline(&self) -> Option<Instant> {
        let t = &self.timeouts;
        let mut deadlines = Vec::with_capacity(4);
        match self.state {
            State::Idle | State::Closed | State::Dialing => return None,
            State::Opening => deadlines.push(self.since + t.read),
            State::Relaying => {
                if let Some(idle) = t.idle.filter(|_| self.idle_applies) {
                    deadlines.push(self.last_activity + idle);
                }
                deadlines.extend(self.keepalive.deadline());
            }
        }
        deadlines.extend(self.server.frame_deadline(t.read));
        deadlines.into_iter().min()
    }

    /// Checks the timers at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let t = self.timeouts;
        let timed_out = ErrorCode::RcOperationTimedOut;
        match self.state {
            State::Idle | State::Closed | State::Dialing => {}
            _ if self.server.frame_deadline(t.read).is_some_and(|due| now >= due) => {
                let why = format!("pedserver at {} did not complete a frame within {:?}", self.target, t.read);
                self.fail(timed_out, why)
            }
            State::Opening if now >= self.since + t.read => {
                let why = format!("pedserver at {} did not answer the relay hello within {:?}", self.target, t.read);
                self.fail(timed_out, why)
            }
            State::Opening => {}
            State::Relaying => {
                if let Some(idle) = t.idle.filter(|_| self.idle_applies)
                    && now >= self.last_activity + idle
                {
                    let why = format!(
                        "remote PED link idle for {} s; run ped connect again",
                        ped_daemon::seconds::in_seconds(idle)
                    );
                    return self.fail(timed_out, why);
                }
                match self.keepalive.on_timer(now) {
                    KeepaliveDue::Nothing => {}
                    KeepaliveDue::Ping(nonce) => {
                        self.out.push_back(Output::ToServer(relay(&RelayMessage::Ping { nonce })))
                    }
                    KeepaliveDue::TimedOut => {
                        let why = format!("pedserver at {} did not answer a ping in time", self.target);
                        self.fail(timed_out, why);
                    }
                }
            }
        }
    }

    /// Bytes from the HSM.
    pub fn handle_hsm_data(&mut self, now: Instant, data: &[u8]) {
        if self.state == State::Closed {
            return;
        }
        self.hsm.feed(now, data);
        loop {
            match self.hsm.next_frame() {
                Ok(Some((kind, frame))) => {
                    self.on_hsm_frame(now, kind, frame);
                    if self.state == State::Closed {
                        return;
                    }
                }
                Ok(None) => return,
                // The stream cannot be resynchronised: end everything.
                Err(e) => return self.close_hsm(&format!("malformed frame from the HSM: {e:?}")),
            }
        }
    }

    /// The HSM's socket reached end of stream: the remote link ends with it.
    pub fn handle_hsm_closed(&mut self) {
        self.close_hsm("the HSM closed its link");
    }

    /// The daemon is stopping: the HSM hears why, pedserver gets Bye.
    pub fn shutdown(&mut self) {
        if self.remote_open() {
            self.end(ErrorCode::CkrPedUnplugged.value(), "pedclient is stopping".into(), Some(RelayMessage::Bye));
        }
        self.close_hsm("pedclient is stopping");
    }

    /// The TCP connection to pedserver is open: say hello. `idle_applies` is false for a
    /// link made through an assigned PED ID under `-ignoreidletimeout`; `target` names it.
    pub fn dialled(&mut self, now: Instant, target: String, idle_applies: bool) {
        if self.state == State::Dialing {
            self.address = target.clone();
            self.ped_initiated = false;
            self.open(now, RelayClient::dialled(target), idle_applies);
        }
    }

    /// PED-initiated mode: pedserver's connection, whose hellos were exchanged when it
    /// arrived, is taken over: ask for the status. `address` is where it came from.
    pub fn adopted(&mut self, now: Instant, target: String, address: String, idle_applies: bool) {
        if self.state == State::Dialing {
            self.address = address;
            self.ped_initiated = true;
            self.open(now, RelayClient::adopted(target), idle_applies);
        }
    }

    /// pedserver could not be reached.
    pub fn dial_failed(&mut self, code: ErrorCode, message: String) {
        if self.state == State::Dialing {
            self.end(code.value(), message, None);
        }
    }

    /// Bytes from pedserver.
    pub fn handle_server_data(&mut self, now: Instant, data: &[u8]) {
        if !self.remote_open() || self.state == State::Dialing {
            return;
        }
        self.server.feed(now, data);
        loop {
            match self.server.next_frame() {
                Ok(Some((kind, frame))) => {
                    self.on_server_frame(now, kind, frame);
                    if !self.remote_open() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => return self.garbage(format!("malformed frame ({e:?})")),
            }
        }
    }

    /// pedserver's connection ended (end of stream, or an error reading or writing it).
    pub fn handle_server_closed(&mut self) {
        if self.remote_open() {
            let mid = if self.server.is_partial() { " mid-frame" } else { "" };
            let why = format!("the connection to pedserver at {} was cut{mid}; run ped connect again", self.target);
            self.end(ErrorCode::CkrPedUnplugged.value(), why, None);
        }
    }

    fn remote_open(&self) -> bool {
        matches!(self.state, State::Dialing | State::Opening | State::Relaying)
    }

    /// The connection to pedserver is there: the opening begins with `first`.
    fn open(&mut self, now: Instant, (client, first): (RelayClient, RelayMessage), idle_applies: bool) {
        self.state = State::Opening;
        self.target = client.target().to_owned();
        self.opening = Some(client);
        self.out.push_back(Output::ToServer(relay(&first)));
        self.idle_applies = idle_applies;
        self.server = FrameReader::default();
        self.since = now;
        self.last_activity = now;
        self.keepalive.restart(now);
    }

    fn on_hsm_frame(&mut self, now: Instant, kind: FrameType, frame: Vec<u8>) {
        let link = matches!(
            kind,
            FrameType::LinkConnect
                | FrameType::LinkConnected
                | FrameType::LinkDisconnect
                | FrameType::LinkClosed
                | FrameType::LinkAudit
                | FrameType::LinkAuditConfig
        );
        if link {
            match Frame::decode_exact(&frame).and_then(HsmLinkMessage::decode) {
                Ok(HsmLinkMessage::Connect { hsm_serial, host, port }) => self.on_connect(hsm_serial, host, port),
                Ok(HsmLinkMessage::Disconnect) if self.remote_open() => {
                    self.end(0, format!("disconnected from {}", self.target), Some(RelayMessage::Bye))
                }
                Ok(HsmLinkMessage::Disconnect) => self.tell_hsm(0, "no remote PED link was up".into()),
                // Not channel activity: the idle timeout is about the PED's use.
                Ok(HsmLinkMessage::Audit(record)) => {
                    self.audit_serial = Some(record.hsm_serial.clone());
                    self.out.push_back(Output::Audit(record));
                }
                // The HSM sends its own rotation after a record of its (the Auditor's
                // `audit config`), which names the files it applies to.
                Ok(HsmLinkMessage::AuditConfig { rotate_size, rotate_count }) => match self.audit_serial.clone() {
                    Some(hsm_serial) => {
                        self.out.push_back(Output::AuditRotation { hsm_serial, rotate_size, rotate_count })
                    }
                    None => self.close_hsm("the HSM set an audit rotation before sending any audit record"),
                },
                Ok(_) | Err(_) => self.close_hsm("the HSM sent a link message it may not send"),
            }
            return;
        }
        if kind.is_relay_control() || kind.is_device_control() {
            return self.close_hsm("the HSM sent a relay or device control frame");
        }
        match self.state {
            State::Relaying => {
                self.last_activity = now;
                self.out.push_back(Output::ToServer(frame));
            }
            State::Idle => self
                .tell_hsm(ErrorCode::CkrPedUnplugged.value(), "no remote PED link is up; run ped connect first".into()),
            _ => {
                let why = format!("a channel frame arrived before the link to {} was up", self.target);
                self.fail(ErrorCode::PedProtocolError, why)
            }
        }
    }

    fn on_connect(&mut self, hsm_serial: String, host: String, port: u16) {
        if self.remote_open() {
            // Refused; the link being made or up is left exactly as it is.
            let why =
                format!("refused: a remote PED link to {} is already open; run ped disconnect first", self.target);
            return self.tell_hsm(ErrorCode::PedProtocolError.value(), why);
        }
        self.state = State::Dialing;
        self.target =
            if host.is_empty() { format!("the PED ID assigned to HSM {hsm_serial}") } else { host_port(&host, port) };
        self.out.push_back(Output::Dial { hsm_serial, host, port });
    }

    fn on_server_frame(&mut self, now: Instant, kind: FrameType, frame: Vec<u8>) {
        self.keepalive.heard(now);
        if !kind.is_relay_control() {
            if self.state == State::Relaying && !kind.is_device_control() {
                self.last_activity = now;
                self.out.push_back(Output::ToHsm(frame));
            } else {
                self.garbage(format!("unexpected frame type {:#04x}", kind.to_byte()));
            }
            return;
        }
        let message = match Frame::decode_exact(&frame).and_then(RelayMessage::decode) {
            Ok(m) => m,
            Err(e) => return self.garbage(format!("undecodable relay control frame ({e:?})")),
        };
        match (self.state, message) {
            (_, RelayMessage::Ping { nonce }) => {
                self.out.push_back(Output::ToServer(relay(&RelayMessage::Pong { nonce })))
            }
            (_, RelayMessage::Pong { nonce }) => self.keepalive.answered(nonce),
            (State::Opening, message) => {
                let Some(opening) = self.opening.as_mut() else { return };
                match opening.handle(message) {
                    Answer::Send(next) => {
                        self.since = now;
                        self.target = opening.target().to_owned();
                        self.out.push_back(Output::ToServer(relay(&next)));
                    }
                    Answer::Ready(ready) => {
                        self.opening = None;
                        self.state = State::Relaying;
                        self.last_activity = now;
                        let firmware = ready.status.firmware_version;
                        self.out.push_back(Output::ToHsm(to_hsm(&HsmLinkMessage::Connected {
                            firmware_version: firmware.chars().take(ped_wire::hsm_link::MAX_SERIAL_LEN).collect(),
                            // Printable and short enough to encode: a refused encoding would end the link.
                            pedserver: printable(&self.address, ped_wire::hsm_link::MAX_HOST_LEN),
                            ped_initiated: self.ped_initiated,
                        })));
                        self.out.push_back(Output::Up { software: self.target.clone(), firmware });
                    }
                    Answer::Refused(refusal) => self.end(refusal.code.value(), refusal.message, refusal.last),
                }
            }
            (_, RelayMessage::Error { code, message }) => {
                self.end(code, format!("pedserver at {}: {message}", self.target), None)
            }
            (_, RelayMessage::Bye) => {
                let why = format!("pedserver at {} ended the connection; run ped connect again", self.target);
                self.end(ErrorCode::CkrPedUnplugged.value(), why, None)
            }
            (_, other) => self.garbage(format!("unexpected relay message {:?}", other.frame_type())),
        }
    }

    /// pedserver sent what it never should: the HSM gets CKR_CALLBACK_ERROR (the PED
    /// link failed under the HSM's callback), pedserver an error, and the link ends.
    fn garbage(&mut self, what: String) {
        let why = format!("pedserver at {} sent garbage: {what}", self.target);
        self.fail(ErrorCode::CkrCallbackError, why);
    }

    /// Ends the remote link because of `code`, telling pedserver too.
    fn fail(&mut self, code: ErrorCode, why: String) {
        self.end(code.value(), why, Some(RelayMessage::error(code)));
    }

    /// Ends the remote link: `last` to pedserver if given, Closed to the HSM, back to Idle.
    fn end(&mut self, code: u32, why: String, last: Option<RelayMessage>) {
        if matches!(self.state, State::Opening | State::Relaying) {
            if let Some(last) = last {
                self.out.push_back(Output::ToServer(relay(&last)));
            }
            self.out.push_back(Output::CloseServer);
        }
        self.state = State::Idle;
        self.opening = None;
        let message = sentence(why);
        self.out.push_back(Output::Down { code, message: message.clone() });
        self.tell_hsm(code, message);
    }

    fn tell_hsm(&mut self, code: u32, message: String) {
        self.out.push_back(Output::ToHsm(to_hsm(&HsmLinkMessage::Closed { code, message: sentence(message) })));
    }

    fn close_hsm(&mut self, why: &str) {
        if self.state == State::Closed {
            return;
        }
        if matches!(self.state, State::Opening | State::Relaying) {
            self.out.push_back(Output::ToServer(relay(&RelayMessage::Bye)));
            self.out.push_back(Output::CloseServer);
        }
        if self.remote_open() {
            self.out.push_back(Output::Down { code: 0, message: sentence(why.to_string()) });
        }
        self.state = State::Closed;
        self.opening = None;
        self.out.push_back(Output::CloseHsm);
    }
}

/// `host:port`, with brackets around an IPv6 address.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

#[cfg(test)]
mod tests {
    use ped_wire::frame;
    use ped_wire::relay::{PedStatus, RELAY_VERSION, RelayRole};

    use super::*;

    const T: Timeouts = Timeouts {
        idle: Some(Duration::from_secs(100)),
        read: Duration::from_secs(10),
        ping_interval: Some(Duration::from_secs(30)),
        ping_timeout: Duration::from_secs(5),
    };

    fn drain(l: &mut Link) -> Vec<Output> {
        std::iter::from_fn(|| l.poll_output()).collect()
    }

    fn hsm_msg(out: &Output) -> HsmLinkMessage {
        match out {
            Output::ToHsm(b) => HsmLinkMessage::decode(Frame::decode_exact(b).unwrap()).unwrap(),
            other => panic!("not an HSM frame: {other:?}"),
        }
    }

    fn server_msg(out: &Output) -> RelayMessage {
        match out {
            Output::ToServer(b) => RelayMessage::decode(Frame::decode_exact(b).unwrap()).unwrap(),
            other => panic!("not a server frame: {other:?}"),
        }
    }

    fn connect(host: &str) -> Vec<u8> {
        HsmLinkMessage::Connect { hsm_serial: "150123".into(), host: host.into(), port: 1503 }.encode().unwrap()
    }

    fn status(connected: bool) -> Vec<u8> {
        RelayMessage::Status(PedStatus {
            ped_connected: connected,
            firmware_version: "2.9.0".into(),
            protocol_version: 1,
            rpk_count: 0,
            rpk_serials: vec![],
        })
        .encode()
        .unwrap()
    }

    fn server_hello() -> Vec<u8> {
        RelayMessage::Hello { version: RELAY_VERSION, role: RelayRole::Server, software: "pedserver 0.1.0".into() }
            .encode()
            .unwrap()
    }

    fn up(now: Instant) -> Link {
        let mut l = Link::new(now, T, 1);
        l.handle_hsm_data(now, &connect("127.0.0.1"));
        assert_eq!(drain(&mut l), [Output::Dial { hsm_serial: "150123".into(), host: "127.0.0.1".into(), port: 1503 }]);
        l.dialled(now, "127.0.0.1:1503".into(), true);
        assert!(matches!(server_msg(&drain(&mut l)[0]), RelayMessage::Hello { role: RelayRole::Client, .. }));
        l.handle_server_data(now, &server_hello());
        assert_eq!(server_msg(&drain(&mut l)[0]), RelayMessage::StatusRequest);
        l.handle_server_data(now, &status(true));
        let out = drain(&mut l);
        assert_eq!(
            hsm_msg(&out[0]),
            HsmLinkMessage::Connected {
                firmware_version: "2.9.0".into(),
                pedserver: "127.0.0.1:1503".into(),
                ped_initiated: false
            }
        );
        assert!(matches!(out[1], Output::Up { .. }));
        assert!(l.is_relaying());
        l
    }

    fn closed_code(out: &[Output]) -> u32 {
        out.iter()
            .find_map(|o| match o {
                Output::ToHsm(_) => match hsm_msg(o) {
                    HsmLinkMessage::Closed { code, .. } => Some(code),
                    _ => None,
                },
                _ => None,
            })
            .expect("a Closed to the HSM")
    }

    #[test]
    fn channel_frames_pass_unread_both_ways() {
        let t0 = Instant::now();
        let mut l = up(t0);
        let hello = frame::encode(FrameType::HsmHello, &[0xaa; 300]);
        let record = frame::encode(FrameType::Record, &[0x55; 40]);
        for chunk in [hello.clone(), record.clone()].concat().chunks(7) {
            l.handle_hsm_data(t0, chunk);
        }
        assert_eq!(drain(&mut l), [Output::ToServer(hello.clone()), Output::ToServer(record.clone())]);
        l.handle_server_data(t0, &record);
        assert_eq!(drain(&mut l), [Output::ToHsm(record)]);
    }

    #[test]
    fn a_second_connect_is_refused_and_the_first_link_stays() {
        let t0 = Instant::now();
        let mut l = up(t0);
        l.handle_hsm_data(t0, &connect("10.0.0.9"));
        let out = drain(&mut l);
        assert_eq!(out.len(), 1);
        assert_eq!(closed_code(&out), ErrorCode::PedProtocolError.value());
        assert!(l.is_relaying());
    }

    #[test]
    fn busy_unplug_bye_and_garbage_have_their_codes() {
        let t0 = Instant::now();
        let mut l = Link::new(t0, T, 1);
        l.handle_hsm_data(t0, &connect("h"));
        l.dialled(t0, "h:1503".into(), true);
        l.handle_server_data(t0, &server_hello());
        drain(&mut l);
        l.handle_server_data(t0, &RelayMessage::Busy.encode().unwrap());
        let out = drain(&mut l);
        assert_eq!(closed_code(&out), ErrorCode::CkrDeviceError.value());
        assert!(
            out.iter().any(|o| matches!(o, Output::ToHsm(_)) && format!("{:?}", hsm_msg(o)).contains("another HSM"))
        );
        assert!(out.contains(&Output::CloseServer));

        let mut l = up(t0);
        l.handle_server_data(t0, &RelayMessage::error(ErrorCode::CkrPedUnplugged).encode().unwrap());
        assert_eq!(closed_code(&drain(&mut l)), ErrorCode::CkrPedUnplugged.value());
        // After the link ended, channel frames are refused with CKR_PED_UNPLUGGED.
        l.handle_hsm_data(t0, &frame::encode(FrameType::Record, &[1]));
        assert_eq!(closed_code(&drain(&mut l)), ErrorCode::CkrPedUnplugged.value());

        let mut l = up(t0);
        l.handle_server_data(t0, b"HTTP/1.1 400 Bad Request\r\n\r\n");
        let out = drain(&mut l);
        assert_eq!(server_msg(&out[0]), RelayMessage::error(ErrorCode::CkrCallbackError));
        assert_eq!(closed_code(&out), ErrorCode::CkrCallbackError.value());

        let mut l = up(t0);
        l.handle_server_data(t0, &HsmLinkMessage::Disconnect.encode().unwrap());
        assert_eq!(closed_code(&drain(&mut l)), ErrorCode::CkrCallbackError.value());

        let mut l = up(t0);
        l.handle_server_closed();
        assert_eq!(closed_code(&drain(&mut l)), ErrorCode::CkrPedUnplugged.value());

        let mut l = Link::new(t0, T, 1);
        l.handle_hsm_data(t0, &connect("h"));
        drain(&mut l);
        l.dial_failed(ErrorCode::RcSocketError, "refused".into());
        assert_eq!(closed_code(&drain(&mut l)), ErrorCode::RcSocketError.value());
    }

    #[test]
    fn a_ped_less_server_is_unplugged() {
        let t0 = Instant::now();
        let mut l = Link::new(t0, T, 1);
        l.handle_hsm_data(t0, &connect("h"));
        l.dialled(t0, "h:1503".into(), true);
        l.handle_server_data(t0, &server_hello());
        l.handle_server_data(t0, &status(false));
        assert_eq!(closed_code(&drain(&mut l)), ErrorCode::CkrPedUnplugged.value());
    }

    #[test]
    fn disconnect_says_bye_and_closes_with_code_zero() {
        let t0 = Instant::now();
        let mut l = up(t0);
        l.handle_hsm_data(t0, &HsmLinkMessage::Disconnect.encode().unwrap());
        let out = drain(&mut l);
        assert_eq!(server_msg(&out[0]), RelayMessage::Bye);
        assert_eq!(out[1], Output::CloseServer);
        assert_eq!(closed_code(&out), 0);
        assert!(!l.is_closed(), "the HSM link stays for the next ped connect");
    }

    #[test]
    fn timers_idle_ping_and_hello() {
        let t0 = Instant::now();
        let mut l = up(t0);
        // A quiet server is pinged; its pong keeps the link.
        assert_eq!(l.poll_deadline(), Some(t0 + Duration::from_secs(30)));
        l.handle_timeout(t0 + Duration::from_secs(30));
        let RelayMessage::Ping { nonce } = server_msg(&drain(&mut l)[0]) else { panic!("a ping") };
        l.handle_server_data(t0 + Duration::from_secs(31), &RelayMessage::Pong { nonce }.encode().unwrap());
        // Pings are not activity: the idle timeout still fires at 100 s.
        l.handle_timeout(t0 + Duration::from_secs(100));
        let out = drain(&mut l);
        assert_eq!(server_msg(&out[0]), RelayMessage::error(ErrorCode::RcOperationTimedOut));
        assert_eq!(closed_code(&out), ErrorCode::RcOperationTimedOut.value());

        let mut l = up(t0);
        l.handle_timeout(t0 + Duration::from_secs(30));
        drain(&mut l);
        l.handle_timeout(t0 + Duration::from_secs(35));
        assert_eq!(closed_code(&drain(&mut l)), ErrorCode::RcOperationTimedOut.value());

        let mut l = Link::new(t0, T, 1);
        l.handle_hsm_data(t0, &connect("h"));
        l.dialled(t0, "h:1503".into(), true);
        drain(&mut l);
        l.handle_timeout(t0 + Duration::from_secs(10));
        assert_eq!(closed_code(&drain(&mut l)), ErrorCode::RcOperationTimedOut.value());
    }

    #[test]
    fn the_idle_timeout_can_be_waived_for_a_link() {
        let t0 = Instant::now();
        let mut l = Link::new(t0, Timeouts { ping_interval: None, ..T }, 1);
        l.handle_hsm_data(t0, &connect(""));
        l.dialled(t0, "PED ID 7".into(), false);
        l.handle_server_data(t0, &server_hello());
        l.handle_server_data(t0, &status(true));
        drain(&mut l);
        assert_eq!(l.poll_deadline(), None);
        l.handle_timeout(t0 + Duration::from_secs(10_000));
        assert!(l.is_relaying());
    }

    #[test]
    fn an_adopted_connection_skips_the_hellos() {
        let t0 = Instant::now();
        let mut l = Link::new(t0, T, 1);
        l.handle_hsm_data(t0, &connect(""));
        drain(&mut l);
        l.adopted(t0, "pedserver laptop".into(), "192.0.2.9:40123".into(), true);
        assert_eq!(server_msg(&drain(&mut l)[0]), RelayMessage::StatusRequest);
        l.handle_server_data(t0, &status(true));
        assert!(l.is_relaying());
        let connected = HsmLinkMessage::Connected {
            firmware_version: "2.9.0".into(),
            pedserver: "192.0.2.9:40123".into(),
            ped_initiated: true,
        };
        assert_eq!(hsm_msg(&drain(&mut l)[0]), connected);
    }

    #[test]
    fn an_audit_record_passes_at_once_while_a_ped_operation_waits() {
        let t0 = Instant::now();
        let mut l = up(t0);
        // A PED command went out; its key holder has not answered.
        l.handle_hsm_data(t0, &frame::encode(FrameType::Record, &[0x55; 40]));
        assert!(matches!(drain(&mut l)[..], [Output::ToServer(_)]));
        let record = AuditRecord {
            seq: 9,
            time: 1_700_000_000,
            hsm_serial: "150123".into(),
            event: "ped connect -ip 10.1.1.1: refused".into(),
            prev: [1; 32],
        };
        l.handle_hsm_data(t0, &HsmLinkMessage::Audit(record.clone()).encode().unwrap());
        assert_eq!(drain(&mut l), [Output::Audit(record.clone())]);
        assert!(l.is_relaying());
        // With no remote link at all, too.
        let mut idle = Link::new(t0, T, 1);
        idle.handle_hsm_data(t0, &HsmLinkMessage::Audit(record.clone()).encode().unwrap());
        assert_eq!(drain(&mut idle), [Output::Audit(record)]);
        let rotation = HsmLinkMessage::AuditConfig { rotate_size: 4096, rotate_count: 3 };
        idle.handle_hsm_data(t0, &rotation.encode().unwrap());
        let expected = Output::AuditRotation { hsm_serial: "150123".into(), rotate_size: 4096, rotate_count: 3 };
        assert_eq!(drain(&mut idle), [expected]);
    }

    #[test]
    fn hsm_garbage_or_eof_ends_everything() {
        let t0 = Instant::now();
        let mut l = up(t0);
        l.handle_hsm_data(t0, b"garbage!");
        let out = drain(&mut l);
        assert_eq!(server_msg(&out[0]), RelayMessage::Bye);
        assert_eq!(out.last(), Some(&Output::CloseHsm));
        assert!(l.is_closed());
        let mut l = up(t0);
        l.handle_hsm_closed();
        assert!(drain(&mut l).contains(&Output::CloseServer));
    }
}
