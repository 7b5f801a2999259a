//! Field cases of lifecycle and backpressure (`cases/README.md` of the team
//! folder): a client gone mid-join, a client that stops reading, and a
//! hundred players at a trivia round end. Each test names its case.

mod common;

use std::time::Duration;

use common::raw_ws::RawWs;
use common::{Wire, connect, create_room, create_trivia, join, metric, next, quick_trivia, within};
use stadium_shared::asteroids::AsteroidsSettings;
use stadium_shared::codec::{self, Format};
use stadium_shared::{
    ClientMsg, ErrorCode, Event, GameSettings, OpenQuestion, PROTOCOL_VERSION, ServerMsg,
    TriviaEvent,
};

fn arena(max_players: u16) -> GameSettings {
    GameSettings::Asteroids(AsteroidsSettings {
        max_players,
        rocks_per_wave: 0,
        ..AsteroidsSettings::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c06_a_client_gone_while_its_join_is_processed_leaves_no_ghost() {
    let server = common::start().await;
    let (mut host, _) = connect(&server, Wire::WsJson, "Host").await;
    let room = create_room(&mut host, arena(1)).await;
    let code = room.code.as_str().to_owned();
    for wire in Wire::ALL {
        for round in 0..5 {
            let (ghost, _) = connect(&server, wire, "Ghost").await;
            let join_msg = ClientMsg::JoinRoom {
                code: code.clone(),
                spectate: false,
            };
            ghost.send(&join_msg).await.expect("send join");
            drop(ghost);
            // The one seat must come free: a late join may hold it a
            // moment, never for good.
            let (mut seated, _) = connect(&server, Wire::WsPostcard, "Seated").await;
            let joined = within("the seat comes free", async {
                loop {
                    seated.send(&join_msg).await.expect("send join");
                    let reply = next(&mut seated, "join reply", |m| {
                        matches!(m, ServerMsg::Joined { .. } | ServerMsg::Error { .. })
                    })
                    .await;
                    match reply {
                        ServerMsg::Joined { members, .. } => return members,
                        ServerMsg::Error {
                            code: ErrorCode::RoomFull,
                            ..
                        } => tokio::task::yield_now().await,
                        other => panic!("{wire:?} round {round}: {other:?}"),
                    }
                }
            })
            .await;
            let names: Vec<&str> = joined.iter().map(|m| m.nickname.as_str()).collect();
            assert_eq!(names, ["Seated"], "{wire:?} round {round}: a ghost stayed");
            seated.send(&ClientMsg::LeaveRoom).await.expect("leave");
            next(&mut seated, "left", |m| matches!(m, ServerMsg::Left { .. })).await;
        }
    }
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c11_a_client_that_stops_reading_is_dropped_with_a_reason_and_others_tick_on() {
    let server = common::start_with(|config| {
        config.outbound_queue_bytes = 256 * 1024;
        config.ws_write_buffer_bytes = 0;
        config.chat_per_sec = 10_000.0;
        config.chat_max_chars = 8_000;
        config.msgs_per_sec = 10_000.0;
        config.max_strikes = u32::MAX;
    })
    .await;
    let (mut talker, talker_id) = connect(&server, Wire::WsPostcard, "Talker").await;
    let room = create_room(&mut talker, arena(4)).await;
    join(&mut talker, room.code.as_str()).await;

    // The stalled client: a tiny receive buffer, so that the server's
    // socket fills quickly once it stops reading.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("recv buffer");
    let stream = socket.connect(server.http_addr()).await.expect("connect");
    let mut stalled = RawWs::upgrade(stream, server.http_addr(), "/ws", None).await;
    let hello = ClientMsg::Hello {
        version: PROTOCOL_VERSION,
        nickname: "Stalled".into(),
    };
    stalled
        .send_binary(&codec::encode(&hello, Format::Postcard))
        .await;
    let join_msg = ClientMsg::JoinRoom {
        code: room.code.as_str().to_owned(),
        spectate: false,
    };
    stalled
        .send_binary(&codec::encode(&join_msg, Format::Postcard))
        .await;
    within("the stalled client is seated", async {
        loop {
            let (_, payload) = stalled.read_frame().await.expect("open");
            let msg = codec::decode_server(&payload, Format::Postcard).expect("decodes");
            if matches!(msg, ServerMsg::Joined { .. }) {
                return;
            }
        }
    })
    .await;

    // From now on it reads nothing, while the talker fills the room's
    // chat and reads everything.
    let before = metric(&server, "stadium_outbound_queue_full_total").await;
    let (sender, mut receiver) = talker.split();
    let line = "x".repeat(8_000);
    // A hundred lines (800 KB) a second: under the room's 16 lines a
    // tick, and well within what a reading client drains.
    let chatter = tokio::spawn(async move {
        let mut pace = tokio::time::interval(Duration::from_millis(10));
        pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            pace.tick().await;
            let chat = ClientMsg::Chat { text: line.clone() };
            if sender.send(&chat).await.is_err() {
                return;
            }
        }
    });
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let reader = tokio::spawn(async move {
        let mut ticks = Vec::new();
        loop {
            tokio::select! {
                _ = &mut stopped => return (ticks, receiver),
                msg = receiver.recv() => match msg.expect("the talker stays connected") {
                    ServerMsg::Snapshot(snapshot) => ticks.push(snapshot.tick),
                    ServerMsg::Error {
                        code: ErrorCode::SlowConsumer,
                        ..
                    } => panic!("the talker, who reads, was dropped"),
                    _ => {}
                },
            }
        }
    });
    within("the stalled client is kicked", async {
        while metric(&server, "stadium_outbound_queue_full_total").await <= before {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // It gets its reason as soon as it reads again: the error, then 1008.
    let (code, messages) = within("the stalled client's close", stalled.until_close()).await;
    assert_eq!(code, Some(1008));
    let last = messages.last().expect("the error before the close");
    assert_eq!(
        codec::decode_server(last, Format::Postcard).expect("decodes"),
        ServerMsg::error(ErrorCode::SlowConsumer)
    );
    // The talker's snapshots kept coming, in order, throughout.
    chatter.abort();
    let _ = stop.send(());
    let (ticks, mut receiver) = reader.await.expect("the talker's reader");
    let more = within("snapshots after the kick", async {
        loop {
            if let Ok(ServerMsg::Snapshot(snapshot)) = receiver.recv().await {
                return snapshot.tick;
            }
        }
    })
    .await;
    assert!(
        ticks.len() >= 10,
        "only {} snapshots while stalled",
        ticks.len()
    );
    assert!(ticks.windows(2).all(|w| w[0] < w[1]), "{ticks:?}");
    assert!(ticks.last().is_some_and(|&t| t < more));
    let _ = talker_id;
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c12_a_hundred_trivia_players_pass_a_round_end_without_a_full_queue() {
    const PLAYERS: u16 = 100;
    let server = common::start().await;
    let (mut host, _) = connect(&server, Wire::WsJson, "Host").await;
    let room = create_trivia(&mut host, quick_trivia(2, PLAYERS)).await;
    drop(host);
    let mut players = Vec::new();
    for index in 0..PLAYERS {
        let wire = Wire::ALL[usize::from(index) % 3];
        let (mut client, _) = connect(&server, wire, &format!("P{index}")).await;
        join(&mut client, room.code.as_str()).await;
        players.push(client);
    }
    let mut games = Vec::new();
    for mut client in players {
        games.push(tokio::spawn(async move {
            let mut reveals = 0;
            loop {
                let msg = within("the match", client.recv())
                    .await
                    .expect("a healthy client stays connected");
                match msg {
                    ServerMsg::Error {
                        code: ErrorCode::SlowConsumer,
                        ..
                    } => panic!("a healthy client was dropped for a full queue"),
                    ServerMsg::Event {
                        event: Event::Trivia(TriviaEvent::Question(OpenQuestion { index, .. })),
                        ..
                    } => {
                        let answer = ClientMsg::Answer {
                            question: index,
                            choice: 0,
                        };
                        client.send(&answer).await.expect("answer");
                    }
                    ServerMsg::Event {
                        event: Event::Trivia(TriviaEvent::Reveal { results, .. }),
                        ..
                    } => {
                        assert_eq!(results.len(), usize::from(PLAYERS));
                        reveals += 1;
                    }
                    ServerMsg::Event {
                        event: Event::Trivia(TriviaEvent::MatchOver { standings, .. }),
                        ..
                    } => {
                        assert_eq!(standings.len(), usize::from(PLAYERS));
                        return reveals;
                    }
                    _ => {}
                }
            }
        }));
    }
    for game in games {
        assert_eq!(game.await.expect("player task"), 2);
    }
    server.shutdown(Duration::from_secs(2)).await;
}
