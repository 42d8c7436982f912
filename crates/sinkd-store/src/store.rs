//! [`Store`] and [`StoreWriter`]: starting the threads, routing batches to
//! them, and stopping them without losing a line.
//!
//! `Store::open` validates the configuration, locks `data_dir` against a
//! second sinkd, and starts `writer_threads` writer threads (see
//! [`crate::writer`]) plus `compress_threads` compressor threads (writer
//! `i` hands its closed segments to compressor `i % compress_threads`, so
//! a writer's jobs are done in the order it sent them). Every queue is a bounded
//! crossbeam channel: `submit` blocks when a writer's queue is full (TCP
//! backpressure reaches the sender), `try_submit` hands the unqueued lines
//! back (the UDP path counts them as dropped). A writer paused for lack of
//! space stops taking batches, so `submit` blocks until space returns
//! ([`Store::health`] says why); [`Store::begin_shutdown`] bounds that wait
//! when the process is stopping.
//!
//! Routing: each entry carries the hash of its stream path; stream → writer
//! is `hash % writer_threads`, so one stream is always served by one thread
//! and its lines stay in order. A batch whose entries all go to one writer
//! (the usual case: one read from one device) is sent as it is; otherwise
//! `submit` splits it, copying each entry into a per-writer batch taken from
//! the recycling pool.

use crate::batch::AppendBatch;
use crate::beneath::Beneath;
use crate::compress::{CompressJob, Compressor, DirLocks};
use crate::config::{FsyncPolicy, StoreConfig};
use crate::error::{StoreError, SubmitError, TrySubmitError};
use crate::health::StoreHealth;
use crate::stats::StoreStats;
use crate::syncer::{SyncJob, Syncer};
use crate::sys;
use crate::writer::{Writer, WriterMsg, WriterShared};
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

/// Name of the lock file in `data_dir`.
const LOCK_FILE: &str = ".sinkd-store.lock";

/// Jobs that may wait for the compressor before writers keep them locally.
const COMPRESS_QUEUE: usize = 1024;

/// Sync jobs waiting for the sync thread. A writer whose job finds the
/// queue full does that sync itself.
const SYNC_QUEUE: usize = 64;

struct Shared {
    senders: Vec<Sender<WriterMsg>>,
    recycle_rx: Receiver<AppendBatch>,
    recycle_tx: Sender<AppendBatch>,
}

/// A running segment store.
///
/// Dropping it shuts it down as [`Store::shutdown`] does, but without
/// reporting errors.
pub struct Store {
    config: StoreConfig,
    stats: Arc<StoreStats>,
    health: Arc<StoreHealth>,
    stopping: Arc<AtomicBool>,
    shared: Arc<Shared>,
    writers: Vec<JoinHandle<()>>,
    /// The compressor threads and their queues, index for index.
    compressors: Vec<JoinHandle<()>>,
    compress_txs: Vec<Sender<CompressJob>>,
    /// The sync thread (only under `FsyncPolicy::Interval`).
    syncer: Option<JoinHandle<()>>,
    sync_tx: Option<Sender<SyncJob>>,
    _lock: File,
    running: bool,
}

/// A cheap, cloneable handle for submitting batches from any thread.
#[derive(Clone)]
pub struct StoreWriter {
    shared: Arc<Shared>,
}

impl Store {
    /// Resolves the settings left to sinkd ([`StoreConfig::resolved`]),
    /// checks `config`, creates and locks `data_dir`, and starts the writer
    /// and compressor threads.
    pub fn open(config: StoreConfig) -> Result<Store, StoreError> {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let config = config.resolved(cpus);
        validate(&config)?;
        fs::create_dir_all(&config.data_dir)
            .map_err(|error| StoreError::io("create directory", &config.data_dir, error))?;
        let lock_path = config.data_dir.join(LOCK_FILE);
        // A link left in the lock file's place is not followed.
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&lock_path)
            .map_err(|error| StoreError::io("open", &lock_path, error))?;
        match sys::try_lock_exclusive(&lock) {
            Ok(true) => {}
            Ok(false) => return Err(StoreError::Locked { path: lock_path }),
            Err(error) => return Err(StoreError::io("lock", &lock_path, error)),
        }

        let beneath = Arc::new(
            Beneath::new(&config.data_dir)
                .map_err(|error| StoreError::io("open directory", &config.data_dir, error))?,
        );
        let stats = Arc::new(StoreStats::default());
        let health = Arc::new(StoreHealth::default());
        let stopping = Arc::new(AtomicBool::new(false));
        let (recycle_tx, recycle_rx) = bounded(config.writer_threads * config.queue_batches + 16);
        let dir_locks = Arc::new(DirLocks::default());
        let mut compressors = Vec::with_capacity(config.compress_threads);
        let mut compress_txs = Vec::with_capacity(config.compress_threads);
        for index in 0..config.compress_threads {
            let (compress_tx, compress_rx) = bounded(COMPRESS_QUEUE);
            let compressor = Compressor::new(
                Arc::clone(&beneath),
                config.data_dir.clone(),
                config.compression_level,
                compress_rx,
                Arc::clone(&stats),
                Arc::clone(&dir_locks),
                // One start-up walk is enough; the directory locks keep it
                // off the segments the other compressors are working on.
                index == 0,
            );
            let spawned = thread::Builder::new()
                .name(format!("sinkd-store-zstd{index}"))
                .spawn(move || compressor.run());
            match spawned {
                Ok(handle) => {
                    compressors.push(handle);
                    compress_txs.push(compress_tx);
                }
                Err(error) => {
                    stop_compressors(&compress_txs, compressors);
                    return Err(StoreError::io("spawn thread", &config.data_dir, error));
                }
            }
        }

        // Only the `Interval` policy syncs in the background.
        let (sync_tx, syncer) = if matches!(config.fsync, FsyncPolicy::Interval(_)) {
            let (sync_tx, sync_rx) = bounded(SYNC_QUEUE);
            let syncer = Syncer::new(config.data_dir.clone(), sync_rx, Arc::clone(&stats));
            let handle = thread::Builder::new()
                .name("sinkd-store-sync".into())
                .spawn(move || syncer.run())
                .map_err(|error| StoreError::io("spawn thread", &config.data_dir, error))?;
            (Some(sync_tx), Some(handle))
        } else {
            (None, None)
        };

        let mut senders = Vec::with_capacity(config.writer_threads);
        let mut writers = Vec::with_capacity(config.writer_threads);
        let buffer_budget = (config.max_buffered_bytes / config.writer_threads).max(64 * 1024);
        let open_files = (config.max_open_files / config.writer_threads).max(1);
        let mut spawn_error = None;
        for index in 0..config.writer_threads {
            let (tx, rx) = bounded(config.queue_batches);
            let writer = Writer::new(
                WriterShared {
                    config: config.clone(),
                    beneath: Arc::clone(&beneath),
                    stats: Arc::clone(&stats),
                    compress_tx: compress_txs[index % compress_txs.len()].clone(),
                    recycle_tx: recycle_tx.clone(),
                    sync_tx: sync_tx.clone(),
                    buffer_budget,
                    open_files,
                    health: Arc::clone(&health),
                    stopping: Arc::clone(&stopping),
                },
                rx,
            );
            match thread::Builder::new()
                .name(format!("sinkd-store-w{index}"))
                .spawn(move || writer.run())
            {
                Ok(handle) => {
                    senders.push(tx);
                    writers.push(handle);
                }
                Err(error) => {
                    spawn_error = Some(StoreError::io("spawn thread", &config.data_dir, error));
                    break;
                }
            }
        }
        let store = Store {
            config,
            stats,
            health,
            stopping,
            shared: Arc::new(Shared {
                senders,
                recycle_rx,
                recycle_tx,
            }),
            writers,
            compressors,
            compress_txs,
            syncer,
            sync_tx,
            _lock: lock,
            running: true,
        };
        match spawn_error {
            Some(error) => {
                drop(store);
                Err(error)
            }
            None => Ok(store),
        }
    }

    /// A handle for submitting batches.
    pub fn writer(&self) -> StoreWriter {
        StoreWriter {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The store's counters.
    pub fn stats(&self) -> Arc<StoreStats> {
        Arc::clone(&self.stats)
    }

    /// Whether the store can write now, and if not, why.
    pub fn health(&self) -> Arc<StoreHealth> {
        Arc::clone(&self.health)
    }

    /// Says a shutdown is coming. A writer paused for lack of space keeps
    /// trying for five more seconds, then drops what it holds and whatever
    /// it is handed from then on (counted in
    /// [`crate::StoreStatsSnapshot::lines_dropped_disk_full`]), so that
    /// producers blocked in [`StoreWriter::submit`] return and the shutdown
    /// can finish. A store that writes is not affected.
    pub fn begin_shutdown(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// A handle that calls [`Store::begin_shutdown`] from elsewhere (the
    /// server's signal loop, before it waits for the listeners to drain:
    /// connections blocked on a paused store must be let go).
    pub fn shutdown_trigger(&self) -> impl Fn() + Send + Sync + 'static {
        let stopping = Arc::clone(&self.stopping);
        move || stopping.store(true, Ordering::Relaxed)
    }

    /// The configuration the store runs with.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Writes and fsyncs every line submitted before this call, then waits
    /// until the compressor has done every job queued so far (closed
    /// segments compressed, old ones deleted). For tests, tools, and
    /// whoever needs a durability point; never needed for correctness.
    pub fn sync(&self) -> Result<(), StoreError> {
        for sender in &self.shared.senders {
            let (reply_tx, reply_rx) = bounded(1);
            sender
                .send(WriterMsg::Sync(reply_tx))
                .map_err(|_| StoreError::Closed)?;
            reply_rx.recv().map_err(|_| StoreError::ThreadPanicked)??;
        }
        for compress_tx in &self.compress_txs {
            let (done_tx, done_rx) = bounded(1);
            compress_tx
                .send(CompressJob::Barrier(done_tx))
                .map_err(|_| StoreError::Closed)?;
            done_rx.recv().map_err(|_| StoreError::ThreadPanicked)?;
        }
        Ok(())
    }

    /// Stops the store: every queued batch is written, every stream's index
    /// gets an end record, everything is fsynced, and the threads exit.
    /// Queued compressions are left for the next start (the compressor's
    /// start-up walk finds them); queued deletions are done.
    ///
    /// Handles still held by producers fail with [`SubmitError`] afterwards.
    pub fn shutdown(mut self) -> Result<(), StoreError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), StoreError> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        self.begin_shutdown();
        let mut result = Ok(());
        for sender in &self.shared.senders {
            // A writer that is gone already has nothing left to drain.
            let _ = sender.send(WriterMsg::Shutdown);
        }
        for handle in self.writers.drain(..) {
            if handle.join().is_err() {
                result = Err(StoreError::ThreadPanicked);
            }
        }
        if let Some(sync_tx) = self.sync_tx.take() {
            let _ = sync_tx.send(SyncJob::Shutdown);
        }
        if let Some(handle) = self.syncer.take() {
            if handle.join().is_err() {
                result = Err(StoreError::ThreadPanicked);
            }
        }
        if !stop_compressors(&self.compress_txs, std::mem::take(&mut self.compressors)) {
            result = Err(StoreError::ThreadPanicked);
        }
        result
    }
}

/// Tells every compressor to finish and waits for them; false when one of
/// them panicked.
fn stop_compressors(senders: &[Sender<CompressJob>], handles: Vec<JoinHandle<()>>) -> bool {
    for sender in senders {
        let _ = sender.send(CompressJob::Shutdown);
    }
    let mut all_ok = true;
    for handle in handles {
        all_ok &= handle.join().is_ok();
    }
    all_ok
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("data_dir", &self.config.data_dir)
            .field("writer_threads", &self.writers.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for StoreWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreWriter")
            .field("writer_threads", &self.shared.senders.len())
            .finish()
    }
}

fn validate(config: &StoreConfig) -> Result<(), StoreError> {
    let checks: [(bool, &'static str); 5] = [
        (
            config.writer_threads > 256,
            "writer_threads must be at most 256",
        ),
        (
            config.compress_threads > 256,
            "compress_threads must be at most 256",
        ),
        (
            config.segment_max_bytes == 0,
            "segment_max_bytes must be at least 1",
        ),
        (
            config.queue_batches == 0,
            "queue_batches must be at least 1",
        ),
        (
            !(zstd::compression_level_range().contains(&config.compression_level)),
            "compression_level is outside zstd's range",
        ),
    ];
    for (failed, reason) in checks {
        if failed {
            return Err(StoreError::InvalidConfig(reason));
        }
    }
    if config.index_interval_bytes == 0 {
        return Err(StoreError::InvalidConfig(
            "index_interval_bytes must be at least 1",
        ));
    }
    Ok(())
}

/// How a send failed.
enum Refused {
    Full,
    Closed,
}

impl StoreWriter {
    /// An empty batch, reused from the pool when one is available.
    pub fn batch(&self) -> AppendBatch {
        self.shared.recycle_rx.try_recv().unwrap_or_default()
    }

    /// Queues `batch`, blocking while a writer's queue is full.
    ///
    /// This is the backpressure path: a TCP reader that calls it stops
    /// reading while the disk is behind. Fails only when the store is shut
    /// down, handing back the lines not queued.
    pub fn submit(&self, batch: AppendBatch) -> Result<(), SubmitError> {
        self.dispatch(batch, true)
            .map_err(|(batch, _)| SubmitError(batch))
    }

    /// Queues `batch` without blocking. Lines whose writer queue is full
    /// come back in [`TrySubmitError::Full`]; the others are queued.
    pub fn try_submit(&self, batch: AppendBatch) -> Result<(), TrySubmitError> {
        self.dispatch(batch, false)
            .map_err(|(batch, refused)| match refused {
                Refused::Full => TrySubmitError::Full(batch),
                Refused::Closed => TrySubmitError::Closed(batch),
            })
    }

    fn dispatch(&self, batch: AppendBatch, blocking: bool) -> Result<(), (AppendBatch, Refused)> {
        let writers = self.shared.senders.len();
        if writers == 0 {
            return Err((batch, Refused::Closed));
        }
        let Some(first) = batch.entries().first() else {
            self.recycle(batch);
            return Ok(());
        };
        let first_writer = writer_for(first.stream_hash, writers);
        if batch
            .entries()
            .iter()
            .all(|entry| writer_for(entry.stream_hash, writers) == first_writer)
        {
            return self.send(first_writer, batch, blocking);
        }
        // The parts share the batch's arena: only entries are copied.
        let parts = batch.split(writers, |entry| writer_for(entry.stream_hash, writers));
        let mut rejected: Option<(AppendBatch, Refused)> = None;
        for (index, part) in parts.into_iter().enumerate() {
            let Some(part) = part else {
                continue;
            };
            if let Err((part, refused)) = self.send(index, part, blocking) {
                // What goes back to the producer has an arena of its own.
                rejected = Some(match rejected {
                    None => (part.into_owned(), refused),
                    Some((mut all, previous)) => {
                        for entry in part.entries() {
                            all.push_entry_from(&part, entry);
                        }
                        let refused = match (previous, refused) {
                            (Refused::Closed, _) | (_, Refused::Closed) => Refused::Closed,
                            _ => Refused::Full,
                        };
                        (all, refused)
                    }
                });
            }
        }
        match rejected {
            Some(rejected) => Err(rejected),
            None => Ok(()),
        }
    }

    fn send(
        &self,
        index: usize,
        batch: AppendBatch,
        blocking: bool,
    ) -> Result<(), (AppendBatch, Refused)> {
        let sender = &self.shared.senders[index];
        let unwrap = |message: WriterMsg| match message {
            WriterMsg::Batch(batch) => batch,
            // Only batches are sent here.
            WriterMsg::Sync(_) | WriterMsg::Shutdown => AppendBatch::new(),
        };
        if blocking {
            sender
                .send(WriterMsg::Batch(batch))
                .map_err(|error| (unwrap(error.0), Refused::Closed))
        } else {
            sender
                .try_send(WriterMsg::Batch(batch))
                .map_err(|error| match error {
                    TrySendError::Full(message) => (unwrap(message), Refused::Full),
                    TrySendError::Disconnected(message) => (unwrap(message), Refused::Closed),
                })
        }
    }

    fn recycle(&self, batch: AppendBatch) {
        if let Some(batch) = batch.for_pool() {
            let _ = self.shared.recycle_tx.try_send(batch);
        }
    }
}

/// The writer thread serving a stream hash.
fn writer_for(hash: u64, writers: usize) -> usize {
    ((hash ^ (hash >> 32)) % writers as u64) as usize
}
