//! The spool round-trips any bytes, resumes after its cursor (reopened, or
//! handed to a restarted relay), deletes what is acknowledged, and applies
//! both overflow policies with exact counts.

use super::{escape, unescape, Spool};
use crate::batch::RelayBatch;
use crate::config::{Overflow, RelayConfig, RelayTransport};
use std::time::{Duration, Instant};

fn config(dir: &std::path::Path, queue_disk: u64, overflow: Overflow) -> RelayConfig {
    let mut config = RelayConfig::new("central", RelayTransport::Tcp, "127.0.0.1", 514, dir);
    config.queue_disk = queue_disk;
    config.overflow = overflow;
    config
}

/// Messages `<13>message NNNNNNNN` padded to `width` with printable noise
/// that zstd cannot shrink much.
fn batch_of(range: std::ops::Range<u32>, width: usize) -> RelayBatch {
    let mut batch = RelayBatch::new();
    for index in range {
        let mut message = format!("<13>message {index:08} ").into_bytes();
        let mut state = u64::from(index).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        while message.len() < width {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            message.push(b'!' + (state % 90) as u8);
        }
        batch.push(&message);
    }
    batch
}

/// Reads everything the spool hands out, waiting for the writer thread.
fn read_all(spool: &mut Spool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while spool.unread() > 0 && Instant::now() < deadline {
        let mut batch = RelayBatch::new();
        let read = spool.read_into(&mut batch, 100, 1 << 20);
        assert_eq!(read.lost, 0);
        if batch.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        out.extend(batch.iter().map(<[u8]>::to_vec));
    }
    out
}

#[test]
fn escaping_round_trips_every_byte() {
    let message: Vec<u8> = (0u8..=255).chain(*b"\\n\\\\\n\r\\").collect();
    let mut line = Vec::new();
    escape(&message, &mut line);
    assert!(!line.contains(&b'\n') && !line.contains(&b'\r'));
    let mut back = Vec::new();
    unescape(&line, &mut back);
    assert_eq!(back, message);
    let mut odd = Vec::new();
    unescape(b"a\\qb\\", &mut odd);
    assert_eq!(odd, b"a\\qb\\");
}

#[test]
fn resumes_after_the_cursor_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 1 << 30, Overflow::DropOldest);
    let mut spool = Spool::open(&config).unwrap();
    let mut tricky = RelayBatch::new();
    tricky.push(b"<13>line one\nline two\\end\r");
    assert_eq!(spool.append(&tricky).seqs, Some((1, 1)));
    assert_eq!(spool.append(&batch_of(0..10, 0)).seqs, Some((2, 11)));
    let read = read_all(&mut spool);
    assert_eq!(read.len(), 11);
    assert_eq!(read[0], b"<13>line one\nline two\\end\r");
    spool.ack(4);
    spool.maintain(Instant::now());
    spool.close().unwrap();

    let mut spool = Spool::open(&config).unwrap();
    assert_eq!(spool.acked(), 4);
    assert_eq!(spool.unread(), 7);
    let read = read_all(&mut spool);
    assert_eq!(read.first().unwrap(), b"<13>message 00000003 ");
    assert_eq!(read.last().unwrap(), b"<13>message 00000009 ");
    assert_eq!(spool.append(&batch_of(10..12, 0)).seqs, Some((12, 13)));
    spool.close().unwrap();
}

#[test]
fn a_handed_over_spool_resumes_after_the_cursor_with_new_limits() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(&config(dir.path(), 1 << 30, Overflow::DropOldest)).unwrap();
    assert_eq!(spool.append(&batch_of(0..10, 0)).seqs, Some((1, 10)));
    assert_eq!(read_all(&mut spool).len(), 10);
    spool.ack(4);

    // Only the overflow policy changes: the store stays open.
    spool.resume(&config(dir.path(), 1 << 30, Overflow::RefuseNew));
    assert_eq!(spool.overflow, Overflow::RefuseNew);
    assert_eq!(spool.unread(), 6);
    let read = read_all(&mut spool);
    assert_eq!(read.first().unwrap(), b"<13>message 00000004 ");
    assert_eq!(read.len(), 6);

    // A smaller queue_disk means smaller segments: the store reopens in
    // place, numbering and cursor intact.
    spool.ack(6);
    spool.resume(&config(dir.path(), 512 * 1024, Overflow::DropOldest));
    assert_eq!(spool.max_bytes, 512 * 1024);
    let segment_max_bytes = spool.store.as_ref().unwrap().config().segment_max_bytes;
    assert_eq!(segment_max_bytes, 64 * 1024);
    assert_eq!(spool.acked(), 6);
    assert_eq!(read_all(&mut spool).len(), 4);
    assert_eq!(spool.append(&batch_of(10..12, 0)).seqs, Some((11, 12)));
    assert_eq!(read_all(&mut spool).len(), 2);
    spool.close().unwrap();

    let mut spool = Spool::open(&config(dir.path(), 512 * 1024, Overflow::DropOldest)).unwrap();
    assert_eq!(spool.acked(), 6);
    let read = read_all(&mut spool);
    assert_eq!(read.len(), 6);
    assert_eq!(read.last().unwrap(), b"<13>message 00000011 ");
    spool.close().unwrap();
}

#[test]
fn refuse_new_keeps_the_old_and_counts_the_new() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 512 * 1024, Overflow::RefuseNew);
    let mut spool = Spool::open(&config).unwrap();
    let mut accepted = 0u64;
    let mut refused = 0u64;
    for round in 0..40u32 {
        let outcome = spool.append(&batch_of(round * 100..round * 100 + 100, 200));
        assert_eq!(outcome.dropped_old, 0);
        refused += outcome.refused;
        if outcome.seqs.is_some() {
            accepted += 100;
        }
        spool.maintain(Instant::now() + Duration::from_secs(u64::from(round) + 2));
    }
    assert!(refused > 0, "a 512K spool cannot take 800K");
    assert_eq!(accepted + refused, 4000);
    let read = read_all(&mut spool);
    assert_eq!(read.len() as u64, accepted);
    assert_eq!(&read[0][..20], b"<13>message 00000000");
    spool.close().unwrap();
}

#[test]
fn drop_oldest_keeps_the_new_and_counts_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 512 * 1024, Overflow::DropOldest);
    let mut spool = Spool::open(&config).unwrap();
    let mut dropped = 0u64;
    for round in 0..40u32 {
        let outcome = spool.append(&batch_of(round * 100..round * 100 + 100, 200));
        assert_eq!(outcome.refused, 0);
        assert!(outcome.seqs.is_some());
        dropped += outcome.dropped_old;
        // Let the writer catch up so rotation (and so deletion) happens.
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(dropped > 0, "a 512K spool cannot keep 800K");
    let read = read_all(&mut spool);
    assert_eq!(read.len() as u64 + dropped, 4000);
    assert_eq!(&read.last().unwrap()[..20], b"<13>message 00003999");
    assert!(spool.disk_bytes() <= 512 * 1024 + 64 * 1024);
    spool.close().unwrap();
}

#[test]
fn acknowledged_segments_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 1 << 20, Overflow::DropOldest);
    let mut spool = Spool::open(&config).unwrap();
    for round in 0..10u32 {
        spool.append(&batch_of(round * 100..round * 100 + 100, 200));
        std::thread::sleep(Duration::from_millis(25));
    }
    let read = read_all(&mut spool);
    assert_eq!(read.len(), 1000);
    let before = spool.disk_bytes();
    spool.ack(1000);
    spool.maintain(Instant::now() + Duration::from_secs(5));
    assert!(
        spool.disk_bytes() < before / 2,
        "{} of {before} bytes left",
        spool.disk_bytes()
    );
    assert_eq!(spool.unacked(), 0);
    spool.close().unwrap();
}

#[test]
fn a_spool_path_through_a_link_is_refused() {
    let data_dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), data_dir.path().join(".relay")).unwrap();
    let config = config(data_dir.path(), 1 << 20, Overflow::DropOldest);
    assert!(config.spool_dir.starts_with(data_dir.path().join(".relay")));
    let error = Spool::open(&config).err().expect("refused");
    assert!(error.to_string().contains("symbolic link"), "{error}");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}
