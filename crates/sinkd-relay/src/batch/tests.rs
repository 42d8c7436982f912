//! RelayBatch keeps messages apart, skips empty ones and survives a
//! misbehaving writer.

use super::RelayBatch;

#[test]
fn keeps_messages_in_order() {
    let mut batch = RelayBatch::new();
    batch.push(b"<13>one");
    assert_eq!(
        batch.push_with(|arena| arena.extend_from_slice(b"<14>two\nlines")),
        13
    );
    batch.push(b"");
    assert_eq!(batch.len(), 2);
    assert_eq!(batch.bytes(), 20);
    let messages: Vec<&[u8]> = batch.iter().collect();
    assert_eq!(messages, [&b"<13>one"[..], &b"<14>two\nlines"[..]]);
    assert_eq!(batch.get(1), Some(&b"<14>two\nlines"[..]));
    assert_eq!(batch.get(2), None);
}

#[test]
fn a_shrinking_writer_loses_only_what_it_removed() {
    let mut batch = RelayBatch::new();
    batch.push(b"aaaa");
    batch.push(b"bbbb");
    assert_eq!(batch.push_with(|arena| arena.truncate(6)), 0);
    let messages: Vec<&[u8]> = batch.iter().collect();
    assert_eq!(messages, [&b"aaaa"[..]]);
    batch.push(b"cc");
    assert_eq!(batch.get(1), Some(&b"cc"[..]));
}

#[test]
fn split_off_moves_the_tail() {
    let mut batch = RelayBatch::new();
    for message in [&b"a"[..], b"bb", b"ccc", b"dddd"] {
        batch.push(message);
    }
    let tail = batch.split_off(2);
    assert_eq!(batch.iter().collect::<Vec<_>>(), [&b"a"[..], b"bb"]);
    assert_eq!(tail.iter().collect::<Vec<_>>(), [&b"ccc"[..], b"dddd"]);
    assert!(batch.clone().split_off(5).is_empty());
}
