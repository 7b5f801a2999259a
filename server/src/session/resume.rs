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
//!
//! Seats kept for a resume are capped per IP address: a client that joins
//! and hangs up again and again would otherwise fill rooms with seats that
//! nobody holds. Past the cap, a dropped player's seat is given up at once,
//! as if the grace were zero.

use std::collections::HashMap;
use std::net::IpAddr;
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
    /// The address of the connection that holds (or last held) it.
    address: IpAddr,
}

impl Resumable {
    /// A connected session without a room, connected from `address`.
    pub fn new(token: String, nickname: &str, connection: &Outbound, address: IpAddr) -> Self {
        Self {
            token,
            nickname: nickname.to_owned(),
            connection: Some(connection.clone()),
            room: None,
            expires: None,
            address,
        }
    }
}

/// What [`Registry::release`] did with a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// Another connection holds the session now; nothing changed.
    Replaced,
    /// The session waits for a resume until its grace ends.
    Kept,
    /// The session is forgotten: no grace was asked for, or its address
    /// already has as many seats waiting as it may.
    Forgotten,
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
    /// Entries away (not yet swept, expired or not), by address.
    away: HashMap<IpAddr, usize>,
    swept: Instant,
}

impl Entries {
    /// Forgets the away entries whose grace has ended.
    fn sweep(&mut self, now: Instant) {
        self.swept = now;
        let away = &mut self.away;
        self.by_session.retain(|_, entry| {
            let expired = entry.expires.is_some_and(|at| at <= now);
            if expired {
                uncount(away, entry.address);
            }
            !expired
        });
    }

    /// Whether `address` has fewer than `cap` entries waiting for a
    /// resume now.
    fn may_keep(&mut self, address: IpAddr, cap: usize, now: Instant) -> bool {
        let waiting = |entries: &Self| entries.away.get(&address).copied().unwrap_or(0);
        if waiting(self) < cap {
            return true;
        }
        // The count may hold entries whose grace has ended but that no
        // sweep has removed yet; only an address at its cap pays for this.
        self.sweep(now);
        waiting(self) < cap
    }
}

fn uncount(away: &mut HashMap<IpAddr, usize>, address: IpAddr) {
    if let Some(count) = away.get_mut(&address) {
        *count -= 1;
        if *count == 0 {
            away.remove(&address);
        }
    }
}

/// Sessions that can be resumed.
#[derive(Debug)]
pub struct Registry(Mutex<Entries>);

impl Default for Registry {
    fn default() -> Self {
        Self(Mutex::new(Entries {
            by_session: HashMap::new(),
            away: HashMap::new(),
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
        address: IpAddr,
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
        let was_away = entry.expires.take().is_some();
        let left_from = std::mem::replace(&mut entry.address, address);
        let claim = Claim {
            nickname: entry.nickname.clone(),
            room: entry.room.clone(),
            previous,
        };
        if was_away {
            uncount(&mut entries.away, left_from);
        }
        entries.by_session.remove(&fresh);
        Ok(claim)
    }

    /// Called when `connection` stops holding `session`. With a `grace`,
    /// the session stays claimable for that long, unless the address it
    /// was held from already has `per_address` sessions waiting; otherwise
    /// it is forgotten.
    pub fn release(
        &self,
        session: SessionId,
        connection: &Outbound,
        grace: Option<Duration>,
        per_address: usize,
    ) -> Released {
        let now = Instant::now();
        let mut entries = self.lock();
        let Some(entry) = entries.by_session.get(&session) else {
            return Released::Forgotten;
        };
        if !entry
            .connection
            .as_ref()
            .is_some_and(|held| held.same_queue(connection))
        {
            return Released::Replaced;
        }
        let address = entry.address;
        let kept = grace.filter(|_| entries.may_keep(address, per_address, now));
        let released = match kept {
            Some(grace) => {
                let entry = entries
                    .by_session
                    .get_mut(&session)
                    .expect("a sweep keeps held sessions");
                entry.connection = None;
                entry.expires = Some(now + grace);
                *entries.away.entry(address).or_default() += 1;
                Released::Kept
            }
            None => {
                entries.by_session.remove(&session);
                Released::Forgotten
            }
        };
        if now.duration_since(entries.swept) >= SWEEP_EVERY {
            entries.sweep(now);
        }
        released
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

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn outbound() -> (Outbound, super::super::outbound::OutboundRx) {
        Outbound::channel(stadium_shared::codec::Format::Postcard, 1024)
    }

    #[test]
    fn a_claim_needs_the_session_and_its_token_and_the_newest_wins() {
        let registry = Registry::default();
        let (first, _rx1) = outbound();
        let (second, _rx2) = outbound();
        let (third, _rx3) = outbound();
        let (a, b) = (SessionId(1), SessionId(2));
        registry.insert(a, Resumable::new("aa".repeat(16), "Ada", &first, HOME));
        registry.insert(b, Resumable::new("bb".repeat(16), "Bob", &second, HOME));

        // Bob's token for Ada's session, a made-up one, a shorter one.
        for token in ["bb".repeat(16), "ab".repeat(16), "aa".into()] {
            assert!(
                registry
                    .claim(a, &token, SessionId(9), &third, HOME)
                    .is_err()
            );
        }
        let claim = registry
            .claim(a, &"aa".repeat(16), SessionId(9), &third, HOME)
            .unwrap();
        assert_eq!(claim.nickname, "Ada");
        assert!(claim.previous.unwrap().same_queue(&first));
        // The replaced connection no longer releases the session.
        assert_eq!(registry.release(a, &first, None, 16), Released::Replaced);
        assert_eq!(
            registry.release(a, &third, Some(Duration::ZERO), 16),
            Released::Kept
        );
        // The grace is over: refused.
        assert!(
            registry
                .claim(a, &"aa".repeat(16), SessionId(10), &first, HOME)
                .is_err()
        );
        // Released without grace: forgotten.
        assert_eq!(registry.release(b, &second, None, 16), Released::Forgotten);
        assert!(
            registry
                .claim(b, &"bb".repeat(16), SessionId(11), &first, HOME)
                .is_err()
        );
    }

    #[test]
    fn an_address_keeps_at_most_its_cap_of_seats_waiting() {
        let registry = Registry::default();
        let other: IpAddr = "192.0.2.7".parse().unwrap();
        let grace = Some(Duration::from_secs(30));
        let mut held = Vec::new();
        for i in 0..4 {
            let (connection, rx) = outbound();
            let address = if i == 3 { other } else { HOME };
            let token = format!("{i:032}");
            registry.insert(
                SessionId(i),
                Resumable::new(token, "Bot", &connection, address),
            );
            held.push((connection, rx));
        }
        // Two of HOME's three drops are kept; the third is forgotten; the
        // other address has its own allowance.
        let released: Vec<_> = (0..4)
            .map(|i| registry.release(SessionId(i), &held[i as usize].0, grace, 2))
            .collect();
        assert_eq!(
            released,
            [
                Released::Kept,
                Released::Kept,
                Released::Forgotten,
                Released::Kept
            ]
        );
        // A resume frees an allowance for the address it was kept under.
        let (back, _rx) = outbound();
        let token = format!("{:032}", 0);
        registry
            .claim(SessionId(0), &token, SessionId(9), &back, HOME)
            .unwrap();
        let (again, _rx) = outbound();
        registry.insert(
            SessionId(5),
            Resumable::new("55".repeat(16), "Bot", &again, HOME),
        );
        assert_eq!(
            registry.release(SessionId(5), &again, grace, 2),
            Released::Kept
        );
    }
}
