//! Tests of stream recovery on hand-made directories.

use super::*;

/// [`recover_stream`] on the stream directory `dir`.
fn recover_in(dir: &Path, index_interval: u64, now_micros: i64) -> Result<Recovered, StoreError> {
    let beneath = Beneath::new(dir.parent().expect("a parent")).expect("open the parent");
    recover_stream(&beneath, dir, index_interval, now_micros)
}
use crate::layout::decode_index;
use std::path::PathBuf;

fn write_index_file(dir: &Path, first_seq: u64, records: &[IndexRecord]) {
    let mut bytes = IndexHeader {
        first_seq,
        created_micros: 123,
        message_time: true,
    }
    .encode()
    .to_vec();
    for record in records {
        bytes.extend_from_slice(&record.encode());
    }
    fs::write(layout::file_path(dir, first_seq, FileKind::Index), bytes).unwrap();
}

/// Writes the text of segment `first_seq` as its `.log`; returns its path.
fn write_log(dir: &Path, first_seq: u64, text: &[u8]) -> PathBuf {
    let path = layout::file_path(dir, first_seq, FileKind::Log);
    fs::write(&path, text).unwrap();
    path
}

const fn record(max_timestamp_micros: i64, seq: u64, offset: u64) -> IndexRecord {
    IndexRecord {
        max_timestamp_micros,
        seq,
        offset,
    }
}

fn index_records(dir: &Path, first_seq: u64) -> Vec<IndexRecord> {
    let bytes = fs::read(layout::file_path(dir, first_seq, FileKind::Index)).unwrap();
    decode_index(&bytes, first_seq).unwrap().1
}

#[test]
fn empty_directory_starts_at_one() {
    let dir = tempfile::tempdir().unwrap();
    let recovered = recover_in(dir.path(), 64, 0).unwrap();
    assert_eq!(recovered.next_seq, 1);
    assert!(recovered.active.is_none() && recovered.segments.is_empty());
}

#[test]
fn cuts_a_torn_line_and_trims_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(dir.path(), 5, b"aaaa\nbbbb\ncccc\ntorn-garb");
    write_index_file(
        dir.path(),
        5,
        &[
            record(10, 5, 0),
            record(20, 7, 10),
            // Points into the torn tail: must go.
            record(30, 8, 17),
        ],
    );
    let recovered = recover_in(dir.path(), 8, 0).unwrap();
    assert_eq!(recovered.torn_bytes, 9);
    assert_eq!(recovered.next_seq, 8);
    assert_eq!(fs::read(&log).unwrap(), b"aaaa\nbbbb\ncccc\n");
    let active = recovered.active.unwrap();
    assert_eq!(active.size, 15);
    assert_eq!(active.created_micros, 123);
    // Line 7 started at offset 10 but lines after it are not covered.
    assert_eq!(active.running_max, i64::MAX);
    assert_eq!(
        index_records(dir.path(), 5),
        [record(10, 5, 0), record(20, 7, 10)]
    );
}

#[test]
fn rebuilds_a_missing_index() {
    let dir = tempfile::tempdir().unwrap();
    write_log(
        dir.path(),
        1,
        b"0123456789\n0123456789\n0123456789\n0123456789\n",
    );
    let recovered = recover_in(dir.path(), 20, 0).unwrap();
    assert_eq!(recovered.next_seq, 5);
    // No record for offset 0: the first is due one interval (20 bytes) in.
    assert_eq!(index_records(dir.path(), 1), [record(i64::MAX, 3, 22)]);
    let active = recovered.active.unwrap();
    assert_eq!(active.next_index_at, 42);
    assert!(active.index_on_disk);
}

#[test]
fn a_segment_smaller_than_one_interval_gets_no_index() {
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(dir.path(), 7, b"first\nsecond\nthird line, tor");
    let before = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    let recovered = recover_in(dir.path(), 64 * 1024, i64::MIN).unwrap();
    assert_eq!(recovered.next_seq, 9);
    assert_eq!(recovered.torn_bytes, 15);
    assert_eq!(fs::read(&log).unwrap(), b"first\nsecond\n");
    let active = recovered.active.unwrap();
    assert_eq!(active.size, 13);
    assert!(!active.index_on_disk);
    assert_eq!(active.last_index_offset, None);
    assert_eq!(active.next_index_at, 64 * 1024);
    // Lines written before the restart have unknown timestamps.
    assert_eq!(active.running_max, i64::MAX);
    // The creation time comes from the file (written a moment ago), not
    // from the `now` passed in.
    assert!(
        (active.created_micros - before).abs() < 60_000_000,
        "{} vs {before}",
        active.created_micros
    );
    assert!(!layout::file_path(dir.path(), 7, FileKind::Index).exists());
}

#[test]
fn a_line_starting_one_interval_in_creates_the_index() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 1, b"0123456789\n0123456789\n");
    // Interval 11: the second line starts exactly at it.
    let recovered = recover_in(dir.path(), 11, 0).unwrap();
    assert_eq!(recovered.next_seq, 3);
    assert!(recovered.active.unwrap().index_on_disk);
    assert_eq!(index_records(dir.path(), 1), [record(i64::MAX, 2, 11)]);
    // Interval 12: no line starts that far in, so no index.
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 1, b"0123456789\n0123456789\n");
    let recovered = recover_in(dir.path(), 12, 0).unwrap();
    assert!(!recovered.active.unwrap().index_on_disk);
    assert!(!layout::file_path(dir.path(), 1, FileKind::Index).exists());
}

#[test]
fn an_invalid_index_of_a_small_segment_is_rewritten_not_left() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 1, b"a\nb\n");
    let index = layout::file_path(dir.path(), 1, FileKind::Index);
    fs::write(&index, b"not an index at all, too short?").unwrap();
    let recovered = recover_in(dir.path(), 1000, 0).unwrap();
    assert_eq!(recovered.next_seq, 3);
    assert!(recovered.active.unwrap().index_on_disk);
    let bytes = fs::read(&index).unwrap();
    let (header, records) = decode_index(&bytes, 1).unwrap();
    assert_eq!(header.first_seq, 1);
    assert!(records.is_empty());
}

#[test]
fn an_index_with_only_records_past_the_first_interval_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 1, b"aaaa\nbbbb\ncccc\ndddd\n");
    let records = [record(4, 3, 10), record(8, 5, 20)];
    write_index_file(dir.path(), 1, &records);
    let recovered = recover_in(dir.path(), 10, 0).unwrap();
    assert_eq!(recovered.next_seq, 5);
    let active = recovered.active.unwrap();
    // A clean shutdown's end record: the running maximum survives.
    assert_eq!(active.running_max, 8);
    assert_eq!(active.created_micros, 123);
    assert_eq!(active.next_index_at, 30);
    assert_eq!(index_records(dir.path(), 1), records);
}

#[test]
fn a_checkpoint_record_at_the_end_keeps_the_running_max() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 1, b"a\nb\n");
    write_index_file(dir.path(), 1, &[record(3, 1, 0), record(9, 3, 4)]);
    let recovered = recover_in(dir.path(), 1000, 0).unwrap();
    assert_eq!(recovered.next_seq, 3);
    assert_eq!(recovered.active.unwrap().running_max, 9);
}

#[test]
fn finds_closed_logs_and_continues_after_a_compressed_newest_segment() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 1, b"a\nb\n");
    let compressed = zstd::encode_all(&b"c\nd\ne\n"[..], 1).unwrap();
    fs::write(layout::file_path(dir.path(), 3, FileKind::Zst), compressed).unwrap();
    // An index left behind by an interrupted deletion.
    write_index_file(dir.path(), 0, &[]);
    let recovered = recover_in(dir.path(), 1000, 0).unwrap();
    assert_eq!(recovered.next_seq, 6);
    assert!(recovered.active.is_none());
    assert_eq!(recovered.closed_logs, [1]);
    assert_eq!(recovered.segments, [1, 3]);
    assert!(!layout::file_path(dir.path(), 0, FileKind::Index).exists());
}
