//! The UDP listener: batches, allow lists, full queues, configuration
//! errors.

use crate::support::{any_port, eventually, spawn_worker, Seen};
use sinkd_listen::{
    start_udp, AllowList, ListenError, RawBatch, UdpConfig, UdpListener, WorkerQueues,
};
use sinkd_metrics::{DropReason, Metrics, Transport};
use std::net::UdpSocket;
use std::sync::Arc;
use tokio::sync::mpsc;

fn config() -> UdpConfig {
    let mut config = UdpConfig::new(any_port());
    config.threads = 2;
    config.recv_buffer = 1024 * 1024;
    config
}

/// A listener on `config` with one receive thread, feeding one queue of
/// one batch that nobody reads yet.
fn one_reader_one_batch(
    mut config: UdpConfig,
) -> (UdpListener, mpsc::Receiver<RawBatch>, Arc<Metrics>) {
    let (queues, mut receivers) = WorkerQueues::bounded(1, 1);
    let metrics = Metrics::new();
    config.threads = 1;
    let listener = start_udp(&config, &queues, Arc::clone(&metrics)).expect("listener starts");
    (listener, receivers.remove(0), metrics)
}

#[tokio::test]
async fn several_datagrams_arrive_as_frames_with_their_peer() {
    let (queues, mut receivers) = WorkerQueues::bounded(2, 16);
    let metrics = Metrics::new();
    let listener = start_udp(&config(), &queues, Arc::clone(&metrics)).expect("listener starts");
    let collected: Vec<_> = receivers.drain(..).map(spawn_worker).collect();
    let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
    let peer = sender.local_addr().expect("address");
    let messages: [&[u8]; 4] = [
        b"<13>Jan  1 00:00:00 host app: one",
        b"<14>1 2024-01-01T00:00:00Z host app - - - two\n",
        b"<15>three\r\n",
        b"<12>four\0",
    ];
    for msg in messages {
        sender.send_to(msg, listener.local_addr()).expect("send");
    }
    let total = || collected.iter().map(|c| c.len()).sum::<usize>();
    eventually("four frames", || total() == 4).await;
    // One sender hashes to one socket, so one queue holds all, in order.
    let frames: Vec<Seen> = collected.iter().flat_map(|c| c.frames()).collect();
    let expected: Vec<Seen> = [
        &b"<13>Jan  1 00:00:00 host app: one"[..],
        b"<14>1 2024-01-01T00:00:00Z host app - - - two",
        b"<15>three",
        b"<12>four",
    ]
    .iter()
    .map(|bytes| Seen {
        bytes: bytes.to_vec(),
        peer,
    })
    .collect();
    assert_eq!(frames, expected);
    assert_eq!(metrics.received(Transport::Udp).get(), 4);
    for reason in DropReason::ALL {
        assert_eq!(metrics.dropped(reason).get(), 0, "{reason:?}");
    }
    listener.shutdown();
}

#[tokio::test]
async fn sources_outside_the_allow_list_are_dropped_and_counted() {
    let (queues, mut receivers) = WorkerQueues::bounded(1, 16);
    let metrics = Metrics::new();
    let mut config = config();
    config.allow = "127.0.0.2".parse::<AllowList>().expect("allow list");
    let listener = start_udp(&config, &queues, Arc::clone(&metrics)).expect("listener starts");
    let collected = spawn_worker(receivers.remove(0));
    let stranger = UdpSocket::bind("127.0.0.1:0").expect("sender");
    let friend = UdpSocket::bind("127.0.0.2:0").expect("sender on 127.0.0.2");
    for _ in 0..3 {
        stranger
            .send_to(b"<13>stranger", listener.local_addr())
            .expect("send");
    }
    friend
        .send_to(b"<13>friend", listener.local_addr())
        .expect("send");
    let frames = collected.wait_for(1).await;
    eventually("three not_allowed drops", || {
        metrics.dropped(DropReason::NotAllowed).get() == 3
    })
    .await;
    assert_eq!(frames, vec![b"<13>friend".to_vec()]);
    assert_eq!(metrics.received(Transport::Udp).get(), 4);
    listener.shutdown();
}

#[tokio::test]
async fn a_full_queue_makes_the_reader_wait_instead_of_dropping() {
    // One queue of one batch, not drained at first.
    let (listener, mut receiver, metrics) = one_reader_one_batch(config());
    let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
    for n_sent in 1..=2u64 {
        sender
            .send_to(b"<13>burst", listener.local_addr())
            .expect("send");
        eventually("the datagram is read", || {
            metrics.received(Transport::Udp).get() == n_sent
        })
        .await;
    }
    // The first batch fills the queue; the reader now waits with the second,
    // and the third waits in the socket's receive buffer.
    sender
        .send_to(b"<13>burst", listener.local_addr())
        .expect("send");
    let mut n_frames = 0;
    while n_frames < 3 {
        let batch = tokio::time::timeout(std::time::Duration::from_secs(10), receiver.recv())
            .await
            .expect("a batch within 10 s")
            .expect("queue open");
        n_frames += batch.len();
    }
    assert_eq!(n_frames, 3);
    assert_eq!(metrics.dropped(DropReason::QueueFull).get(), 0);
    listener.shutdown();
}

#[tokio::test]
async fn while_the_store_is_paused_a_full_queue_drops_as_disk_full() {
    let paused = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (queues, mut receivers) = WorkerQueues::bounded(1, 1);
    let queues = queues.with_store_paused(Arc::clone(&paused));
    let metrics = Metrics::new();
    let mut config = config();
    config.threads = 1;
    let listener = start_udp(&config, &queues, Arc::clone(&metrics)).expect("listener starts");
    let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
    let send_and_wait = |n_sent: u64| {
        sender
            .send_to(b"<13>burst", listener.local_addr())
            .expect("send");
        let metrics = Arc::clone(&metrics);
        async move {
            eventually("the datagram is read", || {
                metrics.received(Transport::Udp).get() == n_sent
            })
            .await;
        }
    };
    // The first fills the queue, the reader waits with the second.
    send_and_wait(1).await;
    send_and_wait(2).await;
    // The store pauses: the waiting batch, and what follows while the
    // queue stays full, are dropped under their own reason.
    paused.store(true, std::sync::atomic::Ordering::Relaxed);
    eventually("the waiting datagram is dropped", || {
        metrics.dropped(DropReason::DiskFull).get() == 1
    })
    .await;
    for n_sent in 3..=5 {
        send_and_wait(n_sent).await;
    }
    eventually(
        "every datagram that found the queue full is counted",
        || metrics.dropped(DropReason::DiskFull).get() == 4,
    )
    .await;
    // Writing resumes: the reader waits again, nothing more is dropped.
    paused.store(false, std::sync::atomic::Ordering::Relaxed);
    send_and_wait(6).await;
    let first = receivers[0].recv().await.expect("queue open");
    assert_eq!(first.len(), 1);
    let second = tokio::time::timeout(std::time::Duration::from_secs(10), receivers[0].recv())
        .await
        .expect("the waiting batch within 10 s")
        .expect("queue open");
    assert_eq!(second.len(), 1);
    assert_eq!(metrics.dropped(DropReason::DiskFull).get(), 4);
    assert_eq!(metrics.dropped(DropReason::QueueFull).get(), 0);
    listener.shutdown();
}

#[tokio::test]
async fn empty_datagrams_are_counted_as_invalid() {
    let (queues, mut receivers) = WorkerQueues::bounded(1, 16);
    let metrics = Metrics::new();
    let listener = start_udp(&config(), &queues, Arc::clone(&metrics)).expect("listener starts");
    let collected = spawn_worker(receivers.remove(0));
    let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
    sender.send_to(b"", listener.local_addr()).expect("send");
    sender.send_to(b"\n", listener.local_addr()).expect("send");
    sender
        .send_to(b"<13>real", listener.local_addr())
        .expect("send");
    assert_eq!(collected.wait_for(1).await, vec![b"<13>real".to_vec()]);
    eventually("two invalid frames", || {
        metrics.dropped(DropReason::FrameInvalid).get() == 2
    })
    .await;
    listener.shutdown();
}

#[test]
fn settings_out_of_range_are_refused_with_their_name() {
    let (queues, _receivers) = WorkerQueues::bounded(1, 1);
    let mut config = config();
    config.batch_size = 0;
    let error = start_udp(&config, &queues, Metrics::new()).expect_err("invalid");
    assert!(error.to_string().contains("batch_size"), "{error}");
    let mut config = self::config();
    config.max_frame = 1 << 20;
    let error = start_udp(&config, &queues, Metrics::new()).expect_err("invalid");
    assert!(error.to_string().contains("max_frame"), "{error}");
    let empty = WorkerQueues::new(Vec::new());
    assert!(matches!(
        start_udp(&self::config(), &empty, Metrics::new()),
        Err(ListenError::NoWorkerQueues)
    ));
}

#[tokio::test]
async fn datagrams_the_kernel_drops_are_counted_exactly() {
    // A receive buffer the size of a few datagrams and a worker queue of
    // one batch that nobody reads during the burst: the reader holds at
    // most two batches of 64, the socket a few datagrams more, and the
    // kernel drops the rest. Every datagram sent is then either received
    // or counted as a kernel drop, none twice.
    let mut config = config();
    config.recv_buffer = 1;
    config.batch_size = 64;
    let (listener, receiver, metrics) = one_reader_one_batch(config);
    let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
    const SENT: u64 = 500;
    let payload = [b'x'; 300];
    for _ in 0..SENT {
        sender
            .send_to(&payload, listener.local_addr())
            .expect("send");
    }
    let collected = spawn_worker(receiver);
    eventually("every datagram received or dropped", || {
        metrics.received(Transport::Udp).get() + metrics.udp_kernel_drops.get() == SENT
    })
    .await;
    let received = metrics.received(Transport::Udp).get();
    assert!(received > 0 && received <= 200, "{received}");
    eventually("every received datagram in the queue", || {
        collected.len() as u64 == received
    })
    .await;
    listener.shutdown();
    assert_eq!(
        metrics.received(Transport::Udp).get() + metrics.udp_kernel_drops.get(),
        SENT
    );
    assert_eq!(metrics.dropped(DropReason::QueueFull).get(), 0);
}

#[tokio::test]
async fn a_call_of_long_datagrams_goes_over_in_batches_of_at_most_4_mib() {
    // The reader is held (a full queue) while 70 datagrams of 65,000 bytes
    // wait in the socket; its next call reads them all, 4.5 MB, more than
    // one batch may hold.
    let mut config = config();
    config.recv_buffer = 32 * 1024 * 1024;
    config.batch_size = 256;
    let (listener, mut receiver, metrics) = one_reader_one_batch(config);
    let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
    for (n_sent, msg) in [&b"<13>first"[..], b"<13>second"].iter().enumerate() {
        sender.send_to(msg, listener.local_addr()).expect("send");
        eventually("the datagram is read", || {
            metrics.received(Transport::Udp).get() == n_sent as u64 + 1
        })
        .await;
    }
    let long = |n: usize| -> Vec<u8> {
        let mut datagram = format!("<13>long {n:03} ").into_bytes();
        datagram.resize(65_000, b'a' + (n % 26) as u8);
        datagram
    };
    const LONG: usize = 70;
    for n in 0..LONG {
        sender
            .send_to(&long(n), listener.local_addr())
            .expect("send");
    }
    let mut frames = Vec::new();
    let mut batch_bytes = Vec::new();
    while frames.len() < LONG + 2 {
        let batch = tokio::time::timeout(std::time::Duration::from_secs(10), receiver.recv())
            .await
            .expect("a batch within 10 s")
            .expect("queue open");
        batch_bytes.push(batch.data.len());
        frames.extend(batch.iter().map(|(frame, _)| frame.to_vec()));
    }
    let mut expected = vec![b"<13>first".to_vec(), b"<13>second".to_vec()];
    expected.extend((0..LONG).map(long));
    assert!(frames == expected, "frames differ");
    assert!(
        batch_bytes.iter().all(|&len| len <= 4 * 1024 * 1024),
        "{batch_bytes:?}"
    );
    assert!(batch_bytes.len() >= 4, "{batch_bytes:?}");
    assert_eq!(metrics.udp_kernel_drops.get(), 0);
    listener.shutdown();
}
