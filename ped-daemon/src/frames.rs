//! The byte streams both relays read: a [`FrameReader`] splits a stream into whole frames
//! and keeps the time its partial frame started (the slowloris timer), [`Keepalive`]
//! pings a quiet peer and notices when it stops answering, and [`relay_control`] encodes
//! the relay's own control messages. All sans-IO: bytes and the time go in.
//!
//! Blind by construction: only the 8-byte frame header is looked at; bodies are handed on
//! unread.

use std::time::{Duration, Instant};

use ped_wire::frame::{FrameHeader, FrameType, HEADER_LEN};
use ped_wire::relay::RelayMessage;
use ped_wire::{DecodeError, ErrorCode};

/// Bytes read from a socket at a time.
pub const READ_CHUNK: usize = 16 * 1024;

/// Splits a byte stream into whole frames, checking each header as soon as it is
/// complete so that a foreign or oversized frame is refused before its body is buffered.
/// It holds at most one frame and one read.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
    /// When the buffered partial frame started.
    partial_since: Option<Instant>,
}

impl FrameReader {
    /// Appends bytes received at `now`.
    pub fn feed(&mut self, now: Instant, data: &[u8]) {
        if self.buf.is_empty() && !data.is_empty() {
            self.partial_since = Some(now);
        }
        self.buf.extend_from_slice(data);
    }

    /// The next whole frame, if one is buffered. After an error the stream is beyond
    /// repair and the caller closes it.
    pub fn next_frame(&mut self) -> Result<Option<(FrameType, Vec<u8>)>, DecodeError> {
        let Some(header) = self.buf.first_chunk::<HEADER_LEN>() else { return Ok(None) };
        let header = FrameHeader::decode(header)?;
        let total = HEADER_LEN + header.body_len;
        if self.buf.len() < total {
            return Ok(None);
        }
        let rest = self.buf.split_off(total);
        if rest.is_empty() {
            self.partial_since = None;
        }
        Ok(Some((header.frame_type, std::mem::replace(&mut self.buf, rest))))
    }

    /// Whether part of a frame is waiting for the rest.
    pub fn is_partial(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Bytes held.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// When the partial frame must be complete, given the socket read timeout: a peer
    /// that starts a frame and trickles the rest (slowloris) is cut off then.
    pub fn frame_deadline(&self, read_timeout: Duration) -> Option<Instant> {
        self.partial_since.filter(|_| self.is_partial()).map(|since| since + read_timeout)
    }

    /// The bytes not yet taken as frames, handed over whole (to a new owner of the stream).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        self.partial_since = None;
        std::mem::take(&mut self.buf)
    }
}

/// Encodes one of the relay's own control messages. Their text fields are fixed (advice
/// strings, versions) or already bounded by the decoder that produced them; were one not,
/// the peer gets a plain PED error rather than nothing.
pub fn relay_control(msg: &RelayMessage) -> Vec<u8> {
    msg.encode()
        .unwrap_or_else(|_| RelayMessage::error(ErrorCode::PedError).encode().expect("a fixed error message encodes"))
}

/// What [`Keepalive::on_timer`] found due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepaliveDue {
    /// Nothing yet.
    Nothing,
    /// Send a relay Ping with this nonce.
    Ping(u64),
    /// The last ping went unanswered for the ping timeout: the peer is gone.
    TimedOut,
}

/// Pings for a quiet peer: after `interval` without a frame from it, a Ping; if its Pong
/// does not come within `timeout`, the connection is dead. Pings are not traffic: they
/// keep nothing else (such as an idle timeout) alive.
#[derive(Clone, Debug)]
pub struct Keepalive {
    interval: Option<Duration>,
    timeout: Duration,
    /// Last frame of any kind from the peer (pongs included).
    last_heard: Instant,
    /// Nonce and send time of the unanswered ping.
    unanswered: Option<(u64, Instant)>,
    next_nonce: u64,
}

impl Keepalive {
    /// Starts at `now`; `interval` `None` never pings. Nonces count up from `nonce_seed`.
    pub fn new(now: Instant, interval: Option<Duration>, timeout: Duration, nonce_seed: u64) -> Keepalive {
        Keepalive { interval, timeout, last_heard: now, unanswered: None, next_nonce: nonce_seed }
    }

    /// A new peer on the same connection slot: quiet since `now`, no ping outstanding.
    pub fn restart(&mut self, now: Instant) {
        self.last_heard = now;
        self.unanswered = None;
    }

    /// A frame arrived from the peer at `now`.
    pub fn heard(&mut self, now: Instant) {
        self.last_heard = now;
    }

    /// A Pong arrived; it answers the outstanding ping only if the nonce matches.
    pub fn answered(&mut self, nonce: u64) {
        if self.unanswered.is_some_and(|(n, _)| n == nonce) {
            self.unanswered = None;
        }
    }

    /// When [`Keepalive::on_timer`] must next be called.
    pub fn deadline(&self) -> Option<Instant> {
        match (self.unanswered, self.interval) {
            (Some((_, sent)), _) => Some(sent + self.timeout),
            (None, Some(every)) => Some(self.last_heard + every),
            (None, None) => None,
        }
    }

    /// Checks the timers at `now`.
    pub fn on_timer(&mut self, now: Instant) -> KeepaliveDue {
        if let Some((_, sent)) = self.unanswered {
            return if now >= sent + self.timeout { KeepaliveDue::TimedOut } else { KeepaliveDue::Nothing };
        }
        match self.interval {
            Some(every) if now >= self.last_heard + every => {
                let nonce = self.next_nonce;
                self.next_nonce = self.next_nonce.wrapping_add(1);
                self.unanswered = Some((nonce, now));
                KeepaliveDue::Ping(nonce)
            }
            _ => KeepaliveDue::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use ped_wire::frame::{self, MAX_BODY_LEN};

    use super::*;

    #[test]
    fn frames_come_out_whole_from_awkward_pieces() {
        let t0 = Instant::now();
        let hello = frame::encode(FrameType::HsmHello, &[0xaa; 300]);
        let record = frame::encode(FrameType::Record, &[0x55; 40]);
        let mut r = FrameReader::default();
        let mut out = Vec::new();
        for chunk in [hello.clone(), record.clone()].concat().chunks(7) {
            r.feed(t0, chunk);
            while let Some(f) = r.next_frame().unwrap() {
                out.push(f);
            }
        }
        assert_eq!(out, [(FrameType::HsmHello, hello), (FrameType::Record, record)]);
        assert!(!r.is_partial() && r.frame_deadline(Duration::from_secs(1)).is_none());
    }

    #[test]
    fn the_slow_frame_timer_runs_from_the_first_byte_of_a_frame() {
        let (t0, read) = (Instant::now(), Duration::from_secs(10));
        let record = frame::encode(FrameType::Record, &[1; 100]);
        let mut r = FrameReader::default();
        r.feed(t0, &record[..50]);
        assert_eq!(r.next_frame().unwrap(), None);
        r.feed(t0 + Duration::from_secs(3), &record[50..60]);
        assert_eq!(r.frame_deadline(read), Some(t0 + read), "more bytes do not restart it");
        // The frame completes and the next one starts in the same read: still the old start.
        r.feed(t0 + Duration::from_secs(4), &[&record[60..], &record[..9]].concat());
        assert!(r.next_frame().unwrap().is_some());
        assert_eq!(r.frame_deadline(read), Some(t0 + read));
        assert_eq!(r.take_buffered(), record[..9]);
        assert_eq!((r.buffered(), r.frame_deadline(read)), (0, None));
    }

    #[test]
    fn garbage_and_oversized_headers_are_refused_before_the_body() {
        let mut r = FrameReader::default();
        r.feed(Instant::now(), b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(r.next_frame(), Err(DecodeError::BadMagic));
        let mut oversized = frame::encode(FrameType::Record, &[]);
        oversized[4..8].copy_from_slice(&(MAX_BODY_LEN as u32 + 1).to_be_bytes());
        let mut r = FrameReader::default();
        r.feed(Instant::now(), &oversized);
        assert!(matches!(r.next_frame(), Err(DecodeError::TooLong { .. })));
        assert_eq!(r.buffered(), 8);
    }

    #[test]
    fn keepalive_pings_a_quiet_peer_and_times_out_without_its_pong() {
        let t0 = Instant::now();
        let (every, timeout) = (Duration::from_secs(30), Duration::from_secs(5));
        let mut k = Keepalive::new(t0, Some(every), timeout, 7);
        assert_eq!(k.deadline(), Some(t0 + every));
        assert_eq!(k.on_timer(t0 + Duration::from_secs(29)), KeepaliveDue::Nothing);
        assert_eq!(k.on_timer(t0 + every), KeepaliveDue::Ping(7));
        assert_eq!(k.deadline(), Some(t0 + every + timeout));
        k.answered(6);
        assert_eq!(k.on_timer(t0 + every + timeout), KeepaliveDue::TimedOut, "a stale nonce answers nothing");
        let mut k = Keepalive::new(t0, Some(every), timeout, 7);
        k.on_timer(t0 + every);
        let t1 = t0 + every + Duration::from_secs(1);
        k.heard(t1);
        k.answered(7);
        assert_eq!(k.deadline(), Some(t1 + every));
        assert_eq!(k.on_timer(t1 + every), KeepaliveDue::Ping(8));
        k.restart(t1 + every);
        assert_eq!(k.deadline(), Some(t1 + every + every));
        assert_eq!(Keepalive::new(t0, None, timeout, 0).deadline(), None);
    }

    #[test]
    fn control_messages_encode() {
        assert_eq!(relay_control(&RelayMessage::Bye), RelayMessage::Bye.encode().unwrap());
    }
}
