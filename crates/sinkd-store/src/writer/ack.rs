//! Acknowledged batches: when a batch that carries a [`Completion`] counts
//! as stored, and the grouping that keeps that cheap.
//!
//! A batch's completion is dropped (which tells its owner, a RELP session,
//! that the lines are stored) once every line of it was written to its
//! segment file with `write(2)`: from then on the lines survive a crash or
//! `kill -9` of sinkd, as the kernel holds them; under `fsync =
//! "batch"` they have been fsynced too (that policy syncs after each
//! batch, before this runs), so they survive a power loss. The buffers of
//! the streams such a batch touched are therefore written when the batch
//! is settled, not at the next `flush_interval` tick.
//!
//! Settling is grouped: after a batch, completions wait while more batches
//! are queued (up to [`MAX_PENDING`]), and one pass then writes every
//! stream they touched, so a writer busy with many RELP sessions makes one
//! `writev` per stream for several batches. Batches without a completion
//! change nothing here. A paused writer (disk full) keeps its completions
//! until its writes go through; if it gives up at shutdown, they fail.
//!
//! Failure is judged conservatively: when any line was dropped by this
//! writer since the last settling (a write error, a stream whose path is
//! invalid), every completion settled now fails, so the sender sends again
//! rather than lose a line; the worst case is a duplicate.

use super::Writer;
use crate::batch::{AppendBatch, Completion};
use crossbeam_channel::Receiver;
use std::sync::Arc;

/// Most completions a writer holds before it settles them, even while more
/// batches wait in its queue.
const MAX_PENDING: usize = 64;

/// The completions of batches appended but not yet settled.
#[derive(Default)]
pub(super) struct Acks {
    pending: Vec<Arc<dyn Completion>>,
    /// The streams those batches appended to (with repeats).
    streams: Vec<u32>,
    /// [`Writer::lines_lost`] when the pending completions were last
    /// settled.
    lost_mark: u64,
}

impl Acks {
    /// Whether completions wait to be settled (their streams are named by
    /// id, so no stream is forgotten meanwhile).
    pub(super) fn is_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Whether completions wait and should be settled now: nothing else is
    /// queued, or enough of them wait.
    pub(super) fn due<T>(&self, queue: &Receiver<T>) -> bool {
        !self.pending.is_empty() && (queue.is_empty() || self.pending.len() >= MAX_PENDING)
    }
}

impl Writer {
    /// Takes the completion of a batch whose lines were all appended
    /// (`ids`: their streams), to be settled with the next group.
    pub(super) fn hold_ack(&mut self, batch: &mut AppendBatch, ids: &[u32]) {
        let Some(completion) = batch.take_completion() else {
            return;
        };
        let mut previous = None;
        for &id in ids {
            if previous != Some(id) && (id as usize) < self.streams.len() {
                self.acks.streams.push(id);
            }
            previous = Some(id);
        }
        self.acks.pending.push(completion);
    }

    /// Writes the buffers of every stream the pending completions' batches
    /// touched, then drops the completions (failing them first if a line
    /// was lost since the last settling). While the writer is paused
    /// nothing is settled.
    pub(super) fn settle_acks(&mut self) {
        if self.acks.pending.is_empty() || self.paused.is_some() {
            return;
        }
        let mut streams = std::mem::take(&mut self.acks.streams);
        streams.sort_unstable();
        streams.dedup();
        for &id in &streams {
            self.flush_stream(id);
            if self.paused.is_some() {
                // Out of space part-way: what was not written stays
                // buffered, and so do the completions.
                self.acks.streams = streams;
                return;
            }
        }
        streams.clear();
        self.acks.streams = streams;
        let lost = self.lines_lost();
        let failed = lost > self.acks.lost_mark;
        self.acks.lost_mark = lost;
        for completion in self.acks.pending.drain(..) {
            if failed {
                completion.fail();
            }
        }
    }

    /// The store stopped while it could not write: every completion held
    /// fails.
    pub(super) fn fail_acks(&mut self) {
        for completion in self.acks.pending.drain(..) {
            completion.fail();
        }
        self.acks.streams.clear();
        self.acks.lost_mark = self.lines_lost();
    }

    /// Lines this writer has dropped since it started.
    fn lines_lost(&self) -> u64 {
        self.lost_published + self.local.lines_dropped + self.local.lines_dropped_disk_full
    }
}
