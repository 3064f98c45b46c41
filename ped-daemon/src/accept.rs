//! The daemons' listeners under a flood of connections: room in the kernel's queue, and
//! accepts paced so that the connections already accepted get read. What may wait, and
//! which connection makes room, is [`crate::admission`]'s.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Connections the kernel completes and queues before the daemon accepts them (capped by
/// `net.core.somaxconn`). tokio's default, 128, overflows under a flood of a few hundred
/// connections: the kernel then drops a real peer's SYN, and its connect waits out a 1 s
/// retransmission.
pub const BACKLOG: u32 = 4096;

/// Connections accepted before the accept loop lets the I/O driver and the connections'
/// tasks run: far fewer than a waiting room holds, so a real peer's opening is read
/// before a flood of later connections can push it out (tokio would otherwise accept a
/// whole burst first, its budget allowing 128).
pub const PER_TURN: usize = 16;

/// A listener on `at` with room for [`BACKLOG`] connections not yet accepted.
pub fn listen(at: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if at.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(at)?;
    socket.listen(BACKLOG)
}

/// Counts an accept loop's accepts and yields to the runtime after every [`PER_TURN`].
#[derive(Debug, Default)]
pub struct Pacer {
    in_turn: usize,
}

impl Pacer {
    /// One more connection accepted.
    pub async fn accepted(&mut self) {
        self.in_turn += 1;
        if self.in_turn == PER_TURN {
            self.in_turn = 0;
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_listener_queues_connections_beyond_tokios_default() {
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let at = listener.local_addr().unwrap();
        // Past 128 unaccepted connections, tokio's own bind would make the kernel drop
        // the SYN, and the connect would wait out a retransmission.
        let mut held = Vec::new();
        for _ in 0..300 {
            let connect = tokio::net::TcpStream::connect(at);
            held.push(tokio::time::timeout(std::time::Duration::from_millis(200), connect).await.unwrap().unwrap());
        }
        assert_eq!(held.len(), 300);
    }
}
