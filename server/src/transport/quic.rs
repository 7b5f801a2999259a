//! QUIC transport, for native clients.
//!
//! A client opens one bidirectional stream right after the handshake and
//! sends its first frame (the hello) on it. Both directions of that stream
//! carry reliable, ordered messages as length-prefixed postcard frames (see
//! [`stadium_shared::frame`]). Datagrams carry unreliable messages, one
//! postcard message per datagram with no prefix: inputs and snapshot
//! acknowledgements from the client, snapshots from the server (those too
//! large for the path's datagram size go on the stream instead).
//!
//! Stream frames are read whole by a small task that feeds a bounded
//! queue, which makes [`Reader::recv`] cancel-safe and lets QUIC flow
//! control push back on a client that sends faster than its session
//! handles. Datagrams, the bulk of what a player sends, are read by the
//! session itself, without a hop through a task; those it does not read in
//! time are dropped by quinn's bounded datagram buffer, as the network
//! might have dropped them.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use bytes::Bytes;
use quinn::{Connection, Incoming as QuinnIncoming, RecvStream, SendStream, VarInt};
use stadium_shared::codec::Format;
use stadium_shared::frame::{self, HEADER_LEN};
use stadium_shared::{MAX_FRAME_LEN, ServerMsg};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::udp::{CidKey, CountingSocket};
use super::{CLOSE_TIMEOUT, Incoming, Reader, last_words};
use crate::metrics::{self, Transport};
use crate::session::ServerState;
use crate::session::outbound::{Next, Outbound, OutboundRx, Outgoing};

/// Stream frames read ahead of the session.
const READ_QUEUE: usize = 64;

/// Most queued messages one stream write carries.
const WRITE_BATCH: usize = 64;

/// Transport settings for client connections: one stream, bounded
/// windows, datagrams on, keep-alive well inside the `idle` timeout (the
/// time after which a connection that sent nothing, not even a keep-alive,
/// is dead).
pub fn transport_config(idle: Duration) -> quinn::TransportConfig {
    let idle = idle.clamp(Duration::from_secs(1), Duration::from_secs(600));
    let mut transport = quinn::TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(VarInt::from_u32(1))
        .max_concurrent_uni_streams(VarInt::from_u32(0))
        .stream_receive_window(VarInt::from_u32(2 * MAX_FRAME_LEN as u32))
        .receive_window(VarInt::from_u32(4 * MAX_FRAME_LEN as u32))
        .send_window(8 * MAX_FRAME_LEN as u64)
        .datagram_receive_buffer_size(Some(64 * 1024))
        .datagram_send_buffer_size(256 * 1024)
        .keep_alive_interval(Some((idle / 3).min(Duration::from_secs(5))))
        .max_idle_timeout(Some(
            quinn::IdleTimeout::try_from(idle).expect("at most 600 s is a valid timeout"),
        ));
    transport
}

/// Binds the server's endpoint on `addr`, its socket counting into
/// `dropped` the datagrams that cannot be QUIC (see [`super::udp`]).
pub fn bind(
    config: quinn::ServerConfig,
    addr: std::net::SocketAddr,
    dropped: Arc<AtomicU64>,
) -> std::io::Result<quinn::Endpoint> {
    let runtime: Arc<dyn quinn::Runtime> = Arc::new(quinn::TokioRuntime);
    let socket = runtime.wrap_udp_socket(std::net::UdpSocket::bind(addr)?)?;
    let key = CidKey::random();
    let socket = Arc::new(CountingSocket::new(socket, key, dropped));
    let mut endpoint_config = quinn::EndpointConfig::default();
    endpoint_config.cid_generator(move || key.generator());
    quinn::Endpoint::new_with_abstract_socket(endpoint_config, Some(config), socket, runtime)
}

/// Accepts connections until the endpoint is closed.
pub async fn listen(state: Arc<ServerState>, endpoint: quinn::Endpoint) {
    while let Some(incoming) = endpoint.accept().await {
        tokio::spawn(connection(state.clone(), incoming));
    }
}

async fn connection(state: Arc<ServerState>, incoming: QuinnIncoming) {
    let remote = incoming.remote_address();
    // Counted from the first packet, so handshakes count too.
    let permit = state.admit(remote.ip());
    // The handshake has its deadline and opening the stream the hello's,
    // so a peer that stalls anywhere before its hello is cut off in time.
    let handshake = state.config.handshake_deadline();
    let hello = state.config.hello_deadline();
    let Ok(Ok(conn)) = tokio::time::timeout(handshake, incoming).await else {
        return tracing::debug!(%remote, "quic handshake failed or stalled");
    };
    let (send, recv) = match tokio::time::timeout(hello, conn.accept_bi()).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(_)) => return tracing::debug!(%remote, "quic connection ended before its stream"),
        Err(_) => {
            // Told why, as a connection that opened its stream but never
            // said hello is.
            let reason = stadium_shared::ErrorCode::HelloRequired;
            conn.close(VarInt::from(reason.code()), reason.message().as_bytes());
            return tracing::debug!(%remote, "quic connection opened no stream in time");
        }
    };
    tracing::debug!(%remote, "quic connection opened");

    let (outbound, rx) = Outbound::channel(Format::Postcard, state.config.outbound_queue_bytes);
    let writer = tokio::spawn(write(conn.clone(), send, rx));
    let _permit = match permit {
        Ok(permit) => permit,
        Err(refusal) => {
            super::refuse(outbound, refusal, writer).await;
            return;
        }
    };
    let reader = QuicReader::start(conn.clone(), recv);
    super::serve(
        state,
        Transport::Quic,
        reader,
        outbound,
        writer,
        remote.ip(),
    )
    .await;
    conn.close(VarInt::from_u32(0), b"bye");
}

/// The session's view of a connection's incoming messages: datagrams read
/// straight from the connection, stream frames from a small task that
/// reads them whole (a frame read is not cancel-safe; a datagram read is).
struct QuicReader {
    conn: Connection,
    stream: mpsc::Receiver<Incoming>,
    task: JoinHandle<()>,
}

impl QuicReader {
    fn start(conn: Connection, recv: RecvStream) -> Self {
        let (tx, stream) = mpsc::channel(READ_QUEUE);
        let task = tokio::spawn(read_stream(recv, tx));
        Self { conn, stream, task }
    }
}

impl Drop for QuicReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Reader for QuicReader {
    async fn recv(&mut self) -> Incoming {
        // Stream frames first: a close or an oversized frame read there
        // ends the connection whatever datagrams are still arriving. A
        // datagram that arrives faster than the session reads waits in
        // quinn's bounded datagram buffer, which drops the oldest.
        tokio::select! {
            biased;
            frame = self.stream.recv() => frame.unwrap_or(Incoming::Closed),
            datagram = self.conn.read_datagram() => match datagram {
                Ok(datagram) => Incoming::Message(datagram, Format::Postcard),
                Err(_) => Incoming::Closed,
            },
        }
    }
}

async fn read_stream(mut recv: RecvStream, tx: mpsc::Sender<Incoming>) {
    loop {
        let incoming = match read_frame(&mut recv).await {
            Ok(payload) => Incoming::Message(payload, Format::Postcard),
            Err(FrameError::TooLarge) => Incoming::TooLarge,
            Err(FrameError::Closed) => Incoming::Closed,
        };
        let last = !matches!(incoming, Incoming::Message(..));
        if tx.send(incoming).await.is_err() || last {
            return;
        }
    }
}

/// Why no frame could be read.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The header announced more than the frame limit.
    TooLarge,
    /// The stream ended or failed, possibly mid-frame.
    Closed,
}

/// Reads one frame, checking its announced length before reading the
/// payload so a peer cannot make the server buffer more than the limit.
pub async fn read_frame<R: AsyncRead + Unpin>(recv: &mut R) -> Result<Bytes, FrameError> {
    let mut header = [0u8; HEADER_LEN];
    recv.read_exact(&mut header)
        .await
        .map_err(|_| FrameError::Closed)?;
    let len = frame::payload_len(header, MAX_FRAME_LEN).map_err(|_| FrameError::TooLarge)?;
    let mut payload = vec![0u8; len];
    recv.read_exact(&mut payload)
        .await
        .map_err(|_| FrameError::Closed)?;
    Ok(payload.into())
}

/// Drains the session's queue, a batch per stream write, until
/// the session is kicked; then sends the last words, finishes the stream,
/// waits briefly for the peer to receive it, and closes with the reason.
async fn write(conn: Connection, mut send: SendStream, mut rx: OutboundRx) {
    // Grows to the largest batch written, not to the most one may hold:
    // a connection usually writes a frame or two at a time.
    let mut chunks: Vec<Bytes> = Vec::new();
    let reason = loop {
        let first = match rx.next().await {
            Next::Send(out) => out,
            Next::Kicked(reason) => break reason,
            Next::Closed => return,
        };
        dispatch(&conn, &mut chunks, &first);
        for _ in 1..WRITE_BATCH {
            let Some(more) = rx.try_recv() else { break };
            dispatch(&conn, &mut chunks, &more);
        }
        if chunks.is_empty() {
            continue;
        }
        tokio::select! {
            sent = send.write_all_chunks(&mut chunks) => if sent.is_err() { return },
            reason = rx.kicked() => break reason,
        }
        chunks.clear();
    };
    let goodbye = async {
        // A kick that cut a write short leaves in `chunks` what was not
        // written (quinn empties or advances each chunk as it goes): it is
        // written first, so that the stream stays whole frames and the
        // last words can be read.
        chunks.retain(|chunk| !chunk.is_empty());
        for out in last_words(&mut rx, reason) {
            push_frame(&mut chunks, &out);
        }
        send.write_all_chunks(&mut chunks).await.ok()?;
        send.finish().ok()?;
        send.stopped().await.ok()
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, goodbye).await;
    conn.close(VarInt::from(reason.code()), reason.message().as_bytes());
}

/// Sends a snapshot as a datagram when the path takes one that large, and
/// queues everything else (and oversized snapshots) as stream frames.
fn dispatch(conn: &Connection, chunks: &mut Vec<Bytes>, out: &Outgoing) {
    if !out.fits(Format::Postcard) {
        return;
    }
    if matches!(out.msg(), ServerMsg::Snapshot(_)) {
        let payload = out.encoded(Format::Postcard);
        if conn
            .max_datagram_size()
            .is_some_and(|max| payload.len() <= max)
        {
            // Unreliable by design: a datagram the connection cannot take
            // now is dropped, and the next tick's snapshot supersedes it.
            match conn.send_datagram(payload.clone()) {
                Ok(()) => bytes_sent().increment(payload.len() as u64),
                Err(err) => tracing::trace!(%err, "snapshot datagram dropped"),
            }
            return;
        }
    }
    push_frame(chunks, out);
}

fn bytes_sent() -> &'static ::metrics::Counter {
    &metrics::get().transport(Transport::Quic).bytes_sent
}

fn push_frame(chunks: &mut Vec<Bytes>, out: &Outgoing) {
    let payload = out.encoded(Format::Postcard).clone();
    // Counted when queued for the stream: quinn then owns delivery.
    bytes_sent().increment(payload.len() as u64);
    let header = (payload.len() as u32).to_be_bytes();
    chunks.push(Bytes::copy_from_slice(&header));
    chunks.push(payload);
}
