//! Seeking by the messages' own timestamps: the index is keyed by them
//! (through a running maximum), so `seek_time` misses no line at or after
//! the time asked for, whatever order the timestamps come in; indexes
//! written by an older sinkd, keyed by receive time, are read with a day's
//! allowance for clocks running ahead.

use crate::support::*;
use sinkd_store::{Store, StreamReader, RECEIVE_TIME_MARGIN_MICROS};
use std::path::Path;

const LINES: i64 = 600;

/// A store of `LINES` lines "line I" for stream `s`, in small segments
/// with a dense index; line I carries `timestamp(I)`.
fn store_with(dir: &Path, timestamp: impl Fn(i64) -> i64) -> Store {
    indexed_lines(dir, 1000, LINES, timestamp)
}

/// Line numbers (I of "line I") read after `seek_time(at)`.
fn read_from(reader: &mut StreamReader, at: i64) -> Vec<i64> {
    reader.seek_time(at).unwrap();
    drain(reader)
        .into_iter()
        .map(|(_, line)| line["line ".len()..].parse().unwrap())
        .collect()
}

/// Checks that after `seek_time(at)` every line with a timestamp at or
/// after `at` is read, in order, and returns how many lines before the
/// first of them were read too.
fn assert_exact(reader: &mut StreamReader, at: i64, timestamp: &impl Fn(i64) -> i64) -> usize {
    let read = read_from(reader, at);
    let first = *read.first().unwrap_or(&LINES);
    assert!(
        read.iter().copied().eq(first..LINES),
        "not a contiguous tail for {at}"
    );
    let missed: Vec<i64> = (0..first).filter(|&i| timestamp(i) >= at).collect();
    assert!(missed.is_empty(), "seek_time({at}) skipped {missed:?}");
    (first..LINES).take_while(|&i| timestamp(i) < at).count()
}

#[test]
fn seeks_by_message_time_with_timestamps_out_of_order() {
    let dir = tempfile::tempdir().unwrap();
    // Mostly increasing, each line up to 40 s early or late.
    let timestamp = |i: i64| i * 10_000_000 + ((i * 7919) % 9 - 4) * 10_000_000;
    let store = store_with(dir.path(), timestamp);
    let mut reader = StreamReader::open(dir.path(), "s").unwrap();
    assert!(reader.segments().len() >= 5, "{:?}", reader.segments());
    for at in [
        0,
        5_000_000,
        1_234_567_890,
        3_000_000_000,
        5_990_000_000,
        9_000_000_000,
    ] {
        let before = assert_exact(&mut reader, at, &timestamp);
        // The running maximum is at most 80 s (8 lines) ahead, and an
        // interval of 100 bytes spans at most 13 lines.
        assert!(before <= 25, "seek_time({at}) started {before} lines early");
    }
    store.shutdown().unwrap();
}

#[test]
fn a_line_from_the_future_does_not_hide_the_lines_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let future = 4_102_444_800_000_000; // 2100-01-01
    let timestamp = move |i: i64| {
        if i == 200 {
            future
        } else {
            1_700_000_000_000_000 + i * 1_000_000
        }
    };
    let store = store_with(dir.path(), timestamp);
    let mut reader = StreamReader::open(dir.path(), "s").unwrap();
    for at in [
        1_700_000_000_000_000,
        1_700_000_150_000_000,
        1_700_000_250_000_000,
        1_700_000_599_000_000,
    ] {
        assert_exact(&mut reader, at, &timestamp);
    }
    // Seeking to the future finds that line.
    let read = read_from(&mut reader, future);
    assert!(read.contains(&200), "{read:?}");
    // What it costs: the running maximum cannot tell the rest of its
    // segment apart, so a later seek starts at that line (no earlier than
    // one index interval before it), not at the lines asked for.
    let late = read_from(&mut reader, 1_700_000_500_000_000);
    assert!(
        late.first()
            .is_some_and(|&first| (187..=200).contains(&first)),
        "{:?}",
        late.first()
    );
    store.shutdown().unwrap();
}

#[test]
fn an_index_keyed_by_receive_time_is_read_with_a_days_allowance() {
    let dir = tempfile::tempdir().unwrap();
    // As an older sinkd stored them: keyed by receive time, one line a
    // minute, from a device whose clock runs 12 hours ahead.
    let received = |i: i64| 1_700_000_000_000_000 + i * 60_000_000;
    let ahead = 12 * 3600 * 1_000_000;
    let own = move |i: i64| received(i) + ahead;
    store_with(dir.path(), received).shutdown().unwrap();
    let stream = dir.path().join("s");
    let indexes: Vec<_> = std::fs::read_dir(&stream)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "idx"))
        .collect();
    assert!(indexes.len() >= 5, "{indexes:?}");

    // As written now (the flag says "message time"), the index is taken at
    // its word, which is wrong for these files.
    let mut reader = StreamReader::open(dir.path(), "s").unwrap();
    let at = own(300);
    let read = read_from(&mut reader, at);
    assert!(!read.contains(&300), "the flag is not what decides");

    // Without the flag, as older sinkd wrote it: nothing is missed.
    for path in &indexes {
        let mut bytes = std::fs::read(path).unwrap();
        assert_eq!(&bytes[14..16], &[1, 0]);
        bytes[14] = 0;
        std::fs::write(path, bytes).unwrap();
    }
    let mut reader = StreamReader::open(dir.path(), "s").unwrap();
    for i in [0, 1, 250, 300, 599] {
        assert_exact(&mut reader, own(i), &own);
    }
    // The allowance is a day: a seek far enough back in the stream skips
    // the segments a day older than the time asked for.
    assert!(ahead < RECEIVE_TIME_MARGIN_MICROS);
    let read = read_from(&mut reader, received(599) + RECEIVE_TIME_MARGIN_MICROS);
    assert!(read.first().is_some_and(|&first| first > 500), "{read:?}");
}
