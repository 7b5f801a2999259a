//! One bot: connect, take a seat in its group's room, then play, ping and
//! count until the run's deadline.
//!
//! [`Player`] holds what the bot knows and decides what to send, with a
//! [`Pilot`] for an Asteroids arena; it does no I/O. [`Bot::play`] owns the
//! connection and the timers around it.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use stadium_shared::asteroids::{AsteroidsEvent, AsteroidsSettings};
use stadium_shared::trivia::TriviaSettings;
use stadium_shared::{
    Channel, ClientMsg, ErrorCode, Event, GameKind, GameSettings, OpenQuestion, Role, RoomCode,
    RoomState, ServerMsg, SessionId, TriviaEvent,
};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::asteroids::Pilot;
use super::timing::Samples;
use super::trivia::{answer_delay, choose_answer};
use super::{Group, Shared, bump, tick};
use crate::client::{
    ByteCounters, Client, ClientError, ClientReceiver, ClientSender, ConnectError, QuicEndpoints,
    Received, SnapshotHeader, Welcome,
};

/// How long an abandoned connection is kept open at most; the server
/// closes it sooner, once the resume replaces it.
const ABANDON_LINGER: Duration = Duration::from_secs(30);
/// Connecting and saying hello together may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bots measure round trips this often.
const PING_EVERY: Duration = Duration::from_secs(1);
/// Pings awaiting their pong; older ones are given up on.
const PINGS_IN_FLIGHT: usize = 32;
/// Countdown for a room that is not full. Full rooms start at once; this
/// only starts a group some of whose bots never arrived, and it is long so
/// that a slow ramp still fills rooms before their first match.
const START_COUNTDOWN_SECS: u16 = 20;

/// A bot before it has connected.
pub(super) struct Bot {
    pub index: usize,
    pub start_at: Instant,
    pub deadline: Instant,
    pub group: Arc<Group>,
    pub shared: Arc<Shared>,
    pub permits: Arc<Semaphore>,
    /// The run's shared QUIC endpoints, on QUIC.
    pub endpoints: Option<QuicEndpoints>,
    /// Whether this bot decodes everything and measures latencies.
    pub probe: bool,
    /// When to cut the connection without a close and resume, if ever.
    pub chaos_at: Option<Instant>,
}

/// How a bot's session ended.
enum End {
    /// The run is over; the bot hung up.
    Deadline,
    /// The connection ended first.
    Closed,
    /// The chaos drop is due: the bot abandons the connection.
    Chaos,
    /// The room the bot was told to join (`--room`) is not open: nothing
    /// to wait for.
    NoRoom,
}

/// Why a bot never got in.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("connecting")]
    Connect(#[from] ConnectError),
    #[error("saying hello")]
    Hello(#[from] ClientError),
    #[error("timed out connecting")]
    Timeout,
}

impl Bot {
    /// Plays until the deadline. What it measured is in the run's shared
    /// counts and histograms once this returns.
    pub(super) async fn play(self) {
        let mut stop = self.shared.stop.subscribe();
        let connected = tokio::select! {
            connected = async {
                tokio::time::sleep_until(self.start_at).await;
                self.connect().await
            } => connected,
            // Stopped before it got going: not a failure.
            () = Shared::stopped(&mut stop) => return,
        };
        let (client, welcome) = match connected {
            Ok(connected) => connected,
            Err(failure) => {
                self.failed(&failure);
                return;
            }
        };
        let counts = &self.shared.counts;
        bump(&counts.connected);
        if self.probe {
            bump(&counts.probes);
        }

        let counters = client.counters().clone();
        let (mut sender, mut receiver) = client.split();
        let mut player = Player::new(&self, welcome.session);
        let mut window = Window::new(&self.shared, &counters);
        let mut chaos_at = self.chaos_at;
        let end = loop {
            let resumed = chaos_at.is_none() && self.chaos_at.is_some();
            let end = self
                .session(
                    &sender,
                    &mut receiver,
                    &mut player,
                    &mut window,
                    chaos_at,
                    resumed,
                )
                .await;
            let End::Chaos = end else { break end };
            chaos_at = None;
            // Cut: nothing more is sent or read on the old connection.
            crate::client::abandon(sender.clone(), receiver, ABANDON_LINGER);
            match self.resume(&welcome, player.last_event_seq()).await {
                Ok((client, reply)) => {
                    bump(&counts.resumed);
                    player.on_message(reply, &mut Vec::new());
                    (sender, receiver) = client.split();
                }
                Err(failure) => {
                    tracing::warn!(bot = self.index, failure = chain(&failure), "resume failed");
                    break End::Closed;
                }
            }
        };
        match end {
            End::Deadline | End::NoRoom => {
                bump(&counts.finished);
                sender.close().await;
            }
            End::Closed | End::Chaos => {
                tracing::debug!(bot = self.index, "connection ended early");
                bump(&counts.disconnects);
            }
        }
        if let Some(pilot) = &player.pilot {
            self.shared.pilot_done(pilot.window_snapshots());
        }
        let (received, sent) = window.bytes(&counters);
        counts.bytes_in.fetch_add(received, Ordering::Relaxed);
        counts.bytes_out.fetch_add(sent, Ordering::Relaxed);
    }

    async fn connect(&self) -> Result<(Client, Welcome), Failure> {
        if Instant::now() >= self.deadline {
            return Err(Failure::Timeout);
        }
        self.dial(Some(self.deadline), async |client, nickname| {
            client.greet(nickname).await
        })
        .await
    }

    /// Takes the session back on a new connection, naming the newest room
    /// event seen; returns the client and the server's `resumed`.
    async fn resume(&self, welcome: &Welcome, last: u64) -> Result<(Client, ServerMsg), Failure> {
        self.dial(None, async |client, nickname| {
            client.resume(nickname, welcome, last).await
        })
        .await
    }

    /// Opens a connection (one of the connect semaphore's at a time) and
    /// opens its session with `open`, within the connect timeout and
    /// before `deadline` if there is one.
    async fn dial<T>(
        &self,
        deadline: Option<Instant>,
        open: impl AsyncFnOnce(&mut Client, &str) -> Result<T, ClientError>,
    ) -> Result<(Client, T), Failure> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the connect semaphore is never closed");
        let config = &self.shared.config;
        let nickname = format!("bot-{}", self.index);
        let attempt = async {
            let mut client =
                Client::connect_via(&config.url, &config.connect, self.endpoints.as_ref()).await?;
            let opened = open(&mut client, &nickname).await?;
            Ok::<_, Failure>((client, opened))
        };
        let soon = Instant::now() + CONNECT_TIMEOUT;
        let limit = deadline.map_or(soon, |deadline| soon.min(deadline));
        tokio::time::timeout_at(limit, attempt)
            .await
            .unwrap_or(Err(Failure::Timeout))
    }

    fn failed(&self, failure: &Failure) {
        let counts = &self.shared.counts;
        // One line says why; a thousand identical ones would bury it.
        if counts.failed.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::warn!(
                bot = self.index,
                failure = chain(failure),
                "bot could not connect"
            );
        } else {
            tracing::debug!(
                bot = self.index,
                failure = chain(failure),
                "bot could not connect"
            );
        }
        if let Failure::Hello(ClientError::Refused { code, .. }) = failure {
            self.shared.record_error(error_kind(*code));
        }
    }

    /// Runs the welcomed connection until the deadline or its end.
    async fn session(
        &self,
        sender: &ClientSender,
        receiver: &mut ClientReceiver,
        player: &mut Player,
        window: &mut Window,
        chaos_at: Option<Instant>,
        resumed: bool,
    ) -> End {
        let mut outbox = Vec::new();
        let mut code = self.group.code.subscribe();
        // A resumed bot has its seat back already.
        let mut waiting_for_code = !player.is_creator && !resumed;
        if player.is_creator && !resumed {
            outbox.push(ClientMsg::CreateRoom {
                settings: self.room_settings(),
            });
        }
        // Only probes measure round trips.
        let mut ping = self.probe.then(|| {
            let mut ping = tokio::time::interval(PING_EVERY);
            ping.set_missed_tick_behavior(MissedTickBehavior::Skip);
            ping
        });
        // Probes send inputs on a timer of their own, so that their
        // input-to-ack is measured from any point of a tick; light bots
        // send theirs once one is due after reading a snapshot, as a game
        // loop does, which spares a timer. Either way the acknowledgement
        // of the newest state held rides with the input.
        let mut inputs = (player.pilot.is_some() && self.probe).then(|| self.input_interval());
        let deadline = tokio::time::sleep_until(self.deadline);
        tokio::pin!(deadline);
        let mut stop = self.shared.stop.subscribe();
        let window_opens = tokio::time::sleep_until(self.shared.measure_from);
        tokio::pin!(window_opens);
        let mut window_open = self.shared.measuring(Instant::now());

        loop {
            match deliver_all(sender, &outbox).await {
                Ok(()) => {}
                Err(ClientError::Closed) => return End::Closed,
                Err(err) => player.client_error(&err),
            }
            outbox.clear();
            let answer_at = player.pending.as_ref().map(|answer| answer.at);
            tokio::select! {
                _ = &mut deadline => return End::Deadline,
                () = Shared::stopped(&mut stop) => return End::Deadline,
                _ = tokio::time::sleep_until(chaos_at.unwrap_or(self.deadline)),
                    if chaos_at.is_some() => return End::Chaos,
                incoming = receive(receiver, self.probe) => {
                    bump(&self.shared.counts.messages);
                    match incoming {
                        Ok(Received::Message(msg)) => {
                            player.on_message(msg, &mut outbox);
                            if player.no_room {
                                return End::NoRoom;
                            }
                        }
                        Ok(Received::Snapshot(header)) => player.on_header(header, &mut outbox),
                        Err(ClientError::Closed) => return End::Closed,
                        Err(err) => player.client_error(&err),
                    }
                },
                _ = tick(&mut ping) => outbox.push(player.ping(Instant::now())),
                _ = &mut window_opens, if !window_open => {
                    window_open = true;
                    window.open(sender.counters());
                }
                _ = tick(&mut inputs) => player.input(Instant::now(), &mut outbox),
                _ = tokio::time::sleep_until(answer_at.unwrap_or(self.deadline)),
                    if answer_at.is_some() => outbox.extend(player.answer_due()),
                room = async { code.wait_for(Option::is_some).await.ok().and_then(|c| c.clone()) },
                    if waiting_for_code => {
                    waiting_for_code = false;
                    if let Some(room) = room {
                        outbox.push(ClientMsg::JoinRoom { code: room.to_string(), spectate: false });
                    }
                }
            }
        }
    }

    fn room_settings(&self) -> GameSettings {
        let config = &self.shared.config;
        match config.game {
            GameKind::Trivia => GameSettings::Trivia(TriviaSettings {
                questions: config.questions,
                question_secs: config.question_secs,
                reveal_secs: config.reveal_secs,
                max_players: config.room_size,
                start_countdown_secs: START_COUNTDOWN_SECS,
                category: None,
            }),
            GameKind::Asteroids => GameSettings::Asteroids(AsteroidsSettings {
                max_players: config.room_size,
                tick_hz: config.tick_hz,
                match_secs: config.match_secs,
                rocks_per_wave: config.rocks,
                seed: None,
            }),
        }
    }

    /// The Asteroids input timer. Missed inputs are skipped rather than
    /// sent in a burst: the server applies only the newest per tick.
    fn input_interval(&self) -> Interval {
        let period = Duration::from_secs_f64(1.0 / f64::from(self.shared.config.input_hz));
        let mut inputs = tokio::time::interval(period);
        inputs.set_missed_tick_behavior(MissedTickBehavior::Skip);
        inputs
    }
}

/// The next message: decoded in full for a probe, with snapshots only
/// peeked at for a light bot.
async fn receive(receiver: &mut ClientReceiver, probe: bool) -> Result<Received, ClientError> {
    if probe {
        receiver.recv().await.map(Received::Message)
    } else {
        receiver.recv_light().await
    }
}

/// A bot's byte counts when the measurement window opened, so that the
/// report's rates leave the warm-up out.
struct Window {
    at_open: (u64, u64),
}

impl Window {
    /// A bot that connects inside the window counts all its bytes.
    fn new(shared: &Shared, counters: &ByteCounters) -> Self {
        let mut window = Self { at_open: (0, 0) };
        if !shared.measuring(Instant::now()) {
            window.open(counters);
        }
        window
    }

    fn open(&mut self, counters: &ByteCounters) {
        self.at_open = (counters.received(), counters.sent());
    }

    /// Bytes received and sent since the window opened.
    fn bytes(&self, counters: &ByteCounters) -> (u64, u64) {
        (
            counters.received().saturating_sub(self.at_open.0),
            counters.sent().saturating_sub(self.at_open.1),
        )
    }
}

/// Whether a message may be lost: inputs and acks, which the next one
/// supersedes.
fn is_unreliable(msg: &ClientMsg) -> bool {
    matches!(msg, ClientMsg::Input(_) | ClientMsg::Ack { .. })
}

/// Sends messages the way their kinds travel: inputs and acks may be
/// lost; everything else is reliable. A batch of only unreliable messages
/// (an ack and an input) leaves together, in one write on WebSocket.
/// Stops at the first error.
async fn deliver_all(sender: &ClientSender, msgs: &[ClientMsg]) -> Result<(), ClientError> {
    if msgs.len() > 1 && msgs.iter().all(is_unreliable) {
        return sender.send_unreliable_all(msgs).await;
    }
    for msg in msgs {
        if is_unreliable(msg) {
            sender.send_unreliable(msg).await?;
        } else {
            sender.send(msg).await?;
        }
    }
    Ok(())
}

/// An error and its sources, as one line.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(err) = source {
        line.push_str(": ");
        line.push_str(&err.to_string());
        source = err.source();
    }
    line
}

/// The key an error is counted under in the report.
fn error_kind(code: ErrorCode) -> String {
    format!("{} {}", code.code(), code.message())
}

/// An answer the bot has decided on and will send at `at`.
struct PendingAnswer {
    at: Instant,
    question: u16,
    choice: u8,
}

/// What a welcomed bot knows and decides.
struct Player {
    index: usize,
    session: SessionId,
    shared: Arc<Shared>,
    group: Arc<Group>,
    /// This bot creates and hosts its group's room.
    is_creator: bool,
    rng: StdRng,
    room: Option<RoomCode>,
    /// The `--room` to join is not open; the bot stops.
    no_room: bool,
    room_state: RoomState,
    /// Seated players of the room, this bot included.
    players: HashSet<SessionId>,
    /// A start was asked for since the room last entered its lobby.
    start_requested: bool,
    pending: Option<PendingAnswer>,
    /// Pings sent and not yet answered, oldest first.
    pings: VecDeque<(u64, Instant)>,
    next_nonce: u64,
    rtt: Samples,
    /// The bot's arena, when it plays Asteroids.
    pilot: Option<Pilot>,
    /// The numbers of the room events seen.
    events: EventNumbers,
}

/// Follows a room's event numbers: each should be one more than the last.
#[derive(Debug, Default)]
struct EventNumbers {
    newest: Option<u64>,
}

impl EventNumbers {
    /// A new room: its numbering is not known yet.
    fn restart(&mut self) {
        self.newest = None;
    }

    /// Counts a gap as lost events and a number seen before as a
    /// duplicate.
    fn saw(&mut self, seq: u64, shared: &Shared) {
        let counts = &shared.counts;
        match self.newest {
            Some(newest) if seq <= newest => {
                bump(&counts.events_duplicated);
                return;
            }
            Some(newest) if seq > newest + 1 => {
                counts
                    .events_lost
                    .fetch_add(seq - newest - 1, Ordering::Relaxed);
            }
            _ => {}
        }
        self.newest = Some(seq);
    }
}

impl Player {
    fn new(bot: &Bot, session: SessionId) -> Self {
        let rng = match bot.shared.config.seed {
            Some(seed) => StdRng::seed_from_u64(seed.wrapping_add(bot.index as u64)),
            None => StdRng::from_rng(&mut rand::rng()),
        };
        Self {
            index: bot.index,
            session,
            shared: bot.shared.clone(),
            group: bot.group.clone(),
            is_creator: bot.group.claim_creator(),
            rng,
            room: None,
            no_room: false,
            room_state: RoomState::Lobby,
            players: HashSet::new(),
            start_requested: false,
            pending: None,
            pings: VecDeque::new(),
            next_nonce: 0,
            rtt: Samples::new(&bot.shared.timings.rtt),
            events: EventNumbers::default(),
            pilot: (bot.shared.config.game == GameKind::Asteroids)
                .then(|| Pilot::new(bot.index, session, bot.shared.clone(), bot.probe)),
        }
    }

    /// The newest room event seen, for a resume (0 for none).
    fn last_event_seq(&self) -> u64 {
        self.events.newest.unwrap_or(0)
    }

    fn on_message(&mut self, msg: ServerMsg, outbox: &mut Vec<ClientMsg>) {
        match msg {
            ServerMsg::Pong { nonce } => self.pong(nonce, Instant::now()),
            ServerMsg::RoomCreated { room } if self.is_creator && self.room.is_none() => {
                bump(&self.shared.counts.rooms);
                outbox.push(ClientMsg::JoinRoom {
                    code: room.code.to_string(),
                    spectate: false,
                });
                self.group.code.send_replace(Some(room.code));
            }
            ServerMsg::Joined { room, members, .. } => {
                self.events.restart();
                self.room = Some(room.code);
                self.room_state = room.state;
                self.players = members
                    .iter()
                    .filter(|member| member.role == Role::Player)
                    .map(|member| member.session)
                    .collect();
                self.maybe_start(outbox);
            }
            ServerMsg::Left { code, reason } => {
                tracing::debug!(bot = self.index, %code, ?reason, "left the room");
                self.room = None;
                self.pending = None;
                self.events.restart();
            }
            ServerMsg::Event {
                channel,
                event,
                seq,
            } => {
                if let Some(seq) = seq {
                    self.events.saw(seq, &self.shared);
                }
                self.on_event(channel, event, outbox);
            }
            ServerMsg::AnswerAccepted { .. } => bump(&self.shared.counts.answers_accepted),
            ServerMsg::Snapshot(snapshot) => {
                if let Some(pilot) = &mut self.pilot {
                    let now = Instant::now();
                    pilot.on_snapshot(&snapshot, now);
                    self.input_if_due(now, outbox);
                }
            }
            ServerMsg::Error { code, message } => {
                let joining = self
                    .shared
                    .config
                    .room
                    .as_ref()
                    .filter(|_| self.room.is_none());
                if let Some(room) = joining.filter(|_| code == ErrorCode::RoomNotFound) {
                    // Told to join a room that is not open: give up now
                    // rather than idle until the deadline.
                    tracing::warn!(bot = self.index, %room, message, "no open room has that code");
                    self.no_room = true;
                } else if self.is_creator && self.room.is_none() {
                    // The whole group waits on this room; say why it is not coming.
                    tracing::warn!(bot = self.index, %code, message, "could not open a room");
                } else {
                    tracing::debug!(bot = self.index, %code, message, "server error");
                }
                self.shared.record_error(error_kind(code));
            }
            ServerMsg::Welcome { .. }
            | ServerMsg::RoomList { .. }
            | ServerMsg::RoomCreated { .. } => {}
            // A bot seated mid-question may not answer it, and a resumed
            // one has it from the replay: bots act on events alone.
            ServerMsg::Progress(_) => {}
            ServerMsg::Resumed {
                room,
                members,
                events_skipped,
                ..
            } => {
                self.shared
                    .counts
                    .events_lost
                    .fetch_add(events_skipped, Ordering::Relaxed);
                self.room = room.map(|room| room.code);
                self.players = members
                    .iter()
                    .filter(|member| member.role == Role::Player)
                    .map(|member| member.session)
                    .collect();
            }
        }
    }

    /// A snapshot of which only the header was read.
    fn on_header(&mut self, header: SnapshotHeader, outbox: &mut Vec<ClientMsg>) {
        if let Some(pilot) = &mut self.pilot {
            let now = Instant::now();
            pilot.on_header(header, now);
            self.input_if_due(now, outbox);
        }
    }

    /// A light pilot's input, with its acknowledgement, when one is due.
    fn input_if_due(&mut self, now: Instant, outbox: &mut Vec<ClientMsg>) {
        if self.room.is_none() {
            return;
        }
        if let Some(pilot) = &mut self.pilot
            && pilot.input_due(now)
        {
            pilot.input(now, outbox);
        }
    }

    fn on_event(&mut self, channel: Channel, event: Event, outbox: &mut Vec<ClientMsg>) {
        match (channel, event) {
            (Channel::Presence(_), Event::MemberJoined(member)) if member.role == Role::Player => {
                self.players.insert(member.session);
                self.maybe_start(outbox);
            }
            (Channel::Presence(_), Event::MemberLeft { session, .. }) => {
                self.players.remove(&session);
            }
            (Channel::Room(_), Event::StateChanged(state)) => {
                self.room_state = state;
                if state == RoomState::Lobby {
                    self.start_requested = false;
                    self.maybe_start(outbox);
                }
            }
            (Channel::Room(room), Event::Trivia(event)) => {
                self.on_trivia(room, event, Instant::now());
            }
            (
                Channel::Room(room),
                Event::Asteroids(AsteroidsEvent::MatchOver { number, standings }),
            ) => {
                let mine = standings.iter().find(|s| s.session == self.session);
                tracing::debug!(
                    bot = self.index,
                    score = mine.map(|s| s.score),
                    "match over"
                );
                self.shared.match_over(room, number);
            }
            _ => {}
        }
    }

    fn on_trivia(&mut self, room: RoomCode, event: TriviaEvent, now: Instant) {
        match event {
            TriviaEvent::Question(OpenQuestion {
                index,
                text,
                choices,
                time_ms,
                ..
            }) => {
                let config = &self.shared.config;
                let choice = choose_answer(
                    &self.shared.pack,
                    &text,
                    &choices,
                    config.accuracy,
                    &mut self.rng,
                );
                let at = now + answer_delay(time_ms, &mut self.rng);
                self.pending = Some(PendingAnswer {
                    at,
                    question: index,
                    choice,
                });
            }
            TriviaEvent::Reveal { index, results, .. } => {
                if self
                    .pending
                    .as_ref()
                    .is_some_and(|answer| answer.question == index)
                {
                    self.pending = None;
                }
                let mine = results.iter().find(|result| result.session == self.session);
                if mine.is_some_and(|result| result.correct) {
                    bump(&self.shared.counts.answers_correct);
                }
            }
            TriviaEvent::MatchOver { number, .. } => self.shared.match_over(room, number),
            TriviaEvent::Countdown { .. }
            | TriviaEvent::CountdownCancelled
            | TriviaEvent::MatchStarted { .. } => {}
        }
    }

    /// A trivia room that is not full never starts by itself: its host
    /// starts it once the whole group is seated, and again after every
    /// match. An arena needs no start.
    fn maybe_start(&mut self, outbox: &mut Vec<ClientMsg>) {
        if self.shared.config.game != GameKind::Trivia {
            return;
        }
        let partial = self.group.size < usize::from(self.shared.config.room_size);
        let everyone_in = self.players.len() >= self.group.size;
        if self.is_creator
            && partial
            && everyone_in
            && self.room.is_some()
            && self.room_state == RoomState::Lobby
            && !self.start_requested
        {
            self.start_requested = true;
            outbox.push(ClientMsg::StartMatch);
        }
    }

    fn answer_due(&mut self) -> Option<ClientMsg> {
        let answer = self.pending.take()?;
        bump(&self.shared.counts.answers);
        Some(ClientMsg::Answer {
            question: answer.question,
            choice: answer.choice,
        })
    }

    /// Adds the Asteroids input due at `now` (with its acknowledgement),
    /// while the bot is in its arena.
    fn input(&mut self, now: Instant, outbox: &mut Vec<ClientMsg>) {
        if self.room.is_some()
            && let Some(pilot) = &mut self.pilot
        {
            pilot.input(now, outbox);
        }
    }

    fn ping(&mut self, now: Instant) -> ClientMsg {
        let nonce = self.next_nonce;
        self.next_nonce += 1;
        if self.pings.len() == PINGS_IN_FLIGHT {
            self.pings.pop_front();
        }
        self.pings.push_back((nonce, now));
        ClientMsg::Ping { nonce }
    }

    /// Pongs come back in order on the reliable channel, so any older ping
    /// still waiting will never be answered.
    fn pong(&mut self, nonce: u64, now: Instant) {
        while let Some(&(sent_nonce, sent_at)) = self.pings.front() {
            if sent_nonce > nonce {
                break;
            }
            self.pings.pop_front();
            if sent_nonce == nonce {
                self.rtt.record(now.duration_since(sent_at));
            }
        }
    }

    fn client_error(&mut self, err: &ClientError) {
        tracing::debug!(bot = self.index, err = chain(err), "client error");
        self.shared
            .record_error(format!("client: {}", client_error_kind(err)));
    }
}

/// A fixed label per kind of client error: their texts carry details that
/// differ from bot to bot and would split the counts.
fn client_error_kind(err: &ClientError) -> &'static str {
    match err {
        ClientError::Closed => "connection closed",
        ClientError::Refused { .. } => "hello refused",
        ClientError::UnexpectedReply(_) => "unexpected reply",
        ClientError::Decode(_) => "undecodable message",
        ClientError::TooLarge(_) => "oversized frame",
        ClientError::Unsupported(_) => "unsupported operation",
        ClientError::WebSocket(_) => "WebSocket failure",
    }
}
