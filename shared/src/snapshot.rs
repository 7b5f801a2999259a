//! Snapshots of an Asteroids arena: quantised entity states, sent in full
//! or as a delta against a state the client acknowledged.
//!
//! Precision on the wire:
//! - positions: 1/32 of an arena unit, as `u16` (the arena is 1600 x 1200
//!   units, so 51,200 x 38,400 steps);
//! - velocities: 1/16 of a unit per second, as `i16` (up to 2,047 units/s);
//! - angles: 2π/65,536 radians, as `u16`.
//!
//! The server quantises its world once per tick into an [`ArenaState`] and
//! keeps a short history of them. A [`Snapshot`] for one client is a delta
//! against the client's acknowledged `baseline`: entities that are new (or
//! changed in more than their motion) in full, entities that only moved as
//! a [`Moved`] correction, and the ids of those that left. With no usable
//! baseline it carries every entity in full.
//!
//! A correction is small because it is taken against a prediction, not
//! against the old value: the new velocity as a difference from the old,
//! and the new position as a difference from where the old position would
//! be after moving at the average of the two velocities for the ticks in
//! between. A rock drifting at constant speed costs a byte per field. Both
//! sides compute the prediction in integers, so applying a snapshot to its
//! baseline ([`ArenaState::apply`]) reproduces the server's state for that
//! tick exactly.

use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};

use glam::Vec2;
use serde::{Deserialize, Serialize};

use crate::asteroids::{ARENA_HEIGHT, ARENA_WIDTH, Motion, RockSize};
use crate::ids::{SessionId, Tick};

/// Steps per arena unit of a quantised position.
pub const POSITION_STEPS: f32 = 32.0;
/// Steps per unit per second of a quantised velocity.
pub const VELOCITY_STEPS: f32 = 16.0;
/// Steps per turn of a quantised angle.
pub const ANGLE_STEPS: f32 = 65_536.0;

/// An entity's id in snapshots, unique within its room for the room's life.
pub type NetId = u32;

/// A quantised position and velocity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Body {
    /// X in 1/32 units.
    pub x: u16,
    /// Y in 1/32 units.
    pub y: u16,
    /// X velocity in 1/16 units per second.
    pub vx: i16,
    /// Y velocity in 1/16 units per second.
    pub vy: i16,
}

impl Body {
    /// Quantises a position and velocity.
    pub fn new(pos: Vec2, vel: Vec2) -> Self {
        let max_x = (ARENA_WIDTH * POSITION_STEPS) as u32;
        let max_y = (ARENA_HEIGHT * POSITION_STEPS) as u32;
        // A position a hair below the edge rounds up to it: that is 0.
        let x = ((pos.x * POSITION_STEPS).round() as u32) % max_x;
        let y = ((pos.y * POSITION_STEPS).round() as u32) % max_y;
        let v = |c: f32| {
            (c * VELOCITY_STEPS)
                .round()
                .clamp(i16::MIN as f32, i16::MAX as f32) as i16
        };
        Self {
            x: x as u16,
            y: y as u16,
            vx: v(vel.x),
            vy: v(vel.y),
        }
    }

    /// The position, in arena units.
    pub fn pos(&self) -> Vec2 {
        Vec2::new(f32::from(self.x), f32::from(self.y)) / POSITION_STEPS
    }

    /// The velocity, in units per second.
    pub fn vel(&self) -> Vec2 {
        Vec2::new(f32::from(self.vx), f32::from(self.vy)) / VELOCITY_STEPS
    }
}

/// Quantises an angle in radians.
pub fn quantize_angle(angle: f32) -> u16 {
    let turns = angle.rem_euclid(std::f32::consts::TAU) / std::f32::consts::TAU;
    ((turns * ANGLE_STEPS).round() as u32 % ANGLE_STEPS as u32) as u16
}

/// An angle in radians from its quantised form.
pub fn angle_of(quantized: u16) -> f32 {
    f32::from(quantized) / ANGLE_STEPS * std::f32::consts::TAU
}

/// A ship as the snapshot shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShipState {
    /// The player flying it.
    pub owner: SessionId,
    /// Where it is and how it moves.
    pub body: Body,
    /// Heading, 2π/65,536 radians.
    pub angle: u16,
    /// [`ShipState::THRUSTING`], [`ShipState::INVULNERABLE`], [`ShipState::DESTROYED`].
    pub flags: u8,
    /// Lives left.
    pub lives: u8,
    /// Points.
    pub score: u32,
}

impl ShipState {
    /// The engine is on.
    pub const THRUSTING: u8 = 1;
    /// Recently respawned: cannot be hurt.
    pub const INVULNERABLE: u8 = 2;
    /// Destroyed: waiting to respawn, or out of lives.
    pub const DESTROYED: u8 = 4;

    /// The ship's motion, as a client predicting it starts from.
    pub fn motion(&self) -> Motion {
        Motion {
            pos: self.body.pos(),
            vel: self.body.vel(),
            angle: angle_of(self.angle),
        }
    }
}

/// A rock as the snapshot shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RockState {
    /// Where it is and how it moves.
    pub body: Body,
    /// Its size.
    pub size: RockSize,
}

/// A bullet as the snapshot shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BulletState {
    /// Where it is and how it moves.
    pub body: Body,
    /// The player who fired it.
    pub owner: SessionId,
}

/// One entity of the arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityState {
    /// A player's ship.
    Ship(ShipState),
    /// A rock.
    Rock(RockState),
    /// A bullet.
    Bullet(BulletState),
}

impl EntityState {
    fn body(&self) -> Body {
        match self {
            EntityState::Ship(ship) => ship.body,
            EntityState::Rock(rock) => rock.body,
            EntityState::Bullet(bullet) => bullet.body,
        }
    }

    fn angle(&self) -> u16 {
        match self {
            EntityState::Ship(ship) => ship.angle,
            EntityState::Rock(_) | EntityState::Bullet(_) => 0,
        }
    }

    /// The same entity with another motion. Only ships have an angle.
    fn moved_to(mut self, body: Body, angle: u16) -> Self {
        match &mut self {
            EntityState::Ship(ship) => {
                ship.body = body;
                ship.angle = angle;
            }
            EntityState::Rock(rock) => rock.body = body,
            EntityState::Bullet(bullet) => bullet.body = body,
        }
        self
    }

    /// Whether the two differ in nothing but their motion.
    fn same_but_motion(&self, other: &EntityState) -> bool {
        self.moved_to(Body::default(), 0) == other.moved_to(Body::default(), 0)
    }
}

/// How an entity of the baseline moved: corrections to the prediction
/// described in the module documentation, in quantisation steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Moved {
    /// New x velocity minus the old.
    pub dvx: i32,
    /// New y velocity minus the old.
    pub dvy: i32,
    /// New x minus the predicted x, the short way around the arena.
    pub dx: i32,
    /// New y minus the predicted y, the short way around the arena.
    pub dy: i32,
    /// New angle minus the old, the short way around.
    pub dangle: i32,
}

const WIDTH_STEPS: i64 = (ARENA_WIDTH * POSITION_STEPS) as i64;
const HEIGHT_STEPS: i64 = (ARENA_HEIGHT * POSITION_STEPS) as i64;

/// Where a coordinate would be after `ticks` ticks at the average of two
/// velocities, wrapped into the arena. Position steps are twice as fine as
/// velocity steps, hence `(v0 + v1) / 2 * 2`.
fn predict(pos: u16, v0: i16, v1: i16, ticks: i64, tick_hz: i64, size: i64) -> i64 {
    let travel = ((i64::from(v0) + i64::from(v1)) * ticks).div_euclid(tick_hz.max(1));
    (i64::from(pos) + travel).rem_euclid(size)
}

/// `to - from` in a ring of `size`, in `(-size / 2, size / 2]`.
fn ring_diff(to: i64, from: i64, size: i64) -> i64 {
    let d = (to - from).rem_euclid(size);
    if d > size / 2 { d - size } else { d }
}

impl Moved {
    fn between(old: &EntityState, new: &EntityState, ticks: i64, tick_hz: i64) -> Self {
        let (a, b) = (old.body(), new.body());
        let px = predict(a.x, a.vx, b.vx, ticks, tick_hz, WIDTH_STEPS);
        let py = predict(a.y, a.vy, b.vy, ticks, tick_hz, HEIGHT_STEPS);
        Moved {
            dvx: i32::from(b.vx) - i32::from(a.vx),
            dvy: i32::from(b.vy) - i32::from(a.vy),
            dx: ring_diff(i64::from(b.x), px, WIDTH_STEPS) as i32,
            dy: ring_diff(i64::from(b.y), py, HEIGHT_STEPS) as i32,
            dangle: ring_diff(i64::from(new.angle()), i64::from(old.angle()), 65_536) as i32,
        }
    }

    fn apply(&self, old: &EntityState, ticks: i64, tick_hz: i64) -> EntityState {
        let a = old.body();
        // Out-of-range corrections come only from a broken peer; they wrap
        // or saturate rather than panic.
        let vel = |v: i16, d: i32| {
            (i64::from(v) + i64::from(d)).clamp(i16::MIN.into(), i16::MAX.into()) as i16
        };
        let (vx, vy) = (vel(a.vx, self.dvx), vel(a.vy, self.dvy));
        let x = predict(a.x, a.vx, vx, ticks, tick_hz, WIDTH_STEPS) + i64::from(self.dx);
        let y = predict(a.y, a.vy, vy, ticks, tick_hz, HEIGHT_STEPS) + i64::from(self.dy);
        let body = Body {
            x: x.rem_euclid(WIDTH_STEPS) as u16,
            y: y.rem_euclid(HEIGHT_STEPS) as u16,
            vx,
            vy,
        };
        let angle = (i64::from(old.angle()) + i64::from(self.dangle)).rem_euclid(65_536) as u16;
        old.moved_to(body, angle)
    }
}

/// The quantised arena at one tick: every entity by id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ArenaState {
    /// Ticks per second of the room, which deltas' predictions use.
    pub tick_hz: u16,
    /// The entities, by id.
    pub entities: BTreeMap<NetId, EntityState>,
}

/// The arena at one tick as sent to one client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The server tick this is the state of.
    pub tick: Tick,
    /// The acknowledged tick this is a delta against; `None` for a full
    /// snapshot.
    pub baseline: Option<Tick>,
    /// The newest input sequence number the server has applied for this
    /// client (0 before the first).
    pub last_input: u32,
    /// The room's ticks per second.
    pub tick_hz: u16,
    /// Entities that are new since the baseline or changed in more than
    /// their motion (all of them in a full snapshot), by increasing id.
    pub changed: Vec<(NetId, EntityState)>,
    /// Entities of the baseline that only moved, by increasing id.
    pub moved: Vec<(NetId, Moved)>,
    /// Entities of the baseline that are gone, by increasing id.
    pub removed: Vec<NetId>,
}

/// A delta snapshot's baseline is not one the receiver holds.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("snapshot {tick:?} is a delta against {baseline:?}, which is not held")]
pub struct MissingBaseline {
    /// The snapshot's tick.
    pub tick: Tick,
    /// The baseline it needs.
    pub baseline: Tick,
}

impl ArenaState {
    /// The snapshot that turns `baseline` (or nothing) into this state.
    pub fn snapshot(
        &self,
        tick: Tick,
        baseline: Option<(Tick, &ArenaState)>,
        last_input: u32,
    ) -> Snapshot {
        let tick_hz = self.tick_hz;
        let Some((baseline_tick, base)) = baseline else {
            let changed = self.entities.iter().map(|(&id, &e)| (id, e)).collect();
            let (moved, removed) = (Vec::new(), Vec::new());
            return Snapshot {
                tick,
                baseline: None,
                last_input,
                tick_hz,
                changed,
                moved,
                removed,
            };
        };
        let ticks = i64::from(tick.since(baseline_tick));
        let (mut changed, mut moved) = (Vec::new(), Vec::new());
        for (&id, entity) in &self.entities {
            match base.entities.get(&id) {
                Some(old) if old == entity => {}
                Some(old) if old.same_but_motion(entity) => {
                    moved.push((id, Moved::between(old, entity, ticks, i64::from(tick_hz))));
                }
                _ => changed.push((id, *entity)),
            }
        }
        let removed = base
            .entities
            .keys()
            .filter(|id| !self.entities.contains_key(id))
            .copied()
            .collect();
        let baseline = Some(baseline_tick);
        Snapshot {
            tick,
            baseline,
            last_input,
            tick_hz,
            changed,
            moved,
            removed,
        }
    }

    /// The state a snapshot describes, given the state of its baseline
    /// (ignored for a full snapshot).
    pub fn apply(baseline: Option<&ArenaState>, snapshot: &Snapshot) -> ArenaState {
        let (mut state, ticks) = match (snapshot.baseline, baseline) {
            (Some(tick), Some(base)) => (base.clone(), i64::from(snapshot.tick.since(tick))),
            _ => (ArenaState::default(), 0),
        };
        state.tick_hz = snapshot.tick_hz;
        for id in &snapshot.removed {
            state.entities.remove(id);
        }
        for (id, moved) in &snapshot.moved {
            // A correction for an entity the baseline lacks is meaningless;
            // only a broken peer sends one, and it is skipped.
            if let Some(old) = state.entities.get_mut(id) {
                *old = moved.apply(old, ticks, i64::from(snapshot.tick_hz));
            }
        }
        state.entities.extend(snapshot.changed.iter().copied());
        state
    }

    /// A hash of the whole state, equal for equal states in one build.
    pub fn digest(&self) -> u64 {
        let mut hasher = std::hash::DefaultHasher::new();
        self.hash(&mut hasher);
        hasher.finish()
    }

    /// The ships, with their ids.
    pub fn ships(&self) -> impl Iterator<Item = (NetId, &ShipState)> {
        self.entities.iter().filter_map(|(&id, e)| match e {
            EntityState::Ship(ship) => Some((id, ship)),
            _ => None,
        })
    }

    /// The rocks, with their ids.
    pub fn rocks(&self) -> impl Iterator<Item = (NetId, &RockState)> {
        self.entities.iter().filter_map(|(&id, e)| match e {
            EntityState::Rock(rock) => Some((id, rock)),
            _ => None,
        })
    }

    /// The bullets, with their ids.
    pub fn bullets(&self) -> impl Iterator<Item = (NetId, &BulletState)> {
        self.entities.iter().filter_map(|(&id, e)| match e {
            EntityState::Bullet(bullet) => Some((id, bullet)),
            _ => None,
        })
    }
}

/// The states a client reconstructed from recent snapshots, so that it can
/// apply the next delta and acknowledge what it holds.
#[derive(Debug)]
pub struct SnapshotBuffer {
    states: VecDeque<(Tick, ArenaState)>,
    capacity: usize,
}

impl SnapshotBuffer {
    /// A buffer holding the `capacity` newest states.
    pub fn new(capacity: usize) -> Self {
        Self {
            states: VecDeque::with_capacity(capacity),
            capacity: capacity.max(1),
        }
    }

    /// Reconstructs a snapshot's state and keeps it. Snapshots older than
    /// the newest held are still reconstructed but not kept.
    pub fn receive(&mut self, snapshot: &Snapshot) -> Result<&ArenaState, MissingBaseline> {
        let baseline = match snapshot.baseline {
            None => None,
            Some(tick) => match self.states.iter().find(|(t, _)| *t == tick) {
                Some((_, state)) => Some(state),
                None => {
                    return Err(MissingBaseline {
                        tick: snapshot.tick,
                        baseline: tick,
                    });
                }
            },
        };
        let state = ArenaState::apply(baseline, snapshot);
        let newest = self.states.back().map(|(t, _)| *t);
        if newest.is_some_and(|t| snapshot.tick <= t) {
            // Out of order: usable now, but the newest stays the newest.
            self.states.push_front((snapshot.tick, state));
            self.states.truncate(self.capacity);
            return Ok(&self.states.front().expect("just pushed").1);
        }
        if self.states.len() == self.capacity {
            self.states.pop_front();
        }
        self.states.push_back((snapshot.tick, state));
        Ok(&self.states.back().expect("just pushed").1)
    }

    /// The newest state held, with its tick.
    pub fn latest(&self) -> Option<(Tick, &ArenaState)> {
        self.states.back().map(|(tick, state)| (*tick, state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{self, Format};

    fn ship(owner: u64, x: u16) -> EntityState {
        EntityState::Ship(ShipState {
            owner: SessionId(owner),
            body: Body {
                x,
                y: 10,
                vx: 1,
                vy: -1,
            },
            angle: 0,
            flags: 0,
            lives: 3,
            score: 0,
        })
    }

    #[test]
    fn quantisation_is_within_its_stated_precision() {
        let pos = Vec2::new(123.456, 1199.99);
        let vel = Vec2::new(-359.97, 12.3456);
        let body = Body::new(pos, vel);
        assert!((body.pos().x - pos.x).abs() <= 0.5 / POSITION_STEPS);
        assert_eq!(body.y, 0, "a hair below the edge rounds to the wrapped 0");
        assert!((body.vel().x - vel.x).abs() <= 0.5 / VELOCITY_STEPS);
        assert!((body.vel().y - vel.y).abs() <= 0.5 / VELOCITY_STEPS);
        let angle = 2.5_f32;
        assert!(
            (angle_of(quantize_angle(angle)) - angle).abs() <= std::f32::consts::TAU / ANGLE_STEPS
        );
        assert_eq!(quantize_angle(std::f32::consts::TAU - 1e-7), 0);
    }

    #[test]
    fn deltas_carry_only_changes_and_removals() {
        let mut old = ArenaState::default();
        old.entities.insert(1, ship(1, 100));
        old.entities.insert(2, ship(2, 200));
        old.entities.insert(3, ship(3, 300));
        let mut new = old.clone();
        new.entities.insert(2, ship(2, 201));
        new.entities.remove(&3);
        new.entities.insert(4, ship(4, 400));
        let delta = new.snapshot(Tick(9), Some((Tick(7), &old)), 5);
        let ids = |v: &[(NetId, EntityState)]| v.iter().map(|(id, _)| *id).collect::<Vec<_>>();
        assert_eq!(ids(&delta.changed), [4], "new");
        assert_eq!(
            delta.moved.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            [2],
            "moved"
        );
        assert_eq!(delta.removed, [3]);
        assert_eq!(ArenaState::apply(Some(&old), &delta), new);
        let full = new.snapshot(Tick(9), None, 5);
        assert_eq!(full.changed.len(), 3);
        assert_eq!(ArenaState::apply(None, &full), new);
    }

    #[test]
    fn motion_is_sent_as_a_small_correction_to_the_prediction() {
        let rock = |x: u16, y: u16, vx: i16| {
            EntityState::Rock(RockState {
                body: Body { x, y, vx, vy: -40 },
                size: RockSize::Large,
            })
        };
        let mut old = ArenaState {
            tick_hz: 30,
            ..ArenaState::default()
        };
        old.entities.insert(1, rock(100, 5, 480));
        // Three ticks later at 30 Hz, at constant velocity: 480 * 2 * 3 / 30
        // steps right, and across the top edge upwards.
        let mut new = old.clone();
        new.entities.insert(1, rock(196, 38_397, 480));
        let delta = new.snapshot(Tick(13), Some((Tick(10), &old)), 0);
        assert!(delta.changed.is_empty());
        assert_eq!(
            delta.moved,
            [(
                1,
                Moved {
                    dvx: 0,
                    dvy: 0,
                    dx: 0,
                    dy: 0,
                    dangle: 0
                }
            )]
        );
        assert_eq!(ArenaState::apply(Some(&old), &delta), new);
        let full = codec::encode(&new.snapshot(Tick(13), None, 0), Format::Postcard).len();
        let small = codec::encode(&delta, Format::Postcard).len();
        assert!(small < full, "delta {small} bytes, full {full}");
    }

    #[test]
    fn corrections_reproduce_any_motion_exactly() {
        let ship = |x: u16, y: u16, vx: i16, vy: i16, angle: u16| {
            EntityState::Ship(ShipState {
                owner: SessionId(1),
                body: Body { x, y, vx, vy },
                angle,
                flags: 0,
                lives: 3,
                score: 0,
            })
        };
        let cases = [
            (
                ship(0, 0, -5_000, 5_000, 65_535),
                ship(51_199, 38_399, 4_000, -4_000, 1),
            ),
            (
                ship(25_000, 100, i16::MAX, i16::MIN, 0),
                ship(26_000, 38_000, i16::MIN, i16::MAX, 40_000),
            ),
            (ship(7, 7, 0, 0, 9), ship(7, 7, 0, 0, 9)),
        ];
        for (ticks, (a, b)) in [1u32, 3, 64].into_iter().zip(cases) {
            let mut old = ArenaState {
                tick_hz: 30,
                ..ArenaState::default()
            };
            old.entities.insert(5, a);
            let mut new = ArenaState {
                tick_hz: 30,
                ..ArenaState::default()
            };
            new.entities.insert(5, b);
            let delta = new.snapshot(Tick(ticks), Some((Tick(0), &old)), 0);
            assert_eq!(ArenaState::apply(Some(&old), &delta), new, "{delta:?}");
        }
    }

    #[test]
    fn a_buffer_needs_the_baseline_a_delta_names() {
        let mut state = ArenaState::default();
        state.entities.insert(1, ship(1, 100));
        let mut buffer = SnapshotBuffer::new(2);
        buffer.receive(&state.snapshot(Tick(1), None, 0)).unwrap();
        let next = state.clone();
        buffer
            .receive(&next.snapshot(Tick(2), Some((Tick(1), &state)), 0))
            .unwrap();
        buffer
            .receive(&next.snapshot(Tick(3), Some((Tick(2), &next)), 0))
            .unwrap();
        // Tick 1 has been evicted by the capacity of two.
        let stale = next.snapshot(Tick(4), Some((Tick(1), &state)), 0);
        assert_eq!(
            buffer.receive(&stale),
            Err(MissingBaseline {
                tick: Tick(4),
                baseline: Tick(1)
            })
        );
        assert_eq!(buffer.latest().unwrap().0, Tick(3));
    }
}
