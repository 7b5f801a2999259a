//! Reading the server's `/metrics` (the Prometheus text format): counter
//! totals and histogram quantiles over the difference of two scrapes.

use std::collections::BTreeMap;

/// One scrape: every sample's value by metric name and label set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scrape {
    samples: BTreeMap<String, Vec<(Labels, f64)>>,
}

/// A sample's labels, as `name="value"` pairs in the order written.
pub type Labels = Vec<(String, String)>;

impl Scrape {
    /// Parses the text format. Comments, blank lines and lines that are
    /// not `name{labels} value` are skipped.
    pub fn parse(text: &str) -> Self {
        let mut samples: BTreeMap<String, Vec<(Labels, f64)>> = BTreeMap::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some((name, labels, value)) = parse_line(line) {
                samples.entry(name).or_default().push((labels, value));
            }
        }
        Self { samples }
    }

    /// Whether the scrape has any sample of `name`.
    pub fn has(&self, name: &str) -> bool {
        self.samples.contains_key(name)
    }

    /// The sum of `name` over all its label sets (0 when absent).
    pub fn total(&self, name: &str) -> f64 {
        self.samples
            .get(name)
            .map_or(0.0, |samples| samples.iter().map(|(_, value)| value).sum())
    }

    /// The cumulative buckets of histogram `name`, summed over label sets
    /// other than `le`, by increasing upper bound.
    pub fn buckets(&self, name: &str) -> Vec<(f64, f64)> {
        let mut by_le: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
        for (labels, value) in self
            .samples
            .get(&format!("{name}_bucket"))
            .into_iter()
            .flatten()
        {
            let Some(le) = labels
                .iter()
                .find(|(key, _)| key == "le")
                .and_then(|(_, le)| parse_le(le))
            else {
                continue;
            };
            // f64 bits order like the numbers for the non-negative bounds
            // histograms have.
            let entry = by_le.entry(le.to_bits()).or_insert((le, 0.0));
            entry.1 += value;
        }
        by_le.into_values().collect()
    }
}

fn parse_le(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        _ => text.parse().ok(),
    }
}

fn parse_line(line: &str) -> Option<(String, Labels, f64)> {
    let (head, value) = line.rsplit_once(char::is_whitespace)?;
    let value: f64 = value.parse().ok()?;
    let head = head.trim();
    let (name, labels) = match head.split_once('{') {
        Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}')?)?),
        None => (head, Vec::new()),
    };
    Some((name.to_owned(), labels, value))
}

fn parse_labels(text: &str) -> Option<Labels> {
    let mut labels = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let end = after.find('"')?;
        labels.push((
            key.trim().trim_start_matches(',').trim().to_owned(),
            after[..end].to_owned(),
        ));
        rest = after[end + 1..].trim().trim_start_matches(',').trim();
    }
    Some(labels)
}

/// The `q` quantile (0 to 1) of the observations a histogram gained
/// between two scrapes, `before` and `after` (cumulative buckets as
/// [`Scrape::buckets`] gives them), interpolated linearly inside the
/// bucket it falls in, as Prometheus's `histogram_quantile` does. `None`
/// when nothing was observed; the highest finite bound when the quantile
/// falls in the `+Inf` bucket.
pub fn quantile_of_delta(before: &[(f64, f64)], after: &[(f64, f64)], q: f64) -> Option<f64> {
    let delta: Vec<(f64, f64)> = after
        .iter()
        .map(|&(le, count)| {
            let earlier = before
                .iter()
                .find(|(b, _)| *b == le)
                .map_or(0.0, |(_, count)| *count);
            (le, (count - earlier).max(0.0))
        })
        .collect();
    let total = delta.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for &(le, count) in &delta {
        if count >= rank {
            if le.is_infinite() {
                return Some(lower);
            }
            let inside = count - below;
            let share = if inside > 0.0 {
                (rank - below) / inside
            } else {
                1.0
            };
            return Some(lower + (le - lower) * share);
        }
        (lower, below) = (le, count);
    }
    Some(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = r#"# HELP stadium_ticks_total Room ticks run.
# TYPE stadium_ticks_total counter
stadium_ticks_total{game="trivia"} 0
stadium_ticks_total{game="asteroids"} 1000
stadium_ticks_late_total{game="asteroids"} 4
stadium_sessions{transport="quic"} 10
stadium_sessions{transport="ws"} 5
stadium_tick_interval_seconds_bucket{game="asteroids",le="0.03"} 100
stadium_tick_interval_seconds_bucket{game="asteroids",le="0.035"} 900
stadium_tick_interval_seconds_bucket{game="asteroids",le="0.05"} 1000
stadium_tick_interval_seconds_bucket{game="asteroids",le="+Inf"} 1000
stadium_tick_interval_seconds_bucket{game="trivia",le="0.03"} 0
stadium_tick_interval_seconds_bucket{game="trivia",le="0.035"} 0
stadium_tick_interval_seconds_bucket{game="trivia",le="0.05"} 0
stadium_tick_interval_seconds_bucket{game="trivia",le="+Inf"} 0
"#;

    const AFTER: &str = r#"stadium_ticks_total{game="trivia"} 0
stadium_ticks_total{game="asteroids"} 7000
stadium_ticks_late_total{game="asteroids"} 34
stadium_tick_interval_seconds_bucket{game="asteroids",le="0.03"} 100
stadium_tick_interval_seconds_bucket{game="asteroids",le="0.035"} 5900
stadium_tick_interval_seconds_bucket{game="asteroids",le="0.05"} 6980
stadium_tick_interval_seconds_bucket{game="asteroids",le="+Inf"} 7000
stadium_tick_interval_seconds_bucket{game="trivia",le="0.03"} 0
stadium_tick_interval_seconds_bucket{game="trivia",le="0.035"} 0
stadium_tick_interval_seconds_bucket{game="trivia",le="0.05"} 0
stadium_tick_interval_seconds_bucket{game="trivia",le="+Inf"} 0
"#;

    #[test]
    fn counters_sum_over_their_labels() {
        let before = Scrape::parse(BEFORE);
        assert_eq!(before.total("stadium_ticks_total"), 1000.0);
        assert_eq!(before.total("stadium_sessions"), 15.0);
        assert_eq!(before.total("stadium_rooms"), 0.0);
        assert!(before.has("stadium_ticks_late_total"));
        assert!(!before.has("stadium_rooms"));
    }

    #[test]
    fn histogram_buckets_merge_label_sets_by_bound() {
        let buckets = Scrape::parse(BEFORE).buckets("stadium_tick_interval_seconds");
        assert_eq!(
            buckets,
            vec![
                (0.03, 100.0),
                (0.035, 900.0),
                (0.05, 1000.0),
                (f64::INFINITY, 1000.0)
            ]
        );
    }

    #[test]
    fn quantiles_come_from_the_delta_of_two_scrapes() {
        let name = "stadium_tick_interval_seconds";
        let before = Scrape::parse(BEFORE).buckets(name);
        let after = Scrape::parse(AFTER).buckets(name);
        // 6000 new intervals: 5000 in (0.03, 0.035], 980 in (0.035, 0.05],
        // 20 above. The 99th percentile is the 5940th: 940 of 980 into
        // the third bucket.
        let p99 = quantile_of_delta(&before, &after, 0.99).unwrap();
        assert!(
            (p99 - (0.035 + 0.015 * 940.0 / 980.0)).abs() < 1e-9,
            "{p99}"
        );
        let p50 = quantile_of_delta(&before, &after, 0.5).unwrap();
        assert!(
            (p50 - (0.03 + 0.005 * 3000.0 / 5000.0)).abs() < 1e-9,
            "{p50}"
        );
        assert_eq!(quantile_of_delta(&after, &after, 0.99), None);
        let top = quantile_of_delta(&before, &after, 0.999).unwrap();
        assert_eq!(top, 0.05, "the +Inf bucket reports the highest bound");
    }
}
