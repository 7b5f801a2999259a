//! A Stadium client over QUIC or WebSocket, the same to its user either way.
//!
//! [`Client::connect`] picks the transport from the URL (`quic://HOST:PORT`
//! or `ws://HOST:PORT/ws`), [`Client::hello`] greets the server, and
//! [`Client::split`] gives a cloneable [`ClientSender`] and a
//! [`ClientReceiver`]. A background task per connection reads the server's
//! messages (on QUIC both the stream and datagrams) into a bounded queue, so
//! [`ClientReceiver::recv`] is cancel-safe and a receiver that stops reading
//! pushes back on the server as a slow client would. Dropping the receiver
//! stops those tasks; dropping every half closes the connection.

pub mod cert;
mod peek;
mod quic;
mod ws;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use stadium_shared::codec::{self, Format};
use stadium_shared::frame::FrameTooLarge;
use stadium_shared::{
    ClientMsg, DecodeError, ErrorCode, MAX_FRAME_LEN, PROTOCOL_VERSION, ServerMsg, SessionId,
};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_tungstenite::tungstenite;

pub use cert::{CertHash, CertHashError, PinnedCertVerifier, fetch_cert_hash};
pub use peek::{SnapshotHeader, peek_snapshot};
pub use quic::{QuicEndpoints, QuicUrl};

/// Messages read but not yet taken by [`ClientReceiver::recv`]. When it is
/// full the reader stops reading, so the server sees a slow client.
const RECEIVE_QUEUE: usize = 1024;

/// How a client reaches the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// QUIC: a reliable stream plus datagrams, postcard only.
    Quic,
    /// WebSocket: one message per protocol message, postcard or JSON.
    WebSocket,
}

impl Transport {
    /// The transport a URL names by its scheme.
    pub fn of_url(url: &str) -> Result<Self, ConnectError> {
        let scheme = url
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("quic") => Ok(Transport::Quic),
            Some("ws") => Ok(Transport::WebSocket),
            Some("wss") => Err(ConnectError::url(url, "wss:// is not supported; use ws://")),
            _ => Err(ConnectError::url(
                url,
                "expected quic://HOST:PORT or ws://HOST:PORT/ws",
            )),
        }
    }

    /// The name used in reports: `quic` or `websocket`.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Quic => "quic",
            Transport::WebSocket => "websocket",
        }
    }
}

/// What [`Client::connect`] needs besides the URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    /// QUIC: the server certificate's SHA-256 in hex. When absent it is
    /// fetched from the server's HTTP port.
    pub cert_sha256: Option<String>,
    /// QUIC: the server's HTTP port, for fetching the certificate hash.
    pub http_port: u16,
    /// WebSocket: speak JSON text (the `stadium.json` subprotocol) instead
    /// of binary postcard. Ignored on QUIC.
    pub json: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            cert_sha256: None,
            http_port: 8080,
            json: false,
        }
    }
}

/// Bytes of protocol messages sent and received on one connection,
/// including the QUIC stream's length prefixes but not the transports' own
/// overhead (QUIC packets and acknowledgements, TCP and WebSocket headers).
#[derive(Debug, Default)]
pub struct ByteCounters {
    sent: AtomicU64,
    received: AtomicU64,
}

impl ByteCounters {
    /// Bytes written so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Bytes read so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    fn add_sent(&self, bytes: usize) {
        self.sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    fn add_received(&self, bytes: usize) {
        self.received.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// Why a connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is not one the client can use.
    #[error("unusable URL {url:?}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The host name did not resolve.
    #[error("resolving {host}")]
    Resolve {
        /// The host.
        host: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// The certificate hash was malformed or could not be fetched.
    #[error(transparent)]
    CertHash(#[from] CertHashError),
    /// No local UDP socket could be opened.
    #[error("opening a UDP socket")]
    Socket(#[source] std::io::Error),
    /// The TLS configuration was refused (a bug rather than a peer problem).
    #[error("building the TLS configuration")]
    Tls(#[from] rustls::Error),
    /// The TLS configuration offers no cipher suite QUIC can start with.
    #[error("building the QUIC TLS configuration")]
    QuicCrypto(#[from] quinn::crypto::rustls::NoInitialCipherSuite),
    /// quinn refused to start the connection.
    #[error("starting the QUIC connection")]
    QuicConnect(#[from] quinn::ConnectError),
    /// The QUIC handshake failed or the connection died before the stream
    /// was open.
    #[error("QUIC connection failed")]
    QuicConnection(#[from] quinn::ConnectionError),
    /// The TCP connection or the WebSocket handshake failed.
    #[error("WebSocket connection failed")]
    WebSocket(#[source] Box<tungstenite::Error>),
}

impl ConnectError {
    fn url(url: &str, reason: &'static str) -> Self {
        ConnectError::Url {
            url: url.to_owned(),
            reason,
        }
    }
}

/// Why sending or receiving failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The connection has ended; nothing more will arrive or leave.
    #[error("connection closed")]
    Closed,
    /// The server answered the hello with an error.
    #[error("server refused the hello: {code}: {message}")]
    Refused {
        /// The error's code.
        code: ErrorCode,
        /// The server's detail.
        message: String,
    },
    /// The server answered the hello with something other than a welcome.
    #[error("unexpected reply to hello: {0:?}")]
    UnexpectedReply(Box<ServerMsg>),
    /// The server sent bytes that are not a message. The connection goes on.
    #[error("undecodable message from the server")]
    Decode(#[from] DecodeError),
    /// A frame over [`MAX_FRAME_LEN`]: sent by the server (the connection
    /// cannot go on and closes) or about to be sent (nothing was sent).
    #[error(transparent)]
    TooLarge(#[from] FrameTooLarge),
    /// The operation does not exist on this transport.
    #[error("{0} is not available on this transport")]
    Unsupported(&'static str),
    /// The WebSocket failed for a reason other than being closed.
    #[error("WebSocket failed")]
    WebSocket(#[source] Box<tungstenite::Error>),
}

/// What a welcome gives a client: who it is and how to come back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Welcome {
    /// The session's id.
    pub session: SessionId,
    /// The secret that resumes it (see [`Client::resume`]); never share it.
    pub resume_token: String,
}

/// What a reader task hands the receiver: one message's bytes, decoded
/// only when the receiver asks for it.
type Incoming = Result<Bytes, ClientError>;

/// A connected client, before or after its hello.
pub struct Client {
    sender: ClientSender,
    receiver: ClientReceiver,
}

impl Client {
    /// Connects to `quic://HOST:PORT` or `ws://HOST:PORT/PATH`. On QUIC
    /// this opens the session's stream, which the server only learns of
    /// once something is written: send the hello next.
    pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Client, ConnectError> {
        Self::connect_via(url, options, None).await
    }

    /// Like [`connect`](Self::connect), but a QUIC connection goes out
    /// through one of `endpoints` (whose certificate pin it uses) instead
    /// of a UDP socket of its own. Ignored for WebSocket.
    pub async fn connect_via(
        url: &str,
        options: &ConnectOptions,
        endpoints: Option<&QuicEndpoints>,
    ) -> Result<Client, ConnectError> {
        let counters = Arc::new(ByteCounters::default());
        let (link, format, rx, readers) = match Transport::of_url(url)? {
            Transport::Quic => {
                let target = QuicUrl::parse(url)?;
                let (link, rx, readers) = match endpoints {
                    Some(endpoints) => quic::connect_via(&target, endpoints, &counters).await?,
                    None => {
                        let pin = match &options.cert_sha256 {
                            Some(hex) => CertHash::parse(hex)?,
                            None => fetch_cert_hash(&target.host, options.http_port).await?,
                        };
                        quic::connect(&target, pin, &counters).await?
                    }
                };
                (Link::Quic(Arc::new(link)), Format::Postcard, rx, readers)
            }
            Transport::WebSocket => {
                let format = if options.json {
                    Format::Json
                } else {
                    Format::Postcard
                };
                let (link, rx, readers) = ws::connect(url, format, &counters).await?;
                (Link::Ws(Arc::new(link)), format, rx, readers)
            }
        };
        let sender = ClientSender {
            link,
            format,
            counters: counters.clone(),
        };
        let receiver = ClientReceiver {
            rx,
            format,
            counters,
            _readers: readers,
        };
        Ok(Client { sender, receiver })
    }

    /// Sends the hello and waits for the welcome, returning the session id.
    /// An error reply becomes [`ClientError::Refused`].
    pub async fn hello(&mut self, nickname: &str) -> Result<SessionId, ClientError> {
        self.greet(nickname).await.map(|welcome| welcome.session)
    }

    /// Like [`hello`](Self::hello), also returning the resume token.
    pub async fn greet(&mut self, nickname: &str) -> Result<Welcome, ClientError> {
        let hello = ClientMsg::Hello {
            version: PROTOCOL_VERSION,
            nickname: nickname.to_owned(),
        };
        self.sender.send(&hello).await?;
        match self.receiver.recv().await? {
            ServerMsg::Welcome {
                session,
                resume_token,
                ..
            } => Ok(Welcome {
                session,
                resume_token,
            }),
            ServerMsg::Error { code, message } => Err(ClientError::Refused { code, message }),
            other => Err(ClientError::UnexpectedReply(Box::new(other))),
        }
    }

    /// On a new connection: greets the server, then takes back the session
    /// `welcome` describes, naming the newest room event received. Returns
    /// the [`ServerMsg::Resumed`] reply; the missed events follow it. A
    /// refusal becomes [`ClientError::Refused`].
    pub async fn resume(
        &mut self,
        nickname: &str,
        welcome: &Welcome,
        last_event_seq: u64,
    ) -> Result<ServerMsg, ClientError> {
        self.greet(nickname).await?;
        let resume = ClientMsg::Resume {
            session: welcome.session,
            token: welcome.resume_token.clone(),
            last_event_seq,
        };
        self.sender.send(&resume).await?;
        loop {
            match self.receiver.recv().await? {
                msg @ ServerMsg::Resumed { .. } => return Ok(msg),
                ServerMsg::Error { code, message } if code != ErrorCode::ReplayRange => {
                    return Err(ClientError::Refused { code, message });
                }
                // Lobby news sent between the welcome and the resume.
                _ => {}
            }
        }
    }

    /// Stops using the connection without closing it, as when a network
    /// path dies: nothing more is sent, what arrives is discarded, and the
    /// server learns of it only when a resume replaces the connection or
    /// the server closes it. Dropped after `linger` at the latest.
    pub fn abandon(self, linger: std::time::Duration) {
        abandon(self.sender, self.receiver, linger);
    }

    /// Sends a message reliably; see [`ClientSender::send`].
    pub async fn send(&self, msg: &ClientMsg) -> Result<(), ClientError> {
        self.sender.send(msg).await
    }

    /// The next message; see [`ClientReceiver::recv`].
    pub async fn recv(&mut self) -> Result<ServerMsg, ClientError> {
        self.receiver.recv().await
    }

    /// The first message `wanted` accepts; see [`ClientReceiver::recv_until`].
    pub async fn recv_until(
        &mut self,
        wanted: impl FnMut(&ServerMsg) -> bool,
    ) -> Result<ServerMsg, ClientError> {
        self.receiver.recv_until(wanted).await
    }

    /// The sending half, for the raw and unreliable sends.
    pub fn sender(&self) -> &ClientSender {
        &self.sender
    }

    /// The connection's transport.
    pub fn transport(&self) -> Transport {
        self.sender.transport()
    }

    /// The connection's byte counters.
    pub fn counters(&self) -> &Arc<ByteCounters> {
        &self.sender.counters
    }

    /// Separates the halves, so that one task can send while another waits.
    pub fn split(self) -> (ClientSender, ClientReceiver) {
        (self.sender, self.receiver)
    }
}

/// The sending half of a connection. Clones share the connection.
///
/// Sends are not cancel-safe: a send dropped midway may leave part of a
/// frame written, which the server then reads as garbage.
#[derive(Clone)]
pub struct ClientSender {
    link: Link,
    format: Format,
    counters: Arc<ByteCounters>,
}

#[derive(Clone)]
enum Link {
    Quic(Arc<quic::QuicLink>),
    Ws(Arc<ws::WsLink>),
}

impl ClientSender {
    /// Sends a message in order with every other reliable message: on the
    /// QUIC stream, or as one WebSocket message.
    pub async fn send(&self, msg: &ClientMsg) -> Result<(), ClientError> {
        let payload = self.encode(msg)?;
        self.send_raw_reliable(&payload).await
    }

    /// Sends a message that may be lost: a QUIC datagram, or on the stream
    /// when it does not fit one or the server takes no datagrams. On
    /// WebSocket, the same as [`send`](Self::send).
    pub async fn send_unreliable(&self, msg: &ClientMsg) -> Result<(), ClientError> {
        let payload = self.encode(msg)?;
        match &self.link {
            Link::Quic(link) => link.send_unreliable(payload.into(), &self.counters).await,
            Link::Ws(link) => link.send(&payload, self.format, &self.counters).await,
        }
    }

    /// Sends messages that may be lost, as [`send_unreliable`]
    /// (Self::send_unreliable) does one by one, but on WebSocket in one
    /// write. Stops at the first error.
    pub async fn send_unreliable_all(&self, msgs: &[ClientMsg]) -> Result<(), ClientError> {
        match &self.link {
            Link::Quic(_) => {
                for msg in msgs {
                    self.send_unreliable(msg).await?;
                }
                Ok(())
            }
            Link::Ws(link) => {
                let payloads = msgs
                    .iter()
                    .map(|msg| self.encode(msg))
                    .collect::<Result<Vec<_>, _>>()?;
                link.send_all(&payloads, self.format, &self.counters).await
            }
        }
    }

    /// Sends bytes as one message without encoding or checking them: one
    /// QUIC frame with a correct length header, or one WebSocket message
    /// (text on a JSON connection when the bytes are UTF-8, else binary).
    pub async fn send_raw_reliable(&self, payload: &[u8]) -> Result<(), ClientError> {
        match &self.link {
            Link::Quic(link) => link.send_frame(payload, &self.counters).await,
            Link::Ws(link) => link.send(payload, self.format, &self.counters).await,
        }
    }

    /// QUIC only: writes bytes to the stream exactly as given, with no
    /// length header added, to send malformed or oversized headers.
    pub async fn write_raw_stream(&self, bytes: &[u8]) -> Result<(), ClientError> {
        match &self.link {
            Link::Quic(link) => link.write_stream(bytes, &self.counters).await,
            Link::Ws(_) => Err(ClientError::Unsupported("writing raw stream bytes")),
        }
    }

    /// QUIC only: sends bytes as one datagram exactly as given.
    pub async fn send_raw_datagram(&self, payload: &[u8]) -> Result<(), ClientError> {
        match &self.link {
            Link::Quic(link) => link.send_datagram(payload.to_vec().into(), &self.counters),
            Link::Ws(_) => Err(ClientError::Unsupported("datagrams")),
        }
    }

    /// Closes the connection politely: what was sent is delivered first
    /// (for at most about a second), then the server is told.
    pub async fn close(&self) {
        match &self.link {
            Link::Quic(link) => link.close().await,
            Link::Ws(link) => link.close().await,
        }
    }

    /// The connection's transport.
    pub fn transport(&self) -> Transport {
        match self.link {
            Link::Quic(_) => Transport::Quic,
            Link::Ws(_) => Transport::WebSocket,
        }
    }

    /// How messages are encoded on this connection.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The connection's byte counters, shared with the receiver.
    pub fn counters(&self) -> &Arc<ByteCounters> {
        &self.counters
    }

    fn encode(&self, msg: &ClientMsg) -> Result<Vec<u8>, ClientError> {
        let payload = codec::encode(msg, self.format);
        if payload.len() > MAX_FRAME_LEN {
            return Err(FrameTooLarge {
                len: payload.len(),
                max: MAX_FRAME_LEN,
            }
            .into());
        }
        Ok(payload)
    }
}

/// The receiving half of a connection.
pub struct ClientReceiver {
    rx: mpsc::Receiver<Incoming>,
    format: Format,
    counters: Arc<ByteCounters>,
    _readers: Readers,
}

impl ClientReceiver {
    /// The next message from the server, from the stream or a datagram.
    /// [`ClientError::Closed`] once the connection has ended, and from then
    /// on. Cancel-safe: nothing is lost if the future is dropped.
    pub async fn recv(&mut self) -> Result<ServerMsg, ClientError> {
        let bytes = self.recv_bytes().await?;
        Ok(codec::decode_server(&bytes, self.format)?)
    }

    /// Like [`recv`](Self::recv), but a postcard snapshot is not decoded:
    /// only its header is read, which is all a bot needs to count and
    /// acknowledge it. Other messages, and JSON, are decoded in full.
    pub async fn recv_light(&mut self) -> Result<Received, ClientError> {
        let bytes = self.recv_bytes().await?;
        if self.format == Format::Postcard
            && let Some(header) = peek_snapshot(&bytes)
        {
            return Ok(Received::Snapshot(header));
        }
        Ok(Received::Message(codec::decode_server(
            &bytes,
            self.format,
        )?))
    }

    async fn recv_bytes(&mut self) -> Result<Bytes, ClientError> {
        self.rx.recv().await.unwrap_or(Err(ClientError::Closed))
    }

    /// Skips messages until one that `wanted` accepts and returns it. Errors
    /// are returned as they come. Cancelling loses only skipped messages.
    pub async fn recv_until(
        &mut self,
        mut wanted: impl FnMut(&ServerMsg) -> bool,
    ) -> Result<ServerMsg, ClientError> {
        loop {
            let msg = self.recv().await?;
            if wanted(&msg) {
                return Ok(msg);
            }
        }
    }

    /// The connection's byte counters, shared with the sender.
    pub fn counters(&self) -> &Arc<ByteCounters> {
        &self.counters
    }
}

/// What [`ClientReceiver::recv_light`] returns.
#[derive(Debug)]
pub enum Received {
    /// A snapshot, of which only the header was read.
    Snapshot(SnapshotHeader),
    /// Any other message, decoded.
    Message(ServerMsg),
}

/// [`Client::abandon`] for a client already split in halves.
pub fn abandon(sender: ClientSender, mut receiver: ClientReceiver, linger: std::time::Duration) {
    tokio::spawn(async move {
        let drain = async { while receiver.recv_bytes().await.is_ok() {} };
        let _ = tokio::time::timeout(linger, drain).await;
        drop(sender);
    });
}

/// A connection's reader tasks, stopped when the receiver goes.
struct Readers(Vec<AbortHandle>);

impl Drop for Readers {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_follows_the_url_scheme() {
        assert_eq!(
            Transport::of_url("quic://127.0.0.1:4433").unwrap(),
            Transport::Quic
        );
        assert_eq!(
            Transport::of_url("WS://localhost:8080/ws").unwrap(),
            Transport::WebSocket
        );
        assert!(Transport::of_url("wss://example.com/ws").is_err());
        assert!(Transport::of_url("http://example.com").is_err());
        assert!(Transport::of_url("127.0.0.1:4433").is_err());
    }

    #[test]
    fn transports_serialize_by_their_report_names() {
        for transport in [Transport::Quic, Transport::WebSocket] {
            let json = serde_json::to_string(&transport).unwrap();
            assert_eq!(json, format!("\"{}\"", transport.name()));
        }
    }
}
