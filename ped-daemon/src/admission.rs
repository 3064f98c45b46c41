//! Which connections may wait for their hello (pedserver) or their TLS handshake
//! (pedclient's PED-initiated listener): a sans-IO policy that the daemon asks at each
//! accept. Only the newcomer's address and arrival are known then, so nothing can tell a
//! real peer from a connection that will never finish its opening; what does tell them
//! apart is that a real peer speaks at once. So a newcomer is always admitted, and when
//! the waiting room is full the connection that waited longest goes instead: connections
//! that stay silent (or dribble their bytes, or hold their places and reopen them) then
//! only ever evict each other, while a real peer's opening, arriving with its connection,
//! is read long before `max_pending` later arrivals push it out.
//!
//! The one taken is the oldest of the address that has the most connections waiting, so
//! a flood from one address (an IPv6 /64 counts as one) never evicts another address's
//! connection.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// An address as the policy counts it: IPv4 whole, IPv6 by its /64 (one host often holds
/// a whole /64, and could otherwise pose as thousands of addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Origin(u128);

impl From<IpAddr> for Origin {
    fn from(ip: IpAddr) -> Origin {
        match ip {
            IpAddr::V4(v4) => Origin(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Origin(u128::from(u32::from(v4))),
                None => Origin(u128::from(v6) >> 64 | 1 << 64),
            },
        }
    }
}

#[derive(Debug)]
struct Waiting<T> {
    id: u64,
    origin: Origin,
    since: Instant,
    handle: T,
}

/// A connection pushed out of the waiting room.
#[derive(Debug, PartialEq, Eq)]
pub struct Evicted<T> {
    /// The id it was admitted with.
    pub id: u64,
    /// How long it had waited for its hello.
    pub waited: Duration,
    /// What the caller keeps to close it.
    pub handle: T,
}

/// The connections accepted and not yet past their hello, in order of arrival; `T` is
/// what the caller needs to close one (the server keeps a channel to its task).
#[derive(Debug)]
pub struct Admission<T> {
    max_pending: usize,
    waiting: VecDeque<Waiting<T>>,
}

impl<T> Admission<T> {
    /// At most `max_pending` (at least 1) connections wait at once.
    pub fn new(max_pending: usize) -> Admission<T> {
        Admission { max_pending: max_pending.max(1), waiting: VecDeque::new() }
    }

    /// A connection from `ip` accepted at `now` with a fresh `id`: it waits for its hello,
    /// and the connection returned, if any, must be closed to make room.
    pub fn admit(&mut self, now: Instant, id: u64, ip: IpAddr, handle: T) -> Option<Evicted<T>> {
        let evicted = (self.waiting.len() >= self.max_pending)
            .then(|| self.greediest_oldest())
            .and_then(|at| self.waiting.remove(at))
            .map(|w| Evicted { id: w.id, waited: now.saturating_duration_since(w.since), handle: w.handle });
        self.waiting.push_back(Waiting { id, origin: Origin::from(ip), since: now, handle });
        evicted
    }

    /// The connection `id` said hello: it no longer waits, and its handle comes back.
    /// `None` if it was not waiting (evicted meanwhile, its task not yet told).
    pub fn said_hello(&mut self, id: u64) -> Option<T> {
        self.take(id)
    }

    /// The connection `id` closed before its hello (or after, harmlessly).
    pub fn closed(&mut self, id: u64) {
        self.take(id);
    }

    /// Connections waiting now.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    fn take(&mut self, id: u64) -> Option<T> {
        let at = self.waiting.iter().position(|w| w.id == id)?;
        self.waiting.remove(at).map(|w| w.handle)
    }

    /// The index of the oldest connection of the origin with the most waiting; among
    /// origins as greedy, the one whose oldest came first.
    fn greediest_oldest(&self) -> usize {
        let mut counts: HashMap<Origin, usize> = HashMap::new();
        for w in &self.waiting {
            *counts.entry(w.origin).or_default() += 1;
        }
        let most = counts.values().copied().max().unwrap_or(0);
        self.waiting.iter().position(|w| counts[&w.origin] == most).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn below_the_limit_everyone_waits_and_leaves_by_hello_or_close() {
        let t0 = Instant::now();
        let mut a = Admission::new(3);
        assert_eq!(a.admit(t0, 1, ip("10.0.0.1"), 'a'), None);
        assert_eq!(a.admit(t0, 2, ip("10.0.0.1"), 'b'), None);
        assert_eq!(a.said_hello(1), Some('a'));
        assert_eq!(a.said_hello(1), None);
        a.closed(2);
        assert!(a.is_empty());
    }

    #[test]
    fn a_full_room_evicts_the_oldest_so_the_newcomer_always_gets_in() {
        let t0 = Instant::now();
        let mut a = Admission::new(64);
        let attacker = ip("127.0.0.1");
        for id in 0..64 {
            assert_eq!(a.admit(t0 + ms(id), id, attacker, id), None);
        }
        // A real client on the same address (a tunnel) arrives; the attacker keeps
        // reopening its evicted slots: the client survives 63 more arrivals.
        assert_eq!(a.admit(t0 + ms(100), 1000, attacker, 1000), Some(Evicted { id: 0, waited: ms(100), handle: 0 }));
        for id in 64..127 {
            let evicted = a.admit(t0 + ms(100 + id), id, attacker, id).unwrap();
            assert_ne!(evicted.id, 1000);
        }
        assert_eq!(a.said_hello(1000), Some(1000));
        assert_eq!(a.len(), 63);
    }

    #[test]
    fn a_flood_from_one_address_never_evicts_another_address() {
        let t0 = Instant::now();
        let mut a = Admission::new(8);
        assert_eq!(a.admit(t0, 0, ip("192.0.2.7"), ()), None);
        for id in 1..1000 {
            let evicted = a.admit(t0 + ms(id), id, ip("198.51.100.1"), ());
            assert!(evicted.is_none_or(|e| e.id != 0), "{id}");
        }
        assert!(a.said_hello(0).is_some(), "the lone client still waits for its hello");
    }

    #[test]
    fn an_ipv6_flood_counts_as_one_address_per_64_prefix() {
        let t0 = Instant::now();
        let mut a = Admission::new(4);
        assert_eq!(a.admit(t0, 0, ip("2001:db8:1::1"), ()), None);
        // Every attacker connection from its own address of one /64.
        for id in 1..100u64 {
            let attacker = IpAddr::V6(format!("2001:db8:2::{id:x}").parse().unwrap());
            let evicted = a.admit(t0 + ms(id), id, attacker, ());
            assert!(evicted.is_none_or(|e| e.id != 0), "{id}");
        }
        assert!(a.said_hello(0).is_some());
        // An IPv4 client seen through an IPv6 socket is its IPv4 address.
        assert_eq!(Origin::from(ip("::ffff:192.0.2.7")), Origin::from(ip("192.0.2.7")));
        assert_ne!(Origin::from(ip("::c000:207")), Origin::from(ip("192.0.2.7")));
    }

    #[test]
    fn among_equally_greedy_addresses_the_oldest_connection_goes() {
        let t0 = Instant::now();
        let mut a = Admission::new(4);
        for (id, who) in [(0, "10.0.0.2"), (1, "10.0.0.2"), (2, "10.0.0.1"), (3, "10.0.0.1")] {
            assert_eq!(a.admit(t0 + ms(id), id, ip(who), ()), None);
        }
        assert_eq!(a.admit(t0 + ms(10), 4, ip("10.0.0.3"), ()).map(|e| e.id), Some(0));
        // Now 10.0.0.1 has the most: its oldest goes, though 10.0.0.2's is older.
        assert_eq!(a.admit(t0 + ms(11), 5, ip("10.0.0.3"), ()).map(|e| e.id), Some(2));
    }

    #[test]
    fn a_limit_of_zero_still_lets_the_newest_wait() {
        let t0 = Instant::now();
        let mut a = Admission::new(0);
        assert_eq!(a.admit(t0, 1, ip("10.0.0.1"), ()), None);
        assert_eq!(a.admit(t0, 2, ip("10.0.0.1"), ()).map(|e| e.id), Some(1));
        assert_eq!(a.len(), 1);
    }
}
