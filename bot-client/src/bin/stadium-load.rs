//! `stadium-load`: the load benchmark. Starts `stadium-server` pinned to
//! one core and `stadium-bot` pinned to another, steps the number of
//! clients up over each transport until the server no longer holds them,
//! prints a table and writes the outcomes as JSON. `benches/load/run.sh`
//! builds the release binaries and runs this.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use stadium_bot::Transport;
use stadium_bot::bench::{self, Plan};
use stadium_bot::duration::parse_duration;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "stadium-load",
    version,
    about = "Step a pinned Stadium server through rising client counts"
)]
struct Args {
    /// Transports to measure.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Wire::Quic, Wire::Ws])]
    transports: Vec<Wire>,

    /// Client counts to step through.
    #[arg(
        long,
        value_delimiter = ',',
        default_values_t = [500, 1_000, 2_000, 5_000, 10_000]
    )]
    steps: Vec<u64>,

    /// Clients added per step after the listed ones while steps pass (0:
    /// stop after the list).
    #[arg(long, value_name = "N", default_value_t = 5_000)]
    beyond: u64,

    /// No step beyond this many clients.
    #[arg(long, value_name = "N", default_value_t = 30_000)]
    max_clients: u64,

    /// Bots connected per second.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    ramp: u32,

    /// Time after the last bot is due before measuring.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    settle: Duration,

    /// The measurement window.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    window: Duration,

    /// The share of bots that decode everything and measure latency.
    #[arg(long, default_value_t = 0.1)]
    probe_share: f64,

    /// The core the server is pinned to.
    #[arg(long, default_value_t = 0)]
    server_cpu: u32,

    /// The core the bots are pinned to.
    #[arg(long, default_value_t = 1)]
    bot_cpu: u32,

    /// The server's QUIC port on loopback.
    #[arg(long, default_value_t = 24433)]
    quic_port: u16,

    /// The server's HTTP port on loopback.
    #[arg(long, default_value_t = 28080)]
    http_port: u16,

    /// The stadium-server binary (default: beside this one).
    #[arg(long)]
    server_bin: Option<PathBuf>,

    /// The stadium-bot binary (default: beside this one).
    #[arg(long)]
    bot_bin: Option<PathBuf>,

    /// Where logs and the bots' reports go.
    #[arg(long, default_value = "target/load")]
    out_dir: PathBuf,

    /// Write the outcomes as JSON to this file (default: load.json in the
    /// output folder).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Wire {
    Quic,
    Ws,
}

fn beside_this(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("finding this binary")?;
    Ok(exe.with_file_name(name))
}

fn main() -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    match bench_main(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("stadium-load: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn bench_main(args: &Args) -> anyhow::Result<()> {
    let plan = Plan {
        server_bin: match &args.server_bin {
            Some(path) => path.clone(),
            None => beside_this("stadium-server")?,
        },
        bot_bin: match &args.bot_bin {
            Some(path) => path.clone(),
            None => beside_this("stadium-bot")?,
        },
        transports: args
            .transports
            .iter()
            .map(|wire| match wire {
                Wire::Quic => Transport::Quic,
                Wire::Ws => Transport::WebSocket,
            })
            .collect(),
        steps: args.steps.clone(),
        beyond: args.beyond,
        max_clients: args.max_clients,
        ramp: args.ramp,
        settle: args.settle,
        window: args.window,
        probe_share: args.probe_share,
        server_cpu: args.server_cpu,
        bot_cpu: args.bot_cpu,
        quic_port: args.quic_port,
        http_port: args.http_port,
        out_dir: args.out_dir.clone(),
    };
    let outcomes = bench::run(&plan, |outcome| {
        tracing::info!(
            transport = outcome.step.transport.name(),
            clients = outcome.step.clients,
            verdict = outcome.verdict.word(),
            "step done"
        );
    })?;
    print!("{}", bench::table(&outcomes));
    let path = args
        .json
        .clone()
        .unwrap_or_else(|| plan.out_dir.join("load.json"));
    let json = serde_json::to_string_pretty(&outcomes).expect("outcomes serialize to JSON");
    std::fs::write(&path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    println!("outcomes written to {}", path.display());
    Ok(())
}
