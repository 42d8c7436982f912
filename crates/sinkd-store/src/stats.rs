//! [`StoreStats`]: the store's counters, shared with the metrics code.
//!
//! Writer threads accumulate counts locally and publish them once per batch
//! or tick, so the hot path does no atomic operation per line. Readers call
//! [`StoreStats::snapshot`] whenever Prometheus scrapes.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one [`crate::Store`], behind an `Arc` from
/// [`crate::Store::stats`].
#[derive(Debug, Default)]
pub struct StoreStats {
    pub(crate) lines_written: AtomicU64,
    pub(crate) bytes_written: AtomicU64,
    pub(crate) segments_rotated: AtomicU64,
    pub(crate) segments_compressed: AtomicU64,
    pub(crate) segments_deleted: AtomicU64,
    pub(crate) write_errors: AtomicU64,
    pub(crate) lines_dropped: AtomicU64,
    pub(crate) lines_dropped_disk_full: AtomicU64,
    pub(crate) torn_bytes_cut: AtomicU64,
    pub(crate) open_streams: AtomicU64,
    pub(crate) open_files: AtomicU64,
    pub(crate) fsyncs: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStatsSnapshot {
    /// Lines written to segment files (handed to the kernel).
    pub lines_written: u64,
    /// Bytes written to segment files, line feeds included.
    pub bytes_written: u64,
    /// Segments closed by size, age, or count.
    pub segments_rotated: u64,
    /// Closed segments compressed to `.log.zst`.
    pub segments_compressed: u64,
    /// Old segments deleted to honour `segment_max_count`.
    pub segments_deleted: u64,
    /// Failed file operations (write, open, create, compress, ...).
    pub write_errors: u64,
    /// Lines that were accepted but could not be written (write error,
    /// invalid stream path); every one of them is counted here.
    pub lines_dropped: u64,
    /// Lines dropped because the disk stayed full while the store was
    /// stopping (a paused writer gives up after a grace period); counted
    /// apart from `lines_dropped`. While it runs, a full disk drops nothing:
    /// the store pauses ([`crate::StoreHealth`]).
    pub lines_dropped_disk_full: u64,
    /// Bytes of torn last lines cut during recovery.
    pub torn_bytes_cut: u64,
    /// Streams the writer threads currently know (gauge).
    pub open_streams: u64,
    /// Segment files currently held open (gauge).
    pub open_files: u64,
    /// fsync, fdatasync and syncfs calls made.
    pub fsyncs: u64,
}

impl StoreStats {
    /// Reads every counter (each one atomically; the set is not a single
    /// atomic snapshot, which metrics do not need).
    pub fn snapshot(&self) -> StoreStatsSnapshot {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StoreStatsSnapshot {
            lines_written: load(&self.lines_written),
            bytes_written: load(&self.bytes_written),
            segments_rotated: load(&self.segments_rotated),
            segments_compressed: load(&self.segments_compressed),
            segments_deleted: load(&self.segments_deleted),
            write_errors: load(&self.write_errors),
            lines_dropped: load(&self.lines_dropped),
            lines_dropped_disk_full: load(&self.lines_dropped_disk_full),
            torn_bytes_cut: load(&self.torn_bytes_cut),
            open_streams: load(&self.open_streams),
            open_files: load(&self.open_files),
            fsyncs: load(&self.fsyncs),
        }
    }
}

/// Adds `value` to `counter` unless it is zero.
pub(crate) fn add(counter: &AtomicU64, value: u64) {
    if value != 0 {
        counter.fetch_add(value, Ordering::Relaxed);
    }
}

/// Subtracts `value` from the gauge `counter`.
pub(crate) fn sub(counter: &AtomicU64, value: u64) {
    if value != 0 {
        counter.fetch_sub(value, Ordering::Relaxed);
    }
}
