//! The writer threads: where lines become bytes in segment files.
//!
//! [`crate::Store`] starts `writer_threads` of these. Each owns a disjoint
//! set of streams (chosen by hash of the stream path in
//! [`crate::StoreWriter::submit`]), so it needs no lock: per stream it keeps
//! the next sequence number, the active segment's size and index state, and
//! an in-memory buffer of lines not yet written.
//!
//! This file holds the thread's state ([`Writer`], a `Stream` per stream)
//! and its loop: batches, sync requests and shutdown from the queue, and a
//! tick for what is due by time. The work itself is split by concern:
//!
//! - [`intake`]: a batch's stream paths resolved to ids, with the state of
//!   the streams a few lines ahead prefetched, and each line appended.
//! - [`append`]: appending and rotation. A line goes into its stream's
//!   buffer; segments are created, rotated by size and age, deleted beyond
//!   the count, and handed to the compressor once closed. (Appending and
//!   rotating live here, not in [`crate::segment`], which only reads a
//!   stream directory.)
//! - [`flush`]: when a stream's buffer is written to its segment file (one
//!   `writev`), and the cache of open segment files.
//! - [`index`]: the lazy sparse index of the active segment.
//! - [`sync`]: fsync bookkeeping, which written files are not yet durable
//!   and who makes them so under each fsync policy.
//!
//! A failed write never panics and never stops the thread: the stream's
//! buffered lines are counted as dropped, the error is counted and logged
//! at a limited rate, and the stream is recovered from disk (its sequence
//! continuing from what really reached the file) on its next line after a
//! short pause.

mod append;
mod flush;
mod index;
mod intake;
mod sync;

use crate::batch::AppendBatch;
use crate::beneath::Beneath;
use crate::chunks::{ChunkBuf, ChunkPool};
use crate::compress::CompressJob;
use crate::config::{FsyncPolicy, StoreConfig};
use crate::error::StoreError;
use crate::fdcache::FileCache;
use crate::key::StreamIds;
use crate::layout::IndexRecord;
use crate::stats::{self, StoreStats};
use crate::syncer::{SyncJob, SyncWork};
use crate::sys;
use crate::warnings::WarnLimit;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a stream whose write failed refuses lines before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// How often idle streams are checked for rotation by age.
const AGE_CHECK_EVERY: Duration = Duration::from_secs(1);

/// How often the chunk pool gives back slabs the buffers no longer need;
/// each trim keeps what the busiest moment since the previous one used, so
/// a slab goes back after one to two of these intervals without use. A
/// pause between bursts shorter than that keeps the memory: released at
/// once, the next burst faulted it in again, each page zeroed by the
/// kernel (at 10,000 devices ~32 MiB, a few per cent of a 1M-message run's
/// CPU).
const SLAB_TRIM_EVERY: Duration = Duration::from_secs(5);

/// A message to a writer thread.
pub(crate) enum WriterMsg {
    /// Lines to append.
    Batch(AppendBatch),
    /// Write and fsync everything, hand queued jobs to the compressor, then
    /// answer.
    Sync(Sender<Result<(), StoreError>>),
    /// Drain the queue, write and fsync everything, exit.
    Shutdown,
}

/// What a writer thread shares with the rest of the store.
pub(crate) struct WriterShared {
    pub(crate) config: StoreConfig,
    /// `data_dir`, through which every file is opened without following
    /// links.
    pub(crate) beneath: Arc<Beneath>,
    pub(crate) stats: Arc<StoreStats>,
    pub(crate) compress_tx: Sender<CompressJob>,
    pub(crate) recycle_tx: Sender<AppendBatch>,
    /// The sync thread, under `FsyncPolicy::Interval`.
    pub(crate) sync_tx: Option<Sender<SyncJob>>,
    /// This thread's share of `max_buffered_bytes`.
    pub(crate) buffer_budget: usize,
    /// This thread's share of `max_open_files`.
    pub(crate) open_files: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not yet recovered from disk.
    Unopened,
    Ready,
    /// A write failed; lines are dropped until `retry_at`, then the stream
    /// is recovered again.
    Failed {
        retry_at: Instant,
    },
    /// The path failed validation; every line is dropped.
    Invalid,
}

/// The active segment as the writer tracks it. The fields every line
/// touches come first (see [`Stream`]).
#[repr(C)]
struct Active {
    /// Bytes of the segment, buffered ones included.
    size: u64,
    running_max: i64,
    next_index_at: u64,
    created_micros: i64,
    /// Offset of the newest index record (written or pending).
    last_index_offset: Option<u64>,
    first_seq: u64,
    /// Whether `N.idx` exists: until then the next index write creates it
    /// with its header.
    index_on_disk: bool,
}

/// One stream's state. With thousands of streams every line's state is a
/// cache miss, so the fields an append touches fill the first three cache
/// lines ([`HOT_BYTES`]), which `handle_batch` prefetches, and the rest
/// follows.
#[repr(C, align(64))]
struct Stream {
    buf: ChunkBuf,
    phase: Phase,
    in_dirty: bool,
    // Rarely used, but they fit the padding here.
    in_unsynced: bool,
    index_unsynced: bool,
    dir_unsynced: bool,
    active: Option<Active>,
    next_seq: u64,
    buf_lines: u64,
    /// Receive time of the first line in `buf`.
    buf_oldest_micros: i64,
    /// When the first line in `buf` arrived.
    buf_since: Instant,
    // Cold from here on.
    dir: PathBuf,
    /// First seqs of every segment on disk, oldest first, active included.
    segments: VecDeque<u64>,
    pending_index: Vec<IndexRecord>,
    slot: Option<u32>,
}

/// The leading bytes of [`Stream`] that appending a line reads or writes.
const HOT_BYTES: usize = std::mem::offset_of!(Stream, dir);

/// Counts gathered locally and published once per batch or tick.
#[derive(Default)]
struct LocalStats {
    lines_written: u64,
    bytes_written: u64,
    segments_rotated: u64,
    write_errors: u64,
    lines_dropped: u64,
    torn_bytes_cut: u64,
    fsyncs: u64,
}

pub(crate) struct Writer {
    shared: WriterShared,
    rx: Receiver<WriterMsg>,
    /// Stream path → id.
    ids: StreamIds,
    streams: Vec<Stream>,
    /// Where every stream's `buf` keeps its bytes.
    pool: ChunkPool,
    files: FileCache<File>,
    /// Streams whose buffer may be non-empty.
    dirty: Vec<u32>,
    /// Streams written since the last fsync.
    unsynced: Vec<u32>,
    local: LocalStats,
    /// Jobs the compressor queue had no room for.
    backlog: VecDeque<CompressJob>,
    /// `data_dir` held open for `syncfs`.
    data_dir_file: Option<File>,
    index_bytes: Vec<u8>,
    /// Dirty streams' (chunks held, id), kept for its allocation.
    flush_order: Vec<(usize, u32)>,
    /// The streams `flush_largest` writes, kept for its allocation.
    flush_victims: Vec<u32>,
    /// Stream ids of the batch being handled, kept for its allocation.
    batch_ids: Vec<u32>,
    /// Hashes of the batch's stream paths, kept for its allocation.
    batch_hashes: Vec<u64>,
    last_sync: Instant,
    last_age_check: Instant,
    last_trim: Instant,
    warnings: WarnLimit,
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
        })
}

impl Writer {
    pub(crate) fn new(shared: WriterShared, rx: Receiver<WriterMsg>) -> Writer {
        let data_dir_file = File::open(&shared.config.data_dir).ok();
        let open_files = shared.open_files;
        let now = Instant::now();
        Writer {
            shared,
            rx,
            ids: StreamIds::default(),
            streams: Vec::new(),
            pool: ChunkPool::new(),
            files: FileCache::new(open_files),
            dirty: Vec::new(),
            unsynced: Vec::new(),
            local: LocalStats::default(),
            backlog: VecDeque::new(),
            data_dir_file,
            index_bytes: Vec::new(),
            flush_order: Vec::new(),
            flush_victims: Vec::new(),
            batch_ids: Vec::new(),
            batch_hashes: Vec::new(),
            last_sync: now,
            last_age_check: now,
            last_trim: now,
            warnings: WarnLimit::default(),
        }
    }

    /// The thread body.
    pub(crate) fn run(mut self) {
        let tick = tick_period(self.shared.config.flush_interval);
        let mut next_tick = Instant::now() + tick;
        let quiet_flush = self.shared.config.quiet_flush;
        // Set while lines wait in memory and no batch has arrived since:
        // when the input goes quiet for `quiet_flush`, everything is
        // written at once instead of at the next tick, so the end of a
        // burst reaches the disk within milliseconds. Under steady load
        // the input never pauses that long and writes stay large.
        let mut quiet_deadline: Option<Instant> = None;
        loop {
            let wake = quiet_deadline.map_or(next_tick, |quiet| quiet.min(next_tick));
            let timeout = wake.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(timeout) {
                Ok(WriterMsg::Batch(batch)) => {
                    self.handle_batch(batch);
                    if !quiet_flush.is_zero() {
                        quiet_deadline = Some(Instant::now() + quiet_flush);
                    }
                }
                Ok(WriterMsg::Sync(reply)) => {
                    let result = self.sync_everything();
                    let _ = reply.send(result);
                }
                Ok(WriterMsg::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    if quiet_deadline.is_some_and(|quiet| Instant::now() >= quiet) {
                        quiet_deadline = None;
                        self.flush_dirty();
                        self.publish();
                    }
                }
            }
            let now = Instant::now();
            if now >= next_tick {
                self.tick(now);
                next_tick = now + tick;
            }
        }
        // Drain whatever producers queued before the shutdown.
        while let Ok(message) = self.rx.try_recv() {
            match message {
                WriterMsg::Batch(batch) => self.handle_batch(batch),
                WriterMsg::Sync(reply) => {
                    let result = self.sync_everything();
                    let _ = reply.send(result);
                }
                WriterMsg::Shutdown => {}
            }
        }
        self.finish();
    }

    /// Counts the stream's buffered lines as dropped, closes its file and
    /// refuses its lines until a retry recovers it from disk.
    fn fail_stream(&mut self, id: u32, now: Instant, op: &'static str, path: &Path, error: &str) {
        let stream = &mut self.streams[id as usize];
        self.local.write_errors += 1;
        self.local.lines_dropped += stream.buf_lines;
        stream.buf.clear(&mut self.pool);
        stream.buf_lines = 0;
        stream.pending_index.clear();
        stream.active = None;
        stream.phase = Phase::Failed {
            retry_at: now + RETRY_AFTER,
        };
        if let Some(slot) = stream.slot.take() {
            if self.files.remove(slot).is_some() {
                stats::sub(&self.shared.stats.open_files, 1);
            }
        }
        self.warn(op, path, error);
    }

    /// Logs at most one warning per ten seconds per thread, with the count
    /// of those suppressed in between.
    fn warn(&mut self, op: &'static str, path: &Path, error: &str) {
        if let Some(suppressed) = self.warnings.admit() {
            tracing::warn!(op, path = %path.display(), error, suppressed, "segment write failed; lines dropped");
        }
    }

    fn tick(&mut self, now: Instant) {
        // Ticks come four times per interval, so a line is written within
        // `flush_interval` of its arrival.
        let interval = self.shared.config.flush_interval;
        self.flush_dirty_older(now, interval.saturating_sub(tick_period(interval)));
        // Once every buffer is empty (the input paused), memory the busiest
        // moment since the last trim did not need goes back to the system.
        if now.duration_since(self.last_trim) >= SLAB_TRIM_EVERY {
            self.last_trim = now;
            self.pool.trim();
        }
        if let FsyncPolicy::Interval(every) = self.shared.config.fsync {
            if now.duration_since(self.last_sync) >= every {
                self.sync_in_background();
            }
        }
        if let Some(max_age) = self.shared.config.segment_max_age {
            if now.duration_since(self.last_age_check) >= AGE_CHECK_EVERY.min(max_age) {
                self.last_age_check = now;
                self.rotate_expired(max_age);
            }
        }
        self.retry_backlog(false);
        self.publish();
    }

    /// Shutdown: write everything, mark where each active segment that has
    /// an index ends in it, fsync, close. A segment without an index stays
    /// without one (an end record would cost a new file per quiet stream);
    /// recovery then treats its timestamps as unknown until it rotates.
    fn finish(&mut self) {
        self.flush_dirty();
        for id in 0..self.streams.len() as u32 {
            let stream = &self.streams[id as usize];
            let indexed = stream
                .active
                .as_ref()
                .is_some_and(|active| active.index_on_disk);
            if stream.phase == Phase::Ready && indexed {
                self.push_end_record(id);
                self.flush_stream(id);
            }
        }
        self.retry_backlog(true);
        if sys::HAS_SYNCFS {
            // One call covers every stream, unsynced or handed to the sync
            // thread; a failure falls back to the unsynced ones' files.
            self.sync_here(SyncWork::FileSystem);
            self.mark_synced();
        } else {
            self.sync_unsynced();
        }
        let closed = self.files.drain().len() as u64;
        stats::sub(&self.shared.stats.open_files, closed);
        stats::sub(&self.shared.stats.open_streams, self.streams.len() as u64);
        self.publish();
    }

    fn publish(&mut self) {
        let local = std::mem::take(&mut self.local);
        let shared = &self.shared.stats;
        stats::add(&shared.lines_written, local.lines_written);
        stats::add(&shared.bytes_written, local.bytes_written);
        stats::add(&shared.segments_rotated, local.segments_rotated);
        stats::add(&shared.write_errors, local.write_errors);
        stats::add(&shared.lines_dropped, local.lines_dropped);
        stats::add(&shared.torn_bytes_cut, local.torn_bytes_cut);
        stats::add(&shared.fsyncs, local.fsyncs);
    }
}

/// How often the writer looks for buffers due by `flush_interval`.
fn tick_period(flush_interval: Duration) -> Duration {
    (flush_interval / 4).max(Duration::from_millis(1))
}
