//! Asteroids end to end: players over QUIC and WebSocket fly a whole match
//! on snapshots they reconstruct from deltas, and see their inputs echoed.

mod common;

use std::time::Duration;

use common::{Wire, connect, join, next, spectate, within};
use stadium_bot::Client;
use stadium_shared::asteroids::{AsteroidsEvent, AsteroidsSettings};
use stadium_shared::snapshot::SnapshotBuffer;
use stadium_shared::{ClientMsg, Event, GameSettings, Input, RoomInfo, ServerMsg, SessionId};

async fn create_arena(client: &mut Client, settings: AsteroidsSettings) -> RoomInfo {
    common::create_room(client, GameSettings::Asteroids(settings)).await
}

/// What one pilot saw in its match.
#[derive(Debug, Default)]
struct Flight {
    snapshots: u32,
    full: u32,
    deltas: u32,
    /// Snapshots whose baseline this pilot did not hold.
    missing_baseline: u32,
    highest_sent: u32,
    highest_echoed: u32,
    saw_own_ship: bool,
}

/// Flies until the match is over: an input every 50 ms (turning and
/// thrusting, firing now and then), an ack for every snapshot rebuilt.
async fn fly(mut client: Client, me: SessionId, index: usize) -> Flight {
    let mut flight = Flight::default();
    let mut buffer = SnapshotBuffer::new(64);
    let mut inputs = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = inputs.tick() => {
                flight.highest_sent += 1;
                let input = Input {
                    seq: flight.highest_sent,
                    turn: if index.is_multiple_of(2) { 0.6 } else { -0.4 },
                    thrust: !flight.highest_sent.is_multiple_of(3),
                    fire: flight.highest_sent.is_multiple_of(4),
                };
                client.sender().send_unreliable(&ClientMsg::Input(input)).await.expect("input");
            }
            msg = within("arena messages", client.recv()) => match msg.expect("open") {
                ServerMsg::Snapshot(snapshot) => {
                    flight.snapshots += 1;
                    match snapshot.baseline {
                        None => flight.full += 1,
                        Some(_) => flight.deltas += 1,
                    }
                    flight.highest_echoed = flight.highest_echoed.max(snapshot.last_input);
                    assert!(snapshot.last_input <= flight.highest_sent, "echo of an unsent input");
                    match buffer.receive(&snapshot) {
                        Ok(state) => {
                            flight.saw_own_ship |= state.ships().any(|(_, s)| s.owner == me);
                            let ack = ClientMsg::Ack { tick: snapshot.tick };
                            client.sender().send_unreliable(&ack).await.expect("ack");
                        }
                        Err(_) => flight.missing_baseline += 1,
                    }
                }
                ServerMsg::Event { event: Event::Asteroids(AsteroidsEvent::MatchOver { standings, .. }), .. } => {
                    assert!(standings.iter().any(|s| s.session == me), "in the standings");
                    client.sender().close().await;
                    return flight;
                }
                ServerMsg::Error { code, message } => panic!("pilot {index}: {code}: {message}"),
                _ => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_pilots_per_transport_fly_a_match_on_delta_snapshots() {
    let server = common::start().await;
    let wire = |i: usize| match i {
        0..8 => Wire::Quic,
        8..12 => Wire::WsPostcard,
        _ => Wire::WsJson,
    };
    let mut pilots = Vec::new();
    for i in 0..16 {
        pilots.push(connect(&server, wire(i), &format!("pilot{i}")).await);
    }
    let settings = AsteroidsSettings {
        max_players: 16,
        match_secs: 6,
        rocks_per_wave: 6,
        ..Default::default()
    };
    let room = create_arena(&mut pilots[0].0, settings).await;
    for (client, _) in &mut pilots {
        join(client, room.code.as_str()).await;
    }
    let tasks: Vec<_> = pilots
        .into_iter()
        .enumerate()
        .map(|(i, (client, me))| tokio::spawn(fly(client, me, i)))
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let flight = within("match over", task).await.expect("pilot task");
        assert!(flight.saw_own_ship, "pilot {i}: {flight:?}");
        assert!(
            flight.highest_echoed > 0,
            "pilot {i} saw no input echoed: {flight:?}"
        );
        assert!(
            flight.full >= 1 && flight.deltas > flight.full,
            "pilot {i}: {flight:?}"
        );
        assert_eq!(flight.missing_baseline, 0, "pilot {i}: {flight:?}");
        // About 30 snapshots a second for six seconds.
        assert!(flight.snapshots > 90, "pilot {i}: {flight:?}");
    }
    server.shutdown(Duration::from_secs(2)).await;
}

/// The first snapshot after joining: the pilot acks nothing, so it is full.
async fn first_snapshot(client: &mut Client) -> stadium_shared::snapshot::Snapshot {
    match next(client, "snapshot", |m| matches!(m, ServerMsg::Snapshot(_))).await {
        ServerMsg::Snapshot(snapshot) => snapshot,
        _ => unreachable!("filtered above"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c10_joining_after_everyone_left_gets_a_full_snapshot_of_the_present() {
    let server = common::start().await;
    let (mut a, _) = connect(&server, Wire::Quic, "First").await;
    let settings = AsteroidsSettings {
        rocks_per_wave: 5,
        ..Default::default()
    };
    let room = create_arena(&mut a, settings).await;
    join(&mut a, room.code.as_str()).await;

    // A flies long enough to hold and acknowledge a baseline.
    let mut buffer = SnapshotBuffer::new(64);
    let mut acked = 0;
    while acked < 10 {
        let snapshot = first_snapshot(&mut a).await;
        buffer.receive(&snapshot).expect("baseline held");
        a.sender()
            .send_unreliable(&ClientMsg::Ack {
                tick: snapshot.tick,
            })
            .await
            .expect("ack");
        acked += 1;
    }
    let last_seen = buffer.latest().expect("held").0;
    a.send(&ClientMsg::LeaveRoom).await.expect("leave");
    next(&mut a, "left", |m| matches!(m, ServerMsg::Left { .. })).await;

    // The room goes on with nobody watching; then A and a newcomer join.
    let (mut b, _) = connect(&server, Wire::WsJson, "Second").await;
    for client in [&mut a, &mut b] {
        join(client, room.code.as_str()).await;
        let snapshot = first_snapshot(client).await;
        assert_eq!(snapshot.baseline, None, "a stale baseline must not be used");
        assert!(snapshot.tick > last_seen);
        let rocks = snapshot
            .changed
            .iter()
            .filter(|(_, e)| matches!(e, stadium_shared::snapshot::EntityState::Rock(_)))
            .count();
        assert!(rocks >= 5, "the full present state: {snapshot:?}");
        let mut fresh = SnapshotBuffer::new(64);
        fresh
            .receive(&snapshot)
            .expect("a full snapshot needs no baseline");
    }
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c05_invalid_inputs_are_refused_and_nothing_moves_because_of_them() {
    use stadium_shared::ErrorCode;
    use stadium_shared::codec::{self, Format};

    let server = common::start().await;
    for wire in Wire::ALL {
        let (mut pilot, me) = connect(&server, wire, "Floaty").await;
        let settings = AsteroidsSettings {
            rocks_per_wave: 0,
            ..Default::default()
        };
        let room = create_arena(&mut pilot, settings).await;
        join(&mut pilot, room.code.as_str()).await;
        let snapshot = first_snapshot(&mut pilot).await;
        let state = SnapshotBuffer::new(1)
            .receive(&snapshot)
            .expect("the first is full")
            .clone();
        let before = state
            .ships()
            .find(|(_, s)| s.owner == me)
            .expect("seated")
            .1
            .body;

        let json = pilot.sender().format() == Format::Json;
        for turn in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e30, 1.5, -1.01] {
            if json && !turn.is_finite() {
                continue; // JSON cannot spell these; they are refused as malformed.
            }
            let input = ClientMsg::Input(Input {
                seq: 1,
                turn,
                thrust: true,
                fire: true,
            });
            let bytes = codec::encode(&input, pilot.sender().format());
            pilot
                .sender()
                .send_raw_reliable(&bytes)
                .await
                .expect("send");
            let error = next(&mut pilot, "refusal", |m| {
                matches!(m, ServerMsg::Error { .. })
            })
            .await;
            let ServerMsg::Error { code, .. } = error else {
                unreachable!()
            };
            assert_eq!(code, ErrorCode::InvalidInput, "{wire:?} turn {turn}");
        }
        // Every refusal arrived, so the room has had its chance to apply
        // them; a few more ticks, and the ship has not moved an inch.
        let mut buffer = SnapshotBuffer::new(64);
        for _ in 0..10 {
            let snapshot = first_snapshot(&mut pilot).await;
            let state = buffer.receive(&snapshot).expect("never acked: full");
            let (_, ship) = state.ships().find(|(_, s)| s.owner == me).expect("seated");
            assert_eq!(snapshot.last_input, 0, "no input was applied");
            assert_eq!(ship.body, before, "{wire:?}");
        }
        pilot.sender().close().await;
    }
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spectators_watch_full_snapshots_and_cannot_fly() {
    use stadium_shared::ErrorCode;

    let server = common::start().await;
    let (mut pilot, pilot_id) = connect(&server, Wire::Quic, "Pilot").await;
    let room = create_arena(&mut pilot, AsteroidsSettings::default()).await;
    join(&mut pilot, room.code.as_str()).await;
    let (mut watcher, watcher_id) = connect(&server, Wire::WsJson, "Watcher").await;
    spectate(&mut watcher, room.code.as_str()).await;

    for _ in 0..5 {
        let snapshot = first_snapshot(&mut watcher).await;
        assert_eq!(snapshot.baseline, None, "spectators acknowledge nothing");
        let state = SnapshotBuffer::new(1)
            .receive(&snapshot)
            .expect("full")
            .clone();
        assert!(state.ships().any(|(_, s)| s.owner == pilot_id));
        assert!(
            !state.ships().any(|(_, s)| s.owner == watcher_id),
            "a spectator has no ship"
        );
    }
    let input = ClientMsg::Input(Input {
        seq: 1,
        turn: 1.0,
        thrust: true,
        fire: true,
    });
    watcher.send(&input).await.expect("send input");
    let refusal = next(&mut watcher, "refusal", |m| {
        matches!(m, ServerMsg::Error { .. })
    })
    .await;
    assert!(matches!(
        refusal,
        ServerMsg::Error {
            code: ErrorCode::SpectatorCannotPlay,
            ..
        }
    ));
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_pilot_gets_a_full_snapshot_and_keeps_its_ship() {
    let server = common::start().await;
    let mut old = common::connect_raw(&server, Wire::WsPostcard).await;
    let welcome = within("hello", old.greet("Pilot")).await.expect("welcome");
    let room = create_arena(&mut old, AsteroidsSettings::default()).await;
    join(&mut old, room.code.as_str()).await;

    // Acknowledge a few snapshots so that deltas would follow.
    let mut buffer = SnapshotBuffer::new(64);
    let mut ship = None;
    for _ in 0..5 {
        let snapshot = first_snapshot(&mut old).await;
        buffer.receive(&snapshot).expect("baseline held");
        old.sender()
            .send_unreliable(&ClientMsg::Ack {
                tick: snapshot.tick,
            })
            .await
            .expect("ack");
    }
    let (_, state) = buffer.latest().expect("held");
    for (id, entity) in &state.entities {
        if matches!(entity, stadium_shared::snapshot::EntityState::Ship(s) if s.owner == welcome.session)
        {
            ship = Some(*id);
        }
    }
    let ship = ship.expect("own ship in the arena");
    drop(old);

    let mut new = common::connect_raw(&server, Wire::Quic).await;
    let resumed = within("resume", new.resume("Pilot", &welcome, 0))
        .await
        .expect("resumed");
    assert!(matches!(resumed, ServerMsg::Resumed { session, .. } if session == welcome.session));
    let snapshot = first_snapshot(&mut new).await;
    assert_eq!(
        snapshot.baseline, None,
        "the new connection holds no baseline"
    );
    let mut fresh = SnapshotBuffer::new(64);
    fresh.receive(&snapshot).expect("a full snapshot");
    let (_, state) = fresh.latest().expect("held");
    assert!(state.entities.contains_key(&ship), "the same ship flies on");
    server.shutdown(Duration::from_secs(2)).await;
}
