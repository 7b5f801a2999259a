//! A full trivia match over both transports: twenty players, three
//! questions, and every final score exactly what the rules award for the
//! answers each player sent.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{Wire, connect, create_trivia, join, next, quick_trivia, within};
use stadium_bot::Client;
use stadium_shared::trivia::pack::Pack;
use stadium_shared::trivia::points;
use stadium_shared::{ClientMsg, Event, OpenQuestion, ServerMsg, SessionId, TriviaEvent};

const PLAYERS: usize = 20;
const QUESTIONS: u16 = 3;

/// What one player saw and sent during the match.
#[derive(Debug)]
struct Played {
    session: SessionId,
    /// Points the rules award for this player's answers, by the pack's key
    /// and the answer times the server reported.
    expected: u32,
    /// Final total in the standings.
    final_score: u32,
    /// Every reveal's correct choice agreed with the pack's answer key.
    key_agreed: bool,
}

/// Plays the match as player `index`: answers question `q` right when
/// bit `q` of `index` is set (so players differ in how many they get
/// right), at once.
async fn play(mut client: Client, session: SessionId, index: usize) -> Played {
    let pack = Pack::built_in();
    let mut expected = 0;
    let mut key_agreed = true;
    let mut sent: HashMap<u16, (bool, u32)> = HashMap::new();
    loop {
        let msg = within("match events", client.recv())
            .await
            .expect("connection stays open");
        let ServerMsg::Event {
            event: Event::Trivia(event),
            ..
        } = msg
        else {
            if let ServerMsg::Error { code, message } = msg {
                panic!("player {index} got error {code}: {message}");
            }
            continue;
        };
        match event {
            TriviaEvent::Question(OpenQuestion {
                index: question,
                text,
                choices,
                time_ms,
                ..
            }) => {
                let right_text = pack
                    .answer_to(&text)
                    .expect("built-in questions have answers");
                let right = choices
                    .iter()
                    .position(|c| c == right_text)
                    .expect("offered") as u8;
                let wants_right = (index >> question) & 1 == 1;
                let choice = if wants_right { right } else { (right + 1) % 4 };
                client
                    .send(&ClientMsg::Answer { question, choice })
                    .await
                    .expect("send answer");
                let accepted = next(&mut client, "answer accepted", |m| {
                    matches!(
                        m,
                        ServerMsg::AnswerAccepted { .. } | ServerMsg::Error { .. }
                    )
                })
                .await;
                let ServerMsg::AnswerAccepted {
                    question: q,
                    elapsed_ms,
                } = accepted
                else {
                    panic!("player {index}'s answer refused: {accepted:?}");
                };
                assert_eq!(q, question);
                sent.insert(question, (choice == right, elapsed_ms));
                expected += points(choice == right, elapsed_ms, time_ms);
                // The reveal must agree with the answer key recorded here.
                let reveal = next(&mut client, "reveal", |m| {
                    matches!(
                        m,
                        ServerMsg::Event {
                            event: Event::Trivia(TriviaEvent::Reveal { .. }),
                            ..
                        }
                    )
                })
                .await;
                if let ServerMsg::Event {
                    event:
                        Event::Trivia(TriviaEvent::Reveal {
                            correct, results, ..
                        }),
                    ..
                } = reveal
                {
                    key_agreed &= correct == right;
                    let mine = results
                        .iter()
                        .find(|r| r.session == session)
                        .expect("in results");
                    assert_eq!(mine.choice, Some(choice));
                    assert_eq!(mine.elapsed_ms, Some(elapsed_ms));
                }
            }
            TriviaEvent::MatchOver { standings, .. } => {
                assert_eq!(
                    sent.len(),
                    usize::from(QUESTIONS),
                    "answered every question"
                );
                let mine = standings
                    .iter()
                    .find(|s| s.session == session)
                    .expect("standing");
                client.sender().close().await;
                return Played {
                    session,
                    expected,
                    final_score: mine.score,
                    key_agreed,
                };
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_players_over_quic_and_websocket_get_exactly_their_scores() {
    let server = common::start().await;
    let wire = |i: usize| match i {
        0..10 => Wire::Quic,
        10..15 => Wire::WsPostcard,
        _ => Wire::WsJson,
    };

    let mut clients = Vec::new();
    for i in 0..PLAYERS {
        clients.push(connect(&server, wire(i), &format!("player{i}")).await);
    }
    let room = create_trivia(&mut clients[0].0, quick_trivia(QUESTIONS, PLAYERS as u16)).await;
    for (client, _) in &mut clients {
        join(client, room.code.as_str()).await;
    }

    // The room is full, so the match starts by itself.
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, (client, session))| tokio::spawn(play(client, session, i)))
        .collect();
    let mut distinct_scores = std::collections::HashSet::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let played = within("player finishes", task).await.expect("player task");
        assert!(
            played.key_agreed,
            "player {i}: the reveal disagreed with the pack's key"
        );
        assert_eq!(
            played.final_score,
            played.expected,
            "player {i} ({:?}) over {:?}",
            played.session,
            wire(i)
        );
        distinct_scores.insert(played.final_score);
    }
    // Wrong answers were spread over players, so totals differ.
    assert!(distinct_scores.len() > 1, "{distinct_scores:?}");
    server.shutdown(Duration::from_secs(2)).await;
}
