//! `GET /metrics`: every documented metric is there in the Prometheus text
//! format, and a short real run over each transport moves them.
//!
//! The recorder is global to the process, so figures are compared before
//! and after, never against absolute values.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{Wire, connect, join, next, within};
use stadium_bot::Client;
use stadium_server::Server;
use stadium_shared::asteroids::AsteroidsSettings;
use stadium_shared::{ClientMsg, GameSettings, Input, ServerMsg};

/// Every metric the README lists, by the name its `# TYPE` line gives.
const DOCUMENTED: &[(&str, &str)] = &[
    ("stadium_ticks_total", "counter"),
    ("stadium_ticks_late_total", "counter"),
    ("stadium_catch_up_ticks_total", "counter"),
    ("stadium_ticks_skipped_total", "counter"),
    ("stadium_tick_duration_seconds", "histogram"),
    ("stadium_tick_interval_seconds", "histogram"),
    ("stadium_rooms", "gauge"),
    ("stadium_sessions", "gauge"),
    ("stadium_bytes_sent_total", "counter"),
    ("stadium_bytes_received_total", "counter"),
    ("stadium_snapshots_dropped_total", "counter"),
    ("stadium_inputs_coalesced_total", "counter"),
    ("stadium_outbound_queue_full_total", "counter"),
];

/// One scrape: the text and its samples by series (`name{labels}`).
struct Scrape {
    text: String,
    samples: HashMap<String, f64>,
}

impl Scrape {
    /// The value of `series`, zero when it has no sample yet.
    fn get(&self, series: &str) -> f64 {
        self.samples.get(series).copied().unwrap_or(0.0)
    }
}

async fn scrape(server: &Server) -> Scrape {
    let response = reqwest::get(format!("http://{}/metrics", server.http_addr()))
        .await
        .expect("GET /metrics");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.expect("body");
    let samples = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let value = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
            (series.to_owned(), value)
        })
        .collect();
    Scrape { text, samples }
}

/// A pilot in its own arena: seated, a burst of inputs sent, and `count`
/// snapshots received and acknowledged.
async fn fly_briefly(server: &Server, wire: Wire, count: usize) -> Client {
    let (mut client, _) = connect(server, wire, "Gauge").await;
    let settings = AsteroidsSettings {
        rocks_per_wave: 0,
        ..Default::default()
    };
    let room = common::create_room(&mut client, GameSettings::Asteroids(settings)).await;
    join(&mut client, room.code.as_str()).await;
    // Ten inputs sent at once reach the room within a millisecond or two:
    // at most one tick boundary falls inside the burst, so eight or more
    // are replaced by a newer one before a tick applies them.
    for seq in 1..=10 {
        let input = Input {
            seq,
            turn: 0.5,
            thrust: true,
            fire: false,
        };
        client.send(&ClientMsg::Input(input)).await.expect("input");
    }
    for _ in 0..count {
        let snapshot = next(&mut client, "snapshot", |m| {
            matches!(m, ServerMsg::Snapshot(_))
        })
        .await;
        let ServerMsg::Snapshot(snapshot) = snapshot else {
            unreachable!("filtered above")
        };
        let ack = ClientMsg::Ack {
            tick: snapshot.tick,
        };
        client.sender().send_unreliable(&ack).await.expect("ack");
    }
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_listed_and_move_with_a_short_run_on_each_transport() {
    let server = common::start().await;
    let before = scrape(&server).await;
    for (name, kind) in DOCUMENTED {
        assert!(
            before.text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} is listed as a {kind}:\n{}",
            before.text
        );
        assert!(
            before.text.contains(&format!("# HELP {name} ")),
            "{name} is described"
        );
    }

    let mut pilots = Vec::new();
    for wire in Wire::ALL {
        pilots.push(fly_briefly(&server, wire, 10).await);
    }
    let during = scrape(&server).await;
    let rose = |series: &str, by: f64| {
        let (was, is) = (before.get(series), during.get(series));
        assert!(
            is >= was + by,
            "{series} went from {was} to {is}, not up by {by}"
        );
    };
    let arena = r#"{game="asteroids"}"#;
    // Three rooms each ticked at least ten times to send ten snapshots.
    rose(&format!("stadium_ticks_total{arena}"), 30.0);
    rose(&format!("stadium_tick_duration_seconds_count{arena}"), 30.0);
    rose(&format!("stadium_tick_interval_seconds_count{arena}"), 27.0);
    rose(&format!("stadium_rooms{arena}"), 3.0);
    rose(r#"stadium_sessions{transport="quic"}"#, 1.0);
    rose(r#"stadium_sessions{transport="ws"}"#, 2.0);
    for transport in ["quic", "ws"] {
        // Ten snapshots of at least the 10-byte header each; ten inputs.
        rose(
            &format!("stadium_bytes_sent_total{{transport=\"{transport}\"}}"),
            100.0,
        );
        rose(
            &format!("stadium_bytes_received_total{{transport=\"{transport}\"}}"),
            100.0,
        );
    }
    // Eight or more per pilot; half that leaves room for a stalled machine.
    rose("stadium_inputs_coalesced_total", 12.0);
    // A tick interval is never shorter than zero nor, with nothing else
    // running, absurdly long: its sum grows by about a period per tick.
    let interval_sum = format!("stadium_tick_interval_seconds_sum{arena}");
    assert!(during.get(&interval_sum) > before.get(&interval_sum));

    // Sessions leave the gauge when they disconnect.
    for pilot in pilots {
        pilot.sender().close().await;
    }
    within("sessions counted out", async {
        loop {
            let after = scrape(&server).await;
            let gone = [
                r#"stadium_sessions{transport="quic"}"#,
                r#"stadium_sessions{transport="ws"}"#,
            ]
            .iter()
            .all(|series| after.get(series) <= before.get(series));
            if gone {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    server.shutdown(Duration::from_secs(2)).await;
}
