//! The store's configuration: where segments live, when they rotate, how
//! often data reaches the disk, and how much memory and how many file
//! descriptors the writer threads may use.
//!
//! [`StoreConfig`] is a plain struct with a [`Default`] that matches the
//! device's `external-logging 10M 10`. This crate owns those defaults:
//! `sinkd-config` reads the `[storage]` table straight into a `StoreConfig`
//! that starts from them, and [`crate::Store::open`] resolves what is left
//! to sinkd (0 writer threads or open files) and validates it once.

use std::path::PathBuf;
use std::time::Duration;

/// When written data is forced to stable storage with `fsync`.
///
/// Whatever the policy, [`crate::Store::shutdown`] and [`crate::Store::sync`]
/// flush and fsync everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every submitted batch has been written. Safest and slowest:
    /// each batch costs at least one fsync.
    EveryBatch,
    /// At most once per interval, for the files written since the last sync.
    Interval(Duration),
    /// Never while running (the kernel writes back on its own schedule);
    /// only at shutdown.
    Never,
}

/// A callback for [`StoreConfig::on_write`].
#[derive(Clone)]
pub struct WriteObserver(pub std::sync::Arc<dyn Fn(Duration) + Send + Sync>);

/// Two observers are equal when they are the same callback.
impl PartialEq for WriteObserver {
    fn eq(&self, other: &WriteObserver) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for WriteObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteObserver")
    }
}

/// How much free space the store leaves on the filesystem of `data_dir`:
/// below it the writers stop writing, as on a full disk, so sinkd never
/// takes the last bytes the rest of the system needs.
///
/// Either limit may be set; with both, the smaller applies. The default is
/// 1% of the filesystem or 100 MiB, whichever is smaller (on a 30 MB
/// filesystem about 300 KB, on anything past 10 GiB 100 MiB). `bytes:
/// Some(0)` turns the check off: the writers then stop only when a write
/// fails for lack of space.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MinFree {
    /// An absolute amount of bytes.
    pub bytes: Option<u64>,
    /// A share of the filesystem's size, in per cent (0 to 100).
    pub percent: Option<f64>,
}

impl MinFree {
    /// The default's byte limit.
    pub const DEFAULT_BYTES: u64 = 100 * 1024 * 1024;
    /// The default's share, in per cent.
    pub const DEFAULT_PERCENT: f64 = 1.0;

    /// Exactly `bytes` bytes (0 turns the check off).
    pub fn bytes(bytes: u64) -> MinFree {
        MinFree {
            bytes: Some(bytes),
            percent: None,
        }
    }

    /// `percent` per cent of the filesystem.
    pub fn percent(percent: f64) -> MinFree {
        MinFree {
            bytes: None,
            percent: Some(percent),
        }
    }

    /// The free bytes to keep on a filesystem of `total` bytes.
    pub fn threshold(&self, total: u64) -> u64 {
        let share = self
            .percent
            .map(|percent| (total as f64 * percent.clamp(0.0, 100.0) / 100.0) as u64);
        match (self.bytes, share) {
            (Some(bytes), Some(share)) => bytes.min(share),
            (Some(bytes), None) => bytes,
            (None, Some(share)) => share,
            (None, None) => 0,
        }
    }

    /// Whether the check is off (a limit of zero).
    pub fn is_off(&self) -> bool {
        self.bytes == Some(0) || self.percent == Some(0.0)
    }
}

impl Default for MinFree {
    fn default() -> MinFree {
        MinFree {
            bytes: Some(MinFree::DEFAULT_BYTES),
            percent: Some(MinFree::DEFAULT_PERCENT),
        }
    }
}

/// Free and total bytes of the filesystem under a path, or `None` when
/// they cannot be read.
pub type SpaceFn = dyn Fn(&std::path::Path) -> Option<(u64, u64)> + Send + Sync;

/// Where the writers learn the free and total bytes of the filesystem
/// under a path ([`StoreConfig::space_probe`]).
#[derive(Clone)]
pub struct SpaceProbe(pub std::sync::Arc<SpaceFn>);

/// Two probes are equal when they are the same callback.
impl PartialEq for SpaceProbe {
    fn eq(&self, other: &SpaceProbe) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for SpaceProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpaceProbe")
    }
}

/// Configuration of a [`crate::Store`].
///
/// The default keeps 10 segments of 10 MiB per stream (the device's
/// `external-logging 10M 10`), fsyncs once a second and flushes every second.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreConfig {
    /// Root of all streams. Every file the store creates lies below it.
    pub data_dir: PathBuf,
    /// A segment is closed when the next line would take it past this size
    /// (uncompressed bytes). A single longer line gets a segment of its own.
    pub segment_max_bytes: u64,
    /// Segments kept per stream, the active one included; the oldest are
    /// deleted beyond it. 0 keeps everything.
    pub segment_max_count: usize,
    /// A non-empty segment older than this (wall clock since it was created)
    /// is closed, even when the stream is idle, so old data gets compressed.
    pub segment_max_age: Option<Duration>,
    /// A stream that has taken no line for this long is forgotten: its
    /// file is closed and its state (a few hundred bytes) let go, and its
    /// next line recovers it from disk. `None` keeps every stream written
    /// since start. A stream whose active segment waits for `segment_max_age`
    /// is kept until that segment is closed.
    pub stream_idle_timeout: Option<Duration>,
    /// When written data is fsynced.
    pub fsync: FsyncPolicy,
    /// Writer threads; each stream belongs to exactly one of them, so lines
    /// of one stream stay in order. 0 (the default) takes one for every two
    /// workers feeding the store ([`StoreConfig::resolved`]).
    pub writer_threads: usize,
    /// Compressor threads (zstd for closed segments, deletions beyond
    /// `segment_max_count`). 0 (the default) takes one per writer thread:
    /// compressing a segment costs about as much CPU per line as writing
    /// it, so a store that writes on many cores compresses on as many.
    /// Writer `i` hands its segments to compressor `i % compress_threads`.
    pub compress_threads: usize,
    /// Longest time a line waits in a writer's memory before it is written.
    pub flush_interval: Duration,
    /// Told, after each write of a stream's buffer, how long ago the oldest
    /// line in it was received (`received_micros` of
    /// `AppendBatch::push_received_with`, the timestamp of `push`); the
    /// collector feeds its receive-to-written latency histogram from it. Called on a writer thread:
    /// it must be cheap and must not block.
    pub on_write: Option<WriteObserver>,
    /// Everything buffered is written as soon as the input has paused this
    /// long, ahead of `flush_interval`, so the tail of a burst reaches the
    /// disk at once. `Duration::ZERO` leaves writing to the interval.
    pub quiet_flush: Duration,
    /// Memory budget for lines waiting to be written, across all streams and
    /// writer threads; beyond it the largest buffers are written first.
    pub max_buffered_bytes: usize,
    /// File descriptors the writers keep open (shared out between writer
    /// threads); other streams reopen their file when they next write.
    /// 0 (the default) takes half the process's descriptor limit (the other
    /// half is for connections), from 64 to 262,144: reopening files is
    /// what makes many devices slow, so this is as many as can be spared.
    /// A setting above what the limit allows ([`files_allowed`]) is
    /// lowered to it by [`StoreConfig::resolved`].
    pub max_open_files: usize,
    /// zstd level for closed segments.
    pub compression_level: i32,
    /// Batches that may wait in each writer thread's queue before
    /// [`crate::StoreWriter::submit`] blocks (and `try_submit` refuses).
    pub queue_batches: usize,
    /// Uncompressed bytes between two records of the sparse time index.
    pub index_interval_bytes: u64,
    /// Free space under `data_dir` below which the writers pause, as on a
    /// full disk (they hold their lines and stop taking batches until
    /// space returns).
    pub min_free: MinFree,
    /// What lack of space (ENOSPC, EDQUOT, or a write that would go below
    /// `min_free`) does: `true` (the default) pauses the writers, which
    /// hold their lines and stop taking batches until space returns;
    /// `false` fails the stream as any write error does, its buffered lines
    /// counted in `lines_dropped`. A relay's spool takes `false`: its
    /// thread also sends, and must not stop for its disk.
    pub pause_when_full: bool,
    /// Reads the free and total bytes of `data_dir`'s filesystem; `None`
    /// (the default) asks the kernel (`statvfs`). Tests stand in a disk
    /// that fills and empties.
    pub space_probe: Option<SpaceProbe>,
}

impl StoreConfig {
    /// The defaults, with `data_dir` set.
    pub fn new(data_dir: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            data_dir: data_dir.into(),
            ..StoreConfig::default()
        }
    }
}

impl StoreConfig {
    /// This configuration with the settings left to sinkd (0) chosen for
    /// this process: a writer thread for every two of the `n_workers`
    /// threads that submit batches, open files from the descriptor limit
    /// (`RLIMIT_NOFILE`, soft). [`crate::Store::open`] resolves what is
    /// still 0 as if there were one worker per CPU.
    pub fn resolved(&self, n_workers: usize) -> StoreConfig {
        let mut config = self.clone();
        if config.writer_threads == 0 {
            config.writer_threads = n_workers.div_ceil(2).max(1);
        }
        if config.compress_threads == 0 {
            config.compress_threads = config.writer_threads;
        }
        let limit = crate::sys::open_file_limit();
        if config.max_open_files == 0 {
            config.max_open_files = (limit / 2).clamp(64, 262_144) as usize;
        } else {
            config.max_open_files = config.max_open_files.min(files_allowed(limit));
        }
        config
    }
}

/// The most segment files the store may keep open under a descriptor
/// limit of `limit`: what is left after a reserve for connections, the
/// listeners, the relays and the reader (a quarter of the limit, at least
/// 1,024), never under 64. A `max_open_files` above it would make opens
/// and accepts fail with EMFILE once the fleet is large enough.
pub fn files_allowed(limit: u64) -> usize {
    let reserve = (limit / 4).max(1024);
    usize::try_from(limit.saturating_sub(reserve).max(64)).unwrap_or(usize::MAX)
}

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig {
            data_dir: PathBuf::from("sinkd-data"),
            segment_max_bytes: 10 * 1024 * 1024,
            segment_max_count: 10,
            segment_max_age: None,
            stream_idle_timeout: Some(Duration::from_secs(300)),
            fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
            writer_threads: 0,
            compress_threads: 0,
            flush_interval: Duration::from_secs(1),
            quiet_flush: Duration::from_millis(20),
            on_write: None,
            max_buffered_bytes: 32 * 1024 * 1024,
            max_open_files: 0,
            compression_level: 3,
            queue_batches: 64,
            index_interval_bytes: 64 * 1024,
            min_free: MinFree::default(),
            pause_when_full: true,
            space_probe: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_allowed_leaves_a_reserve_for_connections() {
        assert_eq!(files_allowed(20_000), 15_000);
        assert_eq!(files_allowed(4096), 3072);
        assert_eq!(files_allowed(1024), 64);
        assert_eq!(files_allowed(1_048_576), 786_432);
    }

    #[test]
    fn a_max_open_files_past_the_limit_is_lowered() {
        let limit = crate::sys::open_file_limit();
        let asked = StoreConfig {
            max_open_files: usize::try_from(limit)
                .unwrap_or(usize::MAX)
                .saturating_add(100_000),
            ..StoreConfig::default()
        };
        assert_eq!(asked.resolved(2).max_open_files, files_allowed(limit));
        let modest = StoreConfig {
            max_open_files: 64,
            ..StoreConfig::default()
        };
        assert_eq!(modest.resolved(2).max_open_files, 64);
    }
}
