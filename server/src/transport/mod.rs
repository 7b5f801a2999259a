//! Transports: bytes in, protocol messages out, and back.
//!
//! Each transport turns its connection into a [`Reader`] of incoming
//! messages and a writer task that drains the session's outbound queue.
//! [`serve`] runs the part they share: the hello deadline, the session, and
//! the order in which a connection ends.

pub mod quic;
pub mod udp;
pub mod ws;

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use stadium_shared::codec::{self, Format};
use stadium_shared::{ErrorCode, Refusal, ServerMsg};
use tokio::task::JoinHandle;

use crate::metrics::{self, Transport, TransportMetrics};
use crate::session::outbound::{Outbound, OutboundRx, Outgoing};
use crate::session::{Flow, ServerState, Session};

/// One thing read from a connection.
#[derive(Debug)]
pub enum Incoming {
    /// One encoded message.
    Message(Bytes, Format),
    /// A message over the size limit; the connection cannot continue.
    TooLarge,
    /// A transport's control frame (a WebSocket ping or pong), already
    /// answered: nothing for the session but a message to count.
    Control,
    /// The peer closed the connection, or it failed.
    Closed,
}

/// The reading half of a connection.
pub trait Reader: Send {
    /// The next thing the peer sent. Must be cancel-safe.
    fn recv(&mut self) -> impl Future<Output = Incoming> + Send;
}

/// Runs a connection: waits for the hello (within the configured
/// deadline), then hands every message to the session until the peer
/// leaves, the writer stops, or the session is kicked. A connection that
/// merely ends leaves a seated player resumable; one closed for what the
/// peer sent gives the seat up.
pub async fn serve<R: Reader>(
    state: Arc<ServerState>,
    transport: Transport,
    mut reader: R,
    outbound: Outbound,
    writer: JoinHandle<()>,
    address: IpAddr,
) {
    let ended = converse(&state, transport, &mut reader, outbound, writer, address).await;
    if ended == Ended::ByServer {
        // Read on until the peer answers the close (a WebSocket close
        // frame) or goes: a socket closed with unread input is reset, and
        // a reset can discard the last words before the peer reads them.
        // Only what a peer has in flight is worth reading: a flooder that
        // keeps sending after its kick is hung up on once it passes a
        // small budget, not read for free until the timeout.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            let (mut messages, mut bytes) = (0, 0);
            while messages < DRAIN_MESSAGES && bytes < DRAIN_BYTES {
                match reader.recv().await {
                    Incoming::Closed => break,
                    Incoming::Message(payload, _) => bytes += payload.len(),
                    Incoming::TooLarge | Incoming::Control => {}
                }
                messages += 1;
            }
        })
        .await;
    }
}

/// Which side ended a connection.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The peer closed, or is not worth waiting for.
    ByPeer,
    /// The server closed; the peer may still answer.
    ByServer,
}

async fn converse<R: Reader>(
    state: &Arc<ServerState>,
    transport: Transport,
    reader: &mut R,
    outbound: Outbound,
    mut writer: JoinHandle<()>,
    address: IpAddr,
) -> Ended {
    let metrics = metrics::get().transport(transport);
    let deadline = state.config.hello_deadline();
    let first = tokio::select! {
        incoming = tokio::time::timeout(deadline, first_message(reader)) => incoming,
        _ = &mut writer => return Ended::ByServer,
    };
    let first = match first {
        Ok(Some(Incoming::Message(bytes, format))) => {
            metrics.bytes_received.increment(bytes.len() as u64);
            codec::decode_client(&bytes, format)
        }
        Ok(Some(Incoming::TooLarge)) => {
            return finish(outbound, ErrorCode::FrameTooLarge, writer).await;
        }
        Ok(Some(Incoming::Closed)) => {
            writer.abort();
            return Ended::ByPeer;
        }
        Ok(Some(Incoming::Control) | None) | Err(_) => {
            // A peer silent this long, or only pinging, is not waited for
            // again.
            finish(outbound, ErrorCode::HelloRequired, writer).await;
            return Ended::ByPeer;
        }
    };
    let mut session = match first.map_err(|err| Refusal::with(err.code(), err.detail())) {
        Ok(msg) => match Session::greet(state, msg, outbound.clone(), address) {
            Ok(session) => session,
            Err(refusal) => return refuse(outbound, refusal, writer).await,
        },
        Err(refusal) => return refuse(outbound, refusal, writer).await,
    };
    let _connected = Connected::new(metrics);

    let ended = loop {
        let incoming = tokio::select! {
            incoming = reader.recv() => incoming,
            settled = session.join_settled() => {
                session.finish_join(settled);
                continue;
            }
            _ = &mut writer => break Ended::ByServer,
        };
        let flow = match incoming {
            Incoming::Message(bytes, format) => {
                metrics.bytes_received.increment(bytes.len() as u64);
                let now = Instant::now();
                match session.admit(now) {
                    Some(refused) => refused,
                    None => match codec::decode_client(&bytes, format) {
                        Ok(msg) => session.handle(msg, now),
                        Err(err) => {
                            tracing::debug!(session = %session.id(), %err, "undecodable message");
                            session.decode_failed(&err)
                        }
                    },
                }
            }
            Incoming::TooLarge => {
                session.forfeit();
                drop(session);
                return finish(outbound, ErrorCode::FrameTooLarge, writer).await;
            }
            Incoming::Control => session.admit(Instant::now()).unwrap_or(Flow::Continue),
            Incoming::Closed => break Ended::ByPeer,
        };
        if flow == Flow::Close {
            session.forfeit();
            drop(session);
            return finish(outbound, ErrorCode::TooManyRefusals, writer).await;
        }
    };
    drop(session);
    writer.abort();
    ended
}

/// Control frames a connection may send before its hello.
const CONTROL_BEFORE_HELLO: u32 = 8;

/// The first thing that is not a control frame, or `None` once the peer
/// has sent more control frames than a hello needs.
async fn first_message<R: Reader>(reader: &mut R) -> Option<Incoming> {
    let mut controls = 0;
    loop {
        match reader.recv().await {
            Incoming::Control if controls < CONTROL_BEFORE_HELLO => controls += 1,
            Incoming::Control => return None,
            other => return Some(other),
        }
    }
}

/// Counts a greeted session in `stadium_sessions` while it lives.
struct Connected(&'static TransportMetrics);

impl Connected {
    fn new(metrics: &'static TransportMetrics) -> Self {
        metrics.sessions.increment(1.0);
        Connected(metrics)
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.0.sessions.decrement(1.0);
    }
}

/// Sends a final error and lets the writer close the connection.
async fn finish(outbound: Outbound, code: ErrorCode, writer: JoinHandle<()>) -> Ended {
    refuse(outbound, Refusal::new(code), writer).await
}

/// Sends `refusal` as the last message and lets the writer close the
/// connection with its code.
pub(crate) async fn refuse(outbound: Outbound, refusal: Refusal, writer: JoinHandle<()>) -> Ended {
    let code = refusal.code;
    outbound.send_msg(refusal.into());
    outbound.kick(code);
    if tokio::time::timeout(CLOSE_TIMEOUT, writer).await.is_err() {
        tracing::debug!("writer did not finish closing in time");
    }
    Ended::ByServer
}

/// How long a closing connection may take to flush its last messages.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Messages (control frames included) read from a peer after the server
/// closed its connection, waiting for its answer: what a burst that got
/// the peer kicked may still have in flight, so that it can read why. A
/// flood that goes on past it is hung up on (its unread input resets the
/// connection), at a cost of a few milliseconds, not of the whole timeout.
const DRAIN_MESSAGES: usize = 4096;

/// Bytes of messages read from a peer after the server closed its
/// connection.
const DRAIN_BYTES: usize = 1024 * 1024;

/// What a writer sends before closing a kicked connection: what is still
/// queued (the final error among it), or, for a client kicked for reading
/// too slowly, only the error, since its queue is stale.
pub fn last_words(rx: &mut OutboundRx, reason: ErrorCode) -> Vec<Arc<Outgoing>> {
    if reason == ErrorCode::SlowConsumer {
        return vec![Outgoing::new(ServerMsg::error(reason))];
    }
    let mut last = Vec::new();
    while let Some(msg) = rx.try_recv() {
        last.push(msg);
    }
    last
}
