//! Asteroids arena rules shared by server and clients.
//!
//! The server simulates with these functions and constants; a client runs
//! the same [`steer`] and [`drift`] on its own ship to predict it between
//! snapshots, then replays its unacknowledged inputs on top of each
//! snapshot (reconciliation). Units are arena units and seconds; the arena
//! wraps at its edges, and so does everything in it.
//!
//! Determinism: the simulation uses `f32` arithmetic plus `sin`, `cos` and
//! `atan2`, whose last bits may differ between platforms and standard
//! libraries. Two servers built from the same code for the same target agree
//! tick for tick; a client on another platform may drift by a fraction of a
//! quantum, which reconciliation absorbs.

use glam::Vec2;
use serde::{Deserialize, Serialize};

use crate::ids::SessionId;

/// Arena width.
pub const ARENA_WIDTH: f32 = 1600.0;
/// Arena height.
pub const ARENA_HEIGHT: f32 = 1200.0;

/// Radius of a ship, for collisions.
pub const SHIP_RADIUS: f32 = 16.0;
/// Turn rate at full stick, radians per second.
pub const TURN_RATE: f32 = 4.0;
/// Acceleration while thrusting, units per second squared.
pub const THRUST: f32 = 320.0;
/// Share of its speed a ship loses per second when coasting.
pub const DRAG: f32 = 0.5;
/// Top speed of a ship.
pub const MAX_SHIP_SPEED: f32 = 360.0;
/// Lives a ship starts a match with.
pub const LIVES: u8 = 3;
/// Seconds a destroyed ship waits before it respawns.
pub const RESPAWN_SECS: f32 = 2.0;
/// Seconds a respawned ship cannot be hurt.
pub const INVULNERABLE_SECS: f32 = 3.0;

/// Bullet speed, added to the ship's velocity.
pub const BULLET_SPEED: f32 = 560.0;
/// Seconds a bullet flies before it vanishes.
pub const BULLET_SECS: f32 = 1.1;
/// Radius of a bullet.
pub const BULLET_RADIUS: f32 = 3.0;
/// Seconds between two shots of one ship.
pub const FIRE_COOLDOWN_SECS: f32 = 0.25;

/// Ticks an input is repeated when none arrives, before controls go
/// neutral: a lost datagram or two does not stop a turning ship, a
/// vanished client does not keep flying.
pub const INPUT_REPEAT_TICKS: u32 = 3;

/// The three sizes of rock. A rock hit by a bullet splits into two of the
/// next size down; the smallest are destroyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RockSize {
    /// Radius 12, 100 points.
    Small,
    /// Radius 26, 50 points.
    Medium,
    /// Radius 48, 20 points.
    Large,
}

impl RockSize {
    /// Collision radius.
    pub fn radius(self) -> f32 {
        match self {
            RockSize::Small => 12.0,
            RockSize::Medium => 26.0,
            RockSize::Large => 48.0,
        }
    }

    /// Points for destroying a rock of this size: smaller is harder to hit.
    pub fn points(self) -> u32 {
        match self {
            RockSize::Small => 100,
            RockSize::Medium => 50,
            RockSize::Large => 20,
        }
    }

    /// The size a hit rock splits into, if any.
    pub fn split(self) -> Option<RockSize> {
        match self {
            RockSize::Large => Some(RockSize::Medium),
            RockSize::Medium => Some(RockSize::Small),
            RockSize::Small => None,
        }
    }

    /// The range of speeds a rock of this size moves at.
    pub fn speed_range(self) -> std::ops::Range<f32> {
        match self {
            RockSize::Large => 30.0..70.0,
            RockSize::Medium => 50.0..110.0,
            RockSize::Small => 80.0..160.0,
        }
    }
}

/// An Asteroids room's settings. Every field has a default, so JSON
/// clients may send `{}`; the server checks each against its limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AsteroidsSettings {
    /// Seats.
    pub max_players: u16,
    /// Simulation steps (and snapshots) per second.
    pub tick_hz: u16,
    /// Length of a match in seconds.
    pub match_secs: u16,
    /// Large rocks in the first wave; each cleared wave adds one more.
    /// Zero gives an empty arena with no waves.
    pub rocks_per_wave: u16,
    /// Seed of the room's random numbers; random when absent.
    pub seed: Option<u64>,
}

impl Default for AsteroidsSettings {
    fn default() -> Self {
        Self {
            max_players: 8,
            tick_hz: 30,
            match_secs: 180,
            rocks_per_wave: 4,
            seed: None,
        }
    }
}

/// Where a body is and how it moves.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Motion {
    /// Position in the arena, `0 <= x < ARENA_WIDTH`, `0 <= y < ARENA_HEIGHT`.
    pub pos: Vec2,
    /// Velocity, units per second.
    pub vel: Vec2,
    /// Heading in radians; 0 points along +x, increasing clockwise on
    /// screen (y grows downwards).
    pub angle: f32,
}

/// Unit vector of a heading.
pub fn heading(angle: f32) -> Vec2 {
    Vec2::new(angle.cos(), angle.sin())
}

/// Applies one tick of a ship's controls: turn, thrust, drag, speed cap.
pub fn steer(motion: &mut Motion, turn: f32, thrust: bool, dt: f32) {
    motion.angle = wrap_angle(motion.angle + turn.clamp(-1.0, 1.0) * TURN_RATE * dt);
    if thrust {
        motion.vel += heading(motion.angle) * THRUST * dt;
    } else {
        motion.vel *= (1.0 - DRAG * dt).max(0.0);
    }
    motion.vel = motion.vel.clamp_length_max(MAX_SHIP_SPEED);
}

/// Moves a body by its velocity for one tick, wrapping at the edges.
pub fn drift(motion: &mut Motion, dt: f32) {
    motion.pos = wrap(motion.pos + motion.vel * dt);
}

/// The same point brought inside the arena.
pub fn wrap(pos: Vec2) -> Vec2 {
    let x = pos.x.rem_euclid(ARENA_WIDTH);
    let y = pos.y.rem_euclid(ARENA_HEIGHT);
    // rem_euclid of a tiny negative number can round up to the modulus.
    Vec2::new(
        if x >= ARENA_WIDTH { 0.0 } else { x },
        if y >= ARENA_HEIGHT { 0.0 } else { y },
    )
}

/// An angle brought into `[0, 2π)`.
pub fn wrap_angle(angle: f32) -> f32 {
    let a = angle.rem_euclid(std::f32::consts::TAU);
    if a >= std::f32::consts::TAU { 0.0 } else { a }
}

/// The shortest offset from `a` to `b` in the wrapping arena.
pub fn offset(a: Vec2, b: Vec2) -> Vec2 {
    let mut d = b - a;
    if d.x > ARENA_WIDTH / 2.0 {
        d.x -= ARENA_WIDTH;
    } else if d.x < -ARENA_WIDTH / 2.0 {
        d.x += ARENA_WIDTH;
    }
    if d.y > ARENA_HEIGHT / 2.0 {
        d.y -= ARENA_HEIGHT;
    } else if d.y < -ARENA_HEIGHT / 2.0 {
        d.y += ARENA_HEIGHT;
    }
    d
}

/// Whether two circles overlap, across the arena's edges too.
pub fn touching(a: Vec2, ra: f32, b: Vec2, rb: f32) -> bool {
    offset(a, b).length_squared() < (ra + rb) * (ra + rb)
}

/// The events of an Asteroids match, published on the room's channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AsteroidsEvent {
    /// A match began.
    MatchStarted {
        /// Match number in this room, from 1.
        number: u32,
        /// Its length in seconds.
        match_secs: u16,
    },
    /// A wave of rocks entered the arena.
    WaveStarted {
        /// Wave number, from 1.
        wave: u32,
        /// Large rocks in it.
        rocks: u16,
    },
    /// A ship was destroyed.
    ShipDestroyed {
        /// Its player.
        session: SessionId,
        /// The player whose bullet did it; `None` for a rock or a crash.
        by: Option<SessionId>,
        /// Lives left; at zero the player is out.
        lives: u8,
    },
    /// A rock was destroyed (and split, unless it was small).
    RockDestroyed {
        /// The rock's entity id in snapshots.
        id: u32,
        /// Its size.
        size: RockSize,
        /// The player whose bullet hit it.
        by: SessionId,
    },
    /// A player's score went up.
    PlayerScored {
        /// The player.
        session: SessionId,
        /// Points gained.
        points: u32,
        /// New total.
        score: u32,
    },
    /// The match ended on its time limit or with every ship out.
    MatchOver {
        /// Match number.
        number: u32,
        /// Final standings, best first.
        standings: Vec<Standing>,
    },
}

/// Where an arena's running match stands, for a session arriving
/// part-way (see [`crate::ServerMsg::Progress`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsteroidsProgress {
    /// Match number in this room, from 1.
    pub number: u32,
    /// Its length in seconds.
    pub match_secs: u16,
    /// Milliseconds until it ends on its time limit.
    pub left_ms: u32,
}

/// A player's place at the end of a match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// The player.
    pub session: SessionId,
    /// Their nickname.
    pub nickname: String,
    /// Points.
    pub score: u32,
    /// Lives left.
    pub lives: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_wrap_into_the_arena() {
        assert_eq!(wrap(Vec2::new(-1.0, 1201.0)), Vec2::new(1599.0, 1.0));
        assert_eq!(wrap(Vec2::new(1600.0, 0.0)), Vec2::new(0.0, 0.0));
        let tiny = wrap(Vec2::new(-1e-9, -1e-9));
        assert!(tiny.x < ARENA_WIDTH && tiny.y < ARENA_HEIGHT);
    }

    #[test]
    fn offsets_take_the_short_way_across_edges() {
        let d = offset(Vec2::new(1590.0, 10.0), Vec2::new(10.0, 1190.0));
        assert_eq!(d, Vec2::new(20.0, -20.0));
        assert!(touching(
            Vec2::new(1595.0, 600.0),
            10.0,
            Vec2::new(5.0, 600.0),
            10.0
        ));
    }

    #[test]
    fn thrust_is_capped_and_coasting_slows() {
        let mut m = Motion::default();
        for _ in 0..300 {
            steer(&mut m, 0.0, true, 1.0 / 30.0);
        }
        assert!(
            (m.vel.length() - MAX_SHIP_SPEED).abs() < 1e-3,
            "{}",
            m.vel.length()
        );
        let before = m.vel.length();
        steer(&mut m, 0.0, false, 1.0 / 30.0);
        assert!(m.vel.length() < before);
    }

    #[test]
    fn turning_follows_the_stick_and_wraps() {
        let mut m = Motion::default();
        steer(&mut m, -1.0, false, 0.5);
        assert!(
            (m.angle - (std::f32::consts::TAU - 2.0)).abs() < 1e-5,
            "{}",
            m.angle
        );
        steer(&mut m, 7.0, false, 0.5);
        let from_zero = m.angle.min(std::f32::consts::TAU - m.angle);
        assert!(from_zero < 1e-5, "clamped to full right: {}", m.angle);
    }

    #[test]
    fn rocks_split_down_to_small() {
        assert_eq!(RockSize::Large.split(), Some(RockSize::Medium));
        assert_eq!(RockSize::Medium.split(), Some(RockSize::Small));
        assert_eq!(RockSize::Small.split(), None);
        assert!(RockSize::Small.points() > RockSize::Large.points());
    }
}
