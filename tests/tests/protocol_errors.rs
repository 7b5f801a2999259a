//! Refusals at the protocol level: each gets its error code, and the server
//! goes on serving everyone else.

mod common;

use std::time::Duration;

use common::{Wire, connect, connect_raw, next_error, within};
use futures_util::{SinkExt, StreamExt};
use stadium_bot::ClientError;
use stadium_shared::codec::{self, Format};
use stadium_shared::{ClientMsg, ErrorCode, MAX_FRAME_LEN, PROTOCOL_VERSION, ServerMsg};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The server still greets a new client and answers its ping.
async fn still_serving(server: &stadium_server::Server) {
    for wire in Wire::ALL {
        let (mut client, _) = connect(server, wire, "Next").await;
        client
            .send(&ClientMsg::Ping { nonce: 7 })
            .await
            .expect("ping");
        let pong = common::next(&mut client, "pong", |m| matches!(m, ServerMsg::Pong { .. })).await;
        assert_eq!(pong, ServerMsg::Pong { nonce: 7 });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_protocol_version_is_refused_naming_both() {
    let server = common::start().await;
    for wire in Wire::ALL {
        let mut client = connect_raw(&server, wire).await;
        let hello = ClientMsg::Hello {
            version: PROTOCOL_VERSION + 41,
            nickname: "Old".into(),
        };
        client.send(&hello).await.expect("send hello");
        let ServerMsg::Error { code, message } = next_error(&mut client, "refusal").await else {
            unreachable!()
        };
        assert_eq!(code, ErrorCode::VersionMismatch);
        assert!(
            message.contains(&format!("version {PROTOCOL_VERSION}")),
            "{message}"
        );
        assert!(
            message.contains(&format!("{}", PROTOCOL_VERSION + 41)),
            "{message}"
        );
        let end = within("close", client.recv()).await;
        assert!(matches!(end, Err(ClientError::Closed)), "{end:?}");
    }
    still_serving(&server).await;
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_message_that_is_not_hello_is_refused() {
    let server = common::start().await;
    let mut client = connect_raw(&server, Wire::Quic).await;
    client.send(&ClientMsg::ListRooms).await.expect("send");
    let error = next_error(&mut client, "refusal").await;
    assert!(
        matches!(
            error,
            ServerMsg::Error {
                code: ErrorCode::HelloRequired,
                ..
            }
        ),
        "{error:?}"
    );
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_nickname_is_refused() {
    let server = common::start().await;
    for nickname in ["", "   ", "a\u{0}b", &"n".repeat(21)] {
        let mut client = connect_raw(&server, Wire::WsJson).await;
        let refused = client.hello(nickname).await;
        assert!(
            matches!(
                refused,
                Err(ClientError::Refused {
                    code: ErrorCode::InvalidNickname,
                    ..
                })
            ),
            "{nickname:?}: {refused:?}"
        );
    }
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_quic_frame_is_refused_before_it_is_read() {
    let server = common::start().await;
    let (mut client, _) = connect(&server, Wire::Quic, "Big").await;
    // Only the header is sent: the server must refuse on the announced
    // length alone, never waiting for (or buffering) the payload.
    let header = ((MAX_FRAME_LEN + 1) as u32).to_be_bytes();
    client
        .sender()
        .write_raw_stream(&header)
        .await
        .expect("send header");
    let error = next_error(&mut client, "frame too large").await;
    assert!(
        matches!(
            error,
            ServerMsg::Error {
                code: ErrorCode::FrameTooLarge,
                ..
            }
        ),
        "{error:?}"
    );
    let end = within("close", client.recv()).await;
    assert!(matches!(end, Err(ClientError::Closed)), "{end:?}");
    still_serving(&server).await;
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c03_a_websocket_message_one_byte_over_the_limit_closes_with_1009() {
    let server = common::start().await;
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .expect("connect");
    let hello = ClientMsg::Hello {
        version: PROTOCOL_VERSION,
        nickname: "Big".into(),
    };
    socket
        .send(Message::binary(codec::encode(&hello, Format::Postcard)))
        .await
        .expect("hello");
    socket
        .send(Message::binary(vec![0u8; MAX_FRAME_LEN + 1]))
        .await
        .expect("send big");
    let code = within("close frame", async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
                Some(Ok(_)) => continue,
                Some(Err(err)) => panic!("socket failed before closing: {err}"),
                None => return None,
            }
        }
    })
    .await;
    assert_eq!(code, Some(CloseCode::Size));
    still_serving(&server).await;
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_room_code_gets_room_not_found() {
    let server = common::start().await;
    for wire in Wire::ALL {
        let (mut client, _) = connect(&server, wire, "Lost").await;
        for code in ["ZZZZ", "bad!", "", "K7QXK7QX"] {
            let join = ClientMsg::JoinRoom {
                code: code.into(),
                spectate: false,
            };
            client.send(&join).await.expect("send join");
            let error = next_error(&mut client, "room not found").await;
            assert!(
                matches!(
                    error,
                    ServerMsg::Error {
                        code: ErrorCode::RoomNotFound,
                        ..
                    }
                ),
                "{code:?}: {error:?}"
            );
        }
        // A refusal quotes what it refuses only briefly: a 50 KB code must
        // not come back as a 50 KB error, to this client or into its queue.
        let huge = "Z".repeat(50_000);
        let join = ClientMsg::JoinRoom {
            code: huge,
            spectate: false,
        };
        client.send(&join).await.expect("send huge join");
        let ServerMsg::Error { code, message } = next_error(&mut client, "refusal").await else {
            unreachable!()
        };
        assert_eq!(code, ErrorCode::RoomNotFound);
        assert!(message.len() < 400, "{} bytes", message.len());
    }
    still_serving(&server).await;
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_cannot_open_rooms_without_end() {
    use stadium_shared::GameSettings;
    use stadium_shared::asteroids::AsteroidsSettings;

    let server = common::start_with(|config| config.max_rooms_per_session = 3).await;
    let (mut client, _) = connect(&server, Wire::Quic, "Opener").await;
    for _ in 0..3 {
        common::create_trivia(&mut client, common::quick_trivia(1, 2)).await;
    }
    let settings = GameSettings::Asteroids(AsteroidsSettings::default());
    client
        .send(&ClientMsg::CreateRoom { settings })
        .await
        .expect("send create");
    let error = next_error(&mut client, "fourth room refused").await;
    assert!(
        matches!(
            error,
            ServerMsg::Error {
                code: ErrorCode::TooManyRooms,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(server.state().lobby.room_count(), 3);
    // Another session still may.
    let (mut other, _) = connect(&server, Wire::WsJson, "Other").await;
    common::create_trivia(&mut other, common::quick_trivia(1, 2)).await;
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_player_hosts_a_room_whose_creator_stays_away() {
    let server = common::start().await;
    let (mut creator, _) = connect(&server, Wire::Quic, "Creator").await;
    let room = common::create_trivia(&mut creator, common::quick_trivia(1, 4)).await;
    let (mut player, player_id) = connect(&server, Wire::WsJson, "Player").await;
    let join = ClientMsg::JoinRoom {
        code: room.code.to_string(),
        spectate: false,
    };
    player.send(&join).await.expect("send join");
    let joined = common::next(&mut player, "joined", |m| {
        matches!(m, ServerMsg::Joined { .. })
    })
    .await;
    let ServerMsg::Joined { host, .. } = joined else {
        unreachable!()
    };
    assert_eq!(host, Some(player_id));
    // As host it may start the match.
    player
        .send(&ClientMsg::StartMatch)
        .await
        .expect("send start");
    let started = common::next(&mut player, "start", |m| match m {
        ServerMsg::Event { event, .. } => {
            matches!(
                event,
                stadium_shared::Event::Trivia(stadium_shared::TriviaEvent::MatchStarted { .. })
            )
        }
        ServerMsg::Error { .. } => true,
        _ => false,
    })
    .await;
    assert!(matches!(started, ServerMsg::Event { .. }), "{started:?}");
    server.shutdown(Duration::from_secs(2)).await;
}
