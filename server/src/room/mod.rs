//! Rooms: membership, channels and lifecycle around one game simulation.
//!
//! A [`Room`] lives on a simulation thread (see [`runner`]) and is reached
//! only through its bounded command queue ([`RoomHandle`]). Each tick it
//! drains the queue, steps its [`Game`], and delivers what the game produced
//! to its members' outbound queues, which never block. Transports are
//! invisible here: a member is a session id, a nickname and an
//! [`Outbound`].
//!
//! Every event the room broadcasts carries the room's next sequence number
//! and is kept in a bounded replay buffer. A player whose connection drops
//! keeps the seat for the resume grace period, seen by the others as still
//! present (as a reconnecting player is in Colyseus); resuming replays the
//! events numbered after the newest one the client names, and only when
//! the grace runs out does the room announce that the player left.

pub mod runner;

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stadium_shared::codec::Format;
use stadium_shared::{
    Channel, ErrorCode, Event, GameKind, Input, Member, Progress, Role, RoomCode, RoomInfo,
    RoomState, ServerMsg, SessionId, Tick,
};
use tokio::sync::oneshot;

use crate::lobby::Lobby;
use crate::session::outbound::{Outbound, Outgoing};

/// Commands a room's queue holds; at most this many wait between ticks.
/// A full room of players sending inputs and acknowledgements fills a few
/// dozen per tick. The queue grows as commands arrive rather than being
/// allocated up front: a preallocated one of this size cost a room about
/// 90 KB whether busy or idle.
pub const COMMAND_QUEUE: usize = 1024;

/// Chat lines a room broadcasts per tick; more are refused to their
/// senders. Every line reaches every member's queue, so many members each
/// within their own rate could otherwise fill everyone's queue at once.
pub const CHAT_PER_TICK: u32 = 16;

/// Spectators one room admits: each is in every broadcast and listing.
pub const MAX_SPECTATORS: usize = 64;

/// Events a room keeps for resuming players, at most. Their bytes are
/// also bounded by half the outbound queue (see [`RoomPolicy`]), so that a
/// replay always fits in a fresh connection's queue.
pub const REPLAY_EVENTS: usize = 256;

/// What a kept event is charged against the replay's byte budget beyond
/// its JSON encoding, the larger of the two.
const REPLAY_OVERHEAD: usize = 64;

/// How long rooms wait, and how much they keep, for members who are gone.
#[derive(Clone, Copy, Debug)]
pub struct RoomPolicy {
    /// An empty room closes after this.
    pub empty_grace: Duration,
    /// A player whose connection dropped keeps the seat this long; zero
    /// turns resuming off.
    pub resume_grace: Duration,
    /// Events kept for replay, at most.
    pub replay_events: usize,
    /// Bytes of events kept for replay, at most.
    pub replay_bytes: usize,
}

impl RoomPolicy {
    /// The policy for sessions with `outbound_queue_bytes` of queue.
    pub fn new(empty_grace: Duration, resume_grace: Duration, outbound_queue_bytes: usize) -> Self {
        Self {
            empty_grace,
            resume_grace,
            replay_events: REPLAY_EVENTS,
            replay_bytes: outbound_queue_bytes / 2,
        }
    }
}

/// A request from a session to a room.
#[derive(Debug)]
pub enum RoomCommand {
    /// Take a seat or watch. The reply says whether it worked.
    Join {
        /// Who.
        session: SessionId,
        /// Their nickname.
        nickname: String,
        /// Player or spectator.
        role: Role,
        /// Where their messages go.
        outbound: Outbound,
        /// Told once the room decided.
        reply: oneshot::Sender<Result<(), ErrorCode>>,
    },
    /// Leave; harmless for sessions not in the room.
    Leave {
        /// Who.
        session: SessionId,
    },
    /// The session's connection dropped: a player keeps the seat for the
    /// resume grace period, anyone else leaves.
    Detach {
        /// Who.
        session: SessionId,
    },
    /// A new connection takes over a seat: it receives
    /// [`ServerMsg::Resumed`] and the events after `last_event_seq`.
    Resume {
        /// Whose seat.
        session: SessionId,
        /// The new connection's queue.
        outbound: Outbound,
        /// The newest event the client received.
        last_event_seq: u64,
        /// Told once the room decided.
        reply: oneshot::Sender<Result<(), ErrorCode>>,
    },
    /// A chat line, already checked for length and rate.
    Chat {
        /// Who.
        session: SessionId,
        /// What.
        text: String,
    },
    /// Something for the game itself.
    Game {
        /// Who.
        session: SessionId,
        /// What.
        command: GameCommand,
    },
}

/// A player's action in the game.
#[derive(Debug, Clone)]
pub enum GameCommand {
    /// The host wants to start now.
    Start,
    /// A trivia answer, stamped with when the server received it.
    Answer {
        /// Question index.
        question: u16,
        /// Choice index.
        choice: u8,
        /// Receipt time.
        received_at: Instant,
    },
    /// A real-time input.
    Input(Input),
    /// The newest snapshot the player reconstructed.
    Ack(Tick),
}

/// One thing a game produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// An event for every member, on the room's channel.
    Event(Event),
    /// A message for one session.
    To(SessionId, ServerMsg),
}

/// What a game produced, in the order it must arrive.
#[derive(Debug, Default)]
pub struct Outbox {
    /// The outputs.
    pub outputs: Vec<Output>,
}

impl Outbox {
    /// Publishes an event on the room's own channel.
    pub fn event(&mut self, event: Event) {
        self.outputs.push(Output::Event(event));
    }

    /// Sends a message to one session.
    pub fn to(&mut self, session: SessionId, msg: ServerMsg) {
        self.outputs.push(Output::To(session, msg));
    }
}

/// A game simulation hosted by a room. The room handles membership, chat
/// and delivery; the game sees players come and go and their commands.
pub trait Game: Send {
    /// Which game this is.
    fn kind(&self) -> GameKind;
    /// Simulation steps per second.
    fn tick_hz(&self) -> u32;
    /// Seats.
    fn max_players(&self) -> u16;
    /// Where the game is in its life.
    fn state(&self) -> RoomState;
    /// A player took a seat.
    fn player_joined(&mut self, session: SessionId, nickname: &str);
    /// A player left.
    fn player_left(&mut self, session: SessionId);
    /// A player's command; `is_host` says whether they host the room.
    fn command(
        &mut self,
        session: SessionId,
        command: GameCommand,
        is_host: bool,
        out: &mut Outbox,
    );
    /// Advances the simulation by one tick.
    fn step(&mut self, tick: Tick, now: Instant, out: &mut Outbox);
    /// What spectators see of the tick just stepped: one message for all
    /// of them, or `None` for games with nothing to show between events.
    fn spectator_view(&self, _tick: Tick) -> Option<ServerMsg> {
        None
    }
    /// A player came back on a new connection, which holds none of the
    /// state sent before: the next snapshot must be a full one.
    fn player_resumed(&mut self, _session: SessionId) {}
    /// Where the game stands at `now`, for a session arriving part-way,
    /// or `None` when nothing under way needs showing.
    fn progress(&mut self, _now: Instant) -> Option<Progress> {
        None
    }
}

/// How sessions reach a room: its code, its listing and its queue.
#[derive(Clone, Debug)]
pub struct RoomHandle {
    /// The join code.
    pub code: RoomCode,
    /// The room's current listing, kept up to date by the room.
    pub info: Arc<Mutex<RoomInfo>>,
    /// The session that opened it.
    pub creator: SessionId,
    /// The address that session connected from; `None` for rooms opened
    /// without a connection (tests, fuzzing).
    pub creator_address: Option<IpAddr>,
    commands: Sender<RoomCommand>,
    /// Commands sent and not yet taken by the room, to bound the queue.
    queued: Arc<AtomicUsize>,
}

impl RoomHandle {
    /// Queues a command without waiting. A full queue means the room is
    /// flooded; a closed one that it is gone.
    pub fn send(&self, command: RoomCommand) -> Result<(), ErrorCode> {
        if self.queued.fetch_add(1, Ordering::Relaxed) >= COMMAND_QUEUE {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(ErrorCode::RateLimited);
        }
        self.commands.send(command).map_err(|_| {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            ErrorCode::RoomNotFound
        })
    }

    /// Whether the room has closed: [`RoomHandle::info`] without the copy,
    /// for the check every message of a seated player makes.
    pub fn is_closed(&self) -> bool {
        self.info
            .lock()
            .expect("room info lock is never poisoned")
            .state
            == RoomState::Closed
    }

    /// A snapshot of the room's listing.
    pub fn info(&self) -> RoomInfo {
        self.info
            .lock()
            .expect("room info lock is never poisoned")
            .clone()
    }
}

struct Seat {
    nickname: String,
    role: Role,
    outbound: Outbound,
    /// When the connection dropped, for a player waiting to resume.
    away_since: Option<Instant>,
}

/// One room: members, channels, lifecycle, and its game.
pub struct Room {
    code: RoomCode,
    game: Box<dyn Game>,
    commands: Receiver<RoomCommand>,
    /// Shared with the handles: commands waiting in `commands`.
    queued: Arc<AtomicUsize>,
    members: BTreeMap<SessionId, Seat>,
    host: Option<SessionId>,
    info: Arc<Mutex<RoomInfo>>,
    /// The listing last announced on the lobby channel.
    listed: RoomInfo,
    lobby: Arc<Lobby>,
    tick: Tick,
    period: Duration,
    empty_since: Option<Instant>,
    policy: RoomPolicy,
    /// The number of the newest event broadcast.
    event_seq: u64,
    /// The newest events broadcast, for replay to resuming players, with
    /// the bytes each is charged.
    replay: VecDeque<(u64, Arc<Outgoing>, usize)>,
    replay_bytes: usize,
    closed: bool,
    outbox: Outbox,
    /// Chat lines broadcast this tick.
    chat_this_tick: u32,
}

impl Room {
    /// Creates a room around `game`, returning it and the handle sessions use.
    pub fn new(
        code: RoomCode,
        game: Box<dyn Game>,
        host: SessionId,
        lobby: Arc<Lobby>,
        policy: RoomPolicy,
        now: Instant,
    ) -> (Room, RoomHandle) {
        let (tx, rx) = std::sync::mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let info = RoomInfo {
            code: code.clone(),
            game: game.kind(),
            players: 0,
            max_players: game.max_players(),
            spectators: 0,
            state: game.state(),
        };
        let listed = info.clone();
        let info = Arc::new(Mutex::new(info));
        let period = Duration::from_secs_f64(1.0 / f64::from(game.tick_hz().max(1)));
        let handle = RoomHandle {
            code: code.clone(),
            info: info.clone(),
            creator: host,
            creator_address: None,
            commands: tx,
            queued: queued.clone(),
        };
        let room = Room {
            code,
            game,
            commands: rx,
            queued,
            members: BTreeMap::new(),
            // The creator becomes host by joining as the first player.
            host: None,
            info,
            listed,
            lobby,
            tick: Tick::default(),
            period,
            empty_since: Some(now),
            policy,
            event_seq: 0,
            replay: VecDeque::new(),
            replay_bytes: 0,
            closed: false,
            outbox: Outbox::default(),
            chat_this_tick: 0,
        };
        (room, handle)
    }

    /// Time between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Whether the room has closed and can be dropped.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The game the room plays.
    pub fn game(&self) -> GameKind {
        self.game.kind()
    }

    /// The room's code.
    pub fn code(&self) -> &RoomCode {
        &self.code
    }

    /// The seated players (not spectators), in session order.
    pub fn players(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.members
            .iter()
            .filter(|(_, seat)| seat.role == Role::Player)
            .map(|(&id, _)| id)
    }

    /// One tick: commands, simulation, delivery, lifecycle.
    pub fn tick(&mut self, now: Instant) {
        self.chat_this_tick = 0;
        while let Ok(command) = self.commands.try_recv() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            self.apply(command, now);
        }
        self.tick = self.tick.next();
        let mut out = std::mem::take(&mut self.outbox);
        self.game.step(self.tick, now, &mut out);
        self.deliver(&mut out);
        self.outbox = out;
        self.show_spectators();
        self.drop_disconnected(now);
        self.update_lifecycle(now);
    }

    /// Sends every spectator the same view of this tick, built and encoded
    /// once (per wire format) however many watch; the encodes of arena
    /// views are counted in `stadium_spectator_snapshot_encodes_total`.
    fn show_spectators(&self) {
        let mut spectators = self
            .members
            .values()
            .filter(|seat| seat.role == Role::Spectator)
            .peekable();
        if spectators.peek().is_none() {
            return;
        }
        let Some(view) = self.game.spectator_view(self.tick) else {
            return;
        };
        let view = match view {
            ServerMsg::Snapshot(_) => {
                Outgoing::counted(view, &crate::metrics::get().spectator_snapshot_encodes)
            }
            _ => Outgoing::new(view),
        };
        for seat in spectators {
            seat.outbound.send(view.clone());
        }
    }

    fn apply(&mut self, command: RoomCommand, now: Instant) {
        match command {
            RoomCommand::Join {
                session,
                nickname,
                role,
                outbound,
                reply,
            } => {
                let result = self.join(session, nickname, role, outbound, now);
                // A session that vanished meanwhile leaves through its own
                // Leave command, queued after this one.
                let _ = reply.send(result);
            }
            RoomCommand::Leave { session } => self.leave(session, None),
            RoomCommand::Detach { session } => self.detach(session, now),
            RoomCommand::Resume {
                session,
                outbound,
                last_event_seq,
                reply,
            } => {
                let result = self.resume(session, outbound, last_event_seq, now);
                let _ = reply.send(result);
            }
            RoomCommand::Chat { session, text } => {
                if self.chat_this_tick >= CHAT_PER_TICK {
                    if let Some(seat) = self.members.get(&session) {
                        let busy = ServerMsg::error_with(
                            ErrorCode::RateLimited,
                            "the room's chat is busy",
                        );
                        seat.outbound.send_msg(busy);
                    }
                    return;
                }
                if let Some(seat) = self.members.get(&session) {
                    self.chat_this_tick += 1;
                    let event = Event::Chat {
                        from: session,
                        nickname: seat.nickname.clone(),
                        text,
                    };
                    self.broadcast(Channel::Chat(self.code.clone()), event);
                }
            }
            RoomCommand::Game { session, command } => {
                let Some(seat) = self.members.get(&session) else {
                    return;
                };
                if seat.role == Role::Spectator {
                    seat.outbound
                        .send_msg(ServerMsg::error(ErrorCode::SpectatorCannotPlay));
                    return;
                }
                let is_host = self.host == Some(session);
                let mut out = std::mem::take(&mut self.outbox);
                self.game.command(session, command, is_host, &mut out);
                self.deliver(&mut out);
                self.outbox = out;
            }
        }
    }

    fn join(
        &mut self,
        session: SessionId,
        nickname: String,
        role: Role,
        outbound: Outbound,
        now: Instant,
    ) -> Result<(), ErrorCode> {
        if self.closed || self.game.state() == RoomState::Closed {
            return Err(ErrorCode::RoomNotFound);
        }
        if self.members.contains_key(&session) {
            return Err(ErrorCode::AlreadyInRoom);
        }
        if role == Role::Player && self.player_count() >= usize::from(self.game.max_players()) {
            return Err(ErrorCode::RoomFull);
        }
        let spectators = self.members.len() - self.player_count();
        if role == Role::Spectator && spectators >= MAX_SPECTATORS {
            return Err(ErrorCode::RoomFull);
        }
        let member = Member {
            session,
            nickname: nickname.clone(),
            role,
        };
        self.broadcast(
            Channel::Presence(self.code.clone()),
            Event::MemberJoined(member),
        );
        self.members.insert(
            session,
            Seat {
                nickname: nickname.clone(),
                role,
                outbound: outbound.clone(),
                away_since: None,
            },
        );
        if self.host.is_none() && role == Role::Player {
            self.host = Some(session);
        }
        let members = self.member_list();
        self.refresh_info();
        outbound.send_msg(ServerMsg::Joined {
            room: self.info_now(),
            role,
            members,
            host: self.host,
        });
        if role == Role::Player {
            self.game.player_joined(session, &nickname);
        }
        self.send_progress(&outbound, now);
        self.empty_since = None;
        Ok(())
    }

    fn leave(&mut self, session: SessionId, reason: Option<ErrorCode>) {
        let Some(seat) = self.members.remove(&session) else {
            return;
        };
        if seat.role == Role::Player {
            self.game.player_left(session);
        }
        seat.outbound.send_msg(ServerMsg::Left {
            code: self.code.clone(),
            reason,
        });
        let event = Event::MemberLeft {
            session,
            nickname: seat.nickname,
        };
        self.broadcast(Channel::Presence(self.code.clone()), event);
        if self.host == Some(session) {
            self.host = self
                .members
                .iter()
                .find(|(_, seat)| seat.role == Role::Player)
                .map(|(&id, _)| id);
            if let Some(host) = self.host {
                self.broadcast(
                    Channel::Presence(self.code.clone()),
                    Event::HostChanged { session: host },
                );
            }
        }
    }

    fn member_list(&self) -> Vec<Member> {
        self.members
            .iter()
            .map(|(&session, seat)| Member {
                session,
                nickname: seat.nickname.clone(),
                role: seat.role,
            })
            .collect()
    }

    /// A dropped player keeps the seat, unseen by the others, for the
    /// resume grace; anyone else leaves at once.
    fn detach(&mut self, session: SessionId, now: Instant) {
        let Some(seat) = self.members.get_mut(&session) else {
            return;
        };
        if seat.role != Role::Player || self.policy.resume_grace.is_zero() {
            return self.leave(session, None);
        }
        seat.away_since.get_or_insert(now);
    }

    /// Gives a seat to a new connection: the membership, then the events
    /// it missed, clamped to those kept (see [`ServerMsg::Resumed`]).
    fn resume(
        &mut self,
        session: SessionId,
        outbound: Outbound,
        last_event_seq: u64,
        now: Instant,
    ) -> Result<(), ErrorCode> {
        if self.closed {
            return Err(ErrorCode::RoomNotFound);
        }
        let seat = self
            .members
            .get_mut(&session)
            .ok_or(ErrorCode::ResumeRefused)?;
        seat.outbound = outbound.clone();
        seat.away_since = None;
        let role = seat.role;
        let newest = self.event_seq;
        let mut after = last_event_seq;
        if after > newest {
            let detail = format!("asked for events after {after}; the newest is {newest}");
            outbound.send_msg(ServerMsg::error_with(ErrorCode::ReplayRange, detail));
            after = newest;
        }
        let oldest = self.replay.front().map_or(newest + 1, |(seq, ..)| *seq);
        let events_skipped = (oldest - 1).saturating_sub(after);
        outbound.send_msg(ServerMsg::Resumed {
            session,
            room: Some(self.info_now()),
            role,
            members: self.member_list(),
            host: self.host,
            event_seq: newest,
            events_skipped,
        });
        for (_, msg, _) in self.replay.iter().filter(|(seq, ..)| *seq > after) {
            outbound.send(msg.clone());
        }
        if role == Role::Player {
            self.game.player_resumed(session);
        }
        // Replayed events keep their first timings (a question's full
        // time, a match's full length): the progress after them says what
        // is left now.
        self.send_progress(&outbound, now);
        Ok(())
    }

    /// Tells an arriving session where the game stands: what began before
    /// its first event is otherwise unknown to it until the next one.
    fn send_progress(&mut self, outbound: &Outbound, now: Instant) {
        if let Some(progress) = self.game.progress(now) {
            outbound.send_msg(ServerMsg::Progress(progress));
        }
    }

    /// Keeps an event for replay, dropping the oldest past the bounds.
    fn keep_for_replay(&mut self, seq: u64, msg: &Arc<Outgoing>) {
        let cost = msg.encoded(Format::Json).len() + REPLAY_OVERHEAD;
        self.replay.push_back((seq, msg.clone(), cost));
        self.replay_bytes += cost;
        while self.replay.len() > self.policy.replay_events
            || self.replay_bytes > self.policy.replay_bytes
        {
            let Some((_, _, cost)) = self.replay.pop_front() else {
                break;
            };
            self.replay_bytes -= cost;
        }
    }

    /// Sends an event to every member, numbered and kept for replay.
    fn broadcast(&mut self, channel: Channel, event: Event) {
        self.event_seq += 1;
        let seq = self.event_seq;
        let msg = Outgoing::new(ServerMsg::Event {
            channel,
            event,
            seq: Some(seq),
        });
        self.keep_for_replay(seq, &msg);
        for seat in self.members.values() {
            seat.outbound.send(msg.clone());
        }
    }

    fn deliver(&mut self, out: &mut Outbox) {
        for output in out.outputs.drain(..) {
            match output {
                Output::Event(event) => self.broadcast(Channel::Room(self.code.clone()), event),
                Output::To(id, msg) => {
                    if let Some(seat) = self.members.get(&id) {
                        seat.outbound.send_msg(msg);
                    }
                }
            }
        }
    }

    /// Members whose connection ended (or who were kicked for a full queue)
    /// are detached without waiting for their session to say so; players
    /// whose resume grace ran out leave.
    fn drop_disconnected(&mut self, now: Instant) {
        let grace = self.policy.resume_grace;
        let dropped: Vec<SessionId> = self
            .members
            .iter()
            .filter(|(_, seat)| seat.away_since.is_none() && seat.outbound.is_closed())
            .map(|(&id, _)| id)
            .collect();
        for id in dropped {
            self.detach(id, now);
        }
        let expired: Vec<SessionId> = self
            .members
            .iter()
            .filter(|(_, seat)| {
                seat.away_since
                    .is_some_and(|since| now.saturating_duration_since(since) >= grace)
            })
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            tracing::debug!(room = %self.code, session = %id, "resume grace over");
            self.leave(id, None);
        }
    }

    fn update_lifecycle(&mut self, now: Instant) {
        if self.members.is_empty() {
            let since = *self.empty_since.get_or_insert(now);
            if now.duration_since(since) >= self.policy.empty_grace {
                self.close(None);
                return;
            }
        }
        self.refresh_info();
        let now_listed = self.info_now();
        if now_listed.state != self.listed.state {
            let event = Event::StateChanged(now_listed.state);
            self.broadcast(Channel::Room(self.code.clone()), event);
        }
        if now_listed != self.listed {
            self.lobby.publish(Event::RoomUpdated(now_listed.clone()));
            self.listed = now_listed;
        }
    }

    /// Closes the room: members are told why, the lobby forgets it.
    pub fn close(&mut self, reason: Option<ErrorCode>) {
        if self.closed {
            return;
        }
        self.closed = true;
        // Unlisted before anyone is told: a member who hears the room
        // closed and asks for it again must find it gone.
        self.info
            .lock()
            .expect("room info lock is never poisoned")
            .state = RoomState::Closed;
        self.lobby.remove(&self.code);
        for (_, seat) in std::mem::take(&mut self.members) {
            seat.outbound.send_msg(ServerMsg::Left {
                code: self.code.clone(),
                reason,
            });
        }
        tracing::debug!(room = %self.code, "room closed");
    }

    fn player_count(&self) -> usize {
        self.members
            .values()
            .filter(|seat| seat.role == Role::Player)
            .count()
    }

    fn refresh_info(&self) {
        let players = self.player_count();
        let mut info = self.info.lock().expect("room info lock is never poisoned");
        info.players = players as u16;
        info.spectators = (self.members.len() - players) as u16;
        info.state = self.game.state();
    }

    fn info_now(&self) -> RoomInfo {
        self.info
            .lock()
            .expect("room info lock is never poisoned")
            .clone()
    }
}
