//! [`Queue`]: what every relay engine holds the same way — the intake
//! channel from the workers, the disk spool, the recycling of batches and
//! the relay's counters — whatever it sends to (`engine.rs` for syslog
//! targets, `kafka.rs` for Kafka).

use crate::batch::RelayBatch;
use crate::engine::{HandedOver, StopMode};
use crate::error::RelayError;
use crate::spool::Spool;
use crate::Shared;
use sinkd_metrics::{DropReason, Metrics, RelayConnectionState, RelayCounters};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The spool reader may lag behind the spool writer this long before the
/// engine makes the store write everything and looks again.
const SPOOL_LAG_LIMIT: Duration = Duration::from_millis(500);

/// Whether an engine was told to stop: until when it may still wait for
/// acknowledgements, and how it then stops.
pub(crate) struct Stopping {
    pub(crate) until: Option<Instant>,
    pub(crate) mode: StopMode,
    grace: Duration,
    handover_grace: Duration,
}

impl Stopping {
    /// Not stopping; once asked, an engine waits `grace` at most, or
    /// `handover_grace` when it hands its queue to a successor (a reload
    /// waits for that, and batches offered meanwhile wait in the intake).
    pub(crate) fn new(grace: Duration, handover_grace: Duration) -> Stopping {
        Stopping {
            until: None,
            mode: StopMode::Close,
            grace,
            handover_grace,
        }
    }

    /// Told to stop in `mode`.
    pub(crate) fn asked(&mut self, mode: StopMode) {
        self.mode = mode;
        let grace = match mode {
            StopMode::Close => self.grace,
            StopMode::HandOver => self.handover_grace,
        };
        self.until = Some(Instant::now() + grace);
    }

    /// Every worker's handle is gone: the engine stops (closing) unless it
    /// is stopping already.
    pub(crate) fn intake_closed(&mut self, queue: &mut Queue) {
        queue.intake_open = false;
        if self.until.is_none() {
            self.until = Some(Instant::now() + self.grace);
        }
    }
}

pub(crate) struct Queue {
    /// The sink's name, for logs.
    pub(crate) sink: Arc<str>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) counters: RelayCounters,
    pub(crate) shared: Arc<Shared>,
    pub(crate) intake: mpsc::Receiver<RelayBatch>,
    pub(crate) intake_open: bool,
    pub(crate) spool: Spool,
    /// When the spool reader first found nothing although messages wait.
    spool_lag_since: Option<Instant>,
}

impl Queue {
    /// The queue of relay `sink`; its connection state starts down.
    pub(crate) fn new(
        sink: &str,
        metrics: Arc<Metrics>,
        shared: Arc<Shared>,
        intake: mpsc::Receiver<RelayBatch>,
        spool: Spool,
    ) -> Queue {
        let counters = metrics.relay(sink);
        counters.set_state(RelayConnectionState::Down);
        Queue {
            sink: Arc::from(sink),
            metrics,
            counters,
            shared,
            intake,
            intake_open: true,
            spool,
            spool_lag_since: None,
        }
    }

    /// The next batch already waiting in the intake channel, no longer
    /// counted as in the intake; empty batches are recycled and skipped.
    pub(crate) fn next_waiting(&mut self) -> Option<RelayBatch> {
        while self.intake_open {
            match self.intake.try_recv() {
                Ok(batch) => {
                    if let Some(batch) = self.taken(batch) {
                        return Some(batch);
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => return None,
                Err(mpsc::error::TryRecvError::Disconnected) => self.intake_open = false,
            }
        }
        None
    }

    /// Closes the intake channel and returns the next batch still buffered
    /// in it (call until `None`).
    pub(crate) fn next_after_close(&mut self) -> Option<RelayBatch> {
        self.intake.close();
        while let Ok(batch) = self.intake.try_recv() {
            if let Some(batch) = self.taken(batch) {
                return Some(batch);
            }
        }
        None
    }

    /// A batch received from the intake channel: uncounted from it, and
    /// `None` (recycled) when empty.
    pub(crate) fn taken(&self, batch: RelayBatch) -> Option<RelayBatch> {
        let n = batch.len();
        self.shared.intake_messages.fetch_sub(n, Ordering::AcqRel);
        if n == 0 {
            self.recycle(batch);
            return None;
        }
        Some(batch)
    }

    /// Empties `batch` and keeps it for the workers (see
    /// [`Shared::recycle_bounded`]).
    pub(crate) fn recycle(&self, batch: RelayBatch) {
        self.shared.recycle_bounded(batch);
    }

    /// The target is unreachable or the connection broke: counted, and the
    /// state gauge says down.
    pub(crate) fn link_down(&self) {
        self.counters.connect_errors.inc();
        self.counters.set_state(RelayConnectionState::Down);
    }

    /// Counts `n` messages dropped for `reason`.
    pub(crate) fn dropped(&self, reason: DropReason, n: u64) {
        self.metrics.relay_dropped(&self.counters, reason, n);
    }

    /// Appends `batch` to the spool, counting whatever the spool dropped;
    /// returns the sequence numbers it was given.
    pub(crate) fn append(&mut self, batch: &RelayBatch) -> Option<(u64, u64)> {
        let appended = self.spool.append(batch);
        self.dropped(
            DropReason::RelayQueueFull,
            appended.refused + appended.dropped_old,
        );
        self.dropped(DropReason::RelaySpoolError, appended.failed);
        if appended.dropped_old > 0 {
            tracing::warn!(
                sink = %self.sink,
                dropped = appended.dropped_old,
                "relay spool full: oldest messages dropped"
            );
        }
        if appended.refused > 0 {
            tracing::warn!(
                sink = %self.sink,
                dropped = appended.refused,
                "relay spool full: new messages refused"
            );
        }
        // Deleting an old segment may have taken batches out from under
        // the window; those still in memory are sent all the same.
        appended.seqs
    }

    /// Reads the next batch waiting in the spool (at most `max_messages`,
    /// about `max_bytes`) and the sequence number of its last message;
    /// `None` when nothing waits or the store has not written it yet. When
    /// the reader has found nothing for `SPOOL_LAG_LIMIT` although messages
    /// wait, the spool is resynchronised and what it lost is counted.
    pub(crate) fn read_spool(
        &mut self,
        max_messages: usize,
        max_bytes: usize,
    ) -> Option<(RelayBatch, u64)> {
        if self.spool.unread() == 0 {
            self.spool_lag_since = None;
            return None;
        }
        let mut batch = self.shared.take_batch();
        let read = self.spool.read_into(&mut batch, max_messages, max_bytes);
        self.dropped(DropReason::RelaySpoolError, read.lost);
        match read.last_seq {
            Some(last) if !batch.is_empty() => {
                self.spool_lag_since = None;
                Some((batch, last))
            }
            _ => {
                self.recycle(batch);
                let now = Instant::now();
                let since = *self.spool_lag_since.get_or_insert(now);
                if now.duration_since(since) >= SPOOL_LAG_LIMIT {
                    let lost = self.spool.resync();
                    self.dropped(DropReason::RelaySpoolError, lost);
                    self.spool_lag_since = None;
                }
                None
            }
        }
    }

    /// The spool's periodic work (see `Spool::maintain`), counting what it
    /// found lost.
    pub(crate) fn maintain(&mut self, now: Instant) {
        let lost = self.spool.maintain(now.into_std());
        self.dropped(DropReason::RelaySpoolError, lost);
    }

    /// Sets the queue gauges: `in_memory` messages in memory, the spool's
    /// unacknowledged messages and bytes.
    pub(crate) fn set_gauges(&self, in_memory: usize) {
        self.counters.queue_depth.set(in_memory as i64);
        self.counters
            .queue_disk_messages
            .set(self.spool.unacked() as i64);
        self.counters
            .queue_disk_bytes
            .set(self.spool.disk_bytes() as i64);
    }

    /// Ends the engine's use of the queue: logs `what` with the spool's
    /// state, then closes the spool, or hands it over with the still open
    /// intake channel.
    pub(crate) fn finish(
        self,
        mode: StopMode,
        persisted: u64,
        what: &str,
    ) -> Result<Option<HandedOver>, RelayError> {
        self.set_gauges(0);
        self.counters.set_state(RelayConnectionState::Down);
        tracing::info!(
            sink = %self.sink,
            persisted,
            spooled = self.spool.unacked(),
            cursor = self.spool.acked(),
            "{what}"
        );
        match mode {
            StopMode::Close => self.spool.close().map(|()| None),
            StopMode::HandOver => Ok(Some(HandedOver {
                intake: self.intake,
                spool: self.spool,
            })),
        }
    }
}
