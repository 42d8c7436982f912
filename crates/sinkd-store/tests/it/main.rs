//! Integration tests for sinkd-store: a real store on a temporary
//! directory, written through the public API and read back with
//! [`StreamReader`]. Each module covers one concern; helpers live here.

mod errors;
mod index;
mod read;
mod recovery;
mod rotation;
mod write;

use sinkd_store::{AppendBatch, FsyncPolicy, Store, StoreConfig, StreamReader};
use std::path::Path;
use std::time::Duration;

/// A configuration for tests: small, fast, no fsync while running.
fn config(data_dir: &Path) -> StoreConfig {
    StoreConfig {
        writer_threads: 2,
        flush_interval: Duration::from_millis(10),
        fsync: FsyncPolicy::Never,
        ..StoreConfig::new(data_dir)
    }
}

/// A temporary directory on tmpfs when the machine has one, for tests that
/// create thousands of files.
fn fast_tempdir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().unwrap()
}

/// Polls `condition` every 10 ms for up to 5 s; whether it became true.
fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

/// Every line of `stream`, with its sequence number.
fn read_all(data_dir: &Path, stream: &str) -> Vec<(u64, String)> {
    let mut reader = StreamReader::open(data_dir, stream).unwrap();
    drain(&mut reader)
}

/// Every line `reader` has now.
fn drain(reader: &mut StreamReader) -> Vec<(u64, String)> {
    let mut lines = Vec::new();
    while let Some((seq, line)) = reader.next_line().unwrap() {
        lines.push((seq, String::from_utf8(line.to_vec()).unwrap()));
    }
    lines
}

/// Submits `count` lines `"{prefix} {i}"` to `stream`, timestamps `i`.
fn write_lines(store: &Store, stream: &str, prefix: &str, range: std::ops::Range<u64>) {
    let writer = store.writer();
    let mut batch = writer.batch();
    for i in range {
        batch.push_with(stream, i as i64, |arena| {
            use std::io::Write;
            write!(arena, "{prefix} {i}").unwrap();
        });
        if batch.len() == 100 {
            writer.submit(std::mem::take(&mut batch)).unwrap();
        }
    }
    if !batch.is_empty() {
        writer.submit(batch).unwrap();
    }
}

/// Expected `(seq, line)` pairs for lines written by [`write_lines`].
fn expected(prefix: &str, seqs: std::ops::Range<u64>, first_i: u64) -> Vec<(u64, String)> {
    seqs.enumerate()
        .map(|(n, seq)| (seq, format!("{prefix} {}", first_i + n as u64)))
        .collect()
}

/// Names of the files in a stream directory, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn batch_of(stream: &str, lines: &[&str]) -> AppendBatch {
    let mut batch = AppendBatch::new();
    for (i, line) in lines.iter().enumerate() {
        batch.push(stream, i as i64, line.as_bytes());
    }
    batch
}
