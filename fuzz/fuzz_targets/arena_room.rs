//! Joins, leaves, drops, inputs, acks and ticks in a headless arena room: one ship per present player.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stadium_server::fuzzing::arena_room(data));
