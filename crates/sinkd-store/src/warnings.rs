//! [`WarnLimit`]: at most one log line per interval for a recurring
//! failure, so a broken disk cannot flood the log. Each store thread keeps
//! one and says, in the line it lets through, how many it held back.

use std::time::{Duration, Instant};

#[cfg(test)]
mod tests;

/// The least time between two warnings from one thread.
const INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub(crate) struct WarnLimit {
    last: Option<Instant>,
    suppressed: u64,
}

impl WarnLimit {
    /// `Some(held back since the last one)` when a warning may be logged
    /// now; `None` (and the warning is counted) otherwise.
    pub(crate) fn admit(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < INTERVAL)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}
