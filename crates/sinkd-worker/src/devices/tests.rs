//! Device counting: the local table in front of the shared set.

use super::*;
use std::sync::atomic::Ordering;

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
            local.observe(device, 5);
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
            local.observe(&format!("dev-{device}"), 5);
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
        local.observe(&format!("dev-{device}"), 5);
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
    first.observe("a", 5);
    first.observe("b", 5);
    second.observe("b", 5);
    second.observe("c", 5);
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
    local.observe("fw-1", 5);
    local.observe("sw-2", 5);
    local.flush();
    local.begin(1_700_000_030);
    local.observe("fw-1", 5);
    local.flush();
    // An earlier second than one already reported: the time stays.
    local.begin(1_700_000_000);
    local.observe("sw-2", 5);
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
        shared.fake_tick.store(1 + device as u32, Ordering::Relaxed);
        local.begin(1_700_000_000 + device as i64);
        local.observe(&format!("dev-{device}"), 5);
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
        local.observe("fw-1", 5);
        local.observe("sw-2", 5);
    }
    local.flush();
    // Two sightings for the shared map, not two thousand.
    assert_eq!(local.reports_sent, 2);
    assert_eq!(shared.recent_len(), 2);
    // Another batch of the same second reports nothing again.
    local.begin(1_700_000_000);
    local.observe("sw-2", 5);
    local.flush();
    assert_eq!(local.reports_sent, 2);
    local.begin(1_700_000_001);
    local.observe("fw-1", 5);
    local.flush();
    assert_eq!(local.reports_sent, 3);
}

#[test]
fn ten_thousand_devices_are_each_reported_once_a_second() {
    let (shared, mut local) = local();
    for second in [1_700_000_000, 1_700_000_001] {
        // Four batches of the same second, every device in each.
        for _ in 0..4 {
            local.begin(second);
            for device in 0..10_000 {
                local.observe(&format!("dev-{device}"), 5);
            }
            local.flush();
        }
    }
    assert_eq!(local.reports_sent, 20_000);
    assert_eq!(shared.recent_len(), 10_000);
}

/// One batch at `second`, reported at `tick` of the set's clock, with a
/// message from each of `devices`.
fn send_at(local: &mut LocalDevices, tick: u32, second: i64, devices: &[String]) {
    local.shared.fake_tick.store(tick, Ordering::Relaxed);
    local.begin(second);
    for device in devices {
        local.observe(device, 5);
    }
    local.flush();
}

/// `dev-0` ... `dev-{count - 1}`.
fn device_names(count: usize) -> Vec<String> {
    (0..count).map(|device| format!("dev-{device}")).collect()
}

#[test]
fn a_full_map_keeps_devices_that_keep_sending_and_newcomers_wait() {
    let (shared, mut local) = local();
    let second = 1_700_000_000;
    let everyone = device_names(MAX_LAST_SEEN_DEVICES + 1000);
    send_at(&mut local, 100, second, &everyone);
    // All reported just now: the first ones stay, the rest are left out,
    // and the map was walked once, not once per newcomer.
    assert_eq!(shared.recent_len(), MAX_LAST_SEEN_DEVICES);
    assert_eq!(shared.recent.lock().unwrap().passes, 1);
    assert!(activity_of(&shared, "dev-0", second).is_some());
    let last = format!("dev-{}", MAX_LAST_SEEN_DEVICES + 999);
    assert!(activity_of(&shared, &last, second).is_none());
    assert_eq!(shared.len(), MAX_LAST_SEEN_DEVICES + 1000);
    // Every device sends each second: those kept stay kept.
    for later in 1..=3 {
        send_at(
            &mut local,
            100 + later,
            second + i64::from(later),
            &everyone,
        );
        assert_eq!(shared.recent_len(), MAX_LAST_SEEN_DEVICES);
        assert!(activity_of(&shared, &last, second).is_none(), "{later}");
    }
    // Two ticks on with only the newcomer sending, the others are quiet
    // enough: a quarter of them makes room.
    send_at(&mut local, 105, second + 5, std::slice::from_ref(&last));
    assert!(activity_of(&shared, &last, second + 5).is_some());
    // Exactly a quarter went.
    assert_eq!(shared.recent_len(), MAX_LAST_SEEN_DEVICES * 3 / 4 + 1);
}

#[test]
fn a_wall_clock_stepped_back_does_not_lock_newcomers_out() {
    let (shared, mut local) = local();
    let second = 1_700_000_000;
    send_at(
        &mut local,
        100,
        second,
        &device_names(MAX_LAST_SEEN_DEVICES),
    );
    // The receive time is an hour earlier now; the set's clock went on.
    send_at(
        &mut local,
        103,
        second - 3600,
        &["after the step".to_owned()],
    );
    let (last_seen, _, _) = activity_of(&shared, "after the step", second).unwrap();
    assert_eq!(last_seen, 1_700_000_000 - 3600);
    assert!(shared.recent_len() <= MAX_LAST_SEEN_DEVICES);
}

/// One batch received at `second`: messages as (device, severity).
fn batch(local: &mut LocalDevices, second: i64, messages: &[(&str, u8)]) {
    local.begin(second);
    for &(device, severity) in messages {
        local.observe(device, severity);
    }
    local.flush();
}

/// The activity of `device` as the set hands it over at `now`.
fn activity_of(shared: &DeviceSet, device: &str, now: i64) -> Option<(u32, f64, [u64; 8])> {
    let mut found = None;
    shared.activity(now, |activity| {
        if activity.name == device {
            found = Some((
                activity.last_seen,
                activity.per_minute,
                *activity.severities,
            ));
        }
    });
    found
}

#[test]
fn messages_are_counted_by_severity_across_batches_and_workers() {
    let shared = DeviceSet::new(Metrics::new());
    let mut first = LocalDevices::new(Arc::clone(&shared));
    let mut second = LocalDevices::new(Arc::clone(&shared));
    let fw = |severity| ("fw-1", severity);
    batch(
        &mut first,
        1_700_000_000,
        &[fw(3), fw(3), fw(5), fw(5), fw(5), ("sw-2", 7), fw(0)],
    );
    // Same second: fw-1 is not reported again, its messages still count.
    batch(&mut first, 1_700_000_000, &[fw(3)]);
    batch(&mut second, 1_700_000_001, &[fw(6)]);
    let (last_seen, _, counts) = activity_of(&shared, "fw-1", 1_700_000_001).unwrap();
    assert_eq!(last_seen, 1_700_000_001);
    assert_eq!(counts, [1, 0, 0, 3, 0, 3, 1, 0]);
    let (_, _, counts) = activity_of(&shared, "sw-2", 1_700_000_001).unwrap();
    assert_eq!(counts, [0, 0, 0, 0, 0, 0, 0, 1]);
    assert!(activity_of(&shared, "nobody", 1_700_000_001).is_none());
}

#[test]
fn the_rate_covers_the_last_sixty_seconds() {
    let (shared, mut local) = local();
    // 1_699_999_980 is a minute's start.
    let minute = 1_699_999_980;
    local.begin(minute + 10);
    for _ in 0..30 {
        local.observe("fw-1", 5);
    }
    local.flush();
    let rate = |now: i64| activity_of(&shared, "fw-1", now).unwrap().1;
    assert_eq!(rate(minute + 20), 30.0);
    // The next minute: half of the previous one is still in the window.
    assert_eq!(rate(minute + 90), 15.0);
    local.begin(minute + 70);
    for _ in 0..6 {
        local.observe("fw-1", 5);
    }
    local.flush();
    assert_eq!(rate(minute + 90), 6.0 + 15.0);
    // Silent for over two minutes: nothing.
    assert_eq!(rate(minute + 200), 0.0);
    // A late batch of the previous minute counts there.
    local.begin(minute + 50);
    local.observe("fw-1", 5);
    local.flush();
    assert_eq!(rate(minute + 60), 6.0 + 31.0);
}

#[test]
fn a_worker_hands_its_counts_over_once_a_second_and_readers_see_them_meanwhile() {
    let (shared, mut local) = local();
    let devices = 256;
    // What the activity shows, and what the shared map alone holds.
    let total = |shared: &DeviceSet| {
        let mut sum = 0;
        shared.activity(1_700_000_001, |activity| {
            sum += activity.severities.iter().sum::<u64>()
        });
        sum
    };
    let handed = |shared: &DeviceSet| -> u64 {
        let recent = shared.recent.lock().unwrap();
        recent
            .values()
            .map(|entry| entry.counts.by_severity.iter().sum::<u64>())
            .sum()
    };
    for _ in 0..4 {
        local.begin(1_700_000_000);
        for device in 0..devices {
            local.observe(&format!("dev-{device}"), 4);
        }
        local.flush();
    }
    // The second's counts are held back by the worker...
    assert_eq!(handed(&shared), 0);
    assert_eq!(local.unsent.lock().unwrap().entries.len(), devices);
    // ...and a reader adds it in.
    assert_eq!(total(&shared), 4 * devices as u64);
    let (_, per_minute, counts) = activity_of(&shared, "dev-7", 1_700_000_001).unwrap();
    assert_eq!(counts, [0, 0, 0, 0, 4, 0, 0, 0]);
    assert_eq!(per_minute, 4.0);
    // The next second's batch hands them over as it begins, and holds
    // its own.
    local.begin(1_700_000_001);
    assert_eq!(handed(&shared), 4 * devices as u64);
    assert!(local.unsent.lock().unwrap().entries.is_empty());
    local.observe("dev-0", 4);
    local.flush();
    assert_eq!(handed(&shared), 4 * devices as u64);
    assert_eq!(total(&shared), 4 * devices as u64 + 1);
    // Small batches are not handed over one by one either.
    local.observe("dev-1", 4);
    local.flush();
    assert_eq!(handed(&shared), 4 * devices as u64);
    assert_eq!(total(&shared), 4 * devices as u64 + 2);
    // A quiet worker's counts go over at the second they were counted in,
    // however late its next batch comes.
    local.begin(1_700_000_600);
    let (last_seen, per_minute, counts) = activity_of(&shared, "dev-1", 1_700_000_030).unwrap();
    assert_eq!(last_seen, 1_700_000_001);
    assert_eq!(per_minute, 5.0);
    assert_eq!(counts, [0, 0, 0, 0, 5, 0, 0, 0]);
    // Ten minutes on, those messages are out of the rate's window.
    let (_, per_minute, _) = activity_of(&shared, "dev-1", 1_700_000_600).unwrap();
    assert_eq!(per_minute, 0.0);
}

#[test]
fn a_mark_from_an_earlier_second_never_adds_to_another_devices_counts() {
    let (shared, mut local) = local();
    batch(&mut local, 1_700_000_000, &[("fw-a", 3), ("fw-b", 5)]);
    // The handover emptied the counts: fw-b now takes the place fw-a's
    // slot still points at, and fw-a must get one of its own.
    batch(
        &mut local,
        1_700_000_001,
        &[("fw-b", 5), ("fw-a", 3), ("fw-a", 3)],
    );
    local.begin(1_700_000_002);
    let counts = |device| activity_of(&shared, device, 1_700_000_002).unwrap().2;
    assert_eq!(counts("fw-a"), [0, 0, 0, 3, 0, 0, 0, 0]);
    assert_eq!(counts("fw-b"), [0, 0, 0, 0, 0, 2, 0, 0]);
}

#[test]
fn a_stopping_worker_hands_its_counts_over() {
    let (shared, mut local) = local();
    batch(&mut local, 1_700_000_000, &[("fw-1", 3)]);
    batch(&mut local, 1_700_000_000, &[("fw-1", 3), ("fw-1", 5)]);
    drop(local);
    let (_, _, counts) = activity_of(&shared, "fw-1", 1_700_000_000).unwrap();
    assert_eq!(counts, [0, 0, 0, 2, 0, 1, 0, 0]);
    assert!(shared
        .workers
        .lock()
        .unwrap()
        .iter()
        .all(|worker| worker.strong_count() == 0));
    let recent = shared.recent.lock().unwrap();
    assert_eq!(
        recent
            .values()
            .map(|entry| entry.counts.by_severity[3])
            .sum::<u64>(),
        2
    );
}

#[test]
fn readers_add_up_every_workers_unsent_counts() {
    let shared = DeviceSet::new(Metrics::new());
    let mut first = LocalDevices::new(Arc::clone(&shared));
    let mut second = LocalDevices::new(Arc::clone(&shared));
    batch(&mut first, 1_700_000_000, &[("fw-1", 3)]);
    batch(&mut second, 1_700_000_000, &[("fw-1", 3)]);
    batch(&mut first, 1_700_000_000, &[("fw-1", 2)]);
    batch(&mut second, 1_700_000_000, &[("fw-1", 2), ("sw-2", 6)]);
    let (_, per_minute, counts) = activity_of(&shared, "fw-1", 1_700_000_000).unwrap();
    assert_eq!(counts, [0, 0, 2, 2, 0, 0, 0, 0]);
    assert_eq!(per_minute, 4.0);
    let (_, _, counts) = activity_of(&shared, "sw-2", 1_700_000_000).unwrap();
    assert_eq!(counts, [0, 0, 0, 0, 0, 0, 1, 0]);
}
