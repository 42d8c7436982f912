//! The writer threads: where lines become bytes in segment files.
//!
//! [`crate::Store`] starts `writer_threads` of these. Each owns a disjoint
//! set of streams (chosen by hash of the stream path in
//! [`crate::StoreWriter::submit`]), so it needs no lock: per stream it keeps
//! the next sequence number, the active segment's size and index state, and
//! an in-memory buffer of lines not yet written.
//!
//! A stream's buffer (chunks from the thread's [`ChunkPool`]) is written
//! with one `writev` when it passes
//! [`STREAM_FLUSH_BYTES`], when the flush interval ticks, when the thread's
//! share of `max_buffered_bytes` is exceeded (largest buffers first, down
//! to [`FLUSH_DOWN_TO`] of it), before
//! a rotation, and at shutdown. Open segment files live in a
//! [`FileCache`] bounded by the thread's share of `max_open_files`.
//!
//! The sparse index is lazy. A new segment is only its `N.log`: its first
//! line is at offset 0 by definition, so no record is needed until a line
//! starts `index_interval_bytes` in. The `N.idx` is created, header and
//! pending records in one write, the first time records must be written, or
//! at rotation for the end record, so every closed segment keeps an index
//! while a quiet device's active segment costs one inode instead of two.
//! After that the index is appended to by open-write-close, which happens
//! about once per interval (64 KiB) and so costs nothing worth caching a
//! descriptor for.
//!
//! Rotation hands the closed segment to the compressor thread and never
//! compresses here. A failed write never panics and never stops the thread:
//! the stream's buffered lines are counted as dropped, the error is counted
//! and logged at a limited rate, and the stream is recovered from disk (its
//! sequence continuing from what really reached the file) on its next line
//! after a short pause.

use crate::batch::AppendBatch;
use crate::chunks::{ChunkBuf, ChunkPool, CHUNK_BYTES};
use crate::compress::CompressJob;
use crate::config::{FsyncPolicy, StoreConfig};
use crate::error::StoreError;
use crate::fdcache::FileCache;
use crate::key::StreamIds;
use crate::layout::{self, FileKind, IndexHeader, IndexRecord};
use crate::path::validate_stream_path;
use crate::recover::{self, ActiveSegment, Recovered};
use crate::stats::{self, StoreStats};
use crate::syncer::{self, SyncJob, SyncWork};
use crate::sys;
use crate::warnings::WarnLimit;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A stream's buffer is written once it holds this many bytes.
pub(crate) const STREAM_FLUSH_BYTES: usize = 64 * 1024;

/// When a writer's buffers pass its budget, the largest are written until
/// they hold this fraction (numerator, denominator) of it again. The fewer
/// bytes one round frees, the larger the buffers it writes: with 10,000
/// evenly busy devices and 32 MiB, ½ gave ~30,600 writes per million
/// messages and 9⁄10 ~24,700 in a simulation of the policy (the 10,000
/// writes at the end of the burst included), ~19% fewer. Each round costs
/// one pass over the dirty streams.
const FLUSH_DOWN_TO: (usize, usize) = (9, 10);

/// Buffer sizes (in chunks) `flush_largest` tells apart; larger ones count
/// as the largest. A buffer is written once it reaches
/// [`STREAM_FLUSH_BYTES`], so few are ever larger.
const SIZE_CLASSES: usize = STREAM_FLUSH_BYTES / CHUNK_BYTES + 2;

/// In `handle_batch`, how many lines ahead a stream's state, and then the
/// end of its buffer, are prefetched.
const PREFETCH_STATE_AHEAD: usize = 8;
/// How many lookups ahead the id table's key to compare is prefetched.
const PREFETCH_KEY_AHEAD: usize = 8;
const PREFETCH_TAIL_AHEAD: usize = 4;

/// The id of a batch entry whose bytes could not be resolved.
const NO_STREAM: u32 = u32::MAX;

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

/// Up to this many unsynced streams are fsynced one by one; beyond it one
/// `syncfs` is cheaper.
const SYNCFS_ABOVE: usize = 8;

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
    /// `timestamp_micros` of the first line in `buf`.
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

    fn handle_batch(&mut self, mut batch: AppendBatch) {
        let now = Instant::now();
        let wall = now_micros();
        // With thousands of streams, each line's stream lookup, stream
        // state and buffer tail are cache misses. Hashing every path first
        // lets the id table's slots be loaded ahead of the lookups, and the
        // append pass asks for the state of the streams a few lines ahead
        // before it needs them.
        let mut hashes = std::mem::take(&mut self.batch_hashes);
        hashes.clear();
        let mut previous: Option<(&[u8], u64)> = None;
        for entry in batch.entries() {
            let hash = match (batch.resolve(entry), previous) {
                (None, _) => 0,
                // A run of lines for one stream (one device per connection)
                // is hashed once.
                (Some((stream, _)), Some((previous_stream, hash))) if previous_stream == stream => {
                    hash
                }
                (Some((stream, _)), _) => {
                    let hash = self.ids.hash(stream);
                    self.ids.prefetch(hash);
                    previous = Some((stream, hash));
                    hash
                }
            };
            hashes.push(hash);
        }
        let mut ids = std::mem::take(&mut self.batch_ids);
        ids.clear();
        let mut previous: Option<(&[u8], u32)> = None;
        for (index, (entry, &hash)) in batch.entries().iter().zip(&hashes).enumerate() {
            if let Some(&ahead) = hashes.get(index + PREFETCH_KEY_AHEAD) {
                self.ids.prefetch_key(ahead);
            }
            let id = match batch.resolve(entry) {
                None => NO_STREAM,
                Some((stream, _)) => match previous {
                    Some((previous_stream, id)) if previous_stream == stream => id,
                    _ => {
                        let id = self.stream_id(stream, hash);
                        previous = Some((stream, id));
                        id
                    }
                },
            };
            ids.push(id);
        }
        self.batch_hashes = hashes;
        for (index, entry) in batch.entries().iter().enumerate() {
            if let Some(stream) = ids
                .get(index + PREFETCH_STATE_AHEAD)
                .and_then(|&ahead| self.streams.get(ahead as usize))
            {
                sys::prefetch(stream, HOT_BYTES);
            }
            if let Some(stream) = ids
                .get(index + PREFETCH_TAIL_AHEAD)
                .and_then(|&ahead| self.streams.get(ahead as usize))
            {
                self.pool.prefetch_tail(&stream.buf);
            }
            let id = ids[index];
            let Some((_, line)) = batch.resolve(entry).filter(|_| id != NO_STREAM) else {
                continue;
            };
            self.append(id, entry.timestamp_micros, line, now, wall);
        }
        self.batch_ids = ids;
        if self.pool.held_bytes() > self.shared.buffer_budget {
            self.flush_largest();
        }
        if self.shared.config.fsync == FsyncPolicy::EveryBatch {
            self.flush_dirty();
            self.sync_unsynced();
        }
        self.publish();
        batch.clear();
        batch.trim_capacity(4 * 1024 * 1024, 64 * 1024);
        let _ = self.shared.recycle_tx.try_send(batch);
    }

    /// The id of `stream` (whose hash in `ids` is `hash`), creating its
    /// (unopened) state on first sight.
    fn stream_id(&mut self, stream: &[u8], hash: u64) -> u32 {
        if let Some(id) = self.ids.get(stream, hash) {
            return id;
        }
        let (dir, phase) = match std::str::from_utf8(stream)
            .map_err(|_| ())
            .and_then(|path| validate_stream_path(path).map(|()| path).map_err(|_| ()))
        {
            Ok(path) => (self.shared.config.data_dir.join(path), Phase::Unopened),
            Err(()) => {
                self.warn(
                    "validate",
                    Path::new(&*String::from_utf8_lossy(stream)),
                    "invalid stream path",
                );
                (PathBuf::new(), Phase::Invalid)
            }
        };
        self.streams.push(Stream {
            dir,
            phase,
            next_seq: 1,
            active: None,
            segments: VecDeque::new(),
            buf: ChunkBuf::default(),
            buf_lines: 0,
            buf_oldest_micros: 0,
            buf_since: Instant::now(),
            pending_index: Vec::new(),
            slot: None,
            in_dirty: false,
            in_unsynced: false,
            index_unsynced: false,
            dir_unsynced: false,
        });
        let id = self.ids.insert(stream, hash);
        debug_assert_eq!(id as usize + 1, self.streams.len());
        stats::add(&self.shared.stats.open_streams, 1);
        id
    }

    fn append(&mut self, id: u32, timestamp_micros: i64, line: &[u8], now: Instant, wall: i64) {
        if !self.ensure_ready(id, now, wall) {
            self.local.lines_dropped += 1;
            return;
        }
        let max_bytes = self.shared.config.segment_max_bytes;
        let max_age = self.shared.config.segment_max_age;
        let line_bytes = line.len() as u64 + 1;
        if let Some(active) = &self.streams[id as usize].active {
            let too_big = active.size > 0 && active.size + line_bytes > max_bytes;
            let too_old = active.size > 0
                && max_age.is_some_and(|age| age_exceeded(active.created_micros, wall, age));
            if too_big || too_old {
                self.rotate(id);
            }
        }
        if self.streams[id as usize].active.is_none() && !self.start_segment(id, wall) {
            self.local.lines_dropped += 1;
            return;
        }
        let interval = self.shared.config.index_interval_bytes.max(1);
        let stream = &mut self.streams[id as usize];
        let Some(active) = stream.active.as_mut() else {
            self.local.lines_dropped += 1;
            return;
        };
        let len_before = stream.buf.len();
        let pushed = stream
            .buf
            .extend(&mut self.pool, line)
            .and_then(|()| stream.buf.extend(&mut self.pool, b"\n"));
        if let Err(error) = pushed {
            // No memory for the line: it is dropped, the buffer unchanged.
            stream.buf.truncate(&mut self.pool, len_before);
            self.local.lines_dropped += 1;
            let dir = stream.dir.clone();
            self.warn("buffer", &dir, &error.to_string());
            return;
        }
        active.running_max = active.running_max.max(timestamp_micros);
        if active.size >= active.next_index_at {
            stream.pending_index.push(IndexRecord {
                max_timestamp_micros: active.running_max,
                seq: stream.next_seq,
                offset: active.size,
            });
            active.next_index_at = active.size + interval;
            active.last_index_offset = Some(active.size);
        }
        if len_before == 0 {
            stream.buf_oldest_micros = timestamp_micros;
            stream.buf_since = now;
        }
        active.size += line_bytes;
        stream.next_seq += 1;
        stream.buf_lines += 1;
        if !stream.in_dirty {
            stream.in_dirty = true;
            self.dirty.push(id);
        }
        if stream.buf.len() >= STREAM_FLUSH_BYTES {
            self.flush_stream(id);
        }
    }

    /// Recovers the stream if needed; `false` when it cannot take lines now.
    fn ensure_ready(&mut self, id: u32, now: Instant, wall: i64) -> bool {
        match self.streams[id as usize].phase {
            Phase::Ready => true,
            Phase::Invalid => false,
            Phase::Failed { retry_at } if now < retry_at => false,
            Phase::Failed { .. } | Phase::Unopened => self.open_stream(id, now, wall),
        }
    }

    fn open_stream(&mut self, id: u32, now: Instant, wall: i64) -> bool {
        let dir = self.streams[id as usize].dir.clone();
        let created = match create_stream_dir(&dir) {
            Ok(created) => created,
            Err(error) => {
                self.fail_stream(id, now, "create directory", &dir, &error.to_string());
                return false;
            }
        };
        // A directory made just now holds nothing to recover: a new
        // device costs no directory scan.
        let recovered = if created {
            Recovered::empty()
        } else {
            match recover::recover_stream(
                &dir,
                self.shared.config.index_interval_bytes.max(1),
                wall,
            ) {
                Ok(recovered) => recovered,
                Err(error) => {
                    self.fail_stream(id, now, "recover", &dir, &error.to_string());
                    return false;
                }
            }
        };
        self.local.torn_bytes_cut += recovered.torn_bytes;
        for first_seq in recovered.closed_logs {
            self.send_job(CompressJob::Compress {
                dir: dir.clone(),
                first_seq,
            });
        }
        let stream = &mut self.streams[id as usize];
        stream.phase = Phase::Ready;
        stream.next_seq = recovered.next_seq;
        stream.segments = recovered.segments;
        stream.active = recovered.active.map(|active: ActiveSegment| Active {
            first_seq: active.first_seq,
            size: active.size,
            created_micros: active.created_micros,
            running_max: active.running_max,
            next_index_at: active.next_index_at,
            last_index_offset: active.last_index_offset,
            index_on_disk: active.index_on_disk,
        });
        self.enforce_count(id);
        true
    }

    /// Creates the segment starting at the stream's next seq: only its
    /// `N.log`; the index comes with its first record.
    fn start_segment(&mut self, id: u32, wall: i64) -> bool {
        let stream = &self.streams[id as usize];
        let first_seq = stream.next_seq;
        let log_path = layout::file_path(&stream.dir, first_seq, FileKind::Log);
        let log = match OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&log_path)
        {
            Ok(file) => file,
            Err(error) => {
                self.fail_stream(id, Instant::now(), "create", &log_path, &error.to_string());
                return false;
            }
        };
        let interval = self.shared.config.index_interval_bytes.max(1);
        let sync_now = self.shared.config.fsync == FsyncPolicy::EveryBatch;
        let stream = &mut self.streams[id as usize];
        stream.segments.push_back(first_seq);
        stream.active = Some(Active {
            first_seq,
            size: 0,
            created_micros: wall,
            running_max: i64::MIN,
            next_index_at: interval,
            last_index_offset: None,
            index_on_disk: false,
        });
        stream.dir_unsynced = true;
        self.install_file(id, log);
        self.mark_unsynced(id);
        if sync_now {
            let dir = self.streams[id as usize].dir.clone();
            if let Err(error) = sys::sync_dir(&dir) {
                self.local.write_errors += 1;
                self.warn("fsync", &dir, &error.to_string());
            } else {
                self.local.fsyncs += 1;
                self.streams[id as usize].dir_unsynced = false;
            }
        }
        self.enforce_count(id);
        true
    }

    /// Closes the active segment: writes it out, records its end in the
    /// index, and hands it to the compressor. The next line starts a new
    /// segment.
    fn rotate(&mut self, id: u32) {
        self.push_end_record(id);
        if !self.flush_stream(id) {
            return;
        }
        let policy = self.shared.config.fsync;
        let stream = &mut self.streams[id as usize];
        let Some(active) = stream.active.take() else {
            return;
        };
        let dir = stream.dir.clone();
        if let Some(slot) = stream.slot.take() {
            if let Some(file) = self.files.remove(slot) {
                stats::sub(&self.shared.stats.open_files, 1);
                if policy != FsyncPolicy::Never {
                    let path = layout::file_path(&dir, active.first_seq, FileKind::Log);
                    self.sync_closed(file, path);
                }
            }
        }
        self.local.segments_rotated += 1;
        self.send_job(CompressJob::Compress {
            dir,
            first_seq: active.first_seq,
        });
    }

    /// Queues the record that marks the end of the active segment (or of
    /// what has been written so far), unless the newest record already
    /// does.
    fn push_end_record(&mut self, id: u32) {
        let stream = &mut self.streams[id as usize];
        let Some(active) = stream.active.as_mut() else {
            return;
        };
        if active.size == 0 || active.last_index_offset == Some(active.size) {
            return;
        }
        stream.pending_index.push(IndexRecord {
            max_timestamp_micros: active.running_max,
            seq: stream.next_seq,
            offset: active.size,
        });
        active.last_index_offset = Some(active.size);
    }

    /// Deletes the oldest segments beyond `segment_max_count`.
    fn enforce_count(&mut self, id: u32) {
        let max_count = self.shared.config.segment_max_count;
        if max_count == 0 {
            return;
        }
        let stream = &mut self.streams[id as usize];
        let mut doomed = Vec::new();
        while stream.segments.len() > max_count {
            match stream.segments.pop_front() {
                Some(first_seq)
                    if stream
                        .active
                        .as_ref()
                        .is_some_and(|active| active.first_seq == first_seq) =>
                {
                    stream.segments.push_front(first_seq);
                    break;
                }
                Some(first_seq) => doomed.push(first_seq),
                None => break,
            }
        }
        let dir = stream.dir.clone();
        for first_seq in doomed {
            self.send_job(CompressJob::Delete {
                dir: dir.clone(),
                first_seq,
            });
        }
    }

    /// Writes the stream's buffer and pending index records. `false` when
    /// the write failed (the stream is then in `Failed`).
    fn flush_stream(&mut self, id: u32) -> bool {
        let stream = &self.streams[id as usize];
        if stream.buf.is_empty() && stream.pending_index.is_empty() {
            return true;
        }
        if !stream.buf.is_empty() {
            let slot = match self.open_slot(id) {
                Ok(slot) => slot,
                Err((path, error)) => {
                    self.fail_stream(id, Instant::now(), "open", &path, &error.to_string());
                    return false;
                }
            };
            let stream = &mut self.streams[id as usize];
            let result = match self.files.get(slot) {
                Some(file) => stream.buf.write_to(&self.pool, file),
                None => Err(io::Error::other("segment file slot vanished")),
            };
            if let Err(error) = result {
                let path = stream.active.as_ref().map_or_else(PathBuf::new, |active| {
                    layout::file_path(&stream.dir, active.first_seq, FileKind::Log)
                });
                self.fail_stream(id, Instant::now(), "write", &path, &error.to_string());
                return false;
            }
            self.local.lines_written += stream.buf_lines;
            self.local.bytes_written += stream.buf.len() as u64;
            if let Some(observer) = &self.shared.config.on_write {
                let waited_micros = now_micros().saturating_sub(stream.buf_oldest_micros).max(0);
                (observer.0)(Duration::from_micros(waited_micros as u64));
            }
            stream.buf.clear(&mut self.pool);
            stream.buf_lines = 0;
            self.mark_unsynced(id);
        }
        if !self.streams[id as usize].pending_index.is_empty() {
            if let Err((path, error)) = self.write_pending_index(id) {
                self.fail_stream(id, Instant::now(), "write", &path, &error.to_string());
                return false;
            }
        }
        true
    }

    /// Appends the pending records to the active segment's index, creating
    /// it (header and records in one write) if it does not exist yet.
    fn write_pending_index(&mut self, id: u32) -> Result<(), (PathBuf, io::Error)> {
        let stream = &mut self.streams[id as usize];
        let Some(active) = stream.active.as_mut() else {
            stream.pending_index.clear();
            return Ok(());
        };
        let path = layout::file_path(&stream.dir, active.first_seq, FileKind::Index);
        self.index_bytes.clear();
        let create = !active.index_on_disk;
        if create {
            let header = IndexHeader {
                first_seq: active.first_seq,
                created_micros: active.created_micros,
            };
            self.index_bytes.extend_from_slice(&header.encode());
        }
        for record in &stream.pending_index {
            self.index_bytes.extend_from_slice(&record.encode());
        }
        let mut options = OpenOptions::new();
        if create {
            // Nothing valid can be there: recovery keeps an existing index
            // and reports it as on disk. Truncating clears a leftover that
            // is not one.
            options.write(true).create(true).truncate(true);
        } else {
            options.append(true);
        }
        let result = options
            .open(&path)
            .and_then(|mut file| file.write_all(&self.index_bytes));
        if let Err(error) = result {
            return Err((path, error));
        }
        active.index_on_disk = true;
        stream.pending_index.clear();
        stream.index_unsynced = true;
        if create {
            stream.dir_unsynced = true;
        }
        self.mark_unsynced(id);
        Ok(())
    }

    /// The cache slot of the stream's active segment file, opening it if
    /// needed.
    fn open_slot(&mut self, id: u32) -> Result<u32, (PathBuf, io::Error)> {
        let stream = &self.streams[id as usize];
        if let Some(slot) = stream.slot {
            return Ok(slot);
        }
        let Some(active) = stream.active.as_ref() else {
            return Err((stream.dir.clone(), io::Error::other("no active segment")));
        };
        let path = layout::file_path(&stream.dir, active.first_seq, FileKind::Log);
        match OpenOptions::new().append(true).open(&path) {
            Ok(file) => Ok(self.install_file(id, file)),
            Err(error) => Err((path, error)),
        }
    }

    fn install_file(&mut self, id: u32, file: File) -> u32 {
        if let Some(old) = self.streams[id as usize].slot.take() {
            if self.files.remove(old).is_some() {
                stats::sub(&self.shared.stats.open_files, 1);
            }
        }
        let (slot, evicted) = self.files.insert(id, file);
        match evicted {
            Some((owner, _closed)) => {
                if let Some(owner_stream) = self.streams.get_mut(owner as usize) {
                    owner_stream.slot = None;
                }
            }
            None => stats::add(&self.shared.stats.open_files, 1),
        }
        self.streams[id as usize].slot = Some(slot);
        slot
    }

    fn mark_unsynced(&mut self, id: u32) {
        let stream = &mut self.streams[id as usize];
        if !stream.in_unsynced {
            stream.in_unsynced = true;
            self.unsynced.push(id);
        }
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

    /// Writes every non-empty buffer.
    fn flush_dirty(&mut self) {
        self.flush_dirty_older(Instant::now(), Duration::ZERO);
    }

    /// Writes the buffers whose first line has waited `min_age` or longer;
    /// younger ones stay in memory (a stream the budget flushed a moment
    /// ago is not written again for a handful of lines).
    fn flush_dirty_older(&mut self, now: Instant, min_age: Duration) {
        let mut dirty = std::mem::take(&mut self.dirty);
        // In id order, which is the order the streams' files were created
        // in and so, roughly, inode order: consecutive writes update
        // inodes that share an inode-table block.
        dirty.sort_unstable();
        dirty.retain(|&id| {
            let stream = &mut self.streams[id as usize];
            if !stream.buf.is_empty() && now.saturating_duration_since(stream.buf_since) < min_age {
                return true;
            }
            stream.in_dirty = false;
            self.flush_stream(id);
            false
        });
        // Flushing never marks a stream dirty, so nothing was added.
        dirty.append(&mut self.dirty);
        self.dirty = dirty;
    }

    /// Writes the largest buffers until the thread is back under
    /// [`FLUSH_DOWN_TO`] of its budget. Which buffers are largest comes from
    /// a count of chunks per buffer size, so no sort is needed however
    /// often this runs.
    fn flush_largest(&mut self) {
        let target = self.shared.buffer_budget / FLUSH_DOWN_TO.1 * FLUSH_DOWN_TO.0;
        let Some(excess) = self.pool.held_bytes().checked_sub(target) else {
            return;
        };
        let mut order = std::mem::take(&mut self.flush_order);
        order.clear();
        // Chunks held by the buffers of each size (in chunks).
        let mut by_size = [0usize; SIZE_CLASSES];
        for (index, &id) in self.dirty.iter().enumerate() {
            if let Some(&ahead) = self.dirty.get(index + PREFETCH_STATE_AHEAD) {
                sys::prefetch(&self.streams[ahead as usize].buf, 64);
            }
            let chunks = self.streams[id as usize].buf.held_bytes() / CHUNK_BYTES;
            if chunks > 0 {
                order.push((chunks, id));
                by_size[chunks.min(SIZE_CLASSES - 1)] += chunks;
            }
        }
        // The smallest size whose buffers, with all larger ones, free the
        // excess.
        let mut needed = excess.div_ceil(CHUNK_BYTES);
        let mut threshold = 1;
        for size in (1..SIZE_CLASSES).rev() {
            threshold = size;
            if by_size[size] >= needed {
                break;
            }
            needed -= by_size[size];
        }
        let mut victims = std::mem::take(&mut self.flush_victims);
        victims.clear();
        let mut freed = 0;
        for &(chunks, id) in &order {
            if chunks > threshold || (chunks == threshold && freed < excess) {
                victims.push(id);
                freed += chunks * CHUNK_BYTES;
            }
        }
        // In id order, as in `flush_dirty_older`.
        victims.sort_unstable();
        for &id in &victims {
            self.flush_stream(id);
        }
        self.flush_order = order;
        self.flush_victims = victims;
    }

    /// A closed segment's file: fsynced by the sync thread under
    /// `Interval`, here otherwise (or when its queue is full).
    fn sync_closed(&mut self, file: File, path: PathBuf) {
        let work = SyncWork::file(file, path);
        let work = match &self.shared.sync_tx {
            Some(sync_tx) => match sync_tx.try_send(SyncJob::Work(work)) {
                Ok(()) => return,
                Err(TrySendError::Full(SyncJob::Work(work))) => work,
                Err(_) => return,
            },
            None => work,
        };
        self.sync_here(work);
    }

    /// The `Interval` policy's sync: what was written since the last one
    /// is handed to the sync thread, and this thread goes on writing. Done
    /// here instead when there is no sync thread or its queue is full.
    fn sync_in_background(&mut self) {
        if self.unsynced.is_empty() {
            return;
        }
        let Some(sync_tx) = self.shared.sync_tx.clone() else {
            self.sync_unsynced();
            return;
        };
        match sync_tx.try_send(SyncJob::Work(self.unsynced_work())) {
            Ok(()) => {}
            Err(TrySendError::Full(SyncJob::Work(work))) => self.sync_here(work),
            Err(_) => {
                let work = self.unsynced_work();
                self.sync_here(work);
            }
        }
        self.mark_synced();
    }

    /// Fsyncs what was written since the last sync, on this thread.
    fn sync_unsynced(&mut self) {
        if self.unsynced.is_empty() {
            return;
        }
        let work = self.unsynced_work();
        self.sync_here(work);
        self.mark_synced();
    }

    /// What makes the streams written since the last sync durable: one
    /// `syncfs` when many are concerned, else their files one by one.
    fn unsynced_work(&self) -> SyncWork {
        if sys::HAS_SYNCFS && self.unsynced.len() > SYNCFS_ABOVE {
            SyncWork::FileSystem
        } else {
            self.unsynced_files()
        }
    }

    /// Per stream written since the last sync: its active segment (through
    /// a duplicate of the open descriptor when there is one), its index
    /// and its directory if they changed.
    fn unsynced_files(&self) -> SyncWork {
        let (mut open, mut paths, mut dirs) = (Vec::new(), Vec::new(), Vec::new());
        for &id in &self.unsynced {
            let stream = &self.streams[id as usize];
            let Some(active) = stream.active.as_ref() else {
                continue;
            };
            let log_path = layout::file_path(&stream.dir, active.first_seq, FileKind::Log);
            let duplicate = stream
                .slot
                .and_then(|slot| self.files.peek(slot))
                .and_then(|file| file.try_clone().ok());
            match duplicate {
                Some(file) => open.push((file, log_path)),
                None => paths.push(log_path),
            }
            if stream.index_unsynced && active.index_on_disk {
                paths.push(layout::file_path(
                    &stream.dir,
                    active.first_seq,
                    FileKind::Index,
                ));
            }
            if stream.dir_unsynced {
                dirs.push(stream.dir.clone());
            }
        }
        SyncWork::Files { open, paths, dirs }
    }

    /// Does `work` on this thread, counting each call. A failed `syncfs`
    /// falls back to syncing the unsynced streams' files one by one.
    fn sync_here(&mut self, work: SyncWork) {
        let mut outcomes = Vec::new();
        syncer::perform(
            work,
            &self.shared.config.data_dir,
            self.data_dir_file.as_ref(),
            &mut outcomes,
        );
        let mut syncfs_failed = false;
        for outcome in &outcomes {
            if outcome.counted() {
                self.local.fsyncs += 1;
            }
            if let Some(error) = outcome.error() {
                self.local.write_errors += 1;
                syncfs_failed |= outcome.op == "syncfs";
                self.warn(outcome.op, &outcome.path, &error.to_string());
            }
        }
        if syncfs_failed {
            let work = self.unsynced_files();
            self.sync_here(work);
        }
    }

    /// Forgets which streams were unsynced: their sync is done or queued.
    fn mark_synced(&mut self) {
        for &id in &self.unsynced {
            let stream = &mut self.streams[id as usize];
            stream.in_unsynced = false;
            stream.index_unsynced = false;
            stream.dir_unsynced = false;
        }
        self.unsynced.clear();
        self.last_sync = Instant::now();
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
                let wall = now_micros();
                for id in 0..self.streams.len() as u32 {
                    let expired = self.streams[id as usize]
                        .active
                        .as_ref()
                        .is_some_and(|active| {
                            active.size > 0 && age_exceeded(active.created_micros, wall, max_age)
                        });
                    if expired {
                        self.rotate(id);
                    }
                }
            }
        }
        self.retry_backlog(false);
        self.publish();
    }

    /// Answers a [`WriterMsg::Sync`]: everything written and fsynced, every
    /// job handed to the compressor.
    fn sync_everything(&mut self) -> Result<(), StoreError> {
        self.flush_dirty();
        // Streams already handed to the sync thread are no longer in
        // `unsynced`: wait until it has done them.
        if let Some(sync_tx) = &self.shared.sync_tx {
            let (done_tx, done_rx) = crossbeam_channel::bounded(1);
            if sync_tx.send(SyncJob::Barrier(done_tx)).is_ok() {
                let _ = done_rx.recv();
            }
        }
        self.sync_unsynced();
        self.retry_backlog(true);
        self.publish();
        Ok(())
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

    fn send_job(&mut self, job: CompressJob) {
        if !self.backlog.is_empty() {
            self.backlog.push_back(job);
            return;
        }
        match self.shared.compress_tx.try_send(job) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(job)) => self.backlog.push_back(job),
        }
    }

    /// Hands queued jobs to the compressor; `blocking` waits for room.
    fn retry_backlog(&mut self, blocking: bool) {
        while let Some(job) = self.backlog.pop_front() {
            let result = if blocking {
                self.shared
                    .compress_tx
                    .send(job)
                    .map_err(|error| TrySendError::Disconnected(error.0))
            } else {
                self.shared.compress_tx.try_send(job)
            };
            match result {
                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(job)) => {
                    self.backlog.push_front(job);
                    return;
                }
            }
        }
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

/// Creates a stream's directory and any missing parents. `true` when the
/// directory itself was created by this call (so it is empty), `false`
/// when it was already there.
fn create_stream_dir(dir: &Path) -> io::Result<bool> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(false),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                fs::create_dir_all(parent)?;
            }
            match fs::create_dir(dir) {
                Ok(()) => Ok(true),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {
                    Ok(false)
                }
                Err(error) => Err(error),
            }
        }
        Err(error) => Err(error),
    }
}

/// How often the writer looks for buffers due by `flush_interval`.
fn tick_period(flush_interval: Duration) -> Duration {
    (flush_interval / 4).max(Duration::from_millis(1))
}

fn age_exceeded(created_micros: i64, wall: i64, max_age: Duration) -> bool {
    let max_age = i64::try_from(max_age.as_micros()).unwrap_or(i64::MAX);
    wall.saturating_sub(created_micros) >= max_age
}
