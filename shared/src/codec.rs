//! Encoding and decoding of messages.
//!
//! Native clients use postcard (compact, not self-describing); browsers use
//! JSON. Decoding is strict in both: a message must fill its buffer exactly,
//! and inputs with non-finite or out-of-range values are refused here, so
//! nothing invalid reaches a room.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ErrorCode;
use crate::msg::ClientMsg;
use crate::{MAX_FRAME_LEN, ServerMsg};

/// How messages are written on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Binary postcard.
    Postcard,
    /// JSON text.
    Json,
}

/// Why bytes are not a valid message.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    /// The buffer is longer than [`MAX_FRAME_LEN`].
    #[error("message of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// Bytes received.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a message of the expected type.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A valid message followed by bytes that belong to none.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// A message whose values a client may not send.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
}

impl DecodeError {
    /// What went wrong, without the words the error code's own message
    /// already says.
    pub fn detail(&self) -> String {
        match self {
            DecodeError::TooLarge { len, max } => format!("{len} bytes, at most {max}"),
            DecodeError::Malformed(why) => why.clone(),
            DecodeError::TrailingBytes(n) => format!("{n} trailing bytes after the message"),
            DecodeError::InvalidInput(why) => (*why).to_owned(),
        }
    }

    /// The error code reported to the sender.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::TooLarge { .. } => ErrorCode::FrameTooLarge,
            DecodeError::Malformed(_) | DecodeError::TrailingBytes(_) => ErrorCode::Malformed,
            DecodeError::InvalidInput(_) => ErrorCode::InvalidInput,
        }
    }
}

/// Encodes a message.
pub fn encode<T: Serialize>(msg: &T, format: Format) -> Vec<u8> {
    match format {
        Format::Postcard => {
            postcard::to_stdvec(msg).expect("protocol messages always serialize to postcard")
        }
        Format::Json => {
            serde_json::to_vec(msg).expect("protocol messages always serialize to JSON")
        }
    }
}

/// Decodes a message of any protocol type, rejecting trailing bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], format: Format) -> Result<T, DecodeError> {
    if bytes.len() > MAX_FRAME_LEN {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            max: MAX_FRAME_LEN,
        });
    }
    match format {
        Format::Postcard => {
            let (msg, rest) = postcard::take_from_bytes(bytes)
                .map_err(|e| DecodeError::Malformed(e.to_string()))?;
            if !rest.is_empty() {
                return Err(DecodeError::TrailingBytes(rest.len()));
            }
            Ok(msg)
        }
        // serde_json already refuses anything but whitespace after the value.
        Format::Json => {
            serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
        }
    }
}

/// What a JSON client message looks like, for a sender whose message was
/// some other JSON value (an array, a number), of which serde's own error
/// says only where it stopped.
const JSON_SHAPE: &str = "a message is a JSON object naming its kind, such as \
    {\"ping\": {\"nonce\": 1}}, or a string for one without fields, such as \"list_rooms\"";

/// Decodes and validates a message from a client.
pub fn decode_client(bytes: &[u8], format: Format) -> Result<ClientMsg, DecodeError> {
    let msg: ClientMsg = decode(bytes, format).map_err(|err| match err {
        DecodeError::Malformed(detail) if format == Format::Json && !shaped_like_message(bytes) => {
            DecodeError::Malformed(format!("{JSON_SHAPE} ({detail})"))
        }
        err => err,
    })?;
    if let ClientMsg::Input(input) = &msg {
        input.validate().map_err(DecodeError::InvalidInput)?;
    }
    Ok(msg)
}

/// Decodes a message from the server.
pub fn decode_server(bytes: &[u8], format: Format) -> Result<ServerMsg, DecodeError> {
    decode(bytes, format)
}

/// Whether JSON bytes open as a message does: an object or a string.
fn shaped_like_message(bytes: &[u8]) -> bool {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    matches!(first, Some(b'{' | b'"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_of_the_wrong_shape_is_told_what_a_message_looks_like() {
        for wrong in [&b"[1,2,3]"[..], b"42", b"null", b" true"] {
            let err = decode_client(wrong, Format::Json).unwrap_err();
            assert_eq!(err.code(), ErrorCode::Malformed);
            assert!(
                err.to_string().contains("a JSON object naming its kind"),
                "{err}"
            );
        }
        // An object that names no message keeps serde's own words.
        let err = decode_client(br#"{"dance": {}}"#, Format::Json).unwrap_err();
        assert!(!err.to_string().contains("naming its kind"), "{err}");
        assert!(err.to_string().contains("dance"), "{err}");
    }
    use crate::msg::{Event, GameSettings, Input, OpenQuestion, TriviaEvent};
    use crate::trivia::{Difficulty, TriviaSettings};
    use crate::{Channel, RoomCode, SessionId};

    fn samples() -> Vec<ClientMsg> {
        vec![
            ClientMsg::Hello {
                version: 1,
                nickname: "Ada".into(),
            },
            ClientMsg::ListRooms,
            ClientMsg::CreateRoom {
                settings: GameSettings::Trivia(TriviaSettings::default()),
            },
            ClientMsg::JoinRoom {
                code: "K7QX".into(),
                spectate: true,
            },
            ClientMsg::Answer {
                question: 3,
                choice: 2,
            },
            ClientMsg::Input(Input {
                seq: 9,
                turn: -0.5,
                thrust: true,
                fire: false,
            }),
            ClientMsg::Chat { text: "gg".into() },
            ClientMsg::Ping { nonce: u64::MAX },
        ]
    }

    #[test]
    fn client_messages_round_trip_in_both_formats() {
        for format in [Format::Postcard, Format::Json] {
            for msg in samples() {
                let bytes = encode(&msg, format);
                assert_eq!(decode_client(&bytes, format).unwrap(), msg, "{format:?}");
            }
        }
    }

    #[test]
    fn server_messages_round_trip_in_both_formats() {
        let code = RoomCode::parse("K7QX").unwrap();
        let msg = ServerMsg::Event {
            channel: Channel::Room(code),
            seq: Some(41),
            event: Event::Trivia(TriviaEvent::Question(OpenQuestion {
                index: 0,
                total: 3,
                category: "Science".into(),
                difficulty: Difficulty::Easy,
                text: "Which planet is closest to the Sun?".into(),
                choices: [
                    "Venus".into(),
                    "Mercury".into(),
                    "Mars".into(),
                    "Earth".into(),
                ],
                time_ms: 15_000,
            })),
        };
        let welcome = ServerMsg::Welcome {
            session: SessionId(7),
            version: 1,
            server: "s".into(),
            resume_token: "00112233445566778899aabbccddeeff".into(),
        };
        for format in [Format::Postcard, Format::Json] {
            for msg in [
                msg.clone(),
                welcome.clone(),
                ServerMsg::error(ErrorCode::RoomFull),
            ] {
                assert_eq!(decode_server(&encode(&msg, format), format).unwrap(), msg);
            }
        }
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = encode(&ClientMsg::Ping { nonce: 1 }, Format::Postcard);
        bytes.extend_from_slice(&[0xde, 0xad]);
        assert_eq!(
            decode_client(&bytes, Format::Postcard),
            Err(DecodeError::TrailingBytes(2))
        );

        let mut json = encode(&ClientMsg::Ping { nonce: 1 }, Format::Json);
        json.extend_from_slice(b"{}");
        assert!(matches!(
            decode_client(&json, Format::Json),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn non_finite_and_out_of_range_inputs_are_rejected() {
        for turn in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e30, -1.01] {
            let msg = ClientMsg::Input(Input {
                seq: 1,
                turn,
                thrust: true,
                fire: true,
            });
            let bytes = encode(&msg, Format::Postcard);
            let err = decode_client(&bytes, Format::Postcard).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidInput, "turn {turn}");
        }
        // JSON has no NaN; 1e30 parses and must still be refused.
        let json = br#"{"input":{"seq":1,"turn":1e30,"thrust":false,"fire":false}}"#;
        assert_eq!(
            decode_client(json, Format::Json).unwrap_err().code(),
            ErrorCode::InvalidInput
        );
        let json = br#"{"input":{"seq":1,"turn":NaN,"thrust":false,"fire":false}}"#;
        assert_eq!(
            decode_client(json, Format::Json).unwrap_err().code(),
            ErrorCode::Malformed
        );
    }

    #[test]
    fn oversized_and_garbage_buffers_are_rejected() {
        let big = vec![0u8; MAX_FRAME_LEN + 1];
        assert_eq!(
            decode_client(&big, Format::Postcard).unwrap_err().code(),
            ErrorCode::FrameTooLarge
        );
        assert!(decode_client(&[0xff; 20], Format::Postcard).is_err());
        assert!(decode_client(b"", Format::Postcard).is_err());
    }

    #[test]
    fn hello_layout_is_variant_zero_then_version() {
        // A server of any version reads the version from these first bytes.
        let bytes = encode(
            &ClientMsg::Hello {
                version: 300,
                nickname: "x".into(),
            },
            Format::Postcard,
        );
        assert_eq!(&bytes[..3], &[0, 0xac, 0x02]);
    }
}
