//! A QUIC stream: length-prefixed frames through the server's frame reader and decoder.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stadium_server::fuzzing::quic_stream(data));
