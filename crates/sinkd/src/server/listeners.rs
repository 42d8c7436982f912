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
use sinkd_config::{FramingChoice, ListenTransport, Listener};
use sinkd_listen::{
    start_stream, start_udp, AllowList, Framing, StreamConfig, StreamListener, TlsConfig,
    UdpConfig, UdpListener, WorkerQueues, UDP_MAX_FRAME_LIMIT,
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
    Stream(StreamListener, Listener),
    Udp(UdpListener, Listener),
}

pub(crate) struct Listeners {
    queues: WorkerQueues,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
    running: HashMap<Key, Running>,
    retired: Vec<StreamListener>,
}

fn key_of(listener: &Listener) -> Key {
    match listener.transport {
        ListenTransport::Udp => Key::Udp(listener.address),
        ListenTransport::Tcp | ListenTransport::Tls => Key::Stream(listener.address),
    }
}

fn udp_config(listener: &Listener, n_workers: usize) -> UdpConfig {
    let mut config = UdpConfig::new(listener.address);
    config.allow = AllowList::new(listener.allow.clone());
    config.recv_buffer = listener.recv_buffer as usize;
    config.batch_size = listener.batch_size;
    config.max_frame = listener.max_frame.min(UDP_MAX_FRAME_LIMIT);
    config.threads = if listener.threads == 0 {
        n_workers
    } else {
        listener.threads
    };
    config
}

fn stream_config(listener: &Listener) -> StreamConfig {
    let mut config = StreamConfig::new(listener.address);
    config.allow = AllowList::new(listener.allow.clone());
    config.framing = match listener.framing {
        FramingChoice::Auto => None,
        FramingChoice::Lf => Some(Framing::NonTransparent),
        FramingChoice::OctetCounting => Some(Framing::OctetCounting),
    };
    config.max_frame = listener.max_frame;
    config.idle_timeout = listener.idle_timeout;
    config.max_connections = listener.max_connections;
    config.tls = listener.tls.as_ref().map(|tls| {
        let mut files = TlsConfig::new(&tls.cert, &tls.key);
        files.client_ca = tls.client_ca.clone();
        files
    });
    config
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

    async fn start(&self, listener: &Listener) -> anyhow::Result<Running> {
        let what = || {
            format!(
                "{} listener on {}",
                listener.transport.name(),
                listener.address
            )
        };
        Ok(match listener.transport {
            ListenTransport::Udp => {
                let config = udp_config(listener, self.queues.len());
                let udp = start_udp(&config, &self.queues, Arc::clone(&self.metrics))
                    .with_context(what)?;
                tracing::info!(transport = "udp", address = %udp.local_addr(), "listening");
                Running::Udp(udp, listener.clone())
            }
            ListenTransport::Tcp | ListenTransport::Tls => {
                let config = stream_config(listener);
                let stream = start_stream(
                    &config,
                    &self.queues,
                    Arc::clone(&self.metrics),
                    self.shutdown.clone(),
                )
                .await
                .with_context(what)?;
                tracing::info!(transport = listener.transport.name(), address = %stream.local_addr(), "listening");
                Running::Stream(stream, listener.clone())
            }
        })
    }

    /// Makes the running listeners match `wanted`: starts new ones, updates
    /// or restarts changed ones, retires removed ones. Stops at the first
    /// error, leaving what already changed in place.
    pub(crate) async fn apply(&mut self, wanted: &[Listener]) -> anyhow::Result<()> {
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
                    if old.transport != listener.transport {
                        // tcp <-> tls on the same address: retire and restart.
                        stream.stop_accepting();
                        self.retired.push(stream);
                        let running = self.start(listener).await?;
                        self.running.insert(key, running);
                        continue;
                    }
                    let result = stream.update(&stream_config(listener));
                    let result = result.and_then(|()| {
                        if listener.tls.is_some() {
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
                            listener.transport.name(),
                            listener.address
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
