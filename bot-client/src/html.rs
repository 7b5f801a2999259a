//! The one-page HTML report: the run's key figures, a histogram of
//! input-to-ack and a timeline of connected bots and throughput, drawn as
//! inline SVG so that the file stands alone (no scripts, no fetches).

use std::fmt::Write as _;

use plotters::prelude::*;

use crate::report::{DurationSummary, Report};

/// Chart size in pixels.
const CHART: (u32, u32) = (720, 300);

/// The page for `report`.
pub fn page(report: &Report) -> String {
    let mut page = String::new();
    let title = format!(
        "stadium-bot: {} bots, {} over {}",
        report.bots,
        report.game.name(),
        report.transport.name()
    );
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n"
    );
    page.push_str(&figures(report));
    page.push_str("<h2>Input to ack</h2>\n");
    page.push_str(&chart_or_note(latency_chart(report)));
    page.push_str("<h2>Timeline</h2>\n");
    page.push_str(&chart_or_note(connected_chart(report)));
    page.push_str(&chart_or_note(throughput_chart(report)));
    page.push_str("</body></html>\n");
    page
}

const STYLE: &str = "body{font-family:sans-serif;max-width:760px;margin:2em auto;color:#222}\
    table{border-collapse:collapse}td,th{padding:2px 12px;text-align:left;\
    border-bottom:1px solid #ddd}svg{display:block;margin:1em 0}";

fn figures(report: &Report) -> String {
    let timing = |s: &DurationSummary| {
        format!(
            "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
            s.p50, s.p99, s.max, s.samples
        )
    };
    let rows = [
        (
            "connected",
            format!(
                "{} of {} ({} failed, {} disconnects)",
                report.connected, report.bots, report.failed, report.disconnects
            ),
        ),
        ("errors", report.errors.to_string()),
        ("rooms", report.rooms.to_string()),
        ("input to ack", timing(&report.input_to_ack_ms)),
        ("snapshot interval", timing(&report.snapshot_interval_ms)),
        (
            "snapshots per bot",
            format!(
                "{:.1} per s (fewest {:.1} per s)",
                report.snapshots_per_bot_per_s, report.snapshots_per_bot_per_s_min
            ),
        ),
        (
            "late snapshots",
            format!(
                "{:.2}% ({})",
                report.late_snapshots_pct, report.snapshots_late
            ),
        ),
        ("rtt", timing(&report.rtt_ms)),
        (
            "downlink per bot",
            format!("{:.0} B/s", report.bytes_in_per_bot_per_s),
        ),
        (
            "uplink per bot",
            format!("{:.0} B/s", report.bytes_out_per_bot_per_s),
        ),
        ("bot schedule lag", timing(&report.schedule_lag_ms)),
        (
            "measured",
            format!(
                "{:.1} s after {:.1} s of warm-up",
                report.window_s, report.warmup_s
            ),
        ),
    ];
    let mut table = String::from("<table>\n");
    for (name, value) in rows {
        let _ = writeln!(table, "<tr><th>{name}</th><td>{value}</td></tr>");
    }
    for (kind, count) in &report.error_kinds {
        let _ = writeln!(
            table,
            "<tr><th>error</th><td>{count} &times; {}</td></tr>",
            html_escape::encode_text(kind)
        );
    }
    table.push_str("</table>\n");
    table
}

fn chart_or_note(chart: Result<String, String>) -> String {
    match chart {
        Ok(svg) => svg + "\n",
        Err(note) => format!("<p>{}</p>\n", html_escape::encode_text(&note)),
    }
}

/// Input-to-ack counts per millisecond, as bars.
fn latency_chart(report: &Report) -> Result<String, String> {
    let buckets = &report.input_to_ack_histogram;
    if buckets.is_empty() {
        return Err("No input was acknowledged.".to_owned());
    }
    let first = buckets[0].le_ms - 1.0;
    let last = buckets[buckets.len() - 1].le_ms;
    let tallest = buckets.iter().map(|b| b.count).max().unwrap_or(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, CHART).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(first..last, 0u64..tallest + tallest / 10 + 1)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc("input to ack (ms)")
            .y_desc("inputs")
            .draw()
            .map_err(chart_error)?;
        chart
            .draw_series(
                buckets.iter().map(|b| {
                    Rectangle::new([(b.le_ms - 1.0, 0), (b.le_ms, b.count)], BLUE.filled())
                }),
            )
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// Bots connected over the run.
fn connected_chart(report: &Report) -> Result<String, String> {
    let points: Vec<(f64, f64)> = report
        .timeline
        .iter()
        .map(|p| (p.t_s, p.connected as f64))
        .collect();
    line_chart(&points, "bots connected", report.bots as f64, &GREEN)
}

/// Messages received per second over the run.
fn throughput_chart(report: &Report) -> Result<String, String> {
    let points: Vec<(f64, f64)> = report
        .timeline
        .iter()
        .map(|p| (p.t_s, p.messages_per_s))
        .collect();
    let top = points.iter().map(|&(_, y)| y).fold(1.0, f64::max);
    line_chart(&points, "messages received per s", top, &RED)
}

fn line_chart(
    points: &[(f64, f64)],
    what: &str,
    top: f64,
    color: &RGBColor,
) -> Result<String, String> {
    let Some(&(end, _)) = points.last() else {
        return Err(format!(
            "No timeline of {what}: the run ended within a second."
        ));
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, CHART).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..end.max(1.0), 0.0..top.max(1.0) * 1.1)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc("seconds")
            .y_desc(what)
            .draw()
            .map_err(chart_error)?;
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

fn chart_error(err: impl std::fmt::Display) -> String {
    format!("The chart could not be drawn: {err}")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use stadium_shared::GameKind;

    use super::*;
    use crate::client::Transport;
    use crate::report::{Bucket, TimelinePoint};

    fn report() -> Report {
        let json = serde_json::json!({
            "transport": "quic", "json": false, "game": "asteroids", "bots": 20,
            "connected": 20, "failed": 0, "disconnects": 0, "errors": 1,
            "error_kinds": {"4003 <bad> & worse": 1}, "games_completed": 0,
            "answers": 0, "answers_accepted": 0, "answers_correct": 0,
            "rtt_ms": {"samples": 1, "p50": 1.0, "p99": 1.0, "max": 1.0},
            "inputs": 400, "input_to_ack_ms": {"samples": 400, "p50": 20.0, "p99": 34.0, "max": 40.0},
            "snapshots": 600, "snapshots_unusable": 0, "snapshots_per_bot_per_s": 30.0,
            "snapshots_per_bot_per_s_min": 29.9,
            "snapshot_interval_ms": {"samples": 580, "p50": 33.3, "p99": 35.0, "max": 40.0},
            "snapshots_late": 0, "late_snapshots_pct": 0.0, "bytes_in": 10, "bytes_out": 10,
            "bytes_in_per_bot_per_s": 900.0, "bytes_out_per_bot_per_s": 100.0,
            "duration_s": 3.0, "warmup_s": 2.0, "window_s": 1.0, "probes": 2, "rooms": 2,
            "schedule_lag_ms": {"samples": 100, "p50": 1.0, "p99": 2.0, "max": 3.0},
            "input_to_ack_histogram": [], "timeline": []
        });
        let mut report: Report = serde_json::from_value(json).unwrap();
        report.input_to_ack_histogram = vec![
            Bucket {
                le_ms: 18.0,
                count: 300,
            },
            Bucket {
                le_ms: 34.0,
                count: 100,
            },
        ];
        report.timeline = (1..=3)
            .map(|t| TimelinePoint {
                t_s: f64::from(t),
                connected: 20,
                messages_per_s: 600.0,
                inputs_per_s: 400.0,
            })
            .collect();
        assert_eq!(report.transport, Transport::Quic);
        assert_eq!(report.game, GameKind::Asteroids);
        report
    }

    #[test]
    fn the_page_stands_alone_with_three_charts_and_escaped_errors() {
        let page = page(&report());
        assert!(page.starts_with("<!doctype html>"));
        assert_eq!(
            page.matches("<svg").count(),
            3,
            "histogram and two timelines"
        );
        assert!(page.contains("input to ack (ms)"));
        assert!(page.contains("4003 &lt;bad&gt; &amp; worse"));
        assert!(!page.contains("<script"));
        assert!(!page.contains("http://") || page.contains("http://www.w3.org/2000/svg"));
    }

    #[test]
    fn without_samples_the_page_says_so_instead_of_charting() {
        let mut empty = report();
        empty.input_to_ack_histogram.clear();
        empty.timeline.clear();
        empty.error_kinds = BTreeMap::new();
        let page = page(&empty);
        assert_eq!(page.matches("<svg").count(), 0);
        assert!(page.contains("No input was acknowledged."));
        assert!(page.contains("the run ended within a second"));
    }
}
