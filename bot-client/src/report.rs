//! What a load-test run measured, as JSON for machines and a table for
//! people.

use std::collections::BTreeMap;
use std::fmt;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use stadium_shared::GameKind;

use crate::client::Transport;

/// The outcome of a run. Field names are part of the JSON report's format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// How the bots connected.
    pub transport: Transport,
    /// Whether WebSocket bots spoke JSON rather than postcard.
    pub json: bool,
    /// The game played.
    pub game: GameKind,
    /// Bots started.
    pub bots: u64,
    /// Bots that connected and were welcomed.
    pub connected: u64,
    /// Bots whose connection or hello failed.
    pub failed: u64,
    /// Connections that ended before the run did.
    pub disconnects: u64,
    /// Sessions taken back on a new connection after a chaos drop.
    #[serde(default)]
    pub resumed: u64,
    /// Room events missed: gaps in the event numbers a bot saw, and events
    /// a resume could no longer replay.
    #[serde(default)]
    pub events_lost: u64,
    /// Room events a bot saw twice.
    #[serde(default)]
    pub events_duplicated: u64,
    /// Error messages from the server plus protocol violations seen by bots.
    pub errors: u64,
    /// The errors by kind, such as `4001 answer after the deadline`.
    pub error_kinds: BTreeMap<String, u64>,
    /// Distinct matches (room and match number) that reached their end.
    pub games_completed: u64,
    /// Answers sent.
    pub answers: u64,
    /// Answers the server accepted.
    pub answers_accepted: u64,
    /// Answers the server's reveals marked right.
    pub answers_correct: u64,
    /// Ping to pong round trips.
    pub rtt_ms: DurationSummary,
    /// Asteroids inputs sent.
    pub inputs: u64,
    /// From sending an Asteroids input to the first snapshot echoing it
    /// (or a later input that replaced it).
    pub input_to_ack_ms: DurationSummary,
    /// Asteroids snapshots received.
    pub snapshots: u64,
    /// Delta snapshots whose baseline the bot no longer held (or never
    /// got), so that it could not rebuild or acknowledge them.
    pub snapshots_unusable: u64,
    /// `snapshots` per connected bot per second of the window.
    pub snapshots_per_bot_per_s: f64,
    /// The fewest snapshots per second of the window that one Asteroids
    /// bot got (a bot that left early counts with what it got).
    pub snapshots_per_bot_per_s_min: f64,
    /// Between consecutive snapshots received by one probe.
    pub snapshot_interval_ms: DurationSummary,
    /// Snapshots that came late: more than 1.5 tick periods after the
    /// same bot's previous snapshot, that is more than half a period after
    /// they were due (every bot counts, probe or not).
    pub snapshots_late: u64,
    /// `snapshots_late` as a percentage of the snapshots that followed
    /// another one to the same bot.
    pub late_snapshots_pct: f64,
    /// Bytes received by all bots (see [`ByteCounters`](crate::ByteCounters)).
    pub bytes_in: u64,
    /// Bytes sent by all bots.
    pub bytes_out: u64,
    /// `bytes_in` per connected bot per second of the run.
    pub bytes_in_per_bot_per_s: f64,
    /// `bytes_out` per connected bot per second of the run.
    pub bytes_out_per_bot_per_s: f64,
    /// How long the run lasted, in seconds.
    pub duration_s: f64,
    /// The warm-up at the start, not measured, in seconds.
    pub warmup_s: f64,
    /// The measurement window, `duration_s - warmup_s`: counts, rates and
    /// timings cover only this.
    pub window_s: f64,
    /// Connected bots that decoded everything and measured latencies.
    pub probes: u64,
    /// Rooms the bots opened.
    pub rooms: u64,
    /// How late the bot process's own timer fired: when this grows to
    /// milliseconds the bots, not the server, are the limit.
    pub schedule_lag_ms: DurationSummary,
    /// Input-to-ack counts by millisecond, for plotting.
    pub input_to_ack_histogram: Vec<Bucket>,
    /// Connections and throughput, one point a second.
    pub timeline: Vec<TimelinePoint>,
}

/// Durations in one millisecond of a histogram.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// The bucket's upper end, in milliseconds.
    pub le_ms: f64,
    /// Durations in `(le_ms - 1, le_ms]`.
    pub count: u64,
}

/// The buckets of a microsecond histogram, a millisecond wide, from the
/// first to the last that holds anything (at most [`MAX_BUCKETS`]; the
/// last bucket then holds the rest).
pub fn buckets_of(histogram: &Histogram<u64>) -> Vec<Bucket> {
    if histogram.is_empty() {
        return Vec::new();
    }
    let mut buckets: Vec<Bucket> = histogram
        .iter_linear(1000)
        .map(|step| Bucket {
            le_ms: (step.value_iterated_to() + 1) as f64 / 1000.0,
            count: step.count_since_last_iteration(),
        })
        .skip_while(|bucket| bucket.count == 0)
        .collect();
    if buckets.len() > MAX_BUCKETS {
        let rest: u64 = buckets[MAX_BUCKETS - 1..].iter().map(|b| b.count).sum();
        buckets.truncate(MAX_BUCKETS);
        buckets[MAX_BUCKETS - 1].count = rest;
    }
    buckets
}

/// The most buckets a report carries.
pub const MAX_BUCKETS: usize = 500;

/// One second of a run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Seconds since the run started.
    pub t_s: f64,
    /// Bots connected and playing.
    pub connected: u64,
    /// Messages all bots received per second.
    pub messages_per_s: f64,
    /// Inputs all bots sent per second.
    pub inputs_per_s: f64,
}

/// Durations in milliseconds, measured to the microsecond.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DurationSummary {
    /// Durations measured.
    pub samples: u64,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Longest.
    pub max: f64,
}

impl DurationSummary {
    /// Summarises a histogram of microseconds; all zero when it is empty.
    pub fn from_micros(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Self {
            samples: histogram.len(),
            p50: ms(histogram.value_at_quantile(0.5)),
            p99: ms(histogram.value_at_quantile(0.99)),
            max: ms(histogram.max()),
        }
    }
}

impl Report {
    /// Whether any bot got in; a run where none did has failed.
    pub fn any_connected(&self) -> bool {
        self.connected > 0
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let encoding = if self.transport == Transport::Quic || !self.json {
            "postcard"
        } else {
            "json"
        };
        writeln!(
            f,
            "stadium-bot: {} bots playing {} over {} ({encoding}) for {:.1} s",
            self.bots,
            self.game.name(),
            self.transport.name(),
            self.duration_s
        )?;
        let mut rows: Vec<(&str, String)> = vec![
            (
                "connected",
                format!(
                    "{} of {} ({} failed)",
                    self.connected, self.bots, self.failed
                ),
            ),
            ("disconnects", self.disconnects.to_string()),
            (
                "resumed",
                format!(
                    "{} ({} events lost, {} duplicated)",
                    self.resumed, self.events_lost, self.events_duplicated
                ),
            ),
            ("errors", self.errors.to_string()),
            ("games completed", self.games_completed.to_string()),
        ];
        match self.game {
            GameKind::Trivia => rows.push((
                "answers",
                format!(
                    "{} sent, {} accepted, {} correct",
                    self.answers, self.answers_accepted, self.answers_correct
                ),
            )),
            GameKind::Asteroids => rows.extend([
                ("inputs", format!("{} sent", self.inputs)),
                ("input to ack", timing(&self.input_to_ack_ms, "inputs")),
                (
                    "snapshots",
                    format!(
                        "{} received, {} unusable, {:.1} per bot per s",
                        self.snapshots, self.snapshots_unusable, self.snapshots_per_bot_per_s
                    ),
                ),
                ("snapshot gaps", timing(&self.snapshot_interval_ms, "gaps")),
                (
                    "late snapshots",
                    format!(
                        "{:.2}% ({}), fewest per bot {:.1} per s",
                        self.late_snapshots_pct,
                        self.snapshots_late,
                        self.snapshots_per_bot_per_s_min
                    ),
                ),
            ]),
        }
        rows.extend([
            ("rtt", timing(&self.rtt_ms, "pings")),
            (
                "bytes in",
                bandwidth(self.bytes_in, self.bytes_in_per_bot_per_s),
            ),
            (
                "bytes out",
                bandwidth(self.bytes_out, self.bytes_out_per_bot_per_s),
            ),
            ("probes", format!("{} of {}", self.probes, self.connected)),
            ("rooms", self.rooms.to_string()),
            ("schedule lag", timing(&self.schedule_lag_ms, "wake-ups")),
            (
                "duration",
                format!(
                    "{:.1} s ({:.1} s warm-up, {:.1} s measured)",
                    self.duration_s, self.warmup_s, self.window_s
                ),
            ),
        ]);
        for (name, value) in rows {
            writeln!(f, "  {name:<16} {value}")?;
        }
        for (kind, count) in &self.error_kinds {
            writeln!(f, "  {:<16} {count} x {kind}", "error")?;
        }
        Ok(())
    }
}

fn timing(summary: &DurationSummary, what: &str) -> String {
    if summary.samples == 0 {
        return format!("no samples (0 {what})");
    }
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} {what})",
        summary.p50, summary.p99, summary.max, summary.samples
    )
}

fn bandwidth(total: u64, per_bot_per_s: f64) -> String {
    format!("{total} total, {per_bot_per_s:.1} B/s per bot")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report {
            transport: Transport::WebSocket,
            json: true,
            game: GameKind::Trivia,
            bots: 40,
            connected: 40,
            failed: 0,
            disconnects: 0,
            resumed: 0,
            events_lost: 0,
            events_duplicated: 0,
            errors: 1,
            error_kinds: BTreeMap::from([("4001 answer after the deadline".to_owned(), 1)]),
            games_completed: 4,
            answers: 120,
            answers_accepted: 119,
            answers_correct: 84,
            rtt_ms: DurationSummary {
                samples: 1600,
                p50: 0.4,
                p99: 2.5,
                max: 7.0,
            },
            inputs: 0,
            input_to_ack_ms: DurationSummary::default(),
            snapshots: 0,
            snapshots_unusable: 0,
            snapshots_per_bot_per_s: 0.0,
            snapshot_interval_ms: DurationSummary::default(),
            bytes_in: 1_000_000,
            bytes_out: 100_000,
            bytes_in_per_bot_per_s: 625.0,
            bytes_out_per_bot_per_s: 62.5,
            duration_s: 40.0,
            warmup_s: 0.0,
            window_s: 40.0,
            probes: 40,
            rooms: 4,
            schedule_lag_ms: DurationSummary::default(),
            snapshots_per_bot_per_s_min: 0.0,
            snapshots_late: 0,
            late_snapshots_pct: 0.0,
            input_to_ack_histogram: Vec::new(),
            timeline: vec![TimelinePoint {
                t_s: 1.0,
                connected: 40,
                messages_per_s: 120.0,
                inputs_per_s: 0.0,
            }],
        }
    }

    fn asteroids_sample() -> Report {
        Report {
            transport: Transport::Quic,
            json: false,
            game: GameKind::Asteroids,
            error_kinds: BTreeMap::new(),
            errors: 0,
            answers: 0,
            answers_accepted: 0,
            answers_correct: 0,
            inputs: 16_000,
            input_to_ack_ms: DurationSummary {
                samples: 15_990,
                p50: 31.0,
                p99: 48.0,
                max: 60.0,
            },
            snapshots: 24_000,
            snapshots_unusable: 2,
            snapshots_per_bot_per_s: 30.0,
            snapshot_interval_ms: DurationSummary {
                samples: 23_960,
                p50: 33.3,
                p99: 36.0,
                max: 70.0,
            },
            snapshots_late: 240,
            late_snapshots_pct: 1.0,
            snapshots_per_bot_per_s_min: 29.5,
            input_to_ack_histogram: vec![
                Bucket {
                    le_ms: 31.0,
                    count: 15_000,
                },
                Bucket {
                    le_ms: 48.0,
                    count: 990,
                },
            ],
            ..sample()
        }
    }

    #[test]
    fn report_json_uses_the_documented_field_names() {
        let json = serde_json::to_value(sample()).unwrap();
        for field in [
            "transport",
            "game",
            "bots",
            "connected",
            "failed",
            "disconnects",
            "resumed",
            "events_lost",
            "events_duplicated",
            "errors",
            "games_completed",
            "answers",
            "answers_correct",
            "inputs",
            "snapshots",
            "snapshots_unusable",
            "snapshots_per_bot_per_s",
            "bytes_in_per_bot_per_s",
            "bytes_out_per_bot_per_s",
            "duration_s",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
        for summary in ["rtt_ms", "input_to_ack_ms", "snapshot_interval_ms"] {
            assert!(json[summary]["samples"].is_u64(), "{summary}.samples");
            for field in ["p50", "p99", "max"] {
                assert!(json[summary][field].is_f64(), "{summary}.{field}");
            }
        }
        assert_eq!(json["transport"], "websocket");
        assert_eq!(json["game"], "trivia");
    }

    #[test]
    fn arena_fields_of_the_json_report() {
        let json = serde_json::to_value(asteroids_sample()).unwrap();
        assert_eq!(json["late_snapshots_pct"], 1.0);
        assert_eq!(json["snapshots_late"], 240);
        assert_eq!(json["snapshots_per_bot_per_s_min"], 29.5);
        assert_eq!(json["snapshot_interval_ms"]["p99"], 36.0);
        assert_eq!(json["input_to_ack_histogram"][1]["le_ms"], 48.0);
        assert_eq!(json["input_to_ack_histogram"][1]["count"], 990);
        assert_eq!(json["timeline"][0]["connected"], 40);
        assert_eq!(json["window_s"], 40.0);
        assert!(json["schedule_lag_ms"]["p99"].is_f64());
        for field in ["probes", "rooms", "warmup_s"] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
    }

    #[test]
    fn histograms_become_millisecond_buckets_from_the_first_filled() {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for micros in [17_200, 17_900, 33_100, 33_400, 33_500] {
            histogram.record(micros).unwrap();
        }
        let buckets = buckets_of(&histogram);
        assert_eq!(
            buckets[0],
            Bucket {
                le_ms: 18.0,
                count: 2
            }
        );
        assert_eq!(
            buckets.last(),
            Some(&Bucket {
                le_ms: 34.0,
                count: 3
            })
        );
        assert_eq!(buckets.iter().map(|b| b.count).sum::<u64>(), 5);
        assert_eq!(buckets.len(), 17);
        assert!(buckets_of(&Histogram::new(3).unwrap()).is_empty());
    }

    #[test]
    fn reports_read_back_from_json() {
        for report in [sample(), asteroids_sample()] {
            let text = serde_json::to_string(&report).unwrap();
            assert_eq!(serde_json::from_str::<Report>(&text).unwrap(), report);
        }
    }

    #[test]
    fn durations_are_reported_in_milliseconds_from_microseconds() {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for micros in [250, 500, 750, 10_000] {
            histogram.record(micros).unwrap();
        }
        let rtt = DurationSummary::from_micros(&histogram);
        assert_eq!(rtt.samples, 4);
        assert!((rtt.p50 - 0.5).abs() < 0.01, "{rtt:?}");
        assert!((rtt.max - 10.0).abs() < 0.01, "{rtt:?}");
        assert_eq!(
            DurationSummary::from_micros(&Histogram::new(3).unwrap()),
            DurationSummary::default()
        );
    }

    #[test]
    fn summary_names_the_transport_and_the_errors() {
        let text = sample().to_string();
        assert!(text.contains("over websocket (json)"), "{text}");
        assert!(
            text.contains("1 x 4001 answer after the deadline"),
            "{text}"
        );
    }

    #[test]
    fn summary_shows_the_rows_of_the_game_played() {
        let trivia = sample().to_string();
        assert!(trivia.contains("119 accepted"), "{trivia}");
        assert!(!trivia.contains("snapshots"), "{trivia}");
        let asteroids = asteroids_sample().to_string();
        assert!(
            asteroids.contains("playing asteroids over quic"),
            "{asteroids}"
        );
        assert!(
            asteroids.contains("24000 received, 2 unusable, 30.0 per bot per s"),
            "{asteroids}"
        );
        assert!(
            asteroids.contains("p50 31.00 ms, p99 48.00 ms, max 60.00 ms (15990 inputs)"),
            "{asteroids}"
        );
        assert!(!asteroids.contains("answers"), "{asteroids}");
    }
}
