//! [`AppendBatch`]: many lines for many streams in two allocations.
//!
//! A collector worker fills one batch per read (a `recvmmsg` burst, a TCP
//! buffer) and hands it to [`crate::StoreWriter::submit`]. Stream paths and
//! lines are copied into one byte arena, and each entry records ranges into
//! it, so pushing a line allocates nothing once the batch has grown to its
//! working size; [`AppendBatch::push_with`] even lets the caller format the
//! line straight into the arena. The store sends whole batches to its
//! writer threads and hands them back for reuse through
//! [`crate::StoreWriter::batch`].
//!
//! A batch whose lines belong to several writer threads is split without
//! copying a line: its arena moves into an [`Arc`] that every part shares,
//! each part keeps only its own entries, and whichever part is recycled
//! last hands the arena back for reuse ([`AppendBatch::split`],
//! [`AppendBatch::reclaim`]). Such parts never leave the store: a part
//! handed back to a producer is copied into a batch of its own first.
//!
//! A batch may carry a [`Completion`]: a sender that waits for its lines to
//! be stored (RELP) hands one in, and the writer drops its clone only once
//! the lines are written (see `writer/ack.rs`). Batches without one cost
//! nothing more.

use std::ops::Range;
use std::sync::Arc;

/// Told what became of a batch's lines. The store holds a clone of it per
/// writer thread the batch went to and drops each clone once that thread
/// has written its part of the batch to the segment files with `write(2)`
/// (and fsynced it, under `fsync = "batch"`); the owner learns that
/// the lines are stored when the last clone is gone. A part of which a line
/// was lost (a write error, the shutdown of a store that stayed full) calls
/// [`Completion::fail`] first.
pub trait Completion: Send + Sync + std::fmt::Debug {
    /// Some line of the batch was not stored.
    fn fail(&self);
}

#[cfg(test)]
mod tests;

/// Pooled batches keep at most this much arena capacity.
const POOLED_MAX_ARENA: usize = 4 * 1024 * 1024;

/// Pooled batches keep room for at most this many entries.
const POOLED_MAX_ENTRIES: usize = 64 * 1024;

/// One line of a batch: where its stream path and text lie in the arena.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    stream: Range<usize>,
    line: Range<usize>,
    /// The time the index is keyed by: the message's own.
    pub(crate) timestamp_micros: i64,
    /// When the message was received: what the write latency counts from.
    pub(crate) received_micros: i64,
    /// FNV-1a of the stream path; picks the writer thread.
    pub(crate) stream_hash: u64,
}

impl Entry {
    /// The stream path and line bytes of the entry in `bytes`, its batch's
    /// [`AppendBatch::bytes`].
    #[inline]
    pub(crate) fn resolve<'a>(&self, bytes: &'a [u8]) -> Option<(&'a [u8], &'a [u8])> {
        Some((
            bytes.get(self.stream.clone())?,
            bytes.get(self.line.clone())?,
        ))
    }
}

/// A batch of lines to append, each to its stream.
///
/// A line is one message already formatted and escaped by the caller. It
/// must not contain `\n`; any LF left in it is replaced by a space, so one
/// entry is always exactly one line on disk and sequence numbers stay true.
#[derive(Clone, Debug, Default)]
pub struct AppendBatch {
    arena: Vec<u8>,
    /// Set on a part of a split batch: the whole batch's arena, which the
    /// part's entries point into (its own `arena` is then empty).
    shared: Option<Arc<Vec<u8>>>,
    entries: Vec<Entry>,
    completion: Option<Arc<dyn Completion>>,
}

impl AppendBatch {
    /// An empty batch.
    pub fn new() -> AppendBatch {
        AppendBatch::default()
    }

    /// An empty batch with room for `entries` lines and `bytes` bytes of
    /// paths and text.
    pub fn with_capacity(entries: usize, bytes: usize) -> AppendBatch {
        AppendBatch {
            arena: Vec::with_capacity(bytes),
            shared: None,
            entries: Vec::with_capacity(entries),
            completion: None,
        }
    }

    /// Appends `line` to the stream `stream` (a relative path, as produced
    /// by [`crate::PathTemplate::expand_into`]).
    ///
    /// `timestamp_micros` is the message time in microseconds since the Unix
    /// epoch; it feeds the time index and stands for the receive time too
    /// (see [`AppendBatch::push_received_with`] to give both).
    pub fn push(&mut self, stream: &str, timestamp_micros: i64, line: &[u8]) {
        self.push_with(stream, timestamp_micros, |arena| {
            arena.extend_from_slice(line)
        });
    }

    /// Appends a line that `write_line` writes straight into the arena.
    ///
    /// `write_line` must only append to the vector it is given (as the
    /// formatters of `sinkd-proto` do). Should it shrink the vector instead,
    /// the entries whose bytes it removed are discarded rather than
    /// corrupted.
    pub fn push_with<F>(&mut self, stream: &str, timestamp_micros: i64, write_line: F)
    where
        F: FnOnce(&mut Vec<u8>),
    {
        self.push_received_with(stream, timestamp_micros, timestamp_micros, write_line);
    }

    /// Like [`AppendBatch::push_with`], with the two times apart:
    /// `timestamp_micros`, the time the stored line will be read back as
    /// (the message's own, completed as the line is written), keys the time
    /// index that `StreamReader::seek_time` searches; `received_micros` is
    /// when the message arrived, what [`crate::StoreConfig::on_write`]
    /// measures the wait from.
    pub fn push_received_with<F>(
        &mut self,
        stream: &str,
        timestamp_micros: i64,
        received_micros: i64,
        write_line: F,
    ) where
        F: FnOnce(&mut Vec<u8>),
    {
        if self.shared.is_some() {
            self.unshare();
        }
        let stream_range = self.stream_range(stream);
        let line_start = self.arena.len();
        write_line(&mut self.arena);
        if self.arena.len() < line_start {
            self.discard_beyond_arena();
            return;
        }
        let line_end = self.arena.len();
        let line = &mut self.arena[line_start..line_end];
        if memchr::memchr(b'\n', line).is_some() {
            for byte in line.iter_mut().filter(|byte| **byte == b'\n') {
                *byte = b' ';
            }
        }
        self.entries.push(Entry {
            stream: stream_range,
            line: line_start..line_end,
            timestamp_micros,
            received_micros,
            stream_hash: stream_hash(stream.as_bytes()),
        });
    }

    /// Lines in the batch.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the batch holds no line.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of paths and lines held.
    pub fn arena_bytes(&self) -> usize {
        self.arena.len()
    }

    /// Empties the batch, keeping its allocations for reuse (and dropping
    /// its completion).
    pub fn clear(&mut self) {
        self.arena.clear();
        self.shared = None;
        self.entries.clear();
        self.completion = None;
    }

    /// Asks to be told when the batch's lines are stored: see
    /// [`Completion`].
    pub fn set_completion(&mut self, completion: Arc<dyn Completion>) {
        self.completion = Some(completion);
    }

    /// The batch's completion, if it has one.
    pub fn completion(&self) -> Option<&Arc<dyn Completion>> {
        self.completion.as_ref()
    }

    /// Takes the batch's completion away, leaving none.
    pub(crate) fn take_completion(&mut self) -> Option<Arc<dyn Completion>> {
        self.completion.take()
    }

    /// The entries, each with its stream path and line, in push order.
    /// Entries whose ranges do not fit the arena (impossible unless a
    /// `push_with` closure misbehaved in a way not caught) are skipped.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], i64, &[u8])> + '_ {
        self.entries.iter().filter_map(|entry| {
            let (stream, line) = self.resolve(entry)?;
            Some((stream, entry.timestamp_micros, line))
        })
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The stream path and line bytes of `entry`.
    pub(crate) fn resolve(&self, entry: &Entry) -> Option<(&[u8], &[u8])> {
        entry.resolve(self.bytes())
    }

    /// The bytes the entries' ranges point into: a loop over the entries
    /// takes them once and resolves each with [`Entry::resolve`].
    pub(crate) fn bytes(&self) -> &[u8] {
        match &self.shared {
            Some(shared) => shared,
            None => &self.arena,
        }
    }

    /// Whether this is a part of a split batch, sharing its arena.
    #[cfg(test)]
    pub(crate) fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Splits the batch into `parts` parts (at least one), entry by entry
    /// as `part_of` says, without copying a line: the parts share the
    /// arena. The part of the first entry is this batch, keeping its
    /// entries' allocation; each part keeps its entries in order and
    /// carries a clone of the completion. A part no entry went to is
    /// `None`; a number past the last part counts as the last, so no line
    /// is ever left out.
    pub(crate) fn split(
        mut self,
        parts: usize,
        part_of: impl Fn(&Entry) -> usize,
    ) -> Vec<Option<AppendBatch>> {
        let parts = parts.max(1);
        let part_of = |entry: &Entry| part_of(entry).min(parts - 1);
        let mut split: Vec<Option<AppendBatch>> = (0..parts).map(|_| None).collect();
        let Some(first) = self.entries.first().map(&part_of) else {
            return split;
        };
        if self.shared.is_none() {
            self.shared = Some(Arc::new(std::mem::take(&mut self.arena)));
        }
        // Each line's part, found once; the counts size the parts, so a
        // part holds room for its own lines, not the batch's.
        let mut counts = vec![0usize; parts];
        let assigned: Vec<u32> = self
            .entries
            .iter()
            .map(|entry| {
                let part = part_of(entry);
                counts[part] += 1;
                part as u32
            })
            .collect();
        for (entry, &part) in self.entries.iter().zip(&assigned) {
            let part = part as usize;
            if part == first {
                continue;
            }
            split[part]
                .get_or_insert_with(|| AppendBatch {
                    arena: Vec::new(),
                    shared: self.shared.clone(),
                    entries: Vec::with_capacity(counts[part]),
                    completion: self.completion.clone(),
                })
                .entries
                .push(entry.clone());
        }
        let mut parts_of = assigned.iter();
        self.entries
            .retain(|_| parts_of.next().is_some_and(|&part| part as usize == first));
        split[first] = Some(self);
        split
    }

    /// A batch of this one's lines with an arena of its own: a part of a
    /// split batch is copied (or takes the arena, when the other parts are
    /// gone), any other batch comes back as it is.
    pub(crate) fn into_owned(mut self) -> AppendBatch {
        if self.shared.is_some() {
            self.unshare();
        }
        self
    }

    /// What of a recycled batch can be used again: a batch of its own
    /// whole; of the parts of a split batch, the last one recycled, which
    /// takes the shared arena back. The others are `None`.
    pub(crate) fn reclaim(mut self) -> Option<AppendBatch> {
        let Some(shared) = self.shared.take() else {
            return Some(self);
        };
        self.arena = Arc::into_inner(shared)?;
        Some(self)
    }

    /// Gives a part an arena of its own: the shared one when no other part
    /// holds it, else a copy of its lines.
    #[cold]
    #[inline(never)]
    fn unshare(&mut self) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        // The other parts are gone: the arena is this part's alone, and
        // the entries' ranges still point into it.
        let shared = match Arc::try_unwrap(shared) {
            Ok(arena) => {
                self.arena = arena;
                return;
            }
            Err(shared) => shared,
        };
        let entries = std::mem::take(&mut self.entries);
        self.entries.reserve(entries.len());
        self.arena.clear();
        for entry in &entries {
            self.push_resolved(entry.resolve(&shared), entry);
        }
    }

    /// Copies `entry` of `other` into this batch (used to gather the lines
    /// of parts a writer thread refused).
    pub(crate) fn push_entry_from(&mut self, other: &AppendBatch, entry: &Entry) {
        if self.shared.is_some() {
            self.unshare();
        }
        self.push_resolved(other.resolve(entry), entry);
    }

    /// Appends the stream path and line `resolved` from another arena as a
    /// copy of `entry`; nothing when the entry did not resolve.
    fn push_resolved(&mut self, resolved: Option<(&[u8], &[u8])>, entry: &Entry) {
        let Some((stream, line)) = resolved else {
            return;
        };
        let stream_range = self.stream_range_bytes(stream);
        let line_start = self.arena.len();
        self.arena.extend_from_slice(line);
        self.entries.push(Entry {
            stream: stream_range,
            line: line_start..self.arena.len(),
            timestamp_micros: entry.timestamp_micros,
            received_micros: entry.received_micros,
            stream_hash: entry.stream_hash,
        });
    }

    /// The batch emptied for the producers' pool, if it is worth pooling
    /// ([`AppendBatch::reclaim`]: of a split batch's parts, only the last
    /// one recycled). Memory beyond [`POOLED_MAX_ARENA`] and
    /// [`POOLED_MAX_ENTRIES`] is released, so a batch that once held a
    /// huge burst does not pin it while pooled.
    pub(crate) fn for_pool(self) -> Option<AppendBatch> {
        let mut batch = self.reclaim()?;
        batch.clear();
        if batch.arena.capacity() > POOLED_MAX_ARENA {
            batch.arena = Vec::new();
        }
        if batch.entries.capacity() > POOLED_MAX_ENTRIES {
            batch.entries = Vec::new();
        }
        Some(batch)
    }

    /// Reuses the previous entry's stream bytes when the stream repeats
    /// (the common case: a batch from one device), else copies the path.
    fn stream_range(&mut self, stream: &str) -> Range<usize> {
        self.stream_range_bytes(stream.as_bytes())
    }

    fn stream_range_bytes(&mut self, stream: &[u8]) -> Range<usize> {
        if let Some(previous) = self.entries.last() {
            if self.arena.get(previous.stream.clone()) == Some(stream) {
                return previous.stream.clone();
            }
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(stream);
        start..self.arena.len()
    }

    fn discard_beyond_arena(&mut self) {
        let arena_len = self.arena.len();
        self.entries
            .retain(|entry| entry.stream.end <= arena_len && entry.line.end <= arena_len);
    }
}

/// FNV-1a, 64 bits: stable for the life of the process, cheap on short
/// paths, and only used to spread streams over writer threads.
pub(crate) fn stream_hash(stream: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in stream {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}
