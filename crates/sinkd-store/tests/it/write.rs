//! Writing: read-back, ordering across writer threads, batching APIs,
//! shutdown flushing, many streams with few file descriptors.

use crate::support::*;
use sinkd_store::{
    list_streams, AppendBatch, FsyncPolicy, Store, StoreConfig, StoreError, TrySubmitError,
    WriteObserver,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn appended_lines_read_back_with_sequence_numbers() {
    let (dir, store) = temp_store();
    write_lines(&store, "router1/messages", "r1", 0..250);
    write_lines(&store, "router2/messages", "r2", 0..3);
    let stats = store.stats();
    store.shutdown().unwrap();
    assert_eq!(
        read_all(dir.path(), "router1/messages"),
        expected("r1", 1..251, 0)
    );
    assert_eq!(
        read_all(dir.path(), "router2/messages"),
        expected("r2", 1..4, 0)
    );
    let snapshot = stats.snapshot();
    assert_eq!(snapshot.lines_written, 253);
    assert_eq!(snapshot.lines_dropped, 0);
    assert_eq!(snapshot.write_errors, 0);
    assert_eq!(snapshot.open_files, 0);
    assert!(snapshot.fsyncs >= 1, "shutdown fsyncs");
    let segment = dir.path().join("router1/messages/00000000000000000001.log");
    let text = std::fs::read_to_string(segment).unwrap();
    assert!(text.starts_with("r1 0\nr1 1\n"));
}

#[test]
fn a_batch_for_many_streams_is_split_between_writers_in_order() {
    let (dir, store) = temp_store_with(|config| config.writer_threads = 4);
    let writer = store.writer();
    let mut batch = AppendBatch::new();
    for round in 0..20 {
        for device in 0..50 {
            batch.push(
                &format!("d{device}/messages"),
                round,
                format!("line {round}").as_bytes(),
            );
        }
    }
    writer.submit(batch).unwrap();
    store.shutdown().unwrap();
    for device in 0..50 {
        let lines = read_all(dir.path(), &format!("d{device}/messages"));
        let want: Vec<(u64, String)> = (0..20)
            .map(|round| (round + 1, format!("line {round}")))
            .collect();
        assert_eq!(lines, want, "device {device}");
    }
}

#[test]
fn shutdown_writes_what_the_timer_has_not() {
    let (dir, store) = temp_store_with(|config| {
        config.flush_interval = Duration::from_secs(3600);
        config.quiet_flush = Duration::ZERO;
        config.fsync = FsyncPolicy::Interval(Duration::from_secs(3600));
    });
    write_lines(&store, "quiet/messages", "q", 0..10);
    // The writer creates the segment on the first line but nothing forces
    // the buffered lines out yet.
    let path = dir.path().join("quiet/messages/00000000000000000001.log");
    assert!(eventually(|| path.exists()));
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    store.shutdown().unwrap();
    assert_eq!(
        read_all(dir.path(), "quiet/messages"),
        expected("q", 1..11, 0)
    );
}

#[test]
fn sync_makes_lines_visible_and_every_batch_policy_fsyncs() {
    let (dir, store) = temp_store_with(|config| {
        config.flush_interval = Duration::from_secs(3600);
        config.fsync = FsyncPolicy::EveryBatch;
    });
    write_lines(&store, "s", "x", 0..5);
    store.sync().unwrap();
    assert_eq!(read_all(dir.path(), "s"), expected("x", 1..6, 0));
    assert!(store.stats().snapshot().fsyncs >= 1);
    store.shutdown().unwrap();
}

#[test]
fn interval_fsyncs_happen_while_the_store_runs() {
    // Few streams get per-file syncs, many get one syncfs; both are done by
    // the sync thread without any explicit sync or shutdown.
    for streams in [3, 40] {
        let (dir, store) = temp_store_with(|config| {
            config.writer_threads = 1;
            config.fsync = FsyncPolicy::Interval(Duration::from_millis(5));
        });
        let stats = store.stats();
        for stream in 0..streams {
            write_lines(&store, &format!("d{stream}"), "x", 0..3);
        }
        assert!(
            eventually(|| stats.snapshot().fsyncs >= 1),
            "{streams} streams: no background fsync"
        );
        // Lines keep flowing while syncs are made, and an explicit sync
        // waits for the background ones.
        write_lines(&store, "d0", "y", 0..3);
        store.sync().unwrap();
        store.shutdown().unwrap();
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.write_errors, 0);
        assert_eq!(snapshot.lines_written, streams * 3 + 3);
        assert_eq!(read_all(dir.path(), "d0").len(), 6);
    }
}

#[test]
fn a_line_reaches_the_file_by_the_flush_interval_without_a_pause() {
    // No quiet flush: only the interval tick can write the line.
    let (dir, store) = temp_store_with(|config| {
        config.flush_interval = Duration::from_millis(50);
        config.quiet_flush = Duration::ZERO;
    });
    write_lines(&store, "tick", "t", 0..4);
    let segment = dir.path().join("tick/00000000000000000001.log");
    assert!(eventually(
        || segment.exists() && read_all(dir.path(), "tick").len() == 4
    ));
    store.shutdown().unwrap();
}

#[test]
fn try_submit_accounts_for_every_line() {
    let (dir, store) = temp_store_with(|config| {
        config.queue_batches = 1;
        config.writer_threads = 1;
    });
    let writer = store.writer();
    let mut accepted = 0u64;
    let mut refused = 0u64;
    for round in 0..200u64 {
        let mut batch = writer.batch();
        for i in 0..50u64 {
            batch.push("udp/messages", 0, format!("{}", round * 50 + i).as_bytes());
        }
        match writer.try_submit(batch) {
            Ok(()) => accepted += 50,
            Err(TrySubmitError::Full(back)) => refused += back.len() as u64,
            Err(TrySubmitError::Closed(_)) => panic!("store is open"),
        }
    }
    store.shutdown().unwrap();
    assert_eq!(accepted + refused, 10_000);
    let lines = read_all(dir.path(), "udp/messages");
    assert_eq!(lines.len() as u64, accepted);
    // Sequence numbers are dense even when batches were refused.
    assert!(lines
        .iter()
        .enumerate()
        .all(|(n, (seq, _))| *seq == n as u64 + 1));
}

#[test]
fn batches_split_between_writers_store_every_line_refused_or_not() {
    // Batches of lines for 12 streams go to 3 writer threads in parts that
    // share the batch's arena; with one batch of room per queue, many
    // parts are refused and come back to be submitted again, blocking.
    let (dir, store) = temp_store_with(|config| {
        config.queue_batches = 1;
        config.writer_threads = 3;
    });
    let writer = store.writer();
    let streams: Vec<String> = (0..12).map(|s| format!("dev{s}/messages")).collect();
    let mut next = vec![0u64; streams.len()];
    let mut refused = 0usize;
    for round in 0..300usize {
        let mut batch = writer.batch();
        for i in 0..60 {
            let s = (round + i * 7) % streams.len();
            batch.push(&streams[s], 0, format!("{s} {}", next[s]).as_bytes());
            next[s] += 1;
        }
        match writer.try_submit(batch) {
            Ok(()) => {}
            Err(TrySubmitError::Full(back)) => {
                refused += back.len();
                writer.submit(back).unwrap();
            }
            Err(TrySubmitError::Closed(_)) => panic!("store is open"),
        }
    }
    store.shutdown().unwrap();
    assert!(refused > 0, "no part was refused: the test missed its case");
    for (s, stream) in streams.iter().enumerate() {
        // A stream's lines all go to one writer, and a refused part is
        // submitted again before the next batch: each stream has every
        // line once, in order.
        let lines = read_all(dir.path(), stream);
        let expected: Vec<(u64, String)> =
            (0..next[s]).map(|n| (n + 1, format!("{s} {n}"))).collect();
        assert_eq!(lines, expected, "{stream}");
    }
}

#[test]
fn handles_fail_after_shutdown_and_give_the_lines_back() {
    let (_dir, store) = temp_store();
    let writer = store.writer();
    store.shutdown().unwrap();
    let error = writer.submit(batch_of("s", &["a", "b"])).unwrap_err();
    assert_eq!(error.0.len(), 2);
    let error = writer.try_submit(batch_of("s", &["a"])).unwrap_err();
    assert!(matches!(&error, TrySubmitError::Closed(batch) if batch.len() == 1));
}

#[test]
fn a_second_store_on_the_same_directory_is_refused() {
    let (dir, store) = temp_store();
    assert!(matches!(
        Store::open(config(dir.path())),
        Err(StoreError::Locked { .. })
    ));
    store.shutdown().unwrap();
    open(dir.path()).shutdown().unwrap();
}

#[test]
fn invalid_configuration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        StoreConfig {
            writer_threads: 257,
            ..config(dir.path())
        },
        StoreConfig {
            segment_max_bytes: 0,
            ..config(dir.path())
        },
        StoreConfig {
            queue_batches: 0,
            ..config(dir.path())
        },
        StoreConfig {
            compression_level: 99,
            ..config(dir.path())
        },
    ] {
        assert!(matches!(
            Store::open(bad),
            Err(StoreError::InvalidConfig(_))
        ));
    }
}

/// Creating 10,000 directories and files costs about 4 s on this
/// machine's disk (~400 us per mkdir or create) and 50 ms on tmpfs; this
/// test is about the descriptor cache, not the disk, so it uses tmpfs when
/// there is one.
#[test]
fn five_thousand_streams_with_sixty_four_descriptors() {
    let dir = fast_tempdir();
    let store = open_with(dir.path(), |config| config.max_open_files = 64);
    let writer = store.writer();
    let stats = store.stats();
    let mut max_open = 0;
    for round in 0..3 {
        let mut batch = writer.batch();
        for device in 0..5000 {
            batch.push(
                &format!("dev{device}/messages"),
                round,
                format!("round {round}").as_bytes(),
            );
            if batch.len() == 500 {
                writer.submit(std::mem::take(&mut batch)).unwrap();
                max_open = max_open.max(stats.snapshot().open_files);
            }
        }
        store.sync().unwrap();
        max_open = max_open.max(stats.snapshot().open_files);
    }
    assert!(max_open <= 64, "{max_open} files open");
    assert_eq!(stats.snapshot().open_streams, 5000);
    store.shutdown().unwrap();
    let streams = list_streams(dir.path()).unwrap();
    assert_eq!(streams.len(), 5000);
    assert!(streams
        .iter()
        .all(|info| info.first_seq == 1 && info.last_seq == Some(3)));
    for device in [0, 1234, 4999] {
        let lines = read_all(dir.path(), &format!("dev{device}/messages"));
        let want: Vec<(u64, String)> = (0..3)
            .map(|round| (round + 1, format!("round {round}")))
            .collect();
        assert_eq!(lines, want);
    }
    assert_eq!(stats.snapshot().lines_written, 15_000);
}

#[test]
fn write_observer_hears_how_long_lines_waited() {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&heard);
    let (_dir, store) = temp_store_with(|config| {
        config.on_write = Some(WriteObserver(Arc::new(move |waited| {
            sink.lock().unwrap().push(waited);
        })));
    });
    // Lines stamped two seconds ago have waited at least that long.
    let stamped = now_micros() - 2_000_000;
    let mut batch = AppendBatch::new();
    batch.push("late/messages", stamped, b"<13>late");
    store.writer().submit(batch).unwrap();
    store.shutdown().unwrap();
    let heard = heard.lock().unwrap();
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert!(heard[0] >= Duration::from_secs(2), "{heard:?}");
    assert!(heard[0] < Duration::from_secs(60), "{heard:?}");
}

/// Size of the active segment of `stream`, 0 while it has no file.
fn segment_len(dir: &std::path::Path, stream: &str) -> u64 {
    std::fs::metadata(dir.join(stream).join(LOG_1)).map_or(0, |m| m.len())
}

#[test]
fn over_the_memory_budget_only_the_largest_buffers_are_written() {
    let (dir, store) = temp_store_with(|config| {
        config.writer_threads = 1;
        config.max_buffered_bytes = 64 * 1024;
        config.flush_interval = Duration::from_secs(3600);
        config.quiet_flush = Duration::ZERO;
    });
    let writer = store.writer();
    // 1 KiB lines (whole chunks): "big" holds 20 KiB, "mid" 18, and
    // fifteen small streams 2 each: 68 KiB against a budget of 64.
    let line = vec![b'x'; 1023];
    let mut batch = writer.batch();
    for _ in 0..20 {
        batch.push("big/messages", 0, &line);
    }
    for _ in 0..18 {
        batch.push("mid/messages", 0, &line);
    }
    for small in 0..15 {
        for _ in 0..2 {
            batch.push(&format!("small{small}/messages"), 0, &line);
        }
    }
    writer.submit(batch).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while segment_len(dir.path(), "big/messages") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Writing "big" brings the buffers under nine tenths of the budget;
    // the rest stays in memory to be written in larger pieces later.
    assert_eq!(segment_len(dir.path(), "big/messages"), 20 * 1024);
    assert_eq!(segment_len(dir.path(), "mid/messages"), 0);
    assert_eq!(segment_len(dir.path(), "small0/messages"), 0);
    store.shutdown().unwrap();
    assert_eq!(segment_len(dir.path(), "mid/messages"), 18 * 1024);
    assert_eq!(read_all(dir.path(), "small14/messages").len(), 2);
}
