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

/// A batch of `lines` lines over `streams` streams, line I stamped I.
fn spread(lines: usize, streams: usize) -> AppendBatch {
    let mut batch = AppendBatch::with_capacity(lines, 64 * 1024);
    for index in 0..lines {
        let stream = format!("dev{}/messages", index % streams);
        batch.push(&stream, index as i64, format!("line {index}").as_bytes());
    }
    batch
}

/// The part of a line of [`spread`]: its stream's number (its timestamp
/// modulo the 5 streams the tests use) modulo the parts.
fn part_of_line(timestamp: i64, parts: usize) -> usize {
    (timestamp as usize % 5) % parts
}

fn by_stream(parts: usize) -> impl Fn(&Entry) -> usize {
    move |entry: &Entry| part_of_line(entry.timestamp_micros, parts)
}

/// The lines of `whole` that go to part `part` of `parts`.
fn lines_of_part(
    whole: &[(String, i64, String)],
    part: usize,
    parts: usize,
) -> Vec<(String, i64, String)> {
    whole
        .iter()
        .filter(|(_, ts, _)| part_of_line(*ts, parts) == part)
        .cloned()
        .collect()
}

#[test]
fn a_split_shares_the_arena_and_keeps_each_parts_lines_in_order() {
    let batch = spread(40, 5);
    let whole = collect(&batch);
    let arena_start = batch.arena.as_ptr();
    let parts = batch.split(3, by_stream(3));
    assert_eq!(parts.len(), 3);
    let mut seen = Vec::new();
    for (number, part) in parts.iter().enumerate() {
        let part = part.as_ref().expect("every part has lines");
        assert!(part.is_shared());
        // No line was copied: the part's own arena is empty and the shared
        // one is the batch's.
        assert!(part.arena.is_empty());
        assert_eq!(part.bytes().as_ptr(), arena_start);
        let lines = collect(part);
        assert_eq!(lines, lines_of_part(&whole, number, 3));
        seen.extend(lines);
    }
    assert_eq!(seen.len(), whole.len());
}

#[test]
fn a_part_no_line_went_to_is_none_and_the_first_lines_part_is_the_batch() {
    let mut batch = spread(10, 5);
    let entries_capacity = batch.entries.capacity();
    batch.set_completion(Arc::new(Counted));
    // Streams 0..5 over 8 parts: parts 5, 6, 7 get nothing.
    let parts = batch.split(8, by_stream(8));
    assert!(parts[5..].iter().all(Option::is_none));
    let first = parts[0].as_ref().unwrap();
    assert_eq!(first.entries.capacity(), entries_capacity);
    // The batch's completion and one clone per other part: five parts.
    let completion = first.completion().unwrap();
    assert_eq!(Arc::strong_count(completion), 5);
    for part in parts.iter().flatten().skip(1) {
        assert!(Arc::ptr_eq(part.completion().unwrap(), completion));
        // Room for its own two lines, not the batch's ten.
        assert!(part.entries.capacity() < 10, "{}", part.entries.capacity());
    }
}

#[test]
fn the_batch_becomes_the_part_of_its_first_line_whichever_that_is() {
    let mut batch = AppendBatch::new();
    for (stream, ts) in [("c", 2), ("a", 0), ("c", 7), ("b", 1), ("c", 12)] {
        batch.push(stream, ts, stream.as_bytes());
    }
    let entries_start = batch.entries.as_ptr();
    let whole = collect(&batch);
    let parts = batch.split(3, by_stream(3));
    let third = parts[2].as_ref().unwrap();
    assert_eq!(third.entries.as_ptr(), entries_start);
    assert_eq!(collect(third), lines_of_part(&whole, 2, 3));
    assert_eq!(
        collect(parts[0].as_ref().unwrap()),
        lines_of_part(&whole, 0, 3)
    );
    assert_eq!(
        collect(parts[1].as_ref().unwrap()),
        lines_of_part(&whole, 1, 3)
    );
}

#[test]
fn whichever_part_is_recycled_last_takes_the_arena_back() {
    for last in 0..3 {
        let batch = spread(30, 5);
        let arena_start = batch.arena.as_ptr();
        let capacity = batch.arena.capacity();
        let whole = collect(&batch);
        let mut parts: Vec<Option<AppendBatch>> = batch.split(3, by_stream(3));
        let keep = parts[last].take().unwrap();
        for part in parts.into_iter().flatten() {
            assert!(part.reclaim().is_none());
        }
        let reclaimed = keep.reclaim().expect("the last part takes the arena");
        assert!(!reclaimed.is_shared());
        assert_eq!(reclaimed.arena.as_ptr(), arena_start, "part {last} last");
        assert_eq!(reclaimed.arena.capacity(), capacity);
        // Its own lines still read right from the arena it took back.
        assert_eq!(collect(&reclaimed), lines_of_part(&whole, last, 3));
    }
}

#[test]
fn a_part_the_others_have_left_takes_the_arena_instead_of_copying() {
    let batch = spread(20, 5);
    let arena_start = batch.arena.as_ptr();
    let whole = collect(&batch);
    let mut parts = batch.split(2, by_stream(2)).into_iter().flatten();
    let even = parts.next().unwrap();
    drop(parts);
    let owned = even.into_owned();
    assert!(!owned.is_shared());
    assert_eq!(owned.arena.as_ptr(), arena_start);
    assert_eq!(collect(&owned), lines_of_part(&whole, 0, 2));
}

#[test]
fn a_part_made_owned_or_pushed_to_copies_its_lines_first() {
    let batch = spread(12, 5);
    let whole = collect(&batch);
    let mut parts = batch.split(2, by_stream(2)).into_iter().flatten();
    let even = parts.next().unwrap();
    let mut odd = parts.next().unwrap();
    let owned = even.into_owned();
    assert!(!owned.is_shared());
    assert_eq!(collect(&owned), lines_of_part(&whole, 0, 2));
    // Pushing to a part (never done inside the store) must not write into
    // the shared arena or break the part's ranges.
    odd.push("dev9/messages", 99, b"added");
    assert!(!odd.is_shared());
    let mut odd_lines = lines_of_part(&whole, 1, 2);
    odd_lines.push(("dev9/messages".into(), 99, "added".into()));
    assert_eq!(collect(&odd), odd_lines);
}

#[derive(Debug)]
struct Counted;

impl Completion for Counted {
    fn fail(&self) {}
}

#[test]
fn a_part_number_past_the_last_counts_as_the_last_part() {
    let batch = spread(10, 5);
    let whole = collect(&batch);
    // Streams 0..5 asked for parts 0..5 of 2: 2, 3 and 4 go to part 1.
    let parts = batch.split(2, |entry| entry.timestamp_micros as usize % 5);
    let mut seen: Vec<_> = parts.iter().flatten().flat_map(collect).collect();
    seen.sort_by_key(|(_, ts, _)| *ts);
    assert_eq!(seen, whole);
    let none = spread(3, 3).split(0, |_| 7);
    assert_eq!(
        none.iter().flatten().map(AppendBatch::len).sum::<usize>(),
        3
    );
}
