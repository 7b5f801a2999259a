//! Spectators of an arena share one snapshot per tick, encoded once per
//! wire format however many watch, as `/metrics` counts it.
//!
//! The metrics recorder belongs to the process, so this file is its own
//! test binary with a single test: no other room ticks beside it.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Wire, connect, create_room, join, metric, next, spectate, within};
use stadium_bot::Client;
use stadium_shared::asteroids::AsteroidsSettings;
use stadium_shared::{GameSettings, ServerMsg, Tick};

/// Ticks each measurement spans, at 30 Hz about two seconds.
const WINDOW: i32 = 60;

async fn watch(server: &stadium_server::Server, wire: Wire, code: &str) -> Client {
    let (mut watcher, _) = connect(server, wire, "Watcher").await;
    spectate(&mut watcher, code).await;
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

/// What one measurement saw: ticks and encodes counted by `/metrics`, and
/// the distinct ticks the watchers received, by wire format.
struct Measured {
    ticks: u64,
    encodes: u64,
    received: u64,
}

/// Encodes and ticks counted while every watcher sees a window of ticks;
/// `formats[i]` names watcher `i`'s wire format.
async fn measure(
    server: &stadium_server::Server,
    watchers: &mut [Client],
    formats: &[Wire],
) -> Measured {
    const TICKS: &str = "stadium_ticks_total{game=\"asteroids\"}";
    const ENCODES: &str = "stadium_spectator_snapshot_encodes_total";
    let (ticks_before, encodes_before) = (
        metric(server, TICKS).await as u64,
        metric(server, ENCODES).await as u64,
    );
    let windows = futures_util::future::join_all(watchers.iter_mut().map(watch_window));
    let windows = within("every spectator's window", windows).await;
    let (ticks_after, encodes_after) = (
        metric(server, TICKS).await as u64,
        metric(server, ENCODES).await as u64,
    );
    // Every snapshot a watcher received was encoded once for its format;
    // watchers of one format share the encodes of the ticks they all saw.
    let mut received = BTreeSet::new();
    for (ticks, format) in windows.iter().zip(formats) {
        assert!(ticks.len() > 1);
        received.extend(ticks.iter().map(|tick| (format!("{format:?}"), tick.0)));
    }
    Measured {
        ticks: ticks_after - ticks_before,
        encodes: encodes_after - encodes_before,
        received: received.len() as u64,
    }
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

    // Encoding is lazy: a writer encodes the newest snapshot when its
    // socket is ready, so on a busy machine a snapshot replaced before any
    // writer got to it is never encoded, and the two scrapes may split a
    // tick from its encode. Hence bounds, not an equality: never more than
    // one encode per tick and format (however many watch), never fewer
    // than the distinct snapshots the watchers received.
    let mut formats = vec![Wire::WsJson, Wire::WsJson];
    let mut watchers = Vec::new();
    for &format in &formats {
        watchers.push(watch(&server, format, room.code.as_str()).await);
    }
    let m = measure(&server, &mut watchers, &formats).await;
    assert!(m.ticks >= WINDOW as u64, "{} ticks", m.ticks);
    assert!(
        m.encodes <= m.ticks + 2 && m.encodes + 2 >= m.received,
        "two JSON spectators: {} encodes in {} ticks, {} snapshots received",
        m.encodes,
        m.ticks,
        m.received
    );

    // A spectator on another wire format adds that format's encode.
    formats.push(Wire::WsPostcard);
    watchers.push(watch(&server, Wire::WsPostcard, room.code.as_str()).await);
    let m = measure(&server, &mut watchers, &formats).await;
    assert!(
        m.encodes <= 2 * m.ticks + 4 && m.encodes + 4 >= m.received,
        "JSON and postcard spectators: {} encodes in {} ticks, {} snapshots received",
        m.encodes,
        m.ticks,
        m.received
    );

    drain.abort();
    server.shutdown(Duration::from_secs(2)).await;
}
