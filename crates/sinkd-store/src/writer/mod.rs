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
//!   `write`), and the cache of open segment files.
//! - [`index`]: the lazy sparse index of the active segment.
//! - [`sync`]: fsync bookkeeping, which written files are not yet durable
//!   and who makes them so under each fsync policy.
//! - [`ack`]: when a batch carrying a completion (RELP) counts as stored,
//!   and the settling of such batches in groups.
//!
//! - [`space`]: `min_free`, checked before each write against a measure
//!   of the free space under `data_dir`.
//! - [`idle`]: streams idle for `stream_idle_timeout` are forgotten (file
//!   closed, state let go, id reused), so memory follows the devices that
//!   are talking, not every device seen since start.
//!
//! A failed write never panics and never stops the thread: the stream's
//! buffered lines are counted as dropped, the error is counted and logged
//! at a limited rate, and the stream is recovered from disk (its sequence
//! continuing from what really reached the file) on its next line after a
//! short pause. Lines a partial write did land count as written, not
//! dropped.
//!
//! Lack of space is different: nothing is dropped. When a write fails with
//! ENOSPC or EDQUOT, or would take the free space below `min_free`, the
//! thread *pauses*: what a partial write landed stays (the rest of the
//! buffer completes it later, the file being opened for appending), the
//! buffers keep the rest, the batch being appended is held from the line
//! that could not be taken, and the thread stops taking batches from its
//! queue, so the queue fills and producers block in `submit` (backpressure
//! to TCP and TLS senders). Every [`PAUSE_RETRY`] it tries again, first
//! measuring that what it holds fits above `min_free` (plus
//! [`RESUME_MARGIN`]), and resumes where it stopped once the writes go
//! through. [`crate::StoreHealth`] gathers the threads' pauses for
//! `/healthz`, the metrics and the log. Only a shutdown that finds the disk
//! still full after [`STOP_GRACE`] drops what the thread holds, counted as
//! `lines_dropped_disk_full`. With `pause_when_full` off (a relay's spool)
//! lack of space is a write error like any other.

mod ack;
mod append;
mod flush;
mod idle;
mod index;
mod intake;
mod space;
mod sync;

use crate::batch::AppendBatch;
use crate::beneath::Beneath;
use crate::chunks::{ChunkBuf, ChunkPool};
use crate::compress::{CompressJob, JobsDone};
use crate::config::{FsyncPolicy, StoreConfig};
use crate::error::StoreError;
use crate::fdcache::FileCache;
use crate::health::{PauseReason, StoreHealth};
use crate::key::StreamIds;
use crate::stats::{self, StoreStats};
use crate::syncer::{SyncJob, SyncWork};
use crate::sys;
use crate::warnings::WarnLimit;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use space::SpaceGuard;
use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a stream whose write failed refuses lines before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// How often a writer paused for lack of space tries again.
const PAUSE_RETRY: Duration = Duration::from_millis(250);

/// Free space beyond `min_free` and what it holds that a writer paused by
/// `min_free` waits for, so the first writes after it resumes do not pause
/// it again at once.
const RESUME_MARGIN: u64 = 1024 * 1024;

/// How long a paused writer keeps trying once the store is stopping,
/// before it drops what it holds (counted) so the shutdown can finish.
const STOP_GRACE: Duration = Duration::from_secs(5);

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
    /// Whether the store can write, shared by every writer thread.
    pub(crate) health: Arc<StoreHealth>,
    /// Set when the store begins to stop: a paused writer then gives up
    /// after [`STOP_GRACE`].
    pub(crate) stopping: Arc<AtomicBool>,
}

/// The rest of a batch whose appending stopped when the writer paused,
/// from the line that could not be taken.
struct Held {
    batch: AppendBatch,
    ids: Vec<u32>,
    next: usize,
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
    /// The id is free: its stream was forgotten while idle
    /// ([`idle`]), and nothing refers to it until it is handed out again.
    Vacant,
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
    // Cold from here on. The stream's directory is not kept: it is
    // `data_dir` joined to the stream's key ([`Writer::stream_dir`]),
    // needed only to open, rotate or report.
    /// First seqs of every segment on disk, oldest first, active included.
    segments: Vec<u64>,
    pending_index: index::PendingIndex,
    slot: Option<u32>,
    /// Number of this writer's last compressor job on the stream's files
    /// (see [`crate::compress::JobsDone`]).
    last_job: u64,
}

/// The leading bytes of [`Stream`] that appending a line reads or writes.
const HOT_BYTES: usize = std::mem::offset_of!(Stream, segments);

// Three cache lines: 100,000 streams take 19 MiB.
const _: () = assert!(std::mem::size_of::<Stream>() == 192);

/// Counts gathered locally and published once per batch or tick.
#[derive(Default)]
struct LocalStats {
    lines_written: u64,
    bytes_written: u64,
    segments_rotated: u64,
    write_errors: u64,
    lines_dropped: u64,
    lines_dropped_disk_full: u64,
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
    /// A segment file's path relative to `data_dir`, kept for its
    /// allocation ([`Writer::open_segment`]).
    relative_path: Vec<u8>,
    last_sync: Instant,
    last_age_check: Instant,
    last_trim: Instant,
    warnings: WarnLimit,
    /// Why this thread cannot write now; `None` while it writes.
    paused: Option<PauseReason>,
    /// Whether this thread counts as paused in `shared.health`.
    counted_paused: bool,
    held: Option<Held>,
    space: SpaceGuard,
    /// The store is stopping and the disk stayed full: every line is
    /// dropped (counted) so producers can finish.
    discarding: bool,
    /// Compressor jobs sent, and done (counted by the compressor).
    jobs_sent: u64,
    jobs_done: JobsDone,
    last_idle_check: Instant,
    /// Streams written since the last sync were forgotten (only under
    /// `FsyncPolicy::Never`, where nothing syncs them while running): the
    /// next sync is a `syncfs`, which covers them.
    forgot_unsynced: bool,
    /// Completions of appended batches not yet settled.
    acks: ack::Acks,
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
        let space = SpaceGuard::new(
            shared.config.min_free,
            shared.config.space_probe.clone(),
            shared.config.data_dir.clone(),
        );
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
            relative_path: Vec::new(),
            last_sync: now,
            last_age_check: now,
            last_trim: now,
            warnings: WarnLimit::default(),
            paused: None,
            counted_paused: false,
            held: None,
            space,
            discarding: false,
            jobs_sent: 0,
            jobs_done: JobsDone::default(),
            last_idle_check: now,
            forgot_unsynced: false,
            acks: ack::Acks::default(),
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
            if self.paused.is_some() {
                // Nothing is taken from the queue until space returns:
                // it fills, and the producers wait.
                self.wait_for_space();
                self.settle_acks();
                next_tick = Instant::now() + tick;
            }
            let wake = quiet_deadline.map_or(next_tick, |quiet| quiet.min(next_tick));
            let timeout = wake.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(timeout) {
                Ok(WriterMsg::Batch(batch)) => {
                    self.handle_batch(batch);
                    if self.acks.due(&self.rx) {
                        self.settle_acks();
                    }
                    if !quiet_flush.is_zero() {
                        quiet_deadline = Some(Instant::now() + quiet_flush);
                    }
                }
                Ok(WriterMsg::Sync(reply)) => {
                    let result = self.sync_everything();
                    self.settle_acks();
                    let _ = reply.send(result);
                }
                Ok(WriterMsg::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    self.settle_acks();
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
                WriterMsg::Batch(batch) => {
                    self.handle_batch(batch);
                    if self.acks.due(&self.rx) {
                        self.settle_acks();
                    }
                }
                WriterMsg::Sync(reply) => {
                    let result = self.sync_everything();
                    let _ = reply.send(result);
                }
                WriterMsg::Shutdown => {}
            }
        }
        self.finish();
    }

    /// The directory of stream `id`: `data_dir` joined to its path.
    fn stream_dir(&self, id: u32) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        let key = std::ffi::OsStr::from_bytes(self.ids.key(id));
        self.shared.config.data_dir.join(key)
    }

    /// Counts the stream's buffered lines as dropped, closes its file and
    /// refuses its lines until a retry recovers it from disk.
    fn fail_stream(&mut self, id: u32, now: Instant, op: &'static str, path: &Path, error: &str) {
        self.local.write_errors += 1;
        self.local.lines_dropped += self.reset_stream(id, now + RETRY_AFTER);
        self.note_lost(id);
        self.warn(op, path, error);
    }

    /// Empties the stream's buffer and forgets its active segment, to be
    /// recovered from disk after `retry_at`. Returns the lines discarded.
    fn reset_stream(&mut self, id: u32, retry_at: Instant) -> u64 {
        let stream = &mut self.streams[id as usize];
        let discarded = stream.buf_lines;
        stream.buf.clear(&mut self.pool);
        stream.buf_lines = 0;
        stream.pending_index.clear();
        stream.active = None;
        stream.phase = Phase::Failed { retry_at };
        self.close_file(id);
        discarded
    }

    /// Closes the stream's open segment file, if it has one.
    fn close_file(&mut self, id: u32) {
        if let Some(slot) = self.streams[id as usize].slot.take() {
            if self.files.remove(slot).is_some() {
                stats::sub(&self.shared.stats.open_files, 1);
            }
        }
    }

    /// A file operation on stream `id` failed: for lack of space the
    /// thread pauses and keeps the lines (the file is closed, so a retry
    /// opens it afresh), unless `pause_when_full` is off; otherwise the
    /// stream fails ([`Self::fail_stream`]).
    fn write_failed(&mut self, id: u32, op: &'static str, path: &Path, error: &std::io::Error) {
        if sys::is_no_space(error) && self.shared.config.pause_when_full {
            self.close_file(id);
            self.pause(PauseReason::NoSpace {
                error: error.to_string(),
            });
        } else {
            self.fail_stream(id, Instant::now(), op, path, &error.to_string());
        }
    }

    /// Stops writing for `reason` (see the module documentation).
    fn pause(&mut self, reason: PauseReason) {
        if !self.counted_paused {
            self.counted_paused = true;
            self.shared.health.pause(&reason);
        }
        self.paused = Some(reason);
    }

    /// The paused thread's loop: retries every [`PAUSE_RETRY`] until the
    /// writes go through, or, once the store is stopping and
    /// [`STOP_GRACE`] has passed, gives up.
    fn wait_for_space(&mut self) {
        let mut stopping_since: Option<Instant> = None;
        while self.paused.is_some() {
            std::thread::sleep(PAUSE_RETRY);
            if self.shared.stopping.load(Ordering::Relaxed) {
                let since = *stopping_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= STOP_GRACE {
                    self.give_up();
                    return;
                }
            }
            self.try_resume();
            if let Some(reason) = &self.paused {
                let held = self.lines_held();
                self.shared.health.still_paused(reason, held);
            }
            self.tick(Instant::now());
        }
    }

    /// One retry: when what the thread holds fits above `min_free`, write
    /// every buffer, then append the rest of the held batch.
    fn try_resume(&mut self) {
        if self.paused.is_none() {
            return;
        }
        if !self.space.is_off() {
            let needed = self.pool.held_bytes() as u64 + RESUME_MARGIN;
            if let Err(reason) = self.space.room_for(needed, &self.shared.health) {
                self.paused = Some(reason);
                return;
            }
        }
        self.paused = None;
        self.flush_dirty();
        if self.paused.is_none() {
            if let Some(held) = self.held.take() {
                self.append_entries(held.batch, held.ids, held.next);
            }
        }
        if self.paused.is_none() && self.counted_paused {
            self.counted_paused = false;
            self.shared.health.resume();
        }
    }

    /// Lines waiting in this thread: buffered, and the rest of the held
    /// batch.
    fn lines_held(&self) -> u64 {
        let buffered: u64 = self
            .dirty
            .iter()
            .map(|&id| self.streams[id as usize].buf_lines)
            .sum();
        let held = self
            .held
            .as_ref()
            .map_or(0, |held| (held.batch.entries().len() - held.next) as u64);
        buffered + held
    }

    /// The store is stopping and the disk is still full: drops what the
    /// thread holds, counted, and from now on every line it is handed, so
    /// the producers blocked on its queue can finish.
    fn give_up(&mut self) {
        let now = Instant::now();
        let mut dropped = 0;
        for id in std::mem::take(&mut self.dirty) {
            self.streams[id as usize].in_dirty = false;
            dropped += self.reset_stream(id, now);
        }
        if let Some(held) = self.held.take() {
            dropped += (held.batch.entries().len() - held.next) as u64;
            if let Some(completion) = held.batch.completion() {
                completion.fail();
            }
            self.recycle(held.batch);
        }
        self.local.lines_dropped_disk_full += dropped;
        self.fail_acks();
        let reason = self.paused.take();
        self.discarding = true;
        tracing::error!(
            lines = dropped,
            reason = %reason.map_or_else(String::new, |reason| reason.to_string()),
            "store stopping while it cannot write: lines held in memory dropped (disk_full), \
             and so is whatever is still queued"
        );
        self.publish();
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
        self.forget_idle(now);
        self.publish();
    }

    /// Shutdown: write everything, mark where each active segment that has
    /// an index ends in it, fsync, close. A segment without an index stays
    /// without one (an end record would cost a new file per quiet stream);
    /// recovery then treats its timestamps as unknown until it rotates.
    fn finish(&mut self) {
        self.flush_dirty();
        // A thread that had not needed to write yet can find the disk full
        // only now: it waits for space as a running one does, and past the
        // grace period drops what it holds, counted, instead of leaving
        // with lines in memory that no counter has seen.
        if self.paused.is_some() {
            self.wait_for_space();
        }
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
        // Everything is written and synced: what still waits is stored.
        self.settle_acks();
        self.fail_acks();
        let closed = self.files.drain().len() as u64;
        stats::sub(&self.shared.stats.open_files, closed);
        stats::sub(&self.shared.stats.open_streams, self.ids.len() as u64);
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
        stats::add(
            &shared.lines_dropped_disk_full,
            local.lines_dropped_disk_full,
        );
        stats::add(&shared.torn_bytes_cut, local.torn_bytes_cut);
        stats::add(&shared.fsyncs, local.fsyncs);
    }
}

/// How often the writer looks for buffers due by `flush_interval`.
fn tick_period(flush_interval: Duration) -> Duration {
    (flush_interval / 4).max(Duration::from_millis(1))
}
