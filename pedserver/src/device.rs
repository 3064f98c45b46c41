//! The PED device: which one to open ([`DeviceSpec`]), and the task that owns it
//! ([`run`]). Both kinds are packet pipes (`ped_wire::usb`), so one relay path serves both.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ped_wire::device::{DeviceMessage, PedInfo};
use ped_wire::frame::{Frame, FrameType};
use ped_wire::relay::PedStatus;
use ped_wire::usb::{Reassembler, SocketPacketReader, frame_records, packets, socket_record};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{Notify, mpsc, watch};

pub mod usb;

/// Which PED to serve. The same relay code runs over each: every kind is a pipe of USB
/// packets (docs/usb.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceSpec {
    /// A real PED on USB (vendor:product 1209:0001), found by polling, so one plugged in
    /// before or after the server started is picked up.
    Usb,
    /// The emulated endpoint of `ped-sim` on a Unix socket.
    Socket(PathBuf),
    /// The emulated endpoint on TCP (loopback).
    Tcp(SocketAddr),
}

/// A `-device` that names no PED.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeviceSpecError {
    /// `tcp:` with no address after it.
    #[error("`{addr}`: {source}")]
    BadAddress {
        /// What followed `tcp:`.
        addr: String,
        /// Why it is not an address.
        source: std::net::AddrParseError,
    },
    /// Neither `usb`, `socket:PATH` nor `tcp:HOST:PORT`.
    #[error("`{0}` is not a device: use usb, socket:PATH or tcp:HOST:PORT")]
    Unknown(String),
}

impl FromStr for DeviceSpec {
    type Err = DeviceSpecError;

    fn from_str(s: &str) -> Result<Self, DeviceSpecError> {
        if s == "usb" {
            Ok(DeviceSpec::Usb)
        } else if let Some(path) = s.strip_prefix("socket:").filter(|p| !p.is_empty()) {
            Ok(DeviceSpec::Socket(path.into()))
        } else if let Some(addr) = s.strip_prefix("tcp:") {
            addr.parse()
                .map(DeviceSpec::Tcp)
                .map_err(|source| DeviceSpecError::BadAddress { addr: addr.into(), source })
        } else {
            Err(DeviceSpecError::Unknown(s.to_string()))
        }
    }
}

impl TryFrom<String> for DeviceSpec {
    type Error = DeviceSpecError;

    fn try_from(s: String) -> Result<Self, DeviceSpecError> {
        s.parse()
    }
}

impl From<DeviceSpec> for String {
    fn from(d: DeviceSpec) -> String {
        d.to_string()
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Usb => f.write_str("usb"),
            DeviceSpec::Socket(p) => write!(f, "socket:{}", p.display()),
            DeviceSpec::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_back() {
        for text in ["usb", "socket:/run/ped-sim.sock", "tcp:127.0.0.1:4000", "tcp:[::1]:4000"] {
            assert_eq!(text.parse::<DeviceSpec>().unwrap().to_string(), text);
        }
        for bad in ["", "socket:", "tcp:nowhere", "serial:/dev/ttyS0"] {
            assert!(bad.parse::<DeviceSpec>().is_err(), "{bad}");
        }
    }
}

/// How long a PED gets to answer an InfoRequest.
const INFO_TIMEOUT: Duration = Duration::from_secs(5);

/// What the device task hands to the session that holds the PED.
#[derive(Debug)]
pub enum FromDevice {
    /// A whole frame from the PED, for the client.
    Frame(Vec<u8>),
    /// The PED went away.
    Unplugged,
}

/// What is known of the PED, for `show` and relay Status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceState {
    /// A PED is open.
    pub connected: bool,
    /// Its answer to InfoRequest, once received.
    pub info: Option<PedInfo>,
}

impl DeviceState {
    /// The relay Status of docs/protocol.md §15.
    pub fn ped_status(&self) -> PedStatus {
        let info = self.info.as_ref();
        let serials: Vec<String> = info.map(|i| i.rpk_serials.clone()).unwrap_or_default();
        PedStatus {
            ped_connected: self.connected,
            firmware_version: info.map(|i| i.firmware_version.clone()).unwrap_or_default(),
            protocol_version: info.and_then(|i| i.protocol_versions.iter().copied().max()).unwrap_or(0),
            rpk_count: u8::try_from(serials.len()).unwrap_or(u8::MAX),
            rpk_serials: serials,
        }
    }
}

/// The meeting point of the device task and the sessions.
#[derive(Debug)]
pub struct DeviceHub {
    state: Mutex<DeviceState>,
    to_device: mpsc::Sender<Vec<u8>>,
    sink: Mutex<Option<mpsc::Sender<FromDevice>>>,
    refresh: Notify,
}

/// The receiving end of frames for the PED, owned by the device task.
#[derive(Debug)]
pub struct DeviceInbox(mpsc::Receiver<Vec<u8>>);

impl DeviceHub {
    /// A hub and the inbox its device task reads.
    pub fn new() -> (Arc<DeviceHub>, DeviceInbox) {
        let (tx, rx) = mpsc::channel(64);
        let hub = DeviceHub {
            state: Mutex::new(DeviceState::default()),
            to_device: tx,
            sink: Mutex::new(None),
            refresh: Notify::new(),
        };
        (Arc::new(hub), DeviceInbox(rx))
    }

    /// A copy of the PED's state.
    pub fn state(&self) -> DeviceState {
        lock(&self.state).clone()
    }

    /// Routes the PED's frames to `sink` (the one session holding the PED), or nowhere.
    pub fn attach(&self, sink: Option<mpsc::Sender<FromDevice>>) {
        *lock(&self.sink) = sink;
    }

    /// Queues a frame for the PED; `false` if no PED is connected.
    pub async fn send(&self, frame: Vec<u8>) -> bool {
        self.state().connected && self.to_device.send(frame).await.is_ok()
    }

    /// Asks the PED for its info again (its RPK cache may have changed in a session).
    pub fn refresh_info(&self) {
        self.refresh.notify_one();
    }

    fn set_state(&self, state: DeviceState) {
        *lock(&self.state) = state;
    }

    async fn deliver(&self, event: FromDevice) {
        let sink = lock(&self.sink).clone();
        match sink {
            Some(sink) => {
                // A session that has ended drops its receiver; nothing to do then.
                let _ = sink.send(event).await;
            }
            None => match event {
                FromDevice::Frame(_) => tracing::debug!("frame from the PED with no client attached: dropped"),
                FromDevice::Unplugged => {}
            },
        }
    }
}

/// Poisoning only follows a panic elsewhere; the state is plain data and stays usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An open PED: a pipe of USB packets (docs/usb.md), whichever kind it is. The daemon's
/// device task and `-mode update` both drive one.
pub(crate) enum Pipe {
    Stream { stream: Box<dyn ByteStream>, reader: SocketPacketReader },
    Usb(usb::UsbPipe),
}

pub(crate) trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

impl Pipe {
    pub(crate) async fn open(spec: &DeviceSpec) -> std::io::Result<Pipe> {
        let stream: Box<dyn ByteStream> = match spec {
            DeviceSpec::Usb => return usb::UsbPipe::open().await.map(Pipe::Usb),
            DeviceSpec::Socket(path) => Box::new(UnixStream::connect(path).await?),
            DeviceSpec::Tcp(addr) => {
                let s = TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                Box::new(s)
            }
        };
        Ok(Pipe::Stream { stream, reader: SocketPacketReader::new() })
    }

    /// The next packet. Cancel-safe: a partial record stays in the reader.
    pub(crate) async fn read_packet(&mut self) -> std::io::Result<Vec<u8>> {
        match self {
            Pipe::Usb(usb) => usb.read_packet().await,
            Pipe::Stream { stream, reader } => loop {
                if let Some(p) = reader.next_packet().map_err(|e| invalid(format!("{e:?}")))? {
                    return Ok(p);
                }
                let mut buf = [0u8; 4096];
                match stream.read(&mut buf).await? {
                    0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                    n => reader.extend(&buf[..n]),
                }
            },
        }
    }

    /// Writes one frame as its packets, `delay` apart (the seed's -pedwritelay).
    pub(crate) async fn write_frame(&mut self, frame: &[u8], delay: Duration) -> std::io::Result<()> {
        match self {
            Pipe::Usb(usb) => usb.write_frame(frame, delay).await,
            Pipe::Stream { stream, .. } if delay.is_zero() => stream.write_all(&frame_records(frame)).await,
            Pipe::Stream { stream, .. } => {
                for (i, p) in packets(frame).enumerate() {
                    if i > 0 {
                        // tokio's timer rounds up to whole milliseconds; an emulated PED
                        // needs no throttling, so the coarser delay costs nothing real.
                        tokio::time::sleep(delay).await;
                    }
                    stream.write_all(&socket_record(p)).await?;
                }
                Ok(())
            }
        }
    }
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

/// The device task: finds the PED (polling, so one plugged in at any time is found),
/// asks its info, relays frames both ways, and on loss tells the session and looks again.
pub async fn run(
    spec: DeviceSpec,
    hub: Arc<DeviceHub>,
    mut inbox: DeviceInbox,
    write_delay: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut retry = Retry::new();
    while !*shutdown.borrow() {
        let attempt = match Pipe::open(&spec).await {
            Ok(mut pipe) => {
                tracing::debug!("opened {spec}; asking the PED for its info");
                hub.set_state(DeviceState { connected: true, info: None });
                let reason = pump(&mut pipe, &spec, &hub, &mut inbox, write_delay, &mut shutdown).await;
                let answered = hub.state().info.is_some();
                hub.set_state(DeviceState::default());
                // Frames queued for the PED that went away belong to a channel that is gone.
                while inbox.0.try_recv().is_ok() {}
                if *shutdown.borrow() {
                    break;
                }
                hub.deliver(FromDevice::Unplugged).await;
                if answered { Attempt::Served(reason) } else { Attempt::Unanswered(reason) }
            }
            Err(e) => Attempt::NotFound(e.to_string()),
        };
        let (pause, news) = retry.after(&attempt);
        if news {
            match &attempt {
                Attempt::Served(reason) => tracing::warn!("PED disconnected: {reason}"),
                Attempt::NotFound(e) => {
                    tracing::info!("no PED at {spec} ({e}); looking again, at least every {:?}", Retry::CAP)
                }
                Attempt::Unanswered(reason) => tracing::warn!(
                    "the device at {spec} closed before answering InfoRequest ({reason}); retrying, at least \
                     every {:?}, logged again only once a PED answers",
                    Retry::CAP
                ),
            }
        } else {
            tracing::debug!("no PED at {spec} yet: {attempt:?}");
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// How one attempt to reach the PED ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Attempt {
    /// Nothing to open (no USB device, no socket, refused), with the reason.
    NotFound(String),
    /// Opened, then closed before the PED answered InfoRequest: an endpoint that accepts
    /// and drops at once (ped-rig's recorder before ped-sim runs, a flapping device).
    Unanswered(String),
    /// A PED that answered served, then went away.
    Served(String),
}

/// When to try the PED again, and whether an attempt is news worth a log line. Failures
/// back off from [`Retry::FIRST`] doubling to [`Retry::CAP`] (an endpoint that accepts and
/// closes at once would otherwise be reopened in a tight loop), so a PED that appears is
/// found within about the cap; a PED that answered starts the schedule over. Only a change
/// of kind of failure is news: the first "not found", the first "closed unanswered".
#[derive(Debug)]
struct Retry {
    next: Duration,
    quiet: Option<std::mem::Discriminant<Attempt>>,
}

impl Retry {
    const FIRST: Duration = Duration::from_millis(100);
    const CAP: Duration = Duration::from_secs(2);

    fn new() -> Retry {
        Retry { next: Retry::FIRST, quiet: None }
    }

    /// The pause before the next attempt, and whether `attempt` is to be logged.
    fn after(&mut self, attempt: &Attempt) -> (Duration, bool) {
        if let Attempt::Served(_) = attempt {
            self.next = Retry::FIRST;
            self.quiet = None;
            return (Retry::FIRST, true);
        }
        let pause = self.next;
        self.next = (pause * 2).min(Retry::CAP);
        let kind = std::mem::discriminant(attempt);
        let news = self.quiet != Some(kind);
        self.quiet = Some(kind);
        (pause, news)
    }
}

#[cfg(test)]
mod retry_tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn failures_back_off_to_the_cap_and_a_served_ped_starts_over() {
        let mut r = Retry::new();
        let flap = Attempt::Unanswered("eof".into());
        let pauses: Vec<Duration> = (0..8).map(|_| r.after(&flap).0).collect();
        assert_eq!(pauses, [ms(100), ms(200), ms(400), ms(800), ms(1600), ms(2000), ms(2000), ms(2000)]);
        assert_eq!(r.after(&Attempt::Served("unplugged".into())), (ms(100), true));
        assert_eq!(r.after(&Attempt::NotFound("no device".into())).0, ms(100));
        assert_eq!(r.after(&Attempt::NotFound("no device".into())).0, ms(200));
    }

    #[test]
    fn a_failure_is_logged_once_per_change_of_kind() {
        let mut r = Retry::new();
        let gone = Attempt::NotFound("refused".into());
        let flap = Attempt::Unanswered("eof".into());
        let logged: Vec<bool> =
            [&gone, &gone, &gone, &flap, &flap, &flap, &gone, &flap].iter().map(|a| r.after(a).1).collect();
        assert_eq!(logged, [true, false, false, true, false, false, true, true]);
        // The PED answered: its loss is news, and so is the next failure of either kind.
        let served = Attempt::Served("unplugged".into());
        assert!(r.after(&served).1 && r.after(&served).1);
        assert!(r.after(&flap).1);
    }

    #[test]
    fn a_flapping_endpoint_costs_few_attempts_and_one_line_a_minute() {
        let mut r = Retry::new();
        let (mut elapsed, mut attempts, mut lines) = (Duration::ZERO, 0, 0);
        while elapsed < Duration::from_secs(60) {
            let (pause, news) = r.after(&Attempt::Unanswered("eof".into()));
            elapsed += pause;
            attempts += 1;
            lines += usize::from(news);
        }
        // A spin made thousands of attempts and twice as many lines a second.
        assert!(attempts <= 35, "{attempts}");
        assert_eq!(lines, 1);
    }
}

async fn pump(
    pipe: &mut Pipe,
    spec: &DeviceSpec,
    hub: &DeviceHub,
    inbox: &mut DeviceInbox,
    write_delay: Duration,
    shutdown: &mut watch::Receiver<bool>,
) -> String {
    let info_request = DeviceMessage::InfoRequest.encode().unwrap_or_default();
    if let Err(e) = pipe.write_frame(&info_request, write_delay).await {
        return format!("InfoRequest not sent: {e}");
    }
    let info_deadline = tokio::time::Instant::now() + INFO_TIMEOUT;
    let mut reassembler = Reassembler::new();
    loop {
        let waiting_info = hub.state().info.is_none();
        tokio::select! {
            _ = shutdown.changed() => return "shutdown".into(),
            packet = pipe.read_packet() => match packet {
                Ok(p) => match reassembler.push(&p) {
                    Ok(Some(frame)) => route(spec, hub, frame).await,
                    Ok(None) => {}
                    Err(e) => tracing::warn!("malformed USB transfer from the PED, dropped: {e:?}"),
                },
                Err(e) => return e.to_string(),
            },
            frame = inbox.0.recv() => {
                let Some(frame) = frame else { return "server stopping".into() };
                if let Err(e) = pipe.write_frame(&frame, write_delay).await {
                    return format!("write failed: {e}");
                }
            }
            _ = hub.refresh.notified() => {
                if let Err(e) = pipe.write_frame(&info_request, write_delay).await {
                    return format!("InfoRequest not sent: {e}");
                }
            }
            _ = tokio::time::sleep_until(info_deadline), if waiting_info => {
                tracing::warn!("the PED did not answer InfoRequest within {INFO_TIMEOUT:?}; relaying anyway");
            }
        }
    }
}

/// Device control is this server's business; every other frame goes to the session.
async fn route(spec: &DeviceSpec, hub: &DeviceHub, frame: Vec<u8>) {
    let Ok(parsed) = Frame::decode_exact(&frame) else { return };
    if parsed.frame_type == FrameType::DeviceInfo {
        match DeviceMessage::decode(parsed) {
            Ok(DeviceMessage::Info(info)) => {
                // The first answer is when the PED counts as connected: an endpoint that
                // accepts and closes at once never gets here, so it logs nothing per try.
                let first = hub.state().info.is_none();
                tracing::info!(
                    "{} firmware {}, serial {}, mode {:?}, {} cached RPK(s)",
                    if first { format!("PED connected at {spec}:") } else { "PED info:".to_owned() },
                    info.firmware_version,
                    info.serial,
                    info.mode,
                    info.rpk_serials.len()
                );
                hub.set_state(DeviceState { connected: true, info: Some(info) });
            }
            other => tracing::warn!("bad Info frame from the PED: {other:?}"),
        }
    } else if parsed.frame_type.is_device_control() || parsed.frame_type.is_relay_control() {
        tracing::debug!("control frame {:?} from the PED not relayed", parsed.frame_type);
    } else {
        hub.deliver(FromDevice::Frame(frame)).await;
    }
}
