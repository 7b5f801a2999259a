//! `stadium-bot`: load-tests a Stadium server with bots playing real games,
//! shows a live progress bar when stdout is a terminal, prints a summary on
//! stdout and optionally writes the JSON and HTML reports. Exits non-zero
//! when no bot could connect.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use stadium_bot::duration::parse_duration;
use stadium_bot::live::LiveBar;
use stadium_bot::{ConnectOptions, RunConfig, html, run_until};
use stadium_shared::{GameKind, RoomCode};
use tracing_subscriber::EnvFilter;

/// How often the progress bar is updated while bots play.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, Parser)]
#[command(
    name = "stadium-bot",
    version,
    about = "Load-test a Stadium server with bots"
)]
struct Args {
    /// Server to connect to: quic://HOST:PORT or ws://HOST:PORT/ws.
    #[arg(long, default_value = "quic://127.0.0.1:4433")]
    url: String,

    /// QUIC: SHA-256 (hex) of the server's certificate. Fetched from
    /// http://HOST:HTTP_PORT/api/cert-hash when absent.
    #[arg(long, value_name = "HEX")]
    cert_hash: Option<String>,

    /// QUIC: the server's HTTP port, for fetching the certificate hash.
    #[arg(long, default_value_t = 8080)]
    http_port: u16,

    /// WebSocket: speak JSON text (subprotocol stadium.json), not postcard.
    #[arg(long)]
    ws_json: bool,

    /// The game the bots play.
    #[arg(long, value_enum, default_value_t = Game::Trivia)]
    game: Game,

    /// Number of bots.
    #[arg(long, default_value_t = 10)]
    bots: usize,

    /// Players per room: bots fill rooms of this size, and a full trivia
    /// room starts its match (an arena runs as soon as anyone is in it).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    room_size: u16,

    /// Trivia: questions per match.
    #[arg(long, default_value_t = 5)]
    questions: u16,

    /// Trivia: seconds per question.
    #[arg(long, value_name = "S", default_value_t = 5)]
    question_secs: u16,

    /// Trivia: seconds each answer is shown.
    #[arg(long, value_name = "S", default_value_t = 2)]
    reveal_secs: u16,

    /// How long to play, such as 40s, 2m, 500ms or plain seconds.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,

    /// Trivia: the share of questions a bot answers right, 0 to 1.
    #[arg(long, default_value_t = 0.7, value_parser = parse_accuracy)]
    accuracy: f64,

    /// Asteroids: inputs each bot sends per second.
    #[arg(
        long,
        value_name = "HZ",
        default_value_t = 20,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    input_hz: u16,

    /// Asteroids: large rocks in the first wave (0: an empty arena).
    #[arg(long, value_name = "N", default_value_t = 4)]
    rocks: u16,

    /// Asteroids: bots never fire.
    #[arg(long)]
    no_fire: bool,

    /// Asteroids: never acknowledge snapshots, so that every one arrives
    /// in full (to measure what deltas save).
    #[arg(long)]
    no_ack: bool,

    /// Asteroids: simulation steps, and snapshots, per second.
    #[arg(long, value_name = "HZ", default_value_t = 30)]
    tick_hz: u16,

    /// Asteroids: seconds per match.
    #[arg(long, value_name = "S", default_value_t = 60)]
    match_secs: u16,

    /// Bots started per second (0: all at once, 64 connecting at a time).
    #[arg(long, value_name = "N", default_value_t = 0)]
    ramp: u32,

    /// Seed for the bots' choices, for repeatable runs.
    #[arg(long)]
    seed: Option<u64>,

    /// Join the room with this code (say, one opened in the browser)
    /// instead of creating rooms; --room-size is then ignored.
    #[arg(long, value_name = "CODE", value_parser = parse_room_code)]
    room: Option<RoomCode>,
    /// The share of bots, 0 to 1, that decode every message and measure
    /// latencies; the others read only snapshot headers, count and
    /// acknowledge them.
    #[arg(long, value_name = "SHARE", default_value_t = 0.1, value_parser = parse_share)]
    probe_share: f64,

    /// The share of bots, 0 to 1, whose connections are cut halfway
    /// through the run, all at once and without a close, and which then
    /// resume their sessions on new connections.
    #[arg(long, value_name = "SHARE", default_value_t = 0.0, value_parser = parse_share)]
    chaos_drop: f64,

    /// Time before measuring starts, such as 10s: the report covers only
    /// what follows it.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    warmup: Duration,

    /// Runtime threads for the bots (0: one per core). 1 runs every bot on
    /// the calling thread, for a process pinned to one core.
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,

    /// Write the JSON report to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Write a one-page HTML report, with charts, to this file.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Game {
    /// Timed multiple-choice quiz.
    Trivia,
    /// A wrapping arena of ships, rocks and bullets.
    Asteroids,
}

impl Args {
    fn config(&self) -> RunConfig {
        RunConfig {
            url: self.url.clone(),
            connect: ConnectOptions {
                cert_sha256: self.cert_hash.clone(),
                http_port: self.http_port,
                json: self.ws_json,
            },
            game: match self.game {
                Game::Trivia => GameKind::Trivia,
                Game::Asteroids => GameKind::Asteroids,
            },
            bots: self.bots,
            room_size: self.room_size,
            questions: self.questions,
            question_secs: self.question_secs,
            reveal_secs: self.reveal_secs,
            duration: self.duration,
            accuracy: self.accuracy,
            input_hz: self.input_hz,
            rocks: self.rocks,
            fire: !self.no_fire,
            ack: !self.no_ack,
            tick_hz: self.tick_hz,
            match_secs: self.match_secs,
            ramp: self.ramp,
            seed: self.seed,
            room: self.room.clone(),
            probe_share: self.probe_share,
            chaos_drop: self.chaos_drop,
            warmup: self.warmup,
        }
    }
}

fn parse_accuracy(text: &str) -> Result<f64, String> {
    parse_share(text)
}

/// A number from 0 to 1.
fn parse_share(text: &str) -> Result<f64, String> {
    let share: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=1.0).contains(&share) {
        Ok(share)
    } else {
        Err(format!("{share} is not between 0 and 1"))
    }
}

fn parse_room_code(text: &str) -> Result<RoomCode, String> {
    RoomCode::parse(text).ok_or_else(|| format!("{text:?} is not a room code such as K7QX"))
}

fn main() -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();

    let args = Args::parse();
    raise_open_files_limit(args.bots);
    let runtime = match args.threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        0 => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        threads => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("stadium-bot: starting the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(play(&args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            // The whole chain on one line; a backtrace would only bury it.
            eprintln!("stadium-bot: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the bots and reports; whether any bot connected.
async fn play(args: &Args) -> anyhow::Result<bool> {
    tracing::info!(url = %args.url, bots = args.bots, "starting");
    let config = args.config();
    let bar = LiveBar::for_stdout(&config);
    // Ctrl-C stops the bots early and still prints the report of what
    // they did; a second Ctrl-C, once the handler is gone, ends the
    // process as usual.
    let interrupted = async {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("interrupted: stopping the bots and reporting");
        } else {
            std::future::pending::<()>().await;
        }
    };
    let report = run_until(
        config,
        PROGRESS_EVERY,
        |progress| bar.update(progress),
        interrupted,
    )
    .await;
    bar.finish();
    let report = report?;
    print!("{report}");
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).expect("reports serialize to JSON");
        std::fs::write(path, json + "\n")
            .with_context(|| format!("writing the report to {}", path.display()))?;
    }
    if let Some(path) = &args.html {
        std::fs::write(path, html::page(&report))
            .with_context(|| format!("writing the HTML report to {}", path.display()))?;
    }
    Ok(report.any_connected())
}

/// Every bot needs a socket (a WebSocket bot one file, a QUIC bot a share
/// of one), and the usual soft limit of 1024 open files stops a large run
/// short. Raises the soft limit toward the hard one; warns when even that
/// is too low.
fn raise_open_files_limit(bots: usize) {
    // Sockets, plus room for the runtime, resolvers and the reports.
    let wanted = bots as u64 + 256;
    match rlimit::increase_nofile_limit(wanted) {
        Ok(limit) if limit < wanted => tracing::warn!(
            limit,
            wanted,
            "the open-files limit is below what the bots need; raise the hard limit (ulimit -Hn)"
        ),
        Ok(_) => {}
        Err(err) => tracing::warn!(%err, "could not raise the open-files limit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_default_to_the_documented_values() {
        let config = Args::parse_from(["stadium-bot"]).config();
        assert_eq!(config, RunConfig::default());
    }

    #[test]
    fn report_and_websocket_json_flags_are_distinct() {
        let args = Args::parse_from(["stadium-bot", "--ws-json", "--json", "/tmp/r.json"]);
        assert!(args.ws_json);
        assert_eq!(args.json, Some(PathBuf::from("/tmp/r.json")));
    }

    #[test]
    fn accuracy_outside_zero_to_one_is_refused() {
        assert_eq!(parse_accuracy("0.7"), Ok(0.7));
        assert!(parse_accuracy("1.1").is_err());
        assert!(parse_accuracy("NaN").is_err());
        assert!(Args::try_parse_from(["stadium-bot", "--room-size", "0"]).is_err());
    }

    #[test]
    fn asteroids_flags_reach_the_run() {
        let config = Args::parse_from([
            "stadium-bot",
            "--game",
            "asteroids",
            "--input-hz",
            "10",
            "--rocks",
            "0",
            "--no-fire",
            "--tick-hz",
            "60",
            "--match-secs",
            "20",
        ])
        .config();
        assert_eq!(config.game, GameKind::Asteroids);
        assert_eq!((config.input_hz, config.rocks), (10, 0));
        assert!(!config.fire);
        assert_eq!((config.tick_hz, config.match_secs), (60, 20));
        assert!(Args::try_parse_from(["stadium-bot", "--input-hz", "0"]).is_err());
    }

    #[test]
    fn a_room_code_makes_every_bot_join_it() {
        let config = Args::parse_from(["stadium-bot", "--room", "k7qx"]).config();
        assert_eq!(config.room, RoomCode::parse("K7QX"));
        assert!(Args::try_parse_from(["stadium-bot", "--room", "K7Q0"]).is_err());
    }

    #[test]
    fn scale_flags_reach_the_run() {
        let args = Args::parse_from([
            "stadium-bot",
            "--probe-share",
            "0.25",
            "--warmup",
            "10s",
            "--threads",
            "1",
            "--html",
            "/tmp/r.html",
        ]);
        assert_eq!(args.threads, 1);
        assert_eq!(args.html, Some(PathBuf::from("/tmp/r.html")));
        let config = args.config();
        assert_eq!(config.probe_share, 0.25);
        assert_eq!(config.warmup, Duration::from_secs(10));
        assert!(Args::try_parse_from(["stadium-bot", "--probe-share", "2"]).is_err());
    }

    #[test]
    fn durations_take_units() {
        let args = Args::parse_from(["stadium-bot", "--duration", "2m"]);
        assert_eq!(args.duration, Duration::from_secs(120));
    }
}
