//! Intake: a batch from the queue becomes appends to stream ids.
//!
//! With thousands of streams, each line's stream lookup, stream state and
//! buffer tail are cache misses, so a batch is taken in three passes. The
//! stream paths are hashed first (a run of lines for one stream once) and
//! their slots in the id table prefetched; then the ids are resolved, the
//! key to compare prefetched a few lookups ahead, and a stream seen for the
//! first time gets its state (unopened, or refusing every line when its
//! path fails validation); then the lines are appended in order, with the
//! state of the stream a few lines ahead ([`HOT_BYTES`] of it) and the end
//! of its buffer prefetched. After the batch come the memory budget, the
//! `EveryBatch` fsync and the counters, and the emptied batch goes back to
//! the producers for reuse. When the thread pauses for lack of space in the
//! middle of a batch, the rest of it is held, ids resolved, and appending
//! continues from the line that could not be taken once space returns
//! ([`super::Held`]).

use super::{now_micros, Held, Phase, Stream, Writer, HOT_BYTES};
use crate::batch::AppendBatch;
use crate::config::FsyncPolicy;
use crate::hint;
use crate::path::validate_stream_path;
use crate::stats;
use std::path::Path;
use std::time::Instant;

/// In `handle_batch`, how many lines ahead a stream's state, and then the
/// end of its buffer, are prefetched.
pub(super) const PREFETCH_STATE_AHEAD: usize = 8;
/// How many lookups ahead the id table's key to compare is prefetched.
const PREFETCH_KEY_AHEAD: usize = 8;
const PREFETCH_TAIL_AHEAD: usize = 4;

/// The id of a batch entry whose bytes could not be resolved.
const NO_STREAM: u32 = u32::MAX;

impl Writer {
    pub(super) fn handle_batch(&mut self, batch: AppendBatch) {
        if self.discarding {
            self.local.lines_dropped_disk_full += batch.entries().len() as u64;
            if let Some(completion) = batch.completion() {
                completion.fail();
            }
            self.publish();
            self.recycle(batch);
            return;
        }
        // With thousands of streams, each line's stream lookup, stream
        // state and buffer tail are cache misses. Hashing every path first
        // lets the id table's slots be loaded ahead of the lookups, and the
        // append pass asks for the state of the streams a few lines ahead
        // before it needs them.
        let mut hashes = std::mem::take(&mut self.batch_hashes);
        hashes.clear();
        let bytes = batch.bytes();
        let mut previous: Option<(&[u8], u64)> = None;
        for entry in batch.entries() {
            let hash = match (entry.resolve(bytes), previous) {
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
            let id = match entry.resolve(bytes) {
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
        self.append_entries(batch, ids, 0);
    }

    /// Appends the batch's lines from `start` on (`ids` are their streams),
    /// then does what follows a batch. When the thread pauses, the rest is
    /// held instead.
    pub(super) fn append_entries(&mut self, mut batch: AppendBatch, ids: Vec<u32>, start: usize) {
        let now = Instant::now();
        let wall = now_micros();
        self.acks.collecting = batch.completion().is_some();
        let bytes = batch.bytes();
        for (index, entry) in batch.entries().iter().enumerate().skip(start) {
            if let Some(stream) = ids
                .get(index + PREFETCH_STATE_AHEAD)
                .and_then(|&ahead| self.streams.get(ahead as usize))
            {
                hint::prefetch(stream, HOT_BYTES);
            }
            if let Some(stream) = ids
                .get(index + PREFETCH_TAIL_AHEAD)
                .and_then(|&ahead| self.streams.get(ahead as usize))
            {
                self.pool.prefetch_tail(&stream.buf);
            }
            let id = ids[index];
            let Some((_, line)) = entry.resolve(bytes).filter(|_| id != NO_STREAM) else {
                continue;
            };
            let taken = self.append(
                id,
                (entry.timestamp_micros, entry.received_micros),
                line,
                now,
                wall,
            );
            if self.paused.is_some() {
                let next = if taken { index + 1 } else { index };
                self.held = Some(Held { batch, ids, next });
                self.publish();
                return;
            }
        }
        self.hold_ack(&mut batch, &ids);
        self.batch_ids = ids;
        if self.pool.held_bytes() > self.shared.buffer_budget {
            self.flush_largest();
        }
        if self.shared.config.fsync == FsyncPolicy::EveryBatch {
            self.flush_dirty();
            self.sync_unsynced();
        }
        self.publish();
        self.recycle(batch);
    }

    /// Hands an emptied batch back to the producers for reuse; of a split
    /// batch's parts, only the last one done, with the shared arena.
    pub(super) fn recycle(&self, batch: AppendBatch) {
        if let Some(batch) = batch.for_pool() {
            let _ = self.shared.recycle_tx.try_send(batch);
        }
    }

    /// The id of `stream` (whose hash in `ids` is `hash`), creating its
    /// (unopened) state on first sight.
    fn stream_id(&mut self, stream: &[u8], hash: u64) -> u32 {
        if let Some(id) = self.ids.get(stream, hash) {
            return id;
        }
        // The directory is `data_dir` joined to the path, made when needed
        // (`Writer::stream_dir`); a path that fails validation never gets
        // one: its lines are refused.
        let phase = match std::str::from_utf8(stream)
            .map_err(|_| ())
            .and_then(|path| validate_stream_path(path).map_err(|_| ()))
        {
            Ok(()) => Phase::Unopened,
            Err(()) => {
                self.warn(
                    "validate",
                    Path::new(&*String::from_utf8_lossy(stream)),
                    "invalid stream path",
                );
                Phase::Invalid
            }
        };
        let state = Stream {
            phase,
            ..Stream::vacant()
        };
        let id = self.ids.insert(stream, hash);
        // A forgotten stream's id comes back before a new one is made.
        match self.streams.get_mut(id as usize) {
            Some(vacant) => {
                debug_assert_eq!(vacant.phase, Phase::Vacant);
                *vacant = state;
            }
            None => {
                debug_assert_eq!(id as usize, self.streams.len());
                self.streams.push(state);
            }
        }
        stats::add(&self.shared.stats.open_streams, 1);
        id
    }
}
