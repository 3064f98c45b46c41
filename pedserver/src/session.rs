//! One pedclient connection as a sans-IO state machine: bytes, device frames and the
//! time go in; frames for the client and the device, and the decision to close, come
//! out. The tokio adapter (`server`) only moves bytes and sleeps until
//! [`Session::poll_deadline`].
//!
//! The session is blind by construction: it looks at the 8-byte frame header only;
//! handshake frames, records and any type that is not relay or device control go to the
//! device with their bodies unread. Only relay control (in clear, no secrets, §15 of
//! docs/protocol.md) is answered here.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use ped_daemon::frames::{FrameReader, Keepalive, KeepaliveDue, relay_control as control};
use ped_wire::device::SessionEndReason;
use ped_wire::frame::FrameType;
use ped_wire::relay::{PedStatus, RELAY_VERSION, RelayMessage, RelayRole};
use ped_wire::{DecodeError, ErrorCode};

/// The session's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// No channel frame either way (pings and status requests aside) for this long
    /// closes the connection.
    pub idle: Duration,
    /// Every started frame must arrive whole within this, and the hello within this or
    /// [`HELLO_WAIT`], whichever is shorter.
    pub read: Duration,
    /// A quiet client is pinged after this; `None` disables pings.
    pub ping_interval: Option<Duration>,
    /// A ping unanswered for this long closes the connection.
    pub ping_timeout: Duration,
}

/// The longest a connection may take to say hello. pedclient says it as soon as it
/// connects, so a longer wait serves only connections that hold a place and never speak.
pub const HELLO_WAIT: Duration = Duration::from_secs(3);

/// Why a session ended; logged, and where useful told to the client first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The client said Bye.
    ClientBye,
    /// The client closed its socket (between frames, or mid-frame).
    ClientClosed {
        /// Part of a frame was buffered.
        mid_frame: bool,
    },
    /// The client reported an error.
    ClientError(u32),
    /// No traffic for the idle timeout.
    IdleTimeout,
    /// A ping went unanswered.
    PingTimeout,
    /// No hello within the read timeout or [`HELLO_WAIT`].
    HelloTimeout,
    /// Still waiting for its hello when the connections waiting were too many: the one
    /// that waited longest makes room (ped-daemon's `admission`).
    Evicted,
    /// A frame started but did not complete within the read timeout (slowloris).
    SlowFrame,
    /// The client sent bytes that are not a frame.
    Malformed(DecodeError),
    /// The client broke the relay protocol.
    Protocol(&'static str),
    /// The client speaks another relay version.
    VersionMismatch(u16),
    /// The PED went away.
    DeviceUnplugged,
    /// The server is shutting down or was told to disconnect.
    Shutdown,
    /// Another client holds the PED.
    Busy,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::ClientBye => f.write_str("client said bye"),
            CloseReason::ClientClosed { mid_frame: false } => f.write_str("client closed the connection"),
            CloseReason::ClientClosed { mid_frame: true } => f.write_str("client closed the connection mid-frame"),
            CloseReason::ClientError(code) => match ErrorCode::from_value(*code) {
                Some(c) => write!(f, "client reported {c}"),
                None => write!(f, "client reported error 0x{code:08x}"),
            },
            CloseReason::IdleTimeout => f.write_str("idle timeout"),
            CloseReason::PingTimeout => f.write_str("ping not answered in time"),
            CloseReason::HelloTimeout => {
                write!(f, "no hello within the socket read timeout ({} s at most)", HELLO_WAIT.as_secs())
            }
            CloseReason::Evicted => f.write_str("no hello yet, and the oldest of too many connections waiting for one"),
            CloseReason::SlowFrame => f.write_str("frame not completed within the socket read timeout"),
            CloseReason::Malformed(e) => write!(f, "malformed frame: {e:?}"),
            CloseReason::Protocol(what) => write!(f, "protocol violation: {what}"),
            CloseReason::VersionMismatch(v) => {
                write!(f, "client relay version {v}, this server speaks {RELAY_VERSION}")
            }
            CloseReason::DeviceUnplugged => f.write_str("PED unplugged"),
            CloseReason::Shutdown => f.write_str("server shutting down or disconnect requested"),
            CloseReason::Busy => f.write_str("busy: another client holds the PED"),
        }
    }
}

impl CloseReason {
    /// What the PED is told when a session that held it ends this way (protocol §15.1);
    /// `None` when there is nobody to tell (the PED itself went away) or the session
    /// never held the PED (refused busy).
    pub fn session_end(&self) -> Option<SessionEndReason> {
        match self {
            CloseReason::ClientBye => Some(SessionEndReason::HsmDisconnected),
            // pedclient's own idle timeout: the one timeout it reports mid-session that
            // pedserver can still hear (its others mean pedserver stopped answering).
            CloseReason::IdleTimeout => Some(SessionEndReason::IdleTimeout),
            CloseReason::ClientError(code) if *code == ErrorCode::RcOperationTimedOut.value() => {
                Some(SessionEndReason::IdleTimeout)
            }
            CloseReason::ClientClosed { .. }
            | CloseReason::ClientError(_)
            | CloseReason::PingTimeout
            | CloseReason::HelloTimeout
            | CloseReason::Evicted
            | CloseReason::SlowFrame
            | CloseReason::Malformed(_)
            | CloseReason::Protocol(_)
            | CloseReason::VersionMismatch(_) => Some(SessionEndReason::LinkLost),
            CloseReason::Shutdown => Some(SessionEndReason::HostEnded),
            CloseReason::DeviceUnplugged | CloseReason::Busy => None,
        }
    }
}

/// What the adapter must do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send these bytes (one frame) to the client.
    ToClient(Vec<u8>),
    /// Send this frame to the PED.
    ToDevice(Vec<u8>),
    /// The client asked for the PED's status: answer with [`Session::reply_status`].
    StatusWanted,
    /// The client said hello: claim the PED, or call [`Session::refuse_busy`].
    Established {
        /// The client's software string.
        software: String,
    },
    /// Close the connection (after sending every earlier `ToClient`).
    Close(CloseReason),
}

/// Times of one connection, for `show`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimes {
    /// When the connection was accepted.
    pub connected_at: Instant,
    /// Last channel frame either way (pings and status requests aside).
    pub last_activity: Instant,
    /// Sum of the whole seconds of every quiet gap so far.
    pub idle_total: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    AwaitingHello,
    Relaying,
    Closed,
}

/// One client connection. See the module documentation.
#[derive(Debug)]
pub struct Session {
    state: State,
    timeouts: Timeouts,
    reader: FrameReader,
    out: VecDeque<Output>,
    times: SessionTimes,
    /// Pings go to quiet clients only.
    keepalive: Keepalive,
    /// A frame went to the PED: it may hold a channel of this session.
    relayed: bool,
}

/// The hello this server sends.
pub fn server_hello() -> Vec<u8> {
    control(&RelayMessage::Hello {
        version: RELAY_VERSION,
        role: RelayRole::Server,
        software: format!("pedserver {}", env!("CARGO_PKG_VERSION")),
    })
}

/// The frame that refuses a second client.
pub fn busy() -> Vec<u8> {
    control(&RelayMessage::Busy)
}

impl Session {
    /// A new connection at `now`; its first output is this server's hello.
    pub fn new(now: Instant, timeouts: Timeouts, nonce_seed: u64) -> Session {
        let mut s = Session {
            state: State::AwaitingHello,
            timeouts,
            reader: FrameReader::default(),
            out: VecDeque::new(),
            times: SessionTimes { connected_at: now, last_activity: now, idle_total: Duration::ZERO },
            keepalive: Keepalive::new(now, timeouts.ping_interval, timeouts.ping_timeout, nonce_seed),
            relayed: false,
        };
        s.out.push_back(Output::ToClient(server_hello()));
        s
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Times for `show`.
    pub fn times(&self) -> SessionTimes {
        self.times
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// What the PED must be told now that the session closed with `reason` (`None`: the
    /// client's socket failed under the adapter, a lost link). Nothing if no frame of
    /// this session reached the PED (a `testid` probe, a refused client): it then holds
    /// nothing of the session.
    pub fn ped_notice(&self, reason: Option<&CloseReason>) -> Option<SessionEndReason> {
        reason.map_or(Some(SessionEndReason::LinkLost), CloseReason::session_end).filter(|_| self.relayed)
    }

    /// Bytes buffered from the client.
    pub fn buffered(&self) -> usize {
        self.reader.buffered()
    }

    /// When [`Session::handle_timeout`] must next be called.
    pub fn poll_deadline(&self) -> Option<Instant> {
        let t = &self.timeouts;
        let mut deadlines = Vec::with_capacity(4);
        match self.state {
            State::Closed => return None,
            State::AwaitingHello => deadlines.push(self.hello_deadline()),
            State::Relaying => {
                deadlines.push(self.times.last_activity + t.idle);
                deadlines.extend(self.keepalive.deadline());
            }
        }
        deadlines.extend(self.reader.frame_deadline(t.read));
        deadlines.into_iter().min()
    }

    /// Checks the timers at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let t = self.timeouts;
        match self.state {
            State::Closed => {}
            _ if self.reader.frame_deadline(t.read).is_some_and(|due| now >= due) => {
                self.fail(ErrorCode::RcOperationTimedOut, CloseReason::SlowFrame)
            }
            State::AwaitingHello if now >= self.hello_deadline() => {
                self.fail(ErrorCode::RcOperationTimedOut, CloseReason::HelloTimeout)
            }
            State::AwaitingHello => {}
            State::Relaying => {
                if now >= self.times.last_activity + t.idle {
                    return self.fail(ErrorCode::RcOperationTimedOut, CloseReason::IdleTimeout);
                }
                match self.keepalive.on_timer(now) {
                    KeepaliveDue::Nothing => {}
                    KeepaliveDue::Ping(nonce) => {
                        self.out.push_back(Output::ToClient(control(&RelayMessage::Ping { nonce })))
                    }
                    KeepaliveDue::TimedOut => self.close(CloseReason::PingTimeout),
                }
            }
        }
    }

    /// The server needs this connection's place for a newer one (ped-daemon's
    /// `admission`); a session past its hello holds none and goes on.
    pub fn handle_evicted(&mut self) {
        if self.state == State::AwaitingHello {
            self.fail(ErrorCode::RcOperationTimedOut, CloseReason::Evicted);
        }
    }

    /// Bytes from the client.
    pub fn handle_client_data(&mut self, now: Instant, data: &[u8]) {
        if self.state == State::Closed {
            return;
        }
        self.reader.feed(now, data);
        loop {
            match self.reader.next_frame() {
                Ok(Some((kind, frame))) => {
                    self.on_client_frame(now, kind, frame);
                    if self.state == State::Closed {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => return self.fail(ErrorCode::PedProtocolError, CloseReason::Malformed(e)),
            }
        }
    }

    /// The client's socket reached end of stream.
    pub fn handle_client_closed(&mut self) {
        let mid_frame = self.reader.is_partial();
        self.close(CloseReason::ClientClosed { mid_frame });
    }

    /// A frame from the PED: forwarded unread.
    pub fn handle_device_frame(&mut self, now: Instant, frame: Vec<u8>) {
        if self.state == State::Relaying {
            self.activity(now);
            self.out.push_back(Output::ToClient(frame));
        }
    }

    /// The PED went away: the client is told CKR_PED_UNPLUGGED, and the connection ends
    /// (the PED lost the channel's state; the HSM must `ped connect` again).
    pub fn handle_device_unplugged(&mut self) {
        self.fail(ErrorCode::CkrPedUnplugged, CloseReason::DeviceUnplugged);
    }

    /// The answer to [`Output::StatusWanted`].
    pub fn reply_status(&mut self, status: PedStatus) {
        if self.state == State::Relaying {
            self.out.push_back(Output::ToClient(control(&RelayMessage::Status(status))));
        }
    }

    /// After [`Output::Established`], when another client holds the PED.
    pub fn refuse_busy(&mut self) {
        self.out.push_back(Output::ToClient(busy()));
        self.close(CloseReason::Busy);
    }

    /// Ends the session from this side (shutdown, `-mode disconnect`): Bye, then close.
    pub fn shutdown(&mut self) {
        if self.state != State::Closed {
            self.out.push_back(Output::ToClient(control(&RelayMessage::Bye)));
            self.close(CloseReason::Shutdown);
        }
    }

    fn on_client_frame(&mut self, now: Instant, kind: FrameType, frame: Vec<u8>) {
        self.keepalive.heard(now);
        let relay = kind.is_relay_control();
        let decoded = if relay { ped_wire::frame::Frame::decode_exact(&frame).ok() } else { None };
        let message = decoded.map(RelayMessage::decode);
        match (self.state, message) {
            (State::AwaitingHello, Some(Ok(RelayMessage::Hello { version, role, software }))) => {
                if version != RELAY_VERSION {
                    return self.fail(ErrorCode::PedVersionMismatch, CloseReason::VersionMismatch(version));
                }
                if role != RelayRole::Client {
                    return self.fail(ErrorCode::PedProtocolError, CloseReason::Protocol("hello from a non-client"));
                }
                self.state = State::Relaying;
                self.activity(now);
                self.out.push_back(Output::Established { software });
            }
            (State::AwaitingHello, _) => {
                self.fail(ErrorCode::PedProtocolError, CloseReason::Protocol("first frame is not a hello"))
            }
            (_, Some(Ok(RelayMessage::Ping { nonce }))) => {
                self.out.push_back(Output::ToClient(control(&RelayMessage::Pong { nonce })))
            }
            (_, Some(Ok(RelayMessage::Pong { nonce }))) => self.keepalive.answered(nonce),
            // Not activity: a status request is not the channel's traffic, and counting it
            // would let anyone who reaches the port hold the PED past the idle timeout.
            (_, Some(Ok(RelayMessage::StatusRequest))) => self.out.push_back(Output::StatusWanted),
            (_, Some(Ok(RelayMessage::Bye))) => self.close(CloseReason::ClientBye),
            (_, Some(Ok(RelayMessage::Error { code, .. }))) => self.close(CloseReason::ClientError(code)),
            (_, Some(_)) | (_, None) if relay => {
                self.fail(ErrorCode::PedProtocolError, CloseReason::Protocol("unexpected relay control frame"))
            }
            _ if kind.is_device_control() => self.fail(
                ErrorCode::PedProtocolError,
                CloseReason::Protocol("device control frames are for the PED's own host only"),
            ),
            _ => {
                self.activity(now);
                self.relayed = true;
                self.out.push_back(Output::ToDevice(frame));
            }
        }
    }

    fn hello_deadline(&self) -> Instant {
        self.times.connected_at + self.timeouts.read.min(HELLO_WAIT)
    }

    fn activity(&mut self, now: Instant) {
        let gap = now.saturating_duration_since(self.times.last_activity);
        self.times.idle_total += Duration::from_secs(gap.as_secs());
        self.times.last_activity = now;
    }

    fn fail(&mut self, code: ErrorCode, reason: CloseReason) {
        self.out.push_back(Output::ToClient(control(&RelayMessage::error(code))));
        self.close(reason);
    }

    fn close(&mut self, reason: CloseReason) {
        if self.state != State::Closed {
            self.state = State::Closed;
            self.out.push_back(Output::Close(reason));
        }
    }
}

#[cfg(test)]
mod tests {
    use ped_wire::frame::{self, Frame, MAX_BODY_LEN};

    use super::*;

    const T: Timeouts = Timeouts {
        idle: Duration::from_secs(100),
        read: Duration::from_secs(10),
        ping_interval: Some(Duration::from_secs(30)),
        ping_timeout: Duration::from_secs(5),
    };

    fn drain(s: &mut Session) -> Vec<Output> {
        std::iter::from_fn(|| s.poll_output()).collect()
    }

    fn relay_of(out: &Output) -> RelayMessage {
        match out {
            Output::ToClient(b) => RelayMessage::decode(Frame::decode_exact(b).unwrap()).unwrap(),
            other => panic!("not a client frame: {other:?}"),
        }
    }

    fn client_hello() -> Vec<u8> {
        RelayMessage::Hello { version: RELAY_VERSION, role: RelayRole::Client, software: "pedclient test".into() }
            .encode()
            .unwrap()
    }

    fn established(now: Instant) -> Session {
        let mut s = Session::new(now, T, 7);
        s.handle_client_data(now, &client_hello());
        let out = drain(&mut s);
        assert!(matches!(relay_of(&out[0]), RelayMessage::Hello { role: RelayRole::Server, .. }));
        assert_eq!(out[1], Output::Established { software: "pedclient test".into() });
        s
    }

    #[test]
    fn channel_frames_go_to_the_device_unread_and_back() {
        let t0 = Instant::now();
        let mut s = established(t0);
        let hello = frame::encode(FrameType::HsmHello, &[0xaa; 300]);
        let record = frame::encode(FrameType::Record, &[0x55; 40]);
        let mut both = hello.clone();
        both.extend_from_slice(&record);
        // Delivered in awkward pieces: the frames come out whole and unchanged.
        for chunk in both.chunks(7) {
            s.handle_client_data(t0, chunk);
        }
        assert_eq!(drain(&mut s), [Output::ToDevice(hello), Output::ToDevice(record.clone())]);
        s.handle_device_frame(t0, record.clone());
        assert_eq!(drain(&mut s), [Output::ToClient(record)]);
    }

    #[test]
    fn ping_pong_status_and_bye() {
        let t0 = Instant::now();
        let mut s = established(t0);
        s.handle_client_data(t0, &RelayMessage::Ping { nonce: 9 }.encode().unwrap());
        assert_eq!(relay_of(&drain(&mut s)[0]), RelayMessage::Pong { nonce: 9 });
        s.handle_client_data(t0, &RelayMessage::StatusRequest.encode().unwrap());
        assert_eq!(drain(&mut s), [Output::StatusWanted]);
        let status = PedStatus {
            ped_connected: true,
            firmware_version: "1.0.0".into(),
            protocol_version: 1,
            rpk_count: 0,
            rpk_serials: vec![],
        };
        s.reply_status(status.clone());
        assert_eq!(relay_of(&drain(&mut s)[0]), RelayMessage::Status(status));
        s.handle_client_data(t0, &RelayMessage::Bye.encode().unwrap());
        assert_eq!(drain(&mut s), [Output::Close(CloseReason::ClientBye)]);
        assert!(s.is_closed() && s.poll_deadline().is_none());
    }

    #[test]
    fn the_server_pings_a_quiet_client_and_closes_when_it_does_not_answer() {
        let t0 = Instant::now();
        let mut s = established(t0);
        assert_eq!(s.poll_deadline(), Some(t0 + Duration::from_secs(30)));
        s.handle_timeout(t0 + Duration::from_secs(30));
        let RelayMessage::Ping { nonce } = relay_of(&drain(&mut s)[0]) else { panic!() };
        // Answered: the next ping is due a full interval after the pong.
        let t1 = t0 + Duration::from_secs(31);
        s.handle_client_data(t1, &RelayMessage::Pong { nonce }.encode().unwrap());
        assert_eq!(s.poll_deadline(), Some(t1 + Duration::from_secs(30)));
        s.handle_timeout(t1 + Duration::from_secs(30));
        assert!(matches!(relay_of(&drain(&mut s)[0]), RelayMessage::Ping { .. }));
        s.handle_timeout(t1 + Duration::from_secs(35));
        assert_eq!(drain(&mut s), [Output::Close(CloseReason::PingTimeout)]);
    }

    #[test]
    fn idle_timeout_counts_traffic_not_pings() {
        let t0 = Instant::now();
        let timeouts = Timeouts { ping_interval: Some(Duration::from_secs(10)), ..T };
        let mut s = Session::new(t0, timeouts, 0);
        s.handle_client_data(t0, &client_hello());
        drain(&mut s);
        for i in 1..10u64 {
            let now = t0 + Duration::from_secs(10 * i + 1);
            s.handle_timeout(now);
            if let Some(Output::ToClient(b)) = drain(&mut s).first() {
                let RelayMessage::Ping { nonce } = RelayMessage::decode(Frame::decode_exact(b).unwrap()).unwrap()
                else {
                    panic!()
                };
                s.handle_client_data(now, &RelayMessage::Pong { nonce }.encode().unwrap());
            }
        }
        s.handle_timeout(t0 + Duration::from_secs(100));
        let out = drain(&mut s);
        assert_eq!(relay_of(&out[0]), RelayMessage::error(ErrorCode::RcOperationTimedOut));
        assert_eq!(out[1], Output::Close(CloseReason::IdleTimeout));
        assert_eq!(s.times().idle_total, Duration::ZERO, "no traffic after the hello, so no gap was closed");
    }

    #[test]
    fn status_requests_do_not_keep_a_session_alive() {
        let t0 = Instant::now();
        let timeouts = Timeouts { ping_interval: None, ..T };
        let mut s = Session::new(t0, timeouts, 0);
        s.handle_client_data(t0, &client_hello());
        s.handle_client_data(t0, &frame::encode(FrameType::HsmHello, &[1; 40]));
        drain(&mut s);
        // Anyone who reaches the port could ask for the status forever: only the
        // channel's own frames count as activity.
        for i in 1..100u64 {
            s.handle_client_data(t0 + Duration::from_secs(i), &RelayMessage::StatusRequest.encode().unwrap());
            s.reply_status(PedStatus {
                ped_connected: true,
                firmware_version: "1.0.0".into(),
                protocol_version: 1,
                rpk_count: 0,
                rpk_serials: vec![],
            });
        }
        drain(&mut s);
        assert_eq!(s.poll_deadline(), Some(t0 + T.idle));
        s.handle_timeout(t0 + T.idle);
        let out = drain(&mut s);
        assert_eq!(relay_of(&out[0]), RelayMessage::error(ErrorCode::RcOperationTimedOut));
        assert_eq!(out[1], Output::Close(CloseReason::IdleTimeout));
        assert_eq!(s.times().last_activity, t0);
    }

    #[test]
    fn the_hello_is_due_within_the_read_timeout_and_three_seconds_at_most() {
        let t0 = Instant::now();
        let mut s = Session::new(t0, T, 0);
        drain(&mut s);
        assert_eq!(s.poll_deadline(), Some(t0 + HELLO_WAIT));
        s.handle_timeout(t0 + HELLO_WAIT - Duration::from_millis(1));
        assert_eq!(drain(&mut s), []);
        s.handle_timeout(t0 + HELLO_WAIT);
        let out = drain(&mut s);
        assert_eq!(relay_of(&out[0]), RelayMessage::error(ErrorCode::RcOperationTimedOut));
        assert_eq!(out[1], Output::Close(CloseReason::HelloTimeout));

        let short = Timeouts { read: Duration::from_millis(500), ..T };
        let s = Session::new(t0, short, 0);
        assert_eq!(s.poll_deadline(), Some(t0 + Duration::from_millis(500)));
    }

    #[test]
    fn an_evicted_connection_is_told_and_closed_unless_it_said_hello() {
        let t0 = Instant::now();
        let mut s = Session::new(t0, T, 0);
        drain(&mut s);
        s.handle_evicted();
        let out = drain(&mut s);
        assert_eq!(relay_of(&out[0]), RelayMessage::error(ErrorCode::RcOperationTimedOut));
        assert_eq!(out[1], Output::Close(CloseReason::Evicted));

        let mut s = established(t0);
        s.handle_evicted();
        assert_eq!(drain(&mut s), []);
        assert!(!s.is_closed());
    }

    #[test]
    fn slowloris_hello_timeout_and_half_frames() {
        let t0 = Instant::now();
        let mut s = Session::new(t0, T, 0);
        drain(&mut s);
        s.handle_timeout(t0 + HELLO_WAIT);
        assert_eq!(drain(&mut s).last(), Some(&Output::Close(CloseReason::HelloTimeout)));

        let mut s = established(t0);
        let record = frame::encode(FrameType::Record, &[1; 100]);
        s.handle_client_data(t0 + Duration::from_secs(1), &record[..50]);
        assert_eq!(s.poll_deadline(), Some(t0 + Duration::from_secs(1) + T.read));
        s.handle_timeout(t0 + Duration::from_secs(11));
        assert_eq!(drain(&mut s).last(), Some(&Output::Close(CloseReason::SlowFrame)));

        let mut s = established(t0);
        s.handle_client_data(t0, &record[..50]);
        s.handle_client_closed();
        assert_eq!(drain(&mut s), [Output::Close(CloseReason::ClientClosed { mid_frame: true })]);
    }

    #[test]
    fn garbage_oversize_and_misplaced_frames_close_with_a_reason() {
        let t0 = Instant::now();
        let mut s = Session::new(t0, T, 0);
        s.handle_client_data(t0, b"GET / HTTP/1.1\r\n\r\n");
        assert!(matches!(drain(&mut s).last(), Some(Output::Close(CloseReason::Malformed(DecodeError::BadMagic)))));

        let mut s = established(t0);
        let mut oversized = frame::encode(FrameType::Record, &[]);
        oversized[4..8].copy_from_slice(&(MAX_BODY_LEN as u32 + 1).to_be_bytes());
        s.handle_client_data(t0, &oversized);
        let out = drain(&mut s);
        assert!(matches!(out.last(), Some(Output::Close(CloseReason::Malformed(DecodeError::TooLong { .. })))));
        assert_eq!(s.buffered(), 8, "the body of an oversized frame is never buffered");

        let mut s = Session::new(t0, T, 0);
        s.handle_client_data(t0, &frame::encode(FrameType::Record, &[1]));
        assert!(matches!(drain(&mut s).last(), Some(Output::Close(CloseReason::Protocol(_)))));

        let mut s = established(t0);
        s.handle_client_data(t0, &frame::encode(FrameType::UpdateBegin, &[0, 0, 0, 1]));
        assert!(matches!(drain(&mut s).last(), Some(Output::Close(CloseReason::Protocol(_)))));

        let mut s = Session::new(t0, T, 0);
        let v2 = RelayMessage::Hello { version: 2, role: RelayRole::Client, software: "x".into() };
        s.handle_client_data(t0, &v2.encode().unwrap());
        let out = drain(&mut s);
        assert_eq!(relay_of(&out[1]), RelayMessage::error(ErrorCode::PedVersionMismatch));
    }

    #[test]
    fn unplugged_device_reports_ckr_ped_unplugged() {
        let mut s = established(Instant::now());
        s.handle_device_unplugged();
        let out = drain(&mut s);
        assert_eq!(relay_of(&out[0]), RelayMessage::error(ErrorCode::CkrPedUnplugged));
        assert_eq!(out[1], Output::Close(CloseReason::DeviceUnplugged));
    }

    #[test]
    fn each_end_of_a_session_tells_the_ped_why_unless_the_ped_is_gone() {
        let t0 = Instant::now();
        let end = |s: &mut Session| match drain(s).last() {
            Some(Output::Close(reason)) => s.ped_notice(Some(reason)),
            other => panic!("not closed: {other:?}"),
        };
        let established = |t0| {
            let mut s = established(t0);
            s.handle_client_data(t0, &frame::encode(FrameType::HsmHello, &[1; 40]));
            drain(&mut s);
            s
        };
        // `ped disconnect`: pedclient says Bye.
        let mut s = established(t0);
        s.handle_client_data(t0, &RelayMessage::Bye.encode().unwrap());
        assert_eq!(end(&mut s), Some(SessionEndReason::HsmDisconnected));
        let mut s = established(t0);
        s.handle_timeout(t0 + T.idle);
        assert_eq!(end(&mut s), Some(SessionEndReason::IdleTimeout));
        // pedclient's idle timeout, and another error it reports.
        let mut s = established(t0);
        s.handle_client_data(t0, &RelayMessage::error(ErrorCode::RcOperationTimedOut).encode().unwrap());
        assert_eq!(end(&mut s), Some(SessionEndReason::IdleTimeout));
        let mut s = established(t0);
        s.handle_client_data(t0, &RelayMessage::error(ErrorCode::CkrCallbackError).encode().unwrap());
        assert_eq!(end(&mut s), Some(SessionEndReason::LinkLost));
        // A cut: pedclient's socket closes, or it stops answering pings.
        let mut s = established(t0);
        s.handle_client_closed();
        assert_eq!(end(&mut s), Some(SessionEndReason::LinkLost));
        let mut s = established(t0);
        s.handle_timeout(t0 + T.ping_interval.unwrap());
        drain(&mut s);
        s.handle_timeout(t0 + T.ping_interval.unwrap() + T.ping_timeout);
        assert_eq!(end(&mut s), Some(SessionEndReason::LinkLost));
        let mut s = established(t0);
        s.shutdown();
        assert_eq!(end(&mut s), Some(SessionEndReason::HostEnded));
        let mut s = established(t0);
        s.handle_device_unplugged();
        assert_eq!(end(&mut s), None, "an unplugged PED hears nothing");
        let mut s = established(t0);
        s.refuse_busy();
        assert_eq!(end(&mut s), None, "a refused client never held the PED");
        // A probe (`pedclient -mode testid`): hello, status, bye; the PED saw nothing.
        let mut s = Session::new(t0, T, 7);
        s.handle_client_data(t0, &client_hello());
        s.handle_client_data(t0, &RelayMessage::StatusRequest.encode().unwrap());
        s.handle_client_data(t0, &RelayMessage::Bye.encode().unwrap());
        assert_eq!(end(&mut s), None, "nothing of a probe reached the PED");
        assert_eq!(established(t0).ped_notice(None), Some(SessionEndReason::LinkLost), "a socket error");
    }

    #[test]
    fn idle_time_accumulates_whole_seconds_of_gaps() {
        let t0 = Instant::now();
        let mut s = established(t0);
        let record = frame::encode(FrameType::Record, &[0; 4]);
        s.handle_client_data(t0 + Duration::from_millis(2500), &record);
        s.handle_client_data(t0 + Duration::from_millis(3000), &record);
        assert_eq!(s.times().idle_total, Duration::from_secs(2));
    }
}
