//! What the integration tests share: the test configuration, stores opened
//! on temporary directories, writing numbered lines and the lines they
//! should read back as, and looking at a stream directory.

use sinkd_store::{AppendBatch, FsyncPolicy, Store, StoreConfig, StreamReader};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tempfile::TempDir;

/// The name of a stream's first segment file and of its index.
pub(crate) const LOG_1: &str = "00000000000000000001.log";
pub(crate) const IDX_1: &str = "00000000000000000001.idx";

/// A configuration for tests: small, fast, no fsync while running.
pub(crate) fn config(data_dir: &Path) -> StoreConfig {
    StoreConfig {
        writer_threads: 2,
        flush_interval: Duration::from_millis(10),
        fsync: FsyncPolicy::Never,
        ..StoreConfig::new(data_dir)
    }
}

/// A store on `data_dir` with the test [`config`].
pub(crate) fn open(data_dir: &Path) -> Store {
    Store::open(config(data_dir)).unwrap()
}

/// A store on `data_dir` with the test [`config`] as `adjust` changes it.
pub(crate) fn open_with(data_dir: &Path, adjust: impl FnOnce(&mut StoreConfig)) -> Store {
    let mut config = config(data_dir);
    adjust(&mut config);
    Store::open(config).unwrap()
}

/// A new temporary directory and a store on it with the test [`config`];
/// the directory is removed when the first value is dropped.
pub(crate) fn temp_store() -> (TempDir, Store) {
    temp_store_with(|_| {})
}

/// [`temp_store`], with the configuration as `adjust` changes it.
pub(crate) fn temp_store_with(adjust: impl FnOnce(&mut StoreConfig)) -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with(dir.path(), adjust);
    (dir, store)
}

/// Segments of at most `bytes`, and none deleted for their number: for
/// tests that rotate.
pub(crate) fn small_segments(config: &mut StoreConfig, bytes: u64) {
    config.segment_max_bytes = bytes;
    config.segment_max_count = 0;
}

/// A store on `dir` with segments of at most `segment_bytes` and an index
/// record every 100 bytes, holding lines "line 0".."line {count-1}" of
/// stream `s`, line I stamped `timestamp(I)`; synced, still running.
pub(crate) fn indexed_lines(
    dir: &Path,
    segment_bytes: u64,
    count: i64,
    timestamp: impl Fn(i64) -> i64,
) -> Store {
    let store = open_with(dir, |config| {
        small_segments(config, segment_bytes);
        config.index_interval_bytes = 100;
    });
    let writer = store.writer();
    let mut batch = AppendBatch::new();
    for i in 0..count {
        batch.push("s", timestamp(i), format!("line {i}").as_bytes());
    }
    writer.submit(batch).unwrap();
    store.sync().unwrap();
    store
}

/// Cuts the file at `path` to half its length (a damaged segment).
pub(crate) fn cut_in_half(path: &Path) {
    let length = fs::metadata(path).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(length / 2)
        .unwrap();
}

/// A temporary directory on tmpfs when the machine has one, for tests that
/// create thousands of files.
pub(crate) fn fast_tempdir() -> TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().unwrap()
}

/// Polls `condition` every 10 ms for up to 5 s; whether it became true.
pub(crate) fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

/// Microseconds since the Unix epoch, as line timestamps count them.
pub(crate) fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// Every line of `stream`, with its sequence number.
pub(crate) fn read_all(data_dir: &Path, stream: &str) -> Vec<(u64, String)> {
    let mut reader = StreamReader::open(data_dir, stream).unwrap();
    drain(&mut reader)
}

/// Every line `reader` has now.
pub(crate) fn drain(reader: &mut StreamReader) -> Vec<(u64, String)> {
    let mut lines = Vec::new();
    while let Some((seq, line)) = reader.next_line().unwrap() {
        lines.push((seq, String::from_utf8(line.to_vec()).unwrap()));
    }
    lines
}

/// Submits `count` lines `"{prefix} {i}"` to `stream`, timestamps `i`.
pub(crate) fn write_lines(store: &Store, stream: &str, prefix: &str, range: std::ops::Range<u64>) {
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
pub(crate) fn expected(
    prefix: &str,
    seqs: std::ops::Range<u64>,
    first_i: u64,
) -> Vec<(u64, String)> {
    seqs.enumerate()
        .map(|(n, seq)| (seq, format!("{prefix} {}", first_i + n as u64)))
        .collect()
}

/// One batch of `lines` for `stream`, timestamps 0, 1, 2…
pub(crate) fn batch_of(stream: &str, lines: &[&str]) -> AppendBatch {
    let mut batch = AppendBatch::new();
    for (i, line) in lines.iter().enumerate() {
        batch.push(stream, i as i64, line.as_bytes());
    }
    batch
}

/// Names of the files in a stream directory, sorted.
pub(crate) fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}
