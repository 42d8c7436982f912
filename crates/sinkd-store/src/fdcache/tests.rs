//! Tests of the clock cache.

use super::*;

#[test]
fn keeps_at_most_capacity_values() {
    let mut cache = FileCache::new(3);
    let mut evictions = 0;
    for owner in 0..100u32 {
        let (_, evicted) = cache.insert(owner, owner * 10);
        if let Some((evicted_owner, value)) = evicted {
            assert_eq!(value, evicted_owner * 10);
            evictions += 1;
        }
        assert!(cache.len() <= 3);
    }
    assert_eq!(evictions, 97);
}

#[test]
fn a_recently_used_value_survives_a_sweep() {
    let mut cache = FileCache::new(3);
    cache.insert(1, 'a');
    let (b_slot, _) = cache.insert(2, 'b');
    cache.insert(3, 'c');
    // All three are referenced: the sweep clears every bit, then evicts the
    // first slot.
    let (_, evicted) = cache.insert(4, 'd');
    assert_eq!(evicted, Some((1, 'a')));
    // Using 'b' gives it a second chance; 'c' was not used and goes.
    assert_eq!(cache.get(b_slot).copied(), Some('b'));
    let (_, evicted) = cache.insert(5, 'e');
    assert_eq!(evicted, Some((3, 'c')));
}

#[test]
fn reuses_removed_slots() {
    let mut cache = FileCache::new(2);
    let (first, _) = cache.insert(1, 'a');
    cache.insert(2, 'b');
    assert_eq!(cache.remove(first), Some('a'));
    assert_eq!(cache.remove(first), None);
    let (slot, evicted) = cache.insert(3, 'c');
    assert_eq!((slot, evicted), (first, None));
    assert_eq!(cache.len(), 2);
    let mut drained = cache.drain();
    drained.sort();
    assert_eq!(drained, [(2, 'b'), (3, 'c')]);
    assert_eq!(cache.len(), 0);
}
