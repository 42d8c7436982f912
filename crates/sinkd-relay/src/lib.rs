//! Relay sinks: forwarding what the workers route to `udp|tcp|tls address
//! HOST[:PORT]` targets, and records to `kafka address HOST:PORT[,...]
//! topic NAME` (`kafka.rs`: librdkafka, write-through spool, cursor moved
//! over acknowledged records only), without ever making a worker wait and
//! without losing what was accepted. Both engines hold their intake, spool
//! and counters the same way (`queue.rs`).
//!
//! The path of a relayed message (docs/relay.md, "How a message travels"):
//!
//! ```text
//! worker ─ format (sinkd-proto) into a RelayBatch ─ RelayHandle::offer ─┐ (never blocks)
//!                                                                        ▼
//!  relay thread:  intake → memory queue ──────────────┐
//!                        └─ spill → disk spool (sinkd-store segments + cursor)
//!                                                      ▼
//!                 in-flight window → frame (RFC 6587) → TCP / TLS / UDP → target
//!                 acknowledged (SIOCOUTQ) → cursor advances, segments deleted
//! ```
//!
//! - [`RelayBatch`]: formatted messages in one arena, filled by a worker.
//! - [`RelayHandle`]: the cheap, cloneable hand-off the workers hold. Its
//!   [`RelayHandle::offer`] is a `try_send`: when the relay's intake is full
//!   the batch is dropped and counted (`relay_queue_full`), never waited on.
//! - [`Relay`]: one running relay (its own thread and single-threaded
//!   runtime, see `engine.rs`), started with [`Relay::start`] and stopped
//!   with [`Relay::shutdown`], which writes the memory queue to the spool
//!   (`relay.rs`).
//! - [`Relays`]: the set of running relays, keyed by sink name, changed in
//!   two steps (`relays.rs`): [`Relays::prepare`] does everything that can
//!   fail (checks, TLS files, spools, threads) and returns a [`RelayPlan`];
//!   [`RelayPlan::commit`] applies it and cannot fail, and dropping the plan
//!   changes nothing. A SIGHUP that keeps a relay's settings keeps the
//!   relay (and its connection and queue) running; one that changes them
//!   restarts it behind the same [`RelayHandle`].
//!
//! The delivery guarantee (at-least-once over TCP/TLS, what UDP can lose,
//! when duplicates happen and which metric shows each) is spelled out in
//! docs/relay.md; the ordering rules are in `engine.rs`.

mod backoff;
mod batch;
mod config;
mod conn;
mod engine;
mod error;
mod kafka;
mod queue;
mod relay;
mod relays;
mod spool;
mod sys;
mod tls;

pub use batch::RelayBatch;
pub use config::{
    spool_dir, valid_topic, Compression, KafkaSettings, Overflow, RelayConfig, RelayTransport,
    TlsClientFiles, DEFAULT_KAFKA_COMPRESSION, DEFAULT_KAFKA_LINGER, DEFAULT_QUEUE_DISK,
    DEFAULT_QUEUE_MEMORY, DEFAULT_SEND_TIMEOUT, MAX_KAFKA_LINGER, MIN_QUEUE_DISK,
};
pub use error::{ConnError, Fault, RelayError};
pub use relay::Relay;
pub use relays::{RelayPlan, Relays, RetiredRelays};

use crossbeam_channel::{Receiver, Sender};
use sinkd_metrics::{DropReason, Metrics, RelayCounters};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Batches the intake channel holds at most.
const INTAKE_BATCHES: usize = 4096;
/// Messages the intake channel holds at most (whatever the batch sizes).
const INTAKE_MESSAGES: usize = 262_144;
/// Empty batches kept for the workers to reuse.
const RECYCLE_BATCHES: usize = 256;
/// Recycled batches keep at most this much capacity.
const RECYCLE_MAX_BYTES: usize = 1024 * 1024;

/// What the workers' handles and the relay thread share.
pub(crate) struct Shared {
    /// Messages offered and not yet taken by the relay thread.
    pub(crate) intake_messages: AtomicUsize,
    /// Second (since `started`) of the last refusal warning: at most one a
    /// second, whatever the rate of refused batches.
    last_warning: AtomicU64,
    started: std::time::Instant,
    recycle_tx: Sender<RelayBatch>,
    recycle_rx: Receiver<RelayBatch>,
}

impl Shared {
    pub(crate) fn take_batch(&self) -> RelayBatch {
        self.recycle_rx.try_recv().unwrap_or_default()
    }

    pub(crate) fn recycle(&self, batch: RelayBatch) {
        // A full pool means enough spares exist; this one is freed.
        let _ = self.recycle_tx.try_send(batch);
    }

    /// Empties `batch` and keeps it for the workers, unless it grew past
    /// `RECYCLE_MAX_BYTES` (then it is freed).
    pub(crate) fn recycle_bounded(&self, mut batch: RelayBatch) {
        if batch.capacity_bytes() <= RECYCLE_MAX_BYTES {
            batch.clear();
            self.recycle(batch);
        }
    }
}

/// The workers' side of a relay: hands batches over without blocking.
#[derive(Clone)]
pub struct RelayHandle {
    name: Arc<str>,
    intake: mpsc::Sender<RelayBatch>,
    shared: Arc<Shared>,
    metrics: Arc<Metrics>,
    counters: RelayCounters,
}

impl std::fmt::Debug for RelayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayHandle")
            .field("sink", &self.name)
            .finish_non_exhaustive()
    }
}

impl RelayHandle {
    /// A handle with a new intake channel and new shared state, and the
    /// receiving end of the channel for the relay's engine.
    pub(crate) fn new(
        name: &str,
        metrics: Arc<Metrics>,
    ) -> (RelayHandle, mpsc::Receiver<RelayBatch>) {
        let (recycle_tx, recycle_rx) = crossbeam_channel::bounded(RECYCLE_BATCHES);
        let shared = Arc::new(Shared {
            intake_messages: AtomicUsize::new(0),
            last_warning: AtomicU64::new(u64::MAX),
            started: std::time::Instant::now(),
            recycle_tx,
            recycle_rx,
        });
        let (intake_tx, intake_rx) = mpsc::channel(INTAKE_BATCHES);
        let handle = RelayHandle {
            name: Arc::from(name),
            intake: intake_tx,
            shared,
            counters: metrics.relay(name),
            metrics,
        };
        (handle, intake_rx)
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// An empty batch, reused when one is available.
    pub fn batch(&self) -> RelayBatch {
        self.shared.take_batch()
    }

    /// Hands `batch` to the relay without blocking. Returns the number of
    /// messages accepted: all of them, or 0 when the relay's intake is full
    /// or the relay has stopped, in which case they are counted as dropped
    /// (`relay_queue_full`) here.
    pub fn offer(&self, batch: RelayBatch) -> usize {
        let n = batch.len();
        if n == 0 {
            self.shared.recycle(batch);
            return 0;
        }
        let queued = self.shared.intake_messages.fetch_add(n, Ordering::AcqRel);
        if queued + n > INTAKE_MESSAGES {
            self.shared.intake_messages.fetch_sub(n, Ordering::AcqRel);
            self.refused(batch, "relay intake full; batch dropped");
            return 0;
        }
        match self.intake.try_send(batch) {
            Ok(()) => n,
            Err(mpsc::error::TrySendError::Full(batch)) => {
                self.shared.intake_messages.fetch_sub(n, Ordering::AcqRel);
                self.refused(batch, "relay intake full; batch dropped");
                0
            }
            Err(mpsc::error::TrySendError::Closed(batch)) => {
                self.shared.intake_messages.fetch_sub(n, Ordering::AcqRel);
                self.refused(batch, "relay stopped; batch dropped");
                0
            }
        }
    }

    fn refused(&self, mut batch: RelayBatch, why: &'static str) {
        let n = batch.len() as u64;
        self.metrics
            .relay_dropped(&self.counters, DropReason::RelayQueueFull, n);
        let second = self.shared.started.elapsed().as_secs();
        if self.shared.last_warning.swap(second, Ordering::Relaxed) != second {
            tracing::warn!(sink = %self.name, messages = n, "{why} (counted in relay_queue_full; logged at most once a second)");
        }
        batch.clear();
        self.shared.recycle(batch);
    }
}
