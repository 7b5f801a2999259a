//! One JSON `ClientMsg`: a text WebSocket message.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stadium_shared::fuzzing::client_msg_json(data));
