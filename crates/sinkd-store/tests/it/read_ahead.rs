//! Read-ahead (`StreamReader::set_read_ahead`): with closed segments
//! decompressed on helper threads, a reader returns the same lines in the
//! same order, and reports the same damage in the same order, as one
//! reading alone.

use crate::support::*;
use sinkd_store::{ReadWarning, StreamReader};
use std::path::Path;

/// Everything a reader with read-ahead `depth` returns from the start, then
/// after a few seeks, with the warnings it gave. `vanishing`, a segment
/// file, is moved away after the reader listed the segments and back once
/// it read to the end the first time (a segment deleted under it).
fn read_with(
    data_dir: &Path,
    depth: usize,
    vanishing: Option<&Path>,
) -> (Vec<(u64, String)>, Vec<ReadWarning>) {
    let mut reader = StreamReader::open(data_dir, "s").unwrap();
    reader.set_read_ahead(depth);
    assert_eq!(reader.read_ahead(), depth);
    let aside = vanishing.map(|path| path.with_extension("aside"));
    if let (Some(path), Some(aside)) = (vanishing, &aside) {
        std::fs::rename(path, aside).unwrap();
    }
    let mut lines = drain(&mut reader);
    if let (Some(path), Some(aside)) = (vanishing, &aside) {
        std::fs::rename(aside, path).unwrap();
    }
    for seq in [1u64, 333, 901] {
        reader.seek_seq(seq).unwrap();
        lines.extend(drain(&mut reader));
    }
    reader.seek_time(500_000).unwrap();
    lines.extend(drain(&mut reader));
    (lines, reader.take_warnings())
}

/// 1000 lines in segments of 700 bytes, the store shut down (so all but
/// the newest segment are compressed).
fn closed_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    indexed_lines(dir.path(), 700, 1000, |i| i * 1000)
        .shutdown()
        .unwrap();
    dir
}

#[test]
fn read_ahead_returns_the_same_lines_in_the_same_order() {
    let dir = closed_store();
    let alone = read_with(dir.path(), 0, None);
    assert!(alone.1.is_empty(), "{:?}", alone.1);
    assert!(alone.0.len() > 1000 + 1000 + 668 + 100 + 500);
    for depth in [1, 2, 3, 16] {
        assert_eq!(read_with(dir.path(), depth, None), alone, "depth {depth}");
    }
}

#[test]
fn read_ahead_reports_damage_as_a_reader_alone_does() {
    let dir = closed_store();
    let segments = StreamReader::open(dir.path(), "s")
        .unwrap()
        .segments()
        .to_vec();
    assert!(segments.len() >= 10, "{segments:?}");
    let file = |seq: u64, ext: &str| dir.path().join("s").join(format!("{seq:020}.{ext}"));
    // Cut in half, garbage from the first byte, and (in `read_with`)
    // deleted.
    let truncated = file(segments[2], "log.zst");
    cut_in_half(&truncated);
    std::fs::write(file(segments[4], "log.zst"), vec![0x5a; 300]).unwrap();
    let vanishing = file(segments[6], "log.zst");

    let alone = read_with(dir.path(), 0, Some(&vanishing));
    let named: Vec<_> = alone.1.iter().map(|warning| warning.path.clone()).collect();
    assert_eq!(
        named,
        [
            truncated,
            file(segments[4], "log.zst"),
            file(segments[6], "log")
        ],
        "{:?}",
        alone.1
    );
    for depth in [1, 2, 5] {
        assert_eq!(
            read_with(dir.path(), depth, Some(&vanishing)),
            alone,
            "depth {depth}"
        );
    }
}
