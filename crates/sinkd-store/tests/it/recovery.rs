//! Restarts and crashes: the sequence continues, torn lines are cut, half
//! done compressions are redone. A crash is simulated by copying a stream
//! directory while the store runs (what the disk holds after `kill -9`,
//! since written data is in the page cache) and damaging the copy the way a
//! crash can.

use crate::support::*;
use sinkd_store::{StoreConfig, StreamReader};
use std::fs;
use std::io::Write;
use std::path::Path;

/// Copies every file of `from` into `to` (created).
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn sequence_continues_across_restarts() {
    let (dir, store) = temp_store();
    write_lines(&store, "r/messages", "first", 0..10);
    store.shutdown().unwrap();
    let store = open(dir.path());
    write_lines(&store, "r/messages", "second", 0..5);
    store.shutdown().unwrap();
    let mut want = expected("first", 1..11, 0);
    want.extend(expected("second", 11..16, 0));
    assert_eq!(read_all(dir.path(), "r/messages"), want);
    // 15 short lines are far below one index interval: no index, even
    // across two shutdowns.
    assert_eq!(files_in(&dir.path().join("r/messages")), [LOG_1]);
}

#[test]
fn a_torn_last_line_is_cut_on_restart() {
    let (dir, store) = temp_store();
    write_lines(&store, "r/messages", "ok", 0..3);
    store.shutdown().unwrap();
    let segment = dir.path().join("r/messages/00000000000000000001.log");
    fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap()
        .write_all(b"<13>half a mess")
        .unwrap();
    // A reader never returns the torn bytes, even before recovery.
    assert_eq!(read_all(dir.path(), "r/messages"), expected("ok", 1..4, 0));

    let store = open(dir.path());
    write_lines(&store, "r/messages", "ok", 3..4);
    let stats = store.stats();
    store.shutdown().unwrap();
    assert_eq!(stats.snapshot().torn_bytes_cut, 15);
    assert_eq!(read_all(dir.path(), "r/messages"), expected("ok", 1..5, 0));
    assert_eq!(
        fs::read_to_string(&segment).unwrap(),
        "ok 0\nok 1\nok 2\nok 3\n"
    );
}

#[test]
fn recovers_a_crashed_stream_with_a_lagging_index_and_a_half_compressed_segment() {
    let crash_config = |config: &mut StoreConfig| {
        small_segments(config, 100);
        config.index_interval_bytes = 16;
    };
    let (live, store) = temp_store_with(crash_config);
    write_lines(&store, "r", "line", 10..40);
    store.sync().unwrap();

    // The "crashed" disk: a copy taken while running, so no end records.
    let crashed = tempfile::tempdir().unwrap();
    let stream_dir = crashed.path().join("r");
    copy_dir(&live.path().join("r"), &stream_dir);
    store.shutdown().unwrap();
    // Segment 13 was being compressed: its .log is back, the .zst was not
    // yet renamed from its temp name.
    let zst = stream_dir.join("00000000000000000013.log.zst");
    let text = zstd::decode_all(&fs::read(&zst).unwrap()[..]).unwrap();
    fs::write(stream_dir.join("00000000000000000013.log"), &text).unwrap();
    fs::remove_file(&zst).unwrap();
    fs::write(
        stream_dir.join(".00000000000000000013.log.zst.tmp"),
        b"\x28\xb5\x2f\xfd garbage",
    )
    .unwrap();
    // The active segment (25) lost its last index records and has a torn
    // line.
    let index = stream_dir.join("00000000000000000025.idx");
    let index_len = fs::metadata(&index).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&index)
        .unwrap()
        .set_len(index_len - 40)
        .unwrap();
    fs::OpenOptions::new()
        .append(true)
        .open(stream_dir.join("00000000000000000025.log"))
        .unwrap()
        .write_all(b"line 4")
        .unwrap();

    let store = open_with(crashed.path(), crash_config);
    write_lines(&store, "r", "line", 40..45);
    store.sync().unwrap();
    let names = files_in(&stream_dir);
    assert!(
        names.iter().all(|name| !name.ends_with(".tmp")),
        "{names:?}"
    );
    assert!(
        names.contains(&"00000000000000000013.log.zst".to_string()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"00000000000000000013.log".to_string()),
        "{names:?}"
    );
    store.shutdown().unwrap();
    assert_eq!(read_all(crashed.path(), "r"), expected("line", 1..36, 10));
    // The rebuilt index still finds every line.
    let mut reader = StreamReader::open(crashed.path(), "r").unwrap();
    for seq in [1, 25, 30, 33, 35] {
        reader.seek_seq(seq).unwrap();
        let (got, line) = reader.next_line().unwrap().unwrap();
        assert_eq!((got, line), (seq, format!("line {}", seq + 9).as_bytes()));
    }
    reader.seek_time(36).unwrap();
    let (seq, _) = reader.next_line().unwrap().unwrap();
    assert!(seq <= 27, "{seq}");
}

#[test]
fn a_closed_segment_present_twice_keeps_the_compressed_copy() {
    let (dir, store) = temp_store_with(|config| small_segments(config, 20));
    write_lines(&store, "s", "l", 0..6);
    store.shutdown().unwrap();
    let stream_dir = dir.path().join("s");
    // A crash between the rename and the unlink leaves both.
    let zst = stream_dir.join("00000000000000000001.log.zst");
    let text = zstd::decode_all(&fs::read(&zst).unwrap()[..]).unwrap();
    fs::write(stream_dir.join(LOG_1), text).unwrap();
    let store = open(dir.path());
    store.sync().unwrap();
    assert!(!stream_dir.join(LOG_1).exists());
    assert!(zst.exists());
    store.shutdown().unwrap();
    assert_eq!(read_all(dir.path(), "s"), expected("l", 1..7, 0));
}
