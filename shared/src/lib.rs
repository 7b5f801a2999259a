//! The language Stadium's server and clients speak.
//!
//! Everything a client needs to talk to a Stadium server lives here and
//! nothing else: the message enums ([`ClientMsg`], [`ServerMsg`]), their
//! encoding ([`codec`]: postcard for native clients, JSON for browsers), the
//! length-prefixed framing used on QUIC streams ([`frame`]), ids and ticks
//! ([`ids`]), stable error codes ([`error`]), the trivia rules a client
//! needs to understand what it is shown ([`trivia`]), and the arena rules
//! and snapshots an Asteroids client predicts and reconstructs with
//! ([`asteroids`], [`snapshot`]).
//!
//! The protocol is versioned by [`PROTOCOL_VERSION`]. Postcard is not
//! self-describing, so the first message of every connection is
//! [`ClientMsg::Hello`], whose layout never changes: a server can always
//! read the client's version and refuse it with an error naming both.

pub mod asteroids;
pub mod bits;
pub mod codec;
pub mod error;
pub mod frame;
pub mod fuzzing;
pub mod ids;
pub mod msg;
pub mod snapshot;
pub mod trivia;

pub use codec::DecodeError;
pub use error::{ErrorCode, Refusal};
pub use ids::{Channel, RoomCode, SessionId, Tick};
pub use msg::*;

/// Version of the wire protocol; bumped on every incompatible change.
pub const PROTOCOL_VERSION: u16 = 1;

/// The largest frame (one encoded message) either side accepts, in bytes.
pub const MAX_FRAME_LEN: usize = 64 * 1024;

/// The WebSocket subprotocol a client names to speak JSON text instead of
/// binary postcard.
pub const JSON_SUBPROTOCOL: &str = "stadium.json";

/// ALPN protocol id for QUIC connections.
pub const QUIC_ALPN: &[u8] = b"stadium/1";
