//! Relays deliver to real receivers on loopback: TCP with both framings,
//! TLS with and without client certificates, UDP; and refuse what the
//! configuration does not allow.

use crate::support::{
    eventually, metrics, numbered, relay_config, Behaviour, Pki, StreamReceiver, UdpReceiver,
};
use sinkd_proto::framing::Framing;
use sinkd_relay::{Relay, RelayBatch, RelayError, RelayHandle, RelayTransport};
use std::time::Duration;

/// Offers `messages` in batches of `per_batch`; returns how many were accepted.
pub(crate) fn offer_all(handle: &RelayHandle, messages: &[Vec<u8>], per_batch: usize) -> usize {
    let mut accepted = 0;
    for chunk in messages.chunks(per_batch) {
        let mut batch: RelayBatch = handle.batch();
        for message in chunk {
            batch.push(message);
        }
        accepted += handle.offer(batch);
    }
    accepted
}

#[test]
fn tcp_octet_counting_delivers_in_order_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = StreamReceiver::start(0, Framing::OctetCounting, None, Behaviour::Record);
    let metrics = metrics();
    let mut config = relay_config("tcp", RelayTransport::Tcp, receiver.addr.port(), dir.path());
    config.host = "localhost".to_owned();
    let relay = Relay::start(config, metrics.clone()).unwrap();
    let mut messages = numbered("r1", 0..20_000);
    // Bytes no line framing could carry.
    messages.push(b"<13>multi\nline\r\n message \x00 with NUL".to_vec());
    assert_eq!(offer_all(&relay.handle(), &messages, 100), messages.len());
    assert!(eventually(Duration::from_secs(20), || receiver.count()
        == messages.len()));
    assert_eq!(receiver.messages(), messages);
    let counters = metrics.relay("tcp");
    assert!(eventually(Duration::from_secs(5), || counters
        .messages_sent
        .get()
        == messages.len() as u64));
    assert_eq!(counters.connects.get(), 1);
    assert_eq!(counters.messages_resent.get(), 0);
    relay.shutdown().unwrap();
}

#[test]
fn tcp_lf_framing_escapes_embedded_line_feeds() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = StreamReceiver::start(0, Framing::NonTransparent, None, Behaviour::Record);
    let mut config = relay_config("lf", RelayTransport::Tcp, receiver.addr.port(), dir.path());
    config.framing = Framing::NonTransparent;
    let relay = Relay::start(config, metrics()).unwrap();
    let messages = vec![b"<13>one".to_vec(), b"<13>two\nlines".to_vec()];
    offer_all(&relay.handle(), &messages, 10);
    assert!(eventually(Duration::from_secs(10), || receiver.count() == 2));
    assert_eq!(receiver.messages(), [&b"<13>one"[..], b"<13>two#012lines"]);
    relay.shutdown().unwrap();
}

#[test]
fn tls_with_a_client_certificate_is_verified_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let receiver = StreamReceiver::start(
        0,
        Framing::OctetCounting,
        Some(pki.server_config(true)),
        Behaviour::Record,
    );
    let mut config = relay_config("tls", RelayTransport::Tls, receiver.addr.port(), dir.path());
    config.tls = Some(pki.client_files(true, "localhost"));
    let relay = Relay::start(config, metrics()).unwrap();
    let messages = numbered("r1", 0..1000);
    offer_all(&relay.handle(), &messages, 50);
    assert!(eventually(Duration::from_secs(10), || receiver.count() == 1000));
    assert_eq!(receiver.messages(), messages);
    relay.shutdown().unwrap();
}

#[test]
fn tls_refuses_a_server_with_the_wrong_name_and_keeps_the_messages() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let receiver = StreamReceiver::tls(0, &pki);
    let metrics = metrics();
    let mut config = relay_config(
        "tlsname",
        RelayTransport::Tls,
        receiver.addr.port(),
        dir.path(),
    );
    config.tls = Some(pki.client_files(false, "central.example.net"));
    let relay = Relay::start(config.clone(), metrics.clone()).unwrap();
    offer_all(&relay.handle(), &numbered("r1", 0..10), 10);
    let counters = metrics.relay("tlsname");
    assert!(eventually(Duration::from_secs(10), || counters
        .connect_errors
        .get()
        >= 2));
    assert_eq!(receiver.count(), 0);
    assert_eq!(counters.messages_sent.get(), 0);
    relay.shutdown().unwrap();

    // With the right name the same spool is delivered.
    config.tls = Some(pki.client_files(false, "localhost"));
    let relay = Relay::start(config, metrics).unwrap();
    assert!(eventually(Duration::from_secs(10), || receiver.count() == 10));
    assert_eq!(receiver.messages(), numbered("r1", 0..10));
    relay.shutdown().unwrap();
}

#[test]
fn udp_sends_one_datagram_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = UdpReceiver::start();
    let metrics = metrics();
    let config = relay_config("udp", RelayTransport::Udp, receiver.addr.port(), dir.path());
    let relay = Relay::start(config, metrics.clone()).unwrap();
    let messages = numbered("r1", 0..200);
    let mut oversized = b"<13>".to_vec();
    oversized.resize(70_000, b'x');
    let mut with_oversized = messages.clone();
    with_oversized.insert(100, oversized);
    offer_all(&relay.handle(), &with_oversized, 20);
    assert!(eventually(Duration::from_secs(10), || receiver
        .messages()
        .len()
        == 200));
    assert_eq!(receiver.messages(), messages);
    let counters = metrics.relay("udp");
    assert!(eventually(Duration::from_secs(5), || {
        counters
            .dropped(sinkd_metrics::DropReason::RelaySendError)
            .get()
            == 1
    }));
    relay.shutdown().unwrap();
}

#[test]
fn bad_settings_fail_the_start_with_the_sink_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = relay_config("broken", RelayTransport::Tls, 6514, dir.path());
    assert!(matches!(
        Relay::start(config.clone(), metrics()),
        Err(RelayError::InvalidConfig { .. })
    ));
    config.tls = Some(sinkd_relay::TlsClientFiles {
        ca: dir.path().join("missing.pem"),
        client_cert: None,
        server_name: "localhost".to_owned(),
    });
    let error = Relay::start(config, metrics()).unwrap_err();
    assert!(error.to_string().contains("broken"), "{error}");
    assert!(matches!(error, RelayError::TlsFile { .. }));
}

#[test]
fn a_stopped_relay_refuses_without_blocking_and_counts_the_drop() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = metrics();
    let config = relay_config(
        "gone",
        RelayTransport::Tcp,
        crate::support::free_port(),
        dir.path(),
    );
    let relay = Relay::start(config, metrics.clone()).unwrap();
    let handle = relay.handle();
    relay.shutdown().unwrap();
    assert_eq!(offer_all(&handle, &numbered("r1", 0..10), 10), 0);
    let counters = metrics.relay("gone");
    assert_eq!(
        counters
            .dropped(sinkd_metrics::DropReason::RelayQueueFull)
            .get(),
        10
    );
    assert_eq!(
        metrics
            .dropped(sinkd_metrics::DropReason::RelayQueueFull)
            .get(),
        10
    );
}
