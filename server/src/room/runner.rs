//! Simulation threads: plain OS threads, not tokio workers, that step rooms
//! at their fixed rates.
//!
//! Each thread owns a set of rooms and sleeps until the earliest is due;
//! rooms start on a few shared phases of their period, so that they tick
//! in bursts (see [`PHASES`]). A
//! room that falls behind catches up by at most [`MAX_CATCH_UP`] ticks; past
//! that (the process was paused, the machine overloaded) it drops the
//! missed ticks and resumes from now, so clients see a jump rather than a
//! burst of replayed ticks. A panic inside a room ends that room only.
//!
//! Every tick is measured into the `stadium_tick*` metrics (see
//! [`crate::metrics`]): its duration, the interval since the room's last
//! tick started, and whether it started late, caught up or was skipped.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use stadium_shared::ErrorCode;

use super::Room;
use crate::metrics::{self, TickMetrics};

/// Ticks a late room may run back to back before it skips ahead.
pub const MAX_CATCH_UP: u32 = 3;

/// The pool of simulation threads.
pub struct RoomRunner {
    threads: Mutex<Vec<Sender<Room>>>,
    next: AtomicUsize,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl RoomRunner {
    /// Starts `threads` simulation threads (at least one).
    pub fn start(threads: usize) -> Self {
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for index in 0..threads.max(1) {
            let (tx, rx) = std::sync::mpsc::channel();
            let handle = std::thread::Builder::new()
                .name(format!("stadium-sim-{index}"))
                .spawn(move || run(rx))
                .expect("the OS can start a simulation thread");
            senders.push(tx);
            handles.push(handle);
        }
        Self {
            threads: Mutex::new(senders),
            next: AtomicUsize::new(0),
            handles: Mutex::new(handles),
        }
    }

    /// Hands a room to a thread, round robin. After shutdown the room is
    /// closed at once.
    pub fn spawn(&self, mut room: Room) {
        let threads = self.threads.lock().expect("runner lock is never poisoned");
        if threads.is_empty() {
            room.close(Some(ErrorCode::ShuttingDown));
            return;
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed) % threads.len();
        if let Err(mut err) = threads[index].send(room) {
            err.0.close(Some(ErrorCode::ShuttingDown));
        }
    }

    /// Closes every room with [`ErrorCode::ShuttingDown`] and stops the
    /// threads.
    pub fn shutdown(&self) {
        self.threads
            .lock()
            .expect("runner lock is never poisoned")
            .clear();
        let handles =
            std::mem::take(&mut *self.handles.lock().expect("runner lock is never poisoned"));
        for handle in handles {
            let _ = handle.join();
        }
    }
}

/// Phases a period is divided into. A room starts its ticks at one of
/// them, taken in turn, so that the rooms of a thread tick in a few bursts
/// a period rather than each at its own moment: the thread, and the tokio
/// worker that writes what the ticks produced, wake a few times a period
/// however many rooms there are, and each burst stays short enough (a
/// quarter of the rooms) not to make the last of it late.
const PHASES: u32 = 4;

struct Scheduled {
    room: Room,
    due: Instant,
    /// When the room's previous tick started.
    last_start: Option<Instant>,
    metrics: &'static TickMetrics,
}

impl Scheduled {
    /// Schedules `room`'s first tick at the next start of `phase` on the
    /// grid of its period that begins at `epoch`.
    fn new(room: Room, epoch: Instant, phase: u32, now: Instant) -> Self {
        let metrics = metrics::get().ticks(room.game());
        metrics.rooms.increment(1.0);
        let period = room.period();
        let start = epoch + period / PHASES * (phase % PHASES);
        let period_ns = period.as_nanos().max(1);
        let periods = now
            .saturating_duration_since(start)
            .as_nanos()
            .div_ceil(period_ns);
        let due =
            start + Duration::from_nanos(u64::try_from(periods * period_ns).unwrap_or(u64::MAX));
        Scheduled {
            room,
            due,
            last_start: None,
            metrics,
        }
    }
}

impl Drop for Scheduled {
    fn drop(&mut self) {
        self.metrics.rooms.decrement(1.0);
    }
}

fn run(new_rooms: Receiver<Room>) {
    let epoch = Instant::now();
    let mut rooms: Vec<Scheduled> = Vec::new();
    let mut started: u32 = 0;
    loop {
        let next_due = rooms.iter().map(|r| r.due).min();
        let wait = next_due.map_or(Duration::from_secs(3600), |due| {
            due.saturating_duration_since(Instant::now())
        });
        match new_rooms.recv_timeout(wait) {
            Ok(room) => {
                rooms.push(Scheduled::new(room, epoch, started, Instant::now()));
                started = started.wrapping_add(1);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                for scheduled in &mut rooms {
                    scheduled.room.close(Some(ErrorCode::ShuttingDown));
                }
                return;
            }
        }
        // One reading of the clock for the whole pass: rooms not yet due
        // cost a comparison, not a system call.
        let now = Instant::now();
        for scheduled in &mut rooms {
            if scheduled.due <= now {
                step_due(scheduled);
            }
        }
        rooms.retain(|r| !r.room.is_closed());
    }
}

fn step_due(scheduled: &mut Scheduled) {
    let period = scheduled.room.period();
    let metrics = scheduled.metrics;
    for run in 0..MAX_CATCH_UP {
        let now = Instant::now();
        if scheduled.due > now {
            return;
        }
        let lateness = now - scheduled.due;
        if lateness > period / 2 {
            metrics.late.increment(1);
            tracing::trace!(room = %scheduled.room.code(), ?lateness, "tick started late");
        }
        if run > 0 {
            metrics.catch_up.increment(1);
        }
        if let Some(last) = scheduled.last_start.replace(now) {
            metrics.interval.record(now - last);
        }
        let result = catch_unwind(AssertUnwindSafe(|| scheduled.room.tick(now)));
        if result.is_err() {
            tracing::error!(room = %scheduled.room.code(), "room panicked; closing it");
            scheduled.room.close(Some(ErrorCode::RoomFailed));
            return;
        }
        let cost = now.elapsed();
        metrics.ticks.increment(1);
        metrics.duration.record(cost);
        if cost > period {
            tracing::warn!(room = %scheduled.room.code(), ?cost, ?period, "tick overran its period");
        }
        scheduled.due += period;
    }
    let now = Instant::now();
    if scheduled.due <= now {
        let behind = now - scheduled.due;
        // The ticks due until a period from now are dropped; the room
        // resumes on its own phase, a period or so after now, so that
        // its next tick is not one more of the burst.
        let skipped = behind.as_nanos() / period.as_nanos().max(1) + 2;
        metrics
            .skipped
            .increment(u64::try_from(skipped).unwrap_or(u64::MAX));
        tracing::warn!(room = %scheduled.room.code(), ?behind, "room fell behind; skipping missed ticks");
        scheduled.due += period * u32::try_from(skipped).unwrap_or(u32::MAX);
    }
}

/// What the tests of this file build rooms from.
#[cfg(test)]
mod test_support {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use stadium_shared::trivia::pack::Pack;
    use stadium_shared::{GameKind, RoomState, SessionId, Tick};

    use super::RoomRunner;
    use crate::lobby::{Lobby, RoomLimits};
    use crate::room::{Game, GameCommand, Outbox, RoomPolicy};

    /// When each tick ran, in order.
    pub type Steps = Arc<Mutex<Vec<(Tick, Instant)>>>;

    /// A game of 100 ticks a second that records when each of its ticks
    /// ran, and can misbehave on one: panic there (a bug in one room's
    /// game), or stall its thread (a paused process, an overloaded machine).
    pub struct Scripted {
        pub kind: GameKind,
        pub steps: Steps,
        /// The tick, counted from 1, that panics.
        pub panic_at: Option<usize>,
        /// The tick, counted from 1, that stalls, and for how long.
        pub stall_at: Option<(usize, Duration)>,
    }

    impl Scripted {
        /// A well-behaved one, and its record of ticks.
        pub fn new(kind: GameKind) -> (Self, Steps) {
            let steps = Steps::default();
            let game = Self {
                kind,
                steps: steps.clone(),
                panic_at: None,
                stall_at: None,
            };
            (game, steps)
        }
    }

    impl Game for Scripted {
        fn kind(&self) -> GameKind {
            self.kind
        }
        fn tick_hz(&self) -> u32 {
            100
        }
        fn max_players(&self) -> u16 {
            4
        }
        fn state(&self) -> RoomState {
            RoomState::Running
        }
        fn player_joined(&mut self, _: SessionId, _: &str) {}
        fn player_left(&mut self, _: SessionId) {}
        fn command(&mut self, _: SessionId, _: GameCommand, _: bool, _: &mut Outbox) {}
        fn step(&mut self, tick: Tick, _: Instant, _: &mut Outbox) {
            let ticks = {
                let mut steps = self.steps.lock().unwrap();
                steps.push((tick, Instant::now()));
                steps.len()
            };
            if self.panic_at == Some(ticks) {
                panic!("a bug in one room's game");
            }
            if let Some((at, stall)) = self.stall_at
                && at == ticks
            {
                std::thread::sleep(stall);
            }
        }
    }

    /// A lobby for rooms made by hand, with its own runner.
    pub fn test_lobby(policy: RoomPolicy) -> Arc<Lobby> {
        let limits = RoomLimits {
            total: 10,
            per_session: 10,
            per_address: 10,
            players_per_room: 200,
        };
        Lobby::new(
            RoomRunner::start(1),
            Arc::new(Pack::built_in()),
            limits,
            policy,
        )
    }
}

#[cfg(test)]
mod tests {
    use stadium_shared::{GameKind, Role, RoomCode, RoomState, ServerMsg, SessionId};

    use super::test_support::{self, Scripted, test_lobby};
    use super::*;
    use crate::room::{RoomCommand, RoomPolicy};
    use crate::session::outbound::{Next, Outbound};

    #[tokio::test]
    async fn a_panicking_room_ends_alone_and_tells_its_players() {
        let lobby = test_lobby(RoomPolicy::new(Duration::from_secs(60), Duration::ZERO, 64));
        let runner = RoomRunner::start(1);
        let host = SessionId(1);
        let room = |code: &str, panic_at| {
            let (mut game, steps) = Scripted::new(GameKind::Asteroids);
            game.panic_at = panic_at;
            let code = RoomCode::parse(code).unwrap();
            let room = Room::new(
                code,
                Box::new(game),
                host,
                lobby.clone(),
                RoomPolicy::new(Duration::from_secs(60), Duration::ZERO, 64),
                Instant::now(),
            );
            (room, steps)
        };
        let ((broken, broken_handle), broken_steps) = room("BRKN", Some(20));
        let ((healthy, healthy_handle), healthy_steps) = room("GREN", None);
        let ticks = |steps: &test_support::Steps| steps.lock().unwrap().len();

        // A player in each room.
        let mut players = Vec::new();
        for handle in [&broken_handle, &healthy_handle] {
            let (outbound, rx) =
                Outbound::channel(stadium_shared::codec::Format::Postcard, 64 * 1024);
            let (reply, _answer) = tokio::sync::oneshot::channel();
            let join = RoomCommand::Join {
                session: host,
                nickname: "Ada".into(),
                role: Role::Player,
                outbound,
                reply,
            };
            handle.send(join).unwrap();
            players.push(rx);
        }
        runner.spawn(broken);
        runner.spawn(healthy);

        let mut broken_player = players.remove(0);
        let reason = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let Next::Send(out) = broken_player.next().await else {
                    panic!("the room keeps its sender until it ends");
                };
                if let ServerMsg::Left { reason, .. } = out.msg() {
                    return *reason;
                }
            }
        })
        .await
        .expect("the broken room ends");
        assert_eq!(reason, Some(ErrorCode::RoomFailed));
        assert_eq!(broken_handle.info().state, RoomState::Closed);

        // The other room on the same thread keeps its tick.
        let at_failure = ticks(&healthy_steps);
        tokio::time::timeout(Duration::from_secs(30), async {
            while ticks(&healthy_steps) < at_failure + 10 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the healthy room goes on ticking");
        assert_eq!(ticks(&broken_steps), 20, "no tick after the panic");
        assert_ne!(healthy_handle.info().state, RoomState::Closed);
        runner.shutdown();
        lobby.shutdown();
    }

    #[tokio::test]
    async fn a_room_queues_at_most_its_bound_of_commands_between_ticks() {
        let policy = RoomPolicy::new(Duration::from_secs(60), Duration::ZERO, 1 << 16);
        let lobby = test_lobby(policy);
        let (game, _) = Scripted::new(GameKind::Asteroids);
        let code = RoomCode::parse("FULL").unwrap();
        let (mut room, handle) = Room::new(
            code,
            Box::new(game),
            SessionId(1),
            lobby,
            policy,
            Instant::now(),
        );
        let leave = || RoomCommand::Leave {
            session: SessionId(9),
        };
        for _ in 0..crate::room::COMMAND_QUEUE {
            assert_eq!(handle.send(leave()), Ok(()));
        }
        // A flooded room refuses more, and takes them again once its tick
        // has drained the queue.
        assert_eq!(handle.send(leave()), Err(ErrorCode::RateLimited));
        room.tick(Instant::now());
        assert_eq!(handle.send(leave()), Ok(()));
        drop(room);
        assert_eq!(handle.send(leave()), Err(ErrorCode::RoomNotFound));
    }
}

#[cfg(test)]
mod stall_tests {
    use stadium_shared::{GameKind, RoomCode, SessionId};

    use super::test_support::{Scripted, test_lobby};
    use super::*;
    use crate::room::RoomPolicy;

    fn skipped_total() -> u64 {
        let text = crate::metrics::get().render();
        text.lines()
            .find(|line| line.starts_with("stadium_ticks_skipped_total{game=\"trivia\"}"))
            .and_then(|line| line.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0)
    }

    #[test]
    fn c21_after_a_stall_a_room_catches_up_at_most_the_cap_then_skips_and_counts_it() {
        let stall = Duration::from_millis(500);
        let policy = RoomPolicy::new(Duration::from_secs(60), Duration::ZERO, 1 << 16);
        let lobby = test_lobby(policy);
        // Trivia, so that the skipped ticks counted are this room's alone.
        let (mut game, steps) = Scripted::new(GameKind::Trivia);
        game.stall_at = Some((5, stall));
        let code = RoomCode::parse("STLL").unwrap();
        let (room, _handle) = Room::new(
            code,
            Box::new(game),
            SessionId(1),
            lobby.clone(),
            policy,
            Instant::now(),
        );
        let skipped_before = skipped_total();
        let runner = RoomRunner::start(1);
        runner.spawn(room);
        let deadline = Instant::now() + Duration::from_secs(30);
        while steps.lock().unwrap().len() < 30 {
            assert!(Instant::now() < deadline, "the room keeps ticking");
            std::thread::sleep(Duration::from_millis(10));
        }
        runner.shutdown();
        lobby.shutdown();

        let steps = steps.lock().unwrap().clone();
        let stalled_until = steps[4].1 + stall;
        // Ticks begun within half a period of the stall's end: the catch-up
        // burst, never the fifty ticks the stall overran.
        let burst = steps
            .iter()
            .filter(|(_, at)| {
                *at >= stalled_until && *at < stalled_until + Duration::from_millis(5)
            })
            .count();
        assert!(burst < MAX_CATCH_UP as usize, "{burst} ticks back to back");
        // The tick counter goes on by one: the room resumes from now, and
        // clients' baselines stay valid.
        assert!(steps.windows(2).all(|w| w[1].0 == w[0].0.next()));
        // About 50 missed ticks, of which at most a few were caught up.
        let skipped = skipped_total() - skipped_before;
        assert!(skipped >= 40, "{skipped} ticks counted as skipped");
    }
}
