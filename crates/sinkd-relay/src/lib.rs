//! Relay sinks: forwarding what the workers route to `udp|tcp|tls address
//! HOST[:PORT]` targets, without ever making a worker wait and without
//! losing what was accepted.
//!
//! The path of a relayed message (docs/relay.md, "How a message travels"):
//!
//! ```text
//! worker ─ format (sinkd-proto) into a RelayBatch ─ RelayHandle::offer ─┐ (never blocks)
//!                                                                        ▼
//!  relay thread:  intake → memory queue ──────────────┐
//!                        └─ spill → disk spool (sinkd-store segments + cursor)
//!                                                      ▼
//!                 in-flight window → frame (RFC 6587) → TCP / TLS / UDP → target
//!                 acknowledged (SIOCOUTQ) → cursor advances, segments deleted
//! ```
//!
//! - [`RelayBatch`]: formatted messages in one arena, filled by a worker.
//! - [`RelayHandle`]: the cheap, cloneable hand-off the workers hold. Its
//!   [`RelayHandle::offer`] is a `try_send`: when the relay's intake is full
//!   the batch is dropped and counted (`relay_queue_full`), never waited on.
//! - [`Relay`]: one running relay (its own thread and single-threaded
//!   runtime, see `engine.rs`), started with [`Relay::start`] and stopped
//!   with [`Relay::shutdown`], which writes the memory queue to the spool.
//! - [`Relays`]: the set of running relays, keyed by sink name, so a
//!   SIGHUP that keeps a relay's settings keeps the relay (and its
//!   connection and queue) running.
//!
//! The delivery guarantee (at-least-once over TCP/TLS, what UDP can lose,
//! when duplicates happen and which metric shows each) is spelled out in
//! docs/relay.md; the ordering rules are in `engine.rs`.

mod backoff;
mod batch;
mod config;
mod conn;
mod engine;
mod error;
mod spool;
mod sys;
mod tls;

pub use batch::RelayBatch;
pub use config::{
    spool_dir, Overflow, RelayConfig, RelayTransport, TlsClientFiles, DEFAULT_QUEUE_DISK,
    DEFAULT_QUEUE_MEMORY, DEFAULT_SEND_TIMEOUT, MIN_QUEUE_DISK,
};
pub use error::{ConnError, Fault, RelayError};

use crossbeam_channel::{Receiver, Sender};
use sinkd_metrics::{DropReason, Metrics, RelayCounters};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

/// Batches the intake channel holds at most.
const INTAKE_BATCHES: usize = 4096;
/// Messages the intake channel holds at most (whatever the batch sizes).
const INTAKE_MESSAGES: usize = 262_144;
/// Empty batches kept for the workers to reuse.
const RECYCLE_BATCHES: usize = 256;

/// What the workers' handles and the relay thread share.
pub(crate) struct Shared {
    /// Messages offered and not yet taken by the relay thread.
    pub(crate) intake_messages: AtomicUsize,
    /// Second (since `started`) of the last refusal warning: at most one a
    /// second, whatever the rate of refused batches.
    last_warning: AtomicU64,
    started: std::time::Instant,
    recycle_tx: Sender<RelayBatch>,
    recycle_rx: Receiver<RelayBatch>,
}

impl Shared {
    pub(crate) fn take_batch(&self) -> RelayBatch {
        self.recycle_rx.try_recv().unwrap_or_default()
    }

    pub(crate) fn recycle(&self, batch: RelayBatch) {
        // A full pool means enough spares exist; this one is freed.
        let _ = self.recycle_tx.try_send(batch);
    }
}

/// The workers' side of a relay: hands batches over without blocking.
#[derive(Clone)]
pub struct RelayHandle {
    name: Arc<str>,
    intake: mpsc::Sender<RelayBatch>,
    shared: Arc<Shared>,
    metrics: Arc<Metrics>,
    counters: RelayCounters,
}

impl std::fmt::Debug for RelayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayHandle")
            .field("sink", &self.name)
            .finish_non_exhaustive()
    }
}

impl RelayHandle {
    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// An empty batch, reused when one is available.
    pub fn batch(&self) -> RelayBatch {
        self.shared.take_batch()
    }

    /// Hands `batch` to the relay without blocking. Returns the number of
    /// messages accepted: all of them, or 0 when the relay's intake is full
    /// or the relay has stopped, in which case they are counted as dropped
    /// (`relay_queue_full`) here.
    pub fn offer(&self, batch: RelayBatch) -> usize {
        let n = batch.len();
        if n == 0 {
            self.shared.recycle(batch);
            return 0;
        }
        let queued = self.shared.intake_messages.fetch_add(n, Ordering::AcqRel);
        if queued + n > INTAKE_MESSAGES {
            self.shared.intake_messages.fetch_sub(n, Ordering::AcqRel);
            self.refused(batch, "relay intake full; batch dropped");
            return 0;
        }
        match self.intake.try_send(batch) {
            Ok(()) => n,
            Err(mpsc::error::TrySendError::Full(batch)) => {
                self.shared.intake_messages.fetch_sub(n, Ordering::AcqRel);
                self.refused(batch, "relay intake full; batch dropped");
                0
            }
            Err(mpsc::error::TrySendError::Closed(batch)) => {
                self.shared.intake_messages.fetch_sub(n, Ordering::AcqRel);
                self.refused(batch, "relay stopped; batch dropped");
                0
            }
        }
    }

    fn refused(&self, mut batch: RelayBatch, why: &'static str) {
        let n = batch.len() as u64;
        self.metrics
            .relay_dropped(&self.counters, DropReason::RelayQueueFull, n);
        let second = self.shared.started.elapsed().as_secs();
        if self.shared.last_warning.swap(second, Ordering::Relaxed) != second {
            tracing::warn!(sink = %self.name, messages = n, "{why} (counted in relay_queue_full; logged at most once a second)");
        }
        batch.clear();
        self.shared.recycle(batch);
    }
}

/// A running relay.
pub struct Relay {
    config: RelayConfig,
    handle: RelayHandle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), RelayError>>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("sink", &self.config.name)
            .field("target", &self.config.target_text())
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// Checks the settings, loads the TLS files, opens the spool (resuming
    /// after its cursor) and starts the relay's thread. Connecting happens
    /// on that thread, so a target that is down does not fail the start.
    pub fn start(config: RelayConfig, metrics: Arc<Metrics>) -> Result<Relay, RelayError> {
        let invalid = |reason: &'static str| RelayError::InvalidConfig {
            sink: config.name.clone(),
            reason,
        };
        if config.queue_memory == 0 {
            return Err(invalid("queue_memory must be at least 1"));
        }
        if config.queue_disk < MIN_QUEUE_DISK {
            return Err(invalid("queue_disk must be at least 512K"));
        }
        if config.send_timeout.is_zero() {
            return Err(invalid("send_timeout must be positive"));
        }
        let tls = match (&config.tls, config.transport) {
            (Some(files), RelayTransport::Tls) => {
                let (connector, server_name) = tls::connector(&config.name, files)?;
                Some(conn::TlsSetup {
                    connector,
                    server_name,
                })
            }
            (None, RelayTransport::Tls) => {
                return Err(invalid("a tls relay needs a CA file (ca)"));
            }
            (Some(_), _) => return Err(invalid("TLS files apply to tls relays only")),
            (None, _) => None,
        };
        let spool = spool::Spool::open(&config)?;
        let (recycle_tx, recycle_rx) = crossbeam_channel::bounded(RECYCLE_BATCHES);
        let shared = Arc::new(Shared {
            intake_messages: AtomicUsize::new(0),
            last_warning: AtomicU64::new(u64::MAX),
            started: std::time::Instant::now(),
            recycle_tx,
            recycle_rx,
        });
        let (intake_tx, intake_rx) = mpsc::channel(INTAKE_BATCHES);
        let (stop_tx, stop_rx) = oneshot::channel();
        let dialer = conn::Dialer::new(&config, tls);
        let engine = engine::Engine::new(
            config.clone(),
            Arc::clone(&metrics),
            Arc::clone(&shared),
            intake_rx,
            dialer,
            spool,
        );
        let sink = config.name.clone();
        let thread = std::thread::Builder::new()
            .name(thread_name(&config.name))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|source| RelayError::Spawn { sink, source })?;
                runtime.block_on(engine.run(stop_rx))
            })
            .map_err(|source| RelayError::Spawn {
                sink: config.name.clone(),
                source,
            })?;
        let handle = RelayHandle {
            name: Arc::from(config.name.as_str()),
            intake: intake_tx,
            shared,
            counters: metrics.relay(&config.name),
            metrics,
        };
        tracing::info!(
            sink = %config.name,
            target = %config.target_text(),
            spool = %config.spool_dir.display(),
            "relay started"
        );
        Ok(Relay {
            config,
            handle,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// A handle for the workers.
    pub fn handle(&self) -> RelayHandle {
        self.handle.clone()
    }

    /// The settings the relay runs with.
    pub fn config(&self) -> &RelayConfig {
        &self.config
    }

    /// Stops the relay: it takes every batch already handed over, gives a
    /// connected target up to a second to acknowledge what is in flight,
    /// writes everything unacknowledged to the spool, fsyncs it and writes
    /// the cursor. Blocks until that is done.
    pub fn shutdown(mut self) -> Result<(), RelayError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), RelayError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => match thread.join() {
                Ok(result) => result,
                Err(_) => {
                    tracing::error!(sink = %self.config.name, "relay thread panicked");
                    Ok(())
                }
            },
            None => Ok(()),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Err(error) = self.stop_and_join() {
            tracing::error!(%error, "relay stopped with an error");
        }
    }
}

fn thread_name(sink: &str) -> String {
    let mut name = String::from("relay-");
    name.extend(sink.chars().take(9));
    name
}

/// The running relays of a sinkd, by sink name.
///
/// Route building asks [`Relays::ensure`] for each relay sink: a running
/// relay whose settings are unchanged is reused (its connection, queue and
/// spool carry on across a SIGHUP); a changed one is stopped (its queue
/// goes to the spool) and started again with the new settings, resuming
/// from the same spool. [`Relays::retain`] stops relays whose sinks are
/// gone, and [`Relays::shutdown`] stops all of them.
pub struct Relays {
    metrics: Arc<Metrics>,
    running: Mutex<HashMap<String, Relay>>,
}

impl std::fmt::Debug for Relays {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .running
            .lock()
            .map(|running| running.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("Relays").field("running", &names).finish()
    }
}

impl Relays {
    pub fn new(metrics: Arc<Metrics>) -> Relays {
        Relays {
            metrics,
            running: Mutex::new(HashMap::new()),
        }
    }

    /// The handle of the relay for `config`, starting it (or restarting it
    /// with new settings) when needed.
    pub fn ensure(&self, config: RelayConfig) -> Result<RelayHandle, RelayError> {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(relay) = running.get(&config.name) {
            if relay.config == config {
                return Ok(relay.handle());
            }
        }
        if let Some(previous) = running.remove(&config.name) {
            tracing::info!(
                sink = %config.name,
                "relay settings changed; restarting it from its spool"
            );
            if let Err(error) = previous.shutdown() {
                tracing::error!(%error, "relay stopped with an error");
            }
        }
        let name = config.name.clone();
        let relay = Relay::start(config, Arc::clone(&self.metrics))?;
        let handle = relay.handle();
        running.insert(name, relay);
        Ok(handle)
    }

    /// Stops every relay whose sink name is not in `keep`.
    pub fn retain(&self, keep: &[&str]) {
        let removed: Vec<Relay> = {
            let mut running = self
                .running
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let names: Vec<String> = running
                .keys()
                .filter(|name| !keep.contains(&name.as_str()))
                .cloned()
                .collect();
            names
                .iter()
                .filter_map(|name| running.remove(name))
                .collect()
        };
        for relay in removed {
            tracing::info!(sink = %relay.config.name, "relay sink removed; stopping it");
            if let Err(error) = relay.shutdown() {
                tracing::error!(%error, "relay stopped with an error");
            }
        }
    }

    /// Names of the running relays.
    pub fn names(&self) -> Vec<String> {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut names: Vec<String> = running.keys().cloned().collect();
        names.sort();
        names
    }

    /// Stops every relay (each persists its queue); returns the errors.
    pub fn shutdown(&self) -> Vec<RelayError> {
        let relays: Vec<Relay> = {
            let mut running = self
                .running
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            running.drain().map(|(_, relay)| relay).collect()
        };
        // Stop them all at once so their grace periods overlap.
        let mut relays = relays;
        for relay in &mut relays {
            if let Some(stop) = relay.stop.take() {
                let _ = stop.send(());
            }
        }
        relays
            .into_iter()
            .filter_map(|relay| relay.shutdown().err())
            .collect()
    }
}
