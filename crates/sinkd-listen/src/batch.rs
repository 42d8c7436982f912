//! The unit of work handed from the listeners to the worker pool.
//!
//! A listener never sends single messages to the workers. Each read from the
//! network (one `recvmmsg` call for UDP, one `read` for TCP/TLS) produces one
//! [`RawBatch`]: the raw syslog frames it yielded in a single byte arena,
//! plus a small [`RawFrame`] index entry per frame saying where it starts,
//! how long it is and who sent it. That costs two allocations per batch,
//! none per message, and the worker reads every frame as a plain `&[u8]`
//! slice of the arena. A stream read's arena is usually the decoded front
//! of the connection's read buffer itself, split off without a copy (the
//! framing and any empty lines between the frames included); UDP and RELP
//! copy their frames in.
//!
//! Batches travel over bounded tokio channels, one per worker thread, bundled
//! as [`WorkerQueues`]. The full-policy lives in the listeners, and both
//! wait for room: TCP/TLS stop reading their sockets and so push back on the
//! sender; UDP, which cannot push back, lets datagrams collect in the
//! socket's receive buffer meanwhile (what overflows it the kernel drops,
//! and the listener counts from SO_MEMINFO). While the store is paused for
//! lack of space ([`WorkerQueues::store_paused`]) the queues stay full for
//! as long as it lasts, so UDP stops waiting: a batch that finds its queue
//! full is dropped and counted as `disk_full`.
//!
//! A batch from a RELP session carries an [`Ack`]: the worker hands a clone
//! of it to every store submission and relay hand-off the batch produced,
//! and the session learns from its [`AckWait`] when the last clone is gone
//! whether every message was stored. Other batches carry none.

use bytes::BytesMut;
use sinkd_metrics::Transport;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// A batch's acknowledgement token. Clones travel with the work the batch
/// produced; when the last one is dropped, the [`AckWait`] made with it
/// resolves to `true` (every message handed to storage) or `false` (one
/// was lost, see [`Ack::fail`]).
#[derive(Clone, Debug)]
pub struct Ack(Arc<AckState>);

#[derive(Debug)]
struct AckState {
    failed: AtomicBool,
    done: Option<oneshot::Sender<bool>>,
}

/// The receiving end of an [`Ack`]: `Ok(true)` once the batch is stored,
/// `Ok(false)` when part of it was lost.
pub type AckWait = oneshot::Receiver<bool>;

impl Ack {
    /// A new token and what resolves when its last clone is dropped.
    pub fn new() -> (Ack, AckWait) {
        let (done, wait) = oneshot::channel();
        let state = AckState {
            failed: AtomicBool::new(false),
            done: Some(done),
        };
        (Ack(Arc::new(state)), wait)
    }

    /// Some message of the batch was not handed to storage (a relay's
    /// intake was full, a line was not written): the batch resolves
    /// `false`.
    pub fn fail(&self) {
        self.0.failed.store(true, Ordering::Release);
    }
}

impl Drop for AckState {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            // A session that stopped waiting has nothing to learn.
            let _ = done.send(!self.failed.load(Ordering::Acquire));
        }
    }
}

#[cfg(test)]
mod tests;

/// One frame inside a [`RawBatch`]: a slice of the batch's `data` arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawFrame {
    /// Offset of the frame's first byte in [`RawBatch::data`].
    pub start: u32,
    /// Length of the frame in bytes.
    pub len: u32,
    /// The address the frame came from (for TCP/TLS, the connection's peer).
    pub peer: SocketAddr,
}

/// Raw syslog frames received together, with the time they were received.
///
/// A frame is one syslog message without its transport framing: the UDP
/// payload (minus a trailing LF or NUL some senders append), or what RFC 6587
/// framing delimited on a stream.
#[derive(Clone, Debug)]
pub struct RawBatch {
    /// The listener transport that received the frames.
    pub transport: Transport,
    /// When the read that produced the batch returned, in microseconds since
    /// the Unix epoch. The workers use it to complete timestamps that lack a
    /// year or zone.
    pub received_unix_micros: i64,
    /// Every frame's bytes, in arrival order (from a stream read, with the
    /// framing and empty lines between them, which no frame covers).
    pub data: BytesMut,
    /// Where each frame lies in `data`, in arrival order.
    pub frames: Vec<RawFrame>,
    /// Set by a sender that waits for the batch to be stored (RELP).
    pub ack: Option<Ack>,
}

impl RawBatch {
    /// An empty batch with room for `data_capacity` bytes and
    /// `frames_capacity` frames.
    pub fn with_capacity(
        transport: Transport,
        received_unix_micros: i64,
        data_capacity: usize,
        frames_capacity: usize,
    ) -> RawBatch {
        RawBatch {
            transport,
            received_unix_micros,
            data: BytesMut::with_capacity(data_capacity),
            frames: Vec::with_capacity(frames_capacity),
            ack: None,
        }
    }

    /// Appends a copy of `frame`, received from `peer`. Returns `false`, and
    /// appends nothing, when the arena would pass 4 GiB (offsets are `u32`);
    /// the listeners bound their batches far below that.
    pub fn push(&mut self, frame: &[u8], peer: SocketAddr) -> bool {
        let (Ok(start), Ok(len)) = (u32::try_from(self.data.len()), u32::try_from(frame.len()))
        else {
            return false;
        };
        if start.checked_add(len).is_none() {
            return false;
        }
        self.data.extend_from_slice(frame);
        self.frames.push(RawFrame { start, len, peer });
        true
    }

    /// The number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether the batch holds no frame.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The bytes of frame `idx`.
    ///
    /// # Panics
    /// When `idx >= self.len()`, like slice indexing. A frame whose range
    /// lies outside `data` (possible only if the public fields were edited by
    /// hand) reads as empty.
    pub fn frame(&self, idx: usize) -> &[u8] {
        self.bytes_of(&self.frames[idx])
    }

    /// Every frame with its peer, in arrival order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], SocketAddr)> + '_ {
        self.frames
            .iter()
            .map(move |frame| (self.bytes_of(frame), frame.peer))
    }

    fn bytes_of(&self, frame: &RawFrame) -> &[u8] {
        let start = frame.start as usize;
        let end = start.saturating_add(frame.len as usize);
        self.data.get(start..end).unwrap_or(&[])
    }
}

/// The current time in microseconds since the Unix epoch (0 if the clock is
/// set before 1970).
pub(crate) fn now_unix_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The sending half of one worker's queue. Create it with a bounded
/// `tokio::sync::mpsc::channel`; the worker thread calls `blocking_recv`.
pub type BatchSender = mpsc::Sender<RawBatch>;

/// The queues of all worker threads, shared by every listener.
///
/// UDP receive thread `i` feeds queue `i % len()`; a TCP/TLS connection feeds
/// queue `connection_id % len()`, so one connection's messages stay in order.
#[derive(Clone, Debug)]
pub struct WorkerQueues {
    senders: Arc<[BatchSender]>,
    /// Set while the store cannot write (see [`WorkerQueues::with_store_paused`]).
    store_paused: Arc<AtomicBool>,
}

impl WorkerQueues {
    /// Wraps the senders, one per worker. An empty list is accepted here and
    /// rejected by the listeners' start functions.
    pub fn new(senders: impl Into<Arc<[BatchSender]>>) -> WorkerQueues {
        WorkerQueues {
            senders: senders.into(),
            store_paused: Arc::new(AtomicBool::new(false)),
        }
    }

    /// These queues, told by `flag` when the store behind the workers is
    /// paused for lack of space (`sinkd_store::StoreHealth::paused_flag`):
    /// the queues then stay full until space returns, and UDP drops what
    /// finds them full (`disk_full`) rather than wait.
    pub fn with_store_paused(mut self, flag: Arc<AtomicBool>) -> WorkerQueues {
        self.store_paused = flag;
        self
    }

    /// Whether the store behind the workers is paused for lack of space.
    pub fn store_paused(&self) -> bool {
        self.store_paused.load(Ordering::Relaxed)
    }

    /// Creates `n_workers` bounded channels of `capacity` batches each and
    /// returns the queues with their receivers (index `i` belongs to worker
    /// `i`). `capacity` is raised to 1 if 0.
    pub fn bounded(
        n_workers: usize,
        capacity: usize,
    ) -> (WorkerQueues, Vec<mpsc::Receiver<RawBatch>>) {
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..n_workers)
            .map(|_| mpsc::channel(capacity.max(1)))
            .unzip();
        (WorkerQueues::new(senders), receivers)
    }

    /// The number of worker queues.
    pub fn len(&self) -> usize {
        self.senders.len()
    }

    /// Whether there is no queue at all.
    pub fn is_empty(&self) -> bool {
        self.senders.is_empty()
    }

    /// The queue for shard `key` (`key % len()`), or `None` if there is no
    /// queue.
    pub fn for_key(&self, key: u64) -> Option<&BatchSender> {
        let n_queues = self.senders.len() as u64;
        if n_queues == 0 {
            return None;
        }
        // The remainder is below `len()`, which is a usize.
        self.senders.get((key % n_queues) as usize)
    }
}

impl From<Arc<[BatchSender]>> for WorkerQueues {
    fn from(senders: Arc<[BatchSender]>) -> WorkerQueues {
        WorkerQueues::new(senders)
    }
}

impl From<Vec<BatchSender>> for WorkerQueues {
    fn from(senders: Vec<BatchSender>) -> WorkerQueues {
        WorkerQueues::new(senders)
    }
}
