//! Checks that the core names of docs/specs/metrics.md are exported and
//! labels start at zero.

use super::*;

#[test]
fn exposes_the_design_names() {
    let metrics = Metrics::new();
    metrics.received(Transport::Udp).inc_by(3);
    metrics.dropped(DropReason::NotAllowed).inc();
    metrics.sink("sink-1").messages.inc_by(2);
    metrics.relay_queue_depth("relay").set(4);
    let text = metrics.encode();
    for name in [
        "sinkd_messages_received_total{transport=\"udp\"} 3",
        "sinkd_messages_received_total{transport=\"tcp\"} 0",
        "sinkd_messages_dropped_total{reason=\"not_allowed\"} 1",
        "sinkd_messages_dropped_total{reason=\"queue_full\"} 0",
        "sinkd_messages_unparsed_total 0",
        "sinkd_sink_messages_total{sink=\"sink-1\"} 2",
        "sinkd_relay_queue_depth{sink=\"relay\"} 4",
        "sinkd_udp_kernel_drops_total 0",
        "sinkd_tcp_connections{transport=\"tls\"} 0",
        "sinkd_devices 0",
        "sinkd_receive_to_write_seconds_count 0",
    ] {
        assert!(text.contains(name), "missing {name:?} in\n{text}");
    }
}

#[test]
fn mirror_adds_only_growth() {
    let metrics = Metrics::new();
    let mirror = CounterMirror::default();
    mirror.sync(&metrics.store_lines_written, 10);
    mirror.sync(&metrics.store_lines_written, 25);
    mirror.sync(&metrics.store_lines_written, 25);
    assert_eq!(metrics.store_lines_written.get(), 25);
}

#[test]
fn scrape_hooks_run_before_encoding() {
    let metrics = Metrics::new();
    let hooked = Arc::clone(&metrics);
    metrics.add_scrape_hook(move || hooked.devices.set(7));
    assert!(metrics.encode().contains("sinkd_devices 7"));
}

#[test]
fn relay_metrics_carry_the_sink_label() {
    let metrics = Metrics::new();
    let relay = metrics.relay("central");
    relay.messages_sent.inc_by(5);
    relay.set_state(RelayConnectionState::Up);
    metrics.relay_dropped(&relay, DropReason::RelaySpoolError, 2);
    let text = metrics.encode();
    for name in [
        "sinkd_relay_messages_sent_total{sink=\"central\"} 5",
        "sinkd_relay_connection_state{sink=\"central\"} 2",
        "sinkd_relay_queue_disk_bytes{sink=\"central\"} 0",
        "sinkd_relay_dropped_total{reason=\"relay_spool_error\",sink=\"central\"} 2",
        "sinkd_relay_dropped_total{reason=\"relay_queue_full\",sink=\"central\"} 0",
        "sinkd_messages_dropped_total{reason=\"relay_spool_error\"} 2",
    ] {
        assert!(text.contains(name), "missing {name:?} in\n{text}");
    }
}

#[test]
fn health_checks_report_what_is_wrong() {
    let metrics = Metrics::new();
    assert!(metrics.health_problems().is_empty());
    let broken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&broken);
    metrics.add_health_check(move || {
        flag.load(std::sync::atomic::Ordering::Relaxed)
            .then(|| String::from("store paused: disk full"))
    });
    assert!(metrics.health_problems().is_empty());
    broken.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(metrics.health_problems(), ["store paused: disk full"]);
    let text = metrics.encode();
    assert!(text.contains("sinkd_messages_dropped_total{reason=\"disk_full\"} 0"));
    assert!(text.contains("sinkd_store_paused 0"));
}
