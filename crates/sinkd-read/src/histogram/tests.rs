//! Counting stored lines per minute and severity.

use super::*;
use crate::query::QueryText;
use jiff::tz::TimeZone;
use sinkd_store::{AppendBatch, Store, StoreConfig};

/// 2026-01-01T10:00:00Z in microseconds.
const TEN: i64 = 1_767_261_600_000_000;
const MINUTE: i64 = 60_000_000;

/// A store holding `lines` in `sw1/messages`, and a reader on it.
fn stored(lines: &[String]) -> (tempfile::TempDir, StreamReader) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let mut batch = AppendBatch::new();
    for line in lines {
        batch.push("sw1/messages", TEN, line.as_bytes());
    }
    store.writer().submit(batch).unwrap();
    store.shutdown().unwrap();
    let reader = StreamReader::open(dir.path(), "sw1/messages").unwrap();
    (dir, reader)
}

/// An RFC 5424 line of `severity` (facility user) at `at` (micros).
fn line(severity: u8, at: i64, text: &str) -> String {
    let time = jiff::Timestamp::from_microsecond(at).unwrap();
    format!("<{}>1 {time} sw1 app - - - {text}", 8 + severity)
}

fn received() -> ReceiveTime {
    ReceiveTime::new(TEN / 1_000_000 + 3600, 0, 0)
}

fn query(priority: Option<&str>, grep: Option<&str>) -> Query {
    QueryText {
        priority,
        grep,
        ..QueryText::default()
    }
    .compile(TEN, &TimeZone::UTC)
    .unwrap()
}

#[test]
fn lines_are_counted_in_their_minute_by_severity() {
    let lines = [
        line(3, TEN - 1, "before the range"),
        line(3, TEN, "link down"),
        line(3, TEN + 59_999_999, "link down"),
        line(6, TEN + 30_000_000, "link up"),
        line(4, TEN + 2 * MINUTE + 5, "fan"),
        line(0, TEN + 3 * MINUTE, "at the end: excluded"),
        String::from("no timestamp at all"),
    ];
    let (_dir, mut reader) = stored(&lines);
    let counted = per_minute(
        &mut reader,
        &query(None, None),
        &received(),
        (TEN, TEN + 3 * MINUTE),
        1000,
        &|| false,
    )
    .unwrap();
    assert_eq!(counted.first_minute, TEN / MINUTE);
    assert_eq!(
        counted.counts,
        vec![[0, 0, 0, 2, 0, 0, 1, 0], [0; 8], [0, 0, 0, 0, 1, 0, 0, 0]]
    );
    assert_eq!(counted.read, 7);
    assert!(counted.complete);
}

#[test]
fn filters_apply_and_the_lines_read_are_bounded() {
    let lines: Vec<String> = (0..10)
        .map(|i| line(if i % 2 == 0 { 3 } else { 6 }, TEN + i, "port 7 link"))
        .collect();
    let (_dir, mut reader) = stored(&lines);
    let range = (TEN, TEN + MINUTE);
    let errors = per_minute(
        &mut reader,
        &query(Some("*.err"), Some("port [0-9] link")),
        &received(),
        range,
        1000,
        &|| false,
    )
    .unwrap();
    assert_eq!(errors.counts, vec![[0, 0, 0, 5, 0, 0, 0, 0]]);
    let (_dir, mut reader) = stored(&lines);
    let cut = per_minute(
        &mut reader,
        &query(None, None),
        &received(),
        range,
        4,
        &|| false,
    )
    .unwrap();
    assert_eq!(cut.read, 4);
    assert!(!cut.complete);
    assert_eq!(cut.counts[0].iter().sum::<u64>(), 4);
}
