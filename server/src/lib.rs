//! Stadium's server: game rooms that own the truth, reached over QUIC and
//! WebSocket.
//!
//! Layers, each importing only those below it:
//!
//! - [`config`]: what an operator can set;
//! - [`transport`]: QUIC and WebSocket connections, bytes in and protocol
//!   messages out, with the [`http`] routes beside them;
//! - [`session`]: one greeted client, its limits and its bounded outbound
//!   queue;
//! - [`lobby`]: the room directory and the `lobby` channel;
//! - [`room`]: a fixed-tick room on a simulation thread, its members and
//!   channels;
//! - [`games`]: the simulations themselves, one `bevy_ecs` world per room;
//! - [`metrics`]: the process's Prometheus metrics, beside them all;
//! - [`web`]: the browser client's files, served at `/`.
//!
//! [`Server::start`] wires them together on the current tokio runtime; the
//! binary adds logging and signal handling.

pub mod config;
pub mod fuzzing;
pub mod games;
pub mod http;
pub mod lobby;
pub mod metrics;
pub mod room;
pub mod session;
pub mod tls;
pub mod transport;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use stadium_shared::ErrorCode;
use stadium_shared::trivia::pack::Pack;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::Config;
use lobby::Lobby;
use room::runner::RoomRunner;
use session::ServerState;

/// A running server.
pub struct Server {
    state: Arc<ServerState>,
    quic_addr: SocketAddr,
    http_addr: SocketAddr,
    /// Stops accepting QUIC connections and closes the live ones.
    endpoint: quinn::Endpoint,
    /// Tells the HTTP listener to stop accepting.
    stop_http: watch::Sender<bool>,
    http: JoinHandle<()>,
}

impl Server {
    /// Loads the question packs, binds both listeners and starts serving.
    pub async fn start(config: Config) -> anyhow::Result<Server> {
        metrics::get();
        let pack = Arc::new(load_packs(&config)?);
        let identity = match (&config.cert, &config.key) {
            (Some(cert), Some(key)) => tls::Identity::from_pem_files(cert, key)?,
            _ => tls::Identity::development()?,
        };
        let mut quic_config = identity.quic_server_config()?;
        quic_config.transport_config(Arc::new(transport::quic::transport_config(
            config.quic_idle_timeout(),
        )));
        let datagrams_dropped = Arc::default();
        let endpoint = transport::quic::bind(
            quic_config,
            config.quic_addr,
            Arc::clone(&datagrams_dropped),
        )
        .with_context(|| format!("binding QUIC on {}", config.quic_addr))?;
        let quic_addr = endpoint.local_addr()?;
        let listener = tokio::net::TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("binding HTTP on {}", config.http_addr))?;
        let http_addr = listener.local_addr()?;

        let threads = match config.sim_threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        let runner = RoomRunner::start(threads);
        let limits = lobby::RoomLimits {
            total: config.max_rooms,
            per_session: config.max_rooms_per_session,
            per_address: config.max_rooms_per_address,
            players_per_room: config.max_players_per_room,
        };
        let policy = room::RoomPolicy::new(
            config.empty_room_grace(),
            config.resume_grace(),
            config.outbound_queue_bytes,
        );
        let lobby = Lobby::new(runner, pack, limits, policy);
        let state = ServerState::new(config, lobby, identity.sha256.clone(), datagrams_dropped);

        tokio::spawn(transport::quic::listen(state.clone(), endpoint.clone()));
        let (stop_http, stopped) = watch::channel(false);
        let app = http::router(state.clone());
        let header_timeout = state.config.handshake_deadline();
        let http = tokio::spawn(http::serve(listener, app, stopped, header_timeout));
        tracing::info!(%quic_addr, %http_addr, cert_sha256 = %identity.sha256, "serving");
        Ok(Server {
            state,
            quic_addr,
            http_addr,
            endpoint,
            stop_http,
            http,
        })
    }

    /// The bound QUIC address.
    pub fn quic_addr(&self) -> SocketAddr {
        self.quic_addr
    }

    /// The bound HTTP and WebSocket address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The WebSocket URL clients connect to.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.http_addr)
    }

    /// The QUIC URL clients connect to.
    pub fn quic_url(&self) -> String {
        format!("quic://{}", self.quic_addr)
    }

    /// SHA-256 of the QUIC certificate, hex.
    pub fn cert_sha256(&self) -> &str {
        &self.state.cert_sha256
    }

    /// State shared by all connections: rooms, sessions, configuration.
    pub fn state(&self) -> &Arc<ServerState> {
        &self.state
    }

    /// Stops accepting, tells every client the server is going away,
    /// closes every room, and waits up to `drain` for connections to close.
    pub async fn shutdown(self, drain: Duration) {
        let _ = self.stop_http.send(true);
        self.endpoint.set_server_config(None);
        self.state.kick_all(ErrorCode::ShuttingDown);
        let lobby = self.state.lobby.clone();
        // Joining the simulation threads blocks; keep it off the runtime.
        let _ = tokio::task::spawn_blocking(move || lobby.shutdown()).await;

        let until = Instant::now() + drain;
        while self.state.connection_count() > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.endpoint.close(
            quinn::VarInt::from(ErrorCode::ShuttingDown.code()),
            b"shutting down",
        );
        let _ = tokio::time::timeout(Duration::from_secs(1), self.endpoint.wait_idle()).await;
        self.http.abort();
    }
}

/// The built-in pack (unless turned off) merged with the operator's files.
fn load_packs(config: &Config) -> anyhow::Result<Pack> {
    let mut pack = if config.no_builtin_pack {
        Pack::default()
    } else {
        Pack::built_in()
    };
    for path in &config.trivia_packs {
        let extra = games::trivia::opentdb::load(path)
            .with_context(|| format!("loading trivia pack {}", path.display()))?;
        let offered = extra.questions.len();
        let before = pack.questions.len();
        pack.merge(extra);
        let added = pack.questions.len() - before;
        // Questions already present (by text) are skipped, not asked twice.
        tracing::info!(path = %path.display(), offered, added, "trivia pack loaded");
    }
    anyhow::ensure!(
        !pack.questions.is_empty(),
        "no trivia questions: add a --trivia-pack"
    );
    Ok(pack)
}
