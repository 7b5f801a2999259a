//! WebSocket transport, for browsers: one WebSocket message per protocol
//! message, binary postcard by default, JSON text with the `stadium.json`
//! subprotocol.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use stadium_shared::codec::Format;
use stadium_shared::{ErrorCode, JSON_SUBPROTOCOL};
use tokio::time::{Instant, Sleep};
use tungstenite::protocol::WebSocketConfig;

use super::{CLOSE_TIMEOUT, Incoming, Reader, last_words};
use crate::config::WsLimits;
use crate::metrics::{self, Transport};
use crate::session::ServerState;
use crate::session::outbound::{Next, Outbound, OutboundRx, Outgoing};

/// Bytes read from the socket at a time. Clients send small messages
/// (inputs, acks); a larger frame still arrives whole, as the buffer grows
/// to the frame's announced length. tungstenite's default, 128 KiB, is
/// allocated for every connection and zeroed before every read, which
/// costs more than the rest of reading.
const READ_BUFFER: usize = 1024;

/// `GET /ws`: upgrades to a WebSocket session.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<Arc<ServerState>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
) -> Response {
    let ws = limited(ws.protocols([JSON_SUBPROTOCOL]), state.config.ws_limits());
    let format = if ws.selected_protocol().is_some() {
        Format::Json
    } else {
        Format::Postcard
    };
    ws.on_upgrade(move |socket| run(socket, state, format, remote.ip()))
}

/// Applies the configured limits to an upgrade. Every WebSocket endpoint
/// goes through here, so that /ws-echo speaks for /ws in conformance runs.
fn limited(ws: WebSocketUpgrade, limits: WsLimits) -> WebSocketUpgrade {
    ws.max_message_size(limits.max_message)
        .max_frame_size(limits.max_frame)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(limits.max_write_buffer)
}

/// The same limits as a tungstenite configuration, for driving the
/// WebSocket layer without a socket (fuzzing).
pub fn tungstenite_config(limits: WsLimits) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(limits.max_message))
        .max_frame_size(Some(limits.max_frame))
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(limits.max_write_buffer)
}

/// `GET /ws-echo` (only with `--ws-echo`): echoes every data message, for
/// WebSocket conformance suites. It reads through the same limits and
/// [`WsReader`] as /ws and closes an oversized message with 1009 as /ws does.
pub async fn echo(ws: WebSocketUpgrade, State(state): State<Arc<ServerState>>) -> Response {
    limited(ws, state.config.ws_limits()).on_upgrade(|socket| async move {
        let (mut sink, stream) = socket.split();
        let mut reader = WsReader::new(stream, state.config.ws_idle_timeout());
        loop {
            let reply = match reader.recv().await {
                Incoming::Message(bytes, Format::Postcard) => Message::Binary(bytes),
                Incoming::Message(bytes, Format::Json) => match bytes.try_into() {
                    Ok(text) => Message::Text(text),
                    Err(_) => break,
                },
                Incoming::TooLarge => {
                    let frame = CloseFrame {
                        code: close_code::SIZE,
                        reason: ErrorCode::FrameTooLarge.message().into(),
                    };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    break;
                }
                Incoming::Control => continue,
                Incoming::Closed => break,
            };
            if sink.send(reply).await.is_err() {
                break;
            }
        }
    })
}

async fn run(socket: WebSocket, state: Arc<ServerState>, format: Format, address: IpAddr) {
    let (sink, stream) = socket.split();
    let (outbound, rx) = Outbound::channel(format, state.config.outbound_queue_bytes);
    let idle = state.config.ws_idle_timeout();
    let writer = tokio::spawn(write(sink, rx, format, idle / 3));
    // Counted from the upgrade to the close; over the limit, the client
    // is told why before the close.
    let _permit = match state.admit(address) {
        Ok(permit) => permit,
        Err(refusal) => {
            super::refuse(outbound, refusal, writer).await;
            return;
        }
    };
    super::serve(
        state,
        Transport::Ws,
        WsReader::new(stream, idle),
        outbound,
        writer,
        address,
    )
    .await;
}

/// Reads a WebSocket; a peer from which nothing, not even a pong, arrives
/// within `idle` counts as gone.
struct WsReader {
    stream: SplitStream<WebSocket>,
    idle: Duration,
    /// When the peer was last heard from.
    heard: Instant,
    /// Fires at the idle deadline or before it. It is moved on only when
    /// it fires, not at every message: a timer reset per message would
    /// cost more than the message.
    timer: Pin<Box<Sleep>>,
}

impl WsReader {
    fn new(stream: SplitStream<WebSocket>, idle: Duration) -> Self {
        let heard = Instant::now();
        Self {
            stream,
            idle,
            heard,
            timer: Box::pin(tokio::time::sleep_until(heard + idle)),
        }
    }
}

impl Reader for WsReader {
    async fn recv(&mut self) -> Incoming {
        loop {
            let next = tokio::select! {
                next = self.stream.next() => next,
                () = &mut self.timer => {
                    let deadline = self.heard + self.idle;
                    if Instant::now() >= deadline {
                        tracing::debug!(idle = ?self.idle, "websocket silent past the idle timeout");
                        return Incoming::Closed;
                    }
                    self.timer.as_mut().reset(deadline);
                    continue;
                }
            };
            self.heard = Instant::now();
            let next = match next {
                Some(Ok(msg)) => incoming(msg),
                Some(Err(err)) if is_capacity_error(&err) => Some(Incoming::TooLarge),
                Some(Err(_)) | None => Some(Incoming::Closed),
            };
            if let Some(next) = next {
                return next;
            }
        }
    }
}

/// What a WebSocket message means to the session: binary is postcard,
/// text is JSON, a close ends it, and a ping or pong (which tungstenite
/// has already answered) is a control frame, counted against the rate
/// limit like any message: answering a flood of pings costs a core.
pub fn incoming(msg: Message) -> Option<Incoming> {
    match msg {
        Message::Binary(bytes) => Some(Incoming::Message(bytes, Format::Postcard)),
        Message::Text(text) => Some(Incoming::Message(text.into(), Format::Json)),
        Message::Ping(_) | Message::Pong(_) => Some(Incoming::Control),
        Message::Close(_) => Some(Incoming::Closed),
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

/// Drains the session's queue into the socket, with a ping every
/// `heartbeat` so that a live peer, even a silent one, answers (browsers
/// answer pings on their own) and a dead one is noticed.
async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: OutboundRx,
    format: Format,
    heartbeat: Duration,
) {
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let bytes_sent = &metrics::get().transport(Transport::Ws).bytes_sent;
    let reason = loop {
        tokio::select! {
            biased;
            _ = pings.tick() => {
                tokio::select! {
                    sent = sink.send(Message::Ping(Bytes::new())) => if sent.is_err() { return },
                    reason = rx.kicked() => break reason,
                }
            }
            next = rx.next() => {
                let out = match next {
                    Next::Send(out) => out,
                    Next::Kicked(reason) => break reason,
                    Next::Closed => return,
                };
                if !out.fits(format) {
                    continue;
                }
                let len = out.encoded(format).len() as u64;
                tokio::select! {
                    sent = sink.send(message(&out, format)) => match sent {
                        Ok(()) => bytes_sent.increment(len),
                        Err(_) => return,
                    },
                    reason = rx.kicked() => break reason,
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
            ErrorCode::RateLimited
            | ErrorCode::SlowConsumer
            | ErrorCode::TooManyRefusals
            | ErrorCode::TooManyConnections
            | ErrorCode::HelloRequired
            | ErrorCode::ResumeRefused => close_code::POLICY,
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
