//! Cases from the field (`cases/README.md` of the team folder): situations
//! real clients caused on servers like this one, each with the answer
//! Stadium must give. Each test names its case.

mod common;

use std::time::Duration;

use common::{Wire, connect, create_trivia, join, next, next_error, quick_trivia, within};
use futures_util::{SinkExt, StreamExt};
use stadium_bot::Client;
use stadium_shared::codec::{self, Format};
use stadium_shared::trivia::TriviaSettings;
use stadium_shared::trivia::pack::Pack;
use stadium_shared::{
    Channel, ClientMsg, ErrorCode, Event, Input, OpenQuestion, ServerMsg, SessionId, TriviaEvent,
};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn is_question(msg: &ServerMsg) -> bool {
    matches!(
        msg,
        ServerMsg::Event {
            event: Event::Trivia(TriviaEvent::Question(OpenQuestion { .. })),
            ..
        }
    )
}

fn is_reveal(msg: &ServerMsg) -> bool {
    matches!(
        msg,
        ServerMsg::Event {
            event: Event::Trivia(TriviaEvent::Reveal { .. }),
            ..
        }
    )
}

fn code_of(msg: &ServerMsg) -> ErrorCode {
    match msg {
        ServerMsg::Error { code, .. } => *code,
        other => panic!("expected an error, got {other:?}"),
    }
}

/// Pings and waits for the pong: proof the connection still works, and a
/// fence: everything the server sent before the pong has been received.
async fn ping(client: &mut Client, nonce: u64) -> Vec<ServerMsg> {
    client
        .send(&ClientMsg::Ping { nonce })
        .await
        .expect("send ping");
    let mut before = Vec::new();
    loop {
        match within("pong", client.recv())
            .await
            .expect("connection open")
        {
            ServerMsg::Pong { nonce: n } if n == nonce => return before,
            other => before.push(other),
        }
    }
}

/// Two players in a two-seat room whose first question is open.
async fn two_in_a_match(
    server: &stadium_server::Server,
    a: Wire,
    b: Wire,
) -> [(Client, SessionId); 2] {
    let mut first = connect(server, a, "Ada").await;
    let mut second = connect(server, b, "Bo").await;
    let room = create_trivia(&mut first.0, quick_trivia(2, 2)).await;
    join(&mut first.0, room.code.as_str()).await;
    join(&mut second.0, room.code.as_str()).await;
    next(&mut first.0, "question", is_question).await;
    next(&mut second.0, "question", is_question).await;
    [first, second]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c02_a_valid_message_followed_by_junk_is_refused_and_the_room_plays_on() {
    let server = common::start().await;
    for wire in Wire::ALL {
        let [(mut a, _), (mut b, _)] = two_in_a_match(&server, wire, Wire::Quic).await;
        let format = a.sender().format();
        let mut frame = codec::encode(&ClientMsg::Ping { nonce: 1 }, format);
        frame.extend_from_slice(match format {
            Format::Json => b" {\"x\":1}".as_slice(),
            Format::Postcard => &[0xde, 0xad, 0xbe, 0xef],
        });
        a.sender()
            .send_raw_reliable(&frame)
            .await
            .expect("send junk");
        let error = next_error(&mut a, "protocol error").await;
        assert_eq!(code_of(&error), ErrorCode::Malformed, "{wire:?}");
        // The whole frame was refused: its valid first message was not run.
        let answered = |m: &ServerMsg| matches!(m, ServerMsg::Pong { nonce: 1 });
        assert!(!ping(&mut a, 3).await.iter().any(answered), "{wire:?}");

        // Neither the sender nor its room is harmed: both answer, both see
        // the reveal.
        for client in [&mut a, &mut b] {
            client
                .send(&ClientMsg::Answer {
                    question: 0,
                    choice: 0,
                })
                .await
                .expect("answer");
        }
        next(&mut a, "reveal after junk", is_reveal).await;
        next(&mut b, "reveal after junk", is_reveal).await;
        assert!(
            ping(&mut a, 2)
                .await
                .iter()
                .all(|m| !matches!(m, ServerMsg::Error { .. }))
        );
    }
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c05_inputs_with_non_finite_or_huge_floats_are_refused_with_a_code() {
    let server = common::start().await;
    for wire in Wire::ALL {
        let (mut client, _) = connect(&server, wire, "Floaty").await;
        for turn in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e30] {
            let input = ClientMsg::Input(Input {
                seq: 1,
                turn,
                thrust: true,
                fire: true,
            });
            let bytes = match client.sender().format() {
                // JSON has no NaN or infinity; serde_json writes them as null.
                Format::Json if !turn.is_finite() => continue,
                format => codec::encode(&input, format),
            };
            client
                .sender()
                .send_raw_reliable(&bytes)
                .await
                .expect("send input");
            let error = next_error(&mut client, "refused input").await;
            assert_eq!(
                code_of(&error),
                ErrorCode::InvalidInput,
                "{wire:?} turn {turn}"
            );
            if wire == Wire::Quic {
                client
                    .sender()
                    .send_raw_datagram(&bytes)
                    .await
                    .expect("send datagram");
                let error = next_error(&mut client, "refused datagram input").await;
                assert_eq!(
                    code_of(&error),
                    ErrorCode::InvalidInput,
                    "datagram turn {turn}"
                );
            }
        }
        if client.sender().format() == Format::Json {
            let null = br#"{"input":{"seq":1,"turn":null,"thrust":true,"fire":false}}"#;
            client
                .sender()
                .send_raw_reliable(null)
                .await
                .expect("send null turn");
            assert_eq!(
                code_of(&next_error(&mut client, "null turn").await),
                ErrorCode::Malformed
            );
        }
        ping(&mut client, 9).await;
    }
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c07_joining_a_room_that_just_closed_says_room_not_found() {
    let server = common::start_with(|config| config.empty_room_secs = 0.2).await;
    let (mut client, _) = connect(&server, Wire::WsJson, "Late").await;
    let room = create_trivia(&mut client, quick_trivia(1, 2)).await;
    let closed = Event::RoomClosed {
        code: room.code.clone(),
    };
    next(
        &mut client,
        "room closed on the lobby channel",
        |m| matches!(m, ServerMsg::Event { channel: Channel::Lobby, event, .. } if *event == closed),
    )
    .await;
    for code in [
        room.code.as_str().to_owned(),
        room.code.as_str().to_lowercase(),
    ] {
        client
            .send(&ClientMsg::JoinRoom {
                code,
                spectate: false,
            })
            .await
            .expect("send join");
        let error = next_error(&mut client, "join refused").await;
        assert_eq!(code_of(&error), ErrorCode::RoomNotFound);
    }
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c08_leave_leave_disconnect_is_harmless_and_announced_once() {
    let server = common::start().await;
    let (mut stayer, _) = connect(&server, Wire::Quic, "Stays").await;
    let (mut leaver, leaver_id) = connect(&server, Wire::WsPostcard, "Goes").await;
    let room = create_trivia(&mut stayer, quick_trivia(1, 4)).await;
    join(&mut stayer, room.code.as_str()).await;
    join(&mut leaver, room.code.as_str()).await;

    leaver
        .send(&ClientMsg::LeaveRoom)
        .await
        .expect("first leave");
    leaver
        .send(&ClientMsg::LeaveRoom)
        .await
        .expect("second leave");
    let left = next(&mut leaver, "left", |m| {
        matches!(m, ServerMsg::Left { .. } | ServerMsg::Error { .. })
    })
    .await;
    assert!(
        matches!(left, ServerMsg::Left { reason: None, .. }),
        "{left:?}"
    );
    let after = ping(&mut leaver, 1).await;
    let harmful = |m: &ServerMsg| matches!(m, ServerMsg::Left { .. } | ServerMsg::Error { .. });
    assert!(!after.iter().any(harmful), "{after:?}");
    leaver.sender().close().await;
    drop(leaver);
    within("the leaver's session ends", async {
        while server.state().session_count() > 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;

    // The stayer's own chat line is queued after everything the leaver did.
    stayer
        .send(&ClientMsg::Chat {
            text: "still here".into(),
        })
        .await
        .expect("chat");
    let mut departures = 0;
    loop {
        match within("own chat", stayer.recv()).await.expect("open") {
            ServerMsg::Event {
                event: Event::MemberLeft { session, .. },
                ..
            } if session == leaver_id => departures += 1,
            ServerMsg::Event {
                event: Event::Chat { text, .. },
                ..
            } if text == "still here" => break,
            _ => {}
        }
    }
    assert_eq!(departures, 1);
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c09_a_room_nobody_joins_closes_after_the_grace_period() {
    let server = common::start_with(|config| config.empty_room_secs = 0.3).await;
    let (mut client, _) = connect(&server, Wire::Quic, "Creator").await;
    let created = std::time::Instant::now();
    let room = create_trivia(&mut client, quick_trivia(1, 2)).await;
    assert_eq!(server.state().lobby.room_count(), 1);
    let closed = Event::RoomClosed {
        code: room.code.clone(),
    };
    next(
        &mut client,
        "room closed",
        |m| matches!(m, ServerMsg::Event { channel: Channel::Lobby, event, .. } if *event == closed),
    )
    .await;
    // Not before the grace period: an early close would strand a creator
    // on its way in.
    assert!(
        created.elapsed() >= Duration::from_millis(300),
        "{:?}",
        created.elapsed()
    );
    assert_eq!(server.state().lobby.room_count(), 0);
    let rooms = reqwest::get(format!("http://{}/api/rooms", server.http_addr()))
        .await
        .expect("GET /api/rooms")
        .text()
        .await
        .expect("body");
    let rooms: serde_json::Value = serde_json::from_str(&rooms).expect("JSON");
    assert_eq!(rooms, serde_json::json!([]));
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c22_a_message_naming_another_player_acts_only_as_its_sender() {
    let server = common::start().await;
    let [(mut a, a_id), (mut b, b_id)] = two_in_a_match(&server, Wire::WsJson, Wire::Quic).await;

    // A's answer claims to be B's; the claim is ignored, the answer is A's.
    let forged = format!(
        r#"{{"answer":{{"question":0,"choice":1,"session":{},"player":{}}}}}"#,
        b_id.0, b_id.0
    );
    a.sender()
        .send_raw_reliable(forged.as_bytes())
        .await
        .expect("send forged answer");
    let reply = next(&mut a, "A's answer", |m| {
        matches!(
            m,
            ServerMsg::AnswerAccepted { .. } | ServerMsg::Error { .. }
        )
    })
    .await;
    assert!(
        matches!(reply, ServerMsg::AnswerAccepted { question: 0, .. }),
        "{reply:?}"
    );
    let forged_chat = format!(r#"{{"chat":{{"text":"I am Bo","from":{}}}}}"#, b_id.0);
    a.sender()
        .send_raw_reliable(forged_chat.as_bytes())
        .await
        .expect("send forged chat");

    // B may still answer for itself, and sees A's chat as A's.
    b.send(&ClientMsg::Answer {
        question: 0,
        choice: 2,
    })
    .await
    .expect("B answers");
    let (mut accepted, mut chat_from, mut results) = (false, None, None);
    while results.is_none() {
        match within("B's view of the question", b.recv())
            .await
            .expect("open")
        {
            ServerMsg::AnswerAccepted { question: 0, .. } => accepted = true,
            ServerMsg::Event {
                event: Event::Chat { from, .. },
                ..
            } => chat_from = Some(from),
            ServerMsg::Event {
                event: Event::Trivia(TriviaEvent::Reveal { results: r, .. }),
                ..
            } => results = Some(r),
            ServerMsg::Error { code, message } => panic!("B refused: {code}: {message}"),
            _ => {}
        }
    }
    assert!(accepted, "B's own answer was accepted");
    assert_eq!(chat_from, Some(a_id));
    let results = results.expect("loop ends on the reveal");
    let choice_of = |id| {
        results
            .iter()
            .find(|r| r.session == id)
            .and_then(|r| r.choice)
    };
    assert_eq!(choice_of(a_id), Some(1));
    assert_eq!(choice_of(b_id), Some(2));
    server.shutdown(Duration::from_secs(2)).await;
}

/// A raw JSON WebSocket that records the server's text exactly as sent.
async fn raw_json_socket(
    server: &stadium_server::Server,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut request = server.ws_url().into_client_request().expect("valid URL");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        stadium_shared::JSON_SUBPROTOCOL.parse().expect("header"),
    );
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        stadium_shared::JSON_SUBPROTOCOL
    );
    socket
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c23_the_correct_answer_appears_nowhere_before_the_reveal() {
    let server = common::start().await;
    let (mut host, _) = connect(&server, Wire::Quic, "Host").await;
    let settings = TriviaSettings {
        question_secs: 2,
        ..quick_trivia(3, 2)
    };
    let room = create_trivia(&mut host, settings).await;
    join(&mut host, room.code.as_str()).await;

    let mut spy = raw_json_socket(&server).await;
    let send = |msg: &ClientMsg| {
        Message::text(String::from_utf8(codec::encode(msg, Format::Json)).unwrap())
    };
    spy.send(send(&ClientMsg::Hello {
        version: stadium_shared::PROTOCOL_VERSION,
        nickname: "Spy".into(),
    }))
    .await
    .expect("hello");
    spy.send(send(&ClientMsg::JoinRoom {
        code: room.code.to_string(),
        spectate: false,
    }))
    .await
    .expect("join");

    // The host answers right as soon as it can: were anyone's answer or
    // its judgement leaked, the spy would see it before the reveal.
    let host_answers = tokio::spawn(async move {
        let pack = Pack::built_in();
        let question = next(&mut host, "host's question", is_question).await;
        let ServerMsg::Event {
            event:
                Event::Trivia(TriviaEvent::Question(OpenQuestion {
                    index,
                    text,
                    choices,
                    ..
                })),
            ..
        } = question
        else {
            unreachable!("filtered above")
        };
        let right = choices
            .iter()
            .position(|c| Some(c.as_str()) == pack.answer_to(&text));
        let choice = right.expect("the right answer is offered") as u8;
        host.send(&ClientMsg::Answer {
            question: index,
            choice,
        })
        .await
        .expect("answer");
        next(&mut host, "host's reveal", is_reveal).await;
    });

    // Record every frame the spy receives until the first reveal; the spy
    // answers each question so that the server has something to judge.
    let pack = Pack::built_in();
    let mut recorded = Vec::new();
    let mut questions = 0;
    loop {
        let frame = within("spy frames", spy.next())
            .await
            .expect("open")
            .expect("frame");
        let Message::Text(text) = frame else { continue };
        let text = text.as_str().to_owned();
        let msg: ServerMsg =
            codec::decode_server(text.as_bytes(), Format::Json).expect("valid JSON");
        if is_reveal(&msg) {
            break;
        }
        if let ServerMsg::Event {
            event:
                Event::Trivia(TriviaEvent::Question(OpenQuestion {
                    index,
                    choices,
                    text: q,
                    ..
                })),
            ..
        } = &msg
        {
            questions += 1;
            // The choices are shown, so the right one is among them; what
            // must not be sent is which one it is.
            assert!(
                choices
                    .iter()
                    .any(|c| Some(c.as_str()) == pack.answer_to(q))
            );
            spy.send(send(&ClientMsg::Answer {
                question: *index,
                choice: 3,
            }))
            .await
            .expect("answer");
        }
        recorded.push(text);
    }
    assert_eq!(questions, 1);
    within("the host sees the reveal", host_answers)
        .await
        .expect("host task");
    for text in &recorded {
        for key in ["choice", "results", "scoreboard"] {
            let value: serde_json::Value = serde_json::from_str(text).expect("JSON");
            assert!(!has_key(&value, key), "{key} before the reveal: {text}");
        }
        let value: serde_json::Value = serde_json::from_str(text).expect("JSON");
        assert!(
            !has_key(&value, "correct"),
            "leaked before the reveal: {text}"
        );
        assert!(
            !has_key(&value, "correct_answer"),
            "leaked before the reveal: {text}"
        );
        assert!(
            !has_key(&value, "points"),
            "leaked before the reveal: {text}"
        );
    }
    server.shutdown(Duration::from_secs(2)).await;
}

fn has_key(value: &serde_json::Value, key: &str) -> bool {
    match value {
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k == key || has_key(v, key)),
        serde_json::Value::Array(items) => items.iter().any(|v| has_key(v, key)),
        _ => false,
    }
}
