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
//! receive time: each device's slot in the worker's table holds the second
//! it was last reported for, so the shared map of recent devices is told
//! about a device once per second per worker, in one lock per batch.
//! That map holds names (the label value) for at most
//! [`MAX_LAST_SEEN_DEVICES`] devices; when full, the quarter reported
//! longest ago is forgotten, but never a device reported within the last
//! second or two (by the set's own monotonic clock, so a wall clock that
//! steps does not pin the map): a newcomer that finds only such devices is
//! left out until one goes quiet. So the exported series are recently
//! seen devices, their number is bounded whatever senders invent, and with
//! a fleet larger than the bound they stay the same while their devices
//! keep sending, instead of a quarter being redrawn every few thousand
//! reports.
//!
//! The same map keeps, per device, its messages by severity since it was
//! first remembered and its messages in the current and the previous
//! minute ([`DeviceSet::activity`], behind the web console's devices
//! page). A message costs one increment in the batch's pending entry (the
//! consecutive messages of one device share an entry). At the end of the
//! batch the entries are added to the worker's unsent counts, found
//! through the local table's slot the flush probes anyway. The unsent
//! counts sit behind a mutex of their own that the worker takes once per
//! batch and that nobody else takes but a reader of the activity, which
//! adds them in as it reads: so the console always sees every batch a
//! worker finished, and the worker moves its counts into the shared map
//! only when a batch of another second begins, at the second they were
//! counted in. A worker thus probes the shared map about
//! once per device per second, never once per message or per batch (UDP's
//! batches are small, and the per-batch handover of a few dozen devices'
//! counts was most of the per-device cost there). A device's counts need
//! its name in the map, so they start with its first report; those of a
//! device forgotten or left out meanwhile are dropped. A worker that stops
//! hands its unsent counts over as it goes.

use sinkd_metrics::Metrics;
use sinkd_store::hint::prefetch;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Instant;

#[cfg(test)]
mod tests;

/// Most devices the shared set remembers.
pub const MAX_TRACKED_DEVICES: usize = 1_000_000;
/// Most devices whose last-seen time is exported (the series of
/// `sinkd_device_last_seen_seconds`).
pub const MAX_LAST_SEEN_DEVICES: usize = 10_000;
/// Most devices one worker remembers before it starts over: a fleet of
/// 100,000 fits (past the bound the table empties again and again, and
/// every device is new to it each time), in at most 4 MiB of slots.
const MAX_LOCAL_DEVICES: usize = 131_072;

/// A set of already-hashed keys (the shared set): the identity hasher
/// passes them through.
type HashedSet = HashSet<u64, std::hash::BuildHasherDefault<PassThrough>>;

/// Recently seen devices by hash.
type RecentMap = HashMap<u64, Recent, std::hash::BuildHasherDefault<PassThrough>>;

/// The map of recent devices, and a tick of the set's clock no device in
/// it was last reported before ([`forget_quiet_quarter`] raises it when it
/// finds nothing older to forget; a device added or reported is stamped
/// with the current tick, never an earlier one): while no device is quiet
/// enough to forget, newcomers are left out without a walk of the map.
#[derive(Default)]
struct Recents {
    map: RecentMap,
    none_before: u32,
    /// Walks of the map to make room (what the tests check).
    #[cfg(test)]
    passes: usize,
}

impl std::ops::Deref for Recents {
    type Target = RecentMap;
    fn deref(&self) -> &RecentMap {
        &self.map
    }
}

impl std::ops::DerefMut for Recents {
    fn deref_mut(&mut self) -> &mut RecentMap {
        &mut self.map
    }
}

/// The workers' unsent counts per device hash, with their second.
type UnsentSums =
    HashMap<u64, (u32, [u32; SEVERITIES]), std::hash::BuildHasherDefault<PassThrough>>;

/// The eight severities, emerg (0) to debug (7).
pub const SEVERITIES: usize = 8;

/// What is kept of a recently seen device.
struct Recent {
    name: Box<str>,
    /// The last second it sent (Unix seconds).
    second: u32,
    /// When it was last reported, in ticks of the set's clock
    /// ([`DeviceSet::tick`]): what decides which devices make room.
    reported: u32,
    counts: Counts,
}

impl Recent {
    fn new(name: &str, second: u32, reported: u32) -> Recent {
        Recent {
            name: name.into(),
            second,
            reported,
            counts: Counts {
                by_severity: [0; SEVERITIES],
                minute: second / 60,
                this_minute: 0,
                last_minute: 0,
            },
        }
    }
}

/// A device's messages: by severity, and per minute.
#[derive(Clone, Copy)]
struct Counts {
    /// Its messages by severity since it was remembered.
    by_severity: [u64; SEVERITIES],
    /// The minute (Unix seconds / 60) `this_minute` counts.
    minute: u32,
    this_minute: u32,
    /// The messages of the minute before `minute`.
    last_minute: u32,
}

impl Counts {
    /// Adds messages received at `second`.
    fn add(&mut self, second: u32, counts: &[u32; SEVERITIES]) {
        let total: u32 = counts.iter().sum();
        for (kept, &added) in self.by_severity.iter_mut().zip(counts) {
            *kept += u64::from(added);
        }
        let minute = second / 60;
        if minute > self.minute {
            self.last_minute = if minute == self.minute + 1 {
                self.this_minute
            } else {
                0
            };
            self.this_minute = 0;
            self.minute = minute;
        }
        if minute == self.minute {
            self.this_minute = self.this_minute.saturating_add(total);
        } else if minute + 1 == self.minute {
            // A batch of the previous minute, late from another worker.
            self.last_minute = self.last_minute.saturating_add(total);
        }
    }

    /// Messages in the 60 seconds before `now` (Unix seconds): the current
    /// minute's, plus the previous minute's in proportion to the part of it
    /// still inside the window.
    fn per_minute(&self, now: u32) -> f64 {
        let minute = now / 60;
        let outside = f64::from(now % 60) / 60.0;
        if self.minute == minute {
            f64::from(self.this_minute) + f64::from(self.last_minute) * (1.0 - outside)
        } else if self.minute + 1 == minute {
            f64::from(self.this_minute) * (1.0 - outside)
        } else {
            0.0
        }
    }
}

/// One device's activity as [`DeviceSet::activity`] hands it over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Activity<'a> {
    pub name: &'a str,
    /// The last second it sent (Unix seconds).
    pub last_seen: u32,
    /// Messages per minute, over the last 60 seconds.
    pub per_minute: f64,
    /// Messages by severity (emerg first) since it was remembered.
    pub severities: &'a [u64; SEVERITIES],
}

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
    recent: Mutex<Recents>,
    /// Each worker's unsent counts, which readers add in. Locked after
    /// `recent` whenever both are held (by a reader, or a worker handing
    /// its counts over), so neither waits for the other in a cycle.
    workers: Mutex<Vec<Weak<Mutex<Unsent>>>>,
    hasher: foldhash::fast::RandomState,
    metrics: Arc<Metrics>,
    /// The start of the set's clock ([`DeviceSet::tick`]).
    epoch: Instant,
    /// Set by tests to stand for the clock (0: the clock runs).
    #[cfg(test)]
    fake_tick: std::sync::atomic::AtomicU32,
}

/// A worker's counts not yet in the shared map.
#[derive(Default)]
struct Unsent {
    entries: Vec<Pending>,
    /// The second they will be added at (the worker's current one).
    second: u32,
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
            recent: Mutex::new(Recents::default()),
            workers: Mutex::new(Vec::new()),
            hasher: foldhash::fast::RandomState::default(),
            metrics: Arc::clone(&metrics),
            epoch: Instant::now(),
            #[cfg(test)]
            fake_tick: std::sync::atomic::AtomicU32::new(0),
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
                .map(|entry| (entry.name.clone(), i64::from(entry.second)))
                .collect(),
            Err(_) => return,
        };
        self.metrics
            .set_devices_last_seen(snapshot.iter().map(|(name, second)| (&**name, *second)));
    }

    /// Records that the devices in `sightings` (names in `names`) sent at
    /// `second`, and with `unsent`, moves a worker's unsent counts into
    /// their devices' (under both locks, so a reader sees them once).
    fn saw(
        &self,
        sightings: &[Sighting],
        names: &str,
        second: u32,
        unsent: Option<&Mutex<Unsent>>,
    ) {
        let Ok(mut recent) = self.recent.lock() else {
            return;
        };
        // Read under the lock: the ticks stamped are in the lock's order.
        let now = self.tick();
        let mut start = 0;
        for &(hash, end) in sightings {
            let name = names.get(start..end).unwrap_or("");
            start = end;
            if let Some(entry) = recent.get_mut(&hash) {
                entry.second = entry.second.max(second);
                entry.reported = now;
                continue;
            }
            if recent.len() >= MAX_LAST_SEEN_DEVICES && !forget_quiet_quarter(&mut recent, now) {
                // Every device kept reported a moment ago: this one is
                // left out until one goes quiet (it still counts in the
                // set, and reports again in its next second).
                continue;
            }
            recent.insert(hash, Recent::new(name, second, now));
        }
        if let Some(unsent) = unsent {
            let mut unsent = unsent.lock().unwrap_or_else(PoisonError::into_inner);
            for entry in &unsent.entries {
                if let Some(device) = recent.get_mut(&entry.hash) {
                    device.counts.add(second, &entry.counts);
                }
            }
            unsent.entries.clear();
        }
    }

    /// Hands every remembered device's activity to `visit`, messages per
    /// minute as of `now` (Unix seconds), with the counts the workers have
    /// not handed over yet added in. The map stays locked meanwhile (the
    /// workers wait): `visit` should only copy.
    pub fn activity(&self, now: i64, mut visit: impl FnMut(Activity<'_>)) {
        let now = u32::try_from(now.max(0)).unwrap_or(u32::MAX);
        let Ok(recent) = self.recent.lock() else {
            return;
        };
        let unsent = self.unsent_counts();
        for (hash, entry) in recent.iter() {
            let mut counts = entry.counts;
            if let Some((second, added)) = unsent.get(hash) {
                counts.add(*second, added);
            }
            visit(Activity {
                name: &entry.name,
                last_seen: entry.second,
                per_minute: counts.per_minute(now),
                severities: &counts.by_severity,
            });
        }
    }

    /// Every worker's unsent counts, added up per device, with the latest
    /// second they are for. Called with `recent` locked.
    fn unsent_counts(&self) -> UnsentSums {
        let mut sums = UnsentSums::default();
        let Ok(mut workers) = self.workers.lock() else {
            return sums;
        };
        workers.retain(|worker| worker.strong_count() > 0);
        for worker in workers.iter().filter_map(Weak::upgrade) {
            let Ok(unsent) = worker.lock() else {
                continue;
            };
            for entry in &unsent.entries {
                let (second, counts) = sums.entry(entry.hash).or_insert((0, [0; SEVERITIES]));
                *second = (*second).max(unsent.second);
                for (count, added) in counts.iter_mut().zip(entry.counts) {
                    *count = count.saturating_add(added);
                }
            }
        }
        sums
    }

    /// Registers a worker's unsent counts for readers to add in.
    fn register(&self, unsent: &Arc<Mutex<Unsent>>) {
        if let Ok(mut workers) = self.workers.lock() {
            workers.retain(|worker| worker.strong_count() > 0);
            workers.push(Arc::downgrade(unsent));
        }
    }

    /// Seconds since the set was made, on the monotonic clock. Which
    /// devices the recent map keeps follows this, not the receive seconds
    /// the workers report: a wall clock stepped back would otherwise
    /// leave the map full of devices that look newer than every newcomer,
    /// and a batch a worker received long ago would make its devices look
    /// quiet.
    fn tick(&self) -> u32 {
        #[cfg(test)]
        {
            let fake = self.fake_tick.load(std::sync::atomic::Ordering::Relaxed);
            if fake != 0 {
                return fake;
            }
        }
        u32::try_from(self.epoch.elapsed().as_secs()).unwrap_or(u32::MAX)
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

/// Makes room in the full map for a newcomer at tick `now`: removes the
/// quarter reported longest ago, but none reported in this tick or the one
/// before (a device sending steadily is reported about once a second, so
/// it stays); `false` when none is that quiet, and then, until a later
/// tick, says so without walking the map again. One pass to find the cut
/// and one to remove, at most once per quarter of the bound in newcomers.
/// With more devices sending every second than the bound (100,000 against
/// 10,000) the map keeps the devices it holds while they keep sending,
/// instead of forgetting a quarter of them for every 2,500 newcomers, and
/// the exported series stay the same.
fn forget_quiet_quarter(recent: &mut Recents, now: u32) -> bool {
    // Reported before this: quiet enough to forget.
    let quiet_before = now.saturating_sub(1);
    if quiet_before <= recent.none_before {
        return false;
    }
    #[cfg(test)]
    {
        recent.passes += 1;
    }
    // Ordered by (tick, hash), so devices reported in the same tick are
    // still told apart and at most a quarter goes, however many share it.
    let mut keys: Vec<(u32, u64)> = recent
        .iter()
        .map(|(hash, entry)| (entry.reported, *hash))
        .collect();
    // The last of the quarter: it and all before it go.
    let cut = (keys.len() / 4).max(1) - 1;
    let (_, &mut threshold, _) = keys.select_nth_unstable(cut);
    let threshold = threshold.min((quiet_before, 0));
    let before = recent.len();
    recent.retain(|hash, entry| (entry.reported, *hash) > threshold);
    if recent.len() < before {
        return true;
    }
    recent.none_before = quiet_before;
    false
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
    slots: Vec<Slot>,
    len: usize,
    /// Devices noted since the last flush, with their messages.
    pending: Vec<Noted>,
    /// The names of `pending`'s devices, one after the other.
    pending_names: String,
    /// The receive second of the current batch (0 before the first).
    second: u32,
    /// The devices of this batch to report, names in `report_names`.
    report: Vec<Sighting>,
    report_names: String,
    /// Sightings handed to the shared map so far (what the tests check).
    #[cfg(test)]
    reports_sent: usize,
    /// Messages counted here and not yet added to the shared map; readers
    /// of the activity add them in.
    unsent: Arc<Mutex<Unsent>>,
    shared: Arc<DeviceSet>,
}

/// A device in the local table, and where its unsent counts are.
#[derive(Clone, Copy)]
struct Slot {
    hash: u64,
    /// `unsent[index]` holds its counts if that entry is this device's:
    /// a handover empties the counts, so a mark of an earlier second
    /// points past their end or at another device, and no slot needs
    /// clearing. 16 bytes a slot: with 10,000 devices the table is 512 KiB.
    index: u32,
    /// The second the device was last reported to the shared map for
    /// (0: never).
    reported: u32,
}

const FREE: Slot = Slot {
    hash: EMPTY,
    index: 0,
    reported: 0,
};

/// A device's messages by severity, not yet in the shared map.
#[derive(Clone, Copy)]
struct Pending {
    hash: u64,
    counts: [u32; SEVERITIES],
}

/// A run of messages from one device in a batch, by severity.
struct Noted {
    device: Pending,
    /// Where its name ends in `pending_names` (it starts where the
    /// previous entry's ends).
    name_end: usize,
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
        let unsent = Arc::new(Mutex::new(Unsent::default()));
        shared.register(&unsent);
        LocalDevices {
            slots: vec![FREE; FIRST_SLOTS],
            len: 0,
            pending: Vec::new(),
            pending_names: String::new(),
            second: 0,
            report: Vec::new(),
            report_names: String::new(),
            #[cfg(test)]
            reports_sent: 0,
            unsent,
            shared,
        }
    }

    /// Starts a batch received at `second` (Unix seconds): devices noted
    /// from here on are reported as seen then. A new second empties the
    /// devices' marks of having been reported.
    pub(crate) fn begin(&mut self, second: i64) {
        // Unix seconds fit in 32 bits until 2106; 0 stays "never".
        let second = u32::try_from(second).unwrap_or(u32::MAX).max(1);
        if second != self.second {
            self.hand_over();
            self.second = second;
        }
    }

    /// Moves the unsent counts into the shared map, at the second they
    /// were counted in.
    fn hand_over(&mut self) {
        let any = !self
            .unsent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .is_empty();
        if !any {
            return;
        }
        // This empties the unsent counts: every slot's mark now points
        // past their end, or, once they fill again, at another device's.
        self.shared.saw(&[], "", self.second, Some(&self.unsent));
    }

    /// Notes a message of `severity` (0–7) from `device` for the next
    /// [`LocalDevices::flush`]. Consecutive messages usually come from the
    /// same device (one TCP connection per device), and such repeats share
    /// one entry, which keeps the device's name for `flush` to report.
    pub(crate) fn observe(&mut self, device: &str, severity: u8) {
        let hash = match self.shared.hasher.hash_one(device) {
            EMPTY => EMPTY_STAND_IN,
            hash => hash,
        };
        let severity = usize::from(severity) & (SEVERITIES - 1);
        if let Some(last) = self
            .pending
            .last_mut()
            .filter(|last| last.device.hash == hash)
        {
            last.device.counts[severity] += 1;
        } else {
            let mut counts = [0; SEVERITIES];
            counts[severity] = 1;
            self.pending_names.push_str(device);
            self.pending.push(Noted {
                device: Pending { hash, counts },
                name_end: self.pending_names.len(),
            });
        }
    }

    /// Adds the devices noted since the last call to the sets, reports
    /// them as seen at the batch's second and counts their messages. The
    /// shared set is locked only for devices this worker had not seen, the
    /// map of recent devices when a device was not yet reported for this
    /// second; the unsent counts stay here until [`LocalDevices::begin`]
    /// starts another second (see the module's comment).
    pub(crate) fn flush(&mut self) {
        let mut pending = std::mem::take(&mut self.pending);
        let mut names = std::mem::take(&mut self.pending_names);
        {
            let unsent = Arc::clone(&self.unsent);
            let mut unsent = unsent.lock().unwrap_or_else(PoisonError::into_inner);
            unsent.second = self.second;
            let mut name_start = 0;
            for (index, noted) in pending.iter().enumerate() {
                if let Some(ahead) = pending.get(index + PREFETCH_AHEAD) {
                    prefetch(&self.slots[self.home(ahead.device.hash)], size_of::<Slot>());
                }
                // Half as far ahead, that slot has arrived: when it is the
                // device's and marks unsent counts, load those too.
                if let Some(ahead) = pending.get(index + PREFETCH_AHEAD / 2) {
                    let slot = &self.slots[self.home(ahead.device.hash)];
                    if slot.hash == ahead.device.hash {
                        if let Some(counts) = unsent.entries.get(slot.index as usize) {
                            prefetch(counts, size_of::<Pending>());
                        }
                    }
                }
                let entry = noted.device;
                let name = names.get(name_start..noted.name_end);
                name_start = noted.name_end;
                let (added, slot) = self.insert(entry.hash);
                if added {
                    self.shared.insert(entry.hash);
                }
                let slot = &mut self.slots[slot];
                if slot.reported != self.second {
                    slot.reported = self.second;
                    self.report_names.push_str(name.unwrap_or(""));
                    self.report.push((entry.hash, self.report_names.len()));
                }
                let entries = &mut unsent.entries;
                match entries.get_mut(slot.index as usize) {
                    Some(unsent) if unsent.hash == entry.hash => {
                        for (count, added) in unsent.counts.iter_mut().zip(entry.counts) {
                            *count = count.saturating_add(added);
                        }
                    }
                    _ => {
                        slot.index = u32::try_from(entries.len()).unwrap_or(u32::MAX);
                        entries.push(entry);
                    }
                }
            }
        }
        if !self.report.is_empty() {
            #[cfg(test)]
            {
                self.reports_sent += self.report.len();
            }
            self.shared
                .saw(&self.report, &self.report_names, self.second, None);
            self.report.clear();
            self.report_names.clear();
        }
        pending.clear();
        self.pending = pending;
        names.clear();
        self.pending_names = names;
    }

    fn home(&self, hash: u64) -> usize {
        hash as usize & (self.slots.len() - 1)
    }

    /// Adds `hash` if absent; whether it was added, and its slot.
    fn insert(&mut self, hash: u64) -> (bool, usize) {
        let mask = self.slots.len() - 1;
        let mut index = self.home(hash);
        loop {
            match self.slots[index].hash {
                EMPTY => break,
                found if found == hash => return (false, index),
                _ => index = (index + 1) & mask,
            }
        }
        if self.len >= MAX_LOCAL_DEVICES {
            // Bounded: start over rather than grow without end. Unsent
            // counts whose marks go are sent all the same; a device's
            // next ones then take a second entry, added up in the map.
            self.slots = vec![FREE; FIRST_SLOTS];
            self.len = 0;
        } else if (self.len + 1) * 2 > self.slots.len() {
            let doubled = vec![FREE; self.slots.len() * 2];
            for slot in std::mem::replace(&mut self.slots, doubled) {
                if slot.hash != EMPTY {
                    self.place(slot);
                }
            }
        }
        let index = self.place(Slot {
            hash,
            index: 0,
            reported: 0,
        });
        self.len += 1;
        (true, index)
    }

    fn place(&mut self, slot: Slot) -> usize {
        let mask = self.slots.len() - 1;
        let mut index = self.home(slot.hash);
        while self.slots[index].hash != EMPTY {
            index = (index + 1) & mask;
        }
        self.slots[index] = slot;
        index
    }
}

impl Drop for LocalDevices {
    /// A stopping worker hands its unsent counts over.
    fn drop(&mut self) {
        self.shared.saw(
            &self.report,
            &self.report_names,
            self.second,
            Some(&self.unsent),
        );
    }
}
