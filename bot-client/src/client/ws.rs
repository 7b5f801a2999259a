//! The WebSocket side of the client: one WebSocket message per protocol
//! message, binary postcard, or JSON text under the `stadium.json`
//! subprotocol.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use stadium_shared::codec::Format;
use stadium_shared::frame::FrameTooLarge;
use stadium_shared::{JSON_SUBPROTOCOL, MAX_FRAME_LEN};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{ByteCounters, ClientError, ConnectError, Incoming, RECEIVE_QUEUE, Readers};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Read buffer per connection. tungstenite's default (128 KiB, allocated
/// up front) would cost ten thousand bots 1.3 GB for messages of a few
/// hundred bytes; larger messages still arrive, in several reads.
const READ_BUFFER: usize = 4 * 1024;
/// The most a send may buffer. Sends flush, so this is only reached by a
/// single huge raw message; it is large so that tests can send oversized
/// messages for the server to refuse.
const MAX_WRITE_BUFFER: usize = 4 * 1024 * 1024;
/// Bytes of frames held for one write. Every send ends with a flush, so
/// this only keeps the messages fed for one batch (an acknowledgement and
/// an input) together: with no buffer each would leave in a TCP segment
/// of its own, which the server would read, and acknowledge, separately.
const WRITE_BATCH: usize = 64 * 1024;
/// How long closing waits for the close frame to be written.
const CLOSE_LINGER: Duration = Duration::from_millis(500);

/// A connection's sending side.
pub(super) struct WsLink {
    sink: Mutex<SplitSink<Socket, Message>>,
}

/// Opens the WebSocket and starts the reader task.
pub(super) async fn connect(
    url: &str,
    format: Format,
    counters: &Arc<ByteCounters>,
) -> Result<(WsLink, mpsc::Receiver<Incoming>, Readers), ConnectError> {
    let boxed = |err| ConnectError::WebSocket(Box::new(err));
    let mut request = url.into_client_request().map_err(boxed)?;
    if format == Format::Json {
        let protocol = HeaderValue::from_static(JSON_SUBPROTOCOL);
        request
            .headers_mut()
            .insert(SEC_WEBSOCKET_PROTOCOL, protocol);
    }
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BATCH)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(Some(MAX_FRAME_LEN))
        .max_frame_size(Some(MAX_FRAME_LEN));
    // Small messages are the whole workload: do not let Nagle hold them.
    let (socket, _response) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), true)
            .await
            .map_err(boxed)?;
    tracing::debug!(url, ?format, "WebSocket connected");

    let (sink, stream) = socket.split();
    let (tx, rx) = mpsc::channel(RECEIVE_QUEUE);
    let reader = tokio::spawn(read(stream, tx, counters.clone()));
    Ok((
        WsLink {
            sink: Mutex::new(sink),
        },
        rx,
        Readers(vec![reader.abort_handle()]),
    ))
}

impl WsLink {
    /// Sends one message: text on a JSON connection when the bytes are
    /// UTF-8, binary otherwise.
    pub(super) async fn send(
        &self,
        payload: &[u8],
        format: Format,
        counters: &ByteCounters,
    ) -> Result<(), ClientError> {
        self.sink
            .lock()
            .await
            .send(message(payload, format))
            .await
            .map_err(write_error)?;
        counters.add_sent(payload.len());
        Ok(())
    }

    /// Sends several messages, as [`send`](Self::send) does each, with one
    /// flush (so one write) for them all.
    pub(super) async fn send_all(
        &self,
        payloads: &[Vec<u8>],
        format: Format,
        counters: &ByteCounters,
    ) -> Result<(), ClientError> {
        let mut sink = self.sink.lock().await;
        for payload in payloads {
            sink.feed(message(payload, format))
                .await
                .map_err(write_error)?;
        }
        sink.flush().await.map_err(write_error)?;
        counters.add_sent(payloads.iter().map(Vec::len).sum());
        Ok(())
    }

    /// Sends a close frame, waiting briefly for it to be written.
    pub(super) async fn close(&self) {
        let mut sink = self.sink.lock().await;
        let _ = tokio::time::timeout(CLOSE_LINGER, sink.close()).await;
    }
}

/// A protocol message as a WebSocket message: text on a JSON connection
/// when the bytes are UTF-8, binary otherwise.
fn message(payload: &[u8], format: Format) -> Message {
    let bytes = Bytes::copy_from_slice(payload);
    match format {
        Format::Json => match Utf8Bytes::try_from(bytes.clone()) {
            Ok(text) => Message::Text(text),
            Err(_) => Message::Binary(bytes),
        },
        Format::Postcard => Message::Binary(bytes),
    }
}

fn write_error(err: tungstenite::Error) -> ClientError {
    match err {
        tungstenite::Error::ConnectionClosed
        | tungstenite::Error::AlreadyClosed
        | tungstenite::Error::Io(_) => ClientError::Closed,
        other => ClientError::WebSocket(Box::new(other)),
    }
}

/// Hands every data message to the receiver until the socket ends.
/// tungstenite answers pings itself while this reads.
async fn read(
    mut stream: SplitStream<Socket>,
    tx: mpsc::Sender<Incoming>,
    counters: Arc<ByteCounters>,
) {
    while let Some(next) = stream.next().await {
        let bytes = match next {
            Ok(Message::Binary(bytes)) => bytes,
            Ok(Message::Text(text)) => Bytes::from(text),
            Ok(Message::Close(frame)) => {
                tracing::debug!(?frame, "server closed the WebSocket");
                break;
            }
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
            Err(tungstenite::Error::Capacity(CapacityError::MessageTooLong { size, max_size })) => {
                tracing::warn!(size, "server sent an oversized message; closing");
                let _ = tx
                    .send(Err(FrameTooLarge {
                        len: size,
                        max: max_size,
                    }
                    .into()))
                    .await;
                break;
            }
            Err(err) => {
                tracing::debug!(%err, "WebSocket ended");
                break;
            }
        };
        counters.add_received(bytes.len());
        if tx.send(Ok(bytes)).await.is_err() {
            break;
        }
    }
}
