//! Durations bots measure, gathered into the run's histograms.
//!
//! A histogram to a minute at microsecond precision is about 140 kB, too
//! much to give each of thousands of bots one per measure. A bot keeps a
//! small batch of [`Samples`] instead and adds it to the run's histogram,
//! under its lock, when the batch is full and when the bot is done.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;

/// Samples a bot holds before adding them to the run's histogram.
const BATCH: usize = 64;

/// Microseconds up to a minute, to three significant figures.
pub(super) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant bounds are valid")
}

/// The run's histograms, one per measure.
pub(super) struct Timings {
    /// Ping to pong.
    pub rtt: Arc<Mutex<Histogram<u64>>>,
    /// An input sent to the first snapshot echoing it.
    pub input_to_ack: Arc<Mutex<Histogram<u64>>>,
    /// One snapshot received to the next, per bot.
    pub snapshot_interval: Arc<Mutex<Histogram<u64>>>,
    /// Input-to-ack since progress last read it.
    pub input_to_ack_recent: Arc<Mutex<Histogram<u64>>>,
    /// How late the run's watch timer fired.
    pub schedule_lag: Arc<Mutex<Histogram<u64>>>,
}

impl Timings {
    pub(super) fn new() -> Self {
        let shared = || Arc::new(Mutex::new(new_histogram()));
        Self {
            rtt: shared(),
            input_to_ack: shared(),
            snapshot_interval: shared(),
            input_to_ack_recent: shared(),
            schedule_lag: shared(),
        }
    }

    /// The 99th percentile of input-to-ack since the last call, in
    /// milliseconds; 0 when nothing was measured.
    pub(super) fn take_recent_p99_ms(&self) -> f64 {
        let mut recent = self
            .input_to_ack_recent
            .lock()
            .expect("no panics while counting");
        let p99 = if recent.is_empty() {
            0.0
        } else {
            recent.value_at_quantile(0.99) as f64 / 1000.0
        };
        recent.reset();
        p99
    }
}

/// One bot's measurements of one kind not yet in the run's histogram.
/// Dropping it adds what is left, so nothing measured is lost when a bot
/// ends.
pub(super) struct Samples {
    micros: Vec<u64>,
    into: Arc<Mutex<Histogram<u64>>>,
    /// A second histogram fed the same samples, read and reset by progress.
    recent: Option<Arc<Mutex<Histogram<u64>>>>,
}

impl Samples {
    /// Samples for `into`. The batch is allocated on the first sample, so
    /// that bots which never measure cost nothing.
    pub(super) fn new(into: &Arc<Mutex<Histogram<u64>>>) -> Self {
        Self {
            micros: Vec::new(),
            into: into.clone(),
            recent: None,
        }
    }

    /// Also feeds `recent`.
    pub(super) fn with_recent(mut self, recent: &Arc<Mutex<Histogram<u64>>>) -> Self {
        self.recent = Some(recent.clone());
        self
    }

    pub(super) fn record(&mut self, elapsed: Duration) {
        if self.micros.capacity() == 0 {
            self.micros.reserve_exact(BATCH);
        }
        self.micros
            .push(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
        if self.micros.len() == BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.micros.is_empty() {
            return;
        }
        // This runs in drop, where a second panic would abort; a histogram
        // poisoned by a panicking bot still holds valid counts.
        if let Some(recent) = &self.recent {
            let mut histogram = recent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for &micros in &self.micros {
                histogram.saturating_record(micros);
            }
        }
        let mut histogram = self
            .into
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for micros in self.micros.drain(..) {
            histogram.saturating_record(micros);
        }
    }
}

impl Drop for Samples {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_reach_the_histogram_in_batches_and_when_dropped() {
        let into: Arc<Mutex<Histogram<u64>>> = Arc::new(Mutex::new(new_histogram()));
        let mut samples = Samples::new(&into);
        for _ in 0..BATCH + 3 {
            samples.record(Duration::from_millis(2));
        }
        assert_eq!(into.lock().unwrap().len(), BATCH as u64);
        drop(samples);
        let histogram = into.lock().unwrap();
        assert_eq!(histogram.len(), BATCH as u64 + 3);
        assert!(histogram.equivalent(histogram.max(), 2000));
    }
}
