//! Identifiers and the wrapping tick counter.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A connected client, unique for the life of the server process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0)
    }
}

/// The short code players type to join a room, such as `K7QX`.
///
/// Codes use upper-case letters and digits without the look-alikes `0`,
/// `O`, `1` and `I`, so they survive being read aloud.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoomCode(String);

impl RoomCode {
    /// Characters a code is made of.
    pub const ALPHABET: &'static [u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    /// Length of a code.
    pub const LEN: usize = 4;

    /// Parses user input: trims it, upper-cases it and checks the alphabet.
    pub fn parse(input: &str) -> Option<Self> {
        let code = input.trim().to_ascii_uppercase();
        let valid = code.len() == Self::LEN && code.bytes().all(|b| Self::ALPHABET.contains(&b));
        valid.then_some(Self(code))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A room's simulation step counter.
///
/// It is a `u32` that wraps: at 30 Hz it wraps after about four and a half
/// years, and a room seeded near the end of the range must keep working.
/// Ticks are therefore compared by their wrapping distance, which is right
/// as long as the two ticks are less than `2^31` apart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tick(pub u32);

impl Tick {
    /// The tick after this one.
    #[must_use]
    pub fn next(self) -> Self {
        Self(self.0.wrapping_add(1))
    }

    /// Signed number of ticks from `earlier` to `self`.
    pub fn since(self, earlier: Tick) -> i32 {
        self.0.wrapping_sub(earlier.0) as i32
    }
}

impl PartialOrd for Tick {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Tick {
    fn cmp(&self, other: &Self) -> Ordering {
        self.since(*other).cmp(&0)
    }
}

/// A named stream of events, following Pusher's naming conventions.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Channel {
    /// `lobby`: rooms opening, filling and closing.
    Lobby,
    /// `room-CODE`: the room's game events.
    Room(RoomCode),
    /// `presence-room-CODE`: who is in the room.
    Presence(RoomCode),
    /// `private-room-CODE-chat`: the room's chat.
    Chat(RoomCode),
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Lobby => f.write_str("lobby"),
            Channel::Room(code) => write!(f, "room-{code}"),
            Channel::Presence(code) => write!(f, "presence-room-{code}"),
            Channel::Chat(code) => write!(f, "private-room-{code}-chat"),
        }
    }
}

impl From<Channel> for String {
    fn from(channel: Channel) -> Self {
        channel.to_string()
    }
}

impl TryFrom<String> for Channel {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        let code = |s: &str| RoomCode::parse(s).ok_or_else(|| format!("bad channel name {name:?}"));
        if name == "lobby" {
            Ok(Channel::Lobby)
        } else if let Some(rest) = name.strip_prefix("presence-room-") {
            code(rest).map(Channel::Presence)
        } else if let Some(rest) = name.strip_prefix("private-room-") {
            let rest = rest.strip_suffix("-chat").unwrap_or("");
            code(rest).map(Channel::Chat)
        } else if let Some(rest) = name.strip_prefix("room-") {
            code(rest).map(Channel::Room)
        } else {
            Err(format!("unknown channel {name:?}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_order_survives_wraparound() {
        let before = Tick(u32::MAX - 1);
        let after = before.next().next().next();
        assert_eq!(after, Tick(1));
        assert!(after > before);
        assert_eq!(after.since(before), 3);
        assert_eq!(before.since(after), -3);
    }

    #[test]
    fn channel_names_round_trip() {
        let code = RoomCode::parse("k7qx").unwrap();
        for (channel, name) in [
            (Channel::Lobby, "lobby"),
            (Channel::Room(code.clone()), "room-K7QX"),
            (Channel::Presence(code.clone()), "presence-room-K7QX"),
            (Channel::Chat(code), "private-room-K7QX-chat"),
        ] {
            assert_eq!(channel.to_string(), name);
            assert_eq!(Channel::try_from(name.to_owned()).unwrap(), channel);
        }
    }

    #[test]
    fn room_codes_reject_look_alikes() {
        assert!(RoomCode::parse("K7QO").is_none());
        assert!(RoomCode::parse("K7Q").is_none());
        assert_eq!(RoomCode::parse(" k7qx ").unwrap().as_str(), "K7QX");
    }
}
