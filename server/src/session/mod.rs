//! Sessions: one connected client, whatever its transport.
//!
//! A [`Session`] is created by a valid hello and handles every later
//! message: lobby requests, joining and leaving rooms, and forwarding
//! answers, inputs and chat to the session's room. It enforces the limits a
//! client controls (nickname, chat length and rate, message rate) and
//! answers each refusal with an error code. Dropping it leaves its room,
//! or, for a player whose connection dropped, keeps the seat for the
//! resume grace period (see [`resume`]).

pub mod outbound;
pub mod resume;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stadium_shared::asteroids::AsteroidsSettings;
use stadium_shared::trivia::TriviaSettings;
use stadium_shared::{
    ClientMsg, DecodeError, ErrorCode, GameKind, GameSettings, PROTOCOL_VERSION, Refusal, Role,
    RoomCode, ServerMsg, SessionId,
};

use crate::config::Config;
use crate::lobby::Lobby;
use crate::room::{GameCommand, RoomCommand, RoomHandle};
use outbound::Outbound;
use resume::{Claim, Released, Resumable};

/// How long a session waits for a room to answer a join.
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Rooms a `list_rooms` reply names at most; `/api/rooms` lists them all.
pub const MAX_LISTED_ROOMS: usize = 256;

/// Room actions (join, leave, create, list) per second, and their burst.
const ROOM_ACTIONS_PER_SEC: f64 = 2.0;
const ROOM_ACTIONS_BURST: f64 = 8.0;

/// Rooms a quick join tries before giving up.
const QUICK_JOIN_TRIES: u8 = 2;

/// A join sent to a room whose answer has not come back yet.
struct PendingJoin {
    answer: tokio::sync::oneshot::Receiver<Result<(), ErrorCode>>,
    /// For a quick join: its game and the tries left, counting this one.
    quick: Option<(GameKind, u8)>,
    /// Whether this takes back a seat rather than a new one.
    resume: bool,
    deadline: tokio::time::Instant,
}

/// State shared by every connection.
pub struct ServerState {
    /// The configuration the server started with.
    pub config: Config,
    /// Rooms and the lobby channel.
    pub lobby: Arc<Lobby>,
    /// SHA-256 of the QUIC certificate, hex.
    pub cert_sha256: String,
    sessions: Mutex<HashMap<SessionId, Outbound>>,
    /// Open connections per address, greeted or not.
    connections: Mutex<HashMap<IpAddr, usize>>,
    /// Datagrams to the QUIC port that could not be QUIC, dropped.
    pub datagrams_dropped: Arc<AtomicU64>,
    next_session: AtomicU64,
    /// Sessions that can be taken back with their token.
    resumable: resume::Registry,
}

/// One open connection counted against its address's limit; dropping it
/// frees the place.
pub struct ConnectionPermit {
    state: Arc<ServerState>,
    address: IpAddr,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut connections = self.state.connections();
        if let Some(open) = connections.get_mut(&self.address) {
            *open -= 1;
            if *open == 0 {
                connections.remove(&self.address);
            }
        }
    }
}

impl ServerState {
    /// Shared state for a server.
    pub fn new(
        config: Config,
        lobby: Arc<Lobby>,
        cert_sha256: String,
        datagrams_dropped: Arc<AtomicU64>,
    ) -> Arc<Self> {
        Arc::new(Self {
            config,
            lobby,
            cert_sha256,
            sessions: Mutex::new(HashMap::new()),
            connections: Mutex::new(HashMap::new()),
            datagrams_dropped,
            next_session: AtomicU64::new(1),
            resumable: resume::Registry::default(),
        })
    }

    /// Connected sessions.
    pub fn session_count(&self) -> usize {
        self.sessions
            .lock()
            .expect("session lock is never poisoned")
            .len()
    }

    /// Counts a new connection from `address`, or refuses it when that
    /// address has as many open as the configuration allows.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Result<ConnectionPermit, Refusal> {
        let max = self.config.max_connections_per_address;
        let mut connections = self.connections();
        let open = connections.entry(address).or_default();
        if *open >= max {
            if *open == 0 {
                connections.remove(&address);
            }
            crate::metrics::get().connections_refused.increment(1);
            let detail = format!("at most {max} per address");
            return Err(Refusal::with(ErrorCode::TooManyConnections, detail));
        }
        *open += 1;
        drop(connections);
        Ok(ConnectionPermit {
            state: self.clone(),
            address,
        })
    }

    /// Open connections, greeted or not, from every address.
    pub fn connection_count(&self) -> usize {
        self.connections().values().sum()
    }

    fn connections(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.connections
            .lock()
            .expect("connection lock is never poisoned")
    }

    /// Disconnects every session with `reason`.
    pub fn kick_all(&self, reason: ErrorCode) {
        for outbound in self
            .sessions
            .lock()
            .expect("session lock is never poisoned")
            .values()
        {
            outbound.send_msg(ServerMsg::error(reason));
            outbound.kick(reason);
        }
    }
}

/// Whether the connection goes on after a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// Close the connection.
    Close,
}

/// A greeted client.
pub struct Session {
    id: SessionId,
    nickname: String,
    state: Arc<ServerState>,
    outbound: Outbound,
    room: Option<RoomHandle>,
    joining: Option<PendingJoin>,
    /// How the session takes part in its room, or asked to.
    role: Role,
    messages: TokenBucket,
    chat: TokenBucket,
    /// Joins, leaves, creates and listings: each reaches many others
    /// (presence, the lobby), so they have a budget of their own.
    room_actions: TokenBucket,
    inputs: TokenBucket,
    strikes: u32,
    /// Where the client connected from.
    address: IpAddr,
    /// Set when the connection ends for a reason that gives up the seat
    /// (refused frames, shutdown) rather than a dropped network.
    forfeit: bool,
}

impl Session {
    /// Checks a connection's first message. On success the client has been
    /// welcomed; on failure the returned message says why it is refused.
    pub fn greet(
        state: &Arc<ServerState>,
        first: ClientMsg,
        outbound: Outbound,
        address: IpAddr,
    ) -> Result<Session, Refusal> {
        let ClientMsg::Hello { version, nickname } = first else {
            return Err(Refusal::new(ErrorCode::HelloRequired));
        };
        if version != PROTOCOL_VERSION {
            let detail = format!("server speaks version {PROTOCOL_VERSION}, client sent {version}");
            return Err(Refusal::with(ErrorCode::VersionMismatch, detail));
        }
        let max = state.config.nickname_max_chars;
        let nickname = valid_nickname(&nickname, max).ok_or_else(|| {
            let rule = format!("1 to {max} characters, no control characters");
            Refusal::with(ErrorCode::InvalidNickname, rule)
        })?;
        let id = SessionId(state.next_session.fetch_add(1, Ordering::Relaxed));
        {
            let mut sessions = state
                .sessions
                .lock()
                .expect("session lock is never poisoned");
            if sessions.len() >= state.config.max_sessions {
                return Err(Refusal::new(ErrorCode::ServerFull));
            }
            sessions.insert(id, outbound.clone());
        }
        let token = resume::new_token();
        state.resumable.insert(
            id,
            Resumable::new(token.clone(), &nickname, &outbound, address),
        );
        let config = &state.config;
        let session = Session {
            id,
            nickname,
            state: state.clone(),
            outbound: outbound.clone(),
            room: None,
            joining: None,
            messages: TokenBucket::new(config.msgs_per_sec, config.msgs_per_sec * 2.0),
            chat: TokenBucket::new(config.chat_per_sec, 5.0),
            room_actions: TokenBucket::new(ROOM_ACTIONS_PER_SEC, ROOM_ACTIONS_BURST),
            inputs: TokenBucket::new(config.inputs_per_sec, config.inputs_per_sec * 2.0),
            role: Role::Player,
            strikes: 0,
            address,
            forfeit: false,
        };
        outbound.send_msg(ServerMsg::Welcome {
            session: id,
            version: PROTOCOL_VERSION,
            server: concat!("stadium-server/", env!("CARGO_PKG_VERSION")).to_owned(),
            resume_token: token,
        });
        state.lobby.subscribe(id, outbound);
        tracing::debug!(session = %id, nickname = %session.nickname, "session started");
        Ok(session)
    }

    /// This session's id.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// Marks the session as giving up its seat when it ends.
    pub fn forfeit(&mut self) {
        self.forfeit = true;
    }

    /// Counts a message received at `received_at` against the message
    /// rate, before it is decoded: a flood costs no decoding. `Some` is
    /// the refusal's outcome when over the rate.
    pub fn admit(&mut self, received_at: Instant) -> Option<Flow> {
        if self.messages.take(received_at) {
            return None;
        }
        Some(self.refuse(ErrorCode::RateLimited, "too many messages per second"))
    }

    /// Handles one decoded message received at `received_at`.
    pub fn handle(&mut self, msg: ClientMsg, received_at: Instant) -> Flow {
        if self.outbound.kick_reason() == Some(ErrorCode::SessionReplaced) {
            // A newer connection holds this session now.
            return Flow::Continue;
        }
        if matches!(msg, ClientMsg::Input(_)) && !self.inputs.take(received_at) {
            return self.refuse(ErrorCode::RateLimited, "too many inputs per second");
        }
        let room_action = matches!(
            msg,
            ClientMsg::ListRooms
                | ClientMsg::CreateRoom { .. }
                | ClientMsg::JoinRoom { .. }
                | ClientMsg::QuickJoin { .. }
                | ClientMsg::LeaveRoom
                | ClientMsg::Resume { .. }
        );
        if room_action && !self.room_actions.take(received_at) {
            return self.refuse(ErrorCode::RateLimited, "too many room changes per second");
        }
        match msg {
            ClientMsg::Hello { .. } => return self.refuse(ErrorCode::AlreadyGreeted, ""),
            ClientMsg::Ping { nonce } => self.reply(ServerMsg::Pong { nonce }),
            ClientMsg::ListRooms => {
                // Bounded so that the reply always fits in one frame.
                let rooms = self
                    .state
                    .lobby
                    .list()
                    .into_iter()
                    .take(MAX_LISTED_ROOMS)
                    .collect();
                self.reply(ServerMsg::RoomList { rooms })
            }
            ClientMsg::CreateRoom { settings } => {
                match self.state.lobby.create(settings, self.id, self.address) {
                    Ok(room) => self.reply(ServerMsg::RoomCreated { room }),
                    Err(refusal) => self.reply(refusal.into()),
                }
            }
            ClientMsg::JoinRoom { code, spectate } => {
                let role = if spectate {
                    Role::Spectator
                } else {
                    Role::Player
                };
                let Some(handle) = RoomCode::parse(&code).and_then(|c| self.state.lobby.find(&c))
                else {
                    let detail = format!("no open room has code {:?}", code.trim());
                    self.reply(ServerMsg::error_with(ErrorCode::RoomNotFound, detail));
                    return Flow::Continue;
                };
                if let Err(code) = self.join(handle, role, None) {
                    self.reply(ServerMsg::error(code));
                }
            }
            ClientMsg::QuickJoin { game } => self.quick_join(game, QUICK_JOIN_TRIES),
            ClientMsg::LeaveRoom => self.leave(),
            ClientMsg::StartMatch => self.forward(GameCommand::Start),
            ClientMsg::Answer { question, choice } => self.forward(GameCommand::Answer {
                question,
                choice,
                received_at,
            }),
            ClientMsg::Input(input) => self.forward(GameCommand::Input(input)),
            ClientMsg::Ack { tick } => self.forward(GameCommand::Ack(tick)),
            ClientMsg::Chat { text } => return self.chat(text, received_at),
            ClientMsg::Resume {
                session,
                token,
                last_event_seq,
            } => return self.resume(session, &token, last_event_seq),
        }
        Flow::Continue
    }

    /// Reports a message that could not be decoded.
    pub fn decode_failed(&mut self, err: &DecodeError) -> Flow {
        self.refuse(err.code(), err.detail())
    }

    fn refuse(&mut self, code: ErrorCode, detail: impl std::fmt::Display) -> Flow {
        let detail = detail.to_string();
        if detail.is_empty() {
            self.reply(ServerMsg::error(code));
        } else {
            self.reply(ServerMsg::error_with(code, detail));
        }
        self.strikes += 1;
        if self.strikes >= self.state.config.max_strikes {
            tracing::warn!(session = %self.id, "too many refused messages; disconnecting");
            return Flow::Close;
        }
        Flow::Continue
    }

    fn reply(&self, msg: ServerMsg) {
        self.outbound.send_msg(msg);
    }

    /// The session's room, forgetting it if it closed.
    fn current_room(&mut self) -> Option<&RoomHandle> {
        if self.room.as_ref().is_some_and(RoomHandle::is_closed) {
            self.set_room(None);
            self.state.lobby.subscribe(self.id, self.outbound.clone());
        }
        self.room.as_ref()
    }

    /// Asks a room for a seat. The room answers on its next tick; until
    /// then the session goes on handling messages (a ping is answered at
    /// once) and [`Session::join_settled`] resolves with the answer.
    fn join(
        &mut self,
        handle: RoomHandle,
        role: Role,
        quick: Option<(GameKind, u8)>,
    ) -> Result<(), ErrorCode> {
        if self.current_room().is_some() {
            return Err(ErrorCode::AlreadyInRoom);
        }
        self.role = role;
        let (reply, answer) = tokio::sync::oneshot::channel();
        handle.send(RoomCommand::Join {
            session: self.id,
            nickname: self.nickname.clone(),
            role,
            outbound: self.outbound.clone(),
            reply,
        })?;
        // Recorded before the answer: what the session sends the room next
        // (answers, inputs, a leave, the drop's leave) is queued after the
        // join, so the room sees them in order.
        self.set_room(Some(handle));
        // Lobby news stops now, not when the room answers: the room's own
        // listing change would otherwise reach its new member.
        self.state.lobby.unsubscribe(self.id);
        let deadline = tokio::time::Instant::now() + JOIN_TIMEOUT;
        self.joining = Some(PendingJoin {
            answer,
            quick,
            deadline,
            resume: false,
        });
        Ok(())
    }

    /// Records the session's room where a resume can find it.
    fn set_room(&mut self, room: Option<RoomHandle>) {
        let seat = room.as_ref().map(|handle| (handle.clone(), self.role));
        self.state.resumable.set_room(self.id, seat);
        self.room = room;
    }

    /// Takes over `session` (see [`ClientMsg::Resume`]): this connection
    /// becomes that session, and any connection still holding it is closed.
    fn resume(&mut self, session: SessionId, token: &str, last_event_seq: u64) -> Flow {
        if self.room.is_some() || self.joining.is_some() {
            self.reply(ServerMsg::error(ErrorCode::AlreadyInRoom));
            return Flow::Continue;
        }
        if session == self.id {
            return self.refuse(
                ErrorCode::ResumeRefused,
                "this connection already holds that session",
            );
        }
        let claim =
            match self
                .state
                .resumable
                .claim(session, token, self.id, &self.outbound, self.address)
            {
                Ok(claim) => claim,
                Err(detail) => return self.refuse(ErrorCode::ResumeRefused, detail),
            };
        let Claim {
            nickname,
            room,
            previous,
        } = claim;
        if let Some(previous) = previous {
            previous.send_msg(ServerMsg::error(ErrorCode::SessionReplaced));
            previous.kick(ErrorCode::SessionReplaced);
        }
        {
            let mut sessions = self
                .state
                .sessions
                .lock()
                .expect("session lock is never poisoned");
            sessions.remove(&self.id);
            sessions.insert(session, self.outbound.clone());
        }
        self.state.lobby.unsubscribe(self.id);
        tracing::debug!(session = %session, replaced = %self.id, "session resumed");
        self.id = session;
        self.nickname = nickname;
        let Some((handle, role)) = room else {
            self.state.lobby.subscribe(session, self.outbound.clone());
            self.reply(ServerMsg::Resumed {
                session,
                room: None,
                role: Role::Player,
                members: Vec::new(),
                host: None,
                event_seq: 0,
                events_skipped: 0,
            });
            return Flow::Continue;
        };
        self.role = role;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let command = RoomCommand::Resume {
            session,
            outbound: self.outbound.clone(),
            last_event_seq,
            reply,
        };
        self.room = Some(handle.clone());
        if let Err(code) = handle.send(command) {
            self.finish_resume(code);
            return Flow::Continue;
        }
        self.joining = Some(PendingJoin {
            answer,
            quick: None,
            deadline: tokio::time::Instant::now() + JOIN_TIMEOUT,
            resume: true,
        });
        Flow::Continue
    }

    /// A room could not give the seat back: the session goes on, seatless.
    fn finish_resume(&mut self, code: ErrorCode) {
        self.set_room(None);
        self.state.lobby.subscribe(self.id, self.outbound.clone());
        let detail = format!("the seat is gone ({})", code.message());
        self.reply(ServerMsg::error_with(ErrorCode::ResumeRefused, detail));
    }

    /// Resolves when the room answers the pending join (never, when there
    /// is none). Cancel-safe; hand the result to [`Session::finish_join`].
    pub async fn join_settled(&mut self) -> Result<(), ErrorCode> {
        let Some(pending) = self.joining.as_mut() else {
            return std::future::pending().await;
        };
        match tokio::time::timeout_at(pending.deadline, &mut pending.answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) | Err(_) => Err(ErrorCode::RoomNotFound),
        }
    }

    /// Applies a room's answer to the pending join.
    pub fn finish_join(&mut self, result: Result<(), ErrorCode>) {
        let Some(pending) = self.joining.take() else {
            return;
        };
        let Err(code) = result else {
            return;
        };
        if pending.resume {
            return self.finish_resume(code);
        }
        // A room that answers after the deadline may still seat the
        // session; the leave, queued behind the join, frees the seat.
        if let Some(room) = self.room.take() {
            let _ = room.send(RoomCommand::Leave { session: self.id });
        }
        self.set_room(None);
        self.state.lobby.subscribe(self.id, self.outbound.clone());
        let missed = matches!(code, ErrorCode::RoomFull | ErrorCode::RoomNotFound);
        match pending.quick {
            // A room found open may fill or close before the join lands.
            Some((game, tries)) if missed && tries > 1 => self.quick_join(game, tries - 1),
            Some(_) if missed => self.reply(ServerMsg::error(ErrorCode::RoomFull)),
            _ => self.reply(ServerMsg::error(code)),
        }
    }

    fn quick_join(&mut self, game: GameKind, tries: u8) {
        // Checked before a room is opened for a session that cannot sit in it.
        if self.current_room().is_some() {
            return self.reply(ServerMsg::error(ErrorCode::AlreadyInRoom));
        }
        let handle = match self.state.lobby.open_room(game) {
            Some(handle) => handle,
            None => {
                let settings = match game {
                    GameKind::Trivia => GameSettings::Trivia(TriviaSettings::default()),
                    GameKind::Asteroids => GameSettings::Asteroids(AsteroidsSettings::default()),
                };
                let created = self.state.lobby.create(settings, self.id, self.address);
                match created.map(|info| self.state.lobby.find(&info.code)) {
                    Ok(Some(handle)) => handle,
                    Ok(None) => return self.reply(ServerMsg::error(ErrorCode::RoomNotFound)),
                    Err(refusal) => return self.reply(refusal.into()),
                }
            }
        };
        if let Err(code) = self.join(handle, Role::Player, Some((game, tries))) {
            self.reply(ServerMsg::error(code));
        }
    }

    fn leave(&mut self) {
        // A join still waiting for its answer is left too: the room reads
        // the leave after the join.
        self.joining = None;
        if let Some(room) = self.room.take() {
            let _ = room.send(RoomCommand::Leave { session: self.id });
            self.set_room(None);
            self.state.lobby.subscribe(self.id, self.outbound.clone());
        }
    }

    fn forward(&mut self, command: GameCommand) {
        // Refused here rather than in the room, so that spectators never
        // take room in its command queue.
        if self.role == Role::Spectator && self.room.is_some() {
            return self.reply(ServerMsg::error(ErrorCode::SpectatorCannotPlay));
        }
        let session = self.id;
        let Some(room) = self.current_room() else {
            return self.reply(ServerMsg::error(ErrorCode::NotInRoom));
        };
        if let Err(code) = room.send(RoomCommand::Game { session, command }) {
            self.reply(ServerMsg::error(code));
        }
    }

    fn chat(&mut self, text: String, now: Instant) -> Flow {
        let text: String = text.chars().filter(|c| !c.is_control()).collect();
        let text = text.trim();
        if text.is_empty() {
            return self.refuse(ErrorCode::ChatEmpty, "");
        }
        let max = self.state.config.chat_max_chars;
        if text.chars().count() > max {
            return self.refuse(ErrorCode::ChatTooLong, format!("at most {max} characters"));
        }
        if !self.chat.take(now) {
            return self.refuse(ErrorCode::RateLimited, "chat rate limit");
        }
        let session = self.id;
        let Some(room) = self.current_room() else {
            self.reply(ServerMsg::error(ErrorCode::NotInRoom));
            return Flow::Continue;
        };
        if let Err(code) = room.send(RoomCommand::Chat {
            session,
            text: text.to_owned(),
        }) {
            self.reply(ServerMsg::error(code));
        }
        Flow::Continue
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // A player dropped by the network keeps the seat for a resume.
        // A join the client never heard the answer to is not kept (case
        // C06): only a seat the client knew it had, or was taking back.
        let settled = self.joining.as_ref().is_none_or(|pending| pending.resume);
        let keep_seat = !self.forfeit
            && settled
            && self.role == Role::Player
            && self.room.is_some()
            && !self.state.config.resume_grace().is_zero();
        let grace = keep_seat.then(|| self.state.config.resume_grace());
        let per_address = self.state.config.max_away_seats_per_address;
        let released = self
            .state
            .resumable
            .release(self.id, &self.outbound, grace, per_address);
        if released == Released::Replaced {
            // Resumed on a newer connection, which owns the seat now.
            tracing::debug!(session = %self.id, "replaced connection ended");
            return;
        }
        if keep_seat && released == Released::Forgotten {
            tracing::debug!(
                session = %self.id,
                address = %self.address,
                "seat given up at once: its address has as many seats waiting as it may"
            );
        }
        if let Some(room) = self.room.take() {
            let session = self.id;
            let command = if released == Released::Kept {
                RoomCommand::Detach { session }
            } else {
                RoomCommand::Leave { session }
            };
            let _ = room.send(command);
        }
        self.state.lobby.unsubscribe(self.id);
        self.state
            .sessions
            .lock()
            .expect("session lock is never poisoned")
            .remove(&self.id);
        tracing::debug!(session = %self.id, "session ended");
    }
}

/// Trims a nickname and checks it against `max` characters, or `None` if
/// it is not acceptable.
pub fn valid_nickname(raw: &str, max: usize) -> Option<String> {
    let nickname = raw.trim();
    let chars = nickname.chars().count();
    let ok = (1..=max).contains(&chars) && !nickname.chars().any(char::is_control);
    ok.then(|| nickname.to_owned())
}

/// A token bucket: `rate` tokens a second, holding at most `burst`.
#[derive(Debug)]
struct TokenBucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(rate: f64, burst: f64) -> Self {
        Self {
            tokens: burst,
            rate,
            burst,
            last: Instant::now(),
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames_are_trimmed_and_bounded() {
        assert_eq!(valid_nickname("  Ada ", 20).as_deref(), Some("Ada"));
        assert_eq!(
            valid_nickname("ÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉ", 20).map(|n| n.chars().count()),
            Some(20)
        );
        assert!(valid_nickname("", 20).is_none());
        assert!(valid_nickname("   ", 20).is_none());
        assert!(valid_nickname(&"x".repeat(21), 20).is_none());
        assert!(valid_nickname("xxxx", 3).is_none());
        assert!(valid_nickname("a\u{7}b", 20).is_none());
    }

    #[test]
    fn token_buckets_allow_bursts_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket {
            tokens: 2.0,
            rate: 1.0,
            burst: 2.0,
            last: start,
        };
        assert!(bucket.take(start));
        assert!(bucket.take(start));
        assert!(!bucket.take(start));
        assert!(bucket.take(start + Duration::from_secs(1)));
        assert!(!bucket.take(start + Duration::from_secs(1)));
    }
}
