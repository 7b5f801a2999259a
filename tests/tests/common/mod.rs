//! What every end-to-end test needs: a real server on ephemeral loopback
//! ports, clients on each wire, and waits that fail with a message instead
//! of hanging.

#![allow(dead_code, reason = "each test file uses its own part of the helpers")]

pub mod raw_ws;

use std::future::Future;
use std::time::Duration;

use stadium_bot::{Client, ConnectOptions};
use stadium_server::{Config, Server};
use stadium_shared::trivia::TriviaSettings;
use stadium_shared::{ClientMsg, GameSettings, Role, RoomInfo, ServerMsg, SessionId};

/// Longest any single step of a test may take before it fails. Generous:
/// tests wait for events, and a loaded CI machine is slow, not broken.
pub const STEP: Duration = Duration::from_secs(30);

/// The three ways a client can speak to a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// QUIC stream and datagrams, postcard.
    Quic,
    /// WebSocket, binary postcard.
    WsPostcard,
    /// WebSocket, JSON text (`stadium.json`).
    WsJson,
}

impl Wire {
    /// Every wire, for tests that cover all of them.
    pub const ALL: [Wire; 3] = [Wire::Quic, Wire::WsPostcard, Wire::WsJson];
}

/// A server with the defaults, on ephemeral loopback ports.
pub async fn start() -> Server {
    start_with(|_| {}).await
}

/// A server with the defaults changed by `configure`.
pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Server {
    let mut config = Config::ephemeral();
    configure(&mut config);
    Server::start(config)
        .await
        .expect("the server starts on ephemeral ports")
}

/// Connects over `wire` without saying hello.
pub async fn connect_raw(server: &Server, wire: Wire) -> Client {
    let options = ConnectOptions {
        cert_sha256: Some(server.cert_sha256().to_owned()),
        http_port: server.http_addr().port(),
        json: wire == Wire::WsJson,
    };
    let url = match wire {
        Wire::Quic => server.quic_url(),
        Wire::WsPostcard | Wire::WsJson => server.ws_url(),
    };
    within("connect", Client::connect(&url, &options))
        .await
        .expect("the client connects")
}

/// Connects over `wire` and greets the server as `nickname`.
pub async fn connect(server: &Server, wire: Wire, nickname: &str) -> (Client, SessionId) {
    let mut client = connect_raw(server, wire).await;
    let session = within("hello", client.hello(nickname))
        .await
        .expect("the server welcomes");
    (client, session)
}

/// Awaits `future`, failing the test if it takes longer than [`STEP`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STEP, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {STEP:?} waiting for {what}"),
    }
}

/// The next message `wanted` accepts, skipping others.
pub async fn next(
    client: &mut Client,
    what: &str,
    wanted: impl FnMut(&ServerMsg) -> bool,
) -> ServerMsg {
    within(what, client.recv_until(wanted))
        .await
        .unwrap_or_else(|err| panic!("{what}: {err}"))
}

/// The next error the server sends this client.
pub async fn next_error(client: &mut Client, what: &str) -> ServerMsg {
    next(client, what, |msg| matches!(msg, ServerMsg::Error { .. })).await
}

/// Creates a room for `settings` and returns its listing.
pub async fn create_room(client: &mut Client, settings: GameSettings) -> RoomInfo {
    client
        .send(&ClientMsg::CreateRoom { settings })
        .await
        .expect("send create");
    match next(client, "room created", |m| {
        matches!(m, ServerMsg::RoomCreated { .. })
    })
    .await
    {
        ServerMsg::RoomCreated { room } => room,
        _ => unreachable!("filtered above"),
    }
}

/// Creates a trivia room with `settings` and returns its listing.
pub async fn create_trivia(client: &mut Client, settings: TriviaSettings) -> RoomInfo {
    create_room(client, GameSettings::Trivia(settings)).await
}

/// Joins the room with `code` as a player and waits to be seated.
pub async fn join(client: &mut Client, code: &str) {
    let reply = enter(client, code, false).await;
    assert!(
        matches!(reply, ServerMsg::Joined { .. }),
        "joining {code}: {reply:?}"
    );
}

/// Joins the room `code` as a spectator and checks the role it was given.
pub async fn spectate(client: &mut Client, code: &str) {
    let reply = enter(client, code, true).await;
    assert!(
        matches!(
            reply,
            ServerMsg::Joined {
                role: Role::Spectator,
                ..
            }
        ),
        "watching {code}: {reply:?}"
    );
}

/// Asks to join `code` and returns the answer: joined or an error.
async fn enter(client: &mut Client, code: &str, spectate: bool) -> ServerMsg {
    let join = ClientMsg::JoinRoom {
        code: code.to_owned(),
        spectate,
    };
    client.send(&join).await.expect("send join");
    next(client, "join reply", |m| {
        matches!(m, ServerMsg::Joined { .. } | ServerMsg::Error { .. })
    })
    .await
}

/// One sample of `name` (with its labels, as rendered) from the server's
/// `/metrics`, or 0 if it has none yet.
pub async fn metric(server: &Server, name: &str) -> f64 {
    let url = format!("http://{}/metrics", server.http_addr());
    let body = reqwest::get(url).await.expect("GET /metrics");
    let text = body.text().await.expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().expect("a number"))
}

/// Short trivia settings for tests: `questions` questions, the room starts
/// as soon as it has `players` players.
pub fn quick_trivia(questions: u16, players: u16) -> TriviaSettings {
    TriviaSettings {
        questions,
        question_secs: 10,
        reveal_secs: 1,
        max_players: players,
        start_countdown_secs: 60,
        category: None,
    }
}
