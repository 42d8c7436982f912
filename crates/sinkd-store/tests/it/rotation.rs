//! Rotation by size, count and age, and compression of closed segments.

use crate::support::*;
use sinkd_store::StoreConfig;
use std::time::Duration;

#[test]
fn rotates_by_size_and_compresses_closed_segments() {
    let (dir, store) = temp_store_with(|config| small_segments(config, 100));
    // "line NN\n" is 8 bytes: 12 lines per 100-byte segment.
    write_lines(&store, "r/messages", "line", 10..70);
    store.sync().unwrap();
    let stream_dir = dir.path().join("r/messages");
    let names = files_in(&stream_dir);
    let compressed: Vec<&String> = names
        .iter()
        .filter(|name| name.ends_with(".log.zst"))
        .collect();
    let plain: Vec<&String> = names.iter().filter(|name| name.ends_with(".log")).collect();
    assert_eq!(compressed.len(), 4, "{names:?}");
    assert_eq!(
        plain,
        ["00000000000000000049.log"],
        "only the active segment stays plain"
    );
    assert!(names.contains(&"00000000000000000013.log.zst".to_string()));
    assert!(names.iter().all(|name| !name.ends_with(".tmp")));
    let stats = store.stats().snapshot();
    assert_eq!((stats.segments_rotated, stats.segments_compressed), (4, 4));
    // Closed segments hold at most 100 bytes each.
    let first = std::fs::read(stream_dir.join("00000000000000000001.log.zst")).unwrap();
    let text = zstd::decode_all(&first[..]).unwrap();
    assert_eq!(text.len(), 96);
    store.shutdown().unwrap();
    assert_eq!(
        read_all(dir.path(), "r/messages"),
        expected("line", 1..61, 10)
    );
}

#[test]
fn a_line_longer_than_a_segment_gets_one_of_its_own() {
    let (dir, store) = temp_store_with(|config| config.segment_max_bytes = 10);
    let long = "x".repeat(50);
    store
        .writer()
        .submit(batch_of("s", &["a", &long, "b"]))
        .unwrap();
    store.shutdown().unwrap();
    let lines = read_all(dir.path(), "s");
    assert_eq!(lines, [(1, "a".into()), (2, long), (3, "b".into())]);
}

#[test]
fn keeps_at_most_segment_max_count_segments() {
    let (dir, store) = temp_store_with(|config| {
        config.segment_max_bytes = 100;
        config.segment_max_count = 3;
    });
    write_lines(&store, "r/messages", "line", 10..70);
    store.sync().unwrap();
    let names = files_in(&dir.path().join("r/messages"));
    let segments = names.iter().filter(|name| name.contains(".log")).count();
    let indexes = names.iter().filter(|name| name.ends_with(".idx")).count();
    // Each closed segment has its index (the end record); the active one,
    // smaller than one index interval, has none yet.
    assert_eq!((segments, indexes), (3, 2), "{names:?}");
    assert_eq!(store.stats().snapshot().segments_deleted, 2);
    store.shutdown().unwrap();
    // The oldest 24 lines are gone; the rest reads back with true seqs.
    assert_eq!(
        read_all(dir.path(), "r/messages"),
        expected("line", 25..61, 34)
    );
}

#[test]
fn rotates_by_age_even_when_the_stream_is_idle() {
    let (dir, store) =
        temp_store_with(|config| config.segment_max_age = Some(Duration::from_millis(100)));
    write_lines(&store, "idle/messages", "old", 0..3);
    store.sync().unwrap();
    let stream_dir = dir.path().join("idle/messages");
    let closed = ["00000000000000000001.idx", "00000000000000000001.log.zst"];
    assert!(
        eventually(|| {
            store.sync().unwrap();
            files_in(&stream_dir) == closed
        }),
        "the idle segment was not closed and compressed: {:?}",
        files_in(&stream_dir)
    );
    write_lines(&store, "idle/messages", "new", 0..2);
    store.shutdown().unwrap();
    assert!(stream_dir.join("00000000000000000004.log").exists());
    let mut want = expected("old", 1..4, 0);
    want.extend(expected("new", 4..6, 0));
    assert_eq!(read_all(dir.path(), "idle/messages"), want);
}

/// Streams spread over four writers and three compressors (writer `i`
/// hands its segments to compressor `i % 3`).
fn many_compressors(config: &mut StoreConfig) {
    small_segments(config, 100);
    config.writer_threads = 4;
    config.compress_threads = 3;
}

const STREAMS: usize = 24;

fn stream_name(n: usize) -> String {
    format!("dev{n}/messages")
}

#[test]
fn several_compressors_compress_every_closed_segment_of_every_writer() {
    let (dir, store) = temp_store_with(many_compressors);
    for n in 0..STREAMS {
        write_lines(&store, &stream_name(n), "line", 10..70);
    }
    store.sync().unwrap();
    let stats = store.stats().snapshot();
    assert_eq!(stats.segments_rotated, 4 * STREAMS as u64);
    assert_eq!(stats.segments_compressed, 4 * STREAMS as u64);
    for n in 0..STREAMS {
        let names = files_in(&dir.path().join(stream_name(n)));
        let plain = names.iter().filter(|name| name.ends_with(".log")).count();
        let compressed = names.iter().filter(|name| name.ends_with(".zst")).count();
        assert_eq!((plain, compressed), (1, 4), "{names:?}");
    }
    store.shutdown().unwrap();
    for n in 0..STREAMS {
        assert_eq!(
            read_all(dir.path(), &stream_name(n)),
            expected("line", 1..61, 10)
        );
    }
}

#[test]
fn the_start_up_walk_and_the_writers_compressors_share_stream_directories_safely() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with(dir.path(), many_compressors);
    for n in 0..STREAMS {
        write_lines(&store, &stream_name(n), "line", 10..70);
    }
    store.shutdown().unwrap();
    // As if the last run had stopped before compressing: every closed
    // segment back in `.log` form, for compressor 0's walk to find while
    // the writers rotate the same streams and queue their own jobs.
    for n in 0..STREAMS {
        let stream_dir = dir.path().join(stream_name(n));
        for name in files_in(&stream_dir) {
            if let Some(stem) = name.strip_suffix(".zst") {
                let compressed = std::fs::read(stream_dir.join(&name)).unwrap();
                let text = zstd::decode_all(&compressed[..]).unwrap();
                std::fs::write(stream_dir.join(stem), text).unwrap();
                std::fs::remove_file(stream_dir.join(&name)).unwrap();
            }
        }
    }
    let store = open_with(dir.path(), many_compressors);
    for n in 0..STREAMS {
        write_lines(&store, &stream_name(n), "more", 0..36);
    }
    store.sync().unwrap();
    for n in 0..STREAMS {
        let names = files_in(&dir.path().join(stream_name(n)));
        let plain: Vec<&String> = names.iter().filter(|name| name.ends_with(".log")).collect();
        assert_eq!(
            plain.len(),
            1,
            "only the active segment stays plain: {names:?}"
        );
        assert!(
            names.iter().all(|name| !name.ends_with(".tmp")),
            "{names:?}"
        );
    }
    store.shutdown().unwrap();
    for n in 0..STREAMS {
        let mut want = expected("line", 1..61, 10);
        want.extend(expected("more", 61..97, 0));
        assert_eq!(read_all(dir.path(), &stream_name(n)), want);
    }
}
