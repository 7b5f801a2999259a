//! Length-prefixed framing for byte streams (QUIC's reliable stream).
//!
//! A frame is a 4-byte big-endian length followed by that many bytes of one
//! encoded message. The length is checked before any payload is read, so a
//! peer cannot make the reader hold more than [`MAX_FRAME_LEN`] bytes.

use crate::MAX_FRAME_LEN;

/// Bytes of the length prefix.
pub const HEADER_LEN: usize = 4;

/// A frame header announces more than the limit.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("frame of {len} bytes exceeds the {max}-byte limit")]
pub struct FrameTooLarge {
    /// Announced length.
    pub len: usize,
    /// The limit.
    pub max: usize,
}

/// Prepends the length header to a payload.
pub fn encode_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(HEADER_LEN + payload.len());
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Reads the payload length from a header, refusing lengths over `max`.
pub fn payload_len(header: [u8; HEADER_LEN], max: usize) -> Result<usize, FrameTooLarge> {
    let len = u32::from_be_bytes(header) as usize;
    if len > max.min(MAX_FRAME_LEN) {
        return Err(FrameTooLarge {
            len,
            max: max.min(MAX_FRAME_LEN),
        });
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_their_length() {
        let frame = encode_frame(b"hello");
        assert_eq!(&frame[..4], &[0, 0, 0, 5]);
        assert_eq!(
            payload_len(frame[..4].try_into().unwrap(), MAX_FRAME_LEN),
            Ok(5)
        );
    }

    #[test]
    fn oversized_headers_are_refused_before_reading() {
        let header = ((MAX_FRAME_LEN + 1) as u32).to_be_bytes();
        assert!(payload_len(header, MAX_FRAME_LEN).is_err());
        assert!(payload_len(100u32.to_be_bytes(), 99).is_err());
    }
}
