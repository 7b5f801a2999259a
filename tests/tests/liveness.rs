//! Liveness: heartbeats are the transports' own (QUIC keep-alives,
//! WebSocket pings), so a player who says nothing during a long question
//! stays, while a peer that stopped answering is dropped after the idle
//! timeout (case C20).

mod common;

use std::time::Duration;

use common::{Wire, connect, create_trivia, join, next, quick_trivia, within};
use futures_util::SinkExt;
use stadium_shared::codec::{self, Format};
use stadium_shared::{ClientMsg, Event, OpenQuestion, PROTOCOL_VERSION, ServerMsg, TriviaEvent};
use tokio_tungstenite::tungstenite::Message;

/// Idle timeout of the test server; the silence lasts several of them.
const IDLE_SECS: f64 = 1.0;
const SILENCE: Duration = Duration::from_millis(3_500);

fn is_question(msg: &ServerMsg) -> bool {
    matches!(
        msg,
        ServerMsg::Event {
            event: Event::Trivia(TriviaEvent::Question(OpenQuestion { .. })),
            ..
        }
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c20_silent_players_stay_through_a_long_question_and_a_dead_peer_is_dropped() {
    let server = common::start_with(|config| {
        config.quic_idle_secs = IDLE_SECS;
        config.ws_idle_secs = IDLE_SECS;
    })
    .await;
    let (mut quic, _) = connect(&server, Wire::Quic, "Quiet").await;
    let (mut ws, _) = connect(&server, Wire::WsJson, "Still").await;
    let mut settings = quick_trivia(2, 2);
    settings.question_secs = 60;
    let room = create_trivia(&mut quic, settings).await;
    join(&mut quic, room.code.as_str()).await;
    join(&mut ws, room.code.as_str()).await;
    next(&mut quic, "question", is_question).await;
    next(&mut ws, "question", is_question).await;

    // A peer that greets and then never reads again: it answers no ping.
    let (mut dead, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .expect("the WebSocket opens");
    let hello = ClientMsg::Hello {
        version: PROTOCOL_VERSION,
        nickname: "Gone".into(),
    };
    let hello = codec::encode(&hello, Format::Postcard);
    dead.send(Message::Binary(hello.into())).await.unwrap();
    within("the dead peer's hello", async {
        while server.state().session_count() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;

    // Nobody sends anything: the question is open for a minute.
    let silence = tokio::time::Instant::now();
    within("the dead peer is dropped", async {
        while server.state().session_count() > 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let dropped_after = silence.elapsed();
    assert!(
        dropped_after >= Duration::from_secs_f64(IDLE_SECS) - Duration::from_millis(100),
        "dropped after {dropped_after:?}, before the idle timeout"
    );
    tokio::time::sleep_until(silence + SILENCE).await;

    // Both silent players are still connected and seated.
    for (client, nonce) in [(&mut quic, 1), (&mut ws, 2)] {
        client
            .send(&ClientMsg::Ping { nonce })
            .await
            .expect("still connected");
        let pong = next(client, "pong", |m| {
            matches!(m, ServerMsg::Pong { .. } | ServerMsg::Left { .. })
        })
        .await;
        assert_eq!(pong, ServerMsg::Pong { nonce });
    }
    assert_eq!(server.state().session_count(), 2);
    let rooms = server.state().lobby.list();
    assert_eq!(rooms[0].players, 2, "{rooms:?}");
    drop(dead);
    server.shutdown(Duration::from_secs(2)).await;
}
