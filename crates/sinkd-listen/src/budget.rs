//! One budget for the bytes every TCP/TLS connection holds in its read
//! buffer, across all stream listeners of the process.
//!
//! Each connection may buffer up to `max_frame` + 64 KiB; 4,096 of them
//! could hold half a gigabyte. Every connection may hold 8 KiB without
//! asking (enough to read ordinary lines); beyond that it takes the growth
//! from this budget ([`set_input_budget`], the top-level
//! `max_input_buffered`). When the budget is spent, a connection reads in
//! 8 KiB bites if its pending bytes allow, and one whose incomplete frame
//! needs more waits (its socket unread, so the sender feels backpressure)
//! until others give bytes back; if none do within [`BUDGET_PATIENCE`] it
//! is closed and counted (`buffer_budget`), its incomplete frame lost.
//! Buffers are given back when they empty, so idle connections hold
//! nothing. In all: at most `max_connections` × 8 KiB + the budget.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Default budget: 64 MiB.
pub const DEFAULT_INPUT_BUDGET: usize = 64 * 1024 * 1024;

/// How long a connection waits for the budget before it is closed.
pub(crate) const BUDGET_PATIENCE: Duration = Duration::from_secs(5);

static LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_INPUT_BUDGET);
static HELD: AtomicUsize = AtomicUsize::new(0);

/// Sets the budget (bytes, at least 64 KiB); connections already holding
/// more keep it, and new growth waits until the total is below.
pub fn set_input_budget(bytes: usize) {
    LIMIT.store(bytes.max(64 * 1024), Ordering::Relaxed);
}

/// Bytes held in connection read buffers now.
pub fn input_buffered() -> usize {
    HELD.load(Ordering::Relaxed)
}

/// What one connection has taken from the budget; given back on drop.
#[derive(Debug, Default)]
pub(crate) struct Held {
    bytes: usize,
}

impl Held {
    /// Brings this connection's share to `bytes`: shrinking always works;
    /// growing only if the budget allows, else `false` and nothing changes.
    pub(crate) fn resize(&mut self, bytes: usize) -> bool {
        if bytes <= self.bytes {
            HELD.fetch_sub(self.bytes - bytes, Ordering::Relaxed);
            self.bytes = bytes;
            return true;
        }
        let growth = bytes - self.bytes;
        let limit = LIMIT.load(Ordering::Relaxed);
        let grown = HELD.fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
            let total = held.checked_add(growth)?;
            (total <= limit).then_some(total)
        });
        if grown.is_ok() {
            self.bytes = bytes;
        }
        grown.is_ok()
    }
}

/// Held by every unit test that moves the process-wide budget, so that
/// none sees another's bytes.
#[cfg(test)]
pub(crate) static TEST_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Held {
    /// This connection's share now.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Sets this connection's share to `bytes` whatever the budget says
    /// (for memory already allocated, such as a buffer's rounding up).
    pub(crate) fn force(&mut self, bytes: usize) {
        if bytes >= self.bytes {
            HELD.fetch_add(bytes - self.bytes, Ordering::Relaxed);
        } else {
            HELD.fetch_sub(self.bytes - bytes, Ordering::Relaxed);
        }
        self.bytes = bytes;
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        HELD.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_stops_at_the_limit_and_comes_back_on_drop() {
        let _alone = TEST_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        set_input_budget(256 * 1024);
        let before = input_buffered();
        let mut a = Held::default();
        let mut b = Held::default();
        assert!(a.resize(128 * 1024));
        assert!(b.resize(128 * 1024 - before));
        assert!(!a.resize(129 * 1024), "past the limit");
        assert!(a.resize(64 * 1024), "shrinking always works");
        assert!(b.resize(192 * 1024 - before));
        drop(a);
        drop(b);
        assert_eq!(input_buffered(), before);
        set_input_budget(DEFAULT_INPUT_BUDGET);
    }
}
