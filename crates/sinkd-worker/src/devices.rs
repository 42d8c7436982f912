//! [`DeviceSet`]: the distinct devices seen, behind the `sinkd_devices`
//! gauge.
//!
//! Each worker remembers the devices it has already reported in a local
//! set, so the shared set (behind a mutex) is touched once per new device
//! per worker, not once per message. Both sets are bounded: device names
//! come from the network, and a sender inventing a new hostname per message
//! must not grow memory without end. Past the bound the gauge stops
//! growing, which the metric's documentation says.

use sinkd_metrics::Metrics;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Most devices the shared set remembers.
pub const MAX_TRACKED_DEVICES: usize = 1_000_000;
/// Most devices one worker remembers before it starts over.
const MAX_LOCAL_DEVICES: usize = 65_536;

/// The devices seen by every worker.
pub struct DeviceSet {
    seen: Mutex<HashSet<Box<str>>>,
    metrics: Arc<Metrics>,
}

impl DeviceSet {
    pub fn new(metrics: Arc<Metrics>) -> Arc<DeviceSet> {
        Arc::new(DeviceSet {
            seen: Mutex::new(HashSet::new()),
            metrics,
        })
    }

    fn insert(&self, device: &str) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        if seen.len() < MAX_TRACKED_DEVICES && !seen.contains(device) {
            seen.insert(device.into());
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
    /// foldhash: seeded per process (device names come from the network)
    /// and much cheaper than SipHash on short names.
    known: foldhash::HashSet<Box<str>>,
    /// The device of the previous message: consecutive messages usually
    /// come from the same device (one TCP connection per device).
    last: String,
    shared: Arc<DeviceSet>,
}

impl LocalDevices {
    pub(crate) fn new(shared: Arc<DeviceSet>) -> LocalDevices {
        LocalDevices {
            known: foldhash::HashSet::default(),
            last: String::new(),
            shared,
        }
    }

    /// Records `device`; allocation happens only the first time this worker
    /// sees it.
    pub(crate) fn observe(&mut self, device: &str) {
        if self.last == device {
            return;
        }
        self.last.clear();
        self.last.push_str(device);
        if self.known.contains(device) {
            return;
        }
        if self.known.len() >= MAX_LOCAL_DEVICES {
            self.known.clear();
        }
        self.known.insert(device.into());
        self.shared.insert(device);
    }
}
