//! Server configuration: built-in defaults, `STADIUM_*` environment
//! variables and command-line flags, later ones winning.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use clap::builder::BoolishValueParser;
use stadium_shared::MAX_FRAME_LEN;

/// Everything an operator can set. Every field has a default that works on
/// a developer's machine with no further step.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "stadium-server",
    version,
    about = "Authoritative multiplayer game server"
)]
pub struct Config {
    /// UDP address for QUIC clients.
    #[arg(long, env = "STADIUM_QUIC_ADDR", default_value = "127.0.0.1:4433")]
    pub quic_addr: SocketAddr,

    /// TCP address for HTTP: WebSocket at /ws, /healthz, /api/rooms, /api/cert-hash.
    #[arg(long, env = "STADIUM_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,

    /// PEM certificate chain for QUIC. Without it a development certificate
    /// is generated at start and its SHA-256 served at /api/cert-hash.
    #[arg(long, env = "STADIUM_CERT", requires = "key")]
    pub cert: Option<PathBuf>,

    /// PEM private key matching --cert.
    #[arg(long, env = "STADIUM_KEY", requires = "cert")]
    pub key: Option<PathBuf>,

    /// Extra trivia packs (Stadium or Open Trivia DB JSON); repeatable.
    #[arg(
        long = "trivia-pack",
        env = "STADIUM_TRIVIA_PACK",
        value_delimiter = ','
    )]
    pub trivia_packs: Vec<PathBuf>,

    /// Use only the --trivia-pack files, not the built-in pack.
    #[arg(long, env = "STADIUM_NO_BUILTIN_PACK", value_parser = BoolishValueParser::new())]
    pub no_builtin_pack: bool,

    /// Simulation threads stepping rooms (0: one per core).
    #[arg(long, env = "STADIUM_SIM_THREADS", default_value_t = 1)]
    pub sim_threads: usize,

    /// Most rooms open at once.
    #[arg(long, env = "STADIUM_MAX_ROOMS", default_value_t = 5_000)]
    pub max_rooms: usize,

    /// Most rooms one session may have open at once.
    #[arg(long, env = "STADIUM_MAX_ROOMS_PER_SESSION", default_value_t = 4)]
    pub max_rooms_per_session: usize,

    /// Most connected sessions.
    #[arg(long, env = "STADIUM_MAX_SESSIONS", default_value_t = 20_000)]
    pub max_sessions: usize,

    /// Seconds an empty room stays open before it closes.
    #[arg(long, env = "STADIUM_EMPTY_ROOM_SECS", default_value_t = 30.0)]
    pub empty_room_secs: f64,

    /// Seconds a player whose connection dropped keeps the seat, waiting
    /// to resume (0: no resume).
    #[arg(long, env = "STADIUM_RESUME_GRACE_SECS", default_value_t = 30.0)]
    pub resume_grace_secs: f64,

    /// Seconds shutdown waits, after telling every client, for the
    /// connections to close before exiting.
    #[arg(long, env = "STADIUM_DRAIN_SECS", default_value_t = 10.0)]
    pub drain_secs: f64,

    /// Seconds a connection has to say hello.
    #[arg(long, env = "STADIUM_HELLO_SECS", default_value_t = 10.0)]
    pub hello_secs: f64,

    /// Bytes of events, chat and replies queued for one client before it
    /// is dropped as too slow (snapshots never queue: only the newest is
    /// kept). The worst tick, a trivia round end, is at most three
    /// frames (reveal, scores, next question) of at most 64 KiB each, so
    /// the default holds five of them.
    #[arg(long, env = "STADIUM_OUTBOUND_QUEUE_BYTES", default_value_t = 1024 * 1024)]
    pub outbound_queue_bytes: usize,

    /// Longest chat line, in characters.
    #[arg(long, env = "STADIUM_CHAT_MAX_CHARS", default_value_t = 280)]
    pub chat_max_chars: usize,

    /// Chat lines per second one client may send (bursts of five allowed).
    #[arg(long, env = "STADIUM_CHAT_PER_SEC", default_value_t = 1.0)]
    pub chat_per_sec: f64,

    /// Messages per second one client may send (bursts of twice that).
    /// An arena player sends an input 20 times and an acknowledgement up
    /// to 60 times a second.
    #[arg(long, env = "STADIUM_MSGS_PER_SEC", default_value_t = 150.0)]
    pub msgs_per_sec: f64,

    /// Most rooms the sessions of one IP address may have open at once.
    #[arg(long, env = "STADIUM_MAX_ROOMS_PER_ADDRESS", default_value_t = 16)]
    pub max_rooms_per_address: usize,

    /// Most seats that dropped players from one IP address may keep
    /// waiting for a resume at once; past it, a dropped player's seat is
    /// given up at once. Load tests that drop many bots from one machine
    /// need it raised.
    #[arg(long, env = "STADIUM_MAX_AWAY_SEATS_PER_ADDRESS", default_value_t = 16)]
    pub max_away_seats_per_address: usize,

    /// Most seats a room may have, whatever its game allows.
    #[arg(long, env = "STADIUM_MAX_PLAYERS_PER_ROOM", default_value_t = 200)]
    pub max_players_per_room: u16,

    /// Most open connections (QUIC and WebSocket, greeted or not) from one
    /// IP address. Load tests from one machine need it raised.
    #[arg(
        long,
        env = "STADIUM_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 1_024
    )]
    pub max_connections_per_address: usize,

    /// Seconds a connection has to finish its QUIC handshake or send its
    /// HTTP request headers (the WebSocket upgrade).
    #[arg(long, env = "STADIUM_HANDSHAKE_SECS", default_value_t = 5.0)]
    pub handshake_secs: f64,

    /// Seconds after which a QUIC connection from which nothing arrived,
    /// not even a keep-alive (sent every 5 s or a third of this), is closed.
    #[arg(long, env = "STADIUM_QUIC_IDLE_SECS", default_value_t = 30.0)]
    pub quic_idle_secs: f64,

    /// Seconds after which a WebSocket connection from which nothing
    /// arrived, not even the pong to the server's ping (sent every third
    /// of this), is closed.
    #[arg(long, env = "STADIUM_WS_IDLE_SECS", default_value_t = 30.0)]
    pub ws_idle_secs: f64,

    /// Longest nickname, in characters.
    #[arg(long, env = "STADIUM_NICKNAME_MAX_CHARS", default_value_t = 20)]
    pub nickname_max_chars: usize,

    /// Game inputs per second one client may send (bursts of twice that);
    /// a tick applies at most one per player whatever arrives.
    #[arg(long, env = "STADIUM_INPUTS_PER_SEC", default_value_t = 60.0)]
    pub inputs_per_sec: f64,

    /// Refused messages (bad frames, limits) before a client is
    /// disconnected as hostile.
    #[arg(long, env = "STADIUM_MAX_STRIKES", default_value_t = 50)]
    pub max_strikes: u32,

    /// Largest WebSocket message accepted, in bytes; one byte more closes
    /// the connection with 1009. At most the protocol's 64 KiB frame limit.
    #[arg(long, env = "STADIUM_WS_MAX_MESSAGE_BYTES", default_value_t = MAX_FRAME_LEN)]
    pub ws_max_message_bytes: usize,

    /// Largest single WebSocket frame accepted, in bytes (a message may
    /// arrive in several), at most --ws-max-message-bytes.
    #[arg(long, env = "STADIUM_WS_MAX_FRAME_BYTES", default_value_t = MAX_FRAME_LEN)]
    pub ws_max_frame_bytes: usize,

    /// Bytes a WebSocket may buffer for a client before its writer waits.
    #[arg(long, env = "STADIUM_WS_WRITE_BUFFER_BYTES", default_value_t = 1024 * 1024)]
    pub ws_write_buffer_bytes: usize,

    /// Serve /ws-echo: a WebSocket echo endpoint with the same WebSocket
    /// settings as /ws, for conformance suites. Off in production.
    #[arg(long, env = "STADIUM_WS_ECHO", value_parser = BoolishValueParser::new())]
    pub ws_echo: bool,

    /// Log as JSON lines instead of human-readable text.
    #[arg(long, env = "STADIUM_LOG_JSON", value_parser = BoolishValueParser::new())]
    pub log_json: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config::parse_from(["stadium-server"])
    }
}

impl Config {
    /// A configuration for tests and embedding: both listeners on ephemeral
    /// loopback ports.
    pub fn ephemeral() -> Self {
        Config {
            quic_addr: "127.0.0.1:0".parse().expect("valid address"),
            http_addr: "127.0.0.1:0".parse().expect("valid address"),
            ..Config::default()
        }
    }

    /// How long an empty room waits before closing.
    pub fn empty_room_grace(&self) -> Duration {
        Duration::from_secs_f64(self.empty_room_secs.max(0.0))
    }

    /// How long a QUIC handshake or an HTTP request's headers may take.
    pub fn handshake_deadline(&self) -> Duration {
        Duration::from_secs_f64(self.handshake_secs.max(0.1))
    }

    /// How long a silent WebSocket connection lives.
    pub fn ws_idle_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.ws_idle_secs.clamp(1.0, 600.0))
    }

    /// How long a silent QUIC connection lives.
    pub fn quic_idle_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.quic_idle_secs.clamp(1.0, 600.0))
    }

    /// The WebSocket limits, clamped to the protocol's frame limit.
    pub fn ws_limits(&self) -> WsLimits {
        let message = self.ws_max_message_bytes.clamp(1, MAX_FRAME_LEN);
        WsLimits {
            max_message: message,
            max_frame: self.ws_max_frame_bytes.clamp(1, message),
            max_write_buffer: self.ws_write_buffer_bytes.max(MAX_FRAME_LEN + 1),
        }
    }

    /// How long a dropped player's seat waits for a resume.
    pub fn resume_grace(&self) -> Duration {
        Duration::from_secs_f64(self.resume_grace_secs.max(0.0))
    }

    /// How long shutdown waits for connections to close.
    pub fn drain(&self) -> Duration {
        Duration::from_secs_f64(self.drain_secs.max(0.0))
    }

    /// How long a connection may take to say hello.
    pub fn hello_deadline(&self) -> Duration {
        Duration::from_secs_f64(self.hello_secs.max(0.1))
    }
}

/// The WebSocket layer's limits, shared by /ws and /ws-echo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WsLimits {
    /// Largest message, in bytes.
    pub max_message: usize,
    /// Largest frame, in bytes.
    pub max_frame: usize,
    /// Bytes buffered for writing before a send waits (tungstenite needs
    /// it larger than one message).
    pub max_write_buffer: usize,
}
