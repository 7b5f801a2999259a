//! The QUIC side of the client: one bidirectional stream of length-prefixed
//! postcard frames for everything reliable, datagrams for the rest.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use quinn::{Connection, Endpoint, ReadExactError, RecvStream, SendDatagramError, SendStream};
use stadium_shared::frame::{self, HEADER_LEN};
use stadium_shared::{MAX_FRAME_LEN, QUIC_ALPN};
use tokio::sync::{Mutex, mpsc};
use tokio::task::AbortHandle;

use super::cert::{CertHash, PinnedCertVerifier};
use super::{ByteCounters, ClientError, ConnectError, Incoming, RECEIVE_QUEUE, Readers};

/// The port a `quic://` URL without one means: the server's default.
const DEFAULT_PORT: u16 = 4433;
/// Keep-alives stop NAT bindings and the idle timer from ending a quiet
/// session (a trivia player may send nothing for a whole question).
const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// A server silent for this long is taken for gone.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Datagrams buffered before quinn drops the oldest.
const DATAGRAM_RECEIVE_BUFFER: usize = 256 * 1024;
/// Flow-control limits: a few frames of the largest size in flight.
const STREAM_RECEIVE_WINDOW: u32 = 1024 * 1024;
const CONNECTION_RECEIVE_WINDOW: u32 = 2 * 1024 * 1024;
/// How long a closing client waits for its last data to be acknowledged,
/// and again for the close to be sent.
const CLOSE_LINGER: Duration = Duration::from_millis(500);

/// The parts of a `quic://HOST[:PORT][/]` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuicUrl {
    /// The host as written in the URL: IPv6 addresses keep their brackets,
    /// so that `http://{host}:{port}` is a valid URL.
    pub host: String,
    /// The UDP port.
    pub port: u16,
}

impl QuicUrl {
    /// Parses a `quic://` URL. A path, if any, is ignored.
    pub fn parse(url: &str) -> Result<Self, ConnectError> {
        let bad = |reason| ConnectError::url(url, reason);
        let rest = url
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("quic://"))
            .map(|_| &url[7..])
            .ok_or_else(|| bad("expected quic://HOST:PORT"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) = if let Some(after_bracket) = authority.strip_prefix('[') {
            let (address, tail) = after_bracket
                .split_once(']')
                .ok_or_else(|| bad("unclosed ["))?;
            (format!("[{address}]"), tail.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host.to_owned(), Some(port)),
                None => (authority.to_owned(), None),
            }
        };
        if host.is_empty() || host == "[]" {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(port) => port
                .parse()
                .map_err(|_| bad("the port is not a number up to 65535"))?,
            None => DEFAULT_PORT,
        };
        Ok(QuicUrl { host, port })
    }

    /// The host without IPv6 brackets, for resolving and as TLS server name.
    pub fn bare_host(&self) -> &str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }
}

/// QUIC endpoints (UDP sockets) shared by many connections to one server,
/// with the server's certificate pin, so that ten thousand bots need
/// neither ten thousand sockets nor as many endpoint tasks. Connections are
/// dealt to the endpoints in turn.
#[derive(Clone, Debug)]
pub struct QuicEndpoints {
    endpoints: Arc<[Endpoint]>,
    next: Arc<AtomicUsize>,
}

impl QuicEndpoints {
    /// Opens `count` (at least one) endpoints on unspecified local
    /// addresses of the family `ipv6` says, trusting only `pin`. Must be
    /// called inside a Tokio runtime.
    pub fn open(count: usize, ipv6: bool, pin: CertHash) -> Result<Self, ConnectError> {
        let local = local_address(ipv6);
        let config = client_config(pin)?;
        let endpoints = (0..count.max(1))
            .map(|_| {
                let mut endpoint = Endpoint::client(local).map_err(ConnectError::Socket)?;
                endpoint.set_default_client_config(config.clone());
                Ok(endpoint)
            })
            .collect::<Result<Arc<[Endpoint]>, ConnectError>>()?;
        Ok(Self {
            endpoints,
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Opens `count` endpoints for connections to `target`, in the address
    /// family its host resolves to.
    pub async fn for_server(
        target: &QuicUrl,
        count: usize,
        pin: CertHash,
    ) -> Result<Self, ConnectError> {
        let address = resolve(target).await?;
        Self::open(count, address.is_ipv6(), pin)
    }

    fn take(&self) -> Endpoint {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.endpoints.len();
        self.endpoints[index].clone()
    }
}

fn local_address(ipv6: bool) -> SocketAddr {
    if ipv6 {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    }
}

/// A connection's sending side.
pub(super) struct QuicLink {
    /// The UDP socket; kept so that closing can wait for it to drain.
    endpoint: Endpoint,
    /// Whether the endpoint is this connection's alone. A shared one is
    /// not waited on when closing: other connections keep it busy.
    own_endpoint: bool,
    connection: Connection,
    /// The session's stream. Locked per frame so frames never interleave.
    stream: Mutex<SendStream>,
}

/// Connects, opens the session's stream and starts the reader tasks.
pub(super) async fn connect(
    target: &QuicUrl,
    pin: CertHash,
    counters: &Arc<ByteCounters>,
) -> Result<(QuicLink, mpsc::Receiver<Incoming>, Readers), ConnectError> {
    let address = resolve(target).await?;
    let endpoint =
        Endpoint::client(local_address(address.is_ipv6())).map_err(ConnectError::Socket)?;
    let connection = endpoint
        .connect_with(client_config(pin)?, address, target.bare_host())?
        .await?;
    Ok(start(endpoint, true, connection, counters).await?)
}

/// Connects through one of `endpoints`, with their pin.
pub(super) async fn connect_via(
    target: &QuicUrl,
    endpoints: &QuicEndpoints,
    counters: &Arc<ByteCounters>,
) -> Result<(QuicLink, mpsc::Receiver<Incoming>, Readers), ConnectError> {
    let address = resolve(target).await?;
    let endpoint = endpoints.take();
    let connection = endpoint.connect(address, target.bare_host())?.await?;
    Ok(start(endpoint, false, connection, counters).await?)
}

/// Opens the session's stream and starts the reader tasks.
async fn start(
    endpoint: Endpoint,
    own_endpoint: bool,
    connection: Connection,
    counters: &Arc<ByteCounters>,
) -> Result<(QuicLink, mpsc::Receiver<Incoming>, Readers), quinn::ConnectionError> {
    let address = connection.remote_address();
    let (send, recv) = connection.open_bi().await?;
    tracing::debug!(%address, "QUIC connected");

    let (tx, rx) = mpsc::channel(RECEIVE_QUEUE);
    let datagrams = tokio::spawn(read_datagrams(
        connection.clone(),
        tx.clone(),
        counters.clone(),
    ));
    let datagrams = datagrams.abort_handle();
    let stream = tokio::spawn(read_stream(recv, tx, counters.clone(), datagrams.clone()));
    let readers = Readers(vec![stream.abort_handle(), datagrams]);
    let link = QuicLink {
        endpoint,
        own_endpoint,
        connection,
        stream: Mutex::new(send),
    };
    Ok((link, rx, readers))
}

async fn resolve(target: &QuicUrl) -> Result<SocketAddr, ConnectError> {
    let host = target.bare_host();
    let resolve_error = |source| ConnectError::Resolve {
        host: host.to_owned(),
        source,
    };
    let mut addresses = tokio::net::lookup_host((host, target.port))
        .await
        .map_err(resolve_error)?;
    addresses.next().ok_or_else(|| {
        resolve_error(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no address",
        ))
    })
}

/// TLS 1.3 with ring only, trusting the pinned certificate alone.
fn client_config(pin: CertHash) -> Result<quinn::ClientConfig, ConnectError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedCertVerifier::new(pin, provider.clone()));
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    tls.alpn_protocols = vec![QUIC_ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)?;

    let mut transport = quinn::TransportConfig::default();
    transport
        .keep_alive_interval(Some(KEEP_ALIVE))
        .max_idle_timeout(Some(
            IDLE_TIMEOUT
                .try_into()
                .expect("30 s is a valid idle timeout"),
        ))
        .datagram_receive_buffer_size(Some(DATAGRAM_RECEIVE_BUFFER))
        .stream_receive_window(STREAM_RECEIVE_WINDOW.into())
        .receive_window(CONNECTION_RECEIVE_WINDOW.into())
        // The server never opens streams towards a client.
        .max_concurrent_bidi_streams(0u32.into())
        .max_concurrent_uni_streams(0u32.into());
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

impl QuicLink {
    /// Writes one frame: the length header, then the payload.
    pub(super) async fn send_frame(
        &self,
        payload: &[u8],
        counters: &ByteCounters,
    ) -> Result<(), ClientError> {
        self.write_stream(&frame::encode_frame(payload), counters)
            .await
    }

    /// Writes bytes to the stream as they are.
    pub(super) async fn write_stream(
        &self,
        bytes: &[u8],
        counters: &ByteCounters,
    ) -> Result<(), ClientError> {
        let mut stream = self.stream.lock().await;
        stream.write_all(bytes).await.map_err(|err| {
            tracing::debug!(%err, "QUIC stream write failed");
            ClientError::Closed
        })?;
        counters.add_sent(bytes.len());
        Ok(())
    }

    /// Sends a datagram, or a frame on the stream when no datagram can
    /// carry it.
    pub(super) async fn send_unreliable(
        &self,
        payload: Bytes,
        counters: &ByteCounters,
    ) -> Result<(), ClientError> {
        let fits = self
            .connection
            .max_datagram_size()
            .is_some_and(|max| payload.len() <= max);
        if fits {
            match self.connection.send_datagram(payload.clone()) {
                Ok(()) => {
                    counters.add_sent(payload.len());
                    return Ok(());
                }
                Err(SendDatagramError::ConnectionLost(_)) => return Err(ClientError::Closed),
                // The path MTU shrank or datagrams went away: use the stream.
                Err(_) => {}
            }
        }
        self.send_frame(&payload, counters).await
    }

    /// Sends a datagram as it is, failing rather than falling back.
    pub(super) fn send_datagram(
        &self,
        payload: Bytes,
        counters: &ByteCounters,
    ) -> Result<(), ClientError> {
        let len = payload.len();
        match self.connection.send_datagram(payload) {
            Ok(()) => {
                counters.add_sent(len);
                Ok(())
            }
            Err(SendDatagramError::ConnectionLost(_)) => Err(ClientError::Closed),
            Err(SendDatagramError::TooLarge) => {
                let max = self.connection.max_datagram_size().unwrap_or(0);
                Err(frame::FrameTooLarge { len, max }.into())
            }
            Err(SendDatagramError::UnsupportedByPeer | SendDatagramError::Disabled) => {
                Err(ClientError::Unsupported("datagrams"))
            }
        }
    }

    /// Finishes the stream, waits briefly for the server to acknowledge it,
    /// then closes the connection and waits briefly for that to be sent.
    pub(super) async fn close(&self) {
        {
            let mut stream = self.stream.lock().await;
            if stream.finish().is_ok() {
                let _ = tokio::time::timeout(CLOSE_LINGER, stream.stopped()).await;
            }
        }
        self.connection.close(0u32.into(), b"client closed");
        if self.own_endpoint {
            let _ = tokio::time::timeout(CLOSE_LINGER, self.endpoint.wait_idle()).await;
        }
    }
}

/// Reads frames off the stream until it or the connection ends, then stops
/// the datagram reader too so that the receiver sees the end.
async fn read_stream(
    mut recv: RecvStream,
    tx: mpsc::Sender<Incoming>,
    counters: Arc<ByteCounters>,
    datagrams: AbortHandle,
) {
    loop {
        let mut header = [0u8; HEADER_LEN];
        if let Err(err) = recv.read_exact(&mut header).await {
            log_end(&err);
            break;
        }
        let len = match frame::payload_len(header, MAX_FRAME_LEN) {
            Ok(len) => len,
            Err(err) => {
                tracing::warn!(%err, "server sent an oversized frame; closing");
                let _ = tx.send(Err(err.into())).await;
                break;
            }
        };
        let mut payload = vec![0; len];
        if let Err(err) = recv.read_exact(&mut payload).await {
            log_end(&err);
            break;
        }
        counters.add_received(HEADER_LEN + len);
        if tx.send(Ok(payload.into())).await.is_err() {
            break;
        }
    }
    datagrams.abort();
}

fn log_end(err: &ReadExactError) {
    match err {
        ReadExactError::FinishedEarly(0) => tracing::debug!("server finished the stream"),
        ReadExactError::FinishedEarly(read) => {
            tracing::debug!(read, "server finished the stream inside a frame");
        }
        ReadExactError::ReadError(err) => tracing::debug!(%err, "QUIC stream ended"),
    }
}

/// Hands every datagram to the receiver, dropping datagrams rather than
/// waiting when the receiver is behind: they are unreliable by contract.
async fn read_datagrams(
    connection: Connection,
    tx: mpsc::Sender<Incoming>,
    counters: Arc<ByteCounters>,
) {
    while let Ok(datagram) = connection.read_datagram().await {
        counters.add_received(datagram.len());
        match tx.try_send(Ok(datagram)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => tracing::trace!("datagram dropped"),
            Err(mpsc::error::TrySendError::Closed(_)) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Option<(String, u16)> {
        QuicUrl::parse(url).ok().map(|u| (u.host, u.port))
    }

    #[test]
    fn quic_urls_give_host_and_port() {
        assert_eq!(
            parse("quic://127.0.0.1:14433"),
            Some(("127.0.0.1".into(), 14433))
        );
        assert_eq!(
            parse("QUIC://localhost:4433/"),
            Some(("localhost".into(), 4433))
        );
        assert_eq!(parse("quic://[::1]:4433"), Some(("[::1]".into(), 4433)));
        assert_eq!(
            parse("quic://example.com"),
            Some(("example.com".into(), DEFAULT_PORT))
        );
        assert_eq!(QuicUrl::parse("quic://[::1]:1").unwrap().bare_host(), "::1");
    }

    #[test]
    fn malformed_quic_urls_are_refused() {
        for url in [
            "quic://",
            "quic://:4433",
            "quic://host:port",
            "quic://[::1",
            "ws://a:1",
        ] {
            assert!(QuicUrl::parse(url).is_err(), "{url}");
        }
    }
}
