//! The set of running listeners, keyed by transport family and address, so
//! a reload can tell which to start, which to update in place and which to
//! retire.
//!
//! UDP listeners are restarted when their settings change (SO_REUSEPORT
//! lets the new sockets bind before the old ones close, so no datagram
//! finds the port closed). TCP/TLS listeners are updated in place and
//! their certificates re-read; open connections are never touched. A
//! removed stream listener stops accepting, and its connections run on
//! until they end or sinkd stops.

use anyhow::Context as _;
use sinkd_listen::{
    start_stream, start_udp, ListenerConfig, StreamListener, UdpListener, WorkerQueues,
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

enum Running {
    Stream(StreamListener, ListenerConfig),
    Udp(UdpListener, ListenerConfig),
}

pub(crate) struct Listeners {
    queues: WorkerQueues,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
    running: HashMap<Key, Running>,
    retired: Vec<StreamListener>,
}

fn key_of(listener: &ListenerConfig) -> Key {
    match listener {
        ListenerConfig::Udp(udp) => Key::Udp(udp.address),
        ListenerConfig::Stream(stream) => Key::Stream(stream.address),
    }
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

    async fn start(&self, listener: &ListenerConfig) -> anyhow::Result<Running> {
        let what = || {
            format!(
                "{} listener on {}",
                listener.transport_name(),
                listener.address()
            )
        };
        Ok(match listener {
            ListenerConfig::Udp(config) => {
                let udp = start_udp(config, &self.queues, Arc::clone(&self.metrics))
                    .with_context(what)?;
                tracing::info!(transport = "udp", address = %udp.local_addr(), "listening");
                Running::Udp(udp, listener.clone())
            }
            ListenerConfig::Stream(config) => {
                let stream = start_stream(
                    config,
                    &self.queues,
                    Arc::clone(&self.metrics),
                    self.shutdown.clone(),
                )
                .await
                .with_context(what)?;
                tracing::info!(transport = listener.transport_name(), address = %stream.local_addr(), "listening");
                Running::Stream(stream, listener.clone())
            }
        })
    }

    /// Makes the running listeners match `wanted`: starts new ones, updates
    /// or restarts changed ones, retires removed ones. Stops at the first
    /// error, leaving what already changed in place.
    pub(crate) async fn apply(&mut self, wanted: &[ListenerConfig]) -> anyhow::Result<()> {
        let wanted_keys: Vec<Key> = wanted.iter().map(key_of).collect();
        let removed: Vec<Key> = self
            .running
            .keys()
            .filter(|key| !wanted_keys.contains(key))
            .copied()
            .collect();
        for key in removed {
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
        for listener in wanted {
            let key = key_of(listener);
            match self.running.remove(&key) {
                None => {
                    let running = self.start(listener).await?;
                    self.running.insert(key, running);
                }
                Some(Running::Udp(udp, old)) if old == *listener => {
                    self.running.insert(key, Running::Udp(udp, old));
                }
                Some(Running::Udp(udp, old)) => match self.start(listener).await {
                    Ok(running) => {
                        tokio::task::block_in_place(|| udp.shutdown());
                        self.running.insert(key, running);
                    }
                    Err(error) => {
                        self.running.insert(key, Running::Udp(udp, old));
                        return Err(error);
                    }
                },
                Some(Running::Stream(stream, old)) => {
                    let ListenerConfig::Stream(config) = listener else {
                        unreachable!("a stream key holds a stream listener");
                    };
                    if old.transport_name() != listener.transport_name() {
                        // tcp <-> tls on the same address: retire and restart.
                        stream.stop_accepting();
                        self.retired.push(stream);
                        let running = self.start(listener).await?;
                        self.running.insert(key, running);
                        continue;
                    }
                    let result = stream.update(config);
                    let result = result.and_then(|()| {
                        if config.tls.is_some() {
                            stream.reload_tls()
                        } else {
                            Ok(())
                        }
                    });
                    let keep = if result.is_ok() {
                        listener.clone()
                    } else {
                        old
                    };
                    self.running.insert(key, Running::Stream(stream, keep));
                    result.with_context(|| {
                        format!(
                            "{} listener on {}",
                            listener.transport_name(),
                            listener.address()
                        )
                    })?;
                }
            }
        }
        Ok(())
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
