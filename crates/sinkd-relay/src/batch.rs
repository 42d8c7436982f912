//! [`RelayBatch`]: formatted messages for one relay, in one arena.
//!
//! A worker formats every message routed to a relay sink straight into the
//! relay's batch with [`RelayBatch::push_with`] (the sink's format from
//! `sinkd-proto`, unframed and unescaped) and hands the batch over once per
//! worker batch with [`crate::RelayHandle::offer`]. The relay keeps batches
//! whole in its memory queue and in its in-flight window, frames them
//! (`encode_frame`) only when writing, and recycles them back to the workers
//! through [`crate::RelayHandle::batch`], so a steady stream allocates
//! nothing per message.
//!
//! A Kafka sink's messages are *keyed records*: [`RelayBatch::push_keyed_with`]
//! writes a marker byte ([`KEYED`], which no syslog format or JSON object
//! starts with), the key's length (two bytes, big-endian), the key (the
//! device) and the value. The spool keeps them as they are, so a record
//! read back after a restart still has its key; [`split_record`] takes one
//! apart, and reads a plain message as a record without key, so a sink that
//! changes between Kafka and a syslog target keeps its queue.

use std::ops::Range;

#[cfg(test)]
mod tests;

/// Messages bound for one relay, stored back to back.
#[derive(Clone, Debug, Default)]
pub struct RelayBatch {
    arena: Vec<u8>,
    /// End offset in `arena` of each message; message `i` starts where
    /// message `i - 1` ends.
    ends: Vec<usize>,
}

impl RelayBatch {
    /// An empty batch.
    pub fn new() -> RelayBatch {
        RelayBatch::default()
    }

    /// An empty batch with room for `messages` messages of `bytes` bytes.
    pub fn with_capacity(messages: usize, bytes: usize) -> RelayBatch {
        RelayBatch {
            arena: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(messages),
        }
    }

    /// Appends one message.
    pub fn push(&mut self, message: &[u8]) {
        self.push_with(|arena| arena.extend_from_slice(message));
    }

    /// Appends the message that `write` appends to the arena (as
    /// `sinkd_proto::format::write_message` does) and returns its length.
    /// An empty message is not kept: no framing can carry it. Should
    /// `write` shrink the vector instead of appending, the batch is cut
    /// back to its last intact message and 0 is returned.
    pub fn push_with<F>(&mut self, write: F) -> usize
    where
        F: FnOnce(&mut Vec<u8>),
    {
        let start = self.arena.len();
        write(&mut self.arena);
        let end = self.arena.len();
        if end < start {
            while self.ends.last().is_some_and(|&last| last > end) {
                self.ends.pop();
            }
            let intact = self.ends.last().copied().unwrap_or(0);
            self.arena.truncate(intact);
            return 0;
        }
        if end > start {
            self.ends.push(end);
        }
        end - start
    }

    /// Appends one keyed record: `key` (cut to 65,535 bytes) and the value
    /// that `write` appends, as [`RelayBatch::push_with`] does. Returns the
    /// value's length.
    pub fn push_keyed_with<F>(&mut self, key: &[u8], write: F) -> usize
    where
        F: FnOnce(&mut Vec<u8>),
    {
        let key = &key[..key.len().min(usize::from(u16::MAX))];
        let mut value_len = 0;
        self.push_with(|buf| {
            buf.push(KEYED);
            buf.extend_from_slice(&(key.len() as u16).to_be_bytes());
            buf.extend_from_slice(key);
            let start = buf.len();
            write(buf);
            value_len = buf.len().saturating_sub(start);
        });
        value_len
    }

    /// Messages in the batch.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the batch holds no message.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes of all messages, unframed.
    pub fn bytes(&self) -> usize {
        self.arena.len()
    }

    /// Allocated capacity in bytes (arena and offsets), for recycling
    /// decisions.
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.arena.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()
    }

    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.ends.clear();
    }

    /// The messages, in push order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.ranges().filter_map(|range| self.arena.get(range))
    }

    /// Message `index`.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let end = *self.ends.get(index)?;
        let start = match index.checked_sub(1) {
            Some(previous) => self.ends.get(previous).copied().unwrap_or(0),
            None => 0,
        };
        self.arena.get(start..end)
    }

    /// Moves the messages from `index` on into a new batch, leaving the
    /// first `index` here.
    pub(crate) fn split_off(&mut self, index: usize) -> RelayBatch {
        if index >= self.ends.len() {
            return RelayBatch::new();
        }
        let cut = match index.checked_sub(1) {
            Some(previous) => self.ends[previous],
            None => 0,
        };
        let arena = self.arena.split_off(cut);
        let ends = self
            .ends
            .split_off(index)
            .into_iter()
            .map(|end| end - cut)
            .collect();
        RelayBatch { arena, ends }
    }

    fn ranges(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let range = start..end;
            start = end;
            range
        })
    }
}

/// First byte of a keyed record (see the module documentation).
pub(crate) const KEYED: u8 = 0xFF;

/// A message of a batch as a key (for a keyed record) and the value: what
/// goes on the wire. A plain message is its own value, without key; a
/// keyed record cut short reads as a record with an empty value.
pub(crate) fn split_record(message: &[u8]) -> (Option<&[u8]>, &[u8]) {
    match message {
        [KEYED, high, low, rest @ ..] => {
            let len = usize::from(u16::from_be_bytes([*high, *low]));
            match rest.split_at_checked(len) {
                Some((key, value)) => (Some(key), value),
                None => (Some(rest), &[]),
            }
        }
        _ => (None, message),
    }
}
