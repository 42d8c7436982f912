//! Idle streams are forgotten (`stream_idle_timeout`): their state and
//! descriptors are let go, and their next lines continue the stream from
//! disk as if nothing happened.

use crate::support::*;
use sinkd_store::{FsyncPolicy, Store, StoreConfig};
use std::time::Duration;

/// Forgets after 100 ms idle, checked every 100 ms.
fn forgetful(config: &mut StoreConfig) {
    config.stream_idle_timeout = Some(Duration::from_millis(100));
}

fn open_streams(store: &Store) -> u64 {
    store.stats().snapshot().open_streams
}

#[test]
fn idle_streams_are_forgotten_and_continue_from_disk() {
    let (dir, store) = temp_store_with(forgetful);
    for device in 0..50 {
        write_lines(&store, &format!("d{device}/messages"), "first", 0..10);
    }
    store.sync().unwrap();
    assert_eq!(open_streams(&store), 50);
    assert!(
        eventually(|| open_streams(&store) == 0),
        "{} streams still held",
        open_streams(&store)
    );
    assert_eq!(store.stats().snapshot().open_files, 0);
    for device in 0..50 {
        write_lines(&store, &format!("d{device}/messages"), "second", 0..5);
    }
    store.sync().unwrap();
    assert_eq!(open_streams(&store), 50);
    store.shutdown().unwrap();
    for device in [0, 17, 49] {
        let mut want = expected("first", 1..11, 0);
        want.extend(expected("second", 11..16, 0));
        assert_eq!(read_all(dir.path(), &format!("d{device}/messages")), want);
    }
}

#[test]
fn forgotten_ids_are_reused_by_new_streams() {
    let (dir, store) = temp_store_with(|config| {
        forgetful(config);
        config.writer_threads = 1;
    });
    for device in 0..40 {
        write_lines(&store, &format!("old{device}/messages"), "old", 0..3);
    }
    store.sync().unwrap();
    assert!(eventually(|| open_streams(&store) == 0));
    for device in 0..40 {
        write_lines(&store, &format!("new{device}/messages"), "new", 0..3);
    }
    // One old device speaks again, beside the new ones that took the ids.
    write_lines(&store, "old7/messages", "again", 0..2);
    store.sync().unwrap();
    assert_eq!(open_streams(&store), 41);
    store.shutdown().unwrap();
    for device in [0, 39] {
        assert_eq!(
            read_all(dir.path(), &format!("new{device}/messages")),
            expected("new", 1..4, 0)
        );
    }
    let mut want = expected("old", 1..4, 0);
    want.extend(expected("again", 4..6, 0));
    assert_eq!(read_all(dir.path(), "old7/messages"), want);
}

#[test]
fn a_busy_stream_beside_idle_ones_loses_and_repeats_nothing() {
    let (dir, store) = temp_store_with(forgetful);
    write_lines(&store, "quiet/messages", "quiet", 0..3);
    // 60 small batches 15 ms apart: the busy stream is never idle for
    // the timeout, the quiet one is forgotten meanwhile.
    for round in 0..60u64 {
        write_lines(&store, "busy/messages", "busy", round * 10..round * 10 + 10);
        std::thread::sleep(Duration::from_millis(15));
    }
    store.sync().unwrap();
    assert!(eventually(|| open_streams(&store) == 0));
    store.shutdown().unwrap();
    assert_eq!(
        read_all(dir.path(), "busy/messages"),
        expected("busy", 1..601, 0)
    );
    assert_eq!(
        read_all(dir.path(), "quiet/messages"),
        expected("quiet", 1..4, 0)
    );
}

#[test]
fn an_indexed_segment_gets_its_end_record_before_the_stream_is_forgotten() {
    let (dir, store) = temp_store_with(|config| {
        forgetful(config);
        config.index_interval_bytes = 100;
    });
    write_lines(&store, "ix/messages", "line", 0..40);
    store.sync().unwrap();
    let idx = dir.path().join("ix/messages").join(IDX_1);
    let before = std::fs::metadata(&idx).unwrap().len();
    assert!(eventually(|| open_streams(&store) == 0));
    let after = std::fs::metadata(&idx).unwrap().len();
    assert!(after > before, "no end record: {before} → {after} bytes");
    write_lines(&store, "ix/messages", "line", 40..60);
    store.shutdown().unwrap();
    assert_eq!(
        read_all(dir.path(), "ix/messages"),
        expected("line", 1..61, 0)
    );
    // Seeking still finds the first line at or after a time, on both sides
    // of where the stream was forgotten.
    for (timestamp, seq) in [(10, 11), (45, 46)] {
        let mut reader = sinkd_store::StreamReader::open(dir.path(), "ix/messages").unwrap();
        reader.seek_time(timestamp).unwrap();
        let lines = drain(&mut reader);
        let first = lines.iter().position(|(found, _)| *found == seq);
        assert!(
            first.is_some(),
            "seq {seq} not read after seek_time({timestamp})"
        );
    }
}

#[test]
fn under_fsync_never_forgotten_streams_are_still_synced_on_request() {
    let (dir, store) = temp_store_with(|config| {
        forgetful(config);
        config.fsync = FsyncPolicy::Never;
    });
    write_lines(&store, "n/messages", "line", 0..5);
    assert!(eventually(|| open_streams(&store) == 0));
    let fsyncs = store.stats().snapshot().fsyncs;
    store.sync().unwrap();
    assert!(
        store.stats().snapshot().fsyncs > fsyncs,
        "the explicit sync did nothing for the forgotten stream"
    );
    store.shutdown().unwrap();
    assert_eq!(
        read_all(dir.path(), "n/messages"),
        expected("line", 1..6, 0)
    );
}

#[test]
fn with_rotate_age_a_stream_is_kept_until_its_segment_is_closed() {
    let (dir, store) = temp_store_with(|config| {
        forgetful(config);
        config.segment_max_age = Some(Duration::from_millis(600));
    });
    write_lines(&store, "aged/messages", "old", 0..3);
    store.sync().unwrap();
    let stream_dir = dir.path().join("aged/messages");
    let closed = [IDX_1, "00000000000000000001.log.zst"];
    assert!(eventually(|| open_streams(&store) == 0));
    // Forgotten only after the segment was closed and compressed.
    assert_eq!(files_in(&stream_dir), closed);
    write_lines(&store, "aged/messages", "new", 0..2);
    store.shutdown().unwrap();
    let mut want = expected("old", 1..4, 0);
    want.extend(expected("new", 4..6, 0));
    assert_eq!(read_all(dir.path(), "aged/messages"), want);
}
