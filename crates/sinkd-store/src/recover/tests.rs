//! Tests of stream recovery on hand-made directories.

use super::*;
use crate::layout::decode_index;

fn write_index_file(dir: &Path, first_seq: u64, records: &[IndexRecord]) {
    let mut bytes = IndexHeader {
        first_seq,
        created_micros: 123,
    }
    .encode()
    .to_vec();
    for record in records {
        bytes.extend_from_slice(&record.encode());
    }
    fs::write(layout::file_path(dir, first_seq, FileKind::Index), bytes).unwrap();
}

fn index_records(dir: &Path, first_seq: u64) -> Vec<IndexRecord> {
    let bytes = fs::read(layout::file_path(dir, first_seq, FileKind::Index)).unwrap();
    decode_index(&bytes, first_seq).unwrap().1
}

#[test]
fn empty_directory_starts_at_one() {
    let dir = tempfile::tempdir().unwrap();
    let recovered = recover_stream(dir.path(), 64, 0).unwrap();
    assert_eq!(recovered.next_seq, 1);
    assert!(recovered.active.is_none() && recovered.segments.is_empty());
}

#[test]
fn cuts_a_torn_line_and_trims_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let log = layout::file_path(dir.path(), 5, FileKind::Log);
    fs::write(&log, b"aaaa\nbbbb\ncccc\ntorn-garb").unwrap();
    write_index_file(
        dir.path(),
        5,
        &[
            IndexRecord {
                max_timestamp_micros: 10,
                seq: 5,
                offset: 0,
            },
            IndexRecord {
                max_timestamp_micros: 20,
                seq: 7,
                offset: 10,
            },
            // Points into the torn tail: must go.
            IndexRecord {
                max_timestamp_micros: 30,
                seq: 8,
                offset: 17,
            },
        ],
    );
    let recovered = recover_stream(dir.path(), 8, 0).unwrap();
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
        [
            IndexRecord {
                max_timestamp_micros: 10,
                seq: 5,
                offset: 0
            },
            IndexRecord {
                max_timestamp_micros: 20,
                seq: 7,
                offset: 10
            },
        ]
    );
}

#[test]
fn rebuilds_a_missing_index() {
    let dir = tempfile::tempdir().unwrap();
    let log = layout::file_path(dir.path(), 1, FileKind::Log);
    fs::write(&log, b"0123456789\n0123456789\n0123456789\n0123456789\n").unwrap();
    let recovered = recover_stream(dir.path(), 20, 0).unwrap();
    assert_eq!(recovered.next_seq, 5);
    assert_eq!(
        index_records(dir.path(), 1),
        [
            IndexRecord {
                max_timestamp_micros: i64::MAX,
                seq: 1,
                offset: 0
            },
            IndexRecord {
                max_timestamp_micros: i64::MAX,
                seq: 3,
                offset: 22
            },
        ]
    );
    assert_eq!(recovered.active.unwrap().next_index_at, 42);
}

#[test]
fn a_checkpoint_record_at_the_end_keeps_the_running_max() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(layout::file_path(dir.path(), 1, FileKind::Log), b"a\nb\n").unwrap();
    write_index_file(
        dir.path(),
        1,
        &[
            IndexRecord {
                max_timestamp_micros: 3,
                seq: 1,
                offset: 0,
            },
            IndexRecord {
                max_timestamp_micros: 9,
                seq: 3,
                offset: 4,
            },
        ],
    );
    let recovered = recover_stream(dir.path(), 1000, 0).unwrap();
    assert_eq!(recovered.next_seq, 3);
    assert_eq!(recovered.active.unwrap().running_max, 9);
}

#[test]
fn finds_closed_logs_and_continues_after_a_compressed_newest_segment() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(layout::file_path(dir.path(), 1, FileKind::Log), b"a\nb\n").unwrap();
    let compressed = zstd::encode_all(&b"c\nd\ne\n"[..], 1).unwrap();
    fs::write(layout::file_path(dir.path(), 3, FileKind::Zst), compressed).unwrap();
    // An index left behind by an interrupted deletion.
    write_index_file(dir.path(), 0, &[]);
    let recovered = recover_stream(dir.path(), 1000, 0).unwrap();
    assert_eq!(recovered.next_seq, 6);
    assert!(recovered.active.is_none());
    assert_eq!(recovered.closed_logs, [1]);
    assert_eq!(recovered.segments, [1, 3]);
    assert!(!layout::file_path(dir.path(), 0, FileKind::Index).exists());
}
