//! A load-test run: many bots connecting, filling rooms and playing until a
//! deadline, and the [`Report`] of what they saw.
//!
//! Bots are dealt into groups of `room_size`. The first bot of a group to be
//! welcomed creates the group's room and shares its code; the others join
//! by code. A full trivia room starts its match by itself; a last, smaller
//! group's host starts it once everyone in the group is in. An Asteroids
//! arena runs as soon as anyone is in it, and starts its next match by
//! itself after the standings. Counts are shared atomics so that progress
//! can be read while the run goes on; durations go to histograms shared
//! by all bots, which each bot feeds in small batches.

mod asteroids;
mod bot;
mod monitor;
mod timing;
mod trivia;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use stadium_shared::trivia::pack::Pack;
use stadium_shared::{GameKind, RoomCode};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::client::{
    CertHash, ConnectError, ConnectOptions, QuicEndpoints, QuicUrl, Transport, fetch_cert_hash,
};
use crate::report::{DurationSummary, Report};
use timing::Timings;

/// Connection attempts in flight at once, so that a thousand bots started
/// together do not arrive as one burst of handshakes.
const CONNECT_CONCURRENCY: usize = 64;
/// QUIC bots per shared UDP socket: few enough that a tick's burst of
/// snapshots, one packet per bot, fits the socket's default receive buffer
/// (about 200 KiB, where each packet takes a kilobyte or more), many
/// enough that ten thousand bots need a few hundred sockets, not ten
/// thousand.
const BOTS_PER_ENDPOINT: usize = 32;

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    /// `quic://HOST:PORT` or `ws://HOST:PORT/ws`.
    pub url: String,
    /// Certificate pin, HTTP port and WebSocket format.
    pub connect: ConnectOptions,
    /// The game the bots play.
    pub game: GameKind,
    /// How many bots.
    pub bots: usize,
    /// Players per room; bots are dealt into rooms of this size.
    pub room_size: u16,
    /// Questions per trivia match.
    pub questions: u16,
    /// Seconds per trivia question.
    pub question_secs: u16,
    /// Seconds each trivia answer is shown.
    pub reveal_secs: u16,
    /// How long the bots play, from the start of the run.
    pub duration: Duration,
    /// The share of trivia questions a bot answers right, 0 to 1.
    pub accuracy: f64,
    /// Asteroids inputs each bot sends per second.
    pub input_hz: u16,
    /// Large rocks in an Asteroids arena's first wave; 0 leaves it empty.
    pub rocks: u16,
    /// Whether Asteroids bots fire when lined up with a rock; when false
    /// they never do.
    pub fire: bool,
    /// Whether Asteroids bots acknowledge snapshots. Without acks the
    /// server sends every snapshot in full, which is the baseline for
    /// measuring what deltas save.
    pub ack: bool,
    /// Asteroids simulation steps, and snapshots, per second.
    pub tick_hz: u16,
    /// Seconds per Asteroids match.
    pub match_secs: u16,
    /// Bots started per second; 0 starts them all at once (connecting at
    /// most 64 at a time).
    pub ramp: u32,
    /// Seed for the bots' choices; random when absent.
    pub seed: Option<u64>,
    /// Join this existing room instead of creating rooms: every bot takes
    /// a seat in it by code (as many as it has free).
    pub room: Option<RoomCode>,
    /// The share of bots, 0 to 1, that decode every message and measure
    /// latencies (probes). The others read only snapshot headers, count
    /// and acknowledge them, and send inputs.
    pub probe_share: f64,
    /// The share of bots, 0 to 1, whose connections are cut without a
    /// close halfway through the run, all at once; they then resume.
    pub chaos_drop: f64,
    /// Time from the start of the run before measuring begins: counts,
    /// rates and timings in the report cover only what follows it.
    pub warmup: Duration,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            url: "quic://127.0.0.1:4433".to_owned(),
            connect: ConnectOptions::default(),
            game: GameKind::Trivia,
            bots: 10,
            room_size: 10,
            questions: 5,
            question_secs: 5,
            reveal_secs: 2,
            duration: Duration::from_secs(30),
            accuracy: 0.7,
            input_hz: 20,
            rocks: 4,
            fire: true,
            ack: true,
            tick_hz: 30,
            match_secs: 60,
            ramp: 0,
            seed: None,
            room: None,
            probe_share: 0.1,
            chaos_drop: 0.0,
            warmup: Duration::ZERO,
        }
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The URL or certificate hash is unusable, or the hash could not be
    /// fetched.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A setting is out of range.
    #[error("invalid configuration: {0}")]
    Config(&'static str),
}

/// The counts of a run so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    /// Time since the run started.
    pub elapsed: Duration,
    /// Bots welcomed.
    pub connected: u64,
    /// Bots that could not connect.
    pub failed: u64,
    /// Connections that ended early.
    pub disconnects: u64,
    /// Errors seen.
    pub errors: u64,
    /// Matches completed.
    pub games_completed: u64,
    /// Answers sent.
    pub answers: u64,
    /// Asteroids inputs sent.
    pub inputs: u64,
    /// Asteroids snapshots received.
    pub snapshots: u64,
    /// Rooms the bots have opened.
    pub rooms: u64,
    /// Messages received, of every kind.
    pub messages: u64,
    /// The 99th percentile of input-to-ack since the last progress, in
    /// milliseconds (0 when nothing was measured).
    pub recent_p99_ms: f64,
}

/// Where a bot plays: its group (one room) and how many bots share it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seat {
    /// The group's number, from 0.
    pub group: usize,
    /// Bots in the group: `room_size`, or fewer for the last group.
    pub group_size: usize,
}

/// Deals bot `index` of `bots` into groups of `room_size` (at least 1).
pub fn seat_of(index: usize, bots: usize, room_size: usize) -> Seat {
    let room_size = room_size.max(1);
    let group = index / room_size;
    let group_size = room_size.min(bots.saturating_sub(group * room_size));
    Seat { group, group_size }
}

/// Runs the bots until the configured duration has passed.
pub async fn run(config: RunConfig) -> Result<Report, RunError> {
    run_inner(config, None, |_| {}, std::future::pending()).await
}

/// Like [`run`], calling `on_progress` every `every` (at least 100 ms) with
/// the counts so far.
pub async fn run_with_progress(
    config: RunConfig,
    every: Duration,
    on_progress: impl FnMut(&Progress),
) -> Result<Report, RunError> {
    run_until(config, every, on_progress, std::future::pending()).await
}

/// Like [`run_with_progress`], ending early when `stop` completes (on
/// Ctrl-C, say): the bots are stopped where they are and the report covers
/// what they did until then.
pub async fn run_until(
    config: RunConfig,
    every: Duration,
    on_progress: impl FnMut(&Progress),
    stop: impl Future<Output = ()>,
) -> Result<Report, RunError> {
    run_inner(
        config,
        Some(every.max(Duration::from_millis(100))),
        on_progress,
        stop,
    )
    .await
}

async fn run_inner(
    mut config: RunConfig,
    every: Option<Duration>,
    mut on_progress: impl FnMut(&Progress),
    stop: impl Future<Output = ()>,
) -> Result<Report, RunError> {
    validate(&config)?;
    let transport = Transport::of_url(&config.url)?;
    let mut endpoints = None;
    if transport == Transport::Quic {
        let pin = pin_for(&config).await?;
        config.connect.cert_sha256 = Some(pin.to_hex());
        let count = config.bots.div_ceil(BOTS_PER_ENDPOINT);
        let target = QuicUrl::parse(&config.url)?;
        endpoints = Some(QuicEndpoints::for_server(&target, count, pin).await?);
    }

    let config = Arc::new(config);
    let shared = Arc::new(Shared::new(config.clone()));
    let groups: Vec<Arc<Group>> = match &config.room {
        Some(code) => vec![Arc::new(Group::joining(config.bots, code.clone()))],
        None => (0..config.bots.div_ceil(usize::from(config.room_size)))
            .map(|group| {
                let first = group * usize::from(config.room_size);
                Arc::new(Group::new(
                    seat_of(first, config.bots, config.room_size.into()).group_size,
                ))
            })
            .collect(),
    };
    let lag = tokio::spawn(monitor::watch_schedule(shared.clone()));
    let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let start = Instant::now();
    let deadline = start + config.duration;
    // Halfway through the measured window: every room is playing by then.
    let warmup = config.warmup.min(config.duration);
    let chaos_at = start + warmup + (config.duration - warmup) / 2;

    let mut bots = JoinSet::new();
    for index in 0..config.bots {
        let group = match config.room {
            Some(_) => 0,
            None => seat_of(index, config.bots, config.room_size.into()).group,
        };
        let bot = bot::Bot {
            index,
            start_at: start + ramp_offset(index, config.ramp),
            deadline,
            group: groups[group].clone(),
            shared: shared.clone(),
            permits: permits.clone(),
            endpoints: endpoints.clone(),
            probe: is_probe(index, config.probe_share),
            chaos_at: is_probe(index, config.chaos_drop).then_some(chaos_at),
        };
        bots.spawn(bot.play());
    }

    let mut progress = every.map(|every| {
        let mut interval = tokio::time::interval_at(start + every, every);
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        interval
    });
    let mut timeline = monitor::Timeline::new(start);
    let mut stop = std::pin::pin!(stop);
    let mut stopped = false;
    let mut cut_off = std::pin::pin!(tokio::time::sleep_until(deadline + STOP_GRACE));
    loop {
        tokio::select! {
            done = bots.join_next() => match done {
                Some(Ok(())) => {}
                Some(Err(err)) if err.is_cancelled() => {}
                Some(Err(err)) => {
                    tracing::error!(%err, "a bot task failed");
                    shared.record_error("client: bot task failed".to_owned());
                }
                None => break,
            },
            _ = tick(&mut progress) => on_progress(&shared.progress(start.elapsed())),
            _ = timeline.tick() => timeline.sample(&shared),
            () = &mut stop, if !stopped => {
                // Bots end as at the deadline, adding what they counted;
                // any still busy after a grace is cut off.
                stopped = true;
                shared.stop.send_replace(true);
                cut_off.as_mut().reset(Instant::now() + STOP_GRACE);
            }
            () = &mut cut_off, if stopped => bots.abort_all(),
        }
    }
    lag.abort();
    let mut report = shared.report(transport, start.elapsed());
    report.timeline = timeline.into_points();
    Ok(report)
}

/// How long bots of a run stopped early have to finish before they are
/// cut off.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// The next tick of an interval, or never when there is none.
async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(interval) => _ = interval.tick().await,
        None => std::future::pending().await,
    }
}

fn validate(config: &RunConfig) -> Result<(), RunError> {
    if config.room_size == 0 {
        return Err(RunError::Config("room size must be at least 1"));
    }
    if !(0.0..=1.0).contains(&config.accuracy) {
        return Err(RunError::Config("accuracy must be between 0 and 1"));
    }
    if config.questions == 0 || config.question_secs == 0 || config.reveal_secs == 0 {
        return Err(RunError::Config(
            "questions, question and reveal seconds must be at least 1",
        ));
    }
    if config.input_hz == 0 {
        return Err(RunError::Config("input rate must be at least 1 per second"));
    }
    if !(0.0..=1.0).contains(&config.probe_share) {
        return Err(RunError::Config("the probe share must be between 0 and 1"));
    }
    if config.warmup >= config.duration {
        return Err(RunError::Config("the warm-up must end before the run does"));
    }
    Ok(())
}

/// The certificate pin: given, or fetched once for all bots.
async fn pin_for(config: &RunConfig) -> Result<CertHash, ConnectError> {
    if let Some(hex) = &config.connect.cert_sha256 {
        return Ok(CertHash::parse(hex)?);
    }
    let target = QuicUrl::parse(&config.url)?;
    Ok(fetch_cert_hash(&target.host, config.connect.http_port).await?)
}

/// Whether bot `index` is a probe when `share` of the bots are: probes are
/// spread evenly, so that with rooms of ten and a share of 0.1 every room
/// holds one.
fn is_probe(index: usize, share: f64) -> bool {
    let before = (index as f64 * share).floor();
    let after = ((index + 1) as f64 * share).floor();
    after > before
}

/// When bot `index` starts, relative to the run's start.
fn ramp_offset(index: usize, per_second: u32) -> Duration {
    if per_second == 0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(index as f64 / f64::from(per_second))
}

/// The bots of one room.
struct Group {
    /// Bots dealt into it.
    size: usize,
    /// Set by the bot that creates the room.
    creator_claimed: AtomicBool,
    /// The room's code, once created.
    code: watch::Sender<Option<RoomCode>>,
}

impl Group {
    fn new(size: usize) -> Self {
        Self {
            size,
            creator_claimed: AtomicBool::new(false),
            code: watch::Sender::new(None),
        }
    }

    /// A group of `size` bots joining a room someone else opened: nobody
    /// creates it, and nobody hosts.
    fn joining(size: usize, code: RoomCode) -> Self {
        Self {
            size,
            creator_claimed: AtomicBool::new(true),
            code: watch::Sender::new(Some(code)),
        }
    }

    /// Whether the caller is the first to ask, and so creates the room.
    fn claim_creator(&self) -> bool {
        !self.creator_claimed.swap(true, Ordering::AcqRel)
    }
}

/// What all bots of a run share.
struct Shared {
    config: Arc<RunConfig>,
    /// When measuring begins: the end of the warm-up.
    measure_from: Instant,
    pack: Pack,
    counts: Counts,
    timings: Timings,
    /// (room, match number) of every match seen to end, so that a match
    /// counts once however many bots saw it.
    matches: Mutex<HashSet<(RoomCode, u32)>>,
    error_kinds: Mutex<BTreeMap<String, u64>>,
    /// Set when the run is stopped early: bots end as at the deadline.
    stop: tokio::sync::watch::Sender<bool>,
}

#[derive(Default)]
struct Counts {
    connected: AtomicU64,
    failed: AtomicU64,
    disconnects: AtomicU64,
    errors: AtomicU64,
    answers: AtomicU64,
    answers_accepted: AtomicU64,
    answers_correct: AtomicU64,
    inputs: AtomicU64,
    snapshots: AtomicU64,
    /// Delta snapshots whose baseline the bot did not hold.
    snapshots_unusable: AtomicU64,
    /// Snapshots that had a previous one from the same bot to follow.
    snapshot_intervals: AtomicU64,
    /// Of those, the ones that came late.
    snapshots_late: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    /// Messages received and inputs sent, during the warm-up too.
    messages: AtomicU64,
    inputs_all: AtomicU64,
    /// Bots whose session ended at the deadline.
    finished: AtomicU64,
    resumed: AtomicU64,
    events_lost: AtomicU64,
    events_duplicated: AtomicU64,
    rooms: AtomicU64,
    probes: AtomicU64,
    /// Bots that played Asteroids and were measured, and the fewest
    /// snapshots one of them got in the window.
    pilots: AtomicU64,
    fewest_snapshots: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Shared {
    fn new(config: Arc<RunConfig>) -> Self {
        Self {
            measure_from: Instant::now() + config.warmup,
            config,
            pack: Pack::built_in(),
            counts: Counts {
                fewest_snapshots: AtomicU64::new(u64::MAX),
                ..Counts::default()
            },
            timings: Timings::new(),
            matches: Mutex::new(HashSet::new()),
            error_kinds: Mutex::new(BTreeMap::new()),
            stop: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Completes once the run is stopped early.
    async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
        let _ = stop.wait_for(|stopped| *stopped).await;
    }

    /// Whether `now` is in the measurement window.
    fn measuring(&self, now: Instant) -> bool {
        now >= self.measure_from
    }

    /// A pilot that got `snapshots` in the window is done.
    fn pilot_done(&self, snapshots: u64) {
        bump(&self.counts.pilots);
        self.counts
            .fewest_snapshots
            .fetch_min(snapshots, Ordering::Relaxed);
    }

    fn record_error(&self, kind: String) {
        bump(&self.counts.errors);
        *self
            .error_kinds
            .lock()
            .expect("no panics while counting")
            .entry(kind)
            .or_default() += 1;
    }

    fn match_over(&self, room: RoomCode, number: u32) {
        self.matches
            .lock()
            .expect("no panics while counting")
            .insert((room, number));
    }

    fn games_completed(&self) -> u64 {
        self.matches.lock().expect("no panics while counting").len() as u64
    }

    fn progress(&self, elapsed: Duration) -> Progress {
        let c = &self.counts;
        Progress {
            elapsed,
            connected: read(&c.connected),
            failed: read(&c.failed),
            disconnects: read(&c.disconnects),
            errors: read(&c.errors),
            games_completed: self.games_completed(),
            answers: read(&c.answers),
            inputs: read(&c.inputs),
            snapshots: read(&c.snapshots),
            rooms: read(&c.rooms),
            messages: read(&c.messages),
            recent_p99_ms: self.timings.take_recent_p99_ms(),
        }
    }

    fn report(&self, transport: Transport, elapsed: Duration) -> Report {
        let c = &self.counts;
        let connected = read(&c.connected);
        let duration_s = elapsed.as_secs_f64();
        let warmup_s = self.config.warmup.as_secs_f64().min(duration_s);
        let window_s = duration_s - warmup_s;
        let per_s = |count: u64| {
            if window_s == 0.0 {
                0.0
            } else {
                count as f64 / window_s
            }
        };
        let per_bot_per_s = |count: u64| {
            if connected == 0 {
                0.0
            } else {
                per_s(count) / connected as f64
            }
        };
        let (intervals, late) = (read(&c.snapshot_intervals), read(&c.snapshots_late));
        let fewest = match read(&c.pilots) {
            0 => 0,
            _ => read(&c.fewest_snapshots),
        };
        let summary = |histogram: &Mutex<Histogram<u64>>| {
            DurationSummary::from_micros(&histogram.lock().expect("no panics while counting"))
        };
        let (bytes_in, bytes_out) = (read(&c.bytes_in), read(&c.bytes_out));
        let snapshots = read(&c.snapshots);
        Report {
            transport,
            json: transport == Transport::WebSocket && self.config.connect.json,
            game: self.config.game,
            bots: self.config.bots as u64,
            connected,
            failed: read(&c.failed),
            disconnects: read(&c.disconnects),
            resumed: read(&c.resumed),
            events_lost: read(&c.events_lost),
            events_duplicated: read(&c.events_duplicated),
            errors: read(&c.errors),
            error_kinds: self
                .error_kinds
                .lock()
                .expect("no panics while counting")
                .clone(),
            games_completed: self.games_completed(),
            answers: read(&c.answers),
            answers_accepted: read(&c.answers_accepted),
            answers_correct: read(&c.answers_correct),
            rtt_ms: summary(&self.timings.rtt),
            inputs: read(&c.inputs),
            input_to_ack_ms: summary(&self.timings.input_to_ack),
            snapshots,
            snapshots_unusable: read(&c.snapshots_unusable),
            snapshots_per_bot_per_s: per_bot_per_s(snapshots),
            snapshots_per_bot_per_s_min: per_s(fewest),
            snapshot_interval_ms: summary(&self.timings.snapshot_interval),
            snapshots_late: late,
            late_snapshots_pct: if intervals == 0 {
                0.0
            } else {
                late as f64 * 100.0 / intervals as f64
            },
            bytes_in,
            bytes_out,
            bytes_in_per_bot_per_s: per_bot_per_s(bytes_in),
            bytes_out_per_bot_per_s: per_bot_per_s(bytes_out),
            duration_s,
            warmup_s,
            window_s,
            probes: read(&c.probes),
            rooms: read(&c.rooms),
            schedule_lag_ms: summary(&self.timings.schedule_lag),
            input_to_ack_histogram: crate::report::buckets_of(
                &self
                    .timings
                    .input_to_ack
                    .lock()
                    .expect("no panics while counting"),
            ),
            timeline: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bots_fill_rooms_in_order_and_the_last_room_takes_the_rest() {
        let seats: Vec<Seat> = (0..25).map(|i| seat_of(i, 25, 10)).collect();
        assert!(seats[..10].iter().all(|s| *s
            == Seat {
                group: 0,
                group_size: 10
            }));
        assert!(seats[10..20].iter().all(|s| *s
            == Seat {
                group: 1,
                group_size: 10
            }));
        assert!(seats[20..].iter().all(|s| *s
            == Seat {
                group: 2,
                group_size: 5
            }));
    }

    #[test]
    fn exact_multiples_leave_no_partial_room() {
        assert_eq!(
            seat_of(39, 40, 10),
            Seat {
                group: 3,
                group_size: 10
            }
        );
        assert_eq!(
            seat_of(0, 1, 10),
            Seat {
                group: 0,
                group_size: 1
            }
        );
        assert_eq!(
            seat_of(3, 4, 1),
            Seat {
                group: 3,
                group_size: 1
            }
        );
    }

    #[test]
    fn only_the_first_claimant_creates_the_room() {
        let group = Group::new(3);
        assert!(group.claim_creator());
        assert!(!group.claim_creator());
        assert!(!group.claim_creator());
    }

    #[test]
    fn probes_are_spread_one_per_share() {
        let probes: Vec<usize> = (0..30).filter(|&i| is_probe(i, 0.1)).collect();
        assert_eq!(probes, vec![9, 19, 29], "one in every ten bots");
        assert!((0..50).all(|i| is_probe(i, 1.0)));
        assert!((0..50).all(|i| !is_probe(i, 0.0)));
        assert_eq!((0..1000).filter(|&i| is_probe(i, 0.25)).count(), 250);
    }

    #[test]
    fn ramp_spreads_starts_evenly() {
        assert_eq!(ramp_offset(7, 0), Duration::ZERO);
        assert_eq!(ramp_offset(0, 10), Duration::ZERO);
        assert_eq!(ramp_offset(25, 10), Duration::from_millis(2500));
    }

    #[test]
    fn out_of_range_settings_are_refused() {
        let refused = |config: RunConfig| matches!(validate(&config), Err(RunError::Config(_)));
        assert!(refused(RunConfig {
            room_size: 0,
            ..RunConfig::default()
        }));
        assert!(refused(RunConfig {
            accuracy: 1.5,
            ..RunConfig::default()
        }));
        assert!(refused(RunConfig {
            accuracy: f64::NAN,
            ..RunConfig::default()
        }));
        assert!(refused(RunConfig {
            input_hz: 0,
            ..RunConfig::default()
        }));
        assert!(!refused(RunConfig::default()));
    }
}
