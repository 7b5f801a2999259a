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
    pub rtt_ms: RttSummary,
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
}

/// Round-trip times in milliseconds, measured to the microsecond.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RttSummary {
    /// Round trips measured.
    pub samples: u64,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Longest.
    pub max: f64,
}

impl RttSummary {
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
        let rows: [(&str, String); 9] = [
            (
                "connected",
                format!(
                    "{} of {} ({} failed)",
                    self.connected, self.bots, self.failed
                ),
            ),
            ("disconnects", self.disconnects.to_string()),
            ("errors", self.errors.to_string()),
            ("games completed", self.games_completed.to_string()),
            (
                "answers",
                format!(
                    "{} sent, {} accepted, {} correct",
                    self.answers, self.answers_accepted, self.answers_correct
                ),
            ),
            (
                "rtt",
                format!(
                    "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} pings)",
                    self.rtt_ms.p50, self.rtt_ms.p99, self.rtt_ms.max, self.rtt_ms.samples
                ),
            ),
            (
                "bytes in",
                bandwidth(self.bytes_in, self.bytes_in_per_bot_per_s),
            ),
            (
                "bytes out",
                bandwidth(self.bytes_out, self.bytes_out_per_bot_per_s),
            ),
            ("duration", format!("{:.1} s", self.duration_s)),
        ];
        for (name, value) in rows {
            writeln!(f, "  {name:<16} {value}")?;
        }
        for (kind, count) in &self.error_kinds {
            writeln!(f, "  {:<16} {count} x {kind}", "error")?;
        }
        Ok(())
    }
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
            errors: 1,
            error_kinds: BTreeMap::from([("4001 answer after the deadline".to_owned(), 1)]),
            games_completed: 4,
            answers: 120,
            answers_accepted: 119,
            answers_correct: 84,
            rtt_ms: RttSummary {
                samples: 1600,
                p50: 0.4,
                p99: 2.5,
                max: 7.0,
            },
            bytes_in: 1_000_000,
            bytes_out: 100_000,
            bytes_in_per_bot_per_s: 625.0,
            bytes_out_per_bot_per_s: 62.5,
            duration_s: 40.0,
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
            "errors",
            "games_completed",
            "answers",
            "answers_correct",
            "bytes_in_per_bot_per_s",
            "bytes_out_per_bot_per_s",
            "duration_s",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
        for field in ["p50", "p99", "max"] {
            assert!(json["rtt_ms"][field].is_f64(), "rtt_ms.{field}");
        }
        assert_eq!(json["transport"], "websocket");
        assert_eq!(json["game"], "trivia");
    }

    #[test]
    fn reports_read_back_from_json() {
        let report = sample();
        let text = serde_json::to_string(&report).unwrap();
        assert_eq!(serde_json::from_str::<Report>(&text).unwrap(), report);
    }

    #[test]
    fn rtt_is_reported_in_milliseconds_from_microseconds() {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for micros in [250, 500, 750, 10_000] {
            histogram.record(micros).unwrap();
        }
        let rtt = RttSummary::from_micros(&histogram);
        assert_eq!(rtt.samples, 4);
        assert!((rtt.p50 - 0.5).abs() < 0.01, "{rtt:?}");
        assert!((rtt.max - 10.0).abs() < 0.01, "{rtt:?}");
        assert_eq!(
            RttSummary::from_micros(&Histogram::new(3).unwrap()),
            RttSummary::default()
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
}
