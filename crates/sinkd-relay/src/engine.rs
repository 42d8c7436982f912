//! The engine of one relay: one task on one thread, owning the queue, the
//! spool and the connection.
//!
//! Each relay runs on an OS thread of its own with a single-threaded tokio
//! runtime, so a slow disk or a target that never reads can hold up nothing
//! but this relay. The task waits for whichever comes first: a batch from
//! the workers (the intake channel), the link becoming writable, readable
//! or closed, a connection attempt finishing, a timer tick, or the stop
//! signal. Owning everything on one task keeps the ordering rules simple:
//!
//! - **Where a message goes.** While the spool has nothing waiting, batches
//!   go to the memory queue, as long as the queue plus the in-flight window
//!   hold at most `queue_memory` messages. The batch that would exceed it
//!   *spills*: the unacknowledged in-flight batches not yet in the spool
//!   are written to it first (and keep being tracked in flight, now with
//!   their spool sequence numbers), then the whole memory queue, then the
//!   batch. From then on every new batch goes to the spool until the sender
//!   has read the spool to its end. So memory never holds anything newer
//!   than what waits on disk, and the target sees one order.
//! - **Sending.** The sender takes the next batch (the memory queue first,
//!   else up to 1,024 messages or 256 KiB from the spool), frames it
//!   (`encode_frame`), writes it, and keeps it in the *in-flight window*
//!   (at most 4 MiB) with the connection's byte offset at which it ends.
//!   UDP sends one datagram per message and has no window.
//! - **Acknowledgement.** Every tick (10 ms while anything is in flight),
//!   and after each batch, the engine asks the kernel how many written
//!   bytes are still unacknowledged (`SIOCOUTQ`); batches that end at or
//!   before the acknowledged offset leave the window, are counted as sent,
//!   and move the spool cursor.
//! - **Failure.** A write or read error, the target closing, or no progress
//!   (no byte written or acknowledged) for `send_timeout` while something
//!   is pending breaks the connection. The window's batches are written
//!   again, first, on the next connection, after a capped, jittered
//!   exponential backoff. When the target *reset* the connection (it
//!   closed or died with unread data), the batches acknowledged in the
//!   last second (at most 8 MiB) are written again too, since a receiver
//!   loses what its kernel acknowledged but it never read. Both count in
//!   `sinkd_relay_messages_resent_total`.
//! - **Stop.** The engine takes what is left in the intake channel, lets a
//!   connected target acknowledge for up to a second, then writes the
//!   window's unspooled batches and the memory queue to the end of the
//!   spool (they are newer than anything the spool still holds unread),
//!   closes the spool (fsync) and writes the cursor.
//! - **Hand-over.** A relay restarted with new settings stops the same way
//!   but leaves its intake channel open and its spool open, and gives both
//!   back ([`HandedOver`]): the new engine takes the batches still waiting
//!   in the channel, and its spool resumes after the cursor, as a reopened
//!   one would (`Spool::resume`). The workers' handles never notice.

use crate::backoff::Backoff;
use crate::batch::{split_record, RelayBatch};
use crate::config::{RelayConfig, RelayTransport};
use crate::conn::{Conn, Dialer, Polled};
use crate::error::{ConnError, Fault, RelayError};
use crate::queue::{Queue, Stopping};
use crate::spool::Spool;
use crate::Shared;
use sinkd_metrics::{DropReason, Metrics, RelayConnectionState};
use sinkd_proto::framing::{encode_frame, Framing};
use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Most bytes written and not yet acknowledged.
const MAX_INFLIGHT_BYTES: u64 = 4 * 1024 * 1024;
/// Acknowledged batches kept for replay, in framed bytes: about what a
/// receiver's socket buffer can hold unread (Linux autotunes up to 6 MiB).
const RETAIN_BYTES: u64 = 8 * 1024 * 1024;
/// Acknowledged batches are kept for replay this long: a receiver that
/// is alive reads its socket buffer well within it.
const RETAIN_FOR: Duration = Duration::from_secs(1);
/// Most messages taken from the spool at once.
const SPOOL_READ_MESSAGES: usize = 1024;
/// About the most bytes taken from the spool at once.
const SPOOL_READ_BYTES: usize = 256 * 1024;
/// Tick while something waits for an acknowledgement.
const FAST_TICK: Duration = Duration::from_millis(10);
/// Tick otherwise.
const SLOW_TICK: Duration = Duration::from_millis(100);
/// Longest a stopping relay waits for a connected target's
/// acknowledgements.
const STOP_GRACE: Duration = Duration::from_secs(1);
/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_507;

type Connecting = Pin<Box<dyn Future<Output = Result<(Conn, SocketAddr), ConnError>> + Send>>;

/// The connection's state.
enum Link {
    /// Not connected; the next attempt is due at `retry_at`.
    Down {
        retry_at: Instant,
    },
    Connecting(Connecting),
    Up(Box<Conn>),
}

/// A batch taken from the queue and not yet acknowledged.
struct InFlight {
    batch: RelayBatch,
    /// Sequence number of the batch's last message when it is also in the
    /// spool; acknowledging the batch moves the cursor there.
    spool_last: Option<u64>,
    /// Connection offset at which the batch ends, once written whole on
    /// the current connection.
    end: Option<u64>,
    /// Whether the batch was written (in part or whole) on an earlier
    /// connection; writing it again makes possible duplicates.
    was_written: bool,
    /// UDP: messages already sent.
    sent: usize,
    /// Framed bytes of the batch (the counted `bytes_sent`).
    framed_bytes: u64,
    /// Already counted in `messages_sent` (a replayed batch).
    counted: bool,
    /// When the batch was acknowledged (kept for replay).
    acked_at: Option<Instant>,
}

/// How a stopping engine leaves its queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopMode {
    /// Close the intake channel and the spool: the relay is gone.
    Close,
    /// Keep the intake channel open and give it back with the open spool,
    /// for the engine that replaces this one.
    HandOver,
}

/// What a stopping engine gives to its successor.
pub(crate) struct HandedOver {
    /// The intake channel the workers' handles still send on.
    pub(crate) intake: mpsc::Receiver<RelayBatch>,
    /// The spool, everything the engine held in memory appended to it.
    pub(crate) spool: Spool,
}

/// What woke the engine.
enum Event {
    Stop(StopMode),
    Intake(RelayBatch),
    IntakeClosed,
    Connected(Result<(Conn, SocketAddr), ConnError>),
    Link(Polled),
    Tick,
}

pub(crate) struct Engine {
    config: RelayConfig,
    queue: Queue,
    dialer: Dialer,
    backoff: Backoff,
    link: Link,
    memory: VecDeque<RelayBatch>,
    memory_messages: usize,
    inflight: VecDeque<InFlight>,
    inflight_messages: usize,
    inflight_bytes: u64,
    /// Recently acknowledged batches, oldest first, replayed when a
    /// connection is reset (see `link_failed`).
    retained: VecDeque<InFlight>,
    retained_bytes: u64,
    /// Index in `inflight` of the first batch not yet written whole on the
    /// current connection.
    next_unwritten: usize,
    /// Framed bytes of the batch being written, and how far.
    wbuf: Vec<u8>,
    wpos: usize,
    /// The batch in `wbuf` is written and needs a flush before it counts.
    flush_pending: bool,
    /// Last time a byte was written or acknowledged (or the link came up).
    progress_at: Instant,
    scratch: Box<[u8]>,
}

impl Engine {
    pub(crate) fn new(
        config: RelayConfig,
        metrics: Arc<Metrics>,
        shared: Arc<Shared>,
        intake: mpsc::Receiver<RelayBatch>,
        dialer: Dialer,
        spool: Spool,
    ) -> Engine {
        let now = Instant::now();
        Engine {
            queue: Queue::new(&config.name, metrics, shared, intake, spool),
            config,
            dialer,
            backoff: Backoff::new(),
            link: Link::Down { retry_at: now },
            memory: VecDeque::new(),
            memory_messages: 0,
            inflight: VecDeque::new(),
            inflight_messages: 0,
            inflight_bytes: 0,
            retained: VecDeque::new(),
            retained_bytes: 0,
            next_unwritten: 0,
            wbuf: Vec::with_capacity(64 * 1024),
            wpos: 0,
            flush_pending: false,
            progress_at: now,
            scratch: vec![0u8; 4096].into_boxed_slice(),
        }
    }

    /// Runs until told to stop, then persists the queue; with
    /// [`StopMode::HandOver`] returns the intake channel and the spool. A
    /// dropped `stop` sender means [`StopMode::Close`].
    pub(crate) async fn run(
        mut self,
        mut stop: oneshot::Receiver<StopMode>,
    ) -> Result<Option<HandedOver>, RelayError> {
        let grace = STOP_GRACE.min(self.config.send_timeout);
        let mut stopping = Stopping::new(grace, grace);
        let mut next_tick = Instant::now();
        loop {
            self.absorb_intake();
            let mut now = Instant::now();
            // Ticks run here, not only when nothing else is ready, so a
            // steady stream of batches cannot starve timeouts, acks, the
            // cursor or the gauges.
            if now >= next_tick {
                self.tick();
                now = Instant::now();
                next_tick = now + self.tick_interval();
            }
            if let Some(deadline) = stopping.until {
                if now >= deadline || self.is_drained() || !matches!(self.link, Link::Up(_)) {
                    break;
                }
            }
            self.maybe_connect(now);
            self.prepare_write(stopping.until.is_some());
            let mut tick_at = next_tick.min(now + self.tick_interval());
            if let Link::Down { retry_at } = self.link {
                tick_at = tick_at.min(retry_at);
            }
            let event = {
                let link = &mut self.link;
                let out = &self.wbuf[self.wpos..];
                let flush = self.flush_pending;
                let scratch = &mut self.scratch;
                // The link goes before the intake: every turn of the loop
                // takes all waiting batches first anyway (`absorb_intake`),
                // so neither can starve the other.
                tokio::select! {
                    biased;
                    asked = &mut stop, if stopping.until.is_none() => {
                        Event::Stop(asked.unwrap_or(StopMode::Close))
                    }
                    event = poll_link(link, out, flush, scratch) => event,
                    batch = self.queue.intake.recv(), if self.queue.intake_open => match batch {
                        Some(batch) => Event::Intake(batch),
                        None => Event::IntakeClosed,
                    },
                    _ = tokio::time::sleep_until(tick_at) => Event::Tick,
                }
            };
            match event {
                Event::Stop(asked) => stopping.asked(asked),
                Event::Intake(batch) => {
                    if let Some(batch) = self.queue.taken(batch) {
                        self.accept(batch);
                    }
                }
                Event::IntakeClosed => stopping.intake_closed(&mut self.queue),
                Event::Connected(result) => self.connected(result),
                Event::Link(polled) => self.link_event(polled),
                Event::Tick => {
                    self.tick();
                    next_tick = Instant::now() + self.tick_interval();
                }
            }
        }
        self.persist(stopping.mode)
    }

    fn tick_interval(&self) -> Duration {
        let waiting_for_acks = self.inflight.iter().any(|entry| entry.end.is_some());
        if waiting_for_acks || self.flush_pending || self.wpos < self.wbuf.len() {
            FAST_TICK
        } else {
            SLOW_TICK
        }
    }

    /// Everything sent and acknowledged, nothing waiting.
    fn is_drained(&self) -> bool {
        self.memory.is_empty() && self.inflight.is_empty() && self.queue.spool.unread() == 0
    }

    /// Takes every batch already waiting in the intake channel.
    fn absorb_intake(&mut self) {
        while let Some(batch) = self.queue.next_waiting() {
            self.accept(batch);
        }
    }

    /// Puts a (non-empty) batch from the workers into memory or the spool.
    fn accept(&mut self, batch: RelayBatch) {
        let n = batch.len();
        if self.queue.spool.unread() > 0 {
            self.spill(batch);
            return;
        }
        if self.memory_messages + self.inflight_messages + n <= self.config.queue_memory {
            self.memory_messages += n;
            self.memory.push_back(batch);
            return;
        }
        // Spill: the window's unspooled batches, the memory queue, then
        // this batch, in that order.
        for index in 0..self.inflight.len() {
            if self.inflight[index].spool_last.is_some() {
                continue;
            }
            let entry = &self.inflight[index];
            let unsent = if entry.sent > 0 {
                // UDP: only what has not been sent yet is still owed.
                let mut rest = entry.batch.clone();
                rest.split_off(entry.sent)
            } else {
                entry.batch.clone()
            };
            let appended = self.append_counted(&unsent);
            if let Some((_, last)) = appended {
                self.inflight[index].spool_last = Some(last);
                self.queue.spool.mark_read(last);
            }
        }
        while let Some(queued) = self.memory.pop_front() {
            self.memory_messages -= queued.len();
            self.append_counted(&queued);
            self.recycle(queued);
        }
        self.spill(batch);
    }

    /// Appends a batch to the spool and recycles it.
    fn spill(&mut self, batch: RelayBatch) {
        self.append_counted(&batch);
        self.recycle(batch);
    }

    /// Appends to the spool, counting whatever the spool dropped.
    fn append_counted(&mut self, batch: &RelayBatch) -> Option<(u64, u64)> {
        self.queue.append(batch)
    }

    /// Fills `wbuf` with the next batch to write, when it is empty and the
    /// link is up.
    fn prepare_write(&mut self, stopping: bool) {
        let Link::Up(conn) = &self.link else {
            return;
        };
        if self.wpos < self.wbuf.len() || self.flush_pending {
            return;
        }
        self.wbuf.clear();
        self.wpos = 0;
        let is_stream = conn.is_stream();
        if self.next_unwritten >= self.inflight.len() {
            if stopping || self.inflight_bytes >= MAX_INFLIGHT_BYTES {
                return;
            }
            if !self.take_next_batch() {
                return;
            }
        }
        let framing = self.config.framing;
        let Some(entry) = self.inflight.get_mut(self.next_unwritten) else {
            return;
        };
        if is_stream {
            if entry.was_written {
                self.queue
                    .counters
                    .messages_resent
                    .inc_by(entry.batch.len() as u64);
            }
            frame_batch(framing, &entry.batch, &mut self.wbuf);
            entry.framed_bytes = self.wbuf.len() as u64;
        } else {
            // UDP: the next datagram of the batch; over-long ones are
            // dropped and counted.
            while let Some(message) = entry.batch.get(entry.sent).map(|m| split_record(m).1) {
                if message.len() <= MAX_DATAGRAM {
                    self.wbuf.extend_from_slice(message);
                    break;
                }
                entry.sent += 1;
                self.queue.metrics.relay_dropped(
                    &self.queue.counters,
                    DropReason::RelaySendError,
                    1,
                );
            }
            if self.wbuf.is_empty() {
                self.finish_udp_batch();
            }
        }
    }

    /// Moves the next batch from memory or the spool into the window;
    /// `false` when there is nothing to send.
    fn take_next_batch(&mut self) -> bool {
        if let Some(batch) = self.memory.pop_front() {
            self.memory_messages -= batch.len();
            self.push_inflight(batch, None);
            return true;
        }
        match self.queue.read_spool(SPOOL_READ_MESSAGES, SPOOL_READ_BYTES) {
            Some((batch, last)) => {
                self.push_inflight(batch, Some(last));
                true
            }
            None => false,
        }
    }

    fn push_inflight(&mut self, batch: RelayBatch, spool_last: Option<u64>) {
        self.inflight_messages += batch.len();
        self.inflight_bytes += batch.bytes() as u64;
        self.inflight.push_back(InFlight {
            batch,
            spool_last,
            end: None,
            was_written: false,
            sent: 0,
            framed_bytes: 0,
            counted: false,
            acked_at: None,
        });
    }

    fn connected(&mut self, result: Result<(Conn, SocketAddr), ConnError>) {
        match result {
            Ok((conn, address)) => {
                tracing::info!(
                    sink = %self.config.name,
                    target = %self.config.target_text(),
                    %address,
                    "relay connected"
                );
                self.queue.counters.connects.inc();
                self.queue.counters.set_state(RelayConnectionState::Up);
                self.link = Link::Up(Box::new(conn));
                self.progress_at = Instant::now();
                if self.config.transport == RelayTransport::Udp {
                    self.backoff.reset();
                }
            }
            Err(error) => self.link_failed(&error),
        }
    }

    /// The connection is gone: everything in the window will be written
    /// again on the next one.
    fn link_failed(&mut self, error: &ConnError) {
        let was_up = matches!(self.link, Link::Up(_));
        let delay = self.backoff.next_delay();
        if was_up
            || error.fault != Fault::Downstream
            || self.queue.counters.connect_errors.get().is_multiple_of(60)
        {
            tracing::warn!(
                sink = %self.config.name,
                target = %self.config.target_text(),
                %error,
                retry_in_ms = delay.as_millis() as u64,
                "relay connection failed"
            );
        }
        self.queue.link_down();
        self.link = Link::Down {
            retry_at: Instant::now() + delay,
        };
        // The kernel acknowledges bytes before the receiving program reads
        // them. A receiver that closes or dies with unread data in its
        // socket buffer resets the connection (a clean close, FIN, means it
        // read everything first); the bytes we saw acknowledged in the last
        // moments may then be lost, so the batches acknowledged within
        // RETAIN_FOR (at most RETAIN_BYTES) are written again before the
        // unacknowledged ones.
        let reset = matches!(
            error.source.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        );
        let now = Instant::now();
        self.drop_retained(now);
        if !(was_up && reset) {
            while let Some(entry) = self.retained.pop_front() {
                self.recycle(entry.batch);
            }
            self.retained_bytes = 0;
        }
        if was_up && reset {
            while let Some(mut entry) = self.retained.pop_back() {
                self.retained_bytes -= entry.framed_bytes;
                entry.end = None;
                self.inflight_messages += entry.batch.len();
                self.inflight_bytes += entry.batch.bytes() as u64;
                self.inflight.push_front(entry);
            }
        }
        for entry in &mut self.inflight {
            if entry.end.is_some() {
                entry.was_written = true;
            }
            entry.end = None;
        }
        // The batch being written is rebuilt on the next connection.
        if self.wpos > 0 || self.flush_pending {
            if let Some(entry) = self.inflight.get_mut(self.next_unwritten) {
                entry.was_written = true;
            }
        }
        self.next_unwritten = 0;
        self.wbuf.clear();
        self.wpos = 0;
        self.flush_pending = false;
    }

    fn link_event(&mut self, polled: Polled) {
        match polled {
            Polled::Wrote(n) => {
                self.progress_at = Instant::now();
                if matches!(&self.link, Link::Up(conn) if !conn.is_stream()) {
                    self.udp_sent(n);
                    return;
                }
                self.wpos += n;
                if self.wpos >= self.wbuf.len() {
                    self.flush_pending = true;
                }
            }
            Polled::Flushed => {
                self.flush_pending = false;
                self.wbuf.clear();
                self.wpos = 0;
                let written = match &self.link {
                    Link::Up(conn) => conn.written(),
                    _ => return,
                };
                if let Some(entry) = self.inflight.get_mut(self.next_unwritten) {
                    entry.end = Some(written);
                    self.next_unwritten += 1;
                }
                self.collect_acks();
            }
            Polled::Closed(error) => self.link_failed(&error),
            Polled::WriteFailed(error) => {
                if error.kind() == std::io::ErrorKind::ConnectionRefused
                    && !matches!(&self.link, Link::Up(conn) if conn.is_stream())
                {
                    // UDP: an earlier datagram met a closed port (ICMP). This
                    // one was not sent; try it again after the backoff.
                    self.wbuf.clear();
                    self.wpos = 0;
                }
                self.link_failed(&ConnError::new(Fault::Downstream, "write", error));
            }
        }
    }

    /// UDP: one datagram of the front batch went out.
    fn udp_sent(&mut self, n: usize) {
        self.wbuf.clear();
        self.wpos = 0;
        let Some(entry) = self.inflight.get_mut(self.next_unwritten) else {
            return;
        };
        entry.sent += 1;
        self.queue.counters.messages_sent.inc();
        self.queue.counters.bytes_sent.inc_by(n as u64);
        if entry.sent >= entry.batch.len() {
            self.finish_udp_batch();
        }
    }

    /// UDP: the front batch is sent whole; it leaves the window.
    fn finish_udp_batch(&mut self) {
        if self.next_unwritten != 0 {
            return;
        }
        if let Some(entry) = self.inflight.pop_front() {
            self.leave_window(&entry);
            if let Some(last) = entry.spool_last {
                self.queue.spool.ack(last);
            }
            self.recycle(entry.batch);
        }
    }

    fn leave_window(&mut self, entry: &InFlight) {
        self.inflight_messages -= entry.batch.len();
        self.inflight_bytes -= entry.batch.bytes() as u64;
    }

    /// Moves acknowledged batches out of the window.
    fn collect_acks(&mut self) {
        let Link::Up(conn) = &self.link else {
            return;
        };
        if !conn.is_stream() {
            return;
        }
        let acknowledged = match conn.acknowledged() {
            Ok(acknowledged) => acknowledged,
            Err(error) => {
                self.link_failed(&ConnError::new(Fault::Internal, "acknowledge", error));
                return;
            }
        };
        let now = Instant::now();
        let mut n_messages = 0u64;
        let mut n_bytes = 0u64;
        while self
            .inflight
            .front()
            .is_some_and(|entry| entry.end.is_some_and(|end| end <= acknowledged))
        {
            let Some(entry) = self.inflight.pop_front() else {
                break;
            };
            self.next_unwritten = self.next_unwritten.saturating_sub(1);
            if !entry.counted {
                n_messages += entry.batch.len() as u64;
                n_bytes += entry.framed_bytes;
            }
            self.leave_window(&entry);
            if let Some(last) = entry.spool_last {
                self.queue.spool.ack(last);
            }
            self.retain(entry, now);
        }
        if n_messages > 0 {
            self.queue.counters.messages_sent.inc_by(n_messages);
            self.queue.counters.bytes_sent.inc_by(n_bytes);
            self.progress_at = Instant::now();
            self.backoff.reset();
        }
    }

    /// Keeps an acknowledged batch for replay, within `RETAIN_BYTES` and
    /// `RETAIN_FOR`.
    fn retain(&mut self, mut entry: InFlight, now: Instant) {
        entry.counted = true;
        entry.was_written = true;
        entry.acked_at = Some(now);
        self.retained_bytes += entry.framed_bytes;
        self.retained.push_back(entry);
        while self.retained_bytes > RETAIN_BYTES {
            let Some(oldest) = self.retained.pop_front() else {
                break;
            };
            self.retained_bytes -= oldest.framed_bytes;
            self.recycle(oldest.batch);
        }
        self.drop_retained(now);
    }

    /// Forgets retained batches acknowledged more than `RETAIN_FOR` before
    /// `now`.
    fn drop_retained(&mut self, now: Instant) {
        while self.retained.front().is_some_and(|entry| {
            entry
                .acked_at
                .is_none_or(|acked_at| now.duration_since(acked_at) > RETAIN_FOR)
        }) {
            if let Some(oldest) = self.retained.pop_front() {
                self.retained_bytes -= oldest.framed_bytes;
                self.recycle(oldest.batch);
            }
        }
    }

    /// Starts a connection attempt when one is due.
    fn maybe_connect(&mut self, now: Instant) {
        if let Link::Down { retry_at } = self.link {
            if now >= retry_at {
                self.queue
                    .counters
                    .set_state(RelayConnectionState::Connecting);
                self.link = Link::Connecting(Box::pin(self.dialer.clone().connect()));
            }
        }
    }

    fn tick(&mut self) {
        let now = Instant::now();
        self.collect_acks();
        if let Link::Up(_) = &self.link {
            let pending = self.wpos < self.wbuf.len()
                || self.flush_pending
                || self.inflight.iter().any(|entry| entry.end.is_some());
            if pending && now.duration_since(self.progress_at) >= self.config.send_timeout {
                let op = if self.wpos < self.wbuf.len() || self.flush_pending {
                    "write"
                } else {
                    "acknowledge"
                };
                self.link_failed(&ConnError::timeout(op));
            }
        }
        self.maybe_connect(now);
        self.queue.maintain(now);
        self.update_gauges();
    }

    fn update_gauges(&self) {
        self.queue
            .set_gauges(self.memory_messages + self.inflight_messages);
    }

    fn recycle(&self, batch: RelayBatch) {
        self.queue.recycle(batch);
    }

    /// Writes what memory holds to the spool; closes the spool, or hands it
    /// over with the still open intake channel.
    fn persist(mut self, mode: StopMode) -> Result<Option<HandedOver>, RelayError> {
        if mode == StopMode::Close {
            while let Some(batch) = self.queue.next_after_close() {
                self.accept(batch);
            }
        }
        // When handing over, batches still in the channel stay there for
        // the next engine: they are newer than everything written below.
        let mut n_persisted = 0u64;
        let entries: Vec<InFlight> = self.inflight.drain(..).collect();
        for entry in entries {
            if entry.spool_last.is_some() {
                continue;
            }
            let mut batch = entry.batch;
            let rest = if entry.sent > 0 {
                batch.split_off(entry.sent)
            } else {
                batch
            };
            n_persisted += rest.len() as u64;
            self.append_counted(&rest);
        }
        while let Some(batch) = self.memory.pop_front() {
            n_persisted += batch.len() as u64;
            self.append_counted(&batch);
        }
        let what = match mode {
            StopMode::Close => "relay stopped; its queue is in the spool",
            StopMode::HandOver => "relay stopped for new settings; its queue goes to the new one",
        };
        self.queue.finish(mode, n_persisted, what)
    }
}

/// Waits for the link: a connection attempt finishing, or the connection
/// becoming writable, readable or closed. Pending forever while down.
async fn poll_link(link: &mut Link, out: &[u8], flush: bool, scratch: &mut [u8]) -> Event {
    std::future::poll_fn(|cx| match link {
        Link::Down { .. } => Poll::Pending,
        Link::Connecting(attempt) => attempt.as_mut().poll(cx).map(Event::Connected),
        Link::Up(conn) => conn.poll_event(cx, out, flush, scratch).map(Event::Link),
    })
    .await
}

/// Frames the messages of `batch` as a stream writer would (the value of
/// a keyed record, without its key).
pub(crate) fn frame_batch(framing: Framing, batch: &RelayBatch, out: &mut Vec<u8>) {
    for message in batch.iter() {
        encode_frame(framing, split_record(message).1, out);
    }
}
