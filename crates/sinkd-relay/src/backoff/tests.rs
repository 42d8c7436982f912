//! The backoff doubles, stays under its cap, jitters within the upper half
//! of each step, and starts over after a reset.

use super::{Backoff, INITIAL, MAX};
use std::time::Duration;

#[test]
fn doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
    let mut backoff = Backoff::new();
    let mut ceiling = INITIAL;
    for _ in 0..20 {
        let delay = backoff.next_delay();
        assert!(
            delay >= ceiling / 2 && delay <= ceiling,
            "{delay:?} vs {ceiling:?}"
        );
        ceiling = (ceiling * 2).min(MAX);
    }
    assert_eq!(ceiling, MAX);
    backoff.reset();
    assert!(backoff.next_delay() <= INITIAL);
}

#[test]
fn jitter_spreads_the_delays() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..32 {
        let mut backoff = Backoff::with_limits(Duration::from_secs(1), Duration::from_secs(1));
        seen.insert(backoff.next_delay());
    }
    assert!(seen.len() > 16, "delays barely vary: {seen:?}");
}
