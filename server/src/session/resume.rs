//! Resume tokens and the sessions they can take back.
//!
//! Every welcome carries a fresh token of 128 bits from the operating
//! system's random source, sent to that connection only and never logged.
//! The [`Registry`] remembers, per session, the token, the connection now
//! holding the session (if any) and its seat; a session whose connection
//! dropped while seated stays claimable until its grace period ends. A
//! claim must name the session and present its token: a token alone, or a
//! token presented for another session, is refused. The newest claim wins:
//! the connection that held the session is handed back to be closed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::TryRng;
use rand::rngs::SysRng;
use stadium_shared::{Role, SessionId};

use super::outbound::Outbound;
use crate::room::RoomHandle;

/// Random bytes in a token.
pub const TOKEN_BYTES: usize = 16;

/// How often expired entries are swept out.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// A new resume token: [`TOKEN_BYTES`] random bytes as lower-case hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    SysRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random source is available");
    hex::encode(bytes)
}

/// Compares two tokens in time that depends only on their lengths.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

/// What the registry knows of one session.
#[derive(Debug)]
pub struct Resumable {
    token: String,
    nickname: String,
    /// The connection holding the session, or `None` while it is away.
    connection: Option<Outbound>,
    /// The session's room and role there.
    room: Option<(RoomHandle, Role)>,
    /// While away: when the seat is given up.
    expires: Option<Instant>,
}

impl Resumable {
    /// A connected session without a room.
    pub fn new(token: String, nickname: &str, connection: &Outbound) -> Self {
        Self {
            token,
            nickname: nickname.to_owned(),
            connection: Some(connection.clone()),
            room: None,
            expires: None,
        }
    }
}

/// What a successful claim hands the claiming connection.
#[derive(Debug)]
pub struct Claim {
    /// The session's nickname.
    pub nickname: String,
    /// Its room and role there, if seated.
    pub room: Option<(RoomHandle, Role)>,
    /// The connection that held the session until now, to be closed.
    pub previous: Option<Outbound>,
}

#[derive(Debug)]
struct Entries {
    by_session: HashMap<SessionId, Resumable>,
    swept: Instant,
}

/// Sessions that can be resumed.
#[derive(Debug)]
pub struct Registry(Mutex<Entries>);

impl Default for Registry {
    fn default() -> Self {
        Self(Mutex::new(Entries {
            by_session: HashMap::new(),
            swept: Instant::now(),
        }))
    }
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.0
            .lock()
            .expect("resume registry lock is never poisoned")
    }

    /// Records a newly greeted session.
    pub fn insert(&self, session: SessionId, entry: Resumable) {
        self.lock().by_session.insert(session, entry);
    }

    /// Records the session's room (or none).
    pub fn set_room(&self, session: SessionId, room: Option<(RoomHandle, Role)>) {
        if let Some(entry) = self.lock().by_session.get_mut(&session) {
            entry.room = room;
        }
    }

    /// Sessions the registry holds, connected or away.
    pub fn len(&self) -> usize {
        self.lock().by_session.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands `session` to the connection `claimant` (greeted as `fresh`,
    /// an id it gives up) if `token` is the session's and its seat has not
    /// expired. The error says why not, without telling which part failed.
    pub fn claim(
        &self,
        session: SessionId,
        token: &str,
        fresh: SessionId,
        claimant: &Outbound,
    ) -> Result<Claim, &'static str> {
        const REFUSED: &str = "no resumable session with that id and token";
        let now = Instant::now();
        let mut entries = self.lock();
        let entry = entries.by_session.get_mut(&session).ok_or(REFUSED)?;
        if !same_token(&entry.token, token) {
            return Err(REFUSED);
        }
        if entry.expires.is_some_and(|at| at <= now) {
            return Err(REFUSED);
        }
        let previous = entry.connection.replace(claimant.clone());
        entry.expires = None;
        let claim = Claim {
            nickname: entry.nickname.clone(),
            room: entry.room.clone(),
            previous,
        };
        entries.by_session.remove(&fresh);
        Ok(claim)
    }

    /// Called when `connection` stops holding `session`. With a `grace`,
    /// the session stays claimable for that long; without, it is
    /// forgotten. Returns `false` (and changes nothing) when another
    /// connection holds the session now.
    pub fn release(
        &self,
        session: SessionId,
        connection: &Outbound,
        grace: Option<Duration>,
    ) -> bool {
        let now = Instant::now();
        let mut entries = self.lock();
        let Some(entry) = entries.by_session.get_mut(&session) else {
            return true;
        };
        if !entry
            .connection
            .as_ref()
            .is_some_and(|held| held.same_queue(connection))
        {
            return false;
        }
        match grace {
            Some(grace) => {
                entry.connection = None;
                entry.expires = Some(now + grace);
            }
            None => {
                entries.by_session.remove(&session);
            }
        }
        if now.duration_since(entries.swept) >= SWEEP_EVERY {
            entries.swept = now;
            entries
                .by_session
                .retain(|_, entry| entry.expires.is_none_or(|at| at > now));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_128_random_bits_in_hex() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn a_claim_needs_the_session_and_its_token_and_the_newest_wins() {
        let registry = Registry::default();
        let (first, _rx1) = Outbound::channel(stadium_shared::codec::Format::Postcard, 1024);
        let (second, _rx2) = Outbound::channel(stadium_shared::codec::Format::Postcard, 1024);
        let (third, _rx3) = Outbound::channel(stadium_shared::codec::Format::Postcard, 1024);
        let (a, b) = (SessionId(1), SessionId(2));
        registry.insert(a, Resumable::new("aa".repeat(16), "Ada", &first));
        registry.insert(b, Resumable::new("bb".repeat(16), "Bob", &second));

        // Bob's token for Ada's session, a made-up one, a shorter one.
        for token in ["bb".repeat(16), "ab".repeat(16), "aa".into()] {
            assert!(registry.claim(a, &token, SessionId(9), &third).is_err());
        }
        let claim = registry
            .claim(a, &"aa".repeat(16), SessionId(9), &third)
            .unwrap();
        assert_eq!(claim.nickname, "Ada");
        assert!(claim.previous.unwrap().same_queue(&first));
        // The replaced connection no longer releases the session.
        assert!(!registry.release(a, &first, None));
        assert!(registry.release(a, &third, Some(Duration::ZERO)));
        // The grace is over: refused.
        assert!(
            registry
                .claim(a, &"aa".repeat(16), SessionId(10), &first)
                .is_err()
        );
        // Released without grace: forgotten.
        assert!(registry.release(b, &second, None));
        assert!(
            registry
                .claim(b, &"bb".repeat(16), SessionId(11), &first)
                .is_err()
        );
    }
}
