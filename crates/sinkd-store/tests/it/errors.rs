//! Write errors: counted, logged, never a panic, and the store keeps
//! serving the other streams.

use crate::support::*;
use sinkd_store::StreamReader;
use std::fs;
use std::time::Duration;

#[test]
fn a_file_where_a_directory_should_be_drops_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("blocked"), b"not a directory").unwrap();
    let store = open(dir.path());
    write_lines(&store, "blocked/messages", "lost", 0..5);
    write_lines(&store, "fine/messages", "kept", 0..5);
    store.sync().unwrap();
    let stats = store.stats().snapshot();
    assert_eq!(stats.lines_dropped, 5);
    assert!(stats.write_errors >= 1);
    assert_eq!(
        read_all(dir.path(), "fine/messages"),
        expected("kept", 1..6, 0)
    );

    // Once the obstacle is gone, the stream recovers after its pause.
    fs::remove_file(dir.path().join("blocked")).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    write_lines(&store, "blocked/messages", "back", 0..2);
    store.shutdown().unwrap();
    assert_eq!(
        read_all(dir.path(), "blocked/messages"),
        expected("back", 1..3, 0)
    );
}

#[test]
fn a_full_disk_drops_and_counts_without_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let stream_dir = dir.path().join("full/messages");
    fs::create_dir_all(&stream_dir).unwrap();
    // Every write to /dev/full fails with ENOSPC.
    std::os::unix::fs::symlink("/dev/full", stream_dir.join(LOG_1)).unwrap();
    let store = open(dir.path());
    write_lines(&store, "full/messages", "lost", 0..7);
    write_lines(&store, "other", "kept", 0..2);
    store.sync().unwrap();
    let stats = store.stats().snapshot();
    assert_eq!(stats.lines_dropped, 7);
    assert!(stats.write_errors >= 1);
    assert_eq!(read_all(dir.path(), "other"), expected("kept", 1..3, 0));
    store.shutdown().unwrap();
}

#[test]
fn an_unsafe_stream_path_is_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let store = open(&data_dir);
    let writer = store.writer();
    for stream in ["../escape", "/abs", "a//b", "", "x/../../y"] {
        writer.submit(batch_of(stream, &["evil"])).unwrap();
    }
    store.sync().unwrap();
    assert_eq!(store.stats().snapshot().lines_dropped, 5);
    store.shutdown().unwrap();
    assert!(!dir.path().join("escape").exists());
    assert!(!dir.path().join("y").exists());
    let mut outside = files_in(dir.path());
    outside.retain(|name| name != "data");
    assert!(outside.is_empty(), "{outside:?}");
    assert!(StreamReader::open(&data_dir, "../escape").is_err());
}
