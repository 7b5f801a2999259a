//! Spectators of an arena share one snapshot per tick, encoded once per
//! wire format however many watch, as `/metrics` counts it.
//!
//! The metrics recorder belongs to the process, so this file is its own
//! test binary with a single test: no other room ticks beside it.

mod common;

use std::time::Duration;

use common::{Wire, connect, create_room, join, next, within};
use stadium_bot::Client;
use stadium_shared::asteroids::AsteroidsSettings;
use stadium_shared::{ClientMsg, GameSettings, Role, ServerMsg, Tick};

/// Ticks each measurement spans, at 30 Hz about two seconds.
const WINDOW: i32 = 60;

/// One sample of `name` (with its labels, as rendered) from `/metrics`.
async fn metric(server: &stadium_server::Server, name: &str) -> u64 {
    let url = format!("http://{}/metrics", server.http_addr());
    let body = reqwest::get(url).await.expect("GET /metrics");
    let text = body.text().await.expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0, |value| {
            value.trim().parse::<f64>().expect("a number") as u64
        })
}

async fn watch(server: &stadium_server::Server, wire: Wire, code: &str) -> Client {
    let (mut watcher, _) = connect(server, wire, "Watcher").await;
    let join = ClientMsg::JoinRoom {
        code: code.to_owned(),
        spectate: true,
    };
    watcher.send(&join).await.expect("send join");
    let joined = next(&mut watcher, "joined", |m| {
        matches!(m, ServerMsg::Joined { .. })
    })
    .await;
    assert!(matches!(
        joined,
        ServerMsg::Joined {
            role: Role::Spectator,
            ..
        }
    ));
    watcher
}

/// Reads snapshots until one is `WINDOW` ticks past the first; returns
/// the ticks seen.
async fn watch_window(watcher: &mut Client) -> Vec<Tick> {
    let mut ticks = Vec::new();
    loop {
        let msg = next(watcher, "a spectator snapshot", |m| {
            matches!(m, ServerMsg::Snapshot(_))
        })
        .await;
        let ServerMsg::Snapshot(snapshot) = msg else {
            unreachable!("filtered above")
        };
        assert_eq!(snapshot.baseline, None, "spectators get full snapshots");
        ticks.push(snapshot.tick);
        if snapshot.tick.since(ticks[0]) >= WINDOW {
            return ticks;
        }
    }
}

/// Encodes and ticks counted while every watcher sees a window of ticks.
async fn measure(server: &stadium_server::Server, watchers: &mut [Client]) -> (u64, u64) {
    const TICKS: &str = "stadium_ticks_total{game=\"asteroids\"}";
    const ENCODES: &str = "stadium_spectator_snapshot_encodes_total";
    let (ticks_before, encodes_before) =
        (metric(server, TICKS).await, metric(server, ENCODES).await);
    let windows = futures_util::future::join_all(watchers.iter_mut().map(watch_window));
    for ticks in within("every spectator's window", windows).await {
        assert!(ticks.len() > 1);
    }
    let (ticks_after, encodes_after) = (metric(server, TICKS).await, metric(server, ENCODES).await);
    (ticks_after - ticks_before, encodes_after - encodes_before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spectators_on_one_wire_cost_one_snapshot_encode_per_tick() {
    let server = common::start().await;
    let (mut pilot, _) = connect(&server, Wire::WsPostcard, "Pilot").await;
    let settings = AsteroidsSettings {
        rocks_per_wave: 3,
        ..AsteroidsSettings::default()
    };
    let room = create_room(&mut pilot, GameSettings::Asteroids(settings)).await;
    join(&mut pilot, room.code.as_str()).await;
    // The pilot's own snapshots are per player and not counted; its socket
    // is drained so that it never holds the room up.
    let (_sender, mut receiver) = pilot.split();
    let drain = tokio::spawn(async move { while receiver.recv().await.is_ok() {} });

    let mut watchers = vec![
        watch(&server, Wire::WsJson, room.code.as_str()).await,
        watch(&server, Wire::WsJson, room.code.as_str()).await,
    ];
    let (ticks, encodes) = measure(&server, &mut watchers).await;
    assert!(ticks >= WINDOW as u64, "{ticks} ticks");
    // Encoding is lazy (a writer encodes after the tick), so the two
    // scrapes may split a tick from its encode: allow two either way.
    assert!(
        encodes.abs_diff(ticks) <= 2,
        "two JSON spectators: {encodes} encodes in {ticks} ticks"
    );

    // A spectator on another wire format adds that format's encode.
    watchers.push(watch(&server, Wire::WsPostcard, room.code.as_str()).await);
    let (ticks, encodes) = measure(&server, &mut watchers).await;
    assert!(
        encodes.abs_diff(2 * ticks) <= 4,
        "JSON and postcard spectators: {encodes} encodes in {ticks} ticks"
    );

    drain.abort();
    server.shutdown(Duration::from_secs(2)).await;
}
