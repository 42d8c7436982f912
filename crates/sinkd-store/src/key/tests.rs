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

#[test]
fn removed_ids_are_not_found_and_are_reused() {
    let mut ids = StreamIds::default();
    for n in 0..10u32 {
        let path = format!("d{n}/messages");
        assert_eq!(ids.insert(path.as_bytes(), ids.hash(path.as_bytes())), n);
    }
    ids.remove(3);
    ids.remove(7);
    assert_eq!(ids.len(), 8);
    assert_eq!(ids.get(b"d3/messages", ids.hash(b"d3/messages")), None);
    assert_eq!(ids.get(b"d7/messages", ids.hash(b"d7/messages")), None);
    for n in [0, 1, 2, 4, 5, 6, 8, 9] {
        let path = format!("d{n}/messages");
        assert_eq!(ids.get(path.as_bytes(), ids.hash(path.as_bytes())), Some(n));
    }
    // The freed ids come back before new ones.
    let a = ids.insert(b"new-a", ids.hash(b"new-a"));
    let b = ids.insert(b"new-b", ids.hash(b"new-b"));
    let mut reused = [a, b];
    reused.sort_unstable();
    assert_eq!(reused, [3, 7]);
    assert_eq!(ids.insert(b"new-c", ids.hash(b"new-c")), 10);
    assert_eq!(ids.get(b"new-a", ids.hash(b"new-a")), Some(a));
}

#[test]
fn removal_inside_a_probe_chain_keeps_the_rest_reachable() {
    // Every path hashes alike, and the chain wraps past the table's end:
    // removing from its start, middle and end must leave every other
    // entry found.
    for remove in [0u32, 5, 11] {
        let mut ids = StreamIds::default();
        let hash = (FIRST_SLOTS - 3) as u64;
        for n in 0..12u32 {
            assert_eq!(ids.insert(format!("p{n}").as_bytes(), hash), n);
        }
        ids.remove(remove);
        for n in 0..12u32 {
            let found = ids.get(format!("p{n}").as_bytes(), hash);
            assert_eq!(
                found,
                (n != remove).then_some(n),
                "removed {remove}, looked for {n}"
            );
        }
    }
}

proptest::proptest! {
    /// Any sequence of inserts and removals: the table answers as a map
    /// would, hashes chosen from a few values so that chains collide.
    #[test]
    fn inserts_and_removals_agree_with_a_map(
        ops in proptest::collection::vec((0u8..40, 0u64..6, proptest::bool::ANY), 1..400)
    ) {
        let mut ids = StreamIds::default();
        let mut model: std::collections::HashMap<u8, (u32, u64)> = std::collections::HashMap::new();
        for (name, hash_choice, add) in ops {
            let path = [name];
            // Hashes that share their low bits collide in the table.
            let hash = hash_choice * 64 + (hash_choice << 40);
            match (model.get(&name).copied(), add) {
                (None, true) => {
                    let id = ids.insert(&path, hash);
                    proptest::prop_assert!(model.values().all(|&(other, _)| other != id));
                    model.insert(name, (id, hash));
                }
                (Some((id, _)), false) => {
                    ids.remove(id);
                    model.remove(&name);
                }
                _ => {}
            }
            for (&other, &(id, hash)) in &model {
                proptest::prop_assert_eq!(ids.get(&[other], hash), Some(id));
            }
            proptest::prop_assert_eq!(ids.len(), model.len());
        }
    }
}
