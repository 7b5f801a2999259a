//! stadium-bot against a real server on loopback: the report of a short
//! arena run with light bots and probes over both transports, and the
//! binary's silence, but for its report, when stdout is not a terminal.

use std::process::Command;
use std::time::Duration;

use stadium_bot::{RunConfig, Transport, run};
use stadium_server::{Config, Server};
use stadium_shared::GameKind;

async fn server() -> Server {
    Server::start(Config::ephemeral())
        .await
        .expect("the server starts")
}

fn arena_run(url: String, http_port: u16) -> RunConfig {
    let mut config = RunConfig {
        url,
        game: GameKind::Asteroids,
        bots: 20,
        room_size: 10,
        rocks: 0,
        fire: false,
        duration: Duration::from_millis(2500),
        warmup: Duration::from_millis(1000),
        probe_share: 0.1,
        ..RunConfig::default()
    };
    config.connect.http_port = http_port;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn light_bots_and_probes_report_over_both_transports() {
    let server = server().await;
    let http_port = server.http_addr().port();
    for (url, transport) in [
        (format!("quic://{}", server.quic_addr()), Transport::Quic),
        (
            format!("ws://{}/ws", server.http_addr()),
            Transport::WebSocket,
        ),
    ] {
        let report = run(arena_run(url, http_port))
            .await
            .expect("the run starts");
        assert_eq!(report.transport, transport);
        assert_eq!((report.connected, report.disconnects), (20, 0), "{report}");
        assert_eq!(report.probes, 2, "one probe per ten bots");
        assert_eq!(report.rooms, 2);
        assert_eq!(report.errors, 0, "{report}");
        assert!((report.window_s - (report.duration_s - 1.0)).abs() < 1e-9);
        // Every bot, light or not, counts its snapshots and acks them.
        assert!(report.snapshots > 0 && report.inputs > 0, "{report}");
        assert!(report.snapshots_per_bot_per_s_min > 0.0, "{report}");
        assert!((0.0..=100.0).contains(&report.late_snapshots_pct));
        // Only the probes, a tenth of the bots, measure latencies (with
        // room for light bots that fall behind and send fewer inputs).
        assert!(report.input_to_ack_ms.samples > 0, "{report}");
        assert!(
            report.input_to_ack_ms.samples * 3 < report.inputs,
            "{} latencies of {} inputs",
            report.input_to_ack_ms.samples,
            report.inputs
        );
        assert!(report.snapshot_interval_ms.samples * 5 < report.snapshots);
        assert_eq!(
            report
                .input_to_ack_histogram
                .iter()
                .map(|b| b.count)
                .sum::<u64>(),
            report.input_to_ack_ms.samples
        );
        assert!(report.schedule_lag_ms.samples > 0);
        assert!(report.timeline.len() >= 2, "{:?}", report.timeline);
        assert!(report.timeline.iter().any(|point| point.connected == 20));
        let json = serde_json::to_value(&report).unwrap();
        for field in [
            "late_snapshots_pct",
            "snapshots_late",
            "snapshots_per_bot_per_s_min",
            "snapshot_interval_ms",
            "schedule_lag_ms",
            "window_s",
            "timeline",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
    }
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_only_the_report_is_printed() {
    let server = server().await;
    let url = format!("ws://{}/ws", server.http_addr());
    let html = std::env::temp_dir().join(format!("stadium-bot-{}.html", std::process::id()));
    let html_arg = html.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_stadium-bot"))
            .args(["--url", &url, "--game", "asteroids", "--rocks", "0"])
            .args(["--bots", "10", "--duration", "2s", "--threads", "1"])
            .arg("--html")
            .arg(&html_arg)
            .env("RUST_LOG", "error")
            .output()
            .expect("stadium-bot runs")
    })
    .await
    .unwrap();
    server.shutdown(Duration::from_secs(1)).await;

    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stdout.starts_with("stadium-bot: 10 bots playing asteroids over websocket"),
        "{stdout}"
    );
    // The bar redraws with carriage returns and escape sequences, and
    // names its counts "bots connected" and "msg/s"; none of it may show.
    for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(
            !text.contains('\r') && !text.contains('\x1b'),
            "{name}: {text:?}"
        );
        assert!(
            !text.contains("msg/s") && !text.contains("bots connected"),
            "{name}: {text}"
        );
    }
    assert!(
        stdout.lines().skip(1).all(|line| line.starts_with("  ")),
        "{stdout}"
    );
    assert!(stderr.is_empty(), "{stderr}");
    let page = std::fs::read_to_string(&html).expect("the HTML report is written");
    std::fs::remove_file(&html).unwrap();
    assert!(page.contains("<svg"), "the page has its charts");
}
