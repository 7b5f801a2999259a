//! Reading a postcard snapshot's header without decoding its bodies.
//!
//! A light bot only counts snapshots and acknowledges their tick; the
//! bodies are most of a snapshot's bytes and all of its decoding cost.
//! postcard writes a struct's fields in order, so the tick, the baseline,
//! the echoed input and the tick rate come first, right after the
//! message's variant index.

use std::sync::OnceLock;

use stadium_shared::codec::{self, Format};
use stadium_shared::snapshot::ArenaState;
use stadium_shared::{ServerMsg, Tick};

/// The first fields of a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// The server tick it is the state of.
    pub tick: Tick,
    /// The tick it is a delta against; `None` for a full snapshot.
    pub baseline: Option<Tick>,
    /// The newest input the server has applied for this client.
    pub last_input: u32,
    /// The room's ticks per second.
    pub tick_hz: u16,
}

/// The header of `payload` when it is a postcard-encoded
/// [`ServerMsg::Snapshot`]; `None` for any other message or bytes that
/// end too soon.
pub fn peek_snapshot(payload: &[u8]) -> Option<SnapshotHeader> {
    let (variant, rest) = postcard::take_from_bytes::<u32>(payload).ok()?;
    if variant != snapshot_variant() {
        return None;
    }
    let (tick, rest) = postcard::take_from_bytes::<u32>(rest).ok()?;
    let (baseline, rest) = postcard::take_from_bytes::<Option<u32>>(rest).ok()?;
    let (last_input, rest) = postcard::take_from_bytes::<u32>(rest).ok()?;
    let (tick_hz, _) = postcard::take_from_bytes::<u16>(rest).ok()?;
    Some(SnapshotHeader {
        tick: Tick(tick),
        baseline: baseline.map(Tick),
        last_input,
        tick_hz,
    })
}

/// The variant index postcard gives snapshots, read off an encoded one so
/// that it follows the enum wherever the variant sits.
fn snapshot_variant() -> u32 {
    static VARIANT: OnceLock<u32> = OnceLock::new();
    *VARIANT.get_or_init(|| {
        let snapshot = ArenaState::default().snapshot(Tick(0), None, 0);
        let bytes = codec::encode(&ServerMsg::Snapshot(snapshot), Format::Postcard);
        postcard::take_from_bytes::<u32>(&bytes)
            .expect("an encoded message starts with its variant")
            .0
    })
}

#[cfg(test)]
mod tests {
    use stadium_shared::snapshot::{Body, EntityState, ShipState};
    use stadium_shared::{ClientMsg, SessionId};

    use super::*;

    fn arena() -> ArenaState {
        let mut arena = ArenaState::default();
        let ship = ShipState {
            owner: SessionId(7),
            body: Body {
                x: 1000,
                y: 2000,
                vx: 30,
                vy: -4,
            },
            angle: 12,
            flags: 0,
            lives: 3,
            score: 250,
            ax: 0,
            ay: 0,
            spin: 0,
        };
        arena.entities.insert(3, EntityState::Ship(ship));
        arena
    }

    #[test]
    fn headers_of_full_and_delta_snapshots_are_read_without_decoding() {
        let arena = arena();
        let mut full = arena.snapshot(Tick(70_000), None, 300);
        full.tick_hz = 30;
        let bytes = codec::encode(&ServerMsg::Snapshot(full), Format::Postcard);
        assert_eq!(
            peek_snapshot(&bytes),
            Some(SnapshotHeader {
                tick: Tick(70_000),
                baseline: None,
                last_input: 300,
                tick_hz: 30,
            })
        );
        let mut delta = arena.snapshot(Tick(70_002), Some((Tick(70_001), &arena)), 301);
        delta.tick_hz = 60;
        let bytes = codec::encode(&ServerMsg::Snapshot(delta), Format::Postcard);
        let header = peek_snapshot(&bytes).unwrap();
        assert_eq!(header.baseline, Some(Tick(70_001)));
        assert_eq!((header.tick, header.last_input), (Tick(70_002), 301));
        assert_eq!(header.tick_hz, 60);
    }

    #[test]
    fn other_messages_and_cut_bytes_are_not_snapshots() {
        let pong = codec::encode(&ServerMsg::Pong { nonce: 5 }, Format::Postcard);
        assert_eq!(peek_snapshot(&pong), None);
        let input = codec::encode(&ClientMsg::Ack { tick: Tick(1) }, Format::Postcard);
        assert_eq!(peek_snapshot(&input[..0]), None);
        let snapshot = codec::encode(
            &ServerMsg::Snapshot(arena().snapshot(Tick(9), None, 1)),
            Format::Postcard,
        );
        assert_eq!(peek_snapshot(&snapshot[..2]), None);
    }
}
