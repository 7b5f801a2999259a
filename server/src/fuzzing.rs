//! Bodies of the server's fuzz targets in `fuzz/`, kept here so that the
//! fuzz targets and the tests replaying their corpora run the same code.
//!
//! - [`quic_stream`]: bytes as a QUIC stream, through the frame reader and
//!   the decoder;
//! - [`ws_messages`]: bytes as what a client sends after the WebSocket
//!   upgrade, through tungstenite with the server's limits and the
//!   WebSocket message path;
//! - [`arena_room`]: bytes as a script of joins, leaves, drops, resumes,
//!   inputs, acknowledgements and ticks played into a headless arena room,
//!   checking after every tick that each present player has exactly one
//!   ship.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use stadium_shared::asteroids::AsteroidsSettings;
use stadium_shared::codec;
use stadium_shared::snapshot::SnapshotBuffer;
use stadium_shared::trivia::pack::Pack;
use stadium_shared::{Input, MAX_FRAME_LEN, Role, RoomCode, ServerMsg, SessionId, Tick};
use tokio::sync::oneshot;

use crate::config::WsLimits;
use crate::games::asteroids::AsteroidsGame;
use crate::lobby::{Lobby, RoomLimits};
use crate::room::runner::RoomRunner;
use crate::room::{GameCommand, Room, RoomCommand, RoomHandle, RoomPolicy};
use crate::session::outbound::{Outbound, OutboundRx};
use crate::transport::quic::{FrameError, read_frame};
use crate::transport::{Incoming, ws};

/// Reads frames from `data` as the QUIC stream reader does, decoding each,
/// until the stream ends or announces an oversized frame.
pub fn quic_stream(data: &[u8]) {
    let mut stream = data;
    loop {
        let frame = read_frame(&mut stream)
            .now_or_never()
            .expect("reading a byte slice never waits");
        match frame {
            Ok(payload) => {
                assert!(payload.len() <= MAX_FRAME_LEN);
                let _ = codec::decode_client(&payload, codec::Format::Postcard);
            }
            Err(FrameError::TooLarge | FrameError::Closed) => return,
        }
    }
}

/// Limits small enough for a fuzzer to pass them often.
const FUZZ_WS_LIMITS: WsLimits = WsLimits {
    max_message: 2048,
    max_frame: 512,
    max_write_buffer: 64 * 1024,
};

/// A client's bytes in, whatever the server writes thrown away.
struct Scripted<'a>(&'a [u8]);

impl Read for Scripted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Scripted<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Feeds `data` to a server-side WebSocket with the server's settings (at
/// fuzzing sizes) and every message it yields through the message path.
/// No message may pass the limit.
pub fn ws_messages(data: &[u8]) {
    use tungstenite::protocol::{Role as WsRole, WebSocket};
    let config = ws::tungstenite_config(FUZZ_WS_LIMITS);
    let mut socket = WebSocket::from_raw_socket(Scripted(data), WsRole::Server, Some(config));
    while let Ok(msg) = socket.read() {
        let msg = match msg {
            tungstenite::Message::Binary(bytes) => axum::extract::ws::Message::Binary(bytes),
            tungstenite::Message::Text(text) => {
                axum::extract::ws::Message::Text(text.as_str().into())
            }
            _ => continue,
        };
        if let Some(Incoming::Message(bytes, format)) = ws::incoming(msg) {
            assert!(bytes.len() <= FUZZ_WS_LIMITS.max_message, "limit passed");
            let _ = codec::decode_client(&bytes, format);
        }
    }
}

/// Player slots a script can name.
const SLOTS: u8 = 6;

/// Steps a script may hold; longer inputs are cut.
const MAX_STEPS: usize = 512;

/// One connection of the script: its session, queue and reconstruction.
struct Slot {
    session: SessionId,
    outbound: Outbound,
    rx: Option<OutboundRx>,
    snapshots: SnapshotBuffer,
    seq: u32,
}

impl Slot {
    fn new(session: SessionId) -> Self {
        let (outbound, rx) = Outbound::channel(codec::Format::Postcard, 1 << 20);
        Self {
            session,
            outbound,
            rx: Some(rx),
            snapshots: SnapshotBuffer::new(64),
            seq: 0,
        }
    }
}

fn lobby() -> Arc<Lobby> {
    static LOBBY: OnceLock<Arc<Lobby>> = OnceLock::new();
    LOBBY
        .get_or_init(|| {
            let limits = RoomLimits {
                total: 1,
                per_session: 1,
                per_address: 1,
                players_per_room: 4,
            };
            Lobby::new(
                RoomRunner::start(1),
                Arc::new(Pack::default()),
                limits,
                RoomPolicy::new(Duration::ZERO, Duration::ZERO, 1 << 20),
            )
        })
        .clone()
}

/// Plays `data` as a script into a headless arena room. Panics if a
/// present player ever has no ship or two, or a ship outlives its player
/// by more than the tick in which the connection dropped.
pub fn arena_room(data: &[u8]) {
    let Some((&first, script)) = data.split_first() else {
        return;
    };
    let settings = AsteroidsSettings {
        max_players: 4,
        tick_hz: 10,
        match_secs: 5,
        rocks_per_wave: u16::from(first % 6),
        seed: Some(u64::from(first)),
    };
    let game = AsteroidsGame::new(settings, 0).expect("valid settings");
    let code = RoomCode::parse("FZZA").expect("a valid code");
    let mut now = Instant::now();
    let (mut room, handle) = Room::new(
        code,
        Box::new(game),
        SessionId(1),
        lobby(),
        // Seats of dropped players wait for a resume. The room stamps a drop
        // with the real clock and the script's ticks run ahead of it, so
        // the grace ends within about fifty ticks of the script's start.
        RoomPolicy::new(Duration::from_secs(1), Duration::from_secs(5), 1 << 20),
        now,
    );
    let mut next_session = 1;
    let mut slots: Vec<Slot> = (0..SLOTS)
        .map(|_| {
            next_session += 1;
            Slot::new(SessionId(next_session))
        })
        .collect();
    let mut dropped = BTreeSet::new();
    let mut bytes = script.iter().copied().take(MAX_STEPS * 2);
    while let (Some(op), Some(arg)) = (bytes.next(), bytes.next()) {
        let slot = &mut slots[usize::from(arg % SLOTS)];
        let session = slot.session;
        match op % 8 {
            0 | 1 => {
                let role = if op % 8 == 0 {
                    Role::Player
                } else {
                    Role::Spectator
                };
                let (reply, _) = oneshot::channel();
                let join = RoomCommand::Join {
                    session,
                    nickname: format!("p{}", session.0),
                    role,
                    outbound: slot.outbound.clone(),
                    reply,
                };
                let _ = handle.send(join);
            }
            2 => {
                let _ = handle.send(RoomCommand::Leave { session });
            }
            3 => {
                slot.seq = slot.seq.wrapping_add(u32::from(arg >> 3));
                let input = Input {
                    seq: slot.seq,
                    turn: f32::from(arg as i8) / 128.0,
                    thrust: op & 0x10 != 0,
                    fire: op & 0x20 != 0,
                };
                game_command(&handle, session, GameCommand::Input(input));
            }
            4 => {
                if let Some((tick, _)) = slot.snapshots.latest() {
                    game_command(&handle, session, GameCommand::Ack(tick));
                }
            }
            5 | 6 => {
                let mut before: BTreeSet<SessionId> = room.players().collect();
                // A seat taken and dropped before this tick may be seated
                // for it and leave at its end, once the grace is over.
                before.append(&mut dropped);
                now += room.period();
                room.tick(now);
                check_ships(&room, &mut slots, &before);
            }
            _ if op & 0x40 == 0 => {
                // The connection drops, as a session's end tells its room.
                // The slot reconnects, as the same session (to resume) or,
                // with the top bit, as a new one.
                slot.rx = None;
                let _ = handle.send(RoomCommand::Detach { session });
                dropped.insert(session);
                let session = if op & 0x80 == 0 {
                    session
                } else {
                    next_session += 1;
                    SessionId(next_session)
                };
                let snapshots = std::mem::replace(&mut slot.snapshots, SnapshotBuffer::new(1));
                *slot = Slot::new(session);
                slot.snapshots = snapshots;
            }
            _ => {
                // Takes the session's seat over this connection, asking for
                // the events after an arbitrary number (the room clamps it).
                let (reply, _) = oneshot::channel();
                let resume = RoomCommand::Resume {
                    session,
                    outbound: slot.outbound.clone(),
                    last_event_seq: u64::from(arg >> 3),
                    reply,
                };
                let _ = handle.send(resume);
            }
        }
    }
}

fn game_command(handle: &RoomHandle, session: SessionId, command: GameCommand) {
    let _ = handle.send(RoomCommand::Game { session, command });
}

/// Every live slot's newest snapshot names each player seated after the
/// tick once, and no ship but those of players seated after it or in
/// `before` (seated before it, or dropped since the last tick: one who
/// left at the end of the tick, its resume grace over, was still in the
/// tick's snapshot).
fn check_ships(room: &Room, slots: &mut [Slot], before: &BTreeSet<SessionId>) {
    let present: BTreeSet<SessionId> = room.players().collect();
    for slot in slots {
        let Some(rx) = slot.rx.as_mut() else { continue };
        let mut newest: Option<Tick> = None;
        while let Some(out) = rx.try_recv() {
            if let ServerMsg::Snapshot(snapshot) = out.msg() {
                slot.snapshots
                    .receive(snapshot)
                    .expect("the server deltas only against acknowledged states");
                newest = Some(snapshot.tick);
            }
        }
        let Some(tick) = newest else { continue };
        let (latest, state) = slot.snapshots.latest().expect("just received");
        assert_eq!(latest, tick);
        let owners: Vec<SessionId> = state.ships().map(|(_, ship)| ship.owner).collect();
        let unique: BTreeSet<SessionId> = owners.iter().copied().collect();
        assert_eq!(unique.len(), owners.len(), "two ships for one player");
        assert!(unique.is_superset(&present), "a present player has no ship");
        assert!(
            unique
                .iter()
                .all(|o| present.contains(o) || before.contains(o)),
            "a ship without a player: {unique:?} vs {present:?}"
        );
    }
}
