//! Watching the run as a whole: whether the bots' runtime keeps its
//! schedule, and a per-second timeline of connections and throughput.
//!
//! A bot process that cannot keep up delays every timer it runs, so its
//! inputs leave late and snapshots sit unread: what it then measures is
//! itself, not the server. [`watch_schedule`] measures that delay on a
//! timer of its own, so a report can say when the bots were the limit.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::{Shared, read};
use crate::report::TimelinePoint;

/// How often the schedule watcher wakes.
const WATCH_EVERY: Duration = Duration::from_millis(10);
/// How often the timeline takes a point.
const TIMELINE_EVERY: Duration = Duration::from_secs(1);

/// Records, for as long as it runs, how late a timer fires after its due
/// time into the run's schedule-lag histogram (in the window only).
pub(super) async fn watch_schedule(shared: Arc<Shared>) {
    let mut due = Instant::now() + WATCH_EVERY;
    loop {
        tokio::time::sleep_until(due).await;
        let now = Instant::now();
        if shared.measuring(now) {
            let lag = now.duration_since(due);
            shared
                .timings
                .schedule_lag
                .lock()
                .expect("no panics while counting")
                .saturating_record(u64::try_from(lag.as_micros()).unwrap_or(u64::MAX));
        }
        // A wake-up later than a whole period counts once, not again for
        // every period it missed.
        due = (due + WATCH_EVERY).max(now);
    }
}

/// The run's connections and throughput, one point a second.
pub(super) struct Timeline {
    start: Instant,
    interval: Interval,
    points: Vec<TimelinePoint>,
    last: Option<(Instant, u64, u64)>,
}

impl Timeline {
    pub(super) fn new(start: Instant) -> Self {
        let mut interval = tokio::time::interval_at(start + TIMELINE_EVERY, TIMELINE_EVERY);
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        Self {
            start,
            interval,
            points: Vec::new(),
            last: None,
        }
    }

    pub(super) async fn tick(&mut self) {
        self.interval.tick().await;
    }

    /// Takes a point: bots connected now, and messages received and
    /// inputs sent per second since the previous point.
    pub(super) fn sample(&mut self, shared: &Shared) {
        let now = Instant::now();
        let counts = &shared.counts;
        let (messages, inputs) = (read(&counts.messages), read(&counts.inputs_all));
        let (since, messages_before, inputs_before) = self.last.unwrap_or((self.start, 0, 0));
        let span = now.duration_since(since).as_secs_f64().max(1e-3);
        self.points.push(TimelinePoint {
            t_s: now.duration_since(self.start).as_secs_f64(),
            connected: read(&counts.connected)
                .saturating_sub(read(&counts.disconnects))
                .saturating_sub(read(&counts.finished)),
            messages_per_s: (messages - messages_before) as f64 / span,
            inputs_per_s: (inputs - inputs_before) as f64 / span,
        });
        self.last = Some((now, messages, inputs));
    }

    pub(super) fn into_points(self) -> Vec<TimelinePoint> {
        self.points
    }
}
