//! Outages: a target that is down, a relay restarted in the middle of an
//! outage, a target that accepts and never reads, a target that refuses
//! connections. Nothing is lost, order is kept, and one bad target holds up
//! nobody else.

use crate::delivery::offer_all;
use crate::support::{
    eventually, free_port, metrics, numbered, relay_config, Behaviour, StreamReceiver,
};
use sinkd_proto::framing::Framing;
use sinkd_relay::{Relay, RelayTransport};
use std::time::Duration;

#[test]
fn a_target_that_is_down_gets_everything_in_order_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let metrics = metrics();
    let mut config = relay_config("down", RelayTransport::Tcp, port, dir.path());
    config.queue_memory = 1000;
    let relay = Relay::start(config, metrics.clone()).unwrap();
    let messages = numbered("r1", 0..50_000);
    assert_eq!(offer_all(&relay.handle(), &messages, 250), messages.len());
    let counters = metrics.relay("down");
    assert!(eventually(Duration::from_secs(10), || {
        counters.queue_disk_messages.get() >= 49_000 && counters.queue_disk_bytes.get() > 0
    }));
    assert!(counters.queue_depth.get() <= 1000);
    let receiver = StreamReceiver::start(port, Framing::OctetCounting, None, Behaviour::Record);
    assert!(eventually(Duration::from_secs(60), || receiver.count()
        >= messages.len()));
    assert_eq!(receiver.messages(), messages);
    assert!(eventually(Duration::from_secs(10), || counters
        .queue_disk_messages
        .get()
        == 0));
    relay.shutdown().unwrap();
}

#[test]
fn a_restart_in_the_middle_of_an_outage_resumes_from_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut config = relay_config("restart", RelayTransport::Tcp, port, dir.path());
    config.queue_memory = 5000;
    let first = numbered("r1", 0..3000);
    let second = numbered("r1", 3000..6000);
    let relay = Relay::start(config.clone(), metrics()).unwrap();
    // Only memory holds these: the stop writes them to the spool.
    offer_all(&relay.handle(), &first, 100);
    relay.shutdown().unwrap();
    assert!(config.spool_dir.join("cursor").exists());

    let relay = Relay::start(config, metrics()).unwrap();
    offer_all(&relay.handle(), &second, 100);
    let receiver = StreamReceiver::start(port, Framing::OctetCounting, None, Behaviour::Record);
    assert!(eventually(Duration::from_secs(30), || receiver.count() >= 6000));
    let expected: Vec<Vec<u8>> = first.into_iter().chain(second).collect();
    assert_eq!(receiver.messages(), expected);
    relay.shutdown().unwrap();
}

#[test]
fn a_target_that_never_reads_holds_up_no_other_relay() {
    let dir = tempfile::tempdir().unwrap();
    let stuck = StreamReceiver::start(0, Framing::OctetCounting, None, Behaviour::NeverRead);
    let healthy = StreamReceiver::start(0, Framing::OctetCounting, None, Behaviour::Record);
    let metrics = metrics();
    let mut stuck_config =
        relay_config("stuck", RelayTransport::Tcp, stuck.addr.port(), dir.path());
    stuck_config.queue_memory = 10_000;
    let stuck_relay = Relay::start(stuck_config, metrics.clone()).unwrap();
    let healthy_config = relay_config(
        "healthy",
        RelayTransport::Tcp,
        healthy.addr.port(),
        dir.path(),
    );
    let healthy_relay = Relay::start(healthy_config, metrics.clone()).unwrap();
    let messages = numbered("r1", 0..200_000);
    let (stuck_handle, healthy_handle) = (stuck_relay.handle(), healthy_relay.handle());
    let mut accepted_stuck = 0;
    for chunk in messages.chunks(1000) {
        accepted_stuck += offer_all(&stuck_handle, chunk, 250);
        offer_all(&healthy_handle, chunk, 250);
    }
    assert!(eventually(Duration::from_secs(60), || healthy.count()
        >= messages.len()));
    assert_eq!(healthy.messages(), messages);
    // The stuck target got a connection but acknowledged only what fit in
    // its socket buffers; everything offered was still accepted.
    assert!(stuck.accepted() >= 1);
    assert_eq!(accepted_stuck, messages.len());
    let stuck_counters = metrics.relay("stuck");
    assert!(eventually(Duration::from_secs(10), || stuck_counters
        .queue_disk_messages
        .get()
        > 0));
    assert!(stuck_counters.messages_sent.get() < messages.len() as u64);
    healthy_relay.shutdown().unwrap();
    stuck_relay.shutdown().unwrap();
}

#[test]
fn a_target_that_refuses_connections_holds_up_no_other_relay() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = StreamReceiver::start(0, Framing::OctetCounting, None, Behaviour::Record);
    let metrics = metrics();
    let mut refused_config = relay_config("refused", RelayTransport::Tcp, free_port(), dir.path());
    refused_config.queue_memory = 1000;
    let refused_relay = Relay::start(refused_config, metrics.clone()).unwrap();
    let healthy_relay = Relay::start(
        relay_config("ok", RelayTransport::Tcp, healthy.addr.port(), dir.path()),
        metrics.clone(),
    )
    .unwrap();
    let messages = numbered("r2", 0..100_000);
    let accepted = offer_all(&refused_relay.handle(), &messages, 500);
    offer_all(&healthy_relay.handle(), &messages, 500);
    assert_eq!(accepted, messages.len());
    assert!(eventually(Duration::from_secs(60), || healthy.count()
        >= messages.len()));
    assert_eq!(healthy.messages(), messages);
    let refused = metrics.relay("refused");
    assert!(eventually(Duration::from_secs(10), || refused
        .connect_errors
        .get()
        >= 1));
    assert!(eventually(Duration::from_secs(10), || {
        refused.queue_disk_messages.get() as usize + refused.queue_depth.get() as usize
            == messages.len()
    }));
    assert_eq!(refused.messages_sent.get(), 0);
    healthy_relay.shutdown().unwrap();
    refused_relay.shutdown().unwrap();
}

#[test]
fn a_target_that_goes_away_mid_stream_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = StreamReceiver::start(0, Framing::OctetCounting, None, Behaviour::Record);
    let port = receiver.addr.port();
    let metrics = metrics();
    let mut config = relay_config("flaky", RelayTransport::Tcp, port, dir.path());
    config.queue_memory = 2000;
    let relay = Relay::start(config, metrics.clone()).unwrap();
    let handle = relay.handle();
    let messages = numbered("r1", 0..60_000);
    offer_all(&handle, &messages[..20_000], 200);
    assert!(eventually(Duration::from_secs(20), || receiver.count() >= 5_000));
    let mut received = receiver.stop();
    offer_all(&handle, &messages[20_000..], 200);
    let receiver = StreamReceiver::start(port, Framing::OctetCounting, None, Behaviour::Record);
    let counters = metrics.relay("flaky");
    assert!(eventually(Duration::from_secs(60), || {
        counters.messages_sent.get() >= messages.len() as u64
    }));
    received.extend(receiver.stop());
    // Everything arrived; whatever arrived twice was resent after the break,
    // and once the duplicates are taken out the order is the sent order.
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<Vec<u8>> = received
        .iter()
        .filter(|message| seen.insert((*message).clone()))
        .cloned()
        .collect();
    eprintln!(
        "flaky counters: connects {}, errors {}, resent {}, spool drops {}, full drops {}",
        counters.connects.get(),
        counters.connect_errors.get(),
        counters.messages_resent.get(),
        counters
            .dropped(sinkd_metrics::DropReason::RelaySpoolError)
            .get(),
        counters
            .dropped(sinkd_metrics::DropReason::RelayQueueFull)
            .get(),
    );
    crate::support::assert_same(&unique, &messages);
    let duplicates = (received.len() - unique.len()) as u64;
    assert!(
        duplicates <= counters.messages_resent.get(),
        "{duplicates} duplicates, {} resent",
        counters.messages_resent.get()
    );
    println!(
        "flaky target: {} received, {duplicates} duplicates, {} resent",
        received.len(),
        counters.messages_resent.get()
    );
    relay.shutdown().unwrap();
}
