//! `GET /api/v1/stats/devices`: every device at a glance, for the web
//! console's devices page. What the workers keep of the devices they saw
//! since start (last message, messages per minute, messages by severity)
//! joined to the store's listing (bytes, files); a device not seen since
//! start has its files' last modification as its last message. The
//! listing reads every device's directory (about a second for 10,000
//! devices), so it is made when the server starts and then kept: an
//! answer uses the kept one, and one given when it is older than
//! [`LISTING_TTL`] has it made again on a thread of its own. So a page
//! waits for a listing only when none was made yet, and pages polling
//! cost the store a listing at most every [`LISTING_TTL`], whatever their
//! number. A device the workers saw is in the answer whether or not the
//! kept listing has it yet.

use serde::Serialize;
use sinkd_read::view::rfc3339;
use sinkd_store::{list_devices, sanitize_component, DeviceInfo, StoreError};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a listing of the store is reused.
pub(crate) const LISTING_TTL: Duration = Duration::from_secs(5);

/// One device's activity since start, as the workers keep it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceActivity {
    /// The device key as received (the directory is its sanitized form).
    pub name: String,
    /// Unix seconds of its last message.
    pub last_seen: i64,
    /// Messages per minute over the last 60 seconds.
    pub per_minute: f64,
    /// Messages by severity, emerg first.
    pub severities: [u64; 8],
}

/// The store's listing, kept and made again in the background.
#[derive(Default)]
pub(crate) struct ListingCache {
    kept: Mutex<Option<(Instant, Arc<Vec<DeviceInfo>>)>>,
    /// A listing is being made.
    refreshing: AtomicBool,
}

/// Every device under `data_dir`; a data directory not made yet has none.
pub(crate) fn list(data_dir: &Path) -> Result<Vec<DeviceInfo>, StoreError> {
    match list_devices(data_dir) {
        Err(StoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            Ok(Vec::new())
        }
        listed => listed,
    }
}

impl ListingCache {
    /// The kept listing, made now if there is none; a stale one is made
    /// again on a thread of its own.
    pub(crate) fn get(
        self: &Arc<Self>,
        data_dir: &Path,
    ) -> Result<Arc<Vec<DeviceInfo>>, StoreError> {
        let kept = self
            .kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        match kept {
            Some((at, listing)) => {
                if at.elapsed() >= LISTING_TTL {
                    self.refresh_in_background(data_dir.to_owned());
                }
                Ok(listing)
            }
            None => self.refresh(data_dir),
        }
    }

    /// Makes a listing in the background unless one is being made.
    pub(crate) fn refresh_in_background(self: &Arc<Self>, data_dir: PathBuf) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let cache = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name(String::from("sinkd-listing"))
            .spawn(move || {
                if let Err(error) = cache.refresh(&data_dir) {
                    tracing::warn!(%error, "read API: listing the devices failed");
                }
                cache.refreshing.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.refreshing.store(false, Ordering::Release);
        }
    }

    /// Makes a listing now and keeps it.
    fn refresh(&self, data_dir: &Path) -> Result<Arc<Vec<DeviceInfo>>, StoreError> {
        let listing = Arc::new(list(data_dir)?);
        *self
            .kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some((Instant::now(), Arc::clone(&listing)));
        Ok(listing)
    }
}

/// One row of the answer.
#[derive(Serialize, Debug, PartialEq)]
struct Row<'a> {
    name: &'a str,
    /// RFC 3339, UTC.
    last_message: Option<String>,
    /// `received` (the workers saw it since start) or `files`.
    last_from: &'static str,
    per_minute: Option<f64>,
    severities: Option<[u64; 8]>,
    bytes: u64,
    files: Vec<&'a str>,
}

#[derive(Serialize)]
struct Answer<'a> {
    /// The server's time, RFC 3339, UTC: a page judges silence against it.
    now: String,
    devices: Vec<Row<'a>>,
}

/// The JSON answer: every device of `listing` or `activity`, by name.
pub(crate) fn answer(listing: &[DeviceInfo], activity: &[DeviceActivity], now: i64) -> Vec<u8> {
    let mut rows: BTreeMap<&str, Row<'_>> = listing
        .iter()
        .map(|device| {
            let row = Row {
                name: &device.name,
                last_message: rfc3339(device.last_modified()),
                last_from: "files",
                per_minute: None,
                severities: None,
                bytes: device.total_bytes(),
                files: device.files.iter().map(|file| file.name.as_str()).collect(),
            };
            (device.name.as_str(), row)
        })
        .collect();
    let names: Vec<std::borrow::Cow<'_, str>> = activity
        .iter()
        .map(|seen| sanitize_component(&seen.name))
        .collect();
    for (seen, name) in activity.iter().zip(&names) {
        let row = rows.entry(name).or_insert_with(|| Row {
            name,
            last_message: None,
            last_from: "files",
            per_minute: None,
            severities: None,
            bytes: 0,
            files: Vec::new(),
        });
        row.last_message = jiff::Timestamp::from_second(seen.last_seen)
            .ok()
            .map(|at| at.to_string());
        row.last_from = "received";
        row.per_minute = Some((seen.per_minute * 10.0).round() / 10.0);
        row.severities = Some(seen.severities);
    }
    let answer = Answer {
        now: jiff::Timestamp::from_second(now)
            .map(|at| at.to_string())
            .unwrap_or_default(),
        devices: rows.into_values().collect(),
    };
    serde_json::to_vec(&answer).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use sinkd_store::{AppendBatch, Store, StoreConfig};

    #[test]
    fn seen_devices_join_the_listing_and_the_others_keep_their_files_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        let mut batch = AppendBatch::new();
        batch.push("sw1/messages", 1_700_000_000_000_000, b"<13>one");
        batch.push("sw1/auth.log", 1_700_000_000_000_000, b"<37>two");
        batch.push("old/messages", 1_700_000_000_000_000, b"<13>three");
        store.writer().submit(batch).unwrap();
        store.shutdown().unwrap();
        let listing = sinkd_store::list_devices(dir.path()).unwrap();
        let activity = [
            DeviceActivity {
                name: String::from("sw1"),
                last_seen: 1_767_225_600,
                per_minute: 12.345,
                severities: [0, 0, 0, 1, 0, 2, 0, 0],
            },
            DeviceActivity {
                // Kept under its sanitized name, with no files yet.
                name: String::from("relay only/x"),
                last_seen: 1_767_225_601,
                per_minute: 0.0,
                severities: [1, 0, 0, 0, 0, 0, 0, 0],
            },
        ];
        let json: Value =
            serde_json::from_slice(&answer(&listing, &activity, 1_767_225_660)).unwrap();
        assert_eq!(json["now"], "2026-01-01T00:01:00Z");
        let devices = json["devices"].as_array().unwrap();
        let names: Vec<&str> = devices
            .iter()
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["old", "relay_only_x", "sw1"]);
        assert_eq!(devices[0]["last_from"], "files");
        assert!(devices[0]["last_message"].is_string());
        assert_eq!(devices[0]["per_minute"], Value::Null);
        assert_eq!(devices[0]["severities"], Value::Null);
        assert_eq!(devices[1]["files"], json!([]));
        assert_eq!(devices[2]["last_from"], "received");
        assert_eq!(devices[2]["last_message"], "2026-01-01T00:00:00Z");
        assert_eq!(devices[2]["per_minute"], 12.3);
        assert_eq!(devices[2]["severities"], json!([0, 0, 0, 1, 0, 2, 0, 0]));
        assert_eq!(devices[2]["files"], json!(["auth.log", "messages"]));
        assert!(devices[2]["bytes"].as_u64().unwrap() > 0);
    }

    #[test]
    fn the_listing_is_kept_and_made_again_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("not yet");
        let cache = Arc::new(ListingCache::default());
        assert!(cache.get(&missing).unwrap().is_empty());
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        let mut batch = AppendBatch::new();
        batch.push("sw1/messages", 1_700_000_000_000_000, b"<13>one");
        store.writer().submit(batch).unwrap();
        store.shutdown().unwrap();
        // Fresh: the kept listing, even of another directory.
        assert!(cache.get(dir.path()).unwrap().is_empty());
        // Stale: still the kept one, and a new one on its way.
        cache.kept.lock().unwrap().as_mut().unwrap().0 -= LISTING_TTL;
        assert!(cache.get(dir.path()).unwrap().is_empty());
        let deadline = Instant::now() + Duration::from_secs(30);
        while cache.get(dir.path()).unwrap().is_empty() {
            assert!(Instant::now() < deadline, "no new listing");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(cache.get(dir.path()).unwrap()[0].name, "sw1");
    }
}
