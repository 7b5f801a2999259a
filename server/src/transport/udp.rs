//! The QUIC endpoint's UDP socket, wrapped to count what arrives that
//! cannot be QUIC for this server: random bytes, truncated or malformed
//! headers, packets for connections it never issued. quinn drops those
//! without a word; operators see them in `stadium_datagrams_dropped_total`
//! and [`ServerState::datagrams_dropped`](crate::session::ServerState).
//!
//! The checks are the ones that make quinn drop a datagram before any
//! connection sees it (RFC 9000 §5.2, §14.1, §17): a short header must
//! carry a connection id this server issued (ids are signed with a keyed
//! hash, the same generator the endpoint uses), a client's Initial must
//! come in a datagram of at least 1200 bytes, a Handshake packet must name
//! an issued id, and clients never send Retry or short unknown versions.

use std::fmt;
use std::io::{self, IoSliceMut};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use quinn::udp::RecvMeta;
use quinn::{AsyncUdpSocket, ConnectionId, ConnectionIdGenerator, UdpPoller};
use quinn_proto::HashedConnectionIdGenerator;

/// Bytes of the connection ids the endpoint issues.
const CID_LEN: usize = 8;

/// The smallest datagram that may carry a client's Initial packet.
const MIN_INITIAL_DATAGRAM: usize = 1200;

/// Connection ids this endpoint issues and recognises.
#[derive(Clone, Copy)]
pub struct CidKey(u64);

impl CidKey {
    /// A new random key.
    pub fn random() -> Self {
        Self(rand::random())
    }

    /// A generator for the endpoint configuration.
    pub fn generator(self) -> Box<dyn ConnectionIdGenerator> {
        Box::new(HashedConnectionIdGenerator::from_key(self.0))
    }

    fn issued(self, cid: &[u8]) -> bool {
        cid.len() == CID_LEN
            && HashedConnectionIdGenerator::from_key(self.0)
                .validate(&ConnectionId::new(cid))
                .is_ok()
    }
}

/// Whether `datagram` cannot be a QUIC packet for this server.
pub fn cannot_be_quic(datagram: &[u8], key: CidKey) -> bool {
    let Some(&first) = datagram.first() else {
        return true;
    };
    if first & 0x80 == 0 {
        // Short header: the destination id follows the first byte.
        return !datagram
            .get(1..1 + CID_LEN)
            .is_some_and(|cid| key.issued(cid));
    }
    let Some(version) = datagram.get(1..5) else {
        return true;
    };
    if version != [0, 0, 0, 1] {
        // Version negotiation answers only datagrams of Initial size.
        return datagram.len() < MIN_INITIAL_DATAGRAM;
    }
    let dcid_len = usize::from(datagram.get(5).copied().unwrap_or(u8::MAX));
    let Some(dcid) = datagram.get(6..6 + dcid_len).filter(|_| dcid_len <= 20) else {
        return true;
    };
    match (first >> 4) & 0b11 {
        0 => datagram.len() < MIN_INITIAL_DATAGRAM,
        // 0-RTT names the id the client chose; nothing to check cheaply.
        1 => false,
        2 => !key.issued(dcid),
        _ => true,
    }
}

/// A UDP socket that counts datagrams that cannot be QUIC and passes
/// everything on to quinn, which drops them.
pub struct CountingSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    key: CidKey,
    dropped: Arc<AtomicU64>,
}

impl CountingSocket {
    /// Wraps `inner`; `dropped` counts what cannot be QUIC.
    pub fn new(inner: Arc<dyn AsyncUdpSocket>, key: CidKey, dropped: Arc<AtomicU64>) -> Self {
        Self {
            inner,
            key,
            dropped,
        }
    }
}

impl fmt::Debug for CountingSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingSocket")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl AsyncUdpSocket for CountingSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.inner.clone().create_io_poller()
    }

    fn try_send(&self, transmit: &quinn::udp::Transmit) -> io::Result<()> {
        self.inner.try_send(transmit)
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let received = self.inner.poll_recv(cx, bufs, meta);
        if let Poll::Ready(Ok(count)) = &received {
            let mut junk = 0;
            for (buf, meta) in bufs.iter().zip(meta.iter()).take(*count) {
                if meta.len == 0 {
                    junk += 1;
                }
                // One buffer may hold several datagrams (GRO), `stride` apart.
                for datagram in buf[..meta.len].chunks(meta.stride.max(1)) {
                    junk += u64::from(cannot_be_quic(datagram, self.key));
                }
            }
            if junk > 0 {
                self.dropped.fetch_add(junk, Ordering::Relaxed);
                crate::metrics::get().datagrams_dropped.increment(junk);
            }
        }
        received
    }

    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.inner.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.inner.max_transmit_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.inner.max_receive_segments()
    }

    fn may_fragment(&self) -> bool {
        self.inner.may_fragment()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_and_foreign_ids_cannot_be_quic() {
        let key = CidKey(42);
        let mut issued = HashedConnectionIdGenerator::from_key(42);
        let cid = issued.generate_cid();
        let mut short = vec![0x40];
        short.extend_from_slice(&cid);
        short.extend_from_slice(&[0; 20]);
        assert!(!cannot_be_quic(&short, key), "a packet for an issued id");
        short[1] ^= 1;
        assert!(cannot_be_quic(&short, key), "an id never issued");

        let mut initial = vec![0xc0, 0, 0, 0, 1, 8];
        initial.extend_from_slice(&[7; 8]);
        initial.resize(MIN_INITIAL_DATAGRAM, 0);
        assert!(!cannot_be_quic(&initial, key), "a full-size Initial");
        assert!(cannot_be_quic(&initial[..300], key), "a short Initial");
        assert!(cannot_be_quic(&[0xc0, 0xde, 0xad, 0xbe, 0xef, 0], key));
        assert!(cannot_be_quic(&[], key));
    }
}
