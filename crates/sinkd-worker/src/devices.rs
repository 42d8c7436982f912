//! [`DeviceSet`]: the distinct devices seen, behind the `sinkd_devices`
//! gauge.
//!
//! A device is remembered by a 64-bit hash of its key, not by the key
//! itself: the per-message check is then one hash and one probe of a table
//! of integers, with no string to fetch and compare (at 10,000 devices that
//! string comparison was an eighth of the worker's time). The hasher is a
//! process-wide seeded foldhash, so a sender cannot choose names that
//! collide; an accidental collision of two devices' 64-bit hashes would
//! under-count the gauge by one, and touches nothing else.
//!
//! Each worker remembers the devices it has already reported in a local
//! set, so the shared set (behind a mutex) is touched once per new device
//! per worker, not once per message. Both sets are bounded: device names
//! come from the network, and a sender inventing a new hostname per message
//! must not grow memory without end. Past the bound the gauge stops
//! growing, which the metric's documentation says.

use sinkd_metrics::Metrics;
use sinkd_store::hint::prefetch;
use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

#[cfg(test)]
mod tests;

/// Most devices the shared set remembers.
pub const MAX_TRACKED_DEVICES: usize = 1_000_000;
/// Most devices one worker remembers before it starts over.
const MAX_LOCAL_DEVICES: usize = 65_536;

/// A set of already-hashed keys (the shared set): the identity hasher
/// passes them through.
type HashedSet = HashSet<u64, std::hash::BuildHasherDefault<PassThrough>>;

/// Hasher for keys that are already uniformly distributed 64-bit hashes.
#[derive(Default)]
struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// The devices seen by every worker.
pub struct DeviceSet {
    seen: Mutex<HashedSet>,
    hasher: foldhash::fast::RandomState,
    metrics: Arc<Metrics>,
}

impl DeviceSet {
    pub fn new(metrics: Arc<Metrics>) -> Arc<DeviceSet> {
        Arc::new(DeviceSet {
            seen: Mutex::new(HashedSet::default()),
            hasher: foldhash::fast::RandomState::default(),
            metrics,
        })
    }

    fn insert(&self, device_hash: u64) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        if seen.len() < MAX_TRACKED_DEVICES && seen.insert(device_hash) {
            self.metrics.devices.set(seen.len() as i64);
        }
    }

    /// Number of distinct devices recorded.
    pub fn len(&self) -> usize {
        self.seen.lock().map(|seen| seen.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A worker's view: a local cache in front of the shared set.
///
/// The messages of a batch only note their device's hash
/// ([`LocalDevices::observe`]); [`LocalDevices::flush`] looks them up
/// together at the end of the batch, loading each slot a few lookups ahead.
/// With 10,000 devices the table is larger than the first-level cache and
/// a lookup in the middle of parsing was a cache miss per message.
pub(crate) struct LocalDevices {
    /// Open addressing over the hashes themselves (`EMPTY` = free), a
    /// power of two in length, at most half full.
    slots: Vec<u64>,
    len: usize,
    /// Hashes noted since the last flush.
    pending: Vec<u64>,
    shared: Arc<DeviceSet>,
}

/// A free slot. A device whose hash is this value is stored as
/// [`EMPTY_STAND_IN`] instead; two devices sharing it only under-count
/// the gauge, like any other 64-bit collision.
const EMPTY: u64 = 0;
const EMPTY_STAND_IN: u64 = 1;

/// Slots of a new local table.
const FIRST_SLOTS: usize = 1024;

/// How many lookups ahead `flush` loads a slot.
const PREFETCH_AHEAD: usize = 8;

impl LocalDevices {
    pub(crate) fn new(shared: Arc<DeviceSet>) -> LocalDevices {
        LocalDevices {
            slots: vec![EMPTY; FIRST_SLOTS],
            len: 0,
            pending: Vec::new(),
            shared,
        }
    }

    /// Notes `device` for the next [`LocalDevices::flush`]. Consecutive
    /// messages usually come from the same device (one TCP connection per
    /// device), and such repeats are noted once.
    pub(crate) fn observe(&mut self, device: &str) {
        let hash = match self.shared.hasher.hash_one(device) {
            EMPTY => EMPTY_STAND_IN,
            hash => hash,
        };
        if self.pending.last() != Some(&hash) {
            self.pending.push(hash);
        }
    }

    /// Records the devices noted since the last call; the shared set is
    /// locked only for those this worker had not seen.
    pub(crate) fn flush(&mut self) {
        let mut pending = std::mem::take(&mut self.pending);
        for (index, &hash) in pending.iter().enumerate() {
            if let Some(&ahead) = pending.get(index + PREFETCH_AHEAD) {
                prefetch(&self.slots[self.home(ahead)], size_of::<u64>());
            }
            if self.insert(hash) {
                self.shared.insert(hash);
            }
        }
        pending.clear();
        self.pending = pending;
    }

    fn home(&self, hash: u64) -> usize {
        hash as usize & (self.slots.len() - 1)
    }

    /// Adds `hash`; `false` if it was there already.
    fn insert(&mut self, hash: u64) -> bool {
        let mask = self.slots.len() - 1;
        let mut index = self.home(hash);
        loop {
            match self.slots[index] {
                EMPTY => break,
                found if found == hash => return false,
                _ => index = (index + 1) & mask,
            }
        }
        if self.len >= MAX_LOCAL_DEVICES {
            // Bounded: start over rather than grow without end.
            self.slots = vec![EMPTY; FIRST_SLOTS];
            self.len = 0;
        } else if (self.len + 1) * 2 > self.slots.len() {
            let doubled = vec![EMPTY; self.slots.len() * 2];
            let old = std::mem::replace(&mut self.slots, doubled);
            for hash in old.into_iter().filter(|&hash| hash != EMPTY) {
                self.place(hash);
            }
        }
        self.place(hash);
        self.len += 1;
        true
    }

    fn place(&mut self, hash: u64) {
        let mask = self.slots.len() - 1;
        let mut index = self.home(hash);
        while self.slots[index] != EMPTY {
            index = (index + 1) & mask;
        }
        self.slots[index] = hash;
    }
}
