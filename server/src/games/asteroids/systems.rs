//! The arena's components, resources and systems.
//!
//! One tick runs the sets of [`ArenaSet`] in order: apply inputs (seat and
//! unseat ships, steer, fire), move (drift, expire bullets, count down
//! respawns), collide (bullets with rocks and ships, ships with rocks),
//! score (waves, the match clock, standings), and capture (quantise the
//! world into the tick's [`ArenaState`]). Randomness comes only from
//! [`RoomRng`], time only from the tick: the same seed and inputs give the
//! same world at every tick.

use std::collections::{BTreeMap, HashMap};

use bevy_ecs::prelude::*;
use glam::Vec2;
use rand::rngs::StdRng;
use rand::{Rng, RngExt};
use stadium_shared::asteroids::{
    self as rules, AsteroidsEvent, AsteroidsSettings, Motion, RockSize, Standing,
};
use stadium_shared::snapshot::{
    ArenaState, Body, BulletState, EntityState, NetId, RockState, ShipState, quantize_angle,
};
use stadium_shared::{Event, Input, SessionId};

use crate::room::Outbox;

/// Seconds the final standings stay up before the next match.
pub const STANDINGS_SECS: f32 = 5.0;

/// How close to a ship a new rock may appear.
const ROCK_SPAWN_CLEARANCE: f32 = 220.0;

/// The stages of a tick, in order.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum ArenaSet {
    /// Seat and unseat ships, steer them, fire.
    ApplyInputs,
    /// Move every body; expire bullets; count down respawns.
    Move,
    /// Bullets against rocks and ships, ships against rocks.
    Collide,
    /// Waves, the match clock, the end of a match.
    Score,
    /// Quantise the world for snapshots.
    Capture,
}

/// An entity's id in snapshots.
#[derive(Component, Debug, Clone, Copy)]
pub struct Net(pub NetId);

/// Where a body is and how it moves.
#[derive(Component, Debug, Clone, Copy)]
pub struct Kinematics(pub Motion);

/// A player's ship.
#[derive(Component, Debug)]
pub struct Ship {
    /// The player.
    pub owner: SessionId,
    /// Their nickname, for standings.
    pub nickname: String,
    /// Lives left.
    pub lives: u8,
    /// Points this match.
    pub score: u32,
    /// Seconds until the gun may fire again.
    pub cooldown: f32,
    /// Seconds until respawn while destroyed; `None` while flying.
    pub respawn_in: Option<f32>,
    /// Seconds of invulnerability left.
    pub invulnerable: f32,
    /// The engine was on this tick.
    pub thrusting: bool,
}

impl Ship {
    fn flying(&self) -> bool {
        self.respawn_in.is_none() && self.lives > 0
    }

    fn hurtable(&self) -> bool {
        self.flying() && self.invulnerable <= 0.0
    }
}

/// A rock.
#[derive(Component, Debug)]
pub struct Rock(pub RockSize);

/// A bullet.
#[derive(Component, Debug)]
pub struct Bullet {
    /// Who fired it; it never hurts them.
    pub owner: SessionId,
    /// Seconds of flight left.
    pub ttl: f32,
}

/// The room's settings and the length of a tick.
#[derive(Resource, Debug)]
pub struct ArenaRules {
    /// As given at create, checked.
    pub settings: AsteroidsSettings,
    /// Seconds per tick.
    pub dt: f32,
}

/// The room's seeded random numbers. Boxed because `bevy_ecs` keeps
/// each resource type in a store made for 64 of them: unboxed, the
/// generator's 300-odd bytes of state would cost every room 20 KB.
#[derive(Resource)]
pub struct RoomRng(pub Box<StdRng>);

/// The next entity id to hand out.
#[derive(Resource, Debug, Default)]
pub struct NextNetId(pub NetId);

impl NextNetId {
    /// A fresh id.
    pub fn take(&mut self) -> NetId {
        self.0 = self.0.wrapping_add(1);
        self.0
    }
}

/// Seats and leaves waiting for the next tick.
#[derive(Resource, Debug, Default)]
pub struct Arrivals(pub Vec<Arrival>);

/// A player sitting down or standing up.
#[derive(Debug)]
pub enum Arrival {
    /// Seat a new ship.
    Join {
        /// The player.
        session: SessionId,
        /// Their nickname.
        nickname: String,
    },
    /// Remove the player's ship.
    Leave {
        /// The player.
        session: SessionId,
    },
}

/// Each player's controls: at most one input is applied per tick, the
/// newest that arrived; when none arrives the last one is repeated for
/// [`rules::INPUT_REPEAT_TICKS`] ticks, then the controls go neutral.
#[derive(Resource, Debug, Default)]
pub struct Controls {
    /// By player.
    pub players: HashMap<SessionId, PlayerControls>,
    /// Inputs that arrived but were replaced by a newer one before a tick.
    pub coalesced: u64,
    /// Ticks on which a player had sent no new input.
    pub missing: u64,
}

/// One player's controls.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlayerControls {
    /// The newest input received since the last tick.
    pub pending: Option<Input>,
    /// The input applied most recently.
    pub applied: Option<Input>,
    /// Ticks since a new input was applied.
    pub stale_ticks: u32,
}

impl Controls {
    /// Records an input; an older or equal sequence number than one
    /// already seen is ignored (datagrams can arrive out of order).
    pub fn receive(&mut self, session: SessionId, input: Input) {
        let Some(player) = self.players.get_mut(&session) else {
            return;
        };
        // Sequence numbers compare across wraparound, as ticks do, so a
        // client that reaches u32::MAX (or starts near it) keeps flying.
        let newest = player.pending.or(player.applied).map(|i| i.seq);
        if newest.is_some_and(|newest| input.seq.wrapping_sub(newest) as i32 <= 0) {
            return;
        }
        if player.pending.replace(input).is_some() {
            self.coalesced += 1;
            crate::metrics::get().inputs_coalesced.increment(1);
        }
    }

    /// The input to apply this tick for `session`, by the stated policy.
    fn take(&mut self, session: SessionId) -> (f32, bool, bool) {
        let Some(player) = self.players.get_mut(&session) else {
            return (0.0, false, false);
        };
        if let Some(input) = player.pending.take() {
            player.applied = Some(input);
            player.stale_ticks = 0;
            return (input.turn, input.thrust, input.fire);
        }
        self.missing += 1;
        player.stale_ticks += 1;
        match player.applied {
            Some(input) if player.stale_ticks <= rules::INPUT_REPEAT_TICKS => {
                (input.turn, input.thrust, input.fire)
            }
            _ => (0.0, false, false),
        }
    }

    /// The sequence number of the newest input applied for `session`.
    pub fn last_applied(&self, session: SessionId) -> u32 {
        self.players
            .get(&session)
            .and_then(|p| p.applied)
            .map_or(0, |i| i.seq)
    }
}

/// Where the room's match is.
#[derive(Resource, Debug)]
pub struct MatchClock {
    /// The phase.
    pub phase: Phase,
    /// Matches started in this room.
    pub number: u32,
    /// The current wave, from 1; 0 before the first.
    pub wave: u32,
}

/// A phase of the room's life.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    /// Nobody is playing.
    Waiting,
    /// A match is on, with this many seconds left.
    Running {
        /// Seconds left.
        left: f32,
    },
    /// Standings are up for this many more seconds.
    Over {
        /// Seconds left.
        left: f32,
    },
}

/// Ships by player.
#[derive(Resource, Debug, Default)]
pub struct Seats(pub HashMap<SessionId, Entity>);

/// Events this tick produced.
#[derive(Resource, Debug, Default)]
pub struct Produced(pub Outbox);

impl Produced {
    fn event(&mut self, event: AsteroidsEvent) {
        self.0.event(Event::Asteroids(event));
    }
}

/// The quantised world at the end of the tick.
#[derive(Resource, Debug, Default)]
pub struct Captured(pub ArenaState);

/// Registers the systems in their sets.
pub fn build_schedule(schedule: &mut Schedule) {
    schedule.configure_sets(
        (
            ArenaSet::ApplyInputs,
            ArenaSet::Move,
            ArenaSet::Collide,
            ArenaSet::Score,
            ArenaSet::Capture,
        )
            .chain(),
    );
    schedule.add_systems(
        (seat_players, apply_inputs)
            .chain()
            .in_set(ArenaSet::ApplyInputs),
    );
    schedule.add_systems((move_bodies, expire_bullets, respawn_ships).in_set(ArenaSet::Move));
    schedule.add_systems(collide.in_set(ArenaSet::Collide));
    schedule.add_systems(run_clock.in_set(ArenaSet::Score));
    schedule.add_systems(capture.in_set(ArenaSet::Capture));
}

fn random_pos(rng: &mut impl Rng) -> Vec2 {
    Vec2::new(
        rng.random_range(0.0..rules::ARENA_WIDTH),
        rng.random_range(0.0..rules::ARENA_HEIGHT),
    )
}

fn seat_players(
    mut commands: Commands,
    mut arrivals: ResMut<Arrivals>,
    mut seats: ResMut<Seats>,
    mut controls: ResMut<Controls>,
    mut ids: ResMut<NextNetId>,
    mut rng: ResMut<RoomRng>,
) {
    for arrival in arrivals.0.drain(..) {
        match arrival {
            Arrival::Join { session, nickname } => {
                if seats.0.contains_key(&session) {
                    continue;
                }
                let motion = Motion {
                    pos: random_pos(&mut rng.0),
                    vel: Vec2::ZERO,
                    angle: 0.0,
                };
                let ship = Ship {
                    owner: session,
                    nickname,
                    lives: rules::LIVES,
                    score: 0,
                    cooldown: 0.0,
                    respawn_in: None,
                    invulnerable: rules::INVULNERABLE_SECS,
                    thrusting: false,
                };
                let entity = commands
                    .spawn((Net(ids.take()), Kinematics(motion), ship))
                    .id();
                seats.0.insert(session, entity);
                controls.players.entry(session).or_default();
            }
            Arrival::Leave { session } => {
                if let Some(entity) = seats.0.remove(&session) {
                    commands.entity(entity).despawn();
                }
                controls.players.remove(&session);
            }
        }
    }
}

fn apply_inputs(
    mut commands: Commands,
    rules: Res<ArenaRules>,
    clock: Res<MatchClock>,
    mut controls: ResMut<Controls>,
    mut ids: ResMut<NextNetId>,
    mut ships: Query<(&mut Ship, &mut Kinematics)>,
) {
    let dt = rules.dt;
    let playing = matches!(clock.phase, Phase::Running { .. });
    for (mut ship, mut body) in &mut ships {
        let (turn, thrust, fire) = controls.take(ship.owner);
        ship.cooldown = (ship.cooldown - dt).max(0.0);
        if !ship.flying() || !playing {
            ship.thrusting = false;
            continue;
        }
        ship.thrusting = thrust;
        rules::steer(&mut body.0, turn, thrust, dt);
        if fire && ship.cooldown <= 0.0 {
            ship.cooldown = rules::FIRE_COOLDOWN_SECS;
            let dir = rules::heading(body.0.angle);
            let motion = Motion {
                pos: rules::wrap(body.0.pos + dir * (rules::SHIP_RADIUS + rules::BULLET_RADIUS)),
                vel: body.0.vel + dir * rules::BULLET_SPEED,
                angle: body.0.angle,
            };
            let bullet = Bullet {
                owner: ship.owner,
                ttl: rules::BULLET_SECS,
            };
            commands.spawn((Net(ids.take()), Kinematics(motion), bullet));
        }
    }
}

fn move_bodies(rules: Res<ArenaRules>, mut bodies: Query<(&mut Kinematics, Option<&Ship>)>) {
    for (mut body, ship) in &mut bodies {
        if ship.is_some_and(|s| !s.flying()) {
            continue;
        }
        rules::drift(&mut body.0, rules.dt);
    }
}

fn expire_bullets(
    mut commands: Commands,
    rules: Res<ArenaRules>,
    mut bullets: Query<(Entity, &mut Bullet)>,
) {
    for (entity, mut bullet) in &mut bullets {
        bullet.ttl -= rules.dt;
        if bullet.ttl <= 0.0 {
            commands.entity(entity).despawn();
        }
    }
}

fn respawn_ships(
    rules: Res<ArenaRules>,
    mut rng: ResMut<RoomRng>,
    mut ships: Query<(&mut Ship, &mut Kinematics)>,
) {
    for (mut ship, mut body) in &mut ships {
        ship.invulnerable = (ship.invulnerable - rules.dt).max(0.0);
        let Some(wait) = ship.respawn_in else {
            continue;
        };
        if ship.lives == 0 {
            continue;
        }
        let wait = wait - rules.dt;
        if wait > 0.0 {
            ship.respawn_in = Some(wait);
            continue;
        }
        ship.respawn_in = None;
        ship.invulnerable = rules::INVULNERABLE_SECS;
        body.0 = Motion {
            pos: random_pos(&mut rng.0),
            vel: Vec2::ZERO,
            angle: body.0.angle,
        };
    }
}

/// Resolves the tick's hits: bullets against rocks (which split, scoring
/// the shooter), then ships against other players' bullets and rocks. A
/// bullet or rock already used up this tick is skipped, so each counts once.
#[allow(
    clippy::type_complexity,
    reason = "bevy queries spell out their filters"
)]
fn collide(
    mut commands: Commands,
    mut ids: ResMut<NextNetId>,
    mut rng: ResMut<RoomRng>,
    mut produced: ResMut<Produced>,
    bullets: Query<(Entity, &Bullet, &Kinematics), Without<Ship>>,
    rocks: Query<(Entity, &Net, &Rock, &Kinematics), Without<Ship>>,
    mut ships: Query<(&mut Ship, &Kinematics)>,
) {
    let mut spent_bullets: Vec<Entity> = Vec::new();
    let mut hit_rocks: Vec<Entity> = Vec::new();

    for (rock_entity, net, rock, rock_body) in &rocks {
        let radius = rock.0.radius();
        let hit = bullets.iter().find(|(b, _, body)| {
            !spent_bullets.contains(b)
                && rules::touching(body.0.pos, rules::BULLET_RADIUS, rock_body.0.pos, radius)
        });
        let Some((bullet_entity, bullet, _)) = hit else {
            continue;
        };
        spent_bullets.push(bullet_entity);
        hit_rocks.push(rock_entity);
        commands.entity(bullet_entity).despawn();
        commands.entity(rock_entity).despawn();
        if let Some(size) = rock.0.split() {
            for _ in 0..2 {
                let motion = rock_motion(&mut rng.0, rock_body.0.pos, size);
                commands.spawn((Net(ids.take()), Kinematics(motion), Rock(size)));
            }
        }
        produced.event(AsteroidsEvent::RockDestroyed {
            id: net.0,
            size: rock.0,
            by: bullet.owner,
        });
        award(&mut ships, &mut produced, bullet.owner, rock.0.points());
    }

    // Ships hit by another player's bullet or by a rock.
    let mut destroyed: Vec<(SessionId, Option<SessionId>)> = Vec::new();
    for (ship, body) in &ships {
        if !ship.hurtable() {
            continue;
        }
        let shot = bullets.iter().find(|(b, bullet, bullet_body)| {
            bullet.owner != ship.owner
                && !spent_bullets.contains(b)
                && rules::touching(
                    bullet_body.0.pos,
                    rules::BULLET_RADIUS,
                    body.0.pos,
                    rules::SHIP_RADIUS,
                )
        });
        if let Some((bullet_entity, bullet, _)) = shot {
            spent_bullets.push(bullet_entity);
            commands.entity(bullet_entity).despawn();
            destroyed.push((ship.owner, Some(bullet.owner)));
            continue;
        }
        let crashed = rocks.iter().any(|(r, _, rock, rock_body)| {
            !hit_rocks.contains(&r)
                && rules::touching(
                    rock_body.0.pos,
                    rock.0.radius(),
                    body.0.pos,
                    rules::SHIP_RADIUS,
                )
        });
        if crashed {
            destroyed.push((ship.owner, None));
        }
    }
    for (victim, by) in destroyed {
        let lives = ships
            .iter_mut()
            .find(|(s, _)| s.owner == victim)
            .map(|(mut ship, _)| {
                ship.lives -= 1;
                ship.respawn_in = Some(rules::RESPAWN_SECS);
                ship.thrusting = false;
                ship.lives
            });
        let Some(lives) = lives else { continue };
        produced.event(AsteroidsEvent::ShipDestroyed {
            session: victim,
            by,
            lives,
        });
        if let Some(shooter) = by {
            award(&mut ships, &mut produced, shooter, SHIP_POINTS);
        }
    }
}

/// Points for shooting down another player's ship.
pub const SHIP_POINTS: u32 = 200;

fn award(
    ships: &mut Query<(&mut Ship, &Kinematics)>,
    produced: &mut Produced,
    session: SessionId,
    points: u32,
) {
    let Some((mut ship, _)) = ships.iter_mut().find(|(s, _)| s.owner == session) else {
        return;
    };
    ship.score += points;
    let score = ship.score;
    produced.event(AsteroidsEvent::PlayerScored {
        session,
        points,
        score,
    });
}

fn rock_motion(rng: &mut impl Rng, pos: Vec2, size: RockSize) -> Motion {
    let angle = rng.random_range(0.0..std::f32::consts::TAU);
    let speed = rng.random_range(size.speed_range());
    Motion {
        pos,
        vel: rules::heading(angle) * speed,
        angle,
    }
}

#[allow(clippy::too_many_arguments, reason = "a system takes what it touches")]
fn run_clock(
    mut commands: Commands,
    arena: Res<ArenaRules>,
    mut clock: ResMut<MatchClock>,
    mut ids: ResMut<NextNetId>,
    mut rng: ResMut<RoomRng>,
    mut produced: ResMut<Produced>,
    mut ships: Query<(&mut Ship, &mut Kinematics)>,
    rocks: Query<Entity, With<Rock>>,
    bullets: Query<Entity, With<Bullet>>,
) {
    let dt = arena.dt;
    let settings = &arena.settings;
    let players = ships.iter().count();
    match clock.phase {
        Phase::Waiting if players > 0 => {
            clock.number += 1;
            clock.wave = 0;
            clock.phase = Phase::Running {
                left: f32::from(settings.match_secs),
            };
            for entity in rocks.iter().chain(bullets.iter()) {
                commands.entity(entity).despawn();
            }
            for (mut ship, mut body) in &mut ships {
                ship.lives = rules::LIVES;
                ship.score = 0;
                ship.respawn_in = None;
                ship.invulnerable = rules::INVULNERABLE_SECS;
                body.0.vel = Vec2::ZERO;
            }
            let number = clock.number;
            produced.event(AsteroidsEvent::MatchStarted {
                number,
                match_secs: settings.match_secs,
            });
            let spawn = Spawner {
                commands: &mut commands,
                ids: &mut ids,
                rng: &mut rng,
            };
            start_wave(spawn, &mut clock, settings, &mut produced, &ships);
        }
        Phase::Waiting => {}
        Phase::Running { left } => {
            let left = left - dt;
            let all_out = players == 0 || ships.iter().all(|(s, _)| s.lives == 0);
            if left <= 0.0 || all_out {
                let standings = standings(&ships);
                produced.event(AsteroidsEvent::MatchOver {
                    number: clock.number,
                    standings,
                });
                clock.phase = Phase::Over {
                    left: STANDINGS_SECS,
                };
            } else {
                clock.phase = Phase::Running { left };
                if settings.rocks_per_wave > 0 && rocks.is_empty() {
                    let spawn = Spawner {
                        commands: &mut commands,
                        ids: &mut ids,
                        rng: &mut rng,
                    };
                    start_wave(spawn, &mut clock, settings, &mut produced, &ships);
                }
            }
        }
        Phase::Over { left } => {
            let left = left - dt;
            clock.phase = if left > 0.0 {
                Phase::Over { left }
            } else {
                Phase::Waiting
            };
        }
    }
}

/// What spawning new entities needs.
struct Spawner<'a, 'w, 's> {
    commands: &'a mut Commands<'w, 's>,
    ids: &'a mut NextNetId,
    rng: &'a mut RoomRng,
}

fn start_wave(
    spawn: Spawner,
    clock: &mut MatchClock,
    settings: &AsteroidsSettings,
    produced: &mut Produced,
    ships: &Query<(&mut Ship, &mut Kinematics)>,
) {
    let Spawner { commands, ids, rng } = spawn;
    if settings.rocks_per_wave == 0 {
        return;
    }
    clock.wave += 1;
    let count = settings
        .rocks_per_wave
        .saturating_add((clock.wave - 1).min(100) as u16);
    for _ in 0..count {
        // A few tries for a spot clear of every ship; crowded arenas take
        // the last try.
        let mut pos = random_pos(&mut rng.0);
        for _ in 0..8 {
            let clear = ships
                .iter()
                .all(|(_, body)| rules::offset(body.0.pos, pos).length() > ROCK_SPAWN_CLEARANCE);
            if clear {
                break;
            }
            pos = random_pos(&mut rng.0);
        }
        let motion = rock_motion(&mut rng.0, pos, RockSize::Large);
        commands.spawn((Net(ids.take()), Kinematics(motion), Rock(RockSize::Large)));
    }
    produced.event(AsteroidsEvent::WaveStarted {
        wave: clock.wave,
        rocks: count,
    });
}

fn standings(ships: &Query<(&mut Ship, &mut Kinematics)>) -> Vec<Standing> {
    let mut standings: Vec<Standing> = ships
        .iter()
        .map(|(ship, _)| Standing {
            session: ship.owner,
            nickname: ship.nickname.clone(),
            score: ship.score,
            lives: ship.lives,
        })
        .collect();
    standings.sort_by(|a, b| b.score.cmp(&a.score).then(a.session.cmp(&b.session)));
    standings
}

fn capture(
    arena: Res<ArenaRules>,
    mut captured: ResMut<Captured>,
    ships: Query<(&Net, &Ship, &Kinematics)>,
    rocks: Query<(&Net, &Rock, &Kinematics)>,
    bullets: Query<(&Net, &Bullet, &Kinematics)>,
) {
    // The previous tick's state, for the ships' rates.
    let previous = std::mem::take(&mut captured.0.entities);
    let mut entities = BTreeMap::new();
    for (net, ship, body) in &ships {
        let mut flags = 0;
        if ship.thrusting {
            flags |= ShipState::THRUSTING;
        }
        if ship.invulnerable > 0.0 {
            flags |= ShipState::INVULNERABLE;
        }
        if !ship.flying() {
            flags |= ShipState::DESTROYED;
        }
        let state = ShipState {
            owner: ship.owner,
            body: Body::new(body.0.pos, body.0.vel),
            angle: quantize_angle(body.0.angle),
            flags,
            lives: ship.lives,
            score: ship.score,
            ax: 0,
            ay: 0,
            spin: 0,
        };
        let was = match previous.get(&net.0) {
            Some(EntityState::Ship(was)) => Some(was),
            _ => None,
        };
        entities.insert(net.0, EntityState::Ship(state.with_rates_since(was)));
    }
    for (net, rock, body) in &rocks {
        let state = RockState {
            body: Body::new(body.0.pos, body.0.vel),
            size: rock.0,
        };
        entities.insert(net.0, EntityState::Rock(state));
    }
    for (net, bullet, body) in &bullets {
        let state = BulletState {
            body: Body::new(body.0.pos, body.0.vel),
            owner: bullet.owner,
        };
        entities.insert(net.0, EntityState::Bullet(state));
    }
    captured.0 = ArenaState {
        tick_hz: arena.settings.tick_hz,
        entities,
    };
}
