//! `stadium-server`: hosts game rooms over QUIC and WebSocket until told to
//! stop with SIGINT or SIGTERM.

use std::time::Duration;

use clap::Parser;
use stadium_server::{Config, Server};
use tracing_subscriber::EnvFilter;

/// How long shutdown waits for clients to receive their goodbye.
const DRAIN: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_json {
        logs.json().init();
    } else {
        logs.init();
    }

    raise_open_files_limit();

    // One process-wide crypto provider: ring. Nothing else may install one.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let server = Server::start(config).await?;
    println!("stadium-server listening");
    println!("  QUIC       quic://{}", server.quic_addr());
    println!("  WebSocket  {}", server.ws_url());
    println!("  HTTP       http://{}/api/rooms", server.http_addr());
    println!("  cert hash  {}", server.cert_sha256());
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown(DRAIN).await;
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

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("the process can listen for SIGTERM");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
