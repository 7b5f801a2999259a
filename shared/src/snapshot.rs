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
//! keeps a short history of them. A [`Snapshot`] for one client carries the
//! entities that are new or differ from the client's acknowledged
//! `baseline`, and the ids of those that left it; with no usable baseline
//! it carries every entity. Applying a snapshot to its baseline
//! ([`ArenaState::apply`]) reproduces the server's state for that tick
//! exactly, since both sides hold the same quantised values.

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

/// The quantised arena at one tick: every entity by id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ArenaState {
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
    /// Entities that are new or changed since the baseline (all of them
    /// in a full snapshot), by increasing id.
    pub changed: Vec<(NetId, EntityState)>,
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
        let Some((baseline_tick, base)) = baseline else {
            let changed = self.entities.iter().map(|(&id, &e)| (id, e)).collect();
            return Snapshot {
                tick,
                baseline: None,
                last_input,
                changed,
                removed: Vec::new(),
            };
        };
        let changed = self
            .entities
            .iter()
            .filter(|&(id, entity)| base.entities.get(id) != Some(entity))
            .map(|(&id, &e)| (id, e))
            .collect();
        let removed = base
            .entities
            .keys()
            .filter(|id| !self.entities.contains_key(id))
            .copied()
            .collect();
        Snapshot {
            tick,
            baseline: Some(baseline_tick),
            last_input,
            changed,
            removed,
        }
    }

    /// The state a snapshot describes, given the state of its baseline
    /// (ignored for a full snapshot).
    pub fn apply(baseline: Option<&ArenaState>, snapshot: &Snapshot) -> ArenaState {
        let mut state = match (snapshot.baseline, baseline) {
            (Some(_), Some(base)) => base.clone(),
            _ => ArenaState::default(),
        };
        for id in &snapshot.removed {
            state.entities.remove(id);
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
        assert_eq!(
            delta.changed.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            [2, 4]
        );
        assert_eq!(delta.removed, [3]);
        assert_eq!(ArenaState::apply(Some(&old), &delta), new);
        let full = new.snapshot(Tick(9), None, 5);
        assert_eq!(full.changed.len(), 3);
        assert_eq!(ArenaState::apply(None, &full), new);
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
