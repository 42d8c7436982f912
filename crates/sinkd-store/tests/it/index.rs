//! The lazy sparse index: a segment gets its `N.idx` only when a record is
//! due (a line starting one index interval in) or when it is closed, so a
//! quiet device's active segment is a single file. These tests check when
//! the file appears, what it holds (decoded here by hand, from the layout
//! that `docs/adr/0001-segment-layout.md` fixes), and that readers,
//! restarts and crashes do without it.

use crate::support::*;
use sinkd_store::{list_streams, FsyncPolicy, StoreConfig, StreamReader};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Record {
    max_timestamp_micros: i64,
    seq: u64,
    offset: u64,
}

const fn record(max_timestamp_micros: i64, seq: u64, offset: u64) -> Record {
    Record {
        max_timestamp_micros,
        seq,
        offset,
    }
}

/// Header fields `(first_seq, created_micros)` and records of an index file.
fn read_index(path: &Path) -> ((u64, i64), Vec<Record>) {
    let bytes = fs::read(path).unwrap();
    assert_eq!(&bytes[0..8], b"SINKDIDX", "{}", path.display());
    assert_eq!(bytes.len() % 32, 0, "whole records only");
    let word = |chunk: &[u8], at: usize| u64::from_le_bytes(chunk[at..at + 8].try_into().unwrap());
    let header = (word(&bytes, 16), word(&bytes, 24) as i64);
    let records = bytes[32..]
        .chunks_exact(32)
        .map(|chunk| record(word(chunk, 0) as i64, word(chunk, 8), word(chunk, 16)))
        .collect();
    (header, records)
}

#[test]
fn a_few_lines_leave_no_index_after_flush_and_shutdown() {
    let (dir, store) = temp_store();
    write_lines(&store, "quiet/messages", "q", 0..5);
    store.sync().unwrap();
    let stream_dir = dir.path().join("quiet/messages");
    assert_eq!(files_in(&stream_dir), [LOG_1]);
    let stats = store.stats();
    store.shutdown().unwrap();
    // Shutdown writes no end record for a segment without an index.
    assert_eq!(files_in(&stream_dir), [LOG_1]);
    assert_eq!(stats.snapshot().write_errors, 0);
    assert_eq!(
        read_all(dir.path(), "quiet/messages"),
        expected("q", 1..6, 0)
    );
    let streams = list_streams(dir.path()).unwrap();
    assert_eq!(streams.len(), 1);
    assert_eq!((streams[0].first_seq, streams[0].last_seq), (1, Some(5)));
    let log_len = fs::metadata(stream_dir.join(LOG_1)).unwrap().len();
    assert_eq!(streams[0].total_bytes, log_len);
}

#[test]
fn fsync_policies_never_touch_a_missing_index() {
    for fsync in [
        FsyncPolicy::EveryBatch,
        FsyncPolicy::Interval(Duration::from_millis(1)),
    ] {
        let (dir, store) = temp_store_with(|config| {
            config.fsync = fsync;
            config.index_interval_bytes = 100;
            small_segments(config, 150);
        });
        // "line NN" + LF is 8 bytes: 13 lines end at 104, the last one
        // starting at 96, short of the interval.
        write_lines(&store, "s", "line", 10..23);
        store.sync().unwrap();
        assert_eq!(files_in(&dir.path().join("s")), [LOG_1], "{fsync:?}");
        // The 14th line starts at 104: a record, so the index appears.
        write_lines(&store, "s", "line", 23..24);
        store.sync().unwrap();
        assert_eq!(files_in(&dir.path().join("s")), [IDX_1, LOG_1], "{fsync:?}");
        // Rotation at 144 bytes (line 19); segment 19 gets 12 lines, 96
        // bytes, short of the interval: it has no index while the closed
        // segment's was written just before.
        write_lines(&store, "s", "line", 24..40);
        store.sync().unwrap();
        let names = files_in(&dir.path().join("s"));
        assert!(
            names.contains(&"00000000000000000019.log".to_string())
                && !names.contains(&"00000000000000000019.idx".to_string()),
            "{fsync:?} {names:?}"
        );
        let stats = store.stats();
        assert!(stats.snapshot().fsyncs > 0, "{fsync:?}");
        store.shutdown().unwrap();
        let snapshot = stats.snapshot();
        assert_eq!(
            (snapshot.write_errors, snapshot.lines_written),
            (0, 30),
            "{fsync:?}"
        );
    }
}

#[test]
fn the_index_appears_with_the_record_one_interval_in() {
    let dir = tempfile::tempdir().unwrap();
    let started = now_micros();
    let store = open_with(dir.path(), |config| config.index_interval_bytes = 100);
    let stream_dir = dir.path().join("s");
    write_lines(&store, "s", "line", 10..23);
    store.sync().unwrap();
    assert_eq!(files_in(&stream_dir), [LOG_1]);
    write_lines(&store, "s", "line", 23..24);
    store.sync().unwrap();
    let ((first_seq, created_micros), records) = read_index(&stream_dir.join(IDX_1));
    assert_eq!(first_seq, 1);
    assert!(
        (started..=now_micros()).contains(&created_micros),
        "{created_micros}"
    );
    // No record for offset 0; line 14 ("line 23", timestamp 23) starts at
    // 104.
    assert_eq!(records, [record(23, 14, 104)]);
    let text = fs::read(stream_dir.join(LOG_1)).unwrap();
    assert!(text[104..].starts_with(b"line 23\n"));
    store.shutdown().unwrap();
    // Once the index exists, shutdown marks the end in it as before.
    let (_, records) = read_index(&stream_dir.join(IDX_1));
    assert_eq!(records, [record(23, 14, 104), record(23, 15, 112)]);
}

#[test]
fn a_closed_segment_always_has_an_index_with_its_end_record() {
    let (dir, store) = temp_store_with(|config| small_segments(config, 100));
    // 12 lines of 8 bytes fill segment 1 (96 bytes); line 13 rotates.
    write_lines(&store, "r", "line", 10..30);
    store.sync().unwrap();
    let stream_dir = dir.path().join("r");
    let names = files_in(&stream_dir);
    assert!(names.contains(&IDX_1.to_string()), "{names:?}");
    assert!(
        !names.contains(&"00000000000000000013.idx".to_string()),
        "{names:?}"
    );
    let (header, records) = read_index(&stream_dir.join(IDX_1));
    assert_eq!(header.0, 1);
    // Only the end record: lines "line 10".."line 21", 96 bytes, and the
    // next segment starts at seq 13.
    assert_eq!(records, [record(21, 13, 96)]);
    let mut reader = StreamReader::open(dir.path(), "r").unwrap();
    // The end record lets a time seek skip the closed segment; the active
    // one, without an index, is read from its start.
    reader.seek_time(22).unwrap();
    assert_eq!(reader.next_line().unwrap().unwrap().0, 13);
    reader.seek_time(21).unwrap();
    assert_eq!(reader.next_line().unwrap().unwrap().0, 1);
    store.shutdown().unwrap();
    assert_eq!(read_all(dir.path(), "r"), expected("line", 1..21, 10));
}

#[test]
fn seeks_in_an_active_segment_without_an_index() {
    let (dir, store) = temp_store();
    write_lines(&store, "s", "l", 0..50);
    store.sync().unwrap();
    assert_eq!(files_in(&dir.path().join("s")), [LOG_1]);
    let check = |reader: &mut StreamReader| {
        for seq in [1u64, 2, 37, 50] {
            reader.seek_seq(seq).unwrap();
            let (got, line) = reader.next_line().unwrap().unwrap();
            assert_eq!((got, line), (seq, format!("l {}", seq - 1).as_bytes()));
        }
        reader.seek_seq(51).unwrap();
        assert!(reader.next_line().unwrap().is_none());
        // Without records a time seek starts at the segment's first line
        // and misses nothing.
        reader.seek_time(20).unwrap();
        assert_eq!(drain(reader), expected("l", 1..51, 0));
    };
    let mut live = StreamReader::open(dir.path(), "s").unwrap();
    check(&mut live);
    store.shutdown().unwrap();
    let mut reader = StreamReader::open(dir.path(), "s").unwrap();
    check(&mut reader);
}

#[test]
fn restart_without_an_index_builds_one_only_when_a_record_is_due() {
    let small = |config: &mut StoreConfig| config.index_interval_bytes = 100;
    let (dir, store) = temp_store_with(small);
    write_lines(&store, "s", "line", 10..15);
    store.shutdown().unwrap();
    let stream_dir = dir.path().join("s");
    assert_eq!(files_in(&stream_dir), [LOG_1]);
    // Below the interval after the restart: still no index.
    let store = open_with(dir.path(), small);
    write_lines(&store, "s", "line", 15..20);
    store.shutdown().unwrap();
    assert_eq!(files_in(&stream_dir), [LOG_1]);
    // Past it: the index appears. The timestamps of the lines written
    // before the restart were never recorded, so the maximum is unknown.
    let store = open_with(dir.path(), small);
    write_lines(&store, "s", "line", 20..25);
    store.shutdown().unwrap();
    let (_, records) = read_index(&stream_dir.join(IDX_1));
    assert_eq!(
        records,
        [record(i64::MAX, 14, 104), record(i64::MAX, 16, 120)]
    );
    let mut reader = StreamReader::open(dir.path(), "s").unwrap();
    assert_eq!(drain(&mut reader), expected("line", 1..16, 10));
    for seq in [1u64, 13, 14, 15] {
        reader.seek_seq(seq).unwrap();
        assert_eq!(reader.next_line().unwrap().unwrap().0, seq);
    }
}

#[test]
fn restart_with_an_index_keeps_and_extends_it() {
    let small = |config: &mut StoreConfig| config.index_interval_bytes = 100;
    let (dir, store) = temp_store_with(small);
    write_lines(&store, "s", "line", 10..24);
    store.shutdown().unwrap();
    let index = dir.path().join("s").join(IDX_1);
    let (header, records) = read_index(&index);
    assert_eq!(records, [record(23, 14, 104), record(23, 15, 112)]);
    let store = open_with(dir.path(), small);
    write_lines(&store, "s", "line", 24..38);
    store.shutdown().unwrap();
    let (header_after, records) = read_index(&index);
    assert_eq!(header_after, header, "the creation time survives");
    // The end record kept the running maximum; the next record is due one
    // interval after it (212): line 28 at 216.
    assert_eq!(
        records,
        [
            record(23, 14, 104),
            record(23, 15, 112),
            record(37, 28, 216),
            record(37, 29, 224),
        ]
    );
    let mut reader = StreamReader::open(dir.path(), "s").unwrap();
    reader.seek_time(30).unwrap();
    let (seq, _) = reader.next_line().unwrap().unwrap();
    assert!((15..=21).contains(&seq), "{seq}");
}

#[test]
fn age_rotation_after_a_restart_counts_from_the_segment_birth() {
    let (dir, store) = temp_store();
    write_lines(&store, "s", "old", 0..1);
    store.sync().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    write_lines(&store, "s", "old", 1..2);
    store.shutdown().unwrap();
    let stream_dir = dir.path().join("s");
    assert_eq!(files_in(&stream_dir), [LOG_1]);
    let birth_known = fs::metadata(stream_dir.join(LOG_1))
        .unwrap()
        .created()
        .is_ok();
    std::thread::sleep(Duration::from_millis(200));
    // The segment was born at least 600 ms ago but last written about
    // 200 ms ago.
    let store = open_with(dir.path(), |config| {
        config.segment_max_age = Some(Duration::from_millis(500))
    });
    write_lines(&store, "s", "new", 2..3);
    store.shutdown().unwrap();
    let names = files_in(&stream_dir);
    if birth_known {
        assert!(
            names.contains(&"00000000000000000003.log".to_string()),
            "{names:?}"
        );
        // The closed segment got its index at rotation.
        let (_, records) = read_index(&stream_dir.join(IDX_1));
        assert_eq!(
            records.last().map(|last| (last.seq, last.offset)),
            Some((3, 12))
        );
    }
    let mut want = expected("old", 1..3, 0);
    want.extend(expected("new", 3..4, 2));
    assert_eq!(read_all(dir.path(), "s"), want);
}

#[test]
fn a_kill_with_a_torn_line_and_no_index_recovers() {
    let (live, store) = temp_store();
    write_lines(&store, "r/messages", "ok", 0..5);
    store.sync().unwrap();
    // What the disk holds after kill -9: the files as they are now, plus
    // half a line the writer had started.
    let crashed = tempfile::tempdir().unwrap();
    let stream_dir = crashed.path().join("r/messages");
    fs::create_dir_all(&stream_dir).unwrap();
    let live_dir = live.path().join("r/messages");
    assert_eq!(files_in(&live_dir), [LOG_1]);
    fs::copy(live_dir.join(LOG_1), stream_dir.join(LOG_1)).unwrap();
    store.shutdown().unwrap();
    fs::OpenOptions::new()
        .append(true)
        .open(stream_dir.join(LOG_1))
        .unwrap()
        .write_all(b"<13>half a mess")
        .unwrap();
    let mut reader = StreamReader::open(crashed.path(), "r/messages").unwrap();
    reader.seek_time(3).unwrap();
    assert_eq!(drain(&mut reader), expected("ok", 1..6, 0));

    let store = open(crashed.path());
    write_lines(&store, "r/messages", "ok", 5..7);
    store.sync().unwrap();
    let stats = store.stats().snapshot();
    assert_eq!((stats.torn_bytes_cut, stats.write_errors), (15, 0));
    assert_eq!(files_in(&stream_dir), [LOG_1]);
    store.shutdown().unwrap();
    assert_eq!(files_in(&stream_dir), [LOG_1]);
    assert_eq!(
        read_all(crashed.path(), "r/messages"),
        expected("ok", 1..8, 0)
    );
}
