//! [`StoreHealth`]: whether the store can write now, and if not, why.
//!
//! A writer thread that cannot write for lack of space (a write failed with
//! ENOSPC or EDQUOT, or the free space under `data_dir` fell below
//! `min_free`) pauses: it keeps the lines it holds, stops taking batches
//! from its queue and retries until space returns (see
//! [`crate::writer`]). Its queue then fills, producers block in
//! [`crate::StoreWriter::submit`], and the backpressure reaches the TCP and
//! TLS senders. This module is the one place the writers' pauses add up
//! to the store's state: the flag the UDP listeners read before waiting for
//! a full queue ([`StoreHealth::paused_flag`]), the reason `/healthz`
//! reports, the gauges, and the log: one line when the pause begins, one
//! per [`LOG_EVERY`] while it lasts, one when it ends, whichever writer
//! thread notices.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often a pause that lasts is logged again.
pub(crate) const LOG_EVERY: Duration = Duration::from_secs(10);

/// Why the store stopped writing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PauseReason {
    /// A write failed for lack of space (ENOSPC) or quota (EDQUOT).
    NoSpace {
        /// The error as the system worded it.
        error: String,
    },
    /// The free space under `data_dir` is below `min_free`.
    BelowMinFree {
        /// Free bytes when last measured.
        free: u64,
        /// The `min_free` threshold in bytes.
        min_free: u64,
    },
}

impl fmt::Display for PauseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PauseReason::NoSpace { error } => write!(f, "no space left under data_dir ({error})"),
            PauseReason::BelowMinFree { free, min_free } => write!(
                f,
                "free space under data_dir ({free} bytes) is below min_free ({min_free} bytes)"
            ),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// Writer threads paused now.
    paused_writers: usize,
    /// The reason the most recent pause gave.
    reason: Option<PauseReason>,
    /// When the store as a whole paused.
    since: Option<Instant>,
    last_log: Option<Instant>,
}

/// The store's ability to write, shared by its writer threads and read by
/// whoever reports it (`/healthz`, metrics, the UDP listeners).
#[derive(Debug, Default)]
pub struct StoreHealth {
    paused: Arc<AtomicBool>,
    state: Mutex<State>,
    free_bytes: AtomicU64,
    min_free_bytes: AtomicU64,
    pauses: AtomicU64,
}

impl StoreHealth {
    /// Whether some writer thread is paused for lack of space.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    /// How many writer threads are paused now: the store is paused while
    /// any is, and each holds its queue full until space returns.
    pub fn paused_writers(&self) -> usize {
        self.lock().paused_writers
    }

    /// The flag behind [`StoreHealth::is_paused`], for a reader that must
    /// not depend on this crate (the UDP listeners).
    pub fn paused_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.paused)
    }

    /// Why the store is paused, or `None` while it writes.
    pub fn pause_reason(&self) -> Option<PauseReason> {
        let state = self.lock();
        (state.paused_writers > 0)
            .then(|| state.reason.clone())
            .flatten()
    }

    /// How long the store has been paused, or `None` while it writes.
    pub fn paused_for(&self) -> Option<Duration> {
        let state = self.lock();
        state.since.map(|since| since.elapsed())
    }

    /// Times the store paused since it opened.
    pub fn pauses(&self) -> u64 {
        self.pauses.load(Ordering::Relaxed)
    }

    /// Free bytes under `data_dir` when a writer last measured them (0
    /// before the first measurement, and while `min_free` is off).
    pub fn free_bytes(&self) -> u64 {
        self.free_bytes.load(Ordering::Relaxed)
    }

    /// The `min_free` threshold in bytes as last resolved.
    pub fn min_free_bytes(&self) -> u64 {
        self.min_free_bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn note_space(&self, free: u64, min_free: u64) {
        self.free_bytes.store(free, Ordering::Relaxed);
        self.min_free_bytes.store(min_free, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A writer that panicked while holding the lock left a consistent
        // state (every update is a few assignments).
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A writer thread paused for `reason`.
    pub(crate) fn pause(&self, reason: &PauseReason) {
        let mut state = self.lock();
        state.paused_writers += 1;
        state.reason = Some(reason.clone());
        if state.paused_writers == 1 {
            let now = Instant::now();
            state.since = Some(now);
            state.last_log = Some(now);
            self.pauses.fetch_add(1, Ordering::Relaxed);
            self.paused.store(true, Ordering::Relaxed);
            tracing::warn!(
                reason = %reason,
                "store paused: cannot write; holding what it has, TCP/TLS input is no longer read \
                 and UDP datagrams that find the queues full are dropped (disk_full) until space returns"
            );
        }
    }

    /// A paused writer thread still cannot write (now for `reason`):
    /// logged once per [`LOG_EVERY`] across the threads.
    pub(crate) fn still_paused(&self, reason: &PauseReason, lines_held: u64) {
        let mut state = self.lock();
        state.reason = Some(reason.clone());
        let now = Instant::now();
        if state
            .last_log
            .is_some_and(|last| now.duration_since(last) < LOG_EVERY)
        {
            return;
        }
        state.last_log = Some(now);
        let paused_secs = state.since.map_or(0, |since| since.elapsed().as_secs());
        tracing::warn!(
            reason = %reason,
            paused_secs,
            lines_held,
            "store still paused: cannot write"
        );
    }

    /// A paused writer thread writes again.
    pub(crate) fn resume(&self) {
        let mut state = self.lock();
        state.paused_writers = state.paused_writers.saturating_sub(1);
        if state.paused_writers == 0 {
            let paused_ms = state
                .since
                .take()
                .map_or(0, |since| since.elapsed().as_millis() as u64);
            state.reason = None;
            state.last_log = None;
            self.paused.store(false, Ordering::Relaxed);
            tracing::info!(paused_ms, "store writing again: space is back");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_is_paused_while_any_writer_is() {
        let health = StoreHealth::default();
        let reason = PauseReason::BelowMinFree {
            free: 10,
            min_free: 20,
        };
        assert!(!health.is_paused());
        health.pause(&reason);
        health.pause(&reason);
        assert!(health.paused_flag().load(Ordering::Relaxed));
        assert_eq!(health.pause_reason(), Some(reason));
        health.resume();
        assert!(health.is_paused());
        assert!(health.paused_for().is_some());
        health.resume();
        assert!(!health.is_paused());
        assert_eq!(health.pause_reason(), None);
        assert_eq!(health.paused_for(), None);
        assert_eq!(health.pauses(), 1);
    }

    #[test]
    fn reasons_name_the_cause() {
        let no_space = PauseReason::NoSpace {
            error: "No space left on device (os error 28)".into(),
        };
        assert!(no_space.to_string().contains("No space left"));
        let below = PauseReason::BelowMinFree {
            free: 5,
            min_free: 7,
        };
        assert!(below.to_string().contains("below min_free (7 bytes)"));
    }
}
