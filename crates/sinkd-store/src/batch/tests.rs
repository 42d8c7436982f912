//! Tests of the batch arena.

use super::*;

fn collect(batch: &AppendBatch) -> Vec<(String, i64, String)> {
    batch
        .iter()
        .map(|(stream, ts, line)| {
            (
                String::from_utf8(stream.to_vec()).unwrap(),
                ts,
                String::from_utf8(line.to_vec()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn pushes_lines_for_several_streams() {
    let mut batch = AppendBatch::new();
    batch.push("r1/messages", 1, b"first");
    batch.push("r1/messages", 2, b"second");
    batch.push_with("r2/messages", 3, |arena| arena.extend_from_slice(b"third"));
    assert_eq!(batch.len(), 3);
    assert_eq!(
        collect(&batch),
        [
            ("r1/messages".into(), 1, "first".into()),
            ("r1/messages".into(), 2, "second".into()),
            ("r2/messages".into(), 3, "third".into()),
        ]
    );
    // The repeated stream path is stored once.
    assert_eq!(
        batch.arena_bytes(),
        "r1/messages".len() * 2 + "firstsecondthird".len()
    );
}

#[test]
fn replaces_stray_line_feeds() {
    let mut batch = AppendBatch::new();
    batch.push("s", 0, b"two\nlines\n");
    assert_eq!(collect(&batch)[0].2, "two lines ");
}

#[test]
fn clear_keeps_capacity() {
    let mut batch = AppendBatch::with_capacity(4, 256);
    batch.push("s", 0, b"x");
    batch.clear();
    assert!(batch.is_empty());
    assert!(batch.arena.capacity() >= 256);
}

#[test]
fn a_closure_that_truncates_the_arena_loses_only_the_damaged_entries() {
    let mut batch = AppendBatch::new();
    batch.push("a", 0, b"kept");
    batch.push("b", 0, b"damaged");
    batch.push_with("c", 0, |arena| arena.truncate(5));
    assert_eq!(collect(&batch), [("a".into(), 0, "kept".into())]);
}

#[test]
fn copies_entries_between_batches() {
    let mut source = AppendBatch::new();
    source.push("a", 5, b"one");
    source.push("b", 6, b"two");
    let mut target = AppendBatch::new();
    for entry in source.entries() {
        target.push_entry_from(&source, entry);
    }
    assert_eq!(collect(&target), collect(&source));
    assert_eq!(target.entries()[1].stream_hash, stream_hash(b"b"));
}
