//! WebSocket transport, for browsers: one WebSocket message per protocol
//! message, binary postcard by default, JSON text with the `stadium.json`
//! subprotocol.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use stadium_shared::codec::Format;
use stadium_shared::{ErrorCode, JSON_SUBPROTOCOL, MAX_FRAME_LEN};

use super::{CLOSE_TIMEOUT, Incoming, Reader, last_words};
use crate::metrics::{self, Transport};
use crate::session::ServerState;
use crate::session::outbound::{Outbound, OutboundRx, Outgoing};

/// Bytes the socket may buffer for a client before writes wait.
const MAX_WRITE_BUFFER: usize = 1024 * 1024;

/// `GET /ws`: upgrades to a WebSocket session.
pub async fn upgrade(ws: WebSocketUpgrade, State(state): State<Arc<ServerState>>) -> Response {
    let ws = ws
        .protocols([JSON_SUBPROTOCOL])
        .max_message_size(MAX_FRAME_LEN)
        .max_frame_size(MAX_FRAME_LEN)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER);
    let format = if ws.selected_protocol().is_some() {
        Format::Json
    } else {
        Format::Postcard
    };
    ws.on_upgrade(move |socket| run(socket, state, format))
}

async fn run(socket: WebSocket, state: Arc<ServerState>, format: Format) {
    let (sink, stream) = socket.split();
    let (outbound, rx) = Outbound::channel(state.config.outbound_queue);
    let writer = tokio::spawn(write(sink, rx, format));
    super::serve(state, Transport::Ws, WsReader(stream), outbound, writer).await;
}

struct WsReader(SplitStream<WebSocket>);

impl Reader for WsReader {
    async fn recv(&mut self) -> Incoming {
        loop {
            return match self.0.next().await {
                Some(Ok(Message::Binary(bytes))) => Incoming::Message(bytes, Format::Postcard),
                Some(Ok(Message::Text(text))) => Incoming::Message(text.into(), Format::Json),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_))) | None => Incoming::Closed,
                Some(Err(err)) if is_capacity_error(&err) => Incoming::TooLarge,
                Some(Err(_)) => Incoming::Closed,
            };
        }
    }
}

/// Whether a read failed because the peer's message or frame passed the
/// configured size limit, which tungstenite reports before buffering it.
fn is_capacity_error(err: &axum::Error) -> bool {
    use std::error::Error as _;
    matches!(
        err.source()
            .and_then(|inner| inner.downcast_ref::<tungstenite::Error>()),
        Some(tungstenite::Error::Capacity(_))
    )
}

fn message(out: &Outgoing, format: Format) -> Message {
    let bytes = out.encoded(format).clone();
    match format {
        Format::Postcard => Message::Binary(bytes),
        Format::Json => Message::Text(
            bytes
                .try_into()
                .expect("JSON encoding is always valid UTF-8"),
        ),
    }
}

async fn write(mut sink: SplitSink<WebSocket, Message>, mut rx: OutboundRx, format: Format) {
    // Its own handle, so that waiting for a kick and for the queue can
    // borrow separately.
    let kick = rx.kick.clone();
    let bytes_sent = &metrics::get().transport(Transport::Ws).bytes_sent;
    let reason = loop {
        tokio::select! {
            biased;
            reason = kick.kicked() => break reason,
            next = rx.recv() => {
                let Some(out) = next else { return };
                if !out.fits(format) {
                    continue;
                }
                let len = out.encoded(format).len() as u64;
                tokio::select! {
                    sent = sink.send(message(&out, format)) => match sent {
                        Ok(()) => bytes_sent.increment(len),
                        Err(_) => return,
                    },
                    reason = kick.kicked() => break reason,
                }
            }
        }
    };
    let goodbye = async {
        for out in last_words(&mut rx, reason) {
            sink.send(message(&out, format)).await?;
        }
        let code = match reason {
            ErrorCode::FrameTooLarge => close_code::SIZE,
            ErrorCode::Malformed | ErrorCode::InvalidInput => close_code::INVALID,
            ErrorCode::ShuttingDown => close_code::AWAY,
            ErrorCode::RateLimited | ErrorCode::SlowConsumer => close_code::POLICY,
            _ => close_code::NORMAL,
        };
        let frame = CloseFrame {
            code,
            reason: reason.message().into(),
        };
        sink.send(Message::Close(Some(frame))).await
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, goodbye).await;
}
