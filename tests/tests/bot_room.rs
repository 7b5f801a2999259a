//! `stadium-bot --room CODE`: bots take seats in a room someone else
//! opened (a player in a browser, say) instead of creating their own.

mod common;

use std::time::Duration;

use common::{Wire, connect, create_trivia, join, next, quick_trivia, within};
use stadium_bot::RunConfig;
use stadium_shared::{Channel, Event, GameKind, Role, ServerMsg};

#[tokio::test]
async fn bots_given_a_room_code_join_that_room() {
    let server = common::start().await;
    let (mut host, _) = connect(&server, Wire::WsJson, "Host").await;
    let room = create_trivia(&mut host, quick_trivia(2, 4)).await;
    join(&mut host, room.code.as_str()).await;

    let config = RunConfig {
        url: server.ws_url(),
        game: GameKind::Trivia,
        bots: 2,
        duration: Duration::from_secs(3),
        room: Some(room.code.clone()),
        ..RunConfig::default()
    };
    let bots = tokio::spawn(stadium_bot::run(config));

    let mut seated = Vec::new();
    while seated.len() < 2 {
        let msg = next(&mut host, "a bot joining", |m| {
            matches!(
                m,
                ServerMsg::Event {
                    event: Event::MemberJoined(_),
                    ..
                }
            )
        })
        .await;
        if let ServerMsg::Event {
            channel,
            event: Event::MemberJoined(member),
            ..
        } = msg
        {
            assert_eq!(channel, Channel::Presence(room.code.clone()));
            assert_eq!(member.role, Role::Player);
            seated.push(member.session);
        }
    }
    let report = within("the bots' run", bots).await.unwrap().unwrap();
    assert_eq!(report.connected, 2);
    // No other room was opened: the host's is the only one listed.
    let listed = server.state().lobby.list();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].code, room.code);
}
