//! One postcard `ClientMsg`: a QUIC datagram, a stream frame, a binary WebSocket message.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stadium_shared::fuzzing::client_msg_postcard(data));
