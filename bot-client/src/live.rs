//! The live progress bar: bots connected, rooms, messages per second, the
//! current p99 of input-to-ack and errors, redrawn in place on stdout.
//!
//! It draws only when stdout is a terminal, so that a run piped into a
//! file or another program prints its report and nothing else.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::run::{Progress, RunConfig};

/// Redraws per second at most.
const REFRESH_HZ: u8 = 4;

/// A progress bar over the bots of a run, hidden without a terminal.
#[derive(Debug)]
pub struct LiveBar {
    bar: ProgressBar,
    /// The previous progress, for rates.
    last: Mutex<Option<(Duration, u64)>>,
}

impl LiveBar {
    /// A bar for `config`'s bots, drawn on stdout when it is a terminal.
    pub fn for_stdout(config: &RunConfig) -> Self {
        let target = if std::io::stdout().is_terminal() {
            ProgressDrawTarget::stdout_with_hz(REFRESH_HZ)
        } else {
            ProgressDrawTarget::hidden()
        };
        Self::with_target(config.bots as u64, target)
    }

    /// A bar over `bots` drawn to `target`.
    pub fn with_target(bots: u64, target: ProgressDrawTarget) -> Self {
        let bar = ProgressBar::with_draw_target(Some(bots), target);
        bar.set_style(
            ProgressStyle::with_template(
                "[{elapsed_precise}] {bar:30} {pos}/{len} bots connected {msg}",
            )
            .expect("the template is valid"),
        );
        Self {
            bar,
            last: Mutex::new(None),
        }
    }

    /// Whether the bar draws anything.
    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    /// Shows `progress`.
    pub fn update(&self, progress: &Progress) {
        let connected = progress.connected.saturating_sub(progress.disconnects);
        self.bar.set_position(connected);
        self.bar.set_message(self.line(progress));
    }

    /// The text after the bar: rooms, messages per second since the last
    /// update, p99 and errors.
    pub fn line(&self, progress: &Progress) -> String {
        let mut last = self.last.lock().expect("no panics while drawing");
        let rate = match *last {
            Some((at, messages)) if progress.elapsed > at => {
                (progress.messages - messages) as f64 / (progress.elapsed - at).as_secs_f64()
            }
            _ => 0.0,
        };
        *last = Some((progress.elapsed, progress.messages));
        format!(
            "| {} rooms | {rate:.0} msg/s | p99 {:.1} ms | {} errors | {} failed",
            progress.rooms, progress.recent_p99_ms, progress.errors, progress.failed
        )
    }

    /// Clears the bar, so that the report follows on a clean line.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_rooms_rate_latency_and_errors() {
        let bar = LiveBar::with_target(100, ProgressDrawTarget::hidden());
        let mut progress = Progress {
            elapsed: Duration::from_secs(1),
            connected: 100,
            rooms: 10,
            messages: 1_000,
            recent_p99_ms: 34.56,
            errors: 2,
            ..Progress::default()
        };
        assert_eq!(
            bar.line(&progress),
            "| 10 rooms | 0 msg/s | p99 34.6 ms | 2 errors | 0 failed"
        );
        progress.elapsed = Duration::from_secs(3);
        progress.messages = 7_000;
        assert!(bar.line(&progress).contains("| 3000 msg/s |"));
        assert!(bar.is_hidden());
    }
}
