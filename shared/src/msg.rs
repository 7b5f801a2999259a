//! The messages of the protocol.
//!
//! A client sends [`ClientMsg`]s; the server answers with [`ServerMsg`]s,
//! either replies to one session or [`Event`]s published on a [`Channel`].
//! Enums are externally tagged with snake-case names, which postcard encodes
//! by variant index and JSON as `{"variant": {...}}` (or `"variant"` for
//! variants without data).

use serde::{Deserialize, Serialize};

use crate::asteroids::{AsteroidsEvent, AsteroidsProgress, AsteroidsSettings};
use crate::error::ErrorCode;
use crate::ids::{Channel, RoomCode, SessionId, Tick};
use crate::snapshot::Snapshot;
use crate::trivia::{Difficulty, TriviaSettings};

/// What a client sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientMsg {
    /// First message of every connection. Its layout is frozen across
    /// protocol versions so that any server can read `version`.
    Hello {
        /// The client's [`PROTOCOL_VERSION`](crate::PROTOCOL_VERSION).
        version: u16,
        /// Display name, 1 to 20 characters, no control characters.
        nickname: String,
    },
    /// Ask for the list of open rooms.
    ListRooms,
    /// Open a new room; the server answers [`ServerMsg::RoomCreated`]. The
    /// creator still has to join it; the first player to join hosts it.
    CreateRoom {
        /// The game and its settings.
        settings: GameSettings,
    },
    /// Join a room by its code, as a player or a spectator.
    JoinRoom {
        /// The room's code as the user typed it.
        code: String,
        /// Watch without playing.
        #[serde(default)]
        spectate: bool,
    },
    /// Join any open room of a game, or a new one if none has a free seat.
    QuickJoin {
        /// The game to play.
        game: GameKind,
    },
    /// Leave the current room. Harmless when not in one.
    LeaveRoom,
    /// The host starts the match without waiting for the countdown.
    StartMatch,
    /// A trivia answer.
    Answer {
        /// Index of the question in the match, as sent in the question.
        question: u16,
        /// Index of the chosen answer, 0 to 3.
        choice: u8,
    },
    /// A real-time game input.
    Input(Input),
    /// A chat line for the current room.
    Chat {
        /// The text, at most the server's chat limit in characters.
        text: String,
    },
    /// Round-trip probe; the server answers [`ServerMsg::Pong`] at once.
    Ping {
        /// Echoed back unchanged.
        nonce: u64,
    },
    /// The newest snapshot the client has reconstructed; the server sends
    /// later snapshots as deltas against it.
    Ack {
        /// The snapshot's tick.
        tick: Tick,
    },
    /// Sent after the hello of a new connection: take back the session
    /// `session` (its seat, its room) with the token its welcome carried.
    /// The server answers [`ServerMsg::Resumed`] and then replays the room
    /// events numbered after `last_event_seq`; a connection still holding
    /// the session is closed with [`ErrorCode::SessionReplaced`].
    Resume {
        /// The session to take back.
        session: SessionId,
        /// Its resume token, exactly as the welcome gave it.
        token: String,
        /// The `seq` of the newest room event the client received, 0 for
        /// none.
        last_event_seq: u64,
    },
}

/// One sample of a player's controls in a real-time game.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// Increases by one per input; echoed in snapshots.
    pub seq: u32,
    /// Turn rate, -1 (left) to 1 (right).
    pub turn: f32,
    /// Engine on.
    pub thrust: bool,
    /// Trigger held.
    pub fire: bool,
}

impl Input {
    /// Checks the values a client controls; decoding calls this so that no
    /// invalid input reaches a room.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !self.turn.is_finite() {
            return Err("turn is not finite");
        }
        if !(-1.0..=1.0).contains(&self.turn) {
            return Err("turn outside [-1, 1]");
        }
        Ok(())
    }
}

/// The games a server hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GameKind {
    /// Timed multiple-choice quiz.
    Trivia,
    /// A wrapping arena of ships, rocks and bullets.
    Asteroids,
}

impl GameKind {
    /// The game's name as used in URLs, flags and JSON.
    pub fn name(self) -> &'static str {
        match self {
            GameKind::Trivia => "trivia",
            GameKind::Asteroids => "asteroids",
        }
    }
}

/// A game and its settings, as given when creating a room.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GameSettings {
    /// A trivia room.
    Trivia(TriviaSettings),
    /// An Asteroids room.
    Asteroids(AsteroidsSettings),
}

impl GameSettings {
    /// The game these settings are for.
    pub fn game(&self) -> GameKind {
        match self {
            GameSettings::Trivia(_) => GameKind::Trivia,
            GameSettings::Asteroids(_) => GameKind::Asteroids,
        }
    }
}

/// Where a room is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomState {
    /// Waiting for players; a match has not started.
    Lobby,
    /// A match is being played.
    Running,
    /// A match ended; standings are shown before the next one.
    Finished,
    /// The room no longer accepts anyone.
    Closed,
}

/// How a session takes part in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Plays the game.
    Player,
    /// Receives the room's channels without playing.
    Spectator,
}

/// A room as listed in the lobby.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    /// Join code.
    pub code: RoomCode,
    /// The game played.
    pub game: GameKind,
    /// Seated players.
    pub players: u16,
    /// Seats.
    pub max_players: u16,
    /// Spectators watching.
    pub spectators: u16,
    /// Lifecycle state.
    pub state: RoomState,
}

/// Someone in a room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Their session.
    pub session: SessionId,
    /// Their nickname.
    pub nickname: String,
    /// Player or spectator.
    pub role: Role,
}

/// What the server sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerMsg {
    /// Answer to a valid hello.
    Welcome {
        /// The session's id for the life of the connection.
        session: SessionId,
        /// The server's protocol version.
        version: u16,
        /// Server software and version.
        server: String,
        /// A secret for [`ClientMsg::Resume`]: 32 hex digits (128 random
        /// bits). Sent only to this connection, never broadcast or logged.
        resume_token: String,
    },
    /// Answer to [`ClientMsg::ListRooms`].
    RoomList {
        /// Rooms that are open.
        rooms: Vec<RoomInfo>,
    },
    /// Answer to [`ClientMsg::CreateRoom`].
    RoomCreated {
        /// The new room.
        room: RoomInfo,
    },
    /// The session entered a room.
    Joined {
        /// The room.
        room: RoomInfo,
        /// How the session takes part.
        role: Role,
        /// Everyone in the room, the session included.
        members: Vec<Member>,
        /// The room's host, if present.
        host: Option<SessionId>,
    },
    /// The session is no longer in a room.
    Left {
        /// The room it left.
        code: RoomCode,
        /// Why, when the session did not ask to leave.
        reason: Option<ErrorCode>,
    },
    /// An event published on a channel the session receives.
    Event {
        /// The channel.
        channel: Channel,
        /// What happened.
        event: Event,
        /// For a room's channels (room, presence, chat): the event's number
        /// in the room, one more than the previous event, the same for every
        /// member. `None` on the lobby channel. A resuming client names the
        /// newest it saw.
        #[serde(default)]
        seq: Option<u64>,
    },
    /// The session's answer was recorded.
    AnswerAccepted {
        /// The question answered.
        question: u16,
        /// Time from the question being sent to the answer being received,
        /// as measured by the server.
        elapsed_ms: u32,
    },
    /// A request was refused.
    Error {
        /// Stable code.
        code: ErrorCode,
        /// Readable detail.
        message: String,
    },
    /// Answer to [`ClientMsg::Ping`].
    Pong {
        /// The ping's nonce.
        nonce: u64,
    },
    /// The arena's state at one tick, for this session. Unreliable: over
    /// QUIC it travels as a datagram when it fits one.
    Snapshot(Snapshot),
    /// Answer to [`ClientMsg::Resume`]: this connection now is `session`.
    /// When it has a seat, the room's events numbered after the resume's
    /// `last_event_seq` follow, in order, up to `event_seq`; an arena
    /// player's next snapshot is a full one.
    Resumed {
        /// The session taken back.
        session: SessionId,
        /// The room it sits in, if any.
        room: Option<RoomInfo>,
        /// How it takes part in that room.
        role: Role,
        /// Everyone in the room, the session included.
        members: Vec<Member>,
        /// The room's host, if present.
        host: Option<SessionId>,
        /// The number of the room's newest event, the last one replayed.
        event_seq: u64,
        /// Events the client missed that the room no longer keeps, and so
        /// are not replayed (0 when the replay is complete).
        events_skipped: u64,
    },
    /// Where the room's game stands, for a session that arrives part-way:
    /// sent after [`ServerMsg::Joined`], and after the events replayed
    /// after [`ServerMsg::Resumed`], whenever something under way began
    /// before the session's first event (a start countdown, an open
    /// question, a match clock).
    Progress(Progress),
}

impl ServerMsg {
    /// An error message with the code's own text.
    pub fn error(code: ErrorCode) -> Self {
        Self::Error {
            code,
            message: code.message().to_owned(),
        }
    }

    /// An error message with more detail than the code's text.
    pub fn error_with(code: ErrorCode, detail: impl std::fmt::Display) -> Self {
        crate::error::Refusal::with(code, detail).into()
    }
}

/// Something that happened, published on a [`Channel`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Lobby: a room opened.
    RoomOpened(RoomInfo),
    /// Lobby: a room's players or state changed.
    RoomUpdated(RoomInfo),
    /// Lobby: a room closed.
    RoomClosed {
        /// The room's code.
        code: RoomCode,
    },
    /// Presence: someone entered the room.
    MemberJoined(Member),
    /// Presence: someone left the room.
    MemberLeft {
        /// Their session.
        session: SessionId,
        /// Their nickname.
        nickname: String,
    },
    /// Presence: the room has a new host.
    HostChanged {
        /// The new host.
        session: SessionId,
    },
    /// Chat: a line from a member.
    Chat {
        /// Sender.
        from: SessionId,
        /// Sender's nickname.
        nickname: String,
        /// The text.
        text: String,
    },
    /// Room: the room's lifecycle state changed.
    StateChanged(RoomState),
    /// Room: a trivia event.
    Trivia(TriviaEvent),
    /// Room: an Asteroids event.
    Asteroids(AsteroidsEvent),
}

/// The events of a trivia match, in the order they happen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriviaEvent {
    /// The match starts after this delay unless the room fills first.
    Countdown {
        /// Milliseconds until the start.
        starts_in_ms: u32,
    },
    /// The countdown stopped (fewer than two players).
    CountdownCancelled,
    /// A match began.
    MatchStarted {
        /// Match number in this room, from 1.
        number: u32,
        /// Questions in the match.
        questions: u16,
    },
    /// A question is open. The correct choice is not part of it.
    Question(OpenQuestion),
    /// The question closed: the right choice and everyone's result.
    Reveal {
        /// Index of the question.
        index: u16,
        /// Index of the correct choice.
        correct: u8,
        /// Each player's answer and points.
        results: Vec<AnswerResult>,
        /// Totals after this question, best first.
        scoreboard: Vec<Score>,
    },
    /// The match ended.
    MatchOver {
        /// Match number in this room.
        number: u32,
        /// Final totals, best first.
        standings: Vec<Score>,
    },
}

/// A trivia question as players are shown it, without its correct choice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenQuestion {
    /// Index of the question in the match, from 0.
    pub index: u16,
    /// Questions in the match.
    pub total: u16,
    /// Category.
    pub category: String,
    /// Difficulty.
    pub difficulty: Difficulty,
    /// The question.
    pub text: String,
    /// The four choices, in the order the room shuffled them.
    pub choices: [String; 4],
    /// Time allowed to answer, in milliseconds.
    pub time_ms: u32,
}

/// Where a room's game stands, for a session arriving part-way (see
/// [`ServerMsg::Progress`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    /// A trivia room.
    Trivia(TriviaProgress),
    /// An arena whose match runs.
    Asteroids(AsteroidsProgress),
}

/// Where a trivia room stands. Like the question event, it never holds an
/// open question's correct choice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TriviaProgress {
    /// Milliseconds until the next match starts, when a countdown runs.
    pub starts_in_ms: Option<u32>,
    /// The open question, if one is.
    pub question: Option<OpenQuestion>,
    /// Milliseconds left to answer `question`, of its `time_ms`.
    pub left_ms: u32,
    /// Totals after the match's newest reveal, best first; empty before
    /// its first and between matches.
    pub scoreboard: Vec<Score>,
}

/// One player's result for one question.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerResult {
    /// The player.
    pub session: SessionId,
    /// The choice made, if any.
    pub choice: Option<u8>,
    /// Whether it was right.
    pub correct: bool,
    /// Server-measured answer time.
    pub elapsed_ms: Option<u32>,
    /// Points awarded.
    pub points: u32,
}

/// A player's total in a match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// The player.
    pub session: SessionId,
    /// Their nickname.
    pub nickname: String,
    /// Points so far.
    pub score: u32,
    /// Correct answers so far.
    pub correct: u16,
}
