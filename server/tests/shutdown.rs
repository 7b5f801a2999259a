//! The real binary shuts down gracefully on SIGTERM and SIGINT: a
//! connected player is told why, its connection is closed with "going
//! away", and the process exits 0 within the drain timeout.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use stadium_shared::codec::{self, Format};
use stadium_shared::{ClientMsg, ErrorCode, PROTOCOL_VERSION, ServerMsg};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const STEP: Duration = Duration::from_secs(30);

/// Starts the binary on ephemeral ports and returns it with its WebSocket URL.
fn spawn_server() -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stadium-server"))
        .args(["--quic-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
        .args(["--drain-secs", "5"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the server prints its addresses")
            .expect("readable stdout");
        if let Some(url) = line.trim().strip_prefix("WebSocket") {
            break url.trim().to_owned();
        }
    };
    // Read on, so that the server never writes to a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, url)
}

fn decode(msg: Message) -> Option<ServerMsg> {
    match msg {
        Message::Binary(bytes) => Some(codec::decode_server(&bytes, Format::Postcard).unwrap()),
        _ => None,
    }
}

/// Waits for the process to exit, polling; fails after `limit`.
async fn exit_status(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let until = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("the child can be waited on") {
            return status;
        }
        assert!(
            Instant::now() < until,
            "the server did not exit in {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn sigterm_and_sigint_tell_connected_players_why_and_exit_zero() {
    for signal in ["-TERM", "-INT"] {
        shuts_down_on(signal).await;
    }
}

async fn shuts_down_on(signal: &str) {
    let (mut child, url) = spawn_server();
    let (mut socket, _) = tokio::time::timeout(STEP, tokio_tungstenite::connect_async(&url))
        .await
        .expect("connect in time")
        .expect("the WebSocket opens");
    let hello = ClientMsg::Hello {
        version: PROTOCOL_VERSION,
        nickname: "Ada".into(),
    };
    let hello = codec::encode(&hello, Format::Postcard);
    socket.send(Message::Binary(hello.into())).await.unwrap();
    let welcome = tokio::time::timeout(STEP, socket.next())
        .await
        .expect("welcome in time")
        .expect("open")
        .unwrap();
    assert!(matches!(decode(welcome), Some(ServerMsg::Welcome { .. })));

    let killed = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());

    // The player hears why, then the socket closes with "going away".
    let mut told = false;
    let mut close = None;
    while let Some(msg) = tokio::time::timeout(STEP, socket.next())
        .await
        .expect("the server speaks before closing")
    {
        match msg {
            // Polling on sends the close reply; then the stream ends.
            Ok(Message::Close(frame)) => close = frame.map(|f| f.code),
            Ok(msg) => {
                if let Some(ServerMsg::Error { code, .. }) = decode(msg) {
                    told |= code == ErrorCode::ShuttingDown;
                }
            }
            Err(err) => panic!("socket failed before the close handshake: {err}"),
        }
    }
    assert!(told, "{signal}: a shutting-down error reached the player");
    assert_eq!(close, Some(CloseCode::Away), "{signal}");

    // Exits within the drain timeout, successfully.
    let status = exit_status(&mut child, Duration::from_secs(5)).await;
    assert_eq!(status.code(), Some(0), "{signal}: {status:?}");
}
