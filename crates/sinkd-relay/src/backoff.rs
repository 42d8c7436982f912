//! Reconnect delays: capped exponential backoff with jitter.
//!
//! After a failed attempt or a broken connection the relay waits
//! [`Backoff::next_delay`] before trying again: 100 ms, then twice as long
//! each time up to 30 s, each delay drawn uniformly from its upper half
//! ("equal jitter"), so a fleet of sinkd instances that lost the same
//! target does not come back in lockstep. A connection that got bytes
//! acknowledged resets the sequence ([`Backoff::reset`]).

use rand::Rng;
use std::time::Duration;

#[cfg(test)]
mod tests;

/// First delay (before jitter).
pub(crate) const INITIAL: Duration = Duration::from_millis(100);
/// Largest delay (before jitter).
pub(crate) const MAX: Duration = Duration::from_secs(30);

/// The reconnect delay sequence of one relay.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new() -> Backoff {
        Backoff::with_limits(INITIAL, MAX)
    }

    pub(crate) fn with_limits(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            next: initial.min(max),
            max,
        }
    }

    /// The delay before the next attempt; doubles the one after it.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let ceiling = self.next;
        self.next = (self.next * 2).min(self.max);
        let half = ceiling / 2;
        let jitter_nanos = rand::thread_rng().gen_range(0..=half.as_nanos() as u64);
        half + Duration::from_nanos(jitter_nanos)
    }

    /// Starts the sequence again from the initial delay.
    pub(crate) fn reset(&mut self) {
        self.next = INITIAL.min(self.max);
    }
}
