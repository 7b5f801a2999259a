//! A session's bounded outbound queue.
//!
//! Rooms and the lobby push messages with [`Outbound::send`], which never
//! waits: when a client reads too slowly for its queue to drain, the client
//! is kicked with [`ErrorCode::SlowConsumer`] instead of slowing the room.
//! Messages are encoded lazily, once per wire format, by whichever session
//! writer gets to them first, so a broadcast to a hundred players encodes at
//! most twice.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use stadium_shared::codec::{self, Format};
use stadium_shared::{ErrorCode, ServerMsg};
use tokio::sync::{Notify, mpsc};

/// A message on its way to one or more sessions.
#[derive(Debug)]
pub struct Outgoing {
    msg: ServerMsg,
    postcard: OnceLock<Bytes>,
    json: OnceLock<Bytes>,
}

impl Outgoing {
    /// Wraps a message for delivery.
    pub fn new(msg: ServerMsg) -> Arc<Self> {
        Arc::new(Self {
            msg,
            postcard: OnceLock::new(),
            json: OnceLock::new(),
        })
    }

    /// The message.
    pub fn msg(&self) -> &ServerMsg {
        &self.msg
    }

    /// The message encoded in `format`, encoding it on first use.
    pub fn encoded(&self, format: Format) -> &Bytes {
        let cell = match format {
            Format::Postcard => &self.postcard,
            Format::Json => &self.json,
        };
        cell.get_or_init(|| Bytes::from(codec::encode(&self.msg, format)))
    }
}

/// Why a connection is being closed by the server.
#[derive(Debug, Default)]
pub struct Kick {
    reason: AtomicU16,
    notify: Notify,
}

impl Kick {
    /// Asks the session's writer to close the connection with `reason`.
    /// The first reason given wins.
    pub fn kick(&self, reason: ErrorCode) {
        if self
            .reason
            .compare_exchange(0, reason.code(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.notify.notify_one();
        }
    }

    /// The reason, once kicked.
    pub fn reason(&self) -> Option<ErrorCode> {
        ErrorCode::try_from(self.reason.load(Ordering::Acquire)).ok()
    }

    /// Resolves once [`Kick::kick`] has been called.
    pub async fn kicked(&self) -> ErrorCode {
        loop {
            let notified = self.notify.notified();
            if let Some(reason) = self.reason() {
                return reason;
            }
            notified.await;
        }
    }
}

/// The sending half of a session's queue; cheap to clone.
#[derive(Clone, Debug)]
pub struct Outbound {
    tx: mpsc::Sender<Arc<Outgoing>>,
    kick: Arc<Kick>,
}

/// The receiving half, owned by the session's writer.
pub struct OutboundRx {
    /// Queued messages.
    pub rx: mpsc::Receiver<Arc<Outgoing>>,
    /// Set when the server drops the session.
    pub kick: Arc<Kick>,
}

impl Outbound {
    /// A queue holding at most `capacity` messages.
    pub fn channel(capacity: usize) -> (Outbound, OutboundRx) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let kick = Arc::new(Kick::default());
        (
            Outbound {
                tx,
                kick: kick.clone(),
            },
            OutboundRx { rx, kick },
        )
    }

    /// Queues a message without waiting. Returns `false` when the session is
    /// gone or has just been kicked for a full queue.
    pub fn send(&self, msg: Arc<Outgoing>) -> bool {
        match self.tx.try_send(msg) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.kick.kick(ErrorCode::SlowConsumer);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Queues a single message made for this session.
    pub fn send_msg(&self, msg: ServerMsg) -> bool {
        self.send(Outgoing::new(msg))
    }

    /// Closes the session's connection with `reason`.
    pub fn kick(&self, reason: ErrorCode) {
        self.kick.kick(reason);
    }

    /// Whether the session's writer has stopped.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_kicks_instead_of_waiting() {
        let (outbound, mut rx) = Outbound::channel(2);
        assert!(outbound.send_msg(ServerMsg::Pong { nonce: 1 }));
        assert!(outbound.send_msg(ServerMsg::Pong { nonce: 2 }));
        assert!(!outbound.send_msg(ServerMsg::Pong { nonce: 3 }));
        assert_eq!(rx.kick.kicked().await, ErrorCode::SlowConsumer);
        assert_eq!(
            rx.rx.recv().await.unwrap().msg(),
            &ServerMsg::Pong { nonce: 1 }
        );
    }

    #[test]
    fn encodings_are_cached_per_format() {
        let out = Outgoing::new(ServerMsg::Pong { nonce: 5 });
        let a = out.encoded(Format::Json).as_ptr();
        assert_eq!(out.encoded(Format::Json).as_ptr(), a);
        assert_eq!(&out.encoded(Format::Json)[..], br#"{"pong":{"nonce":5}}"#);
    }
}
