//! Reloads built before they commit: binding fails whole on a bad
//! certificate, a prepared update changes nothing until committed, an
//! abandoned UDP bind hands over every datagram the kernel gave it, and a
//! switch between TCP and TLS binds the new listener before it retires the
//! old one.

use crate::support::{any_port, eventually, spawn_worker, Collected, PATIENCE};
use crate::tls::{client, handshake_failures, send, ServerFiles};
use sinkd_listen::{
    bind_stream, bind_udp, start_stream, start_udp, ListenError, StreamConfig, TlsConfig,
    UdpConfig, WorkerQueues,
};
use sinkd_metrics::{DropReason, Metrics, Transport};
use sinkd_tls::test_pki::Ca;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// One worker queue per collector, drained.
fn drained_queues(n_queues: usize) -> (WorkerQueues, Vec<Collected>) {
    let (queues, receivers) = WorkerQueues::bounded(n_queues, 64);
    (queues, receivers.into_iter().map(spawn_worker).collect())
}

fn total(collected: &[Collected]) -> usize {
    collected.iter().map(Collected::len).sum()
}

#[tokio::test]
async fn bind_stream_with_a_garbage_certificate_fails_and_nothing_listens() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let cert = dir.path().join("server.pem");
    let key = dir.path().join("server.key");
    std::fs::write(&cert, "not a certificate\n").expect("write");
    std::fs::write(&key, "not a key\n").expect("write");
    let address = {
        let probe = TcpListener::bind("127.0.0.1:0").expect("bind");
        probe.local_addr().expect("address")
    };
    let config = StreamConfig::new_tls(address, TlsConfig::new(&cert, &key));
    let error = bind_stream(&config).expect_err("garbage certificate");
    assert!(matches!(error, ListenError::TlsFile { .. }), "{error:?}");
    assert!(error.to_string().contains("server.pem"), "{error}");
    // Nothing was bound: the address refuses connections and is free.
    assert!(std::net::TcpStream::connect(address).is_err());
    drop(TcpListener::bind(address).expect("the address is free"));
}

#[tokio::test]
async fn a_prepared_update_with_a_garbage_certificate_fails_and_the_old_one_serves() {
    let old_ca = Ca::new("old CA");
    let new_ca = Ca::new("new CA");
    let files = ServerFiles::new(&old_ca, &old_ca);
    let harness = crate::support::StreamHarness::start(files.config(false)).await;
    let trusts_old = client(&old_ca, None);
    let trusts_new = client(&new_ca, None);

    std::fs::write(&files.cert, "not a certificate\n").expect("write");
    let error = harness
        .listener
        .prepare_update(&files.config(false))
        .expect_err("garbage certificate");
    assert!(matches!(error, ListenError::TlsFile { .. }), "{error:?}");
    send(&trusts_old, harness.addr(), b"<13>old certificate\n").await;
    assert_eq!(
        harness.collected.wait_for(1).await,
        vec![b"<13>old certificate".to_vec()]
    );

    // A good update prepared changes nothing until it is committed.
    files.write_server(&new_ca);
    let update = harness
        .listener
        .prepare_update(&files.config(false))
        .expect("new certificate");
    send(&trusts_old, harness.addr(), b"<13>still old\n").await;
    assert_eq!(harness.collected.wait_for(2).await[1], b"<13>still old");
    harness.listener.commit_update(update);
    send(&trusts_new, harness.addr(), b"<13>new certificate\n").await;
    assert_eq!(
        harness.collected.wait_for(3).await[2],
        b"<13>new certificate"
    );
    assert_eq!(handshake_failures(&harness), 0);
}

#[tokio::test]
async fn abandoning_a_bound_udp_listener_loses_no_datagram() {
    let mut config = UdpConfig::new(any_port());
    config.threads = 2;
    config.recv_buffer = 4 * 1024 * 1024;
    let (running_queues, running_collected) = drained_queues(2);
    let running_metrics = Metrics::new();
    let running =
        start_udp(&config, &running_queues, Arc::clone(&running_metrics)).expect("listener starts");
    // A reload binds new sockets on the same address, then gives them up.
    config.address = running.local_addr();
    let bound = bind_udp(&config, 2).expect("binds beside the running sockets");
    assert_eq!(bound.local_addr(), running.local_addr());

    // Many senders, so the kernel spreads them over all four sockets.
    let n_senders = 64;
    let per_sender = 20;
    for sender_idx in 0..n_senders {
        let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
        for n in 0..per_sender {
            let message = format!("<13>sender {sender_idx} message {n}");
            sender
                .send_to(message.as_bytes(), running.local_addr())
                .expect("send");
        }
    }
    let (abandoned_queues, abandoned_collected) = drained_queues(2);
    let abandoned_metrics = Metrics::new();
    tokio::task::spawn_blocking({
        let metrics = Arc::clone(&abandoned_metrics);
        move || bound.abandon(&abandoned_queues, metrics)
    })
    .await
    .expect("abandon returns");

    let n_sent = n_senders * per_sender;
    eventually("every datagram in a worker queue", || {
        total(&running_collected) + total(&abandoned_collected) == n_sent
    })
    .await;
    let read_by_abandon = abandoned_metrics.received(Transport::Udp).get();
    assert!(read_by_abandon > 0, "the abandoned sockets got a share");
    assert_eq!(
        running_metrics.received(Transport::Udp).get() + read_by_abandon,
        n_sent as u64
    );
    assert_eq!(total(&abandoned_collected) as u64, read_by_abandon);
    for metrics in [&running_metrics, &abandoned_metrics] {
        assert_eq!(metrics.udp_kernel_drops.get(), 0);
        assert_eq!(metrics.dropped(DropReason::QueueFull).get(), 0);
    }
    running.shutdown();
}

#[test]
fn udp_threads_zero_means_one_per_worker_queue() {
    let config = UdpConfig::new(any_port());
    assert_eq!(config.threads, 0);
    let bound = bind_udp(&config, 3).expect("binds");
    assert_eq!(bound.config().threads, 3);
    let (queues, _receivers) = WorkerQueues::bounded(3, 1);
    bound.abandon(&queues, Metrics::new());
    assert!(matches!(
        bind_udp(&config, 0),
        Err(ListenError::NoWorkerQueues)
    ));
}

#[tokio::test]
async fn a_switch_from_tcp_to_tls_binds_the_new_listener_before_retiring_the_old() {
    let ca = Ca::new("CA");
    let files = ServerFiles::new(&ca, &ca);
    let (_shutdown, shutdown_rx) = watch::channel(false);
    let (old_queues, old_collected) = drained_queues(1);
    let old = start_stream(
        &StreamConfig::new(any_port()),
        &old_queues,
        Metrics::new(),
        shutdown_rx.clone(),
    )
    .await
    .expect("tcp listener starts");
    let address: SocketAddr = old.local_addr();
    let mut open = TcpStream::connect(address).await.expect("connect");
    open.write_all(b"<13>open before\n").await.expect("write");
    eventually("the connection is admitted", || old.open_connections() == 1).await;
    // A blocking client on this (single) runtime thread: its connection
    // waits in the old listener's backlog, not yet accepted.
    let mut waiting = std::net::TcpStream::connect(address).expect("connect");
    std::io::Write::write_all(&mut waiting, b"<13>in the backlog\n").expect("write");
    waiting
        .shutdown(std::net::Shutdown::Write)
        .expect("half-close");

    // The reload: the TLS listener is bound while the TCP one accepts,
    // started, and only then is the TCP one retired.
    let bound = old.bind_beside(&files.config(false)).expect("binds beside");
    assert_eq!(bound.local_addr(), address);
    let (new_queues, new_collected) = drained_queues(1);
    let new_metrics = Metrics::new();
    let new = bound.start(&new_queues, Arc::clone(&new_metrics), shutdown_rx);
    old.stop_accepting();
    open.write_all(b"<13>still open\n").await.expect("write");
    open.shutdown().await.expect("close");
    tokio::time::timeout(PATIENCE, old.join())
        .await
        .expect("the old listener's connections end");
    let mut old_frames = old_collected[0].wait_for(3).await;
    old_frames.sort();
    assert_eq!(
        old_frames,
        [
            &b"<13>in the backlog"[..],
            b"<13>open before",
            b"<13>still open"
        ]
    );

    send(&client(&ca, None), address, b"<13>over tls\n").await;
    assert_eq!(
        new_collected[0].wait_for(1).await,
        vec![b"<13>over tls".to_vec()]
    );
    assert_eq!(new_metrics.received(Transport::Tls).get(), 1);
    // A different address is not a listener beside this one.
    let mut elsewhere = files.config(false);
    elsewhere.address = "127.0.0.1:1".parse().expect("address");
    assert!(matches!(
        new.bind_beside(&elsewhere),
        Err(ListenError::ChangeNeedsRestart { .. })
    ));
}
