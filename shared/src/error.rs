//! Stable error codes the server sends in [`ServerMsg::Error`](crate::ServerMsg::Error).
//!
//! Codes never change meaning once released; clients may switch on them.
//! Thousands group them: 1xxx connection and protocol, 2xxx session,
//! 3xxx lobby and rooms, 4xxx game play, 5xxx chat, 6xxx server.

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, $message:literal; )*) => {
        /// Why the server refused something a client did.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(into = "u16", try_from = "u16")]
        #[repr(u16)]
        pub enum ErrorCode {
            $( $(#[$doc])* $name = $code, )*
        }

        impl ErrorCode {
            /// Every code, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name,)*];

            /// The code's number.
            pub fn code(self) -> u16 {
                self as u16
            }

            /// A short, readable description of the code.
            pub fn message(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => $message,)*
                }
            }
        }

        impl TryFrom<u16> for ErrorCode {
            type Error = String;

            fn try_from(code: u16) -> Result<Self, Self::Error> {
                match code {
                    $($code => Ok(ErrorCode::$name),)*
                    other => Err(format!("unknown error code {other}")),
                }
            }
        }
    };
}

error_codes! {
    /// The client speaks another protocol version.
    VersionMismatch = 1000, "protocol version mismatch";
    /// A message could not be decoded.
    Malformed = 1001, "malformed message";
    /// A frame is longer than the server accepts.
    FrameTooLarge = 1002, "frame too large";
    /// The first message must be a hello.
    HelloRequired = 1003, "hello required first";
    /// A second hello on the same connection.
    AlreadyGreeted = 1004, "hello already received";
    /// An input's values are not finite or out of range.
    InvalidInput = 1005, "invalid input values";
    /// The nickname is empty, too long or has control characters.
    InvalidNickname = 2000, "invalid nickname";
    /// The client sends faster than its limit.
    RateLimited = 2001, "rate limited";
    /// The client read too slowly and its queue filled up.
    SlowConsumer = 2002, "outbound queue full";
    /// The client kept sending what the server refuses (bad frames, limits).
    TooManyRefusals = 2003, "too many refused messages";
    /// A resume named an unknown session, a wrong token, or a seat that is
    /// gone.
    ResumeRefused = 2004, "resume refused";
    /// The session was resumed on a newer connection.
    SessionReplaced = 2005, "session resumed on another connection";
    /// A resume asked for events after the room's newest one.
    ReplayRange = 2006, "no such events to replay";
    /// No open room has that code.
    RoomNotFound = 3000, "room not found";
    /// The room has no free seat.
    RoomFull = 3001, "room full";
    /// The session is already in a room; leave it first.
    AlreadyInRoom = 3002, "already in a room";
    /// The request needs a room and the session is in none.
    NotInRoom = 3003, "not in a room";
    /// Room settings are outside the server's limits.
    InvalidSettings = 3004, "invalid room settings";
    /// The server hosts as many rooms as it allows.
    TooManyRooms = 3005, "too many rooms";
    /// Only the room's host may do that.
    NotHost = 3006, "only the host may do that";
    /// The room's match is already running.
    MatchRunning = 3007, "match already running";
    /// The message does not apply to this room's game.
    WrongGame = 3008, "not valid for this game";
    /// The room cannot accept players in its current state.
    RoomClosing = 3009, "room is closing";
    /// Spectators watch; they cannot play.
    SpectatorCannotPlay = 4000, "spectators cannot play";
    /// The answer arrived after the question's deadline.
    AnswerLate = 4001, "answer after the deadline";
    /// The player already answered this question.
    AnswerRepeated = 4002, "question already answered";
    /// The answer names a question that is not the open one.
    AnswerForeign = 4003, "no such open question";
    /// The answer names a choice that does not exist.
    InvalidChoice = 4004, "no such choice";
    /// A chat message is empty.
    ChatEmpty = 5000, "chat message empty";
    /// A chat message is longer than allowed.
    ChatTooLong = 5001, "chat message too long";
    /// The server is full.
    ServerFull = 6000, "server full";
    /// The server is shutting down.
    ShuttingDown = 6001, "server shutting down";
    /// The room ended because of an internal fault.
    RoomFailed = 6002, "room failed";
    /// The client's address has as many connections open as allowed.
    TooManyConnections = 6003, "too many connections from this address";
}

/// The longest detail a refusal carries, in characters.
pub const MAX_DETAIL_CHARS: usize = 160;

/// A refused request: the code and a readable message, as carried by
/// [`ServerMsg::Error`](crate::ServerMsg::Error).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} (code {})", code.code())]
pub struct Refusal {
    /// Stable code.
    pub code: ErrorCode,
    /// Readable detail.
    pub message: String,
}

impl Refusal {
    /// A refusal with the code's own text.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            message: code.message().to_owned(),
        }
    }

    /// A refusal with more detail than the code's text.
    ///
    /// Details often quote what the client sent; they are cut to
    /// [`MAX_DETAIL_CHARS`] so that a refusal is never larger than a few
    /// hundred bytes, whatever the request was.
    pub fn with(code: ErrorCode, detail: impl std::fmt::Display) -> Self {
        let mut detail = detail.to_string();
        if let Some((cut, _)) = detail.char_indices().nth(MAX_DETAIL_CHARS) {
            detail.truncate(cut);
            detail.push('…');
        }
        Self {
            code,
            message: format!("{}: {detail}", code.message()),
        }
    }
}

impl From<Refusal> for crate::ServerMsg {
    fn from(refusal: Refusal) -> Self {
        crate::ServerMsg::Error {
            code: refusal.code,
            message: refusal.message,
        }
    }
}

impl From<ErrorCode> for u16 {
    fn from(code: ErrorCode) -> Self {
        code.code()
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_quote_at_most_a_bounded_detail() {
        let huge = "é".repeat(100_000);
        let refusal = Refusal::with(ErrorCode::RoomNotFound, &huge);
        assert!(refusal.message.starts_with("room not found: éé"));
        assert_eq!(
            refusal.message.chars().count(),
            "room not found: ".len() + MAX_DETAIL_CHARS + 1
        );
        assert_eq!(
            Refusal::with(ErrorCode::Malformed, "short").message,
            "malformed message: short"
        );
    }

    #[test]
    fn codes_round_trip_through_their_numbers() {
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::try_from(code.code()), Ok(code));
            assert!(!code.message().is_empty());
        }
        assert_eq!(ErrorCode::RoomNotFound.code(), 3000);
        assert!(ErrorCode::try_from(1).is_err());
    }
}
