//! [`Relays`]: the running relays of a sinkd by sink name, and how a reload
//! changes them in two steps.
//!
//! [`Relays::prepare`] takes the relay settings of a new configuration and
//! does everything that can fail, changing nothing that runs: it checks
//! every relay's settings, reads and parses the TLS files of every TLS
//! relay (those whose settings did not change too, so a SIGHUP re-reads
//! certificates and a CA file that became garbage refuses the reload),
//! opens the spools of new relays, and spawns (parked) the threads of new
//! and changed relays. Its [`RelayPlan`] then says, per relay:
//!
//! - **keep**: the settings are the same; the relay runs on, and
//!   `commit` gives its next connection the TLS files just read;
//! - **restart**: the settings changed; `commit` stops the old engine,
//!   which writes its memory queue to the spool and hands over its intake
//!   channel and spool, and starts the new engine on them. The
//!   [`RelayHandle`] stays the same, so the workers' handles and the routes
//!   built from [`RelayPlan::handle`] stay valid, and a batch offered
//!   during the swap waits in the channel instead of being refused;
//! - **start**: a new relay, its handle ready before the commit;
//!
//! and `commit` stops the relays whose names are not wanted. A plan that is
//! dropped without `commit` releases what `prepare` opened (parked threads,
//! the spools of new relays) and leaves the running relays as they were.
//!
//! One plan at a time: a plan refers to the relays that ran when it was
//! prepared, and a step whose relay was replaced meanwhile is skipped (and
//! logged) at commit.

use crate::batch::RelayBatch;
use crate::config::RelayConfig;
use crate::conn::TlsSetup;
use crate::engine::{HandedOver, StopMode};
use crate::error::RelayError;
use crate::relay::{Checked, Parked, Relay};
use crate::spool::Spool;
use crate::RelayHandle;
use sinkd_metrics::Metrics;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;

/// The running relays of a sinkd, by sink name.
///
/// A reload calls [`Relays::prepare`] with the relay settings of the new
/// configuration, builds its routes with [`RelayPlan::handle`], and calls
/// [`RelayPlan::commit`] once nothing else can fail. [`Relays::shutdown`]
/// stops every relay.
pub struct Relays {
    metrics: Arc<Metrics>,
    running: Mutex<HashMap<String, Relay>>,
}

impl std::fmt::Debug for Relays {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relays")
            .field("running", &self.names())
            .finish()
    }
}

/// One relay's part of a [`RelayPlan`].
enum Step {
    /// Unchanged: the running relay `id` gets the TLS files read again.
    Keep {
        id: u64,
        handle: RelayHandle,
        tls: Option<TlsSetup>,
    },
    /// Changed: the running relay `id` hands its queue to `parked`.
    Restart {
        id: u64,
        handle: RelayHandle,
        parked: Parked,
        /// The new spool, opened by `prepare`, when the spool directory
        /// moved; otherwise the old engine's spool is taken over.
        new_spool: Option<Spool>,
    },
    /// New: everything opened, waiting for the go.
    Start {
        handle: RelayHandle,
        parked: Parked,
        intake: mpsc::Receiver<RelayBatch>,
        spool: Spool,
    },
}

impl Step {
    fn handle(&self) -> &RelayHandle {
        match self {
            Step::Keep { handle, .. }
            | Step::Restart { handle, .. }
            | Step::Start { handle, .. } => handle,
        }
    }
}

/// The relays of a new configuration, prepared and not yet applied; see
/// the module documentation. Dropping it without [`RelayPlan::commit`]
/// aborts it.
#[must_use = "a plan changes nothing until it is committed"]
pub struct RelayPlan<'a> {
    relays: &'a Relays,
    steps: Vec<Step>,
}

impl std::fmt::Debug for RelayPlan<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let steps: Vec<(&str, &str)> = self
            .steps
            .iter()
            .map(|step| {
                let what = match step {
                    Step::Keep { .. } => "keep",
                    Step::Restart { .. } => "restart",
                    Step::Start { .. } => "start",
                };
                (step.handle().name(), what)
            })
            .collect();
        f.debug_struct("RelayPlan").field("steps", &steps).finish()
    }
}

impl Relays {
    pub fn new(metrics: Arc<Metrics>) -> Relays {
        Relays {
            metrics,
            running: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Relay>> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Prepares the relays to become exactly `wanted`: checks each one's
    /// settings, reads its TLS files, opens the spool of each new relay and
    /// spawns the thread of each new or changed one. Nothing running
    /// changes. The first failure is returned, naming the sink, and what
    /// was prepared until then is released.
    pub fn prepare(&self, wanted: Vec<RelayConfig>) -> Result<RelayPlan<'_>, RelayError> {
        // Built step by step: on an error, dropping it releases the steps
        // already prepared.
        let mut plan = RelayPlan {
            relays: self,
            steps: Vec::with_capacity(wanted.len()),
        };
        for config in wanted {
            if plan.handle(&config.name).is_some() {
                return Err(RelayError::InvalidConfig {
                    sink: config.name,
                    reason: "two relay sinks have this name",
                });
            }
            let checked = Checked::new(config)?;
            let current = self.lock().get(&checked.config.name).map(|relay| {
                (
                    relay.id(),
                    relay.handle(),
                    relay.config() == &checked.config,
                    relay.config().spool_dir == checked.config.spool_dir,
                )
            });
            let step = match current {
                Some((id, handle, true, _)) => Step::Keep {
                    id,
                    handle,
                    tls: checked.tls,
                },
                Some((id, handle, false, same_spool)) => {
                    let new_spool = if same_spool {
                        None
                    } else {
                        Some(Spool::open(&checked.config)?)
                    };
                    let parked = Parked::spawn(checked, &handle, &self.metrics)?;
                    Step::Restart {
                        id,
                        handle,
                        parked,
                        new_spool,
                    }
                }
                None => {
                    let spool = Spool::open(&checked.config)?;
                    let (handle, intake) =
                        RelayHandle::new(&checked.config.name, Arc::clone(&self.metrics));
                    let parked = Parked::spawn(checked, &handle, &self.metrics)?;
                    Step::Start {
                        handle,
                        parked,
                        intake,
                        spool,
                    }
                }
            };
            plan.steps.push(step);
        }
        Ok(plan)
    }

    /// Names of the running relays.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.lock().keys().cloned().collect();
        names.sort();
        names
    }

    /// Stops every relay (each persists its queue); returns the errors.
    pub fn shutdown(&self) -> Vec<RelayError> {
        let mut relays: Vec<Relay> = self.lock().drain().map(|(_, relay)| relay).collect();
        // Stop them all at once so their grace periods overlap.
        for relay in &mut relays {
            relay.signal(StopMode::Close);
        }
        relays
            .into_iter()
            .filter_map(|relay| relay.shutdown().err())
            .collect()
    }
}

impl RelayPlan<'_> {
    /// The handle of the relay named `name` in this plan, for routes built
    /// before the commit: the running relay's for a kept or restarted
    /// relay (it stays valid across the restart), a new one for a new
    /// relay (it refuses batches, counting them, if the plan is dropped).
    pub fn handle(&self, name: &str) -> Option<RelayHandle> {
        self.steps
            .iter()
            .map(Step::handle)
            .find(|handle| handle.name() == name)
            .cloned()
    }

    /// Applies the plan: keeps the unchanged relays (their next connection
    /// uses the TLS files just read), restarts the changed ones behind the
    /// same handle, starts the new ones, and takes the running relays the
    /// plan does not name out of the set, returning them still running:
    /// stop them with [`RetiredRelays::stop`] once no worker can offer to
    /// them (each writes its queue to its spool). Blocks while restarted
    /// relays persist their queues (up to a second of grace, overlapping).
    /// Nothing in it can fail; a relay that cannot hand over its queue (its
    /// thread failed) is logged and left stopped.
    pub fn commit(mut self) -> RetiredRelays {
        let steps = std::mem::take(&mut self.steps);
        let mut starting = Vec::new();
        let mut restarting = Vec::new();
        let removed: Vec<Relay> = {
            let mut running = self.relays.lock();
            let mut wanted = Vec::with_capacity(steps.len());
            for step in steps {
                wanted.push(step.handle().name().to_owned());
                match step {
                    Step::Keep { id, handle, tls } => match running.get(handle.name()) {
                        Some(relay) if relay.id() == id => {
                            if let Some(tls) = tls {
                                relay.replace_tls(tls);
                                tracing::info!(sink = %handle.name(), "relay TLS files reloaded");
                            }
                        }
                        _ => replaced_meanwhile(handle.name()),
                    },
                    Step::Restart {
                        id,
                        handle,
                        parked,
                        new_spool,
                    } => match running.remove(handle.name()) {
                        Some(mut old) if old.id() == id => {
                            tracing::info!(
                                sink = %handle.name(),
                                "relay settings changed; restarting it on the same queue"
                            );
                            old.signal(StopMode::HandOver);
                            restarting.push((old, handle, parked, new_spool));
                        }
                        other => {
                            if let Some(other) = other {
                                running.insert(handle.name().to_owned(), other);
                            }
                            replaced_meanwhile(handle.name());
                        }
                    },
                    Step::Start {
                        handle,
                        parked,
                        intake,
                        spool,
                    } => {
                        if running.contains_key(handle.name()) {
                            replaced_meanwhile(handle.name());
                            close_spool(spool);
                        } else {
                            starting.push((handle, parked, HandedOver { intake, spool }));
                        }
                    }
                }
            }
            let gone: Vec<String> = running
                .keys()
                .filter(|name| !wanted.contains(name))
                .cloned()
                .collect();
            gone.iter()
                .filter_map(|name| running.remove(name))
                .collect()
        };
        let mut started = Vec::with_capacity(starting.len() + restarting.len());
        for (handle, parked, queue) in starting {
            started.push(parked.launch(handle, queue, false));
        }
        for (mut old, handle, parked, new_spool) in restarting {
            let Some(queue) = old.join() else {
                tracing::error!(
                    sink = %handle.name(),
                    "relay could not hand its queue over; it stays stopped until the next reload"
                );
                if let Some(spool) = new_spool {
                    close_spool(spool);
                }
                continue;
            };
            let relay = match new_spool {
                None => parked.launch(handle, queue, true),
                Some(spool) => {
                    // The spool directory moved: what the old spool holds
                    // stays there, as it would after a restart.
                    close_spool(queue.spool);
                    let queue = HandedOver {
                        intake: queue.intake,
                        spool,
                    };
                    parked.launch(handle, queue, false)
                }
            };
            started.push(relay);
        }
        {
            let mut running = self.relays.lock();
            for relay in started {
                running.insert(relay.config().name.clone(), relay);
            }
        }
        RetiredRelays(removed)
    }
}

/// The relays a committed plan no longer wants, still running: workers
/// that took their batch's routes before the swap may still offer to them.
/// [`RetiredRelays::stop`] (or dropping this) stops them, each writing its
/// queue to its spool; call it once no worker holds the old routes, so no
/// batch routed to a removed sink is refused.
#[derive(Debug)]
pub struct RetiredRelays(Vec<Relay>);

impl RetiredRelays {
    /// Stops every retired relay and waits for each to persist its queue.
    pub fn stop(mut self) {
        stop_removed(std::mem::take(&mut self.0));
    }
}

impl Drop for RetiredRelays {
    fn drop(&mut self) {
        stop_removed(std::mem::take(&mut self.0));
    }
}

impl Drop for RelayPlan<'_> {
    /// Aborts an uncommitted plan: parked threads end, new spools close.
    fn drop(&mut self) {
        for step in self.steps.drain(..) {
            match step {
                Step::Keep { .. } => {}
                Step::Restart {
                    parked, new_spool, ..
                } => {
                    drop(parked);
                    if let Some(spool) = new_spool {
                        close_spool(spool);
                    }
                }
                Step::Start { parked, spool, .. } => {
                    drop(parked);
                    close_spool(spool);
                }
            }
        }
    }
}

fn replaced_meanwhile(sink: &str) {
    tracing::warn!(
        sink,
        "relay changed while a reload was being prepared; this relay's part of the reload is skipped"
    );
}

fn close_spool(spool: Spool) {
    if let Err(error) = spool.close() {
        tracing::error!(%error, "relay spool closed with an error");
    }
}

/// Tells every relay to stop at once (so their grace periods overlap), then
/// waits for each and logs errors.
fn stop_removed(mut removed: Vec<Relay>) {
    for relay in &mut removed {
        tracing::info!(sink = %relay.config().name, "relay sink removed; stopping it");
        relay.signal(StopMode::Close);
    }
    for relay in removed {
        if let Err(error) = relay.shutdown() {
            tracing::error!(%error, "relay stopped with an error");
        }
    }
}

// A reload may hold a plan across an `.await` on a multi-threaded runtime.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<RelayPlan<'static>>();
};
