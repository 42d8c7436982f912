//! The set of running listeners, keyed by transport family and address, and
//! how a reload changes it: first a [`ListenerPlan`] is prepared (every
//! socket bound, every certificate read, every setting checked) while the
//! running listeners carry on untouched; only when the whole new
//! configuration has been built is the plan committed, which cannot fail
//! for anything the configuration says.
//!
//! UDP listeners whose settings change get new sockets bound beside the old
//! ones (SO_REUSEPORT), so no datagram finds the port closed; the old
//! sockets are read empty when they stop. TCP/TLS listeners are updated in
//! place with their certificates re-read; open connections are never
//! touched. A switch between TCP and TLS on one address binds the new
//! listener into the old one's port group before the old one stops
//! accepting. A removed stream listener stops accepting, and its
//! connections run on until they end or sinkd stops. An abandoned plan
//! hands whatever the kernel already queued on its new UDP sockets to the
//! workers, so even a refused reload loses no datagram.

use anyhow::Context as _;
use sinkd_listen::{
    bind_stream, bind_udp, BoundStream, BoundUdp, ListenerConfig, StreamListener, StreamUpdate,
    UdpListener, WorkerQueues,
};
use sinkd_metrics::Metrics;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// UDP and stream listeners may share a port number; two stream listeners
/// may not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    Stream(SocketAddr),
    Udp(SocketAddr),
}

fn key_of(listener: &ListenerConfig) -> Key {
    match listener {
        ListenerConfig::Udp(udp) => Key::Udp(udp.address),
        ListenerConfig::Stream(stream) => Key::Stream(stream.address),
    }
}

enum Running {
    Stream(StreamListener, ListenerConfig),
    Udp(UdpListener, ListenerConfig),
}

/// What committing a plan does for one wanted listener.
enum Step {
    /// A UDP listener whose settings did not change.
    Keep,
    /// A new UDP listener, or new sockets for one whose settings changed
    /// (the old one stops once the new one runs).
    Udp(BoundUdp),
    /// A new stream listener, or a TCP/TLS switch on a running one's
    /// address (bound beside it).
    Stream(Box<BoundStream>),
    /// New settings (and freshly read certificates) for a running stream
    /// listener.
    Update(StreamUpdate),
}

/// A prepared change of the listener set; see the module doc.
#[must_use = "a plan does nothing until committed, and must be abandoned otherwise"]
pub(crate) struct ListenerPlan {
    steps: Vec<(Key, Step, ListenerConfig)>,
    removed: Vec<Key>,
}

pub(crate) struct Listeners {
    queues: WorkerQueues,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
    running: HashMap<Key, Running>,
    retired: Vec<StreamListener>,
}

impl Listeners {
    pub(crate) fn new(
        queues: WorkerQueues,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
    ) -> Listeners {
        Listeners {
            queues,
            metrics,
            shutdown,
            running: HashMap::new(),
            retired: Vec::new(),
        }
    }

    /// Builds everything `wanted` needs without changing what runs: binds
    /// the sockets of new and changed listeners, reads every TLS
    /// listener's certificates. On error, what was bound is released (UDP
    /// sockets read empty first) and the error names the listener.
    pub(crate) fn prepare(&self, wanted: &[ListenerConfig]) -> anyhow::Result<ListenerPlan> {
        let mut plan = ListenerPlan {
            steps: Vec::with_capacity(wanted.len()),
            removed: self
                .running
                .keys()
                .filter(|key| !wanted.iter().any(|listener| key_of(listener) == **key))
                .copied()
                .collect(),
        };
        for listener in wanted {
            match self.prepare_one(listener) {
                Ok(step) => plan.steps.push((key_of(listener), step, listener.clone())),
                Err(error) => {
                    self.abandon(plan);
                    return Err(error).with_context(|| {
                        format!(
                            "{} listener on {}",
                            listener.transport_name(),
                            listener.address()
                        )
                    });
                }
            }
        }
        Ok(plan)
    }

    fn prepare_one(&self, listener: &ListenerConfig) -> anyhow::Result<Step> {
        let step = match (self.running.get(&key_of(listener)), listener) {
            (Some(Running::Udp(_, old)), _) if old == listener => Step::Keep,
            (_, ListenerConfig::Udp(config)) => Step::Udp(bind_udp(config, self.queues.len())?),
            (Some(Running::Stream(stream, old)), ListenerConfig::Stream(config))
                if old.transport_name() != listener.transport_name() =>
            {
                Step::Stream(Box::new(stream.bind_beside(config)?))
            }
            (Some(Running::Stream(stream, _)), ListenerConfig::Stream(config)) => {
                Step::Update(stream.prepare_update(config)?)
            }
            (_, ListenerConfig::Stream(config)) => Step::Stream(Box::new(bind_stream(config)?)),
        };
        Ok(step)
    }

    /// Releases what a plan bound: UDP sockets are read empty into the
    /// worker queues first, since the kernel may already have spread
    /// datagrams onto them.
    pub(crate) fn abandon(&self, plan: ListenerPlan) {
        for (_, step, _) in plan.steps {
            if let Step::Udp(bound) = step {
                tokio::task::block_in_place(|| {
                    bound.abandon(&self.queues, Arc::clone(&self.metrics));
                });
            }
        }
    }

    /// Applies a prepared plan: starts the new listeners, swaps in the
    /// updates, then stops what was replaced or removed. Needs the runtime
    /// (stream listeners spawn their accept loop on it). Returns what could
    /// not start — only a receive thread the system refuses can fail here,
    /// and the listener it would replace keeps running.
    pub(crate) fn commit(&mut self, plan: ListenerPlan) -> Vec<anyhow::Error> {
        let mut failed = Vec::new();
        for key in plan.removed {
            match self.running.remove(&key) {
                Some(Running::Udp(udp, _)) => {
                    tracing::info!(address = %udp.local_addr(), "udp listener removed");
                    tokio::task::block_in_place(|| udp.shutdown());
                }
                Some(Running::Stream(stream, _)) => {
                    tracing::info!(address = %stream.local_addr(), "stream listener removed; open connections continue");
                    stream.stop_accepting();
                    self.retired.push(stream);
                }
                None => {}
            }
        }
        for (key, step, config) in plan.steps {
            match step {
                Step::Keep => {}
                Step::Update(update) => {
                    if let Some(Running::Stream(stream, old)) = self.running.get_mut(&key) {
                        stream.commit_update(update);
                        *old = config;
                    }
                }
                Step::Stream(bound) => {
                    let stream = bound.start(
                        &self.queues,
                        Arc::clone(&self.metrics),
                        self.shutdown.clone(),
                    );
                    tracing::info!(transport = config.transport_name(), address = %stream.local_addr(), "listening");
                    let previous = self.running.insert(key, Running::Stream(stream, config));
                    if let Some(Running::Stream(old, _)) = previous {
                        // A TCP/TLS switch: the old listener serves what
                        // waits in its backlog, then closes.
                        old.stop_accepting();
                        self.retired.push(old);
                    }
                }
                Step::Udp(bound) => match bound.start(&self.queues, Arc::clone(&self.metrics)) {
                    Ok(udp) => {
                        tracing::info!(transport = "udp", address = %udp.local_addr(), "listening");
                        let previous = self.running.insert(key, Running::Udp(udp, config));
                        if let Some(Running::Udp(old, _)) = previous {
                            tokio::task::block_in_place(|| old.shutdown());
                        }
                    }
                    Err(error) => failed.push(
                        anyhow::Error::new(error)
                            .context(format!("udp listener on {}", config.address())),
                    ),
                },
            }
        }
        failed
    }

    /// Stops every listener and waits until each connection has handed its
    /// decoded frames to the workers.
    pub(crate) async fn shutdown(&mut self) {
        let mut streams = std::mem::take(&mut self.retired);
        for (_, running) in self.running.drain() {
            match running {
                Running::Udp(udp, _) => tokio::task::block_in_place(|| udp.shutdown()),
                Running::Stream(stream, _) => {
                    stream.stop_accepting();
                    streams.push(stream);
                }
            }
        }
        for stream in streams {
            stream.join().await;
        }
    }
}
