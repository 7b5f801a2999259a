//! Resuming a session: the seat survives a dropped connection for the grace
//! period, the newest connection wins, the missed events are replayed in
//! order and once, and tokens stay private (cases C16 and C18).

mod common;

use std::time::{Duration, Instant};

use common::{Wire, connect_raw, create_trivia, join, next, quick_trivia, within};
use stadium_bot::{Client, ClientError, Welcome};
use stadium_server::Server;
use stadium_shared::codec::{self, Format};
use stadium_shared::{
    Channel, ClientMsg, ErrorCode, Event, Role, ServerMsg, SessionId, TriviaEvent,
};

/// A greeted client and what its welcome said.
async fn greeted(server: &Server, wire: Wire, nickname: &str) -> (Client, Welcome) {
    let mut client = connect_raw(server, wire).await;
    let welcome = within("hello", client.greet(nickname))
        .await
        .expect("the server welcomes");
    (client, welcome)
}

/// The room events a client received up to the pong of a ping, with their
/// numbers, and every message before the pong.
async fn fence(client: &mut Client, nonce: u64) -> (Vec<(u64, Event)>, Vec<ServerMsg>) {
    client
        .send(&ClientMsg::Ping { nonce })
        .await
        .expect("send ping");
    let (mut events, mut all) = (Vec::new(), Vec::new());
    loop {
        let msg = within("pong", client.recv())
            .await
            .expect("connection open");
        match &msg {
            ServerMsg::Pong { nonce: n } if *n == nonce => return (events, all),
            ServerMsg::Event {
                event,
                seq: Some(seq),
                ..
            } => events.push((*seq, event.clone())),
            _ => {}
        }
        all.push(msg);
    }
}

async fn chat(client: &mut Client, text: &str) {
    let msg = ClientMsg::Chat { text: text.into() };
    client.send(&msg).await.expect("send chat");
}

/// Sends a chat line and collects the room events received up to its own
/// echo, which comes after everything the room did before it: a fence
/// through the room's tick. The echo is the last event returned.
async fn room_fence(client: &mut Client, text: &str) -> Vec<(u64, Event)> {
    chat(client, text).await;
    let mut events = Vec::new();
    loop {
        let msg = within("own chat", client.recv())
            .await
            .expect("connection open");
        assert!(
            !matches!(msg, ServerMsg::Error { .. }),
            "refused during a fence: {msg:?}"
        );
        if let ServerMsg::Event {
            event,
            seq: Some(seq),
            ..
        } = msg
        {
            let mine = matches!(&event, Event::Chat { text: t, .. } if t == text);
            events.push((seq, event));
            if mine {
                return events;
            }
        }
    }
}

/// The room events a client receives until a chat line `text` from
/// anyone, that line included.
async fn events_until_chat(client: &mut Client, text: &str) -> Vec<(u64, Event)> {
    let mut events = Vec::new();
    loop {
        let msg = within("chat line", client.recv())
            .await
            .expect("connection open");
        if let ServerMsg::Event {
            event,
            seq: Some(seq),
            ..
        } = msg
        {
            let found = matches!(&event, Event::Chat { text: t, .. } if t == text);
            events.push((seq, event));
            if found {
                return events;
            }
        }
    }
}

/// A server whose chat limit lets tests use chat lines as fences: a fence
/// may follow the previous one's echo by well under a millisecond, so the
/// bucket's five lines must refill in microseconds.
async fn start(configure: impl FnOnce(&mut stadium_server::Config)) -> Server {
    common::start_with(|config| {
        config.chat_per_sec = 1_000_000.0;
        configure(config);
    })
    .await
}

/// Waits until the server counts `sessions` connected sessions.
async fn sessions_become(server: &Server, sessions: usize) {
    within("the session count", async {
        while server.state().session_count() != sessions {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

fn resumed_parts(msg: ServerMsg) -> (SessionId, Vec<SessionId>, u64, u64) {
    match msg {
        ServerMsg::Resumed {
            session,
            room,
            role,
            members,
            event_seq,
            events_skipped,
            ..
        } => {
            assert!(room.is_some(), "the seat's room");
            assert_eq!(role, Role::Player);
            let members = members.iter().map(|m| m.session).collect();
            (session, members, event_seq, events_skipped)
        }
        other => panic!("expected resumed, got {other:?}"),
    }
}

/// Two players seated in a trivia room that waits for a third, once both
/// have seen the start countdown their seating set off: the room's last
/// event before the tests' own.
async fn two_seated(server: &Server, a: Wire, b: Wire) -> [(Client, Welcome); 2] {
    let mut ada = greeted(server, a, "Ada").await;
    let mut bo = greeted(server, b, "Bo").await;
    let room = create_trivia(&mut ada.0, quick_trivia(2, 3)).await;
    join(&mut ada.0, room.code.as_str()).await;
    join(&mut bo.0, room.code.as_str()).await;
    for (client, _) in [&mut ada, &mut bo] {
        next(client, "the start countdown", |m| {
            matches!(
                m,
                ServerMsg::Event {
                    event: Event::Trivia(TriviaEvent::Countdown { .. }),
                    ..
                }
            )
        })
        .await;
    }
    [ada, bo]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c16_a_resume_before_the_old_connection_died_takes_the_seat_with_no_duplicate() {
    let server = start(|_| {}).await;
    let [(mut old, ada), (mut bo, bo_welcome)] =
        two_seated(&server, Wire::WsJson, Wire::Quic).await;
    let last = room_fence(&mut old, "ada here").await.last().unwrap().0;
    room_fence(&mut bo, "bo here").await;
    let last = last + 1;

    // The old connection is still open when the new one claims the seat.
    let mut new = connect_raw(&server, Wire::Quic).await;
    let resumed = within("resume", new.resume("Ada", &ada, last))
        .await
        .expect("resumed");
    let (session, members, event_seq, skipped) = resumed_parts(resumed);
    assert_eq!(session, ada.session);
    assert_eq!(members, vec![ada.session, bo_welcome.session]);
    assert_eq!(
        (event_seq, skipped),
        (last, 0),
        "nothing happened meanwhile"
    );
    let (replayed, _) = fence(&mut new, 1).await;
    assert!(replayed.is_empty(), "{replayed:?}");

    // The old connection is told why and closed.
    let replaced = next(&mut old, "replaced", |m| {
        matches!(m, ServerMsg::Error { .. })
    })
    .await;
    assert!(
        matches!(
            replaced,
            ServerMsg::Error {
                code: ErrorCode::SessionReplaced,
                ..
            }
        ),
        "{replaced:?}"
    );
    within("the old connection closes", async {
        while old.recv().await.is_ok() {}
    })
    .await;

    // One Ada: the room counts two players, Bo saw nobody join or leave,
    // and her chat from the new connection carries her id.
    room_fence(&mut new, "back").await;
    let events = events_until_chat(&mut bo, "back").await;
    let presence: Vec<_> = events
        .iter()
        .filter(|(_, e)| matches!(e, Event::MemberJoined(_) | Event::MemberLeft { .. }))
        .collect();
    assert!(presence.is_empty(), "{presence:?}");
    assert!(
        matches!(&events[..], [(seq, Event::Chat { from, .. })] if *from == ada.session && *seq == last + 1),
        "{events:?}"
    );
    let rooms = server.state().lobby.list();
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].players, 2);
    assert_eq!(server.state().session_count(), 2);
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_player_resumes_on_either_transport_with_every_missed_event_once_in_order() {
    let server = start(|_| {}).await;
    for (before, after) in [(Wire::Quic, Wire::WsJson), (Wire::WsPostcard, Wire::Quic)] {
        let [(mut ada_client, ada), (mut bo, _)] =
            two_seated(&server, before, Wire::WsPostcard).await;
        let last = room_fence(&mut ada_client, "ada here")
            .await
            .last()
            .unwrap()
            .0;
        // Gone without a word: the server notices the connection ended.
        drop(ada_client);
        sessions_become(&server, 1).await;

        for line in ["one", "two"] {
            chat(&mut bo, line).await;
        }
        let missed = room_fence(&mut bo, "three").await;
        let missed: Vec<_> = missed.into_iter().filter(|(seq, _)| *seq > last).collect();
        assert_eq!(missed.len(), 3, "{missed:?}");

        let mut client = connect_raw(&server, after).await;
        let resumed = within("resume", client.resume("Ada", &ada, last))
            .await
            .expect("resumed");
        let (session, _, event_seq, skipped) = resumed_parts(resumed);
        assert_eq!(session, ada.session);
        assert_eq!((event_seq, skipped), (last + 3, 0));
        room_fence(&mut bo, "four").await;
        let replayed = events_until_chat(&mut client, "four").await;
        let numbers: Vec<u64> = replayed.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(numbers, vec![last + 1, last + 2, last + 3, last + 4]);
        let texts: Vec<&str> = replayed
            .iter()
            .map(|(_, e)| match e {
                Event::Chat { text, .. } => text.as_str(),
                other => panic!("only chat happened: {other:?}"),
            })
            .collect();
        assert_eq!(texts, ["one", "two", "three", "four"]);
        // Bo saw Ada neither leave nor come back.
        let seen = room_fence(&mut bo, "six").await;
        assert!(
            seen.iter()
                .all(|(_, e)| !matches!(e, Event::MemberLeft { .. } | Event::MemberJoined(_))),
            "{seen:?}"
        );
        client.send(&ClientMsg::LeaveRoom).await.expect("leave");
        bo.send(&ClientMsg::LeaveRoom).await.expect("leave");
        drop((client, bo));
        sessions_become(&server, 0).await;
    }
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c18_other_players_forged_and_stale_tokens_are_refused_and_never_broadcast() {
    let server = start(|config| config.resume_grace_secs = 0.5).await;
    let [(mut ada_client, ada), (mut bo, bo_welcome)] =
        two_seated(&server, Wire::Quic, Wire::WsJson).await;
    let (mut eve, eve_welcome) = greeted(&server, Wire::WsJson, "Eve").await;
    let mut recorded = Vec::new();

    // Eve presents Bo's token for Ada's session, then made-up tokens.
    let forged = [
        bo_welcome.resume_token.clone(),
        "0".repeat(32),
        ada.resume_token[..31].to_owned(),
        String::new(),
    ];
    for (i, token) in forged.into_iter().enumerate() {
        let resume = ClientMsg::Resume {
            session: ada.session,
            token,
            last_event_seq: 0,
        };
        eve.send(&resume).await.expect("send resume");
        let (_, msgs) = fence(&mut eve, i as u64).await;
        assert!(
            msgs.iter().any(|m| matches!(
                m,
                ServerMsg::Error {
                    code: ErrorCode::ResumeRefused,
                    ..
                }
            )),
            "token {i}: {msgs:?}"
        );
        assert!(!msgs.iter().any(|m| matches!(m, ServerMsg::Resumed { .. })));
        recorded.extend(msgs);
    }
    // Ada still plays as herself.
    room_fence(&mut ada_client, "still me").await;
    let events = events_until_chat(&mut bo, "still me").await;
    assert!(
        events
            .iter()
            .any(|(_, e)| matches!(e, Event::Chat { from, .. } if *from == ada.session)),
        "{events:?}"
    );
    let (_, msgs) = fence(&mut bo, 10).await;
    recorded.extend(msgs);

    // A player who left, and one whose grace ran out, cannot come back.
    ada_client.send(&ClientMsg::LeaveRoom).await.expect("leave");
    next(&mut ada_client, "left", |m| {
        matches!(m, ServerMsg::Left { .. })
    })
    .await;
    drop(ada_client);
    drop(bo);
    sessions_become(&server, 1).await;
    let away_since = Instant::now();
    let mut late = connect_raw(&server, Wire::WsPostcard).await;
    let refused = within("resume", late.resume("Ada", &ada, 0)).await;
    assert!(
        matches!(
            refused,
            Err(ClientError::Refused {
                code: ErrorCode::ResumeRefused,
                ..
            })
        ),
        "a player who left: {refused:?}"
    );
    // Bo dropped while seated; wait for his grace to end.
    tokio::time::sleep_until((away_since + Duration::from_millis(600)).into()).await;
    let mut late = connect_raw(&server, Wire::WsPostcard).await;
    let refused = within("resume", late.resume("Bo", &bo_welcome, 0)).await;
    assert!(
        matches!(
            refused,
            Err(ClientError::Refused {
                code: ErrorCode::ResumeRefused,
                ..
            })
        ),
        "a player whose grace ended: {refused:?}"
    );

    // No token was in anything Bo or Eve received, in either encoding.
    let (_, msgs) = fence(&mut eve, 11).await;
    recorded.extend(msgs);
    for msg in &recorded {
        let json = String::from_utf8(codec::encode(msg, Format::Json)).unwrap();
        for token in [
            &ada.resume_token,
            &bo_welcome.resume_token,
            &eve_welcome.resume_token,
        ] {
            assert!(!json.contains(token.as_str()), "token in {json}");
        }
        let postcard = codec::encode(msg, Format::Postcard);
        assert!(
            !postcard
                .windows(32)
                .any(|w| w == ada.resume_token.as_bytes()),
            "{msg:?}"
        );
    }
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_whose_players_are_all_away_waits_for_the_grace_then_closes() {
    let grace = Duration::from_millis(1500);
    let server = start(|config| {
        config.resume_grace_secs = grace.as_secs_f64();
        config.empty_room_secs = 0.2;
    })
    .await;
    let (mut watcher, _) = greeted(&server, Wire::WsJson, "Watcher").await;
    let [(ada_client, ada), (bo, _)] = two_seated(&server, Wire::Quic, Wire::WsJson).await;
    let code = server.state().lobby.list()[0].code.clone();
    drop((ada_client, bo));
    sessions_become(&server, 1).await;
    let gone = Instant::now();

    // An empty room would close at its next tick; this one is kept.
    let mut back = connect_raw(&server, Wire::WsPostcard).await;
    within("resume", back.resume("Ada", &ada, 0))
        .await
        .expect("the room waits for its players");
    drop(back);
    sessions_become(&server, 1).await;

    let closed = Event::RoomClosed { code: code.clone() };
    next(&mut watcher, "room closed", |m| {
        matches!(m, ServerMsg::Event { channel: Channel::Lobby, event, .. } if *event == closed)
    })
    .await;
    // Allow for the tick that noticed the drop and this test's polling.
    assert!(
        gone.elapsed() + Duration::from_millis(200) >= grace,
        "closed after {:?}",
        gone.elapsed()
    );
    assert!(server.state().lobby.find(&code).is_none());
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_requests_outside_what_exists_or_is_kept_are_clamped() {
    // A 16 KiB queue keeps 8 KiB of the newest events for replay: about
    // fifty chat lines.
    let server = start(|config| {
        config.outbound_queue_bytes = 16 * 1024;
    })
    .await;
    let [(ada_client, ada), (mut bo, _)] = two_seated(&server, Wire::Quic, Wire::Quic).await;
    drop(ada_client);
    sessions_become(&server, 1).await;
    for i in 0..80 {
        chat(&mut bo, &format!("line {i}")).await;
        if i % 4 == 3 {
            room_fence(&mut bo, &format!("fence {i}")).await;
        }
    }
    let newest = room_fence(&mut bo, "last").await.last().unwrap().0;

    // Asking from the start: those kept, and the count of those not kept.
    let mut client = connect_raw(&server, Wire::WsJson).await;
    let resumed = within("resume", client.resume("Ada", &ada, 0))
        .await
        .expect("resumed");
    let (_, _, event_seq, skipped) = resumed_parts(resumed);
    assert_eq!(event_seq, newest);
    assert!(
        skipped > 0 && skipped < newest - 20,
        "skipped {skipped} of {newest}"
    );
    let (replayed, _) = fence(&mut client, 1).await;
    let numbers: Vec<u64> = replayed.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(numbers, ((skipped + 1)..=newest).collect::<Vec<_>>());
    drop(client);
    sessions_become(&server, 1).await;

    // Asking from beyond the newest: a clear error, then nothing replayed.
    let mut client = connect_raw(&server, Wire::Quic).await;
    client.greet("Ada").await.expect("hello");
    let resume = ClientMsg::Resume {
        session: ada.session,
        token: ada.resume_token.clone(),
        last_event_seq: u64::MAX,
    };
    client.send(&resume).await.expect("send resume");
    let mut msgs = Vec::new();
    while !matches!(msgs.last(), Some(ServerMsg::Resumed { .. })) {
        msgs.push(within("resumed", client.recv()).await.expect("open"));
    }
    assert!(
        matches!(&msgs[..], [ServerMsg::Error { code: ErrorCode::ReplayRange, .. }, ServerMsg::Resumed { event_seq, events_skipped: 0, .. }] if *event_seq == newest),
        "{msgs:?}"
    );
    let replayed = room_fence(&mut client, "after").await;
    assert_eq!(replayed.len(), 1, "only its own line: {replayed:?}");
    assert_eq!(replayed[0].0, newest + 1);
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_kept_for_a_resume_are_capped_per_address() {
    // Joining and hanging up again and again must not fill a room with
    // seats nobody holds: past the cap, a drop gives the seat up at once.
    let server = start(|config| config.max_away_seats_per_address = 2).await;
    let (mut host, _) = greeted(&server, Wire::WsJson, "Host").await;
    let room = create_trivia(&mut host, quick_trivia(2, 8)).await;
    join(&mut host, room.code.as_str()).await;
    let mut dropped = Vec::new();
    for (i, wire) in [Wire::WsPostcard, Wire::Quic, Wire::WsJson]
        .into_iter()
        .enumerate()
    {
        let (mut client, welcome) = greeted(&server, wire, &format!("Bot{i}")).await;
        join(&mut client, room.code.as_str()).await;
        drop(client);
        sessions_become(&server, 1).await;
        dropped.push(welcome);
    }
    let left = next(&mut host, "a departure", |m| {
        matches!(
            m,
            ServerMsg::Event {
                event: Event::MemberLeft { .. },
                ..
            }
        )
    })
    .await;
    assert!(
        matches!(&left, ServerMsg::Event { event: Event::MemberLeft { session, .. }, .. } if *session == dropped[2].session),
        "only the drop past the cap leaves: {left:?}"
    );
    room_fence(&mut host, "after the drops").await;
    assert_eq!(
        server.state().lobby.list()[0].players,
        3,
        "the host and two kept seats"
    );

    // The third cannot come back; the first two can.
    let mut late = connect_raw(&server, Wire::WsJson).await;
    let refused = within("resume", late.resume("Bot2", &dropped[2], 0)).await;
    assert!(
        matches!(
            refused,
            Err(ClientError::Refused {
                code: ErrorCode::ResumeRefused,
                ..
            })
        ),
        "{refused:?}"
    );
    for (i, welcome) in dropped[..2].iter().enumerate() {
        let mut back = connect_raw(&server, Wire::Quic).await;
        within("resume", back.resume(&format!("Bot{i}"), welcome, 0))
            .await
            .expect("a kept seat resumes");
    }
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c17_two_hundred_bots_dropping_at_once_all_resume_with_no_event_lost_or_repeated() {
    // All the bots' twenty rooms, and the seats they keep while away,
    // come from one address.
    let server = start(|config| {
        config.max_rooms_per_address = 100;
        config.max_away_seats_per_address = 200;
    })
    .await;
    let config = stadium_bot::RunConfig {
        url: server.quic_url(),
        connect: stadium_bot::ConnectOptions {
            cert_sha256: Some(server.cert_sha256().to_owned()),
            http_port: server.http_addr().port(),
            json: false,
        },
        game: stadium_shared::GameKind::Trivia,
        bots: 200,
        room_size: 10,
        questions: 20,
        question_secs: 1,
        reveal_secs: 1,
        duration: Duration::from_secs(6),
        chaos_drop: 1.0,
        seed: Some(17),
        ..stadium_bot::RunConfig::default()
    };
    let report = within("the bot run", stadium_bot::run(config))
        .await
        .expect("the run completes");
    assert_eq!(report.connected, 200, "{report:?}");
    assert_eq!(report.resumed, 200, "every bot resumed: {report:?}");
    assert_eq!(report.events_lost, 0, "{report:?}");
    assert_eq!(report.events_duplicated, 0, "{report:?}");
    assert_eq!(report.disconnects, 0, "{report:?}");
    assert!(report.answers_accepted > 0, "the bots played: {report:?}");
    assert_eq!(report.rooms, 20, "{report:?}");
    eprintln!(
        "C17: resumed {}, events lost {}, duplicated {}",
        report.resumed, report.events_lost, report.events_duplicated
    );
    server.shutdown(Duration::from_secs(2)).await;
}
