//! A session's bounded outbound queue.
//!
//! Rooms and the lobby push messages with [`Outbound::send`], which never
//! waits. Reliable messages (replies, events, chat) queue in order; when a
//! client reads too slowly for that queue to drain, the client is kicked
//! with [`ErrorCode::SlowConsumer`] instead of slowing the room. Snapshots
//! do not queue: each replaces the one not yet written, since a newer state
//! makes an older one worthless, so a slow reader costs one snapshot of
//! memory and receives the newest when it catches up.
//! Messages are encoded lazily, once per wire format, by whichever session
//! writer gets to them first, so a broadcast to a hundred players encodes at
//! most twice.

use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use stadium_shared::codec::{self, Format};
use stadium_shared::{ErrorCode, ServerMsg};
use tokio::sync::mpsc;

/// A message on its way to one or more sessions.
#[derive(Debug)]
pub struct Outgoing {
    msg: ServerMsg,
    postcard: OnceLock<Bytes>,
    json: OnceLock<Bytes>,
    /// Counts each encoding of the message, when someone wants to know.
    encodes: Option<&'static metrics::Counter>,
}

impl Outgoing {
    /// Wraps a message for delivery.
    pub fn new(msg: ServerMsg) -> Arc<Self> {
        Arc::new(Self {
            msg,
            postcard: OnceLock::new(),
            json: OnceLock::new(),
            encodes: None,
        })
    }

    /// Wraps a message whose encodings (at most one per wire format) are
    /// counted in `encodes`.
    pub fn counted(msg: ServerMsg, encodes: &'static metrics::Counter) -> Arc<Self> {
        Arc::new(Self {
            msg,
            postcard: OnceLock::new(),
            json: OnceLock::new(),
            encodes: Some(encodes),
        })
    }

    /// The message.
    pub fn msg(&self) -> &ServerMsg {
        &self.msg
    }

    /// Whether the message, encoded in `format`, fits in one frame. One that
    /// does not is a bug (every list a message carries is bounded), and is
    /// logged and not sent: a client would have to drop the connection.
    pub fn fits(&self, format: Format) -> bool {
        let len = self.encoded(format).len();
        let fits = len <= stadium_shared::MAX_FRAME_LEN;
        if !fits {
            tracing::error!(
                len,
                ?format,
                "outgoing message over the frame limit; not sent"
            );
        }
        fits
    }

    /// The message encoded in `format`, encoding it on first use.
    pub fn encoded(&self, format: Format) -> &Bytes {
        let cell = match format {
            Format::Postcard => &self.postcard,
            Format::Json => &self.json,
        };
        cell.get_or_init(|| {
            if let Some(encodes) = self.encodes {
                encodes.increment(1);
            }
            Bytes::from(codec::encode(&self.msg, format))
        })
    }
}

/// What a session's writer does next.
#[derive(Debug)]
pub enum Next {
    /// Writes this message.
    Send(Arc<Outgoing>),
    /// Closes the connection with this reason (what is still queued is
    /// for [`OutboundRx::try_recv`]).
    Kicked(ErrorCode),
    /// Stops: every sender is gone and nothing is left to write.
    Closed,
}

/// Bytes a queued message is charged beyond its encoding: its share of
/// the queue's bookkeeping, so that a flood of tiny messages is bounded
/// too.
const QUEUED_OVERHEAD: usize = 64;

/// What both halves of a session's queue share: the newest snapshot not
/// yet written, the kick, the byte budget, and the one waker (the
/// writer's) that a new snapshot or a kick wakes. Queued messages wake the
/// writer through their channel.
#[derive(Debug)]
struct Shared {
    /// The newest snapshot not yet written.
    snapshot: Mutex<Option<Arc<Outgoing>>>,
    /// Snapshots replaced before they were written.
    replaced: AtomicU64,
    /// Why the server is closing the connection; 0 until it is.
    kick: AtomicU16,
    writer: AtomicWaker,
    format: Format,
    /// Bytes queued, against `max`.
    queued: AtomicUsize,
    max: usize,
}

impl Shared {
    fn take_snapshot(&self) -> Option<Arc<Outgoing>> {
        self.snapshot
            .lock()
            .expect("snapshot slot lock is never poisoned")
            .take()
    }

    fn kick_reason(&self) -> Option<ErrorCode> {
        ErrorCode::try_from(self.kick.load(Ordering::Acquire)).ok()
    }

    fn cost(&self, msg: &Outgoing) -> usize {
        msg.encoded(self.format).len() + QUEUED_OVERHEAD
    }

    fn release(&self, msg: &Outgoing) {
        self.queued.fetch_sub(self.cost(msg), Ordering::AcqRel);
    }
}

/// The sending half of a session's queue; cheap to clone.
#[derive(Clone, Debug)]
pub struct Outbound {
    tx: mpsc::UnboundedSender<Arc<Outgoing>>,
    shared: Arc<Shared>,
}

/// The receiving half, owned by the session's writer.
pub struct OutboundRx {
    rx: mpsc::UnboundedReceiver<Arc<Outgoing>>,
    shared: Arc<Shared>,
}

impl OutboundRx {
    /// What to do next: close when kicked; otherwise write the queued
    /// messages first, in order, then the newest snapshot. Cancel-safe.
    pub async fn next(&mut self) -> Next {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Next> {
        // Registered before looking, so that a snapshot or kick that lands
        // in between still wakes this task.
        self.shared.writer.register(cx.waker());
        if let Some(reason) = self.shared.kick_reason() {
            return Poll::Ready(Next::Kicked(reason));
        }
        let closed = match self.rx.poll_recv(cx) {
            Poll::Ready(Some(msg)) => {
                self.shared.release(&msg);
                return Poll::Ready(Next::Send(msg));
            }
            Poll::Ready(None) => true,
            Poll::Pending => false,
        };
        match self.shared.take_snapshot() {
            Some(snapshot) => Poll::Ready(Next::Send(snapshot)),
            None if closed => Poll::Ready(Next::Closed),
            None => Poll::Pending,
        }
    }

    /// Resolves once the session is kicked, with the reason: for a writer
    /// waiting on its socket, which must not wait past a kick.
    pub async fn kicked(&self) -> ErrorCode {
        std::future::poll_fn(|cx| {
            self.shared.writer.register(cx.waker());
            match self.shared.kick_reason() {
                Some(reason) => Poll::Ready(reason),
                None => Poll::Pending,
            }
        })
        .await
    }

    /// The next message to write, if one is waiting.
    pub fn try_recv(&mut self) -> Option<Arc<Outgoing>> {
        match self.rx.try_recv() {
            Ok(msg) => {
                self.shared.release(&msg);
                Some(msg)
            }
            Err(_) => self.shared.take_snapshot(),
        }
    }

    /// Why the session is being closed, once it is.
    pub fn kick_reason(&self) -> Option<ErrorCode> {
        self.shared.kick_reason()
    }

    /// Snapshots that were replaced by a newer one before being written.
    pub fn snapshots_replaced(&self) -> u64 {
        self.shared.replaced.load(Ordering::Relaxed)
    }

    /// Bytes queued (charged as [`Outbound::send`] counts them).
    pub fn queued_bytes(&self) -> usize {
        self.shared.queued.load(Ordering::Acquire)
    }
}

impl Outbound {
    /// A queue for a connection that writes `format`, holding at most
    /// `max_bytes` of encoded messages (plus a small charge per message).
    pub fn channel(format: Format, max_bytes: usize) -> (Outbound, OutboundRx) {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            snapshot: Mutex::new(None),
            replaced: AtomicU64::new(0),
            kick: AtomicU16::new(0),
            writer: AtomicWaker::new(),
            format,
            queued: AtomicUsize::new(0),
            max: max_bytes,
        });
        let outbound = Outbound {
            tx,
            shared: shared.clone(),
        };
        (outbound, OutboundRx { rx, shared })
    }

    /// Queues a message without waiting; a snapshot replaces the one not
    /// yet written. Returns `false` when the session is gone or has just
    /// been kicked for a full queue.
    pub fn send(&self, msg: Arc<Outgoing>) -> bool {
        if self.tx.is_closed() {
            return false;
        }
        let shared = &self.shared;
        if matches!(msg.msg(), ServerMsg::Snapshot(_)) {
            let old = shared
                .snapshot
                .lock()
                .expect("snapshot slot lock is never poisoned")
                .replace(msg);
            if old.is_some() {
                shared.replaced.fetch_add(1, Ordering::Relaxed);
                crate::metrics::get().snapshots_dropped.increment(1);
            }
            shared.writer.wake();
            return true;
        }
        // Encodes now, on the room's thread, once per format for all
        // recipients: the cost must be known to bound the queue.
        let cost = shared.cost(&msg);
        let before = shared.queued.fetch_add(cost, Ordering::AcqRel);
        if before + cost > shared.max {
            shared.queued.fetch_sub(cost, Ordering::AcqRel);
            crate::metrics::get().outbound_queue_full.increment(1);
            if shared.kick_reason().is_none() {
                // Operators should see players evicted for reading slowly.
                tracing::info!(
                    queued_bytes = before,
                    "client too slow for its queue; disconnecting"
                );
            }
            self.kick(ErrorCode::SlowConsumer);
            return false;
        }
        if self.tx.send(msg).is_err() {
            shared.queued.fetch_sub(cost, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Queues a single message made for this session.
    pub fn send_msg(&self, msg: ServerMsg) -> bool {
        self.send(Outgoing::new(msg))
    }

    /// Asks the session's writer to close the connection with `reason`.
    /// The first reason given wins.
    pub fn kick(&self, reason: ErrorCode) {
        if self
            .shared
            .kick
            .compare_exchange(0, reason.code(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.shared.writer.wake();
        }
    }

    /// Whether the session's writer has stopped.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Why the session is being closed, once it is.
    pub fn kick_reason(&self) -> Option<ErrorCode> {
        self.shared.kick_reason()
    }

    /// Whether both are the same session's queue.
    pub fn same_queue(&self, other: &Outbound) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_kicks_instead_of_waiting() {
        // A pong is two bytes of postcard: two fit, a third does not.
        let (outbound, mut rx) = Outbound::channel(Format::Postcard, 2 * (2 + QUEUED_OVERHEAD));
        assert!(outbound.send_msg(ServerMsg::Pong { nonce: 1 }));
        assert!(outbound.send_msg(ServerMsg::Pong { nonce: 2 }));
        assert_eq!(rx.queued_bytes(), 2 * (2 + QUEUED_OVERHEAD));
        assert!(!outbound.send_msg(ServerMsg::Pong { nonce: 3 }));
        assert_eq!(rx.kicked().await, ErrorCode::SlowConsumer);
        assert!(matches!(
            rx.next().await,
            Next::Kicked(ErrorCode::SlowConsumer)
        ));
        assert_eq!(rx.try_recv().unwrap().msg(), &ServerMsg::Pong { nonce: 1 });
    }

    #[tokio::test]
    async fn a_waiting_writer_wakes_for_a_kick() {
        let (outbound, mut rx) = Outbound::channel(Format::Postcard, 1024);
        let writer = tokio::spawn(async move { rx.next().await });
        tokio::task::yield_now().await;
        outbound.kick(ErrorCode::ShuttingDown);
        assert!(matches!(
            writer.await.unwrap(),
            Next::Kicked(ErrorCode::ShuttingDown)
        ));
    }

    #[test]
    fn encodings_are_cached_per_format() {
        let out = Outgoing::new(ServerMsg::Pong { nonce: 5 });
        let a = out.encoded(Format::Json).as_ptr();
        assert_eq!(out.encoded(Format::Json).as_ptr(), a);
        assert_eq!(&out.encoded(Format::Json)[..], br#"{"pong":{"nonce":5}}"#);
    }

    fn sent(next: Next) -> Arc<Outgoing> {
        match next {
            Next::Send(out) => out,
            other => panic!("expected a message to send, got {other:?}"),
        }
    }

    fn snapshot(tick: u32) -> ServerMsg {
        ServerMsg::Snapshot(stadium_shared::snapshot::Snapshot {
            tick: stadium_shared::Tick(tick),
            baseline: None,
            last_input: 0,
            tick_hz: 30,
            changed: Vec::new(),
            motion: Vec::new(),
            removed: Vec::new(),
        })
    }

    #[tokio::test]
    async fn an_unread_snapshot_is_replaced_by_the_next_and_events_keep_their_order() {
        let (outbound, mut rx) = Outbound::channel(Format::Postcard, 4 * (2 + QUEUED_OVERHEAD));
        for tick in 1..=1_000 {
            assert!(outbound.send_msg(snapshot(tick)));
        }
        assert!(outbound.send_msg(ServerMsg::Pong { nonce: 1 }));
        assert!(outbound.send_msg(ServerMsg::Pong { nonce: 2 }));
        // A thousand snapshots never filled the four-pong queue.
        assert_eq!(rx.kick_reason(), None);
        assert_eq!(sent(rx.next().await).msg(), &ServerMsg::Pong { nonce: 1 });
        assert_eq!(sent(rx.next().await).msg(), &ServerMsg::Pong { nonce: 2 });
        assert_eq!(sent(rx.next().await).msg(), &snapshot(1_000));
        assert!(rx.try_recv().is_none());
        assert_eq!(rx.snapshots_replaced(), 999);
    }

    #[tokio::test]
    async fn a_waiting_writer_wakes_for_a_snapshot() {
        let (outbound, mut rx) = Outbound::channel(Format::Postcard, 1024);
        let writer = tokio::spawn(async move { sent(rx.next().await).msg().clone() });
        tokio::task::yield_now().await;
        outbound.send_msg(snapshot(7));
        assert_eq!(writer.await.unwrap(), snapshot(7));
    }
}
