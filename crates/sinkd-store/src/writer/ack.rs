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
//! `write` per stream for several batches. Batches without a completion
//! change nothing here. A paused writer (disk full) keeps its completions
//! until its writes go through; if it gives up at shutdown, they fail.
//!
//! Failure is judged per stream: while an acknowledged batch is being
//! appended or waits to be settled, every stream that drops a line (a
//! write error, a stream whose path is invalid, no memory) is noted, and a
//! completion fails when one of its batch's streams was; the sender then
//! sends again rather than lose a line (the worst case is a duplicate),
//! while completions of healthy streams on the same writer are not
//! affected. Past [`MAX_LOST_NOTED`] noted streams between two settlings,
//! every pending completion fails.

use super::Writer;
use crate::batch::{AppendBatch, Completion};
use crossbeam_channel::Receiver;
use std::sync::Arc;

/// Most completions a writer holds before it settles them, even while more
/// batches wait in its queue.
const MAX_PENDING: usize = 64;

/// Streams with lost lines noted between two settlings before every
/// pending completion is failed instead.
const MAX_LOST_NOTED: usize = 4096;

/// The completions of batches appended but not yet settled.
#[derive(Default)]
pub(super) struct Acks {
    /// Each completion with the range of `streams` its batch touched.
    pending: Vec<(Arc<dyn Completion>, std::ops::Range<usize>)>,
    /// The streams those batches appended to.
    streams: Vec<u32>,
    /// Streams that dropped a line since the last settling (while
    /// `collecting` or completions were pending).
    lost: Vec<u32>,
    /// More than [`MAX_LOST_NOTED`] were.
    lost_overflow: bool,
    /// The batch being appended carries a completion.
    pub(super) collecting: bool,
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
        self.acks.collecting = false;
        let Some(completion) = batch.take_completion() else {
            return;
        };
        let start = self.acks.streams.len();
        let mut previous = None;
        for &id in ids {
            if previous != Some(id) && (id as usize) < self.streams.len() {
                self.acks.streams.push(id);
            }
            previous = Some(id);
        }
        let end = self.acks.streams.len();
        self.acks.pending.push((completion, start..end));
    }

    /// Stream `id` dropped a line: noted while an acknowledged batch is
    /// appended or waits, so that its completion fails.
    pub(super) fn note_lost(&mut self, id: u32) {
        let acks = &mut self.acks;
        if !acks.collecting && acks.pending.is_empty() {
            return;
        }
        if acks.lost.last() == Some(&id) {
            return;
        }
        if acks.lost.len() >= MAX_LOST_NOTED {
            acks.lost_overflow = true;
            return;
        }
        acks.lost.push(id);
    }

    /// Writes the buffers of every stream the pending completions' batches
    /// touched, then drops the completions (failing those one of whose
    /// streams lost a line). While the writer is paused nothing is
    /// settled.
    pub(super) fn settle_acks(&mut self) {
        if self.acks.pending.is_empty() || self.paused.is_some() {
            return;
        }
        let mut touched = self.acks.streams.clone();
        touched.sort_unstable();
        touched.dedup();
        for &id in &touched {
            self.flush_stream(id);
            if self.paused.is_some() {
                // Out of space part-way: what was not written stays
                // buffered, and so do the completions.
                return;
            }
        }
        let acks = &mut self.acks;
        acks.lost.sort_unstable();
        acks.lost.dedup();
        for (completion, range) in acks.pending.drain(..) {
            let lost = acks.lost_overflow
                || acks.streams[range]
                    .iter()
                    .any(|id| acks.lost.binary_search(id).is_ok());
            if lost {
                completion.fail();
            }
        }
        acks.streams.clear();
        acks.lost.clear();
        acks.lost_overflow = false;
    }

    /// The store stopped while it could not write: every completion held
    /// fails.
    pub(super) fn fail_acks(&mut self) {
        for (completion, _) in self.acks.pending.drain(..) {
            completion.fail();
        }
        self.acks.streams.clear();
        self.acks.lost.clear();
        self.acks.lost_overflow = false;
    }
}
