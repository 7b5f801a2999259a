//! Limits a client controls, set in the configuration: connections and
//! rooms per address, seats per room, nickname length, and disconnection
//! of clients that keep sending what is refused.

mod common;

use std::time::Duration;

use common::{Wire, connect, connect_raw, create_room, next_error, within};
use stadium_bot::ClientError;
use stadium_shared::asteroids::AsteroidsSettings;
use stadium_shared::{ClientMsg, ErrorCode, GameSettings, ServerMsg};

fn code_of(msg: &ServerMsg) -> ErrorCode {
    match msg {
        ServerMsg::Error { code, .. } => *code,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn arena(max_players: u16) -> GameSettings {
    GameSettings::Asteroids(AsteroidsSettings {
        max_players,
        ..AsteroidsSettings::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_per_address_limit_are_refused_with_a_code() {
    let server = common::start_with(|config| config.max_connections_per_address = 2).await;
    let state = server.state().clone();
    let open_at_most = |n: usize| {
        let state = state.clone();
        within("connections to close", async move {
            while state.connection_count() > n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    for wire in [Wire::Quic, Wire::WsPostcard, Wire::WsJson] {
        // The previous round's connections close in the background.
        open_at_most(0).await;
        let (first, _) = connect(&server, wire, "One").await;
        let (_second, _) = connect(&server, wire, "Two").await;
        let mut third = connect_raw(&server, wire).await;
        // QUIC learns of the stream once something is written.
        let refused = within("the third is refused", async {
            let _ = third.send(&ClientMsg::Ping { nonce: 1 }).await;
            third.recv().await
        })
        .await;
        match refused {
            Ok(msg) => assert_eq!(code_of(&msg), ErrorCode::TooManyConnections, "{wire:?}"),
            Err(err) => panic!("{wire:?}: closed without the reason: {err}"),
        }
        let end = within("then closed", third.recv()).await;
        assert!(matches!(end, Err(ClientError::Closed)), "{wire:?}: {end:?}");
        // A place comes free when one closes.
        drop(first);
        open_at_most(1).await;
        let (_again, _) = connect(&server, wire, "Again").await;
    }
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_past_the_per_address_limit_are_refused_across_sessions() {
    let server = common::start_with(|config| {
        config.max_rooms_per_session = 10;
        config.max_rooms_per_address = 2;
    })
    .await;
    let (mut one, _) = connect(&server, Wire::Quic, "One").await;
    let (mut two, _) = connect(&server, Wire::WsJson, "Two").await;
    create_room(&mut one, arena(4)).await;
    create_room(&mut two, arena(4)).await;
    // A fresh session from the same address does not lift the limit.
    let (mut three, _) = connect(&server, Wire::WsPostcard, "Three").await;
    let settings = arena(4);
    three
        .send(&ClientMsg::CreateRoom { settings })
        .await
        .expect("send create");
    let refused = next_error(&mut three, "third room refused").await;
    assert_eq!(code_of(&refused), ErrorCode::TooManyRooms);
    assert_eq!(server.state().lobby.room_count(), 2);
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_with_more_seats_than_the_server_allows_are_refused() {
    let server = common::start_with(|config| config.max_players_per_room = 6).await;
    let (mut client, _) = connect(&server, Wire::WsJson, "Host").await;
    let room = create_room(&mut client, arena(6)).await;
    assert_eq!(room.max_players, 6);
    let settings = arena(7);
    client
        .send(&ClientMsg::CreateRoom { settings })
        .await
        .expect("send create");
    let refused = next_error(&mut client, "seven seats refused").await;
    assert_eq!(code_of(&refused), ErrorCode::InvalidSettings);
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nicknames_longer_than_configured_are_refused() {
    let server = common::start_with(|config| config.nickname_max_chars = 4).await;
    let mut client = connect_raw(&server, Wire::WsPostcard).await;
    let refused = within("hello", client.hello("Fives")).await;
    assert!(
        matches!(
            refused,
            Err(ClientError::Refused {
                code: ErrorCode::InvalidNickname,
                ..
            })
        ),
        "{refused:?}"
    );
    let (_ok, _) = connect(&server, Wire::WsPostcard, "Four").await;
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_keeps_sending_refused_messages_is_disconnected_with_the_reason() {
    let server = common::start_with(|config| config.max_strikes = 5).await;
    for wire in Wire::ALL {
        let (mut client, _) = connect(&server, wire, "Pest").await;
        // An empty chat line is refused, and every refusal is a strike.
        for _ in 0..5 {
            let chat = ClientMsg::Chat { text: " ".into() };
            client.send(&chat).await.expect("send");
        }
        let mut codes = Vec::new();
        let end = within("disconnected", async {
            loop {
                match client.recv().await {
                    Ok(ServerMsg::Error { code, .. }) => codes.push(code),
                    Ok(_) => {}
                    Err(err) => return err,
                }
            }
        })
        .await;
        assert!(matches!(end, ClientError::Closed), "{wire:?}: {end:?}");
        let mut expected = vec![ErrorCode::ChatEmpty; 5];
        expected.push(ErrorCode::TooManyRefusals);
        assert_eq!(codes, expected, "{wire:?}");
    }
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_echo_endpoint_is_off_by_default_and_keeps_the_websocket_limits() {
    use common::raw_ws::{self, RawWs};

    let server = common::start().await;
    let url = format!("http://{}/ws-echo", server.http_addr());
    let status = reqwest::get(&url).await.expect("GET /ws-echo").status();
    assert_eq!(status.as_u16(), 404);
    server.shutdown(Duration::from_secs(2)).await;

    let server = common::start_with(|config| {
        config.ws_echo = true;
        config.ws_max_message_bytes = 100;
    })
    .await;
    let mut ws = RawWs::connect(server.http_addr(), "/ws-echo", None).await;
    ws.send(&raw_ws::frame(true, raw_ws::TEXT, b"hello"))
        .await
        .expect("send");
    let echoed = within("echo", ws.read_frame()).await.expect("echo");
    assert_eq!(echoed, (raw_ws::TEXT, b"hello".to_vec()));
    ws.send(&raw_ws::frame(true, raw_ws::BINARY, &[7; 101]))
        .await
        .expect("send");
    let (code, _) = within("close", ws.until_close()).await;
    assert_eq!(code, Some(1009));
    server.shutdown(Duration::from_secs(2)).await;
}
