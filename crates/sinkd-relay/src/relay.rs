//! One relay's life: checking its settings, its thread, starting, handing
//! over and stopping it.
//!
//! Starting a relay is split so that everything that can fail happens
//! first. [`Checked`] validates a [`RelayConfig`] and reads its TLS files;
//! [`Parked`] spawns the relay's thread and builds its runtime, then the
//! thread waits; [`Parked::launch`] hands the thread its queue (intake
//! channel and spool) and returns the running [`Relay`], and can no longer
//! fail. Dropping a `Parked` instead ends its thread before it ever ran an
//! engine. [`Relay::start`] goes through all three at once; `relays.rs`
//! spreads them over a reload's prepare and commit.
//!
//! A running relay stops in one of two ways (see `engine.rs`): closed for
//! good ([`Relay::shutdown`]), or asked to hand its intake channel and
//! spool over to a successor ([`Relay::signal`] with
//! [`StopMode::HandOver`], then [`Relay::join`]).

use crate::config::{RelayConfig, RelayTransport};
use crate::conn::{Dialer, TlsSetup};
use crate::engine::{Engine, HandedOver, StopMode};
use crate::error::RelayError;
use crate::kafka::KafkaEngine;
use crate::spool::Spool;
use crate::{tls, RelayHandle};
use arc_swap::ArcSwap;
use sinkd_metrics::Metrics;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// Source of [`Relay`] identities, so a plan can tell the relay it was
/// prepared against from one started in its place since.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// What a relay thread returns: the queue when it handed it over.
type ThreadResult = Result<Option<HandedOver>, RelayError>;

/// A relay's settings, checked, with its TLS files read.
pub(crate) struct Checked {
    pub(crate) config: RelayConfig,
    pub(crate) tls: Option<TlsSetup>,
}

impl Checked {
    /// Validates `config` and, for a TLS relay, reads and parses the CA
    /// file and the client certificate and key.
    pub(crate) fn new(config: RelayConfig) -> Result<Checked, RelayError> {
        config.validate()?;
        let tls = match (&config.tls, config.transport) {
            (Some(files), RelayTransport::Tls) => {
                let (connector, server_name) = tls::connector(&config.name, files)?;
                Some(TlsSetup {
                    connector,
                    server_name,
                })
            }
            _ => None,
        };
        Ok(Checked { config, tls })
    }
}

/// What a parked thread is given to run.
struct Go {
    queue: HandedOver,
    /// The spool comes from the relay's previous engine and must be
    /// resumed with the new settings first.
    resume: bool,
}

/// A relay thread with its runtime built, waiting for its queue.
pub(crate) struct Parked {
    config: RelayConfig,
    tls: Option<Arc<ArcSwap<TlsSetup>>>,
    go: Option<crossbeam_channel::Sender<Go>>,
    stop: Option<oneshot::Sender<StopMode>>,
    thread: Option<JoinHandle<ThreadResult>>,
}

impl Parked {
    /// Spawns the thread of the relay `checked` describes, for the intake
    /// channel behind `handle`, and waits until its runtime is built.
    pub(crate) fn spawn(
        checked: Checked,
        handle: &RelayHandle,
        metrics: &Arc<Metrics>,
    ) -> Result<Parked, RelayError> {
        let Checked { config, tls } = checked;
        let tls = tls.map(|setup| Arc::new(ArcSwap::from_pointee(setup)));
        let dialer = Dialer::new(&config, tls.clone());
        let (go_tx, go_rx) = crossbeam_channel::bounded::<Go>(1);
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
        let (stop_tx, stop_rx) = oneshot::channel();
        let body = {
            let config = config.clone();
            let metrics = Arc::clone(metrics);
            let shared = Arc::clone(&handle.shared);
            move || -> ThreadResult {
                // The runtime is built and dropped on this thread only: a
                // runtime dropped inside another runtime's task panics.
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                        return Ok(None);
                    }
                };
                let _ = ready_tx.send(Ok(()));
                let Ok(Go { mut queue, resume }) = go_rx.recv() else {
                    // Aborted before it ran.
                    return Ok(None);
                };
                if resume {
                    queue.spool.resume(&config);
                }
                match config.kafka.clone() {
                    Some(kafka) => {
                        let engine = KafkaEngine::new(
                            config,
                            *kafka,
                            metrics,
                            shared,
                            queue.intake,
                            queue.spool,
                        );
                        runtime.block_on(engine.run(stop_rx))
                    }
                    None => {
                        let engine =
                            Engine::new(config, metrics, shared, queue.intake, dialer, queue.spool);
                        runtime.block_on(engine.run(stop_rx))
                    }
                }
            }
        };
        let sink = config.name.clone();
        let spawn_error = |source| RelayError::Spawn {
            sink: sink.clone(),
            source,
        };
        let thread = std::thread::Builder::new()
            .name(thread_name(&config.name))
            .spawn(body)
            .map_err(spawn_error)?;
        let parked = Parked {
            config,
            tls,
            go: Some(go_tx),
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(parked),
            Ok(Err(source)) => Err(spawn_error(source)),
            Err(_) => Err(spawn_error(std::io::Error::other(
                "the relay thread ended before its runtime was built",
            ))),
        }
    }

    /// Gives the thread its queue and lets it run; `resume` when the spool
    /// comes from the relay's previous engine.
    pub(crate) fn launch(mut self, handle: RelayHandle, queue: HandedOver, resume: bool) -> Relay {
        if let Some(go) = self.go.take() {
            if go.send(Go { queue, resume }).is_err() {
                tracing::error!(sink = %self.config.name, "relay thread ended before it could start");
            }
        }
        tracing::info!(
            sink = %self.config.name,
            target = %self.config.target_text(),
            spool = %self.config.spool_dir.display(),
            "relay started"
        );
        Relay {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            config: self.config.clone(),
            handle,
            tls: self.tls.take(),
            stop: self.stop.take(),
            thread: self.thread.take(),
        }
    }
}

impl Drop for Parked {
    /// Ends a thread that was never launched and waits for it.
    fn drop(&mut self) {
        self.go.take();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!(sink = %self.config.name, "relay thread panicked");
            }
        }
    }
}

/// A running relay.
pub struct Relay {
    id: u64,
    config: RelayConfig,
    handle: RelayHandle,
    /// The TLS setup its connections use (TLS relays), replaceable.
    tls: Option<Arc<ArcSwap<TlsSetup>>>,
    stop: Option<oneshot::Sender<StopMode>>,
    thread: Option<JoinHandle<ThreadResult>>,
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
        let checked = Checked::new(config)?;
        let spool = Spool::open(&checked.config)?;
        let (handle, intake) = RelayHandle::new(&checked.config.name, Arc::clone(&metrics));
        let parked = Parked::spawn(checked, &handle, &metrics)?;
        Ok(parked.launch(handle, HandedOver { intake, spool }, false))
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

    /// This relay's identity, unique in the process.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Gives new connections `setup` (a TLS relay whose files were read
    /// again); the current connection carries on.
    pub(crate) fn replace_tls(&self, setup: TlsSetup) {
        if let Some(slot) = &self.tls {
            slot.store(Arc::new(setup));
        }
    }

    /// Tells the engine to stop, without waiting.
    pub(crate) fn signal(&mut self, mode: StopMode) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(mode);
        }
    }

    /// Waits for the thread; returns what it handed over, if it was asked
    /// to and did. `None` also when the thread failed (logged).
    pub(crate) fn join(&mut self) -> Option<HandedOver> {
        match self.thread.take()?.join() {
            Ok(Ok(handed_over)) => handed_over,
            Ok(Err(error)) => {
                tracing::error!(%error, "relay stopped with an error");
                None
            }
            Err(_) => {
                tracing::error!(sink = %self.config.name, "relay thread panicked");
                None
            }
        }
    }

    fn stop_and_join(&mut self) -> Result<(), RelayError> {
        self.signal(StopMode::Close);
        match self.thread.take() {
            Some(thread) => match thread.join() {
                Ok(Ok(None)) => Ok(()),
                // Asked to hand over, and nobody took the queue: close it.
                Ok(Ok(Some(handed_over))) => handed_over.spool.close(),
                Ok(Err(error)) => Err(error),
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

/// The relay thread's name: `relay-` and the first nine characters of the
/// sink's name (Linux keeps 15).
fn thread_name(sink: &str) -> String {
    let mut name = String::from("relay-");
    name.extend(sink.chars().take(9));
    name
}
