//! Tests of the slow clock cache.

use super::*;

#[test]
fn keeps_at_most_capacity_values_and_hands_back_what_it_does_not_keep() {
    let mut cache = FileCache::new(3);
    let (mut evictions, mut refused) = (0, 0);
    for owner in 0..100u32 {
        match cache.insert(owner, owner * 10) {
            Ok((_, Some((evicted_owner, value)))) => {
                assert_eq!(value, evicted_owner * 10);
                evictions += 1;
            }
            Ok((_, None)) => {}
            Err(value) => {
                assert_eq!(value, owner * 10);
                refused += 1;
            }
        }
        assert!(cache.len() <= 3);
    }
    assert_eq!(evictions + refused, 97);
    // One look of the hand per four refusals, and the first look at each
    // slot only clears its bit.
    assert!(evictions > 0 && evictions < 97 / 4, "{evictions}");
}

#[test]
fn a_full_cache_keeps_what_is_used_and_lets_in_for_what_is_not() {
    let mut cache = FileCache::new(2);
    let (a_slot, _) = cache.insert(1, 'a').expect("room");
    let (b_slot, _) = cache.insert(2, 'b').expect("room");
    // Full: three files are handed back before the hand looks; its first
    // look clears 'a''s bit and still hands the fourth back.
    for value in ['c', 'd', 'e', 'f'] {
        assert_eq!(cache.insert(3, value), Err(value));
    }
    // 'a' is used again: the next look (at 'b', used since it was opened)
    // clears that bit too.
    assert_eq!(cache.get(a_slot).copied(), Some('a'));
    for value in ['g', 'h', 'i', 'j'] {
        assert_eq!(cache.insert(3, value), Err(value));
    }
    // The hand is back at 'a', used since: cleared, kept.
    for value in ['k', 'l', 'm', 'n'] {
        assert_eq!(cache.insert(3, value), Err(value));
    }
    // 'b' was not used since its bit was cleared: its slot goes to 'o'.
    for value in ['o', 'p', 'q'] {
        assert_eq!(cache.insert(3, value), Err(value));
    }
    assert_eq!(cache.insert(4, 'r'), Ok((b_slot, Some((2, 'b')))));
    assert_eq!(cache.peek(a_slot).copied(), Some('a'));
}

#[test]
fn reuses_removed_slots() {
    let mut cache = FileCache::new(2);
    let (first, _) = cache.insert(1, 'a').expect("room");
    cache.insert(2, 'b').expect("room");
    assert_eq!(cache.remove(first), Some('a'));
    assert_eq!(cache.remove(first), None);
    let (slot, evicted) = cache.insert(3, 'c').expect("a free slot");
    assert_eq!((slot, evicted), (first, None));
    assert_eq!(cache.len(), 2);
    let mut drained = cache.drain();
    drained.sort();
    assert_eq!(drained, [(2, 'b'), (3, 'c')]);
    assert_eq!(cache.len(), 0);
}
