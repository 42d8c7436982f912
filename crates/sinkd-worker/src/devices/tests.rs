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
    first.observe("a");
    first.observe("b");
    second.observe("b");
    second.observe("c");
    first.flush();
    second.flush();
    assert_eq!(shared.len(), 3);
}
