//! Bodies of the decoder fuzz targets in `fuzz/`, kept here so that the
//! fuzz targets and the tests replaying their corpora run the same code.
//!
//! Each body takes arbitrary bytes and panics only on a real fault: a
//! decoder that panics, or a message that decodes but does not survive
//! encoding and decoding again unchanged.

use crate::codec::{self, Format};

/// Arbitrary bytes as one postcard `ClientMsg` (a QUIC datagram, a stream
/// frame's payload, a binary WebSocket message).
pub fn client_msg_postcard(data: &[u8]) {
    client_msg(data, Format::Postcard);
}

/// Arbitrary bytes as one JSON `ClientMsg` (a text WebSocket message).
pub fn client_msg_json(data: &[u8]) {
    client_msg(data, Format::Json);
}

fn client_msg(data: &[u8], format: Format) {
    let Ok(msg) = codec::decode_client(data, format) else {
        return;
    };
    // Whatever the server accepts it must be able to write back and read
    // again identically (bytes, not values: floats need not equal
    // themselves).
    let encoded = codec::encode(&msg, format);
    let again = codec::decode_client(&encoded, format)
        .unwrap_or_else(|err| panic!("{msg:?} encodes to bytes it refuses: {err}"));
    assert_eq!(codec::encode(&again, format), encoded, "{msg:?}");
}
