//! Asteroids: an arena of ships, rocks and bullets simulated at a fixed
//! tick and streamed to every player as quantised delta snapshots.
//!
//! The simulation is a `bevy_ecs` world stepped by the schedule in
//! [`systems`]. Around it, this file keeps what belongs to delivery rather
//! than to the game: the history of recent quantised states, and for each
//! player the newest tick it acknowledged, against which its next snapshot
//! is a delta. A player with no acknowledged state still in the history
//! gets a full snapshot (a late joiner, or one that stopped acknowledging).

pub mod systems;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::SingleThreadedExecutor;
use rand::SeedableRng;
use rand::rngs::StdRng;
use stadium_shared::asteroids::{AsteroidsProgress, AsteroidsSettings, Motion, RockSize};
use stadium_shared::snapshot::{ArenaState, NetId, Snapshot};
use stadium_shared::{ErrorCode, GameKind, Progress, RoomState, ServerMsg, SessionId, Tick};

use crate::room::{Game, GameCommand, Outbox};
use systems::{
    ArenaRules, Arrival, Arrivals, Bullet, Captured, Controls, Kinematics, MatchClock, Net,
    NextNetId, Phase, Produced, Rock, RoomRng, Seats,
};

/// Ticks of quantised state kept as delta baselines: a second at the
/// default 30 Hz, half a second at the highest rate (60 Hz), longer than
/// an acknowledgement takes to come back over any network worth playing
/// on. A client whose acknowledgement is older gets a full snapshot.
/// Each tick held costs a room about 500 bytes (ten ships).
pub const HISTORY: usize = 32;

/// What a seated player was sent and acknowledged.
#[derive(Debug, Default, Clone, Copy)]
struct Acks {
    /// The first tick sent to this seat.
    first_sent: Option<Tick>,
    /// The newest tick acknowledged.
    newest: Option<Tick>,
}

/// Limits on what a room creator may ask for.
pub mod limits {
    use std::ops::RangeInclusive;

    /// Seats.
    pub const MAX_PLAYERS: RangeInclusive<u16> = 1..=64;
    /// Ticks per second.
    pub const TICK_HZ: RangeInclusive<u16> = 10..=60;
    /// Seconds per match.
    pub const MATCH_SECS: RangeInclusive<u16> = 5..=3_600;
    /// Large rocks in the first wave.
    pub const ROCKS_PER_WAVE: RangeInclusive<u16> = 0..=40;
}

/// An Asteroids room's simulation and snapshot pipeline.
pub struct AsteroidsGame {
    world: World,
    schedule: Schedule,
    /// Recent states, oldest first.
    history: VecDeque<(Tick, Arc<ArenaState>)>,
    /// Players and what each was sent and acknowledged.
    acks: BTreeMap<SessionId, Acks>,
    /// The tick last stepped.
    tick: Option<Tick>,
}

impl AsteroidsGame {
    /// A room with `settings`; `seed` is used when the settings name none.
    /// Fails with a readable reason when a setting is outside the limits.
    pub fn new(settings: AsteroidsSettings, seed: u64) -> Result<Self, String> {
        check(&settings)?;
        let seed = settings.seed.unwrap_or(seed);
        let mut world = World::new();
        world.insert_resource(ArenaRules {
            dt: 1.0 / f32::from(settings.tick_hz),
            settings,
        });
        world.insert_resource(RoomRng(Box::new(StdRng::seed_from_u64(seed))));
        world.insert_resource(MatchClock {
            phase: Phase::Waiting,
            number: 0,
            wave: 0,
        });
        world.init_resource::<NextNetId>();
        world.init_resource::<Arrivals>();
        world.init_resource::<Controls>();
        world.init_resource::<Seats>();
        world.init_resource::<Produced>();
        world.init_resource::<Captured>();

        let mut schedule = Schedule::default();
        schedule.set_executor(SingleThreadedExecutor::new());
        systems::build_schedule(&mut schedule);
        Ok(Self {
            world,
            schedule,
            history: VecDeque::new(),
            acks: BTreeMap::new(),
            tick: None,
        })
    }

    /// The quantised world after the last tick.
    pub fn arena(&self) -> &ArenaState {
        &self.world.resource::<Captured>().0
    }

    /// Inputs replaced by a newer one before they could be applied.
    pub fn inputs_coalesced(&self) -> u64 {
        self.world.resource::<Controls>().coalesced
    }

    /// Player ticks with no new input.
    pub fn inputs_missing(&self) -> u64 {
        self.world.resource::<Controls>().missing
    }

    /// Places a rock, for scenarios, tests and benchmarks.
    pub fn spawn_rock(&mut self, motion: Motion, size: RockSize) -> NetId {
        let id = self.world.resource_mut::<NextNetId>().take();
        self.world.spawn((Net(id), Kinematics(motion), Rock(size)));
        id
    }

    /// Places a bullet fired by `owner`, for scenarios, tests and benchmarks.
    pub fn spawn_bullet(&mut self, owner: SessionId, motion: Motion) -> NetId {
        let id = self.world.resource_mut::<NextNetId>().take();
        let bullet = Bullet {
            owner,
            ttl: stadium_shared::asteroids::BULLET_SECS,
        };
        self.world.spawn((Net(id), Kinematics(motion), bullet));
        id
    }

    /// Removes every rock and bullet.
    pub fn clear_arena(&mut self) {
        let doomed: Vec<Entity> = self
            .world
            .query_filtered::<Entity, Or<(With<Rock>, With<Bullet>)>>()
            .iter(&self.world)
            .collect();
        for entity in doomed {
            self.world.despawn(entity);
        }
    }

    /// The snapshot `session` would be sent at `tick`, as [`Game::step`]
    /// builds it.
    #[cfg(test)]
    fn snapshot_for(&self, session: SessionId, tick: Tick) -> Snapshot {
        let ack = self.acks.get(&session).and_then(|acks| acks.newest);
        let last_input = self.world.resource::<Controls>().last_applied(session);
        let state = &self
            .history
            .back()
            .expect("a snapshot follows a captured tick")
            .1;
        state.snapshot(tick, baseline(&self.history, ack, tick), last_input)
    }

    fn acknowledge(&mut self, session: SessionId, tick: Tick) {
        let current = self.tick;
        let Some(acks) = self.acks.get_mut(&session) else {
            return;
        };
        // Only a tick sent to this seat can be a baseline: an ack for a
        // tick not yet sent is a lie or a bug, one from before the player
        // sat down (a late datagram from an earlier seat) names a state the
        // client no longer holds, and one older than held arrived out of
        // order. None of them moves the baseline.
        let sent = acks.first_sent.is_some_and(|first| tick >= first)
            && current.is_some_and(|now| tick <= now);
        if sent && acks.newest.is_none_or(|held| tick > held) {
            acks.newest = Some(tick);
        }
    }
}

/// The held state a client's acknowledged tick names, if it is still in
/// `history` and older than `now`.
fn baseline(
    history: &VecDeque<(Tick, Arc<ArenaState>)>,
    ack: Option<Tick>,
    now: Tick,
) -> Option<(Tick, &ArenaState)> {
    let ack = ack.filter(|&ack| ack < now)?;
    // Newest first: after a wrap the same tick number could be held
    // twice, and the newest is the one that was sent.
    history
        .iter()
        .rev()
        .find(|(t, _)| *t == ack)
        .map(|(t, state)| (*t, state.as_ref()))
}

fn check(settings: &AsteroidsSettings) -> Result<(), String> {
    let field = super::check_setting;
    field("max_players", settings.max_players, limits::MAX_PLAYERS)?;
    field("tick_hz", settings.tick_hz, limits::TICK_HZ)?;
    field("match_secs", settings.match_secs, limits::MATCH_SECS)?;
    field(
        "rocks_per_wave",
        settings.rocks_per_wave,
        limits::ROCKS_PER_WAVE,
    )?;
    Ok(())
}

impl Game for AsteroidsGame {
    fn kind(&self) -> GameKind {
        GameKind::Asteroids
    }

    fn tick_hz(&self) -> u32 {
        u32::from(self.world.resource::<ArenaRules>().settings.tick_hz)
    }

    fn max_players(&self) -> u16 {
        self.world.resource::<ArenaRules>().settings.max_players
    }

    fn state(&self) -> RoomState {
        match self.world.resource::<MatchClock>().phase {
            Phase::Waiting => RoomState::Lobby,
            Phase::Running { .. } => RoomState::Running,
            Phase::Over { .. } => RoomState::Finished,
        }
    }

    fn player_joined(&mut self, session: SessionId, nickname: &str) {
        let nickname = nickname.to_owned();
        self.world
            .resource_mut::<Arrivals>()
            .0
            .push(Arrival::Join { session, nickname });
        self.acks.insert(session, Acks::default());
        // Controls exist from the join, so inputs sent right after it
        // count even before the ship is seated at the next tick.
        self.world
            .resource_mut::<Controls>()
            .players
            .entry(session)
            .or_default();
    }

    fn player_left(&mut self, session: SessionId) {
        self.world
            .resource_mut::<Arrivals>()
            .0
            .push(Arrival::Leave { session });
        self.acks.remove(&session);
    }

    fn command(
        &mut self,
        session: SessionId,
        command: GameCommand,
        _is_host: bool,
        out: &mut Outbox,
    ) {
        match command {
            GameCommand::Input(input) => {
                self.world
                    .resource_mut::<Controls>()
                    .receive(session, input);
            }
            GameCommand::Ack(tick) => self.acknowledge(session, tick),
            // The arena runs whenever someone is in it.
            GameCommand::Start => {}
            GameCommand::Answer { .. } => out.to(
                session,
                ServerMsg::error_with(ErrorCode::WrongGame, "the arena takes inputs, not answers"),
            ),
        }
    }

    fn player_resumed(&mut self, session: SessionId) {
        // The new connection holds no baseline: its next snapshot is full.
        if let Some(acks) = self.acks.get_mut(&session) {
            *acks = Acks::default();
        }
    }

    /// The match clock: a late joiner missed the start that set it.
    fn progress(&mut self, _now: Instant) -> Option<Progress> {
        let clock = self.world.resource::<MatchClock>();
        let Phase::Running { left } = clock.phase else {
            return None;
        };
        Some(Progress::Asteroids(AsteroidsProgress {
            number: clock.number,
            match_secs: self.world.resource::<ArenaRules>().settings.match_secs,
            left_ms: (left.max(0.0) * 1000.0) as u32,
        }))
    }

    /// Spectators acknowledge nothing, so they share one full snapshot.
    fn spectator_view(&self, tick: Tick) -> Option<ServerMsg> {
        let (_, state) = self.history.back()?;
        Some(ServerMsg::Snapshot(state.snapshot(tick, None, 0)))
    }

    fn step(&mut self, tick: Tick, _now: Instant, out: &mut Outbox) {
        self.schedule.run(&mut self.world);
        self.world.clear_trackers();
        self.tick = Some(tick);
        let state = Arc::new(self.world.resource::<Captured>().0.clone());
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back((tick, state));
        out.outputs
            .append(&mut self.world.resource_mut::<Produced>().0.outputs);
        // Players who acknowledged the same tick get the same delta but
        // for the input they last had applied: each distinct baseline is
        // diffed once, usually one or two for the whole room.
        let state = &self
            .history
            .back()
            .expect("the state was captured just above")
            .1;
        let controls = self.world.resource::<Controls>();
        let mut deltas: Vec<(Option<Tick>, Snapshot)> = Vec::new();
        for (&session, acks) in &mut self.acks {
            let base = baseline(&self.history, acks.newest, tick);
            let key = base.map(|(t, _)| t);
            let shared = match deltas.iter().position(|(k, _)| *k == key) {
                Some(index) => &deltas[index].1,
                None => {
                    deltas.push((key, state.snapshot(tick, base, 0)));
                    &deltas[deltas.len() - 1].1
                }
            };
            let mut snapshot = shared.clone();
            snapshot.last_input = controls.last_applied(session);
            out.to(session, ServerMsg::Snapshot(snapshot));
            acks.first_sent.get_or_insert(tick);
        }
    }
}

#[cfg(test)]
mod tests {
    use glam::Vec2;
    use rand::RngExt;
    use stadium_shared::asteroids::{self as rules, AsteroidsEvent};
    use stadium_shared::snapshot::ShipState;
    use stadium_shared::{Event, Input};

    use super::*;
    use crate::room::Output;

    fn settings(rocks: u16) -> AsteroidsSettings {
        AsteroidsSettings {
            rocks_per_wave: rocks,
            seed: Some(42),
            ..AsteroidsSettings::default()
        }
    }

    fn step(game: &mut AsteroidsGame, tick: Tick) -> Vec<Output> {
        let mut out = Outbox::default();
        game.step(tick, Instant::now(), &mut out);
        out.outputs
    }

    fn input(
        game: &mut AsteroidsGame,
        session: SessionId,
        seq: u32,
        turn: f32,
        thrust: bool,
        fire: bool,
    ) {
        let input = Input {
            seq,
            turn,
            thrust,
            fire,
        };
        game.command(
            session,
            GameCommand::Input(input),
            false,
            &mut Outbox::default(),
        );
    }

    fn ship_of(game: &mut AsteroidsGame, session: SessionId) -> Entity {
        game.world.resource::<Seats>().0[&session]
    }

    fn motion_of(game: &mut AsteroidsGame, session: SessionId) -> Motion {
        let entity = ship_of(game, session);
        game.world
            .get::<Kinematics>(entity)
            .expect("ship has a body")
            .0
    }

    fn place(game: &mut AsteroidsGame, session: SessionId, motion: Motion) {
        let entity = ship_of(game, session);
        game.world
            .get_mut::<Kinematics>(entity)
            .expect("ship has a body")
            .0 = motion;
    }

    fn events(outputs: &[Output]) -> Vec<AsteroidsEvent> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Event(Event::Asteroids(e)) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    /// A room with `players` seated and the match running, after `ticks`.
    fn running(rocks: u16, players: u64) -> AsteroidsGame {
        let mut game = AsteroidsGame::new(settings(rocks), 0).unwrap();
        for p in 1..=players {
            game.player_joined(SessionId(p), &format!("p{p}"));
        }
        step(&mut game, Tick(1));
        assert_eq!(Game::state(&game), RoomState::Running);
        game
    }

    #[test]
    fn the_same_seed_and_inputs_give_the_same_world_every_tick() {
        let mut log_rng = StdRng::seed_from_u64(9);
        let mut log: Vec<Vec<(u64, Input)>> = Vec::new();
        for tick in 0..400 {
            let mut inputs = Vec::new();
            for p in 1..=3 {
                if log_rng.random_bool(0.8) {
                    let turn = log_rng.random_range(-1.0..=1.0);
                    let (thrust, fire) = (log_rng.random(), log_rng.random());
                    inputs.push((
                        p,
                        Input {
                            seq: tick + 1,
                            turn,
                            thrust,
                            fire,
                        },
                    ));
                }
            }
            log.push(inputs);
        }
        let mut a = running(4, 3);
        let mut b = running(4, 3);
        let mut destroyed = 0;
        for (i, inputs) in log.iter().enumerate() {
            for game in [&mut a, &mut b] {
                for &(p, input) in inputs {
                    game.command(
                        SessionId(p),
                        GameCommand::Input(input),
                        false,
                        &mut Outbox::default(),
                    );
                }
            }
            let tick = Tick(i as u32 + 2);
            let ea = events(&step(&mut a, tick));
            let eb = events(&step(&mut b, tick));
            assert_eq!(ea, eb, "tick {tick:?}");
            assert_eq!(a.arena().digest(), b.arena().digest(), "tick {tick:?}");
            destroyed += ea
                .iter()
                .filter(|e| matches!(e, AsteroidsEvent::RockDestroyed { .. }))
                .count();
        }
        assert!(
            destroyed > 0,
            "the log shoots rocks, so the test covers collisions"
        );
    }

    #[test]
    fn deltas_applied_to_their_baselines_reproduce_full_snapshots() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut game = running(6, 4);
        let me = SessionId(1);
        // What this client holds: every state it reconstructed, by tick.
        let mut held: BTreeMap<Tick, ArenaState> = BTreeMap::new();
        let (mut fulls, mut deltas) = (0, 0);
        for t in 2..600u32 {
            for p in 1..=4 {
                let turn = rng.random_range(-1.0..=1.0);
                input(&mut game, SessionId(p), t, turn, rng.random(), rng.random());
            }
            // Random acknowledgements: none, recent, or far too old.
            if let Some(&tick) = held.keys().nth_back(rng.random_range(0..8)) {
                match rng.random_range(0..4) {
                    0 => {}
                    _ => game.command(me, GameCommand::Ack(tick), false, &mut Outbox::default()),
                }
            }
            let outputs = step(&mut game, Tick(t));
            let snapshot = outputs
                .iter()
                .find_map(|o| match o {
                    Output::To(s, ServerMsg::Snapshot(snap)) if *s == me => Some(snap.clone()),
                    _ => None,
                })
                .expect("a snapshot every tick");
            let baseline = snapshot.baseline.map(|b| &held[&b]);
            match baseline {
                Some(_) => deltas += 1,
                None => fulls += 1,
            }
            let rebuilt = ArenaState::apply(baseline, &snapshot);
            assert_eq!(&rebuilt, game.arena(), "tick {t}");
            held.insert(Tick(t), rebuilt);
        }
        assert!(deltas > 400 && fulls >= 1, "{deltas} deltas, {fulls} full");
    }

    #[test]
    fn a_baseline_older_than_the_history_gives_a_full_snapshot() {
        let mut game = running(4, 1);
        let me = SessionId(1);
        game.command(me, GameCommand::Ack(Tick(1)), false, &mut Outbox::default());
        let snap = game.snapshot_for(me, Tick(1));
        assert_eq!(
            snap.baseline, None,
            "nothing older than the current tick acknowledged"
        );
        for t in 2..(HISTORY as u32 + 10) {
            step(&mut game, Tick(t));
        }
        let snap = game.snapshot_for(me, Tick(HISTORY as u32 + 9));
        assert_eq!(snap.baseline, None, "tick 1 left the history");
        assert_eq!(snap.changed.len(), game.arena().entities.len());
    }

    #[test]
    fn acks_from_before_a_seat_or_from_the_future_are_ignored() {
        let mut game = running(4, 1);
        let me = SessionId(1);
        for t in 2..10 {
            step(&mut game, Tick(t));
        }
        game.player_left(me);
        step(&mut game, Tick(10));
        game.player_joined(me, "again");
        step(&mut game, Tick(11));
        // Ticks 5 (sent to the earlier seat) and 12 (not sent yet).
        for tick in [5, 12] {
            game.command(
                me,
                GameCommand::Ack(Tick(tick)),
                false,
                &mut Outbox::default(),
            );
            assert_eq!(
                game.snapshot_for(me, Tick(11)).baseline,
                None,
                "ack of {tick}"
            );
        }
        game.command(
            me,
            GameCommand::Ack(Tick(11)),
            false,
            &mut Outbox::default(),
        );
        step(&mut game, Tick(12));
        assert_eq!(game.snapshot_for(me, Tick(12)).baseline, Some(Tick(11)));
    }

    #[test]
    fn c19_snapshots_acks_and_deltas_keep_working_across_the_tick_wrap() {
        // A room whose counter starts just before the wrap.
        let mut game = AsteroidsGame::new(settings(4), 0).unwrap();
        game.player_joined(SessionId(1), "p1");
        let me = SessionId(1);
        let mut held: BTreeMap<u32, ArenaState> = BTreeMap::new();
        let start = u32::MAX - 20;
        for i in 0..60u32 {
            let tick = Tick(start.wrapping_add(i));
            if i > 0 {
                let prev = Tick(start.wrapping_add(i - 1));
                game.command(me, GameCommand::Ack(prev), false, &mut Outbox::default());
            }
            let outputs = step(&mut game, tick);
            let Some(Output::To(_, ServerMsg::Snapshot(snap))) = outputs
                .iter()
                .find(|o| matches!(o, Output::To(_, ServerMsg::Snapshot(_))))
            else {
                panic!("no snapshot at {tick:?}")
            };
            if i > 0 {
                assert_eq!(
                    snap.baseline,
                    Some(Tick(start.wrapping_add(i - 1))),
                    "{tick:?}"
                );
            }
            let rebuilt = ArenaState::apply(snap.baseline.map(|b| &held[&b.0]), snap);
            assert_eq!(&rebuilt, game.arena(), "{tick:?} from {:?}", snap.baseline);
            held.insert(tick.0, rebuilt);
        }
    }

    #[test]
    fn ships_wrap_around_the_arena_edges() {
        let mut game = running(0, 1);
        let me = SessionId(1);
        let edge = Motion {
            pos: Vec2::new(rules::ARENA_WIDTH - 1.0, 5.0),
            vel: Vec2::new(90.0, -300.0),
            angle: 0.0,
        };
        place(&mut game, me, edge);
        step(&mut game, Tick(2));
        let pos = motion_of(&mut game, me).pos;
        assert!(pos.x < 10.0 && pos.y > rules::ARENA_HEIGHT - 10.0, "{pos}");
    }

    #[test]
    fn c15_one_input_is_applied_per_tick_however_many_arrive() {
        let mut game = running(0, 1);
        let me = SessionId(1);
        place(&mut game, me, Motion::default());
        for seq in 1..=50 {
            input(&mut game, me, seq, 1.0, false, false);
        }
        let outputs = step(&mut game, Tick(2));
        let turned = motion_of(&mut game, me).angle;
        assert!(
            (turned - rules::TURN_RATE / 30.0).abs() < 1e-5,
            "turned {turned}"
        );
        assert_eq!(game.inputs_coalesced(), 49);
        let Some(Output::To(_, ServerMsg::Snapshot(snap))) = outputs.last() else {
            panic!()
        };
        assert_eq!(snap.last_input, 50);
        // A stale input (lower sequence) that arrives late changes nothing.
        input(&mut game, me, 7, -1.0, false, false);
        step(&mut game, Tick(3));
        let angle = motion_of(&mut game, me).angle;
        assert!(
            (angle - 2.0 * rules::TURN_RATE / 30.0).abs() < 1e-5,
            "repeated the last: {angle}"
        );
    }

    #[test]
    fn players_on_one_baseline_share_its_delta_each_with_their_own_input() {
        let mut game = running(0, 3);
        let at_1 = game.arena().clone();
        for p in [1, 2] {
            let ack = GameCommand::Ack(Tick(1));
            game.command(SessionId(p), ack, false, &mut Outbox::default());
        }
        input(&mut game, SessionId(1), 5, 1.0, true, false);
        input(&mut game, SessionId(2), 9, -1.0, false, false);
        let snapshots: BTreeMap<SessionId, Snapshot> = step(&mut game, Tick(2))
            .into_iter()
            .filter_map(|output| match output {
                Output::To(session, ServerMsg::Snapshot(snap)) => Some((session, snap)),
                _ => None,
            })
            .collect();
        let [one, two, three] = [1, 2, 3].map(|p| snapshots[&SessionId(p)].clone());
        assert_eq!((one.baseline, one.last_input), (Some(Tick(1)), 5));
        assert_eq!((two.baseline, two.last_input), (Some(Tick(1)), 9));
        assert_eq!(
            (three.baseline, three.last_input),
            (None, 0),
            "no acknowledgement: a full snapshot"
        );
        assert_eq!(
            Snapshot {
                last_input: 5,
                ..two.clone()
            },
            one,
            "the same delta but for the echoed input"
        );
        assert_eq!(&ArenaState::apply(Some(&at_1), &one), game.arena());
        assert_eq!(&ArenaState::apply(None, &three), game.arena());
    }

    #[test]
    fn input_sequence_numbers_compare_across_the_wrap() {
        let mut game = running(0, 1);
        let me = SessionId(1);
        for (t, seq) in [(2, u32::MAX - 1), (3, u32::MAX), (4, 0), (5, 1)] {
            input(&mut game, me, seq, 0.0, false, false);
            let outputs = step(&mut game, Tick(t));
            let Some(Output::To(_, ServerMsg::Snapshot(snap))) = outputs.last() else {
                panic!()
            };
            assert_eq!(snap.last_input, seq, "tick {t}");
        }
        input(&mut game, me, u32::MAX, 0.0, false, false);
        step(&mut game, Tick(6));
        assert_eq!(
            game.snapshot_for(me, Tick(6)).last_input,
            1,
            "older across the wrap"
        );
    }

    #[test]
    fn missing_inputs_repeat_briefly_then_go_neutral() {
        let mut game = running(0, 1);
        let me = SessionId(1);
        place(&mut game, me, Motion::default());
        input(&mut game, me, 1, 1.0, false, false);
        let mut angles = Vec::new();
        for t in 2..10 {
            step(&mut game, Tick(t));
            angles.push(motion_of(&mut game, me).angle);
        }
        let per_tick = rules::TURN_RATE / 30.0;
        let expected = (1 + rules::INPUT_REPEAT_TICKS) as f32 * per_tick;
        assert!((angles[7] - expected).abs() < 1e-5, "{angles:?}");
        // Seven ticks after the input, plus the player's first tick, before
        // it had sent anything.
        assert_eq!(game.inputs_missing(), 8);
    }

    #[test]
    fn a_hit_rock_splits_and_scores_the_shooter() {
        let mut game = running(0, 1);
        let me = SessionId(1);
        place(
            &mut game,
            me,
            Motion {
                pos: Vec2::new(100.0, 100.0),
                vel: Vec2::ZERO,
                angle: 0.0,
            },
        );
        let rock = Motion {
            pos: Vec2::new(200.0, 100.0),
            vel: Vec2::ZERO,
            angle: 0.0,
        };
        game.world
            .spawn((Net(9_999), Kinematics(rock), Rock(RockSize::Large)));
        input(&mut game, me, 1, 0.0, false, true);
        let mut seen = Vec::new();
        for t in 2..20 {
            seen.extend(events(&step(&mut game, Tick(t))));
        }
        assert!(
            seen.contains(&AsteroidsEvent::RockDestroyed {
                id: 9_999,
                size: RockSize::Large,
                by: me
            }),
            "{seen:?}"
        );
        assert!(seen.contains(&AsteroidsEvent::PlayerScored {
            session: me,
            points: 20,
            score: 20
        }));
        let mediums = game
            .arena()
            .rocks()
            .filter(|(_, r)| r.size == RockSize::Medium)
            .count();
        assert_eq!(mediums, 2);
    }

    #[test]
    fn a_ship_is_never_hit_by_its_own_bullets() {
        let mut game = running(0, 2);
        let (me, other) = (SessionId(1), SessionId(2));
        // Flying into its own stream of bullets at top speed.
        place(
            &mut game,
            me,
            Motion {
                pos: Vec2::new(400.0, 400.0),
                vel: Vec2::new(rules::MAX_SHIP_SPEED, 0.0),
                angle: 0.0,
            },
        );
        place(
            &mut game,
            other,
            Motion {
                pos: Vec2::new(400.0, 1000.0),
                vel: Vec2::ZERO,
                angle: 0.0,
            },
        );
        for t in 2..(30 * 5) {
            input(&mut game, me, t, 0.0, true, true);
            let destroyed = events(&step(&mut game, Tick(t)))
                .into_iter()
                .any(|e| matches!(e, AsteroidsEvent::ShipDestroyed { .. }));
            assert!(!destroyed, "tick {t}");
        }
        assert!(game.arena().bullets().count() > 0);
    }

    #[test]
    fn another_players_bullet_destroys_and_the_respawn_is_invulnerable() {
        let mut game = running(0, 2);
        let (shooter, target) = (SessionId(1), SessionId(2));
        // Let the join invulnerability run out first.
        for t in 2..(30 * 4) {
            step(&mut game, Tick(t));
        }
        place(
            &mut game,
            shooter,
            Motion {
                pos: Vec2::new(100.0, 600.0),
                vel: Vec2::ZERO,
                angle: 0.0,
            },
        );
        place(
            &mut game,
            target,
            Motion {
                pos: Vec2::new(300.0, 600.0),
                vel: Vec2::ZERO,
                angle: 0.0,
            },
        );
        input(&mut game, shooter, 1, 0.0, false, true);
        let mut seen = Vec::new();
        let mut t = 200;
        while !seen
            .iter()
            .any(|e| matches!(e, AsteroidsEvent::ShipDestroyed { .. }))
            && t < 260
        {
            seen.extend(events(&step(&mut game, Tick(t))));
            t += 1;
        }
        assert!(
            seen.contains(&AsteroidsEvent::ShipDestroyed {
                session: target,
                by: Some(shooter),
                lives: 2
            }),
            "{seen:?}"
        );

        // Wait out the respawn, then park a rock on the respawned ship.
        for _ in 0..(30.0 * rules::RESPAWN_SECS) as u32 + 2 {
            step(&mut game, Tick(t));
            t += 1;
        }
        let (_, ship) = game
            .arena()
            .ships()
            .find(|(_, s)| s.owner == target)
            .unwrap();
        assert_eq!(ship.flags & ShipState::DESTROYED, 0, "respawned");
        assert_ne!(ship.flags & ShipState::INVULNERABLE, 0);
        let pos = motion_of(&mut game, target).pos;
        let rock = Motion {
            pos,
            vel: Vec2::ZERO,
            angle: 0.0,
        };
        game.world
            .spawn((Net(77_777), Kinematics(rock), Rock(RockSize::Small)));
        for _ in 0..30 {
            let hit = events(&step(&mut game, Tick(t))).into_iter().any(
                |e| matches!(e, AsteroidsEvent::ShipDestroyed { session, .. } if session == target),
            );
            assert!(!hit, "invulnerable after respawn");
            t += 1;
        }
        // Once the invulnerability ends, the same rock destroys it.
        let mut destroyed = false;
        for _ in 0..(30.0 * rules::INVULNERABLE_SECS) as u32 {
            destroyed |= events(&step(&mut game, Tick(t)))
                .into_iter()
                .any(|e| matches!(e, AsteroidsEvent::ShipDestroyed { session, by: None, .. } if session == target));
            place(&mut game, target, rock);
            t += 1;
        }
        assert!(destroyed);
    }

    #[test]
    fn a_match_ends_on_its_time_limit_with_standings() {
        let mut settings = settings(0);
        settings.match_secs = 5;
        let mut game = AsteroidsGame::new(settings, 0).unwrap();
        game.player_joined(SessionId(1), "Ada");
        let mut over = None;
        for t in 1..=(30 * 5 + 2) {
            for e in events(&step(&mut game, Tick(t))) {
                if let AsteroidsEvent::MatchOver { number, standings } = e {
                    over = Some((t, number, standings));
                }
            }
        }
        let (t, number, standings) = over.expect("the match ends");
        assert!((150..=152).contains(&t), "ended at tick {t}");
        assert_eq!(number, 1);
        assert_eq!(standings[0].nickname, "Ada");
        assert_eq!(Game::state(&game), RoomState::Finished);
    }

    #[test]
    fn a_running_match_tells_arrivals_its_time_left() {
        let mut settings = settings(0);
        settings.match_secs = 5;
        let mut game = AsteroidsGame::new(settings, 0).unwrap();
        assert_eq!(game.progress(Instant::now()), None, "no match yet");
        game.player_joined(SessionId(1), "Ada");
        for t in 1..=31 {
            step(&mut game, Tick(t));
        }
        // One second of the five has run (the first tick started it).
        let Some(Progress::Asteroids(progress)) = game.progress(Instant::now()) else {
            panic!("a running match has progress");
        };
        assert_eq!((progress.number, progress.match_secs), (1, 5));
        assert!(
            (3_950..=4_050).contains(&progress.left_ms),
            "{}",
            progress.left_ms
        );
        for t in 32..=(30 * 5 + 2) {
            step(&mut game, Tick(t));
        }
        assert_eq!(game.progress(Instant::now()), None, "the match is over");
    }

    #[test]
    fn clearing_the_arena_starts_a_bigger_wave() {
        let mut game = running(2, 1);
        assert_eq!(game.arena().rocks().count(), 2);
        game.clear_arena();
        let started = events(&step(&mut game, Tick(2)));
        assert!(
            started.contains(&AsteroidsEvent::WaveStarted { wave: 2, rocks: 3 }),
            "{started:?}"
        );
        assert_eq!(game.arena().rocks().count(), 3);
    }

    #[test]
    fn settings_outside_the_limits_are_refused() {
        for bad in [
            AsteroidsSettings {
                max_players: 0,
                ..settings(0)
            },
            AsteroidsSettings {
                tick_hz: 1_000,
                ..settings(0)
            },
            AsteroidsSettings {
                rocks_per_wave: 500,
                ..settings(0)
            },
        ] {
            assert!(AsteroidsGame::new(bad, 0).is_err());
        }
    }
}
