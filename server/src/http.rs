//! The HTTP side of the server: the WebSocket endpoint, health, metrics,
//! the rooms API, the certificate hash that local QUIC clients pin, and
//! the browser client's files for every other path.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::Serialize;
use stadium_shared::{GameKind, RoomCode, RoomState};

use tokio::sync::watch;

use crate::session::ServerState;
use crate::transport::ws;

/// The server's routes.
pub fn router(state: Arc<ServerState>) -> Router {
    let router = if state.config.ws_echo {
        Router::new().route("/ws-echo", get(ws::echo))
    } else {
        Router::new()
    };
    router
        .route("/ws", get(ws::upgrade))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/rooms", get(rooms))
        .route("/api/cert-hash", get(cert_hash))
        .fallback(crate::web::serve)
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /metrics`: every metric in the Prometheus text format. The
/// recorder is the process's (see [`crate::metrics`]).
async fn metrics() -> impl IntoResponse {
    let body = crate::metrics::get().render();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
}

/// One room in `GET /api/rooms`.
#[derive(Debug, Serialize)]
pub struct RoomView {
    /// Join code.
    pub code: RoomCode,
    /// The game played.
    pub game: GameKind,
    /// Seated players.
    pub players: u16,
    /// Seats.
    pub max: u16,
    /// Spectators watching.
    pub spectators: u16,
    /// Lifecycle state.
    pub state: RoomState,
}

async fn rooms(State(state): State<Arc<ServerState>>) -> Json<Vec<RoomView>> {
    let rooms = state.lobby.list().into_iter().map(|info| RoomView {
        code: info.code,
        game: info.game,
        players: info.players,
        max: info.max_players,
        spectators: info.spectators,
        state: info.state,
    });
    Json(rooms.collect())
}

/// `GET /api/cert-hash`: what a local client pins the QUIC certificate by.
#[derive(Debug, Serialize)]
pub struct CertHash {
    /// Lower-case hex SHA-256 of the leaf certificate's DER.
    pub sha256: String,
}

async fn cert_hash(State(state): State<Arc<ServerState>>) -> Json<CertHash> {
    Json(CertHash {
        sha256: state.cert_sha256.clone(),
    })
}

/// Serves HTTP/1.1 (and WebSocket upgrades) on `listener` until `stop`
/// turns true, then lets open requests finish.
///
/// A connection must deliver each request's headers within
/// `header_timeout`, whether it trickles them, stalls midway or sends
/// nothing at all, so that idle sockets cannot pile up before the hello
/// deadline (which starts only after the upgrade) applies.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    mut stop: watch::Receiver<bool>,
    header_timeout: Duration,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(&mut stop) => return,
        };
        let (tcp, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors, usually: back off instead of spinning.
                tracing::warn!(%err, "accepting an HTTP connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Game messages are small and latency-bound: no Nagle delay.
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "TCP_NODELAY not set");
        }
        // The WebSocket endpoint counts connections per address.
        let service =
            TowerToHyperService::new(router.clone().layer(Extension(ConnectInfo(remote))));
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stopped(&mut stop) => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = result {
                tracing::debug!(%remote, %err, "HTTP connection ended");
            }
        });
    }
}

/// Resolves once the server is told to stop (or the sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; it is dropped here.
    let _ = stop.wait_for(|stop| *stop).await;
}
