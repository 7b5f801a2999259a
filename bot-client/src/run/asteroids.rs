//! How an Asteroids bot flies: it aims at the nearest rock and shoots once
//! lined up, wanders when the arena is empty, and measures how the arena
//! streams to it.
//!
//! [`Pilot`] is one bot's view of its arena: the states rebuilt from
//! snapshots, acknowledged so that the server sends the next as a delta
//! against them, and the inputs not yet echoed by a snapshot. As a game
//! client does, a pilot acknowledges in its inputs: the newest state it
//! holds leaves with each input, so that it sends one write per input
//! rather than one per snapshot as well. Like the
//! trivia player it does no I/O: it is handed snapshots and the time and
//! returns what to send. Per input it allocates nothing; a snapshot costs
//! what rebuilding its state does.

use std::collections::VecDeque;
use std::f32::consts::{PI, TAU};
use std::sync::Arc;
use std::time::Duration;

use stadium_shared::asteroids::offset;
use stadium_shared::snapshot::{RockState, ShipState, Snapshot, SnapshotBuffer, angle_of};
use stadium_shared::{ClientMsg, Input, SessionId, Tick};
use tokio::time::Instant;

use super::timing::Samples;
use super::{Shared, bump};
use crate::client::SnapshotHeader;

/// States kept as delta baselines: as many ticks as the server keeps.
const SNAPSHOT_STATES: usize = 32;
/// Inputs awaiting their echo, about three seconds' worth at 20 Hz; older
/// ones are given up on.
const INPUTS_IN_FLIGHT: usize = 64;
/// Stick per radian of aiming error: full turn from half a radian off.
const AIM_GAIN: f32 = 2.0;
/// Farther than this from its rock, a bot closes in.
const CLOSE_ENOUGH: f32 = 250.0;
/// Aiming error, in radians, within which a bot fires.
const FIRE_CONE: f32 = 0.2;
/// Stick while wandering: a slow circle.
const WANDER_TURN: f32 = 0.3;
/// A snapshot more than this many tick periods after the previous one is
/// late.
const LATE_PERIODS: f64 = 1.5;

/// The controls of one input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Controls {
    /// -1 (left) to 1 (right).
    pub turn: f32,
    /// Engine on.
    pub thrust: bool,
    /// Trigger held.
    pub fire: bool,
}

/// Steers `ship` at the nearest of `rocks`, measured across the arena's
/// edges: turns toward it, closes in when it is far, and fires when lined
/// up if `fire` allows. `None` when there is no rock.
pub fn aim<'a>(
    ship: &ShipState,
    rocks: impl IntoIterator<Item = &'a RockState>,
    fire: bool,
) -> Option<Controls> {
    let pos = ship.body.pos();
    let to_rock = rocks
        .into_iter()
        .map(|rock| offset(pos, rock.body.pos()))
        .min_by(|a, b| a.length_squared().total_cmp(&b.length_squared()))?;
    let error = turn_between(angle_of(ship.angle), to_rock.y.atan2(to_rock.x));
    Some(Controls {
        turn: (error * AIM_GAIN).clamp(-1.0, 1.0),
        thrust: to_rock.length() > CLOSE_ENOUGH,
        fire: fire && error.abs() < FIRE_CONE,
    })
}

/// The controls with nothing to chase: a slow circle, `clockwise` or not,
/// with the engine on for a second and off for the next. `seq` counts
/// inputs sent at `input_hz`.
pub fn wander(seq: u32, input_hz: u16, clockwise: bool) -> Controls {
    let second = seq / u32::from(input_hz.max(1));
    Controls {
        turn: if clockwise { WANDER_TURN } else { -WANDER_TURN },
        thrust: second.is_multiple_of(2),
        fire: false,
    }
}

/// The shortest turn from heading `from` to heading `to`, in `(-π, π]`
/// radians. Headings grow clockwise on screen, so positive is a right turn.
fn turn_between(from: f32, to: f32) -> f32 {
    let turn = (to - from).rem_euclid(TAU);
    if turn > PI { turn - TAU } else { turn }
}

/// Inputs sent and not yet echoed by a snapshot, oldest first.
#[derive(Debug)]
pub struct InputLog {
    sent: VecDeque<(u32, Instant)>,
    /// Whether inputs are noted at all: light bots do not measure.
    enabled: bool,
}

impl InputLog {
    /// An empty log with room for the inputs that may be in flight, or
    /// one that notes nothing when `enabled` is false.
    pub fn new(enabled: bool) -> Self {
        Self {
            sent: VecDeque::with_capacity(if enabled { INPUTS_IN_FLIGHT } else { 0 }),
            enabled,
        }
    }

    /// Notes input `seq` leaving at `at`. Sequence numbers only grow.
    pub fn sent(&mut self, seq: u32, at: Instant) {
        if !self.enabled {
            return;
        }
        if self.sent.len() == INPUTS_IN_FLIGHT {
            self.sent.pop_front();
        }
        self.sent.push_back((seq, at));
    }

    /// A snapshot received at `now` echoes `seq`: every input up to it has
    /// reached the server, including those it replaced before a tick (or
    /// that were lost), which count from their own send. Each input yields
    /// its delay to `delay` once; echoes of older inputs yield nothing.
    pub fn echoed(&mut self, seq: u32, now: Instant, mut delay: impl FnMut(Duration)) {
        while let Some(&(sent_seq, sent_at)) = self.sent.front() {
            if sent_seq > seq {
                break;
            }
            self.sent.pop_front();
            delay(now.duration_since(sent_at));
        }
    }
}

/// What one Asteroids bot knows of its arena and how it flies.
///
/// A probe decodes every snapshot, rebuilds the arena, aims in it and
/// measures latencies; a light pilot reads only snapshot headers, counts
/// them, acknowledges their ticks and wanders.
pub struct Pilot {
    session: SessionId,
    shared: Arc<Shared>,
    /// Circling direction while wandering, so that bots spread out.
    clockwise: bool,
    /// The arena's states, for a probe; `None` for a light pilot.
    buffer: Option<SnapshotBuffer>,
    inputs: InputLog,
    /// Sequence number of the next input, from 1.
    next_seq: u32,
    last_snapshot_at: Option<Instant>,
    /// Snapshots received in the measurement window.
    window_snapshots: u64,
    /// A light pilot's next input is due at this time (`None`: at once).
    next_input_at: Option<Instant>,
    /// The newest tick held and not yet acknowledged: it is acknowledged
    /// with the next input.
    unacked: Option<Tick>,
    input_to_ack: Samples,
    snapshot_interval: Samples,
}

impl Pilot {
    /// The pilot of bot `index`, whose session is `session`; a probe when
    /// `probe` is set.
    pub(super) fn new(index: usize, session: SessionId, shared: Arc<Shared>, probe: bool) -> Self {
        let timings = &shared.timings;
        Self {
            session,
            clockwise: index.is_multiple_of(2),
            buffer: probe.then(|| SnapshotBuffer::new(SNAPSHOT_STATES)),
            inputs: InputLog::new(probe),
            next_seq: 1,
            last_snapshot_at: None,
            window_snapshots: 0,
            next_input_at: None,
            unacked: None,
            input_to_ack: Samples::new(&timings.input_to_ack)
                .with_recent(&timings.input_to_ack_recent),
            snapshot_interval: Samples::new(&timings.snapshot_interval),
            shared,
        }
    }

    /// Whether a light pilot owes an input at `now`: inputs fall due every
    /// 1/`input_hz` seconds and leave when the next snapshot has been
    /// read, so that a light pilot needs no timer of its own. A probe
    /// keeps its own timer and is never due here.
    pub fn input_due(&mut self, now: Instant) -> bool {
        if self.buffer.is_some() {
            return false;
        }
        let period = Duration::from_secs_f64(1.0 / f64::from(self.shared.config.input_hz.max(1)));
        match self.next_input_at {
            Some(due) if now < due => false,
            Some(due) => {
                // A pilot far behind starts afresh rather than catching up.
                self.next_input_at = Some(if now - due > period {
                    now + period
                } else {
                    due + period
                });
                true
            }
            None => {
                self.next_input_at = Some(now + period);
                true
            }
        }
    }

    /// Snapshots this pilot received in the run's measurement window.
    pub fn window_snapshots(&self) -> u64 {
        self.window_snapshots
    }

    /// Takes a decoded snapshot received at `now`: measures it, settles
    /// the inputs it echoes and, for a probe, rebuilds its state, to be
    /// acknowledged with the next input (a light pilot acknowledges every
    /// tick it reads). A delta against a state not held is counted and not
    /// acknowledged, so the server goes on deltaing against the last
    /// acknowledged state (or sends a full one).
    pub fn on_snapshot(&mut self, snapshot: &Snapshot, now: Instant) {
        let header = SnapshotHeader {
            tick: snapshot.tick,
            baseline: snapshot.baseline,
            last_input: snapshot.last_input,
            tick_hz: snapshot.tick_hz,
        };
        let Some(buffer) = &mut self.buffer else {
            return self.on_header(header, now);
        };
        let received = buffer.receive(snapshot).map(|_| ());
        self.measure(header, now);
        match received {
            Ok(_) => self.hold(header.tick),
            Err(missing) => {
                tracing::trace!(%missing, "snapshot unusable");
                if self.shared.measuring(now) {
                    bump(&self.shared.counts.snapshots_unusable);
                }
            }
        }
    }

    /// Takes the header of a snapshot received at `now`, as a light pilot
    /// does: measures it and holds its tick for acknowledgement.
    pub fn on_header(&mut self, header: SnapshotHeader, now: Instant) {
        self.measure(header, now);
        self.hold(header.tick);
    }

    fn hold(&mut self, tick: Tick) {
        if self.shared.config.ack {
            self.unacked = Some(tick);
        }
    }

    /// Counts a snapshot, whether it came late, and for a probe its
    /// interval and the inputs it echoes.
    fn measure(&mut self, header: SnapshotHeader, now: Instant) {
        let measuring = self.shared.measuring(now);
        let counts = &self.shared.counts;
        let previous = self.last_snapshot_at.replace(now);
        if measuring {
            bump(&counts.snapshots);
            self.window_snapshots += 1;
        }
        if let Some(previous) = previous
            && measuring
        {
            let interval = now.duration_since(previous);
            bump(&counts.snapshot_intervals);
            if is_late(interval, header.tick_hz) {
                bump(&counts.snapshots_late);
            }
            if self.buffer.is_some() {
                self.snapshot_interval.record(interval);
            }
        }
        let input_to_ack = &mut self.input_to_ack;
        self.inputs.echoed(header.last_input, now, |delay| {
            if measuring {
                input_to_ack.record(delay);
            }
        });
    }

    /// Adds to `out` the input to send at `now`, after the acknowledgement
    /// of the newest state held, once the pilot has seen its arena (before
    /// that its ship may not be seated yet). A probe aims in its rebuilt
    /// state; a light pilot wanders.
    pub fn input(&mut self, now: Instant, out: &mut Vec<ClientMsg>) {
        if let Some(input) = self.next_input(now) {
            out.extend(self.unacked.take().map(|tick| ClientMsg::Ack { tick }));
            out.push(input);
        }
    }

    fn next_input(&mut self, now: Instant) -> Option<ClientMsg> {
        self.last_snapshot_at?;
        let seq = self.next_seq;
        let config = &self.shared.config;
        let controls = match &self.buffer {
            Some(buffer) => {
                let (_, state) = buffer.latest()?;
                let ship = state
                    .ships()
                    .find(|(_, ship)| ship.owner == self.session)
                    .map(|(_, ship)| ship);
                let rocks = state.rocks().map(|(_, rock)| rock);
                ship.and_then(|ship| aim(ship, rocks, config.fire))
            }
            None => None,
        }
        .unwrap_or_else(|| wander(seq, config.input_hz, self.clockwise));
        self.next_seq += 1;
        self.inputs.sent(seq, now);
        bump(&self.shared.counts.inputs_all);
        if self.shared.measuring(now) {
            bump(&self.shared.counts.inputs);
        }
        Some(ClientMsg::Input(Input {
            seq,
            turn: controls.turn,
            thrust: controls.thrust,
            fire: controls.fire,
        }))
    }
}

/// Whether a snapshot `interval` after the previous one came late: more
/// than one and a half tick periods at `tick_hz` (half a period after it
/// was due). A rate of 0 never makes one late.
pub fn is_late(interval: Duration, tick_hz: u16) -> bool {
    tick_hz > 0 && interval.as_secs_f64() * f64::from(tick_hz) > LATE_PERIODS
}

#[cfg(test)]
mod tests {
    use stadium_shared::asteroids::RockSize;
    use stadium_shared::snapshot::{
        ANGLE_STEPS, ArenaState, Body, EntityState, POSITION_STEPS, quantize_angle,
    };

    use super::super::RunConfig;
    use super::*;

    fn body(x: f32, y: f32) -> Body {
        Body {
            x: (x * POSITION_STEPS) as u16,
            y: (y * POSITION_STEPS) as u16,
            vx: 0,
            vy: 0,
        }
    }

    fn ship(x: f32, y: f32, angle: f32) -> ShipState {
        ShipState {
            owner: SessionId(1),
            body: body(x, y),
            angle: quantize_angle(angle),
            flags: 0,
            lives: 3,
            score: 0,
            ax: 0,
            ay: 0,
            spin: 0,
        }
    }

    fn rock(x: f32, y: f32) -> RockState {
        RockState {
            body: body(x, y),
            size: RockSize::Large,
        }
    }

    #[test]
    fn bots_turn_right_toward_rocks_clockwise_of_their_heading() {
        // Heading 0 points along +x; y grows down the screen, so a rock
        // below the nose is to the right.
        let nose_east = ship(800.0, 600.0, 0.0);
        let right = aim(&nose_east, &[rock(900.0, 700.0)], true).unwrap();
        assert!(right.turn > 0.0, "{right:?}");
        let left = aim(&nose_east, &[rock(900.0, 500.0)], true).unwrap();
        assert!(left.turn < 0.0, "{left:?}");
        let far_behind = aim(&nose_east, &[rock(300.0, 590.0)], true).unwrap();
        assert_eq!(far_behind.turn.abs(), 1.0, "full stick when far off");
    }

    #[test]
    fn bots_aim_across_the_arena_edge_at_the_nearest_rock() {
        // Nose down at the left edge: the rock 20 units away across the
        // edge is on the ship's right, though 1580 units away inside the
        // arena it would be on its left. A nearer-looking rock inside is
        // in fact farther.
        let nose_south = ship(10.0, 600.0, PI / 2.0);
        let controls = aim(
            &nose_south,
            &[rock(400.0, 600.0), rock(1590.0, 600.0)],
            true,
        )
        .unwrap();
        assert!(controls.turn > 0.0, "{controls:?}");
        assert!(!controls.thrust, "the rock is close");
    }

    #[test]
    fn bots_close_in_on_far_rocks() {
        let nose_east = ship(100.0, 600.0, 0.0);
        assert!(aim(&nose_east, &[rock(600.0, 600.0)], true).unwrap().thrust);
        assert!(!aim(&nose_east, &[rock(200.0, 600.0)], true).unwrap().thrust);
    }

    #[test]
    fn bots_fire_only_when_lined_up_and_never_without_a_trigger() {
        let nose_east = ship(100.0, 600.0, 0.0);
        let ahead = [rock(400.0, 610.0)];
        assert!(aim(&nose_east, &ahead, true).unwrap().fire);
        assert!(!aim(&nose_east, &ahead, false).unwrap().fire);
        let aside = [rock(400.0, 800.0)];
        assert!(!aim(&nose_east, &aside, true).unwrap().fire);
    }

    #[test]
    fn with_no_rocks_bots_wander_without_firing() {
        assert_eq!(aim(&ship(1.0, 1.0, 0.0), &[], true), None);
        let first_second = wander(1, 20, true);
        let next_second = wander(25, 20, true);
        assert!(first_second.thrust && !next_second.thrust);
        assert_eq!(first_second.turn, WANDER_TURN);
        assert_eq!(wander(1, 20, false).turn, -WANDER_TURN);
        assert!((0..100).all(|seq| !wander(seq, 20, true).fire));
    }

    #[test]
    fn headings_wrap_to_the_shorter_turn() {
        assert!((turn_between(0.1, TAU - 0.1) + 0.2).abs() < 1e-5);
        assert!((turn_between(TAU - 0.1, 0.1) - 0.2).abs() < 1e-5);
        let step = TAU / ANGLE_STEPS;
        assert!(turn_between(0.0, PI + step) < 0.0);
    }

    #[test]
    fn an_echo_settles_every_input_up_to_it_once() {
        let start = Instant::now();
        let mut log = InputLog::new(true);
        for seq in 1..=8 {
            log.sent(seq, start + Duration::from_millis(u64::from(seq) * 50));
        }
        let mut delays = Vec::new();
        let echoed_at = start + Duration::from_millis(300);
        log.echoed(5, echoed_at, |delay| delays.push(delay));
        let expected: Vec<Duration> = (1..=5)
            .map(|seq| Duration::from_millis(300 - seq * 50))
            .collect();
        assert_eq!(delays, expected);
        log.echoed(5, echoed_at, |delay| delays.push(delay));
        log.echoed(3, echoed_at, |delay| delays.push(delay));
        assert_eq!(delays.len(), 5, "no input counts twice");
        assert_eq!(log.sent.front().map(|&(seq, _)| seq), Some(6));
        assert_eq!(log.sent.len(), 3);
    }

    #[test]
    fn snapshots_are_late_past_one_and_a_half_periods() {
        let ms = Duration::from_millis;
        assert!(!is_late(ms(33), 30));
        assert!(!is_late(ms(49), 30), "49 ms is under 1.5 x 33.3 ms");
        assert!(is_late(ms(51), 30));
        assert!(is_late(ms(26), 60), "1.5 periods at 60 Hz is 25 ms");
        assert!(!is_late(ms(1000), 0));
    }

    #[test]
    fn light_pilots_ack_headers_with_inputs_and_wander_without_measuring_latency() {
        let shared = Arc::new(Shared::new(Arc::new(RunConfig {
            tick_hz: 30,
            ..RunConfig::default()
        })));
        let mut pilot = Pilot::new(0, SessionId(1), shared.clone(), false);
        let start = Instant::now();
        let mut out = Vec::new();
        pilot.input(start, &mut out);
        assert_eq!(out, [], "no input before the first snapshot");
        let header = |tick, last_input| SnapshotHeader {
            tick: Tick(tick),
            baseline: Some(Tick(tick - 1)),
            last_input,
            tick_hz: 30,
        };
        pilot.on_header(header(4, 0), start);
        pilot.on_header(header(5, 0), start);
        pilot.input(start, &mut out);
        assert!(
            matches!(
                &out[..],
                [ClientMsg::Ack { tick: Tick(5) }, ClientMsg::Input(_)]
            ),
            "the newest tick read leaves with the input: {out:?}"
        );
        out.clear();
        pilot.input(start, &mut out);
        assert!(
            matches!(&out[..], [ClientMsg::Input(_)]),
            "a tick is acknowledged once: {out:?}"
        );
        pilot.on_header(header(6, 1), start + Duration::from_millis(33));
        pilot.on_header(header(7, 1), start + Duration::from_millis(100));
        let counts = &shared.counts;
        let read = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(read(&counts.snapshots), 4);
        assert_eq!(pilot.window_snapshots(), 4);
        assert_eq!(read(&counts.snapshot_intervals), 3);
        assert_eq!(read(&counts.snapshots_late), 1, "the 67 ms gap");
        drop(pilot);
        let timings = &shared.timings;
        assert_eq!(timings.input_to_ack.lock().unwrap().len(), 0);
        assert_eq!(timings.snapshot_interval.lock().unwrap().len(), 0);
    }

    #[test]
    fn light_inputs_fall_due_at_the_input_rate() {
        let shared = Arc::new(Shared::new(Arc::new(RunConfig {
            input_hz: 20,
            ..RunConfig::default()
        })));
        let mut light = Pilot::new(0, SessionId(1), shared.clone(), false);
        let start = Instant::now();
        // Snapshots every 33 1/3 ms for three seconds: 60 inputs.
        let due = (0..90)
            .filter(|i| light.input_due(start + Duration::from_micros(i * 33_333)))
            .count();
        assert_eq!(due, 60);
        // Far behind, a pilot owes one input, not the backlog.
        let late = start + Duration::from_secs(10);
        assert!(light.input_due(late));
        assert!(!light.input_due(late + Duration::from_millis(10)));
        let mut probe = Pilot::new(1, SessionId(2), shared, true);
        assert!(!probe.input_due(start), "probes keep their own timer");
    }

    #[test]
    fn a_full_log_gives_up_its_oldest_input() {
        let now = Instant::now();
        let mut log = InputLog::new(true);
        for seq in 1..=INPUTS_IN_FLIGHT as u32 + 2 {
            log.sent(seq, now);
        }
        assert_eq!(log.sent.len(), INPUTS_IN_FLIGHT);
        assert_eq!(log.sent.front().map(|&(seq, _)| seq), Some(3));
    }

    #[test]
    fn probes_ack_rebuilt_snapshots_with_inputs_and_count_the_unusable() {
        let shared = Arc::new(Shared::new(Arc::new(RunConfig::default())));
        let mut pilot = Pilot::new(0, SessionId(1), shared.clone(), true);
        let now = Instant::now();
        let mut out = Vec::new();
        pilot.input(now, &mut out);
        assert_eq!(out, [], "no input before the first state");

        let mut arena = ArenaState::default();
        arena
            .entities
            .insert(1, EntityState::Ship(ship(800.0, 600.0, 0.0)));
        arena
            .entities
            .insert(2, EntityState::Rock(rock(900.0, 600.0)));
        let full = arena.snapshot(Tick(10), None, 0);
        pilot.on_snapshot(&full, now);
        pilot.input(now, &mut out);
        let [ClientMsg::Ack { tick: Tick(10) }, ClientMsg::Input(input)] = &out[..] else {
            panic!("an acknowledgement and an input once a state is held: {out:?}");
        };
        assert_eq!(input.seq, 1);
        assert!(input.fire, "the rock is dead ahead");

        let orphan = arena.snapshot(Tick(12), Some((Tick(11), &arena)), 1);
        pilot.on_snapshot(&orphan, now);
        out.clear();
        pilot.input(now, &mut out);
        assert!(
            matches!(&out[..], [ClientMsg::Input(_)]),
            "an unusable snapshot is not acknowledged: {out:?}"
        );
        let counts = &shared.counts;
        assert_eq!(
            counts.snapshots.load(std::sync::atomic::Ordering::Relaxed),
            2
        );
        assert_eq!(
            counts
                .snapshots_unusable
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        drop(pilot);
        let timings = &shared.timings;
        assert_eq!(timings.input_to_ack.lock().unwrap().len(), 1);
        assert_eq!(timings.snapshot_interval.lock().unwrap().len(), 1);
    }
}
