//! RelayBatch keeps messages apart, skips empty ones and survives a
//! misbehaving writer.

use super::{split_record, RelayBatch};

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

#[test]
fn keyed_records_carry_their_key_and_plain_messages_have_none() {
    let mut batch = RelayBatch::new();
    assert_eq!(
        batch.push_keyed_with(b"sw1", |buf| buf.extend_from_slice(b"<13>up")),
        6
    );
    batch.push(b"<14>plain");
    batch.push_keyed_with(b"", |buf| buf.extend_from_slice(b"{}"));
    let records: Vec<_> = batch.iter().map(split_record).collect();
    assert_eq!(
        records,
        [
            (Some(&b"sw1"[..]), &b"<13>up"[..]),
            (None, &b"<14>plain"[..]),
            (Some(&b""[..]), &b"{}"[..]),
        ]
    );
    // A record cut inside its key keeps what there is, with no value.
    assert_eq!(
        split_record(&[0xFF, 0, 9, b'a', b'b']),
        (Some(&b"ab"[..]), &b""[..])
    );
    let long = vec![b'k'; 70_000];
    let mut batch = RelayBatch::new();
    batch.push_keyed_with(&long, |buf| buf.push(b'v'));
    let (key, value) = split_record(batch.get(0).unwrap());
    assert_eq!((key.map(<[u8]>::len), value), (Some(65_535), &b"v"[..]));
}
