//! The warning limiter: the first passes, the rest are counted.

use super::*;

#[test]
fn the_first_warning_passes_and_the_next_are_counted() {
    let mut limit = WarnLimit::default();
    assert_eq!(limit.admit(), Some(0));
    assert_eq!(limit.admit(), None);
    assert_eq!(limit.admit(), None);
    // Once the interval has passed the count comes with the next one.
    limit.last = Instant::now().checked_sub(INTERVAL);
    assert_eq!(limit.admit(), Some(2));
}
