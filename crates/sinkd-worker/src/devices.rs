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
use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

/// Most devices the shared set remembers.
pub const MAX_TRACKED_DEVICES: usize = 1_000_000;
/// Most devices one worker remembers before it starts over.
const MAX_LOCAL_DEVICES: usize = 65_536;

/// A set of already-hashed keys: the identity hasher passes them through.
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
pub(crate) struct LocalDevices {
    known: HashedSet,
    /// The hash of the previous message's device: consecutive messages
    /// usually come from the same device (one TCP connection per device).
    last: Option<u64>,
    shared: Arc<DeviceSet>,
}

impl LocalDevices {
    pub(crate) fn new(shared: Arc<DeviceSet>) -> LocalDevices {
        LocalDevices {
            known: HashedSet::default(),
            last: None,
            shared,
        }
    }

    /// Records `device`; the shared set is locked only the first time this
    /// worker sees it.
    pub(crate) fn observe(&mut self, device: &str) {
        let device_hash = self.shared.hasher.hash_one(device);
        if self.last == Some(device_hash) {
            return;
        }
        self.last = Some(device_hash);
        if self.known.contains(&device_hash) {
            return;
        }
        if self.known.len() >= MAX_LOCAL_DEVICES {
            self.known.clear();
        }
        self.known.insert(device_hash);
        self.shared.insert(device_hash);
    }
}
