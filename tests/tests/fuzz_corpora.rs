//! Replays the fuzz corpora kept in `fuzz/corpus/<target>/` through the same
//! bodies the `cargo fuzz` targets run, on stable Rust: every input a fuzzer
//! found interesting (and every crash it found, once fixed) stays a test.

use std::path::PathBuf;

fn replay(target: &str, body: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|err| panic!("corpus {}: {err}", dir.display()));
    let mut replayed = 0;
    for entry in entries {
        let path = entry.expect("readable corpus entry").path();
        let data = std::fs::read(&path).expect("readable corpus file");
        let outcome = std::panic::catch_unwind(|| body(&data));
        assert!(outcome.is_ok(), "{target}: {} fails", path.display());
        replayed += 1;
    }
    assert!(replayed > 0, "{target}: empty corpus in {}", dir.display());
}

#[test]
fn postcard_client_messages_corpus_replays_cleanly() {
    replay(
        "client_msg_postcard",
        stadium_shared::fuzzing::client_msg_postcard,
    );
}

#[test]
fn json_client_messages_corpus_replays_cleanly() {
    replay("client_msg_json", stadium_shared::fuzzing::client_msg_json);
}

#[test]
fn quic_stream_frames_corpus_replays_cleanly() {
    replay("quic_stream", stadium_server::fuzzing::quic_stream);
}

#[test]
fn websocket_messages_corpus_replays_cleanly() {
    replay("ws_messages", stadium_server::fuzzing::ws_messages);
}

#[test]
fn arena_room_scripts_corpus_replays_cleanly() {
    replay("arena_room", stadium_server::fuzzing::arena_room);
}
