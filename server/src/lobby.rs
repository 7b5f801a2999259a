//! The lobby: the directory of open rooms, room creation, quick join, and
//! the `lobby` channel that announces rooms opening, filling and closing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use rand::RngExt;
use stadium_shared::trivia::pack::Pack;
use stadium_shared::{
    Channel, ErrorCode, Event, GameKind, GameSettings, Refusal, RoomCode, RoomInfo, RoomState,
    ServerMsg, SessionId,
};

use crate::games::asteroids::AsteroidsGame;
use crate::games::trivia::TriviaGame;
use crate::room::runner::RoomRunner;
use crate::room::{Game, Room, RoomHandle, RoomPolicy};
use crate::session::outbound::{Outbound, Outgoing};

/// The room directory and the lobby channel's subscribers.
pub struct Lobby {
    rooms: Mutex<HashMap<RoomCode, RoomHandle>>,
    subscribers: Mutex<HashMap<SessionId, Outbound>>,
    runner: RoomRunner,
    trivia_pack: Arc<Pack>,
    limits: RoomLimits,
    policy: RoomPolicy,
    me: Weak<Lobby>,
}

/// How many rooms may be open.
#[derive(Debug, Clone, Copy)]
pub struct RoomLimits {
    /// In all.
    pub total: usize,
    /// Opened by one session: each room costs simulation time on the
    /// shared threads, so one client must not be able to open them all.
    pub per_session: usize,
    /// Opened by the sessions of one IP address, so that reconnecting
    /// for a fresh session does not lift the per-session limit.
    pub per_address: usize,
    /// Seats in one room, whatever the game's own range allows.
    pub players_per_room: u16,
}

impl Lobby {
    /// A lobby whose rooms run on `runner`.
    pub fn new(
        runner: RoomRunner,
        trivia_pack: Arc<Pack>,
        limits: RoomLimits,
        policy: RoomPolicy,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Lobby {
            rooms: Mutex::new(HashMap::new()),
            subscribers: Mutex::new(HashMap::new()),
            runner,
            trivia_pack,
            limits,
            policy,
            me: me.clone(),
        })
    }

    /// Opens a room for `settings`, hosted by `host`.
    pub fn create(
        &self,
        settings: GameSettings,
        host: SessionId,
        address: IpAddr,
    ) -> Result<RoomInfo, Refusal> {
        let seed = rand::rng().random();
        let invalid = |detail| Refusal::with(ErrorCode::InvalidSettings, detail);
        let seats = match &settings {
            GameSettings::Trivia(trivia) => trivia.max_players,
            GameSettings::Asteroids(arena) => arena.max_players,
        };
        if seats > self.limits.players_per_room {
            let most = self.limits.players_per_room;
            return Err(invalid(format!(
                "max_players is at most {most} here, got {seats}"
            )));
        }
        let game: Box<dyn Game> = match settings {
            GameSettings::Trivia(settings) => Box::new(
                TriviaGame::new(settings, self.trivia_pack.clone(), seed).map_err(invalid)?,
            ),
            GameSettings::Asteroids(settings) => {
                Box::new(AsteroidsGame::new(settings, seed).map_err(invalid)?)
            }
        };
        let lobby = self
            .me
            .upgrade()
            .expect("the lobby outlives its rooms' creation");
        let mut rooms = self.rooms.lock().expect("lobby lock is never poisoned");
        if rooms.len() >= self.limits.total {
            return Err(Refusal::new(ErrorCode::TooManyRooms));
        }
        let own = rooms.values().filter(|room| room.creator == host).count();
        if own >= self.limits.per_session {
            let detail = format!("a session may have {} rooms open", self.limits.per_session);
            return Err(Refusal::with(ErrorCode::TooManyRooms, detail));
        }
        let from_address = rooms
            .values()
            .filter(|room| room.creator_address == Some(address))
            .count();
        if from_address >= self.limits.per_address {
            let detail = format!(
                "one address may have {} rooms open",
                self.limits.per_address
            );
            return Err(Refusal::with(ErrorCode::TooManyRooms, detail));
        }
        let code = loop {
            let code = random_code();
            if !rooms.contains_key(&code) {
                break code;
            }
        };
        let (room, mut handle) =
            Room::new(code.clone(), game, host, lobby, self.policy, Instant::now());
        handle.creator_address = Some(address);
        let info = handle.info();
        rooms.insert(code, handle);
        drop(rooms);
        self.runner.spawn(room);
        self.publish(Event::RoomOpened(info.clone()));
        tracing::debug!(room = %info.code, game = info.game.name(), "room opened");
        Ok(info)
    }

    /// The room with that code, if open.
    pub fn find(&self, code: &RoomCode) -> Option<RoomHandle> {
        self.rooms
            .lock()
            .expect("lobby lock is never poisoned")
            .get(code)
            .cloned()
    }

    /// An open room of `game` with a free seat, fullest first so that
    /// quick joins fill rooms rather than spread players thin.
    pub fn open_room(&self, game: GameKind) -> Option<RoomHandle> {
        let rooms = self.rooms.lock().expect("lobby lock is never poisoned");
        rooms
            .values()
            .filter_map(|handle| {
                let info = handle.info();
                let open = info.game == game
                    && info.players < info.max_players
                    && matches!(info.state, RoomState::Lobby | RoomState::Running);
                open.then_some((info.players, handle))
            })
            .max_by_key(|(players, _)| *players)
            .map(|(_, handle)| handle.clone())
    }

    /// Every open room's listing.
    pub fn list(&self) -> Vec<RoomInfo> {
        let rooms = self.rooms.lock().expect("lobby lock is never poisoned");
        let mut list: Vec<RoomInfo> = rooms.values().map(RoomHandle::info).collect();
        list.sort_by(|a, b| a.code.cmp(&b.code));
        list
    }

    /// Number of open rooms.
    pub fn room_count(&self) -> usize {
        self.rooms
            .lock()
            .expect("lobby lock is never poisoned")
            .len()
    }

    /// Forgets a closed room and announces it.
    pub fn remove(&self, code: &RoomCode) {
        let removed = self
            .rooms
            .lock()
            .expect("lobby lock is never poisoned")
            .remove(code);
        if removed.is_some() {
            self.publish(Event::RoomClosed { code: code.clone() });
        }
    }

    /// Starts sending lobby events to a session.
    pub fn subscribe(&self, session: SessionId, outbound: Outbound) {
        self.subscribers
            .lock()
            .expect("lobby lock is never poisoned")
            .insert(session, outbound);
    }

    /// Stops sending lobby events to a session.
    pub fn unsubscribe(&self, session: SessionId) {
        self.subscribers
            .lock()
            .expect("lobby lock is never poisoned")
            .remove(&session);
    }

    /// Publishes an event on the lobby channel.
    pub fn publish(&self, event: Event) {
        let msg = Outgoing::new(ServerMsg::Event {
            channel: Channel::Lobby,
            event,
            seq: None,
        });
        let subscribers = self
            .subscribers
            .lock()
            .expect("lobby lock is never poisoned");
        for outbound in subscribers.values() {
            outbound.send(msg.clone());
        }
    }

    /// Closes every room and stops the simulation threads.
    pub fn shutdown(&self) {
        self.runner.shutdown();
    }
}

fn random_code() -> RoomCode {
    let mut rng = rand::rng();
    let code: String = (0..RoomCode::LEN)
        .map(|_| RoomCode::ALPHABET[rng.random_range(0..RoomCode::ALPHABET.len())] as char)
        .collect();
    RoomCode::parse(&code).expect("generated codes use the code alphabet")
}
