//! Stream keys: inline versus boxed, and lookups by byte slice.

use super::*;
use std::collections::HashMap;

#[test]
fn short_paths_are_inline_and_long_ones_boxed() {
    assert!(matches!(
        StreamKey::new(b"fw-1/messages"),
        StreamKey::Inline { .. }
    ));
    assert!(matches!(
        StreamKey::new(&[b'a'; INLINE]),
        StreamKey::Inline { .. }
    ));
    assert!(matches!(
        StreamKey::new(&[b'a'; INLINE + 1]),
        StreamKey::Boxed(_)
    ));
    assert_eq!(StreamKey::new(b"").as_bytes(), b"");
}

#[test]
fn a_map_finds_both_kinds_by_slice() {
    let long = vec![b'x'; 300];
    let mut map: HashMap<StreamKey, u32> = HashMap::new();
    map.insert(StreamKey::new(b"a/messages"), 1);
    map.insert(StreamKey::new(&long), 2);
    map.insert(StreamKey::new(b"a/messages2"), 3);
    assert_eq!(map.get(&b"a/messages"[..]), Some(&1));
    assert_eq!(map.get(&long[..]), Some(&2));
    assert_eq!(map.get(&b"a/messages2"[..]), Some(&3));
    assert_eq!(map.get(&b"a/message"[..]), None);
    // An inline key never equals a longer one sharing its prefix.
    assert_ne!(StreamKey::new(b"ab"), StreamKey::new(b"abc"));
}
