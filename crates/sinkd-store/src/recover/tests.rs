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
    // No record for offset 0: the first is due one interval (20 bytes) in.
    assert_eq!(
        index_records(dir.path(), 1),
        [IndexRecord {
            max_timestamp_micros: i64::MAX,
            seq: 3,
            offset: 22
        }]
    );
    let active = recovered.active.unwrap();
    assert_eq!(active.next_index_at, 42);
    assert!(active.index_on_disk);
}

#[test]
fn a_segment_smaller_than_one_interval_gets_no_index() {
    let dir = tempfile::tempdir().unwrap();
    let log = layout::file_path(dir.path(), 7, FileKind::Log);
    fs::write(&log, b"first\nsecond\nthird line, tor").unwrap();
    let before = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    let recovered = recover_stream(dir.path(), 64 * 1024, i64::MIN).unwrap();
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
    fs::write(
        layout::file_path(dir.path(), 1, FileKind::Log),
        b"0123456789\n0123456789\n",
    )
    .unwrap();
    // Interval 11: the second line starts exactly at it.
    let recovered = recover_stream(dir.path(), 11, 0).unwrap();
    assert_eq!(recovered.next_seq, 3);
    assert!(recovered.active.unwrap().index_on_disk);
    assert_eq!(
        index_records(dir.path(), 1),
        [IndexRecord {
            max_timestamp_micros: i64::MAX,
            seq: 2,
            offset: 11
        }]
    );
    // Interval 12: no line starts that far in, so no index.
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        layout::file_path(dir.path(), 1, FileKind::Log),
        b"0123456789\n0123456789\n",
    )
    .unwrap();
    let recovered = recover_stream(dir.path(), 12, 0).unwrap();
    assert!(!recovered.active.unwrap().index_on_disk);
    assert!(!layout::file_path(dir.path(), 1, FileKind::Index).exists());
}

#[test]
fn an_invalid_index_of_a_small_segment_is_rewritten_not_left() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(layout::file_path(dir.path(), 1, FileKind::Log), b"a\nb\n").unwrap();
    let index = layout::file_path(dir.path(), 1, FileKind::Index);
    fs::write(&index, b"not an index at all, too short?").unwrap();
    let recovered = recover_stream(dir.path(), 1000, 0).unwrap();
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
    fs::write(
        layout::file_path(dir.path(), 1, FileKind::Log),
        b"aaaa\nbbbb\ncccc\ndddd\n",
    )
    .unwrap();
    let records = [
        IndexRecord {
            max_timestamp_micros: 4,
            seq: 3,
            offset: 10,
        },
        IndexRecord {
            max_timestamp_micros: 8,
            seq: 5,
            offset: 20,
        },
    ];
    write_index_file(dir.path(), 1, &records);
    let recovered = recover_stream(dir.path(), 10, 0).unwrap();
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
