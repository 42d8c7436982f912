//! Device counting: the local table in front of the shared set.

use super::*;

fn local() -> (Arc<DeviceSet>, LocalDevices) {
    let shared = DeviceSet::new(Metrics::new());
    let local = LocalDevices::new(Arc::clone(&shared));
    (shared, local)
}

#[test]
fn each_device_counts_once_across_batches() {
    let (shared, mut local) = local();
    for _ in 0..3 {
        local.begin(1_700_000_000);
        for device in ["fw-1", "fw-1", "sw-2", "fw-1", "10.0.0.7"] {
            local.observe(device);
        }
        // Nothing reaches the shared set before the end of the batch.
        local.flush();
    }
    assert_eq!(shared.len(), 3);
    assert_eq!(local.len, 3);
    assert!(local.pending.is_empty());
}

#[test]
fn the_local_table_grows_past_its_first_size() {
    let (shared, mut local) = local();
    for round in 0..2 {
        local.begin(1_700_000_000);
        for device in 0..5000 {
            local.observe(&format!("dev-{device}"));
        }
        local.flush();
        assert_eq!(shared.len(), 5000, "round {round}");
    }
    assert_eq!(local.len, 5000);
    assert!(local.slots.len() >= 2 * 5000);
}

#[test]
fn the_local_table_is_bounded_and_the_count_stays_true() {
    let (shared, mut local) = local();
    let devices = MAX_LOCAL_DEVICES + 1000;
    local.begin(1_700_000_000);
    for device in 0..devices {
        local.observe(&format!("dev-{device}"));
        if device % 500 == 0 {
            local.flush();
        }
    }
    local.flush();
    assert!(local.len <= MAX_LOCAL_DEVICES);
    assert_eq!(shared.len(), devices);
}

#[test]
fn workers_share_one_count() {
    let shared = DeviceSet::new(Metrics::new());
    let mut first = LocalDevices::new(Arc::clone(&shared));
    let mut second = LocalDevices::new(Arc::clone(&shared));
    first.begin(1_700_000_000);
    second.begin(1_700_000_000);
    first.observe("a");
    first.observe("b");
    second.observe("b");
    second.observe("c");
    first.flush();
    second.flush();
    assert_eq!(shared.len(), 3);
}

#[test]
fn last_seen_is_kept_per_device_and_exported() {
    let metrics = Metrics::new();
    let shared = DeviceSet::new(Arc::clone(&metrics));
    let mut local = LocalDevices::new(Arc::clone(&shared));
    local.begin(1_700_000_000);
    local.observe("fw-1");
    local.observe("sw-2");
    local.flush();
    local.begin(1_700_000_030);
    local.observe("fw-1");
    local.flush();
    // An earlier second than one already reported: the time stays.
    local.begin(1_700_000_000);
    local.observe("sw-2");
    local.flush();
    let text = metrics.encode();
    for line in [
        "sinkd_device_last_seen_seconds{device=\"fw-1\"} 1700000030",
        "sinkd_device_last_seen_seconds{device=\"sw-2\"} 1700000000",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn last_seen_keeps_the_most_recent_devices_within_its_bound() {
    let metrics = Metrics::new();
    let shared = DeviceSet::new(Arc::clone(&metrics));
    let mut local = LocalDevices::new(Arc::clone(&shared));
    let devices = MAX_LAST_SEEN_DEVICES * 2;
    for device in 0..devices {
        // One device per second: later devices are more recent.
        local.begin(1_700_000_000 + device as i64);
        local.observe(&format!("dev-{device}"));
        local.flush();
    }
    assert!(shared.recent_len() <= MAX_LAST_SEEN_DEVICES);
    assert!(shared.recent_len() >= MAX_LAST_SEEN_DEVICES * 3 / 4);
    let text = metrics.encode();
    let series = text
        .lines()
        .filter(|line| line.starts_with("sinkd_device_last_seen_seconds{"))
        .count();
    assert_eq!(series, shared.recent_len());
    let last = format!("dev-{}", devices - 1);
    assert!(text.contains(&format!("device=\"{last}\"")));
    assert!(!text.contains("device=\"dev-0\""));
    // Every device still counts in sinkd_devices.
    assert_eq!(shared.len(), devices);
}

#[test]
fn a_device_is_reported_once_a_second_whatever_its_messages() {
    let (shared, mut local) = local();
    local.begin(1_700_000_000);
    for _ in 0..1000 {
        local.observe("fw-1");
        local.observe("sw-2");
    }
    // Two names kept for the report, not two thousand.
    assert_eq!(local.report.len(), 2);
    local.flush();
    assert_eq!(shared.recent_len(), 2);
    local.begin(1_700_000_001);
    local.observe("fw-1");
    assert_eq!(local.report.len(), 1);
    local.flush();
}

#[test]
fn devices_seen_in_one_second_are_forgotten_a_quarter_at_a_time() {
    let (shared, mut local) = local();
    local.begin(1_700_000_000);
    for device in 0..=MAX_LAST_SEEN_DEVICES {
        local.observe(&format!("dev-{device}"));
    }
    local.flush();
    // All in the same second: a quarter goes, not all of them.
    let kept = shared.recent_len();
    assert!(kept >= MAX_LAST_SEEN_DEVICES * 3 / 4, "{kept}");
    assert!(kept <= MAX_LAST_SEEN_DEVICES, "{kept}");
}
