//! `stadium-server`: hosts game rooms over QUIC and WebSocket until told to
//! stop with SIGINT or SIGTERM.

use std::io::IsTerminal;

use clap::Parser;
use stadium_server::{Config, Server};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal: a log file or journal gets plain text.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if config.log_json {
        logs.json().init();
    } else {
        logs.init();
    }

    raise_open_files_limit();

    // One process-wide crypto provider: ring. Nothing else may install one.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let drain = config.drain();
    // Listening before serving: a signal that arrives as the first
    // clients connect still shuts down gracefully.
    let stop = shutdown_signal()?;
    let server = Server::start(config).await?;
    println!("stadium-server listening");
    println!("  web client http://{}/", server.http_addr());
    println!("  QUIC       quic://{}", server.quic_addr());
    println!("  WebSocket  {}", server.ws_url());
    println!("  rooms      http://{}/api/rooms", server.http_addr());
    println!("  cert hash  {}", server.cert_sha256());
    stop.await;
    tracing::info!("shutting down");
    server.shutdown(drain).await;
    tracing::info!("stopped");
    Ok(())
}

/// Every WebSocket session holds a socket, and the usual soft limit of 1024
/// open files would stop the server far short of its session limit: raise
/// the soft limit to the hard one.
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-files limit"),
        Err(err) => tracing::warn!(%err, "could not raise the open-files limit"),
    }
}

/// Resolves on the first SIGINT or SIGTERM, listening from the call on.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Resolves on the first Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
