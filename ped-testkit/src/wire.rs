//! The hops between the nodes of a [`Net`](crate::Net), and the faults a test puts on
//! them.
//!
//! Each hop carries whole frames one way and the other, as the real transports do
//! (the HSM link and the relay are byte streams that carry frames back to back; USB
//! carries frames as packet runs). A packet is one frame as its sender wrote it, or the
//! end of the sender's half of the connection. A [`Tap`] changes the packets that
//! match it as they are sent: the receiver then sees exactly what a damaged link
//! would have delivered.

use std::fmt;
use std::time::Duration;

use ped_wire::frame::FrameType;

/// A link between two nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hop {
    /// The HSM and pedclient (its HSM-link socket).
    HsmLink,
    /// pedclient and pedserver (TCP).
    Relay,
    /// pedserver and the remote PED (USB).
    Usb,
    /// The HSM and its Local PED-USB.
    LocalUsb,
}

/// Which way a packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Toward {
    /// From the HSM's side to the PED's.
    Ped,
    /// From the PED's side to the HSM's.
    Hsm,
}

impl fmt::Display for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hop::HsmLink => "hsm-link",
            Hop::Relay => "relay",
            Hop::Usb => "usb",
            Hop::LocalUsb => "local-usb",
        })
    }
}

/// What travels on a hop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// Bytes: one frame as sent, or what a fault left of it.
    Bytes(Vec<u8>),
    /// The sender closed its half (end of stream; for USB, the cable pulled).
    End,
}

/// Which packets a [`Tap`] acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// Every packet.
    Any,
    /// The `n`th packet sent after the tap was placed (0: the next one).
    Nth(usize),
    /// Frames of this type.
    Type(FrameType),
    /// The `n`th frame of this type sent after the tap was placed.
    NthOfType(FrameType, usize),
}

/// What a tap does to a packet it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The packet is lost (on a byte stream that is a lost frame the connection
    /// carries on without: prefer [`Fault::Cut`] for TCP).
    Drop,
    /// The packet is lost and the connection ends both ways, as a TCP link cut at
    /// this frame: each side reads end of stream.
    Cut,
    /// The packet arrives this much later (packets behind it are not held up).
    Delay(Duration),
    /// Only the first `n` bytes arrive.
    Truncate(usize),
    /// The byte at this offset (from the end if it is past it) is XORed with `0x5a`.
    Corrupt(usize),
    /// The packet arrives twice.
    Replay,
    /// The packet is held back and arrives after the next packet on the same way.
    Reorder,
    /// The packet arrives, then the sender's half closes.
    HalfClose,
    /// The packet is replaced by what the function makes of its bytes: a man in the
    /// middle who rewrites a frame (the legacy-downgrade test rewrites the HSM's hello).
    Rewrite(Rewriter),
}

/// The function of a [`Fault::Rewrite`].
#[derive(Clone, Copy, Debug)]
pub struct Rewriter(pub fn(&[u8]) -> Vec<u8>);

impl PartialEq for Rewriter {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::fn_addr_eq(self.0, other.0)
    }
}

impl Eq for Rewriter {}

/// A fault on the packets of one hop, one way.
#[derive(Clone, Debug)]
pub struct Tap {
    /// Where.
    pub(crate) hop: Hop,
    /// Which way.
    pub(crate) toward: Toward,
    /// Which packets.
    pub matching: Match,
    /// What happens to them.
    pub fault: Fault,
    /// How many more packets it acts on (`None`: no limit).
    pub remaining: Option<usize>,
    /// Packets of this hop and way seen since the tap was placed, and frames of the
    /// matched type among them.
    seen: usize,
    seen_of_type: usize,
}

impl Tap {
    /// A tap that acts once.
    pub fn once(hop: Hop, toward: Toward, matching: Match, fault: Fault) -> Tap {
        Tap { hop, toward, matching, fault, remaining: Some(1), seen: 0, seen_of_type: 0 }
    }

    /// A tap that acts on every matching packet.
    pub fn always(hop: Hop, toward: Toward, matching: Match, fault: Fault) -> Tap {
        Tap { hop, toward, matching, fault, remaining: None, seen: 0, seen_of_type: 0 }
    }

    /// Whether the tap acts on `packet`, counting it.
    fn takes(&mut self, packet: &Packet) -> bool {
        if self.remaining == Some(0) {
            return false;
        }
        let kind = match packet {
            Packet::Bytes(bytes) => frame_type(bytes),
            Packet::End => None,
        };
        let index = self.seen;
        self.seen += 1;
        let hit = match self.matching {
            Match::Any => true,
            Match::Nth(n) => index == n,
            Match::Type(t) => kind == Some(t),
            Match::NthOfType(t, n) => {
                let hit = kind == Some(t) && self.seen_of_type == n;
                if kind == Some(t) {
                    self.seen_of_type += 1;
                }
                hit
            }
        };
        if hit && let Some(left) = &mut self.remaining {
            *left -= 1;
        }
        hit
    }
}

/// The type of the frame `bytes` starts with, if its header is whole and valid (a frame
/// cut short by a fault still has its header).
pub fn frame_type(bytes: &[u8]) -> Option<FrameType> {
    let header = bytes.first_chunk::<{ ped_wire::frame::HEADER_LEN }>()?;
    ped_wire::frame::FrameHeader::decode(header).ok().map(|h| h.frame_type)
}

/// A packet in flight.
#[derive(Clone, Debug)]
pub(crate) struct InFlight {
    pub(crate) at: Duration,
    /// Send order, to keep packets due at the same time in order.
    pub(crate) seq: u64,
    pub(crate) hop: Hop,
    pub(crate) toward: Toward,
    /// Which connection of the hop (a relay hop can carry several).
    pub(crate) conn: u64,
    pub(crate) packet: Packet,
}

/// Every packet in flight on every hop, and the taps.
#[derive(Debug, Default)]
pub(crate) struct Wires {
    flying: Vec<InFlight>,
    held: Vec<InFlight>,
    taps: Vec<Tap>,
    seq: u64,
}

impl Wires {
    pub(crate) fn tap(&mut self, tap: Tap) {
        self.taps.push(tap);
    }

    /// Sends `packet` at `now`, through the taps.
    pub(crate) fn send(&mut self, now: Duration, hop: Hop, toward: Toward, conn: u64, packet: Packet) {
        let mut fault = None;
        for tap in self.taps.iter_mut().filter(|t| t.hop == hop && t.toward == toward) {
            if tap.takes(&packet) && fault.is_none() {
                fault = Some(tap.fault);
            }
        }
        let put = |wires: &mut Wires, at: Duration, packet: Packet| {
            wires.seq += 1;
            wires.flying.push(InFlight { at, seq: wires.seq, hop, toward, conn, packet });
        };
        // A packet held back by Reorder goes right after this one.
        let held: Vec<InFlight> = {
            let (mine, rest) = std::mem::take(&mut self.held)
                .into_iter()
                .partition(|h| h.hop == hop && h.toward == toward && h.conn == conn);
            self.held = rest;
            mine
        };
        match (fault, packet) {
            (None, packet) => put(self, now, packet),
            (Some(Fault::Drop), _) => {}
            (Some(Fault::Cut), _) => {
                put(self, now, Packet::End);
                let back = match toward {
                    Toward::Ped => Toward::Hsm,
                    Toward::Hsm => Toward::Ped,
                };
                self.seq += 1;
                self.flying.push(InFlight { at: now, seq: self.seq, hop, toward: back, conn, packet: Packet::End });
            }
            (Some(Fault::Delay(d)), packet) => put(self, now + d, packet),
            (Some(Fault::Truncate(n)), Packet::Bytes(mut bytes)) => {
                bytes.truncate(n);
                put(self, now, Packet::Bytes(bytes));
            }
            (Some(Fault::Corrupt(offset)), Packet::Bytes(mut bytes)) => {
                if let Some(last) = bytes.len().checked_sub(1) {
                    bytes[offset.min(last)] ^= 0x5a;
                }
                put(self, now, Packet::Bytes(bytes));
            }
            (Some(Fault::Replay), packet) => {
                put(self, now, packet.clone());
                put(self, now, packet);
            }
            (Some(Fault::Reorder), packet) => {
                self.seq += 1;
                self.held.push(InFlight { at: now, seq: self.seq, hop, toward, conn, packet });
            }
            (Some(Fault::HalfClose), packet) => {
                put(self, now, packet);
                put(self, now, Packet::End);
            }
            (Some(Fault::Rewrite(Rewriter(rewrite))), Packet::Bytes(bytes)) => {
                put(self, now, Packet::Bytes(rewrite(&bytes)));
            }
            (Some(_), Packet::End) => put(self, now, Packet::End),
        }
        for mut h in held {
            h.at = now;
            put(self, h.at, h.packet);
        }
    }

    /// The next packet due at or before `now`, taken off the wire.
    pub(crate) fn take_due(&mut self, now: Duration) -> Option<InFlight> {
        let i = self
            .flying
            .iter()
            .enumerate()
            .filter(|(_, p)| p.at <= now)
            .min_by_key(|(_, p)| (p.at, p.seq))
            .map(|(i, _)| i)?;
        Some(self.flying.remove(i))
    }

    /// When the next packet is due.
    pub(crate) fn next_due(&self) -> Option<Duration> {
        self.flying.iter().map(|p| p.at).min()
    }

    /// Lets the taps go: nothing more is changed.
    pub(crate) fn clear_taps(&mut self) {
        self.taps.clear();
    }
}
