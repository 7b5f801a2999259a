//! The server's Prometheus metrics, rendered as text at `GET /metrics`.
//!
//! The `metrics` crate's recorder is global to the process, so it is
//! installed once, by the first [`Server`](crate::Server) started (or the
//! first call to [`get`]), and every server in the process renders that same
//! recorder at its `/metrics`: tests that run several servers in one
//! process see their counts summed. A background thread drains histogram
//! samples into their buckets every [`UPKEEP`], so memory stays bounded
//! between scrapes.
//!
//! Hot paths hold the handles in [`Metrics`] rather than looking metrics up
//! by name: recording is then one atomic operation.
//!
//! Labels stay low-cardinality: `transport` is `quic` or `ws`, `game` is
//! `trivia` or `asteroids`; nothing is labelled by room or session.
//!
//! | metric | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `stadium_ticks_total` | counter | game | room ticks run |
//! | `stadium_ticks_late_total` | counter | game | ticks that started more than half a period after they were due |
//! | `stadium_catch_up_ticks_total` | counter | game | ticks run back to back to catch up with the schedule |
//! | `stadium_ticks_skipped_total` | counter | game | ticks never run because a room fell more than the catch-up limit behind |
//! | `stadium_tick_duration_seconds` | histogram | game | time one room's tick took, simulation and delivery |
//! | `stadium_tick_interval_seconds` | histogram | game | time between the starts of a room's consecutive ticks |
//! | `stadium_rooms` | gauge | game | rooms open |
//! | `stadium_sessions` | gauge | transport | greeted sessions connected |
//! | `stadium_bytes_sent_total` | counter | transport | encoded protocol messages sent: payloads only, without WebSocket, QUIC, TLS or length-prefix overhead |
//! | `stadium_bytes_received_total` | counter | transport | encoded protocol messages received, counted the same way (the hello included) |
//! | `stadium_snapshots_dropped_total` | counter | | snapshots replaced by a newer one before a slow connection could write them |
//! | `stadium_inputs_coalesced_total` | counter | | inputs replaced by a newer one from the same player before a tick applied them |
//! | `stadium_outbound_queue_full_total` | counter | | reliable messages refused because a session's queue was full (the session is then disconnected) |
//! | `stadium_spectator_snapshot_encodes_total` | counter | | arena snapshots encoded for spectators: one per room, tick and wire format in use, however many watch |

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use stadium_shared::GameKind;

/// How often histogram samples are folded into their buckets.
pub const UPKEEP: Duration = Duration::from_secs(2);

/// Bucket bounds for tick durations: ticks cost microseconds to
/// milliseconds, and one over a period (33 ms at 30 Hz) is an overrun.
const TICK_DURATION_BUCKETS: &[f64] = &[
    0.000_010, 0.000_025, 0.000_050, 0.000_100, 0.000_250, 0.000_500, 0.001, 0.002_5, 0.005, 0.010,
    0.025, 0.050, 0.100,
];

/// Bucket bounds for tick intervals: dense around the 30 Hz period
/// (33.3 ms) and its 1.5-period limit (50 ms), and around 10 Hz (100 ms).
const TICK_INTERVAL_BUCKETS: &[f64] = &[
    0.005, 0.010, 0.020, 0.030, 0.032, 0.033, 0.034, 0.035, 0.040, 0.045, 0.050, 0.067, 0.090,
    0.099, 0.100, 0.101, 0.110, 0.150, 0.200, 0.500, 1.0,
];

/// The transports, as the `transport` label names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// QUIC stream and datagrams.
    Quic,
    /// WebSocket, either subprotocol.
    Ws,
}

impl Transport {
    fn label(self) -> &'static str {
        match self {
            Transport::Quic => "quic",
            Transport::Ws => "ws",
        }
    }
}

/// Handles for the metrics one transport records.
#[derive(Debug, Clone)]
pub struct TransportMetrics {
    /// `stadium_sessions{transport}`.
    pub sessions: Gauge,
    /// `stadium_bytes_sent_total{transport}`.
    pub bytes_sent: Counter,
    /// `stadium_bytes_received_total{transport}`.
    pub bytes_received: Counter,
}

/// Handles for the metrics one game's rooms record.
#[derive(Debug, Clone)]
pub struct TickMetrics {
    /// `stadium_ticks_total{game}`.
    pub ticks: Counter,
    /// `stadium_ticks_late_total{game}`.
    pub late: Counter,
    /// `stadium_catch_up_ticks_total{game}`.
    pub catch_up: Counter,
    /// `stadium_ticks_skipped_total{game}`.
    pub skipped: Counter,
    /// `stadium_tick_duration_seconds{game}`.
    pub duration: Histogram,
    /// `stadium_tick_interval_seconds{game}`.
    pub interval: Histogram,
    /// `stadium_rooms{game}`.
    pub rooms: Gauge,
}

/// Every metric handle the server records through.
#[derive(Debug)]
pub struct Metrics {
    handle: PrometheusHandle,
    quic: TransportMetrics,
    ws: TransportMetrics,
    trivia: TickMetrics,
    asteroids: TickMetrics,
    /// `stadium_snapshots_dropped_total`.
    pub snapshots_dropped: Counter,
    /// `stadium_inputs_coalesced_total`.
    pub inputs_coalesced: Counter,
    /// `stadium_outbound_queue_full_total`.
    pub outbound_queue_full: Counter,
    /// `stadium_spectator_snapshot_encodes_total`.
    pub spectator_snapshot_encodes: Counter,
    /// `stadium_datagrams_dropped_total`.
    pub datagrams_dropped: Counter,
    /// `stadium_connections_refused_total`.
    pub connections_refused: Counter,
}

impl Metrics {
    /// The metrics of `transport`.
    pub fn transport(&self, transport: Transport) -> &TransportMetrics {
        match transport {
            Transport::Quic => &self.quic,
            Transport::Ws => &self.ws,
        }
    }

    /// The tick metrics of `game`'s rooms.
    pub fn ticks(&self, game: GameKind) -> &TickMetrics {
        match game {
            GameKind::Trivia => &self.trivia,
            GameKind::Asteroids => &self.asteroids,
        }
    }

    /// Everything recorded so far, in the Prometheus text format.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

/// The process's metrics, installing the recorder on first use.
pub fn get() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(install)
}

fn install() -> Metrics {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("stadium_tick_duration_seconds".into()),
            TICK_DURATION_BUCKETS,
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("stadium_tick_interval_seconds".into()),
                TICK_INTERVAL_BUCKETS,
            )
        })
        .expect("the bucket lists are not empty");
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    let metrics = match metrics::set_global_recorder(recorder) {
        Ok(()) => register(handle),
        // Another recorder owns the process (an embedding application's):
        // record into ours all the same, so /metrics still renders.
        Err(metrics::SetRecorderError(recorder)) => {
            tracing::warn!(
                "a metrics recorder is already installed; /metrics shows only Stadium's"
            );
            metrics::with_local_recorder(&recorder, || register(handle))
        }
    };
    let upkeep = metrics.handle.clone();
    std::thread::Builder::new()
        .name("stadium-metrics".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP);
                upkeep.run_upkeep();
            }
        })
        .expect("the OS can start the metrics upkeep thread");
    metrics
}

/// Describes and registers every metric with the current recorder.
fn register(handle: PrometheusHandle) -> Metrics {
    describe();
    let metrics = Metrics {
        handle,
        quic: transport_metrics(Transport::Quic),
        ws: transport_metrics(Transport::Ws),
        trivia: tick_metrics(GameKind::Trivia),
        asteroids: tick_metrics(GameKind::Asteroids),
        snapshots_dropped: metrics::counter!("stadium_snapshots_dropped_total"),
        inputs_coalesced: metrics::counter!("stadium_inputs_coalesced_total"),
        outbound_queue_full: metrics::counter!("stadium_outbound_queue_full_total"),
        spectator_snapshot_encodes: metrics::counter!("stadium_spectator_snapshot_encodes_total"),
        datagrams_dropped: metrics::counter!("stadium_datagrams_dropped_total"),
        connections_refused: metrics::counter!("stadium_connections_refused_total"),
    };
    // Publishes the descriptions now rather than at the first upkeep.
    metrics.handle.run_upkeep();
    metrics
}

fn transport_metrics(transport: Transport) -> TransportMetrics {
    let label = transport.label();
    TransportMetrics {
        sessions: metrics::gauge!("stadium_sessions", "transport" => label),
        bytes_sent: metrics::counter!("stadium_bytes_sent_total", "transport" => label),
        bytes_received: metrics::counter!("stadium_bytes_received_total", "transport" => label),
    }
}

fn tick_metrics(game: GameKind) -> TickMetrics {
    let game = game.name();
    TickMetrics {
        ticks: metrics::counter!("stadium_ticks_total", "game" => game),
        late: metrics::counter!("stadium_ticks_late_total", "game" => game),
        catch_up: metrics::counter!("stadium_catch_up_ticks_total", "game" => game),
        skipped: metrics::counter!("stadium_ticks_skipped_total", "game" => game),
        duration: metrics::histogram!("stadium_tick_duration_seconds", "game" => game),
        interval: metrics::histogram!("stadium_tick_interval_seconds", "game" => game),
        rooms: metrics::gauge!("stadium_rooms", "game" => game),
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!("stadium_ticks_total", "Room ticks run.");
    describe_counter!(
        "stadium_ticks_late_total",
        "Ticks that started more than half a period after they were due."
    );
    describe_counter!(
        "stadium_catch_up_ticks_total",
        "Ticks run back to back to catch up with a room's schedule."
    );
    describe_counter!(
        "stadium_ticks_skipped_total",
        "Ticks never run because a room fell too far behind."
    );
    describe_histogram!(
        "stadium_tick_duration_seconds",
        Unit::Seconds,
        "Time one room's tick took, simulation and delivery."
    );
    describe_histogram!(
        "stadium_tick_interval_seconds",
        Unit::Seconds,
        "Time between the starts of a room's consecutive ticks."
    );
    describe_gauge!("stadium_rooms", "Rooms open.");
    describe_gauge!("stadium_sessions", "Greeted sessions connected.");
    describe_counter!(
        "stadium_bytes_sent_total",
        Unit::Bytes,
        "Encoded protocol messages sent, without transport overhead."
    );
    describe_counter!(
        "stadium_bytes_received_total",
        Unit::Bytes,
        "Encoded protocol messages received, without transport overhead."
    );
    describe_counter!(
        "stadium_snapshots_dropped_total",
        "Snapshots replaced by a newer one before a connection wrote them."
    );
    describe_counter!(
        "stadium_inputs_coalesced_total",
        "Inputs replaced by a newer one before a tick applied them."
    );
    describe_counter!(
        "stadium_outbound_queue_full_total",
        "Reliable messages refused because a session's queue was full."
    );
    describe_counter!(
        "stadium_spectator_snapshot_encodes_total",
        "Arena snapshots encoded for spectators, once per room, tick and wire format."
    );
    describe_counter!(
        "stadium_datagrams_dropped_total",
        "UDP datagrams to the QUIC port that cannot be QUIC for this server, dropped."
    );
    describe_counter!(
        "stadium_connections_refused_total",
        "Connections refused because their address had as many open as allowed."
    );
}
