//! Stream keys: inline versus boxed, and lookups by byte slice.

use super::*;

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
fn ids_are_handed_out_in_order_and_found_again() {
    let long = vec![b'x'; 300];
    let mut ids = StreamIds::default();
    let paths: Vec<&[u8]> = vec![b"a/messages", &long, b"a/messages2", b""];
    for (expected, path) in paths.iter().enumerate() {
        let hash = ids.hash(path);
        assert_eq!(ids.get(path, hash), None);
        assert_eq!(ids.insert(path, hash), expected as u32);
    }
    for (expected, path) in paths.iter().enumerate() {
        assert_eq!(ids.get(path, ids.hash(path)), Some(expected as u32));
    }
    // A path sharing a prefix with an inline key is another stream.
    assert_eq!(ids.get(b"a/message", ids.hash(b"a/message")), None);
    assert_eq!(ids.len(), 4);
}

#[test]
fn the_table_grows_and_keeps_every_id() {
    let mut ids = StreamIds::default();
    let paths: Vec<String> = (0..5000).map(|n| format!("dev-{n}/messages")).collect();
    for (expected, path) in paths.iter().enumerate() {
        let hash = ids.hash(path.as_bytes());
        assert_eq!(ids.insert(path.as_bytes(), hash), expected as u32);
    }
    assert!(ids.slots.len() >= 2 * paths.len());
    for (expected, path) in paths.iter().enumerate() {
        let hash = ids.hash(path.as_bytes());
        assert_eq!(ids.get(path.as_bytes(), hash), Some(expected as u32));
    }
    assert_eq!(
        ids.get(b"dev-5000/messages", ids.hash(b"dev-5000/messages")),
        None
    );
}

#[test]
fn colliding_hashes_are_told_apart_by_the_path() {
    // Every path given the same hash: one probe chain, found by comparing
    // the bytes.
    let mut ids = StreamIds::default();
    for n in 0..20u32 {
        let path = format!("p{n}");
        assert_eq!(ids.insert(path.as_bytes(), 7), n);
    }
    for n in 0..20u32 {
        assert_eq!(ids.get(format!("p{n}").as_bytes(), 7), Some(n));
    }
    assert_eq!(ids.get(b"p20", 7), None);
}
