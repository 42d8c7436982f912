//! [`DeviceSet`]: the distinct devices seen, behind the `sinkd_devices`
//! gauge, and when the most recently seen of them last sent, behind
//! `sinkd_device_last_seen_seconds{device}`.
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
//!
//! Last-seen times are kept per batch, in whole seconds of the batch's
//! receive time: a small per-worker filter remembers which devices were
//! already reported for the current second, so the shared map of recent
//! devices is told about a device about once per second per worker, in one
//! lock per batch, and the hot path copies a device's name only then.
//! That map holds names (the label value) for at most
//! [`MAX_LAST_SEEN_DEVICES`] devices; when full, the quarter seen longest
//! ago is forgotten, so the exported series are the most recently seen
//! devices and their number is bounded whatever senders invent.

use sinkd_metrics::Metrics;
use sinkd_store::hint::prefetch;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

#[cfg(test)]
mod tests;

/// Most devices the shared set remembers.
pub const MAX_TRACKED_DEVICES: usize = 1_000_000;
/// Most devices whose last-seen time is exported (the series of
/// `sinkd_device_last_seen_seconds`).
pub const MAX_LAST_SEEN_DEVICES: usize = 10_000;
/// Most devices one worker remembers before it starts over.
const MAX_LOCAL_DEVICES: usize = 65_536;

/// A set of already-hashed keys (the shared set): the identity hasher
/// passes them through.
type HashedSet = HashSet<u64, std::hash::BuildHasherDefault<PassThrough>>;

/// Recently seen devices by hash: name and last second seen.
type RecentMap = HashMap<u64, (Box<str>, u32), std::hash::BuildHasherDefault<PassThrough>>;

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
    recent: Mutex<RecentMap>,
    hasher: foldhash::fast::RandomState,
    metrics: Arc<Metrics>,
}

/// A device a worker reports as seen: its hash and where its name ends in
/// the worker's buffer of names.
type Sighting = (u64, usize);

impl DeviceSet {
    /// The set, with a scrape hook that exports the recent devices'
    /// last-seen times.
    pub fn new(metrics: Arc<Metrics>) -> Arc<DeviceSet> {
        let set = Arc::new(DeviceSet {
            seen: Mutex::new(HashedSet::default()),
            recent: Mutex::new(RecentMap::default()),
            hasher: foldhash::fast::RandomState::default(),
            metrics: Arc::clone(&metrics),
        });
        let weak = Arc::downgrade(&set);
        metrics.add_scrape_hook(move || {
            if let Some(set) = weak.upgrade() {
                set.export_last_seen();
            }
        });
        set
    }

    /// Copies the recent devices into `sinkd_device_last_seen_seconds`.
    fn export_last_seen(&self) {
        // Copied out first, so the workers' reports never wait for the
        // gauges to be set.
        let snapshot: Vec<(Box<str>, i64)> = match self.recent.lock() {
            Ok(recent) => recent
                .values()
                .map(|(name, second)| (name.clone(), i64::from(*second)))
                .collect(),
            Err(_) => return,
        };
        self.metrics
            .set_devices_last_seen(snapshot.iter().map(|(name, second)| (&**name, *second)));
    }

    /// Records that the devices in `sightings` (names in `names`) sent at
    /// `second`.
    fn saw(&self, sightings: &[Sighting], names: &str, second: u32) {
        let Ok(mut recent) = self.recent.lock() else {
            return;
        };
        let mut start = 0;
        for &(hash, end) in sightings {
            let name = names.get(start..end).unwrap_or("");
            start = end;
            if let Some(entry) = recent.get_mut(&hash) {
                entry.1 = entry.1.max(second);
                continue;
            }
            if recent.len() >= MAX_LAST_SEEN_DEVICES {
                forget_oldest_quarter(&mut recent);
            }
            recent.insert(hash, (name.into(), second));
        }
    }

    /// Number of devices whose last-seen time is kept.
    pub fn recent_len(&self) -> usize {
        self.recent.lock().map(|recent| recent.len()).unwrap_or(0)
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

/// Removes the quarter of `recent` seen longest ago: one pass to find the
/// cut, one to remove, once per quarter of the bound in new devices.
fn forget_oldest_quarter(recent: &mut RecentMap) {
    // Ordered by (second, hash), so devices seen in the same second are
    // still told apart and exactly a quarter goes, however many share it.
    let mut keys: Vec<(u32, u64)> = recent
        .iter()
        .map(|(hash, (_, second))| (*second, *hash))
        .collect();
    let cut = keys.len() / 4;
    let (_, &mut threshold, _) = keys.select_nth_unstable(cut);
    recent.retain(|hash, (_, second)| (*second, *hash) > threshold);
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
    /// The devices already reported to the shared map of recent devices
    /// for `second`, direct-mapped by the hash's top bits (a collision
    /// only reports a device twice). 32 KiB that stay in cache, so the
    /// per-message check is one load, and a device's name is copied once
    /// a second, not once a message.
    reported: Box<[u64]>,
    /// The receive second of the current batch (0 before the first).
    second: u32,
    /// The devices of this batch to report, names in `report_names`.
    report: Vec<Sighting>,
    report_names: String,
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

/// Entries of the per-second filter of reported devices: 2^12.
const REPORTED_BITS: u32 = 12;

impl LocalDevices {
    pub(crate) fn new(shared: Arc<DeviceSet>) -> LocalDevices {
        LocalDevices {
            slots: vec![EMPTY; FIRST_SLOTS],
            len: 0,
            pending: Vec::new(),
            reported: vec![EMPTY; 1 << REPORTED_BITS].into_boxed_slice(),
            second: 0,
            report: Vec::new(),
            report_names: String::new(),
            shared,
        }
    }

    /// Starts a batch received at `second` (Unix seconds): devices noted
    /// from here on are reported as seen then. A new second empties the
    /// filter of devices already reported.
    pub(crate) fn begin(&mut self, second: i64) {
        // Unix seconds fit in 32 bits until 2106; 0 stays "never".
        let second = u32::try_from(second).unwrap_or(u32::MAX).max(1);
        if second != self.second {
            self.reported.fill(EMPTY);
            self.second = second;
        }
    }

    /// Notes `device` for the next [`LocalDevices::flush`]. Consecutive
    /// messages usually come from the same device (one TCP connection per
    /// device), and such repeats are noted once; a device not yet reported
    /// for this batch's second has its name kept for the report.
    pub(crate) fn observe(&mut self, device: &str) {
        let hash = match self.shared.hasher.hash_one(device) {
            EMPTY => EMPTY_STAND_IN,
            hash => hash,
        };
        if self.pending.last() != Some(&hash) {
            self.pending.push(hash);
            let reported = &mut self.reported[(hash >> (64 - REPORTED_BITS)) as usize];
            if *reported != hash {
                *reported = hash;
                self.report_names.push_str(device);
                self.report.push((hash, self.report_names.len()));
            }
        }
    }

    /// Adds the devices noted since the last call to the sets, and reports
    /// them as seen at the batch's second. The shared set is locked only
    /// for devices this worker had not seen, the map of recent devices
    /// once if any device was not yet reported for this second.
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
        if !self.report.is_empty() {
            self.shared
                .saw(&self.report, &self.report_names, self.second);
            self.report.clear();
            self.report_names.clear();
        }
        pending.clear();
        self.pending = pending;
    }

    fn home(&self, hash: u64) -> usize {
        hash as usize & (self.slots.len() - 1)
    }

    /// Adds `hash` if absent; `true` if it was added.
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
            for hash in std::mem::replace(&mut self.slots, doubled) {
                if hash != EMPTY {
                    self.place(hash);
                }
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
