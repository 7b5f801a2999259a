//! The HTTP side of the server: the WebSocket endpoint, health, the rooms
//! API and the certificate hash that local QUIC clients pin.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use stadium_shared::{GameKind, RoomCode, RoomState};

use crate::session::ServerState;
use crate::transport::ws;

/// The server's routes.
pub fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/healthz", get(healthz))
        .route("/api/rooms", get(rooms))
        .route("/api/cert-hash", get(cert_hash))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
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
