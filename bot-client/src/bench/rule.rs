//! The load benchmark's pass rule: what one step (a transport and a
//! number of clients) measured, and whether the server held it.
//!
//! A step passes when, over its measurement window, under 1% of ticks
//! started late, the 99th percentile of the interval between ticks is
//! under 1.5 tick periods, every client connected, none dropped, and
//! every client got at least 29 snapshots a second. Server-side failures
//! (late ticks, tick intervals) fail the step whatever the bots did.
//! Otherwise, when the bot process was itself saturated (at least 95% of
//! its core, or its timers firing more than half a tick period late at
//! the 99th percentile, so that it handles a tick's snapshots after the
//! next are due) the step is inconclusive: what the bots saw may be their
//! own delay.

use serde::{Deserialize, Serialize};

use crate::client::Transport;

/// Late ticks a passing step may have, in percent.
pub const MAX_LATE_TICKS_PCT: f64 = 1.0;
/// The tick-interval p99 a passing step stays under, in periods.
pub const MAX_INTERVAL_P99_PERIODS: f64 = 1.5;
/// Snapshots per second every client gets in a passing step.
pub const MIN_SNAPSHOTS_PER_S: f64 = 29.0;
/// The bots' CPU share, of one core, from which they count as saturated.
pub const MAX_BOT_CPU: f64 = 0.95;
/// The bots' schedule lag p99 past which they cannot keep their timers,
/// in tick periods.
pub const MAX_BOT_LAG_PERIODS: f64 = 0.5;

/// What one step measured over its window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// How the bots connected.
    pub transport: Transport,
    /// Clients asked for.
    pub clients: u64,
    /// Clients that connected, and that dropped before the end.
    pub connected: u64,
    pub disconnects: u64,
    /// The room tick rate.
    pub tick_hz: u16,
    /// Seconds measured.
    pub window_s: f64,
    /// The server's CPU, as a share of one core.
    pub server_cpu: f64,
    /// The server's resident memory before any client, and at the end of
    /// the window, in bytes.
    pub base_rss_bytes: u64,
    pub rss_bytes: u64,
    /// Ticks run, and started late, in the window; `None` without metrics.
    pub ticks: Option<u64>,
    pub ticks_late: Option<u64>,
    /// The 99th percentile of the interval between ticks, in seconds.
    pub tick_interval_p99_s: Option<f64>,
    /// Snapshots per client per second: the mean and the fewest one
    /// client got.
    pub snapshots_per_client_per_s: f64,
    pub snapshots_per_client_per_s_min: f64,
    /// Input to ack, in milliseconds.
    pub input_to_ack_p50_ms: f64,
    pub input_to_ack_p99_ms: f64,
    /// Protocol bytes each client received per second.
    pub downlink_bytes_per_client_per_s: f64,
    /// The bot process's CPU, as a share of one core, and its schedule
    /// lag p99 in milliseconds.
    pub bot_cpu: f64,
    pub bot_lag_p99_ms: f64,
    /// The bot process's resident memory at the end of the window.
    pub bot_rss_bytes: u64,
}

/// A step's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "verdict", content = "reasons")]
pub enum Verdict {
    /// The server held the step.
    Pass,
    /// The server did not hold it, for these reasons.
    Fail(Vec<String>),
    /// The bots were the limit, for these reasons; nothing is said about
    /// the server.
    Inconclusive(Vec<String>),
}

impl Verdict {
    /// The verdict's one word.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail(_) => "FAIL",
            Verdict::Inconclusive(_) => "inconclusive",
        }
    }
}

impl Step {
    /// Late ticks as a percentage of ticks run.
    pub fn late_ticks_pct(&self) -> Option<f64> {
        match (self.ticks, self.ticks_late) {
            (Some(ticks), Some(late)) if ticks > 0 => Some(late as f64 * 100.0 / ticks as f64),
            _ => None,
        }
    }

    /// The tick-interval p99 in tick periods.
    pub fn tick_interval_p99_periods(&self) -> Option<f64> {
        self.tick_interval_p99_s
            .map(|p99| p99 * f64::from(self.tick_hz))
    }

    /// Percent of a core the server spends per 100 clients.
    pub fn cpu_pct_per_100_clients(&self) -> f64 {
        if self.clients == 0 {
            return 0.0;
        }
        self.server_cpu * 100.0 * 100.0 / self.clients as f64
    }

    /// Server memory per client: what the clients added to the base,
    /// divided among them, in bytes.
    pub fn bytes_per_client(&self) -> f64 {
        if self.clients == 0 {
            return 0.0;
        }
        self.rss_bytes.saturating_sub(self.base_rss_bytes) as f64 / self.clients as f64
    }

    /// Judges the step by the rule in this module's documentation.
    pub fn verdict(&self) -> Verdict {
        let mut server = Vec::new();
        match self.late_ticks_pct() {
            None => server.push("no tick counts from /metrics".to_owned()),
            Some(pct) if pct >= MAX_LATE_TICKS_PCT => {
                server.push(format!("{pct:.2}% of ticks late"));
            }
            Some(_) => {}
        }
        match self.tick_interval_p99_periods() {
            None => server.push("no tick intervals from /metrics".to_owned()),
            Some(periods) if periods >= MAX_INTERVAL_P99_PERIODS => {
                server.push(format!("tick interval p99 {periods:.2} periods"));
            }
            Some(_) => {}
        }
        if !server.is_empty() {
            return Verdict::Fail(server);
        }
        let mut bots = Vec::new();
        if self.bot_cpu >= MAX_BOT_CPU {
            bots.push(format!(
                "bots used {:.0}% of their core",
                self.bot_cpu * 100.0
            ));
        }
        let lag_limit_ms = MAX_BOT_LAG_PERIODS * 1000.0 / f64::from(self.tick_hz.max(1));
        if self.bot_lag_p99_ms > lag_limit_ms {
            bots.push(format!(
                "bot timers {:.1} ms late at p99",
                self.bot_lag_p99_ms
            ));
        }
        if !bots.is_empty() {
            return Verdict::Inconclusive(bots);
        }
        let mut clients = Vec::new();
        if self.connected < self.clients {
            clients.push(format!(
                "{} of {} clients connected",
                self.connected, self.clients
            ));
        }
        if self.disconnects > 0 {
            clients.push(format!("{} clients dropped", self.disconnects));
        }
        if self.snapshots_per_client_per_s_min < MIN_SNAPSHOTS_PER_S {
            clients.push(format!(
                "a client got {:.1} snapshots/s",
                self.snapshots_per_client_per_s_min
            ));
        }
        if clients.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail(clients)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A step that holds: WebSocket, 500 clients, 0.05% late ticks, a
    /// p99 of 35.8 ms between ticks, every client at 29.9 snapshots/s or
    /// more, bots at 42% of their core.
    fn held() -> Step {
        Step {
            transport: Transport::WebSocket,
            clients: 500,
            connected: 500,
            disconnects: 0,
            tick_hz: 30,
            window_s: 20.0,
            server_cpu: 0.061,
            base_rss_bytes: 9_000_000,
            rss_bytes: 14_000_000,
            ticks: Some(30_000),
            ticks_late: Some(15),
            tick_interval_p99_s: Some(0.0358),
            snapshots_per_client_per_s: 30.0,
            snapshots_per_client_per_s_min: 29.9,
            input_to_ack_p50_ms: 19.8,
            input_to_ack_p99_ms: 36.0,
            downlink_bytes_per_client_per_s: 1700.0,
            bot_cpu: 0.42,
            bot_lag_p99_ms: 1.9,
            bot_rss_bytes: 40_000_000,
        }
    }

    #[test]
    fn a_step_on_time_for_every_client_passes() {
        let step = held();
        assert_eq!(step.verdict(), Verdict::Pass);
        assert!((step.late_ticks_pct().unwrap() - 0.05).abs() < 1e-9);
        assert!((step.cpu_pct_per_100_clients() - 1.22).abs() < 1e-9);
        assert_eq!(step.bytes_per_client(), 10_000.0);
    }

    #[test]
    fn late_ticks_or_long_intervals_fail_whatever_the_bots_did() {
        let late = Step {
            ticks_late: Some(300),
            bot_cpu: 0.99,
            ..held()
        };
        assert_eq!(
            late.verdict(),
            Verdict::Fail(vec!["1.00% of ticks late".to_owned()])
        );
        let slow = Step {
            tick_interval_p99_s: Some(0.051),
            ..held()
        };
        assert_eq!(
            slow.verdict(),
            Verdict::Fail(vec!["tick interval p99 1.53 periods".to_owned()])
        );
        let blind = Step {
            ticks: None,
            ticks_late: None,
            ..held()
        };
        assert!(matches!(blind.verdict(), Verdict::Fail(reasons) if reasons.len() == 1));
    }

    #[test]
    fn saturated_bots_make_a_step_inconclusive_not_a_pass() {
        let busy = Step {
            bot_cpu: 0.97,
            ..held()
        };
        assert_eq!(
            busy.verdict(),
            Verdict::Inconclusive(vec!["bots used 97% of their core".to_owned()])
        );
        let lagging = Step {
            bot_lag_p99_ms: 17.0,
            snapshots_per_client_per_s_min: 20.0,
            ..held()
        };
        assert_eq!(
            lagging.verdict(),
            Verdict::Inconclusive(vec!["bot timers 17.0 ms late at p99".to_owned()]),
            "half a period at 30 Hz is 16.7 ms"
        );
        let keeping_up = Step {
            bot_lag_p99_ms: 16.0,
            ..held()
        };
        assert_eq!(keeping_up.verdict(), Verdict::Pass);
    }

    #[test]
    fn a_starved_or_missing_client_fails_the_step() {
        let starved = Step {
            snapshots_per_client_per_s_min: 28.5,
            ..held()
        };
        assert_eq!(
            starved.verdict(),
            Verdict::Fail(vec!["a client got 28.5 snapshots/s".to_owned()])
        );
        let missing = Step {
            connected: 498,
            disconnects: 1,
            ..held()
        };
        assert_eq!(
            missing.verdict(),
            Verdict::Fail(vec![
                "498 of 500 clients connected".to_owned(),
                "1 clients dropped".to_owned()
            ])
        );
    }

    #[test]
    fn verdicts_serialize_with_their_reasons() {
        let json = serde_json::to_value(Verdict::Fail(vec!["x".to_owned()])).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"verdict": "fail", "reasons": ["x"]})
        );
        let json = serde_json::to_value(Verdict::Pass).unwrap();
        assert_eq!(json, serde_json::json!({"verdict": "pass"}));
    }
}
