//! The TCP listener: both framings, split writes, oversized and bogus
//! frames, limits, idle timeout, backpressure, updates and shutdown.

use crate::support::{any_port, eventually, spawn_worker, StreamHarness, PATIENCE};
use sinkd_listen::{start_stream, AllowList, ListenError, StreamConfig, WorkerQueues};
use sinkd_metrics::{ConnectionEvent, DropReason, Metrics, Transport};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

async fn connect(harness: &StreamHarness) -> TcpStream {
    TcpStream::connect(harness.addr()).await.expect("connect")
}

/// Waits for the server to close `stream`: EOF or a reset.
async fn expect_closed(stream: &mut TcpStream) {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(PATIENCE, stream.read(&mut byte)).await {
        Ok(Ok(0)) | Ok(Err(_)) => {}
        Ok(Ok(_)) => panic!("the server sent data"),
        Err(_) => panic!("the server did not close the connection"),
    }
}

#[tokio::test]
async fn lf_and_octet_counting_are_detected_per_connection() {
    let harness = StreamHarness::start(StreamConfig::new(any_port())).await;
    let mut lf = connect(&harness).await;
    lf.write_all(b"<13>lf one\n<14>lf two\r\n")
        .await
        .expect("write");
    let frames = harness.collected.wait_for(2).await;
    assert_eq!(frames, vec![b"<13>lf one".to_vec(), b"<14>lf two".to_vec()]);
    let mut counted = connect(&harness).await;
    counted
        .write_all(b"10 <13>oc\none12 <14>oc two\r\n")
        .await
        .expect("write");
    let frames = harness.collected.wait_for(4).await;
    assert_eq!(
        frames[2..],
        [b"<13>oc\none".to_vec(), b"<14>oc two\r\n".to_vec()]
    );
    let peer = lf.local_addr().expect("address");
    assert_eq!(harness.collected.frames()[0].peer, peer);
    assert_eq!(harness.metrics.connections(Transport::Tcp).get(), 2);
    drop((lf, counted));
    eventually("both connections closed", || {
        harness
            .metrics
            .connection_closed(ConnectionEvent::PeerClosed)
            .get()
            == 2
    })
    .await;
    assert_eq!(harness.metrics.connections(Transport::Tcp).get(), 0);
    assert_eq!(harness.metrics.received(Transport::Tcp).get(), 4);
}

#[tokio::test]
async fn frames_split_across_writes_are_reassembled() {
    let harness = StreamHarness::start(StreamConfig::new(any_port())).await;
    let mut lf = connect(&harness).await;
    let mut counted = connect(&harness).await;
    for (lf_piece, counted_piece) in [
        (&b"<13>hel"[..], &b"1"[..]),
        (b"lo\n<14>wor", b"2 <13>ab"),
        (b"ld\n<15>tail", b"cdefgh"),
    ] {
        lf.write_all(lf_piece).await.expect("write");
        counted.write_all(counted_piece).await.expect("write");
        lf.flush().await.expect("flush");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let frames = harness.collected.wait_for(3).await;
    let mut sorted = frames.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![
            b"<13>abcdefgh".to_vec(),
            b"<13>hello".to_vec(),
            b"<14>world".to_vec()
        ]
    );
    // The last line has no LF; closing the connection delivers it.
    lf.shutdown().await.expect("half-close");
    let frames = harness.collected.wait_for(4).await;
    assert_eq!(frames[3], b"<15>tail".to_vec());
}

#[tokio::test]
async fn an_oversized_line_is_dropped_and_the_connection_goes_on() {
    let mut config = StreamConfig::new(any_port());
    config.max_frame = 1024;
    let harness = StreamHarness::start(config).await;
    let mut stream = connect(&harness).await;
    stream.write_all(b"<13>before\n").await.expect("write");
    // Far beyond max_frame and the read buffer: discarded as it arrives.
    let long_line = vec![b'x'; 300 * 1024];
    stream.write_all(b"<13>").await.expect("write");
    stream.write_all(&long_line).await.expect("write");
    stream.write_all(b"\n<14>after\n").await.expect("write");
    let frames = harness.collected.wait_for(2).await;
    assert_eq!(frames, vec![b"<13>before".to_vec(), b"<14>after".to_vec()]);
    assert_eq!(harness.metrics.dropped(DropReason::FrameTooLarge).get(), 1);
    assert_eq!(harness.metrics.received(Transport::Tcp).get(), 3);
    assert_eq!(harness.metrics.connections(Transport::Tcp).get(), 1);
}

#[tokio::test]
async fn a_bogus_length_closes_the_connection_and_others_are_served() {
    let harness = StreamHarness::start(StreamConfig::new(any_port())).await;
    let mut bogus = connect(&harness).await;
    bogus
        .write_all(b"6 <13>ok2000000000 <13>x")
        .await
        .expect("write");
    expect_closed(&mut bogus).await;
    eventually("the framing error is counted", || {
        harness
            .metrics
            .connection_closed(ConnectionEvent::FrameError)
            .get()
            == 1
    })
    .await;
    // A length past max_frame is a frame too large (FrameError::is_too_large),
    // not a malformed header.
    assert_eq!(harness.metrics.dropped(DropReason::FrameTooLarge).get(), 1);
    assert_eq!(harness.metrics.dropped(DropReason::FrameInvalid).get(), 0);
    // The frame before the bad header was delivered.
    assert_eq!(
        harness.collected.wait_for(1).await,
        vec![b"<13>ok".to_vec()]
    );
    let mut good = connect(&harness).await;
    good.write_all(b"<13>still served\n").await.expect("write");
    assert_eq!(
        harness.collected.wait_for(2).await[1],
        b"<13>still served".to_vec()
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed_at_once() {
    let mut config = StreamConfig::new(any_port());
    config.max_connections = 2;
    let harness = StreamHarness::start(config).await;
    // Both deliver a frame, so neither can be evicted for a newcomer.
    let mut first = connect(&harness).await;
    let mut second = connect(&harness).await;
    first.write_all(b"<13>first\n").await.expect("write");
    second.write_all(b"<13>second\n").await.expect("write");
    harness.collected.wait_for(2).await;
    let mut third = connect(&harness).await;
    expect_closed(&mut third).await;
    assert_eq!(
        harness
            .metrics
            .connection_closed(ConnectionEvent::LimitReached)
            .get(),
        1
    );
    drop(first);
    eventually("a slot frees up", || {
        harness.listener.open_connections() == 1
    })
    .await;
    let mut fourth = connect(&harness).await;
    deliver(&harness, &mut fourth, "<13>fits again", 3).await;
}

/// Writes `line` and a newline, and waits until it arrives as the `nth`
/// frame collected.
async fn deliver(harness: &StreamHarness, stream: &mut TcpStream, line: &str, nth: usize) {
    stream
        .write_all(format!("{line}\n").as_bytes())
        .await
        .expect("write");
    assert_eq!(
        harness.collected.wait_for(nth).await[nth - 1],
        line.as_bytes().to_vec()
    );
}

#[tokio::test]
async fn a_full_table_evicts_the_oldest_silent_connection() {
    let mut config = StreamConfig::new(any_port());
    config.max_connections = 2;
    let harness = StreamHarness::start(config).await;
    let mut oldest = connect(&harness).await;
    let mut talker = connect(&harness).await;
    talker.write_all(b"<13>talks\n").await.expect("write");
    harness.collected.wait_for(1).await;
    // The table is full; the newcomer takes the silent one's place.
    let mut newcomer = connect(&harness).await;
    expect_closed(&mut oldest).await;
    deliver(&harness, &mut newcomer, "<13>newcomer", 2).await;
    assert_eq!(
        harness
            .metrics
            .connection_closed(ConnectionEvent::Evicted)
            .get(),
        1
    );
    assert_eq!(
        harness
            .metrics
            .connection_closed(ConnectionEvent::LimitReached)
            .get(),
        0
    );
    talker.write_all(b"<13>still here\n").await.expect("write");
    harness.collected.wait_for(3).await;
}

#[tokio::test]
async fn one_source_cannot_take_every_slot() {
    let mut config = StreamConfig::new(any_port());
    config.max_connections = 10;
    config.max_connections_per_source = 2;
    let harness = StreamHarness::start(config).await;
    let mut held = Vec::new();
    for n in 0..2 {
        let mut stream = connect(&harness).await;
        stream
            .write_all(format!("<13>held {n}\n").as_bytes())
            .await
            .expect("write");
        held.push(stream);
    }
    harness.collected.wait_for(2).await;
    let mut third = connect(&harness).await;
    expect_closed(&mut third).await;
    assert_eq!(
        harness
            .metrics
            .connection_closed(ConnectionEvent::SourceLimit)
            .get(),
        1
    );
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let mut config = StreamConfig::new(any_port());
    config.idle_timeout = Duration::from_millis(300);
    let harness = StreamHarness::start(config).await;
    let started = Instant::now();
    let mut stream = connect(&harness).await;
    stream
        .write_all(b"<13>then silence\n")
        .await
        .expect("write");
    harness.collected.wait_for(1).await;
    expect_closed(&mut stream).await;
    assert!(started.elapsed() >= Duration::from_millis(290));
    eventually("the idle timeout is counted", || {
        harness
            .metrics
            .connection_closed(ConnectionEvent::IdleTimeout)
            .get()
            == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_stops_reading_and_loses_nothing() {
    // One queue holding one batch, not drained until later.
    let (queues, mut receivers) = WorkerQueues::bounded(1, 1);
    let metrics = Metrics::new();
    let (_shutdown, shutdown_rx) = watch::channel(false);
    let listener = start_stream(
        &StreamConfig::new(any_port()),
        &queues,
        Arc::clone(&metrics),
        shutdown_rx,
    )
    .await
    .expect("listener starts");
    const N_MESSAGES: usize = 24 * 1024;
    let mut stream = TcpStream::connect(listener.local_addr())
        .await
        .expect("connect");
    let bytes_written = Arc::new(AtomicUsize::new(0));
    let writer_done = Arc::new(AtomicBool::new(false));
    let writer = {
        let bytes_written = Arc::clone(&bytes_written);
        let writer_done = Arc::clone(&writer_done);
        tokio::spawn(async move {
            let padding = "p".repeat(1000);
            for seq in 0..N_MESSAGES {
                let line = format!("<13>seq={seq:06} {padding}\n");
                stream.write_all(line.as_bytes()).await.expect("write");
                bytes_written.fetch_add(line.len(), Ordering::Relaxed);
            }
            writer_done.store(true, Ordering::Release);
            stream
        })
    };
    // The writer stalls once the queue, the reader and the kernel's socket
    // buffers are full (a few MiB, well under the 24 MiB it wants to send).
    let mut last = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = bytes_written.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        assert!(
            !writer_done.load(Ordering::Acquire),
            "the writer never blocked"
        );
        last = now;
    }
    assert!(!writer_done.load(Ordering::Acquire));
    assert_eq!(metrics.dropped(DropReason::QueueFull).get(), 0);
    // Now the worker drains: everything arrives, in order.
    let collected = spawn_worker(receivers.remove(0));
    let stream = tokio::time::timeout(PATIENCE, writer)
        .await
        .expect("the writer finishes once the worker drains")
        .expect("writer task");
    let frames = collected.wait_for(N_MESSAGES).await;
    assert_eq!(frames.len(), N_MESSAGES);
    for (seq, frame) in frames.iter().enumerate() {
        let expected = format!("<13>seq={seq:06} ");
        assert!(
            frame.starts_with(expected.as_bytes()),
            "frame {seq} out of order"
        );
    }
    for reason in DropReason::ALL {
        assert_eq!(metrics.dropped(reason).get(), 0, "{reason:?}");
    }
    drop(stream);
}

#[tokio::test]
async fn shutdown_hands_over_decoded_frames_before_closing() {
    let (queues, mut receivers) = WorkerQueues::bounded(1, 1);
    let metrics = Metrics::new();
    let (shutdown, shutdown_rx) = watch::channel(false);
    let listener = start_stream(
        &StreamConfig::new(any_port()),
        &queues,
        Arc::clone(&metrics),
        shutdown_rx,
    )
    .await
    .expect("listener starts");
    let mut stream = TcpStream::connect(listener.local_addr())
        .await
        .expect("connect");
    // The first batch fills the queue; the second waits inside the
    // connection task.
    stream.write_all(b"<13>first\n").await.expect("write");
    eventually("the first frame is read", || {
        metrics.received(Transport::Tcp).get() == 1
    })
    .await;
    stream.write_all(b"<13>second\n").await.expect("write");
    eventually("the second frame is read", || {
        metrics.received(Transport::Tcp).get() == 2
    })
    .await;
    let addr = listener.local_addr();
    shutdown.send_replace(true);
    let join = tokio::spawn(listener.join());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!join.is_finished(), "join waits for the pending batch");
    let collected = spawn_worker(receivers.remove(0));
    tokio::time::timeout(PATIENCE, join)
        .await
        .expect("join returns once the batch is handed over")
        .expect("join task");
    assert_eq!(
        collected.wait_for(2).await,
        vec![b"<13>first".to_vec(), b"<13>second".to_vec()]
    );
    expect_closed(&mut stream).await;
    assert_eq!(
        metrics.connection_closed(ConnectionEvent::Shutdown).get(),
        1
    );
    // The listening socket is gone.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn shutdown_drains_what_the_peer_already_sent() {
    let (queues, mut receivers) = WorkerQueues::bounded(1, 1);
    let metrics = Metrics::new();
    let (shutdown, shutdown_rx) = watch::channel(false);
    let listener = start_stream(
        &StreamConfig::new(any_port()),
        &queues,
        Arc::clone(&metrics),
        shutdown_rx,
    )
    .await
    .expect("listener starts");
    let mut stream = TcpStream::connect(listener.local_addr())
        .await
        .expect("connect");
    // Fill the queue and leave a second batch waiting in the connection
    // task, so the rest is still unread in the socket at shutdown.
    stream.write_all(b"<13>first\n").await.expect("write");
    eventually("the first frame is read", || {
        metrics.received(Transport::Tcp).get() == 1
    })
    .await;
    stream.write_all(b"<13>second\n").await.expect("write");
    eventually("the second frame is read", || {
        metrics.received(Transport::Tcp).get() == 2
    })
    .await;
    let rest: String = (0..200).map(|i| format!("<13>rest {i}\n")).collect();
    stream.write_all(rest.as_bytes()).await.expect("write");
    stream.shutdown().await.expect("half-close");
    shutdown.send_replace(true);
    let collected = spawn_worker(receivers.remove(0));
    tokio::time::timeout(PATIENCE, listener.join())
        .await
        .expect("join returns");
    let frames = collected.wait_for(202).await;
    assert_eq!(frames.len(), 202);
    assert_eq!(frames[201], b"<13>rest 199".to_vec());
    assert_eq!(metrics.received(Transport::Tcp).get(), 202);
}

#[tokio::test]
async fn shutdown_admits_and_drains_connections_still_in_the_backlog() {
    let (queues, mut receivers) = WorkerQueues::bounded(1, 4);
    let metrics = Metrics::new();
    let (shutdown, shutdown_rx) = watch::channel(false);
    let listener = start_stream(
        &StreamConfig::new(any_port()),
        &queues,
        Arc::clone(&metrics),
        shutdown_rx,
    )
    .await
    .expect("listener starts");
    // A blocking client on this (single) runtime thread: the kernel
    // completes the connection and buffers the bytes, but the accept loop
    // does not run before shutdown is signalled.
    let mut client = std::net::TcpStream::connect(listener.local_addr()).expect("connect");
    std::io::Write::write_all(&mut client, b"<13>in the backlog\n").expect("write");
    client
        .shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    shutdown.send_replace(true);
    let collected = spawn_worker(receivers.remove(0));
    tokio::time::timeout(PATIENCE, listener.join())
        .await
        .expect("join returns");
    assert_eq!(
        collected.wait_for(1).await,
        vec![b"<13>in the backlog".to_vec()]
    );
}

#[tokio::test]
async fn updates_apply_to_new_connections_only() {
    let harness = StreamHarness::start(StreamConfig::new(any_port())).await;
    let mut open = connect(&harness).await;
    open.write_all(b"<13>before\n").await.expect("write");
    harness.collected.wait_for(1).await;
    let mut config = StreamConfig::new(any_port());
    config.allow = "192.0.2.0/24".parse::<AllowList>().expect("allow list");
    harness.listener.update(&config).expect("update applies");
    let mut refused = connect(&harness).await;
    expect_closed(&mut refused).await;
    assert_eq!(
        harness
            .metrics
            .connection_closed(ConnectionEvent::NotAllowed)
            .get(),
        1
    );
    // The connection opened before the update is untouched.
    open.write_all(b"<13>after\n").await.expect("write");
    assert_eq!(
        harness.collected.wait_for(2).await[1],
        b"<13>after".to_vec()
    );
    // Moving the listener is not an update.
    let mut moved = config.clone();
    moved.address = "127.0.0.1:1".parse().expect("address");
    assert!(matches!(
        harness.listener.update(&moved),
        Err(ListenError::ChangeNeedsRestart { .. })
    ));
    let mut bad = config;
    bad.max_frame = 0;
    let error = harness.listener.update(&bad).expect_err("invalid");
    assert!(error.to_string().contains("max_frame"), "{error}");
    // A plain TCP listener has no certificates to reload.
    harness.listener.reload_tls().expect("nothing to reload");
}

#[tokio::test]
async fn stop_accepting_closes_the_port_and_keeps_connections() {
    let harness = StreamHarness::start(StreamConfig::new(any_port())).await;
    let mut open = connect(&harness).await;
    eventually("the connection is admitted", || {
        harness.listener.open_connections() == 1
    })
    .await;
    harness.listener.stop_accepting();
    let addr = harness.addr();
    eventually("the port is closed", || {
        std::net::TcpStream::connect(addr).is_err()
    })
    .await;
    open.write_all(b"<13>still open\n").await.expect("write");
    assert_eq!(
        harness.collected.wait_for(1).await,
        vec![b"<13>still open".to_vec()]
    );
}

#[tokio::test]
async fn a_port_in_use_is_a_bind_error_naming_the_address() {
    let harness = StreamHarness::start(StreamConfig::new(any_port())).await;
    let (queues, _receivers) = WorkerQueues::bounded(1, 1);
    let (_shutdown, shutdown_rx) = watch::channel(false);
    let error = start_stream(
        &StreamConfig::new(harness.addr()),
        &queues,
        Metrics::new(),
        shutdown_rx,
    )
    .await
    .expect_err("the port is taken");
    assert!(matches!(error, ListenError::Bind { .. }), "{error:?}");
    assert!(
        error.to_string().contains(&harness.addr().to_string()),
        "{error}"
    );
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_join_returns() {
    let harness = StreamHarness::start(StreamConfig::new(any_port())).await;
    let mut first = connect(&harness).await;
    let mut second = connect(&harness).await;
    first.write_all(b"<13>one\n").await.expect("write");
    harness.collected.wait_for(1).await;
    eventually("both connections admitted", || {
        harness.listener.open_connections() == 2
    })
    .await;
    let StreamHarness {
        listener,
        metrics,
        shutdown,
        ..
    } = harness;
    shutdown.send_replace(true);
    tokio::time::timeout(PATIENCE, listener.join())
        .await
        .expect("join returns");
    expect_closed(&mut first).await;
    expect_closed(&mut second).await;
    assert_eq!(
        metrics.connection_closed(ConnectionEvent::Shutdown).get(),
        2
    );
    assert_eq!(metrics.connections(Transport::Tcp).get(), 0);
}
