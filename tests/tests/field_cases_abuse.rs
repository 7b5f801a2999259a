//! Field cases of decoding, exhaustion and flooding (`cases/README.md` of
//! the team folder): hostile bytes, oversized and fragmented messages,
//! abandoned connections and input floods. Each test names its case.

mod common;

use std::time::Duration;

use common::raw_ws::{self, RawWs};
use common::{Wire, connect, create_room, join, metric, next, within};
use stadium_shared::asteroids::AsteroidsSettings;
use stadium_shared::codec::{self, Format};
use stadium_shared::{ClientMsg, ErrorCode, GameSettings, Input, PROTOCOL_VERSION, ServerMsg};

fn hello(nickname: &str) -> Vec<u8> {
    let hello = ClientMsg::Hello {
        version: PROTOCOL_VERSION,
        nickname: nickname.into(),
    };
    codec::encode(&hello, Format::Postcard)
}

/// Polls `done` until it holds; each poll is an event check, not a timed
/// assertion, and the whole wait is bounded by [`common::STEP`].
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    within(what, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

async fn pong(client: &mut stadium_bot::Client, nonce: u64) {
    client.send(&ClientMsg::Ping { nonce }).await.expect("ping");
    let reply = next(client, "pong", |m| matches!(m, ServerMsg::Pong { .. })).await;
    assert_eq!(reply, ServerMsg::Pong { nonce });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c01_random_datagrams_to_the_quic_port_are_dropped_and_counted() {
    let server = common::start().await;
    let (mut player, _) = connect(&server, Wire::Quic, "Player").await;
    let junk = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    // 20-byte datagrams of pseudo-random bytes, and neighbours: empty,
    // one byte, a short "Initial", a long unknown version.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut datagrams: Vec<Vec<u8>> = (0..200)
        .map(|_| {
            (0..20)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect()
        })
        .collect();
    datagrams.push(vec![]);
    datagrams.push(vec![0xc3]);
    datagrams.push([&[0xc3, 0, 0, 0, 1, 8][..], &[0; 300]].concat());
    datagrams.push([&[0xc3, 0xba, 0xad, 0xf0, 0x0d, 8][..], &[0; 100]].concat());
    let sent = datagrams.len() as u64;
    let before = metric(&server, "stadium_datagrams_dropped_total").await;
    for datagram in &datagrams {
        junk.send_to(datagram, server.quic_addr())
            .expect("send junk");
    }
    let counted = &server.state().datagrams_dropped;
    until("every junk datagram counted", || {
        counted.load(std::sync::atomic::Ordering::Relaxed) >= sent
    })
    .await;
    assert_eq!(counted.load(std::sync::atomic::Ordering::Relaxed), sent);
    let after = metric(&server, "stadium_datagrams_dropped_total").await;
    assert!(after - before >= sent as f64, "{before} -> {after}");
    // The player on the same port is served as before, and new ones too.
    pong(&mut player, 1).await;
    let (mut late, _) = connect(&server, Wire::Quic, "Late").await;
    pong(&mut late, 2).await;
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c03_one_byte_over_a_configured_websocket_limit_closes_with_1009_in_both_formats() {
    let server = common::start_with(|config| config.ws_max_message_bytes = 1_000).await;
    for protocol in [None, Some("stadium.json")] {
        let mut ws = RawWs::connect(server.http_addr(), "/ws", protocol).await;
        let (opcode, hello) = match protocol {
            Some(_) => (
                raw_ws::TEXT,
                br#"{"hello":{"version":1,"nickname":"Big"}}"#.to_vec(),
            ),
            None => (raw_ws::BINARY, hello("Big")),
        };
        ws.send(&raw_ws::frame(true, opcode, &hello))
            .await
            .expect("hello");
        within("welcome", ws.read_frame()).await.expect("welcome");
        // Exactly at the limit is read (and refused as malformed)...
        ws.send(&raw_ws::frame(true, opcode, &[b' '; 1_000]))
            .await
            .expect("send at the limit");
        let (op, _) = within("a reply at the limit", ws.read_frame())
            .await
            .expect("still open at the limit");
        assert_eq!(op, opcode, "an error message, not a close");
        // ...one byte over closes with 1009.
        ws.send(&raw_ws::frame(true, opcode, &[b' '; 1_001]))
            .await
            .expect("send over the limit");
        let (code, _) = within("close", ws.until_close()).await;
        assert_eq!(code, Some(1009), "{protocol:?}");
    }
    let (mut other, _) = connect(&server, Wire::WsJson, "Other").await;
    pong(&mut other, 3).await;
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c04_thousands_of_continuation_frames_are_closed_at_the_limit_not_after() {
    let server = common::start().await;
    let max = server.state().config.ws_limits().max_message;
    let mut ws = RawWs::connect(server.http_addr(), "/ws", None).await;
    ws.send_binary(&hello("Frag")).await;
    let (op, _) = within("welcome", ws.read_frame()).await.expect("welcome");
    assert_eq!(op, raw_ws::BINARY);

    // Exactly the limit, in 4,096 fragments of 16 bytes, no FIN yet.
    let piece = [0u8; 16];
    let mut fragments = raw_ws::frame(false, raw_ws::BINARY, &piece);
    for _ in 1..max / piece.len() {
        fragments.extend(raw_ws::frame(false, raw_ws::CONTINUATION, &piece));
    }
    assert_eq!(max / piece.len(), 4_096);
    ws.send(&fragments).await.expect("fragments");
    // A ping between fragments is answered: the server holds the limit
    // and is still reading.
    ws.send(&raw_ws::frame(true, raw_ws::PING, b"still?"))
        .await
        .expect("ping");
    let (op, payload) = within("pong", ws.read_frame()).await.expect("pong");
    assert_eq!((op, payload.as_slice()), (raw_ws::PONG, &b"still?"[..]));
    // One byte more passes the limit: closed with 1009 at once.
    ws.send(&raw_ws::frame(false, raw_ws::CONTINUATION, &[0]))
        .await
        .expect("one more byte");
    let (code, _) = within("close", ws.until_close()).await;
    assert_eq!(code, Some(1009));
    let (mut other, _) = connect(&server, Wire::WsPostcard, "Other").await;
    pong(&mut other, 4).await;
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c13_a_one_megabyte_upgrade_header_is_refused_and_others_go_on() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = common::start().await;
    let mut stream = tokio::net::TcpStream::connect(server.http_addr())
        .await
        .expect("connect");
    let huge = "a".repeat(1 << 20);
    let request =
        format!("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nX-Huge: {huge}\r\n\r\n");
    // The server may close before reading all of it.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    within("refusal", async {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            answer.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );
    let (mut other, _) = connect(&server, Wire::WsJson, "Other").await;
    pong(&mut other, 5).await;
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c14_a_thousand_connections_abandoned_before_hello_leave_nothing_behind() {
    let server = common::start_with(|config| {
        config.hello_secs = 1.0;
        config.handshake_secs = 1.0;
        config.max_connections_per_address = 2_000;
    })
    .await;
    let state = server.state().clone();
    assert_eq!((state.connection_count(), state.session_count()), (0, 0));
    // 900 WebSocket upgrades that then say nothing (half of them hang up
    // at once, half stay silent) and 100 QUIC connections that never open
    // their stream.
    let mut silent = Vec::new();
    for i in 0..900 {
        let ws = RawWs::connect(server.http_addr(), "/ws", None).await;
        if i % 2 == 0 {
            silent.push(ws);
        }
    }
    let mut quiet = Vec::new();
    for _ in 0..100 {
        quiet.push(common::connect_raw(&server, Wire::Quic).await);
    }
    assert!(state.connection_count() > 0);
    until("every abandoned connection is gone", || {
        state.connection_count() == 0
    })
    .await;
    assert_eq!(state.session_count(), 0);
    // Each silent socket was closed by the server, with the reason.
    for ws in silent.iter_mut().take(10) {
        let (code, messages) = within("closed", ws.until_close()).await;
        assert_eq!(code, Some(1008));
        let refusal = codec::decode_server(&messages[0], Format::Postcard).expect("error");
        assert!(matches!(
            refusal,
            ServerMsg::Error {
                code: ErrorCode::HelloRequired,
                ..
            }
        ));
    }
    let (mut after, _) = connect(&server, Wire::Quic, "After").await;
    pong(&mut after, 6).await;
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c15_an_input_flood_is_rate_limited_then_disconnected_and_others_fly_on() {
    let server = common::start().await;
    let (mut pilot, pilot_id) = connect(&server, Wire::WsPostcard, "Pilot").await;
    let settings = AsteroidsSettings {
        rocks_per_wave: 0,
        ..AsteroidsSettings::default()
    };
    let room = create_room(&mut pilot, GameSettings::Asteroids(settings)).await;
    join(&mut pilot, room.code.as_str()).await;
    let (mut flooder, _) = connect(&server, Wire::Quic, "Flood").await;
    join(&mut flooder, room.code.as_str()).await;

    // 10,000 inputs as fast as the socket takes them.
    for seq in 1..=10_000u32 {
        let input = Input {
            seq,
            turn: 1.0,
            thrust: true,
            fire: true,
        };
        if flooder.send(&ClientMsg::Input(input)).await.is_err() {
            break;
        }
    }
    let mut limited = 0;
    let reason = within("the flooder is disconnected", async {
        loop {
            match flooder.recv().await {
                Ok(ServerMsg::Error {
                    code: ErrorCode::RateLimited,
                    ..
                }) => limited += 1,
                Ok(ServerMsg::Error { code, .. }) => return Some(code),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    })
    .await;
    assert!(limited > 0, "no input was refused");
    assert_eq!(reason, Some(ErrorCode::TooManyRefusals));
    // The other pilot still gets snapshots naming it, and answers.
    next(&mut pilot, "snapshot", |m| {
        matches!(m, ServerMsg::Snapshot(_))
    })
    .await;
    pong(&mut pilot, 7).await;
    let _ = pilot_id;
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c15_a_ping_flood_counts_against_the_message_rate_before_and_after_hello() {
    let server = common::start().await;
    let (mut other, _) = connect(&server, Wire::WsPostcard, "Other").await;

    // Before its hello, a connection may ping a few times, not keep on.
    let mut ws = RawWs::connect(server.http_addr(), "/ws", None).await;
    let pings: Vec<u8> = (0..20)
        .flat_map(|_| raw_ws::frame(true, raw_ws::PING, b"?"))
        .collect();
    ws.send(&pings).await.expect("pings");
    let (code, messages) = within("close", ws.until_close()).await;
    assert_eq!(code, Some(1008));
    let refusal = codec::decode_server(messages.last().expect("a reason"), Format::Postcard);
    assert!(
        matches!(
            refusal,
            Ok(ServerMsg::Error {
                code: ErrorCode::HelloRequired,
                ..
            })
        ),
        "{refusal:?}"
    );

    // After it, pings are messages: past the rate they are refused, and a
    // flood ends in a disconnect like any other.
    let mut ws = RawWs::connect(server.http_addr(), "/ws", None).await;
    ws.send_binary(&hello("Pinger")).await;
    let pings: Vec<u8> = (0..2_000)
        .flat_map(|_| raw_ws::frame(true, raw_ws::PING, b"?"))
        .collect();
    ws.send(&pings).await.expect("pings");
    let (code, messages) = within("close", ws.until_close()).await;
    assert_eq!(code, Some(1008));
    let codes: Vec<ErrorCode> = messages
        .iter()
        .filter_map(|m| match codec::decode_server(m, Format::Postcard) {
            Ok(ServerMsg::Error { code, .. }) => Some(code),
            _ => None,
        })
        .collect();
    assert!(codes.contains(&ErrorCode::RateLimited), "{codes:?}");
    assert_eq!(codes.last(), Some(&ErrorCode::TooManyRefusals));
    pong(&mut other, 7).await;
    server.shutdown(Duration::from_secs(2)).await;
}
