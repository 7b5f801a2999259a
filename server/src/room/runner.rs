//! Simulation threads: plain OS threads, not tokio workers, that step rooms
//! at their fixed rates.
//!
//! Each thread owns a set of rooms and sleeps until the earliest is due. A
//! room that falls behind catches up by at most [`MAX_CATCH_UP`] ticks; past
//! that (the process was paused, the machine overloaded) it drops the
//! missed ticks and resumes from now, so clients see a jump rather than a
//! burst of replayed ticks. A panic inside a room ends that room only.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use stadium_shared::ErrorCode;

use super::Room;

/// Ticks a late room may run back to back before it skips ahead.
pub const MAX_CATCH_UP: u32 = 3;

/// The pool of simulation threads.
pub struct RoomRunner {
    threads: Mutex<Vec<Sender<Room>>>,
    next: AtomicUsize,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl RoomRunner {
    /// Starts `threads` simulation threads (at least one).
    pub fn start(threads: usize) -> Self {
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for index in 0..threads.max(1) {
            let (tx, rx) = std::sync::mpsc::channel();
            let handle = std::thread::Builder::new()
                .name(format!("stadium-sim-{index}"))
                .spawn(move || run(rx))
                .expect("the OS can start a simulation thread");
            senders.push(tx);
            handles.push(handle);
        }
        Self {
            threads: Mutex::new(senders),
            next: AtomicUsize::new(0),
            handles: Mutex::new(handles),
        }
    }

    /// Hands a room to a thread, round robin. After shutdown the room is
    /// closed at once.
    pub fn spawn(&self, mut room: Room) {
        let threads = self.threads.lock().expect("runner lock is never poisoned");
        if threads.is_empty() {
            room.close(Some(ErrorCode::ShuttingDown));
            return;
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed) % threads.len();
        if let Err(mut err) = threads[index].send(room) {
            err.0.close(Some(ErrorCode::ShuttingDown));
        }
    }

    /// Closes every room with [`ErrorCode::ShuttingDown`] and stops the
    /// threads.
    pub fn shutdown(&self) {
        self.threads
            .lock()
            .expect("runner lock is never poisoned")
            .clear();
        let handles =
            std::mem::take(&mut *self.handles.lock().expect("runner lock is never poisoned"));
        for handle in handles {
            let _ = handle.join();
        }
    }
}

struct Scheduled {
    room: Room,
    due: Instant,
}

fn run(new_rooms: Receiver<Room>) {
    let mut rooms: Vec<Scheduled> = Vec::new();
    loop {
        let now = Instant::now();
        let next_due = rooms.iter().map(|r| r.due).min();
        let wait = next_due.map_or(Duration::from_secs(3600), |due| {
            due.saturating_duration_since(now)
        });
        match new_rooms.recv_timeout(wait) {
            Ok(room) => rooms.push(Scheduled {
                room,
                due: Instant::now(),
            }),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                for scheduled in &mut rooms {
                    scheduled.room.close(Some(ErrorCode::ShuttingDown));
                }
                return;
            }
        }
        for scheduled in &mut rooms {
            step_due(scheduled);
        }
        rooms.retain(|r| !r.room.is_closed());
    }
}

fn step_due(scheduled: &mut Scheduled) {
    let period = scheduled.room.period();
    for _ in 0..MAX_CATCH_UP {
        let now = Instant::now();
        if scheduled.due > now {
            return;
        }
        let lateness = now - scheduled.due;
        if lateness > period / 2 {
            tracing::trace!(room = %scheduled.room.code(), ?lateness, "tick started late");
        }
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| scheduled.room.tick(now)));
        if result.is_err() {
            tracing::error!(room = %scheduled.room.code(), "room panicked; closing it");
            scheduled.room.close(Some(ErrorCode::RoomFailed));
            return;
        }
        let cost = started.elapsed();
        if cost > period {
            tracing::warn!(room = %scheduled.room.code(), ?cost, ?period, "tick overran its period");
        }
        scheduled.due += period;
    }
    let now = Instant::now();
    if scheduled.due <= now {
        tracing::warn!(room = %scheduled.room.code(), behind = ?(now - scheduled.due), "room fell behind; skipping missed ticks");
        scheduled.due = now + period;
    }
}
