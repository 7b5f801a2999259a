//! A client's bytes after the WebSocket upgrade: tungstenite with the server's limits, then the message path.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stadium_server::fuzzing::ws_messages(data));
