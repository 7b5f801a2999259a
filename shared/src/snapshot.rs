//! Snapshots of an Asteroids arena: quantised entity states, sent in full
//! or as a delta against a state the client acknowledged.
//!
//! Precision on the wire:
//! - positions: 1/32 of an arena unit, as `u16` (the arena is 1600 x 1200
//!   units, so 51,200 x 38,400 steps);
//! - velocities: 1/4 of a unit per second, as `i16`;
//! - angles: 2π/65,536 radians, as `u16`.
//!
//! A ship also carries its rates: how much its velocity (`ax`, `ay`) and
//! heading (`spin`) changed over its last tick, in the same steps. They
//! let both sides predict a ship under steady controls.
//!
//! The server quantises its world once per tick into an [`ArenaState`] and
//! keeps a short history of them. A [`Snapshot`] for one client is a delta
//! against the client's acknowledged `baseline`: entities that are new (or
//! changed in more than their motion) in full, the ids of those that left,
//! and, bit-packed in `motion`, corrections for entities whose motion
//! differs from its prediction. Every other entity of the baseline moved
//! exactly as predicted and costs nothing. With no usable baseline a
//! snapshot carries every entity in full.
//!
//! # Prediction
//!
//! Over `n` ticks from the baseline, for each axis, in integer steps:
//! - rates: the new rate is the baseline's (corrected by `da`, `dspin`);
//! - velocity: `v + a' + floor((n - 1)(a + a') / 2)`, where `a` is the
//!   baseline's rate and `a'` the new one: exact after one tick, and
//!   the trapezoid rule over longer spans. Then `+ dv`;
//! - heading: the same with `spin`, then `+ dangle`, modulo 65,536;
//! - a ship's flags (they follow its controls): the baseline's `+ dflags`;
//! - position: `p + round(((n - 1) v + (n + 1) v') * 8 / (2 hz))`, the
//!   travel at velocities going from `v` to the new `v'` (8 position steps
//!   per velocity step per second), then `+ dx`, wrapped into the arena.
//!
//! Rocks and bullets have no rates (they are 0), heading or flags. Rounding
//! `round(a / b)` is `floor((2a + b) / 2b)`; every division floors.
//!
//! # The `motion` bits
//!
//! Exp-Golomb codes ([`crate::bits`]): the number of entities corrected,
//! unsigned; then for each, by increasing id, the gap to the previous id
//! (`id - previous - 1`, the first counting from -1), unsigned; then its
//! corrections, signed: `dax day dvx dvy dx dy dspin dangle dflags` for a ship,
//! `dvx dvy dx dy` for a rock or bullet (the baseline says which it is).
//! A correction is the new value minus the predicted, the short way around
//! for positions (the arena wraps) and headings. Both sides compute the
//! prediction in integers, so applying a snapshot to its baseline
//! ([`ArenaState::apply`]) reproduces the server's state for that tick
//! exactly.

use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};

use glam::Vec2;
use serde::{Deserialize, Serialize};

use crate::asteroids::{ARENA_HEIGHT, ARENA_WIDTH, Motion, RockSize};
use crate::bits::{BitReader, BitWriter};
use crate::ids::{SessionId, Tick};

/// Steps per arena unit of a quantised position.
pub const POSITION_STEPS: f32 = 32.0;
/// Steps per unit per second of a quantised velocity.
pub const VELOCITY_STEPS: f32 = 4.0;
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
    /// X velocity in 1/4 units per second.
    pub vx: i16,
    /// Y velocity in 1/4 units per second.
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
    /// Change of `body.vx` over the ship's last tick.
    pub ax: i16,
    /// Change of `body.vy` over the ship's last tick.
    pub ay: i16,
    /// Change of `angle` over the ship's last tick, the short way around.
    pub spin: i16,
}

impl ShipState {
    /// The engine is on.
    pub const THRUSTING: u8 = 1;
    /// Recently respawned: cannot be hurt.
    pub const INVULNERABLE: u8 = 2;
    /// Destroyed: waiting to respawn, or out of lives.
    pub const DESTROYED: u8 = 4;

    /// The same ship with its rates set to its change since `previous`,
    /// the ship as it was one tick before (none for a ship just placed).
    pub fn with_rates_since(mut self, previous: Option<&ShipState>) -> Self {
        let (ax, ay, spin) = previous.map_or((0, 0, 0), |was| {
            let dv = |now: i16, then: i16| to_i16(i64::from(now) - i64::from(then));
            let turned = ring_diff(self.angle.into(), was.angle.into(), TURN_STEPS);
            (
                dv(self.body.vx, was.body.vx),
                dv(self.body.vy, was.body.vy),
                to_i16(turned),
            )
        });
        self.ax = ax;
        self.ay = ay;
        self.spin = spin;
        self
    }

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

/// An entity's motion in quantisation steps, as predictions work on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Kin {
    x: i64,
    y: i64,
    vx: i64,
    vy: i64,
    ax: i64,
    ay: i64,
    angle: i64,
    spin: i64,
    /// A ship's flags, which change with its controls as often as its
    /// motion does.
    flags: i64,
}

/// Corrections to a [`Kin`] prediction, in the order they are packed.
type Corrections = [i64; 9];

const WIDTH_STEPS: i64 = (ARENA_WIDTH * POSITION_STEPS) as i64;
const HEIGHT_STEPS: i64 = (ARENA_HEIGHT * POSITION_STEPS) as i64;
const TURN_STEPS: i64 = ANGLE_STEPS as i64;
/// Position steps travelled per tick-second at one velocity step.
const TRAVEL: i64 = (POSITION_STEPS / VELOCITY_STEPS) as i64;

fn to_i16(v: i64) -> i16 {
    v.clamp(i16::MIN.into(), i16::MAX.into()) as i16
}

impl EntityState {
    fn is_ship(&self) -> bool {
        matches!(self, EntityState::Ship(_))
    }

    fn body(&self) -> Body {
        match self {
            EntityState::Ship(ship) => ship.body,
            EntityState::Rock(rock) => rock.body,
            EntityState::Bullet(bullet) => bullet.body,
        }
    }

    fn kin(&self) -> Kin {
        let b = self.body();
        let mut kin = Kin {
            x: b.x.into(),
            y: b.y.into(),
            vx: b.vx.into(),
            vy: b.vy.into(),
            ..Kin::default()
        };
        if let EntityState::Ship(ship) = self {
            kin.ax = ship.ax.into();
            kin.ay = ship.ay.into();
            kin.angle = ship.angle.into();
            kin.spin = ship.spin.into();
            kin.flags = ship.flags.into();
        }
        kin
    }

    /// The same entity with another motion. Only ships have a heading and
    /// rates.
    fn with_kin(mut self, kin: Kin) -> Self {
        let body = Body {
            x: kin.x.rem_euclid(WIDTH_STEPS) as u16,
            y: kin.y.rem_euclid(HEIGHT_STEPS) as u16,
            vx: to_i16(kin.vx),
            vy: to_i16(kin.vy),
        };
        match &mut self {
            EntityState::Ship(ship) => {
                ship.body = body;
                ship.ax = to_i16(kin.ax);
                ship.ay = to_i16(kin.ay);
                ship.angle = kin.angle.rem_euclid(TURN_STEPS) as u16;
                ship.spin = to_i16(kin.spin);
                ship.flags = kin.flags.clamp(0, 255) as u8;
            }
            EntityState::Rock(rock) => rock.body = body,
            EntityState::Bullet(bullet) => bullet.body = body,
        }
        self
    }

    /// Whether the two differ in nothing but their motion.
    fn same_but_motion(&self, other: &EntityState) -> bool {
        self.with_kin(Kin::default()) == other.with_kin(Kin::default())
    }
}

/// A rate or velocity after `n` ticks that went from rate `a` to `a2`.
fn predict_velocity(v: i64, a: i64, a2: i64, n: i64) -> i64 {
    v + a2 + ((n - 1) * (a + a2)).div_euclid(2)
}

/// A position after `n` ticks at velocities going from `v` to `v2`.
fn predict_position(p: i64, v: i64, v2: i64, n: i64, hz: i64) -> i64 {
    let num = ((n - 1) * v + (n + 1) * v2) * TRAVEL;
    let den = 2 * hz.max(1);
    p + (2 * num + den).div_euclid(2 * den)
}

/// `to - from` in a ring of `size`, in `(-size / 2, size / 2]`.
fn ring_diff(to: i64, from: i64, size: i64) -> i64 {
    let d = (to - from).rem_euclid(size);
    if d > size / 2 { d - size } else { d }
}

/// The motion predicted from `old`, given the new rates (corrected by
/// `c`) and velocity correction, and the corrections in `c` applied.
fn corrected(old: &Kin, c: &Corrections, n: i64, hz: i64) -> Kin {
    let [dax, day, dvx, dvy, dx, dy, dspin, dangle, dflags] = *c;
    // Rates and velocities are `i16` on the wire: clamping changes nothing
    // a real server sent, and keeps a broken peer's numbers from
    // overflowing the arithmetic below.
    let clamp = |v: i64| i64::from(to_i16(v));
    let (ax, ay, spin) = (
        clamp(old.ax + dax),
        clamp(old.ay + day),
        clamp(old.spin + dspin),
    );
    let vx = clamp(predict_velocity(old.vx, old.ax, ax, n) + dvx);
    let vy = clamp(predict_velocity(old.vy, old.ay, ay, n) + dvy);
    Kin {
        x: predict_position(old.x, old.vx, vx, n, hz) + dx,
        y: predict_position(old.y, old.vy, vy, n, hz) + dy,
        vx,
        vy,
        ax,
        ay,
        angle: predict_velocity(old.angle, old.spin, spin, n) + dangle,
        spin,
        flags: old.flags + dflags,
    }
}

/// The corrections that turn `old`'s prediction into `new`.
fn corrections(old: &Kin, new: &Kin, n: i64, hz: i64) -> Corrections {
    let (dax, day, dspin) = (new.ax - old.ax, new.ay - old.ay, new.spin - old.spin);
    let dvx = new.vx - predict_velocity(old.vx, old.ax, new.ax, n);
    let dvy = new.vy - predict_velocity(old.vy, old.ay, new.ay, n);
    let px = predict_position(old.x, old.vx, new.vx, n, hz);
    let py = predict_position(old.y, old.vy, new.vy, n, hz);
    let pangle = predict_velocity(old.angle, old.spin, new.spin, n);
    [
        dax,
        day,
        dvx,
        dvy,
        ring_diff(new.x, px, WIDTH_STEPS),
        ring_diff(new.y, py, HEIGHT_STEPS),
        dspin,
        ring_diff(new.angle, pangle, TURN_STEPS),
        new.flags - old.flags,
    ]
}

/// Which corrections an entity's kind carries, as indices into
/// [`Corrections`]: rocks and bullets have no rates and no heading.
fn fields(entity: &EntityState) -> &'static [usize] {
    if entity.is_ship() {
        &[0, 1, 2, 3, 4, 5, 6, 7, 8]
    } else {
        &[2, 3, 4, 5]
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
    /// Corrections for entities of the baseline that moved other than
    /// predicted, bit-packed as the module documentation describes.
    pub motion: Vec<u8>,
    /// Entities of the baseline that are gone, by increasing id.
    pub removed: Vec<NetId>,
}

/// The corrections packed in `motion`, by increasing id, for entities of
/// `base`; reading stops at the first that is malformed.
fn snapshot_corrections(motion: &[u8], base: &ArenaState) -> Vec<(NetId, Corrections)> {
    let mut bits = BitReader::new(motion);
    let mut out = Vec::new();
    let Ok(count) = bits.unsigned() else {
        return out;
    };
    let mut previous: i64 = -1;
    for _ in 0..count.min(base.entities.len() as u64) {
        let Ok(gap) = bits.unsigned() else { break };
        let Some(id) = i64::try_from(gap)
            .ok()
            .and_then(|gap| previous.checked_add(gap + 1))
            .and_then(|id| NetId::try_from(id).ok())
        else {
            break;
        };
        previous = i64::from(id);
        let Some(entity) = base.entities.get(&id) else {
            break;
        };
        let mut c = [0; 9];
        let mut complete = true;
        for &field in fields(entity) {
            match bits.signed() {
                // Far outside any real correction; clamped so that the
                // prediction's arithmetic cannot overflow.
                Ok(v) => c[field] = v.clamp(-(1 << 40), 1 << 40),
                Err(_) => complete = false,
            }
        }
        if !complete {
            break;
        }
        out.push((id, c));
    }
    out
}

impl Snapshot {
    /// The ids of the entities whose motion this delta corrects, given the
    /// baseline it names, by increasing id.
    pub fn corrected_ids(&self, baseline: &ArenaState) -> Vec<NetId> {
        snapshot_corrections(&self.motion, baseline)
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    }
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
            return Snapshot {
                tick,
                baseline: None,
                last_input,
                tick_hz,
                changed,
                motion: Vec::new(),
                removed: Vec::new(),
            };
        };
        let n = i64::from(tick.since(baseline_tick));
        let hz = i64::from(tick_hz);
        let mut changed = Vec::new();
        let mut motion = BitWriter::new();
        let mut corrected: Vec<(NetId, &EntityState, Corrections)> = Vec::new();
        for (&id, entity) in &self.entities {
            match base.entities.get(&id) {
                Some(old) if old.same_but_motion(entity) => {
                    let c = corrections(&old.kin(), &entity.kin(), n, hz);
                    if c != [0; 9] {
                        corrected.push((id, old, c));
                    }
                }
                _ => changed.push((id, *entity)),
            }
        }
        motion.unsigned(corrected.len() as u64);
        let mut previous: i64 = -1;
        for (id, old, c) in &corrected {
            motion.unsigned((i64::from(*id) - previous - 1) as u64);
            previous = i64::from(*id);
            for &field in fields(old) {
                motion.signed(c[field]);
            }
        }
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
            tick_hz,
            changed,
            motion: motion.finish(),
            removed,
        }
    }

    /// The state a snapshot describes, given the state of its baseline
    /// (ignored for a full snapshot).
    ///
    /// Corrections that name an entity the baseline lacks, or bits that end
    /// in the middle of one, come only from a broken peer: the corrections
    /// from there on are ignored.
    pub fn apply(baseline: Option<&ArenaState>, snapshot: &Snapshot) -> ArenaState {
        let (mut state, n) = match (snapshot.baseline, baseline) {
            (Some(tick), Some(base)) => (base.clone(), i64::from(snapshot.tick.since(tick))),
            _ => (ArenaState::default(), 0),
        };
        state.tick_hz = snapshot.tick_hz;
        for id in &snapshot.removed {
            state.entities.remove(id);
        }
        if n > 0 {
            let hz = i64::from(snapshot.tick_hz);
            let mut listed = snapshot_corrections(&snapshot.motion, &state)
                .into_iter()
                .peekable();
            for (&id, entity) in &mut state.entities {
                let c = match listed.next_if(|(listed_id, _)| *listed_id == id) {
                    Some((_, c)) => c,
                    None => [0; 9],
                };
                *entity = entity.with_kin(corrected(&entity.kin(), &c, n, hz));
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
            // Out of order: usable now, but the newest stays the newest
            // (it is the one acknowledged, the next delta's baseline): a
            // full buffer gives up its oldest state for the late one.
            if self.states.len() == self.capacity {
                self.states.pop_front();
            }
            self.states.push_front((snapshot.tick, state));
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
                vx: 0,
                vy: 0,
            },
            angle: 0,
            flags: 0,
            lives: 3,
            score: 0,
            ax: 0,
            ay: 0,
            spin: 0,
        })
    }

    fn arena(entities: &[(NetId, EntityState)]) -> ArenaState {
        ArenaState {
            tick_hz: 30,
            entities: entities.iter().copied().collect(),
        }
    }

    #[test]
    fn deltas_carry_only_changes_and_removals() {
        let old = arena(&[(1, ship(1, 100)), (2, ship(2, 200)), (3, ship(3, 300))]);
        let mut new = old.clone();
        new.entities.insert(2, ship(2, 201));
        new.entities.remove(&3);
        new.entities.insert(4, ship(4, 400));
        let delta = new.snapshot(Tick(9), Some((Tick(7), &old)), 5);
        let ids = |v: &[(NetId, EntityState)]| v.iter().map(|(id, _)| *id).collect::<Vec<_>>();
        assert_eq!(ids(&delta.changed), [4], "new");
        assert_eq!(delta.corrected_ids(&old), [2], "moved");
        assert_eq!(delta.removed, [3]);
        assert_eq!(ArenaState::apply(Some(&old), &delta), new);
        let full = new.snapshot(Tick(9), None, 5);
        assert_eq!(full.changed.len(), 3);
        assert_eq!(ArenaState::apply(None, &full), new);
    }

    #[test]
    fn a_rock_drifting_as_predicted_costs_nothing() {
        let rock = |x: u16, y: u16| {
            EntityState::Rock(RockState {
                body: Body {
                    x,
                    y,
                    vx: 480,
                    vy: -40,
                },
                size: RockSize::Large,
            })
        };
        let old = arena(&[(1, rock(100, 5))]);
        // Three ticks at 30 Hz: 480 * 8 * 3 / 30 = 384 steps right, and
        // 40 * 8 * 3 / 30 = 32 steps up, across the top edge.
        let new = arena(&[(1, rock(484, 38_373))]);
        let delta = new.snapshot(Tick(13), Some((Tick(10), &old)), 0);
        assert!(delta.changed.is_empty());
        assert_eq!(delta.corrected_ids(&old), Vec::<NetId>::new());
        assert_eq!(delta.motion, [0b1000_0000], "one bit: nothing corrected");
        assert_eq!(ArenaState::apply(Some(&old), &delta), new);
    }

    #[test]
    fn a_ship_under_steady_controls_costs_nothing() {
        let flying = |x: u16, vx: i16, angle: u16| {
            EntityState::Ship(ShipState {
                owner: SessionId(1),
                body: Body {
                    x,
                    y: 1_000,
                    vx,
                    vy: 0,
                },
                angle,
                flags: ShipState::THRUSTING,
                lives: 3,
                score: 0,
                ax: 10,
                ay: 0,
                spin: 400,
            })
        };
        let old = arena(&[(7, flying(1_000, 300, 65_400))]);
        // One tick: 310 after accelerating by 10, then 310 * 8 / 30 = 82.7
        // position steps, rounded to 83; the heading turns 400 steps,
        // through zero.
        let new = arena(&[(7, flying(1_083, 310, 264))]);
        let delta = new.snapshot(Tick(2), Some((Tick(1), &old)), 0);
        assert!(delta.changed.is_empty());
        assert_eq!(delta.corrected_ids(&old), Vec::<NetId>::new());
        assert_eq!(ArenaState::apply(Some(&old), &delta), new);
        // One step off in x costs its id and eight small corrections.
        let nudged = arena(&[(7, flying(1_084, 310, 264))]);
        let delta = nudged.snapshot(Tick(2), Some((Tick(1), &old)), 0);
        assert_eq!(delta.corrected_ids(&old), [7]);
        // One corrected (010), id 7 (0001000), dx = 1 (011), the other
        // eight 0 (1 each): 21 bits. The browser's tests decode these bytes.
        assert_eq!(delta.motion, [0x42, 0x3d, 0xf8]);
        assert_eq!(ArenaState::apply(Some(&old), &delta), nudged);
    }

    #[test]
    fn ship_headings_wrap_the_short_way() {
        let at = |angle: u16| {
            let EntityState::Ship(mut ship) = ship(1, 7) else {
                unreachable!("a ship")
            };
            ship.angle = angle;
            arena(&[(2, EntityState::Ship(ship))])
        };
        let (old, new) = (at(65_535), at(1));
        let delta = new.snapshot(Tick(1), Some((Tick(0), &old)), 0);
        // One corrected (010), id 2 (011), dangle = 2 (00101), the other
        // eight 0: 19 bits. The browser's tests decode these bytes.
        assert_eq!(delta.motion, [0x4f, 0xf9, 0x60]);
        assert_eq!(ArenaState::apply(Some(&old), &delta), new);
    }

    /// A small deterministic generator, so that the property below covers
    /// many cases the same way on every run.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 16
        }
        fn pick<T: Copy>(&mut self, from: &[T]) -> T {
            from[self.next() as usize % from.len()]
        }
        fn i16(&mut self) -> i16 {
            // Mostly small, sometimes any value.
            match self.next() % 4 {
                0 => self.next() as i16,
                _ => (self.next() % 41) as i16 - 20,
            }
        }
    }

    fn random_entity(rng: &mut Lcg) -> EntityState {
        let body = Body {
            x: (rng.next() % 51_200) as u16,
            y: (rng.next() % 38_400) as u16,
            vx: rng.i16(),
            vy: rng.i16(),
        };
        match rng.next() % 3 {
            0 => EntityState::Ship(ShipState {
                owner: SessionId(rng.next() % 3),
                body,
                angle: rng.next() as u16,
                flags: (rng.next() % 8) as u8,
                lives: (rng.next() % 4) as u8,
                score: (rng.next() % 3) as u32,
                ax: rng.i16(),
                ay: rng.i16(),
                spin: rng.i16(),
            }),
            1 => EntityState::Rock(RockState {
                body,
                size: rng.pick(&[RockSize::Large, RockSize::Medium, RockSize::Small]),
            }),
            _ => EntityState::Bullet(BulletState {
                body,
                owner: SessionId(rng.next() % 3),
            }),
        }
    }

    /// The same entity moved anywhere, at any rates.
    fn random_motion(rng: &mut Lcg, entity: EntityState) -> EntityState {
        let old = entity.kin();
        let kin = Kin {
            x: old.x + i64::from(rng.i16()),
            y: old.y + i64::from(rng.i16()),
            vx: old.vx + i64::from(rng.i16()),
            vy: old.vy + i64::from(rng.i16()),
            ax: rng.i16().into(),
            ay: rng.i16().into(),
            angle: old.angle + i64::from(rng.i16()),
            spin: rng.i16().into(),
            flags: match rng.next() % 4 {
                0 => (rng.next() % 8) as i64,
                _ => old.flags,
            },
        };
        // Rocks and bullets keep only the body.
        entity.with_kin(kin)
    }

    #[test]
    fn deltas_applied_to_their_baselines_reproduce_any_change_exactly() {
        let mut rng = Lcg(5);
        for case in 0..2_000 {
            let tick_hz = rng.pick(&[10, 30, 60]);
            let mut old = ArenaState {
                tick_hz,
                entities: BTreeMap::new(),
            };
            for _ in 0..rng.next() % 12 {
                old.entities
                    .insert((rng.next() % 40) as NetId, random_entity(&mut rng));
            }
            let mut new = ArenaState {
                tick_hz,
                entities: BTreeMap::new(),
            };
            for (&id, &entity) in &old.entities {
                match rng.next() % 6 {
                    0 => {}
                    1 => {
                        new.entities.insert(id, entity);
                    }
                    2 => {
                        new.entities.insert(id, random_entity(&mut rng));
                    }
                    _ => {
                        new.entities.insert(id, random_motion(&mut rng, entity));
                    }
                }
            }
            for _ in 0..rng.next() % 3 {
                new.entities
                    .insert((rng.next() % 60) as NetId, random_entity(&mut rng));
            }
            let base_tick = Tick(rng.next() as u32);
            let ticks = rng.pick(&[1, 1, 2, 3, 7, 64, 1_000_000]);
            let tick = Tick(base_tick.0.wrapping_add(ticks));
            let delta = new.snapshot(tick, Some((base_tick, &old)), 9);
            // Through the wire in both formats.
            for format in [Format::Postcard, Format::Json] {
                let msg = crate::ServerMsg::Snapshot(delta.clone());
                let bytes = codec::encode(&msg, format);
                let crate::ServerMsg::Snapshot(received) =
                    codec::decode_server(&bytes, format).expect("decodes")
                else {
                    panic!("a snapshot")
                };
                assert_eq!(
                    ArenaState::apply(Some(&old), &received),
                    new,
                    "case {case}: {old:?} -> {new:?} over {ticks} ticks: {delta:?}"
                );
            }
        }
    }

    #[test]
    fn broken_motion_bits_are_ignored_without_panicking() {
        let old = arena(&[(1, ship(1, 100)), (2, ship(2, 200))]);
        let mut new = old.clone();
        new.entities.insert(2, ship(2, 205));
        let mut delta = new.snapshot(Tick(2), Some((Tick(1), &old)), 0);
        for motion in [
            vec![],
            vec![0xff; 40],
            vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            vec![0x01],
        ] {
            delta.motion = motion;
            let state = ArenaState::apply(Some(&old), &delta);
            assert_eq!(state.entities.len(), 2);
        }
    }

    #[test]
    fn a_late_snapshot_never_displaces_the_newest_state() {
        let mut buffer = SnapshotBuffer::new(4);
        let states: Vec<ArenaState> = (0..6u16).map(|x| arena(&[(1, ship(1, 100 + x))])).collect();
        for tick in 1..=4u32 {
            buffer
                .receive(&states[tick as usize].snapshot(Tick(tick), None, 0))
                .unwrap();
        }
        // Tick 3 again (a datagram duplicated or reordered), with the
        // buffer full.
        buffer
            .receive(&states[3].snapshot(Tick(3), None, 0))
            .unwrap();
        assert_eq!(buffer.latest().map(|(tick, _)| tick), Some(Tick(4)));
        let delta = states[5].snapshot(Tick(5), Some((Tick(4), &states[4])), 0);
        assert_eq!(buffer.receive(&delta), Ok(&states[5]));
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
