//! The engine of a Kafka sink: the relay's queue and spool in front of a
//! librdkafka producer, advancing only over what the broker acknowledged.
//!
//! It runs where a syslog relay's engine runs (its own thread, a
//! single-threaded runtime, the same intake, spool and metrics; see
//! `engine.rs`), with three differences:
//!
//! - **Write-through spool.** Every batch taken from the intake is appended
//!   to the spool at once, whether the broker is up or not; the memory
//!   queue only keeps copies of the newest batches (at most `queue_memory`
//!   messages with the window) so the producer does not read them back
//!   from disk. A batch goes to memory only when the spool has nothing
//!   unread before it, so memory and spool hand out one order. A kill -9
//!   therefore loses only what had not reached the spool's store yet (the
//!   intake and the store's buffer, 20 ms), not the memory queue.
//! - **Per-message acknowledgement.** The producer is idempotent with
//!   `acks=all` and no message timeout (librdkafka retries until the
//!   broker takes a record, in order per partition). Each record carries a
//!   number (its delivery opaque); librdkafka's polling thread hands the
//!   delivery reports over ([`Reports`]) and wakes the engine. A batch
//!   leaves the window when all of its records are reported delivered and
//!   every batch before it has left: the spool cursor moves only over the
//!   contiguous acknowledged prefix, however the reports interleave across
//!   partitions.
//! - **Failures.** A record the broker refuses for good (too large, invalid)
//!   is dropped and counted (`relay_send_error`). Any other failed report,
//!   or a failed hand-off to librdkafka, drops the producer and makes a new
//!   one after a capped, jittered backoff; every batch of the window is
//!   then produced again from its first record (counted in
//!   `sinkd_relay_messages_resent_total`), so the broker may hold those
//!   records twice, never not at all.
//!
//! Stopping, or handing the queue to new settings, waits up to
//! `send_timeout` for the window's reports (less when they all arrive),
//! then drops the producer. Nothing needs writing: the spool
//! already holds every unacknowledged record, and a restarted relay
//! resumes after the cursor.

use crate::backoff::Backoff;
use crate::batch::{split_record, RelayBatch};
use crate::config::{KafkaSettings, RelayConfig};
use crate::engine::{HandedOver, StopMode};
use crate::error::RelayError;
use crate::queue::{Queue, Stopping};
use crate::spool::Spool;
use crate::Shared;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use sinkd_metrics::{DropReason, Metrics, RelayConnectionState};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::Instant;

/// Most value bytes handed to librdkafka and not yet reported.
const MAX_WINDOW_BYTES: usize = 16 * 1024 * 1024;
/// Most records handed to librdkafka and not yet reported. Enough to keep
/// a broker busy (records per round trip); more would only wait inside
/// librdkafka behind its five requests in flight per partition, where its
/// broker thread polls without sleeping, and be produced again after a
/// crash.
const MAX_WINDOW_MESSAGES: usize = 16_384;
/// Most messages taken from the spool at once.
const SPOOL_READ_MESSAGES: usize = 4096;
/// About the most bytes taken from the spool at once.
const SPOOL_READ_BYTES: usize = 1024 * 1024;
/// Tick while records wait for reports.
const FAST_TICK: Duration = Duration::from_millis(10);
/// Tick otherwise.
const SLOW_TICK: Duration = Duration::from_millis(100);
/// At most one librdkafka error line per this interval (all are counted).
const ERROR_LOG_EVERY: Duration = Duration::from_secs(10);

/// One delivery report: the record's number, and the error when it failed.
type Report = (u64, Option<KafkaError>);

/// What librdkafka's polling thread and the engine share.
#[derive(Default)]
struct Reports {
    delivered: Mutex<Vec<Report>>,
    wake: Notify,
    /// librdkafka said every broker is down; cleared by a delivery.
    brokers_down: AtomicBool,
    /// Errors librdkafka reported (connection failures and the like).
    errors: AtomicU64,
    /// Milliseconds since `started` of the last error line logged.
    last_logged: AtomicU64,
    started: std::sync::OnceLock<std::time::Instant>,
}

/// The producer's context: hands delivery reports and client errors to the
/// engine and librdkafka's log lines to `tracing`.
struct Context {
    sink: Arc<str>,
    reports: Arc<Reports>,
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning => {
                tracing::warn!(sink = %self.sink, facility, "librdkafka: {message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(sink = %self.sink, facility, "librdkafka: {message}")
            }
            RDKafkaLogLevel::Debug => {
                tracing::debug!(sink = %self.sink, facility, "librdkafka: {message}")
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let reports = &self.reports;
        reports.errors.fetch_add(1, Ordering::Relaxed);
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            reports.brokers_down.store(true, Ordering::Relaxed);
        }
        let started = reports.started.get_or_init(std::time::Instant::now);
        let now = started.elapsed().as_millis() as u64;
        let last = reports.last_logged.load(Ordering::Relaxed);
        if last == 0 || now.saturating_sub(last) >= ERROR_LOG_EVERY.as_millis() as u64 {
            reports.last_logged.store(now.max(1), Ordering::Relaxed);
            tracing::warn!(
                sink = %self.sink,
                %error,
                reason,
                "kafka client error (records wait in the queue; logged at most every 10 s)"
            );
        }
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, id: usize) {
        let error = result.as_ref().err().map(|(error, _)| error.clone());
        if error.is_none() {
            self.reports.brokers_down.store(false, Ordering::Relaxed);
        }
        let mut delivered = self
            .reports
            .delivered
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        delivered.push((id as u64, error));
        drop(delivered);
        self.reports.wake.notify_one();
    }
}

/// A batch handed (in part or whole) to librdkafka and not yet left the
/// window.
struct Pending {
    batch: RelayBatch,
    /// Spool sequence number of the batch's last message.
    spool_last: u64,
    /// Number of the batch's first record on the current producer; its
    /// records are numbered consecutively.
    first_id: u64,
    /// Records handed to the current producer.
    produced: usize,
    /// Records reported delivered (or dropped for good).
    done: usize,
    /// Value bytes of the records delivered.
    done_bytes: u64,
    /// Handed to an earlier producer: producing it again may duplicate.
    was_produced: bool,
}

/// What woke the engine.
enum Event {
    Stop(StopMode),
    Intake(RelayBatch),
    IntakeClosed,
    Reports,
    Tick,
}

pub(crate) struct KafkaEngine {
    config: RelayConfig,
    kafka: KafkaSettings,
    queue: Queue,
    reports: Arc<Reports>,
    producer: Option<ThreadedProducer<Context>>,
    /// When no producer runs: when to make the next one.
    retry_at: Instant,
    backoff: Backoff,
    /// Copies of spooled batches not yet produced, with the sequence number
    /// of each one's last message.
    memory: VecDeque<(RelayBatch, u64)>,
    memory_messages: usize,
    window: VecDeque<Pending>,
    window_messages: usize,
    window_bytes: usize,
    /// Index in `window` of the first batch not handed over whole.
    next_unproduced: usize,
    next_id: u64,
    /// librdkafka's queue was full: wait for reports before producing.
    queue_full: bool,
    errors_seen: u64,
    drained: Vec<Report>,
}

impl KafkaEngine {
    pub(crate) fn new(
        config: RelayConfig,
        kafka: KafkaSettings,
        metrics: Arc<Metrics>,
        shared: Arc<Shared>,
        intake: mpsc::Receiver<RelayBatch>,
        spool: Spool,
    ) -> KafkaEngine {
        KafkaEngine {
            queue: Queue::new(&config.name, metrics, shared, intake, spool),
            config,
            kafka,
            reports: Arc::new(Reports::default()),
            producer: None,
            retry_at: Instant::now(),
            backoff: Backoff::new(),
            memory: VecDeque::new(),
            memory_messages: 0,
            window: VecDeque::new(),
            window_messages: 0,
            window_bytes: 0,
            next_unproduced: 0,
            next_id: 1,
            queue_full: false,
            errors_seen: 0,
            drained: Vec::new(),
        }
    }

    /// Runs until told to stop; with [`StopMode::HandOver`] returns the
    /// intake channel and the spool.
    pub(crate) async fn run(
        mut self,
        mut stop: oneshot::Receiver<StopMode>,
    ) -> Result<Option<HandedOver>, RelayError> {
        // A stopping sink, or one handing its queue to new settings, waits
        // for the window's reports as long as a request may take
        // (`send_timeout`): a broker that is slow or back from a restart
        // answers within it, and what it answers is not produced again.
        // A reload waits meanwhile; the workers' batches wait in the
        // intake.
        let grace = self.config.send_timeout;
        let mut stopping = Stopping::new(grace, grace);
        let mut next_tick = Instant::now();
        let reports = Arc::clone(&self.reports);
        loop {
            self.absorb_intake();
            self.collect_reports();
            let now = Instant::now();
            if now >= next_tick {
                self.tick(now);
                next_tick = now + self.tick_interval();
            }
            if let Some(deadline) = stopping.until {
                if now >= deadline || self.window.is_empty() || self.producer.is_none() {
                    break;
                }
            } else {
                self.produce(now);
            }
            let mut wake_at = next_tick;
            if self.producer.is_none() {
                wake_at = wake_at.min(self.retry_at);
            }
            let event = tokio::select! {
                biased;
                asked = &mut stop, if stopping.until.is_none() => {
                    Event::Stop(asked.unwrap_or(StopMode::Close))
                }
                () = reports.wake.notified() => Event::Reports,
                batch = self.queue.intake.recv(), if self.queue.intake_open => match batch {
                    Some(batch) => Event::Intake(batch),
                    None => Event::IntakeClosed,
                },
                () = tokio::time::sleep_until(wake_at) => Event::Tick,
            };
            match event {
                Event::Stop(asked) => stopping.asked(asked),
                Event::Intake(batch) => {
                    if let Some(batch) = self.queue.taken(batch) {
                        self.accept(batch);
                    }
                }
                Event::IntakeClosed => stopping.intake_closed(&mut self.queue),
                Event::Reports | Event::Tick => {}
            }
        }
        self.finish(stopping.mode)
    }

    fn tick_interval(&self) -> Duration {
        if self.window.is_empty() {
            SLOW_TICK
        } else {
            FAST_TICK
        }
    }

    /// Takes every batch already waiting in the intake channel.
    fn absorb_intake(&mut self) {
        while let Some(batch) = self.queue.next_waiting() {
            self.accept(batch);
        }
    }

    /// Writes a (non-empty) batch from the workers to the spool, and keeps
    /// a copy in memory when nothing unread waits before it and there is
    /// room.
    fn accept(&mut self, batch: RelayBatch) {
        let n = batch.len();
        let caught_up = self.queue.spool.unread() == 0;
        match self.queue.append(&batch) {
            Some((_, last))
                if caught_up
                    && self.memory_messages + self.window_messages + n
                        <= self.config.queue_memory =>
            {
                self.queue.spool.mark_read(last);
                self.memory_messages += n;
                self.memory.push_back((batch, last));
            }
            // In the spool only (read back when the producer gets to it),
            // or refused by the spool and counted.
            _ => self.queue.recycle(batch),
        }
    }

    /// Makes a producer when none runs and one is due; hands records to it
    /// while the window has room.
    fn produce(&mut self, now: Instant) {
        if self.producer.is_none() {
            if now < self.retry_at {
                return;
            }
            self.start_producer();
        }
        if self.queue_full {
            return;
        }
        loop {
            if self.next_unproduced >= self.window.len()
                && (self.window_messages >= MAX_WINDOW_MESSAGES
                    || self.window_bytes >= MAX_WINDOW_BYTES
                    || !self.take_next_batch())
            {
                break;
            }
            if !self.produce_entry(self.next_unproduced) {
                break;
            }
            self.next_unproduced += 1;
        }
        // Records refused when handed over count as done.
        self.leave_done();
    }

    /// Moves the next batch from memory or the spool into the window.
    fn take_next_batch(&mut self) -> bool {
        let (batch, spool_last) = match self.memory.pop_front() {
            Some((batch, last)) => {
                self.memory_messages -= batch.len();
                (batch, last)
            }
            None => match self.queue.read_spool(SPOOL_READ_MESSAGES, SPOOL_READ_BYTES) {
                Some(taken) => taken,
                None => return false,
            },
        };
        self.window_messages += batch.len();
        self.window_bytes += batch.bytes();
        self.window.push_back(Pending {
            batch,
            spool_last,
            first_id: 0,
            produced: 0,
            done: 0,
            done_bytes: 0,
            was_produced: false,
        });
        true
    }

    /// Hands the rest of window entry `index` to librdkafka; `false` when
    /// it could not take all of it (its queue is full, or it failed).
    fn produce_entry(&mut self, index: usize) -> bool {
        let Some(producer) = &self.producer else {
            return false;
        };
        let Some(entry) = self.window.get_mut(index) else {
            return false;
        };
        if entry.produced == 0 {
            entry.first_id = self.next_id;
            if entry.was_produced {
                self.queue
                    .counters
                    .messages_resent
                    .inc_by(entry.batch.len() as u64);
            }
        }
        let mut too_large = 0u64;
        let mut failure = None;
        while let Some(message) = entry.batch.get(entry.produced) {
            let id = entry.first_id + entry.produced as u64;
            let (key, value) = split_record(message);
            let mut record =
                BaseRecord::with_opaque_to(&self.kafka.topic, id as usize).payload(value);
            if let Some(key) = key {
                record = record.key(key);
            }
            match producer.send(record) {
                Ok(()) => entry.produced += 1,
                Err((error, _)) => match error.rdkafka_error_code() {
                    Some(RDKafkaErrorCode::QueueFull) => {
                        self.queue_full = true;
                        break;
                    }
                    Some(code) if refused_for_good(code) => {
                        // Never reaches the broker: counted as done.
                        entry.produced += 1;
                        entry.done += 1;
                        too_large += 1;
                    }
                    _ => {
                        failure = Some(error);
                        break;
                    }
                },
            }
        }
        self.next_id = entry.first_id + entry.produced as u64;
        let whole = entry.produced == entry.batch.len();
        if too_large > 0 {
            self.queue.metrics.relay_dropped(
                &self.queue.counters,
                DropReason::RelaySendError,
                too_large,
            );
            tracing::warn!(
                sink = %self.config.name,
                dropped = too_large,
                "kafka refused records for good (too large for the producer); dropped"
            );
        }
        if let Some(error) = failure {
            self.producer_failed(&error);
            return false;
        }
        whole
    }

    /// Takes the delivery reports librdkafka has handed over and moves the
    /// acknowledged prefix of the window out.
    fn collect_reports(&mut self) {
        {
            let mut delivered = self
                .reports
                .delivered
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            std::mem::swap(&mut *delivered, &mut self.drained);
        }
        if self.drained.is_empty() {
            return;
        }
        self.queue_full = false;
        let mut failure: Option<KafkaError> = None;
        let mut refused = 0u64;
        let mut delivered_any = false;
        for (id, error) in self.drained.drain(..) {
            // The entries handed over (in part or whole) come first in the
            // window, numbered in increasing order; the rest have none.
            let index = self
                .window
                .partition_point(|entry| entry.produced > 0 && entry.first_id <= id);
            let Some(entry) = index
                .checked_sub(1)
                .and_then(|index| self.window.get_mut(index))
            else {
                continue;
            };
            let offset = id - entry.first_id;
            if offset >= entry.produced as u64 {
                // A report from a producer dropped since.
                continue;
            }
            match error {
                None => {
                    entry.done += 1;
                    if let Some(message) = entry.batch.get(offset as usize) {
                        entry.done_bytes += split_record(message).1.len() as u64;
                    }
                    delivered_any = true;
                }
                Some(error) if error.rdkafka_error_code().is_some_and(refused_for_good) => {
                    entry.done += 1;
                    refused += 1;
                    if refused == 1 {
                        tracing::warn!(
                            sink = %self.config.name,
                            %error,
                            "kafka refused a record for good; dropped"
                        );
                    }
                }
                Some(error) => {
                    failure.get_or_insert(error);
                }
            }
        }
        if refused > 0 {
            self.queue.metrics.relay_dropped(
                &self.queue.counters,
                DropReason::RelaySendError,
                refused,
            );
        }
        if delivered_any {
            self.backoff.reset();
            if self.queue.counters.connection_state.get() != RelayConnectionState::Up as i64 {
                self.queue.counters.connects.inc();
                self.queue.counters.set_state(RelayConnectionState::Up);
            }
        }
        self.leave_done();
        if let Some(error) = failure {
            self.producer_failed(&error);
        }
    }

    /// Moves the window's leading batches whose every record is done out of
    /// the window: counted as sent, the spool cursor moved past them.
    fn leave_done(&mut self) {
        let mut n_messages = 0u64;
        let mut n_bytes = 0u64;
        while self
            .window
            .front()
            .is_some_and(|entry| entry.done == entry.batch.len())
        {
            let Some(entry) = self.window.pop_front() else {
                break;
            };
            self.next_unproduced = self.next_unproduced.saturating_sub(1);
            self.window_messages -= entry.batch.len();
            self.window_bytes -= entry.batch.bytes();
            n_messages += entry.batch.len() as u64;
            n_bytes += entry.done_bytes;
            self.queue.spool.ack(entry.spool_last);
            self.queue.recycle(entry.batch);
        }
        if n_messages > 0 {
            self.queue.counters.messages_sent.inc_by(n_messages);
            self.queue.counters.bytes_sent.inc_by(n_bytes);
        }
    }

    /// Makes a producer; a configuration librdkafka refuses is retried
    /// after the backoff like any other failure.
    fn start_producer(&mut self) {
        let mut client = ClientConfig::new();
        let timeout_ms = self.config.send_timeout.as_millis().max(10).to_string();
        client
            .set("bootstrap.servers", self.kafka.bootstrap_servers())
            .set("client.id", format!("sinkd-{}", self.config.name))
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.codec", self.kafka.compression.name())
            .set("linger.ms", self.kafka.linger.as_millis().to_string())
            // No message times out: librdkafka retries until the broker
            // takes it, so an outage stalls the window instead of failing
            // it (and reordering what is sent again).
            .set("message.timeout.ms", "0")
            .set(
                "queue.buffering.max.messages",
                (2 * MAX_WINDOW_MESSAGES).to_string(),
            )
            .set(
                "queue.buffering.max.kbytes",
                (2 * MAX_WINDOW_BYTES / 1024).to_string(),
            )
            .set("socket.timeout.ms", &timeout_ms)
            .set("request.timeout.ms", &timeout_ms)
            .set("reconnect.backoff.max.ms", "2000")
            .set("socket.keepalive.enable", "true")
            .set_log_level(RDKafkaLogLevel::Warning);
        let context = Context {
            sink: Arc::from(self.config.name.as_str()),
            reports: Arc::clone(&self.reports),
        };
        match client.create_with_context::<Context, ThreadedProducer<Context>>(context) {
            Ok(producer) => {
                tracing::info!(
                    sink = %self.config.name,
                    target = %self.config.target_text(),
                    "kafka producer started"
                );
                self.queue
                    .counters
                    .set_state(RelayConnectionState::Connecting);
                self.producer = Some(producer);
            }
            Err(error) => {
                self.queue.counters.connect_errors.inc();
                let delay = self.backoff.next_delay();
                tracing::warn!(
                    sink = %self.config.name,
                    %error,
                    retry_in_ms = delay.as_millis() as u64,
                    "cannot make the kafka producer"
                );
                self.retry_at = Instant::now() + delay;
            }
        }
    }

    /// The producer failed: drop it (librdkafka purges what it holds) and
    /// produce the whole window again on a new one after the backoff.
    fn producer_failed(&mut self, error: &KafkaError) {
        let delay = self.backoff.next_delay();
        tracing::warn!(
            sink = %self.config.name,
            target = %self.config.target_text(),
            %error,
            retry_in_ms = delay.as_millis() as u64,
            "kafka delivery failed; the unacknowledged records will be produced again"
        );
        self.queue.link_down();
        self.drop_producer();
        for entry in &mut self.window {
            if entry.produced > 0 {
                entry.was_produced = true;
            }
            entry.produced = 0;
            entry.done = 0;
            entry.done_bytes = 0;
        }
        self.next_unproduced = 0;
        self.queue_full = false;
        self.retry_at = Instant::now() + delay;
    }

    /// Drops the producer; the reports of its purged records are dropped
    /// with it (their numbers are no longer in the window).
    fn drop_producer(&mut self) {
        if let Some(producer) = self.producer.take() {
            drop(producer);
        }
        self.reports
            .delivered
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    fn tick(&mut self, now: Instant) {
        let errors = self.reports.errors.load(Ordering::Relaxed);
        if errors > self.errors_seen {
            self.queue
                .counters
                .connect_errors
                .inc_by(errors - self.errors_seen);
            self.errors_seen = errors;
        }
        if self.producer.is_some() && self.reports.brokers_down.load(Ordering::Relaxed) {
            self.queue.counters.set_state(RelayConnectionState::Down);
        }
        self.queue.maintain(now);
        self.queue
            .set_gauges(self.memory_messages + self.window_messages);
    }

    /// Stops: the producer goes (what it still holds is purged; the spool
    /// has all of it), then the spool closes or is handed over.
    fn finish(mut self, mode: StopMode) -> Result<Option<HandedOver>, RelayError> {
        self.drop_producer();
        if mode == StopMode::Close {
            while let Some(batch) = self.queue.next_after_close() {
                self.accept(batch);
            }
        }
        for (batch, _) in self.memory.drain(..) {
            self.queue.recycle(batch);
        }
        for entry in self.window.drain(..) {
            self.queue.recycle(entry.batch);
        }
        let what = match mode {
            StopMode::Close => "kafka sink stopped; its queue is in the spool",
            StopMode::HandOver => {
                "kafka sink stopped for new settings; its queue goes to the new one"
            }
        };
        // Everything unacknowledged is in the spool already.
        self.queue.finish(mode, 0, what)
    }
}

/// Errors after which sending the record again cannot help: it is too
/// large or malformed for the broker.
fn refused_for_good(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::InvalidMessageSize
            | RDKafkaErrorCode::InvalidMessage
            | RDKafkaErrorCode::InvalidRecord
    )
}
