//! The test harness: a worker that drains a queue into a list of frames,
//! polling helpers, and listeners started with test-friendly settings.

use sinkd_listen::{start_stream, RawBatch, StreamConfig, StreamListener, WorkerQueues};
use sinkd_metrics::Metrics;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// How long any expected event may take before a test fails.
pub(crate) const PATIENCE: Duration = Duration::from_secs(5);

/// 127.0.0.1 with a port chosen by the kernel.
pub(crate) fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A frame as a worker saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) bytes: Vec<u8>,
    pub(crate) peer: SocketAddr,
}

/// What a test worker has drained so far.
#[derive(Clone, Default)]
pub(crate) struct Collected {
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Collected {
    /// Every frame so far, in arrival order.
    pub(crate) fn frames(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// The bytes of every frame so far.
    pub(crate) fn bytes(&self) -> Vec<Vec<u8>> {
        self.frames().into_iter().map(|seen| seen.bytes).collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }

    /// Waits until at least `n` frames arrived and returns their bytes.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Vec<u8>> {
        eventually(&format!("{n} frames"), || self.len() >= n).await;
        self.bytes()
    }

    fn record(&self, batch: &RawBatch) {
        let mut seen = self.seen.lock().expect("lock");
        for (bytes, peer) in batch.iter() {
            seen.push(Seen {
                bytes: bytes.to_vec(),
                peer,
            });
        }
    }
}

/// Drains `receiver` into a [`Collected`] until the channel closes.
pub(crate) fn spawn_worker(mut receiver: mpsc::Receiver<RawBatch>) -> Collected {
    let collected = Collected::default();
    let sink = collected.clone();
    tokio::spawn(async move {
        while let Some(batch) = receiver.recv().await {
            assert_eq!(batch.frames.len(), batch.len());
            sink.record(&batch);
        }
    });
    collected
}

/// Polls `condition` every 5 ms; fails the test after [`PATIENCE`].
pub(crate) async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A stream listener with one drained worker queue.
pub(crate) struct StreamHarness {
    pub(crate) listener: StreamListener,
    pub(crate) collected: Collected,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) shutdown: watch::Sender<bool>,
}

impl StreamHarness {
    pub(crate) async fn start(config: StreamConfig) -> StreamHarness {
        let (queues, mut receivers) = WorkerQueues::bounded(1, 64);
        let metrics = Metrics::new();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let listener = start_stream(&config, &queues, Arc::clone(&metrics), shutdown_rx)
            .await
            .expect("listener starts");
        let collected = spawn_worker(receivers.remove(0));
        StreamHarness {
            listener,
            collected,
            metrics,
            shutdown,
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.listener.local_addr()
    }
}
