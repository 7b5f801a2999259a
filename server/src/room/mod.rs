//! Rooms: membership, channels and lifecycle around one game simulation.
//!
//! A [`Room`] lives on a simulation thread (see [`runner`]) and is reached
//! only through its bounded command queue ([`RoomHandle`]). Each tick it
//! drains the queue, steps its [`Game`], and delivers what the game produced
//! to its members' outbound queues, which never block. Transports are
//! invisible here: a member is a session id, a nickname and an
//! [`Outbound`].

pub mod runner;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stadium_shared::{
    Channel, ErrorCode, Event, GameKind, Input, Member, Role, RoomCode, RoomInfo, RoomState,
    ServerMsg, SessionId, Tick,
};
use tokio::sync::oneshot;

use crate::lobby::Lobby;
use crate::session::outbound::{Outbound, Outgoing};

/// Commands a room's queue holds; at most this many wait between ticks.
/// A full room of players sending inputs and acknowledgements fills a few
/// dozen per tick; the queue is allocated up front, so it stays modest.
pub const COMMAND_QUEUE: usize = 1024;

/// Chat lines a room broadcasts per tick; more are refused to their
/// senders. Every line reaches every member's queue, so many members each
/// within their own rate could otherwise fill everyone's queue at once.
pub const CHAT_PER_TICK: u32 = 16;

/// Spectators one room admits: each is in every broadcast and listing.
pub const MAX_SPECTATORS: usize = 64;

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
    commands: SyncSender<RoomCommand>,
}

impl RoomHandle {
    /// Queues a command without waiting. A full queue means the room is
    /// flooded; a closed one that it is gone.
    pub fn send(&self, command: RoomCommand) -> Result<(), ErrorCode> {
        match self.commands.try_send(command) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(ErrorCode::RateLimited),
            Err(TrySendError::Disconnected(_)) => Err(ErrorCode::RoomNotFound),
        }
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
}

/// One room: members, channels, lifecycle, and its game.
pub struct Room {
    code: RoomCode,
    game: Box<dyn Game>,
    commands: Receiver<RoomCommand>,
    members: BTreeMap<SessionId, Seat>,
    host: Option<SessionId>,
    info: Arc<Mutex<RoomInfo>>,
    /// The listing last announced on the lobby channel.
    listed: RoomInfo,
    lobby: Arc<Lobby>,
    tick: Tick,
    period: Duration,
    empty_since: Option<Instant>,
    empty_grace: Duration,
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
        empty_grace: Duration,
        now: Instant,
    ) -> (Room, RoomHandle) {
        let (tx, rx) = std::sync::mpsc::sync_channel(COMMAND_QUEUE);
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
        };
        let room = Room {
            code,
            game,
            commands: rx,
            members: BTreeMap::new(),
            // The creator becomes host by joining as the first player.
            host: None,
            info,
            listed,
            lobby,
            tick: Tick::default(),
            period,
            empty_since: Some(now),
            empty_grace,
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
            self.apply(command);
        }
        self.tick = self.tick.next();
        let mut out = std::mem::take(&mut self.outbox);
        self.game.step(self.tick, now, &mut out);
        self.deliver(&mut out);
        self.outbox = out;
        self.show_spectators();
        self.drop_disconnected();
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

    fn apply(&mut self, command: RoomCommand) {
        match command {
            RoomCommand::Join {
                session,
                nickname,
                role,
                outbound,
                reply,
            } => {
                let result = self.join(session, nickname, role, outbound);
                // A session that vanished meanwhile leaves through its own
                // Leave command, queued after this one.
                let _ = reply.send(result);
            }
            RoomCommand::Leave { session } => self.leave(session, None),
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
            },
        );
        if self.host.is_none() && role == Role::Player {
            self.host = Some(session);
        }
        let members = self
            .members
            .iter()
            .map(|(&session, seat)| Member {
                session,
                nickname: seat.nickname.clone(),
                role: seat.role,
            })
            .collect();
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

    fn broadcast(&self, channel: Channel, event: Event) {
        let msg = Outgoing::new(ServerMsg::Event { channel, event });
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
    /// leave the room without waiting for their session to say so.
    fn drop_disconnected(&mut self) {
        let gone: Vec<SessionId> = self
            .members
            .iter()
            .filter(|(_, seat)| seat.outbound.is_closed())
            .map(|(&id, _)| id)
            .collect();
        for id in gone {
            self.leave(id, None);
        }
    }

    fn update_lifecycle(&mut self, now: Instant) {
        if self.members.is_empty() {
            let since = *self.empty_since.get_or_insert(now);
            if now.duration_since(since) >= self.empty_grace {
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
