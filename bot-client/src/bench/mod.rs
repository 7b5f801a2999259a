//! The load benchmark: a server pinned to one core, `stadium-bot` pinned
//! to another, and a rising number of clients on the benchmark scenario
//! (Asteroids rooms of ten, no rocks, no firing, 30 Hz ticks, inputs at
//! 20 Hz) until the server no longer holds it.
//!
//! Each step starts a fresh server, measures its memory before any
//! client, starts the bots with a warm-up long enough to connect them all
//! at the ramp rate, then over the measurement window reads the server's
//! and the bots' CPU and memory from `/proc` and the server's tick counts
//! and tick-interval histogram from `/metrics`; the bots' JSON report
//! gives snapshots per client, input-to-ack and downlink bytes. [`rule`]
//! judges the step. `benches/load/run.sh` builds and runs it.

pub mod procfs;
pub mod prom;
pub mod rule;

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::client::Transport;
use crate::report::Report;
use prom::Scrape;
use rule::{Step, Verdict};

/// Ticks per second of the benchmark's rooms.
pub const TICK_HZ: u16 = 30;
/// Players per room.
pub const ROOM_SIZE: u16 = 10;
/// Inputs per client per second.
pub const INPUT_HZ: u16 = 20;

/// The tick-interval histogram and tick counters the benchmark reads.
const TICKS: &str = "stadium_ticks_total";
const TICKS_LATE: &str = "stadium_ticks_late_total";
const TICK_INTERVAL: &str = "stadium_tick_interval_seconds";

/// How to run the benchmark.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The `stadium-server` and `stadium-bot` binaries.
    pub server_bin: PathBuf,
    pub bot_bin: PathBuf,
    /// Transports to measure, each through all its steps.
    pub transports: Vec<Transport>,
    /// Client counts to step through, in order.
    pub steps: Vec<u64>,
    /// After the last listed step passes, clients added per further step,
    /// up to `max_clients` (0: no further steps).
    pub beyond: u64,
    pub max_clients: u64,
    /// Bots connected per second.
    pub ramp: u32,
    /// Time after the last bot is due to connect before measuring.
    pub settle: Duration,
    /// The measurement window.
    pub window: Duration,
    /// The share of bots that measure latency.
    pub probe_share: f64,
    /// The cores the server and the bots are pinned to.
    pub server_cpu: u32,
    pub bot_cpu: u32,
    /// Loopback ports for the server.
    pub quic_port: u16,
    pub http_port: u16,
    /// Where logs and the bots' reports go.
    pub out_dir: PathBuf,
}

/// A step's measurements, its verdict and the figures derived from them.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    #[serde(flatten)]
    pub step: Step,
    #[serde(flatten)]
    pub verdict: Verdict,
    pub late_ticks_pct: Option<f64>,
    pub tick_interval_p99_periods: Option<f64>,
    pub cpu_pct_per_100_clients: f64,
    pub server_bytes_per_client: f64,
}

impl Outcome {
    fn of(step: Step) -> Self {
        Self {
            verdict: step.verdict(),
            late_ticks_pct: step.late_ticks_pct(),
            tick_interval_p99_periods: step.tick_interval_p99_periods(),
            cpu_pct_per_100_clients: step.cpu_pct_per_100_clients(),
            server_bytes_per_client: step.bytes_per_client(),
            step,
        }
    }
}

/// Runs every transport through its steps, stopping a transport at its
/// first step that does not pass; `on_step` sees each outcome as it comes.
pub fn run(plan: &Plan, mut on_step: impl FnMut(&Outcome)) -> anyhow::Result<Vec<Outcome>> {
    std::fs::create_dir_all(&plan.out_dir)
        .with_context(|| format!("creating {}", plan.out_dir.display()))?;
    let ticks_per_s = procfs::ticks_per_second();
    let mut outcomes = Vec::new();
    for &transport in &plan.transports {
        let mut clients = plan.steps.iter().copied();
        let mut last = 0;
        loop {
            let n = match clients.next() {
                Some(n) => n,
                None if plan.beyond > 0 && last + plan.beyond <= plan.max_clients => {
                    last + plan.beyond
                }
                None => break,
            };
            last = n;
            let outcome = Outcome::of(run_step(plan, transport, n, ticks_per_s)?);
            on_step(&outcome);
            let passed = outcome.verdict == Verdict::Pass;
            outcomes.push(outcome);
            if !passed {
                break;
            }
        }
    }
    Ok(outcomes)
}

/// A child process killed when dropped, so that an error midway leaves
/// no server or bots behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pinned(cpu: u32, bin: &Path) -> Command {
    let mut command = Command::new("taskset");
    command.arg("-c").arg(cpu.to_string()).arg(bin);
    command
}

fn log_file(plan: &Plan, name: &str) -> anyhow::Result<File> {
    let path = plan.out_dir.join(name);
    File::create(&path).with_context(|| format!("creating {}", path.display()))
}

fn run_step(plan: &Plan, transport: Transport, n: u64, ticks_per_s: u64) -> anyhow::Result<Step> {
    let tag = format!("{}-{n}", transport.name());
    let http: SocketAddr = ([127, 0, 0, 1], plan.http_port).into();
    let server = Running(
        pinned(plan.server_cpu, &plan.server_bin)
            .args(["--quic-addr", &format!("127.0.0.1:{}", plan.quic_port)])
            .args(["--http-addr", &http.to_string()])
            // Every bot comes from 127.0.0.1: lift the limits per address
            // along with the totals.
            .args(["--max-sessions", &(n + 1000).to_string()])
            .args(["--max-connections-per-address", &(n + 1000).to_string()])
            .args(["--max-rooms", &(n / u64::from(ROOM_SIZE) + 100).to_string()])
            .args([
                "--max-rooms-per-address",
                &(n / u64::from(ROOM_SIZE) + 100).to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(log_file(plan, &format!("server-{tag}.log"))?)
            .spawn()
            .context("starting the server (is taskset installed?)")?,
    );
    let server_pid = server.0.id();
    wait_healthy(http)?;
    let base = procfs::sample(server_pid).context("reading the server's /proc")?;

    let connecting = Duration::from_secs_f64(n as f64 / f64::from(plan.ramp.max(1)));
    let warmup = connecting + plan.settle;
    let report_path = plan.out_dir.join(format!("bots-{tag}.json"));
    let url = match transport {
        Transport::Quic => format!("quic://127.0.0.1:{}", plan.quic_port),
        Transport::WebSocket => format!("ws://{http}/ws"),
    };
    let bot_started = Instant::now();
    let mut bots = Running(
        pinned(plan.bot_cpu, &plan.bot_bin)
            .args(["--url", &url, "--http-port", &plan.http_port.to_string()])
            .args(["--game", "asteroids", "--rocks", "0", "--no-fire"])
            .args(["--tick-hz", &TICK_HZ.to_string()])
            .args(["--input-hz", &INPUT_HZ.to_string()])
            .args(["--room-size", &ROOM_SIZE.to_string()])
            .args(["--match-secs", "3600"])
            .args(["--bots", &n.to_string(), "--ramp", &plan.ramp.to_string()])
            .args(["--probe-share", &plan.probe_share.to_string()])
            .args(["--warmup", &format!("{}ms", warmup.as_millis())])
            .args([
                "--duration",
                &format!("{}ms", (warmup + plan.window).as_millis()),
            ])
            .args(["--threads", "1", "--json"])
            .arg(&report_path)
            .stdout(log_file(plan, &format!("bots-{tag}.txt"))?)
            .stderr(log_file(plan, &format!("bots-{tag}.log"))?)
            .spawn()
            .context("starting the bots")?,
    );
    let bot_pid = bots.0.id();

    // Measure inside the bots' window: start a little after it opens and
    // end a little before it closes.
    let margin = Duration::from_millis(500).min(plan.window / 4);
    sleep_until(bot_started + warmup + margin);
    let before = Sample::take(http, server_pid, bot_pid)?;
    sleep_until(bot_started + warmup + plan.window - margin);
    let after = Sample::take(http, server_pid, bot_pid)?;

    let status = wait_with_timeout(&mut bots.0, Duration::from_secs(60))?;
    if !status.success() {
        tracing::warn!(%status, "the bots exited with an error");
    }
    let report: Report = serde_json::from_slice(
        &std::fs::read(&report_path)
            .with_context(|| format!("reading the bots' report {}", report_path.display()))?,
    )
    .context("parsing the bots' report")?;
    drop(server);
    Ok(step_of(
        transport,
        n,
        &base,
        &before,
        &after,
        &report,
        ticks_per_s,
    ))
}

/// What one look at the server and the bots found.
struct Sample {
    metrics: Scrape,
    server: procfs::ProcSample,
    bots: procfs::ProcSample,
}

impl Sample {
    fn take(http: SocketAddr, server: u32, bots: u32) -> anyhow::Result<Self> {
        let metrics = Scrape::parse(&http_get(http, "/metrics")?);
        Ok(Self {
            metrics,
            server: procfs::sample(server).context("the server is gone")?,
            bots: procfs::sample(bots).context("the bots are gone")?,
        })
    }
}

fn step_of(
    transport: Transport,
    n: u64,
    base: &procfs::ProcSample,
    before: &Sample,
    after: &Sample,
    report: &Report,
    ticks_per_s: u64,
) -> Step {
    let counter = |name: &str| {
        (after.metrics.has(name) && before.metrics.has(name))
            .then(|| (after.metrics.total(name) - before.metrics.total(name)).max(0.0) as u64)
    };
    let tick_interval_p99_s = prom::quantile_of_delta(
        &before.metrics.buckets(TICK_INTERVAL),
        &after.metrics.buckets(TICK_INTERVAL),
        0.99,
    );
    Step {
        transport,
        clients: n,
        connected: report.connected,
        disconnects: report.disconnects,
        tick_hz: TICK_HZ,
        window_s: after
            .server
            .at
            .duration_since(before.server.at)
            .as_secs_f64(),
        server_cpu: procfs::cpu_share(&before.server, &after.server, ticks_per_s),
        base_rss_bytes: base.rss_bytes,
        rss_bytes: after.server.rss_bytes,
        ticks: counter(TICKS),
        ticks_late: counter(TICKS_LATE),
        tick_interval_p99_s,
        snapshots_per_client_per_s: report.snapshots_per_bot_per_s,
        snapshots_per_client_per_s_min: report.snapshots_per_bot_per_s_min,
        input_to_ack_p50_ms: report.input_to_ack_ms.p50,
        input_to_ack_p99_ms: report.input_to_ack_ms.p99,
        downlink_bytes_per_client_per_s: report.bytes_in_per_bot_per_s,
        bot_cpu: procfs::cpu_share(&before.bots, &after.bots, ticks_per_s),
        bot_lag_p99_ms: report.schedule_lag_ms.p99,
        bot_rss_bytes: after.bots.rss_bytes,
    }
}

fn sleep_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        std::thread::sleep(at - now);
    }
}

fn wait_with_timeout(
    child: &mut Child,
    limit: Duration,
) -> anyhow::Result<std::process::ExitStatus> {
    let give_up = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() > give_up {
            bail!(
                "the bots did not finish within {} s of their end",
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `/healthz` until the server answers, for up to ten seconds.
fn wait_healthy(http: SocketAddr) -> anyhow::Result<()> {
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        match http_get(http, "/healthz") {
            Ok(_) => return Ok(()),
            Err(err) if Instant::now() > give_up => {
                return Err(err.context("the server did not come up"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A plain HTTP/1.0 GET on loopback; the body of a 200 answer.
fn http_get(address: SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .context("an HTTP answer without a body")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        bail!("GET {path}: {}", head.lines().next().unwrap_or_default());
    }
    Ok(body.to_owned())
}

/// The table of outcomes, one row per step.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut text = format!(
        "{:<9} {:>6} {:<12} {:>6} {:>8} {:>7} {:>8} {:>6} {:>7} {:>6} {:>6} {:>6} {:>7} {:>6}\n",
        "transport",
        "N",
        "verdict",
        "cpu%",
        "cpu%/100",
        "rss MiB",
        "KB/cli",
        "late%",
        "int p99",
        "snap/s",
        "i2a50",
        "i2a99",
        "down B/s",
        "bot%"
    );
    for o in outcomes {
        let s = &o.step;
        let opt =
            |v: Option<f64>, scale: f64| v.map_or("-".to_owned(), |v| format!("{:.2}", v * scale));
        text.push_str(&format!(
            "{:<9} {:>6} {:<12} {:>6.1} {:>8.2} {:>7.1} {:>8.1} {:>6} {:>7} {:>6.1} {:>6.1} {:>6.1} {:>7.0} {:>6.0}\n",
            s.transport.name(),
            s.clients,
            o.verdict.word(),
            s.server_cpu * 100.0,
            o.cpu_pct_per_100_clients,
            s.rss_bytes as f64 / (1024.0 * 1024.0),
            o.server_bytes_per_client / 1000.0,
            opt(o.late_ticks_pct, 1.0),
            opt(s.tick_interval_p99_s, 1000.0),
            s.snapshots_per_client_per_s_min,
            s.input_to_ack_p50_ms,
            s.input_to_ack_p99_ms,
            s.downlink_bytes_per_client_per_s,
            s.bot_cpu * 100.0,
        ));
        if let Verdict::Fail(reasons) | Verdict::Inconclusive(reasons) = &o.verdict {
            text.push_str(&format!("{:>17} {}\n", "", reasons.join("; ")));
        }
    }
    text
}
