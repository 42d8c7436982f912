//! sinkd's telemetry: every metric name and label lives here, and so does
//! the small HTTP endpoint that serves them.
//!
//! Other crates never spell a metric name: they take a [`Metrics`] (shared in
//! an `Arc`) and increment the pre-resolved counters it hands out, choosing
//! labels from the [`Transport`], [`DropReason`] and [`ConnectionEvent`]
//! enums. Counters are bumped once per batch with `inc_by`, never once per
//! message with a label lookup. State kept elsewhere as plain atomics (the
//! store's statistics, the kernel's UDP drop count) is copied in by scrape
//! hooks that run just before each scrape. Names follow
//! `docs/specs/metrics.md`.

mod http;

pub use http::serve;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A listener transport, the `transport` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Tls,
    Udp,
}

impl Transport {
    pub const ALL: [Transport; 3] = [Transport::Tcp, Transport::Tls, Transport::Udp];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Udp => "udp",
        }
    }
}

/// Why a message was discarded, the `reason` label of
/// `sinkd_messages_dropped_total`. Every discard path names one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// An octet-counting header was malformed; the connection was closed.
    FrameInvalid,
    /// A frame exceeded the listener's `max_frame`.
    FrameTooLarge,
    /// The source address is not in the listener's `allow` list.
    NotAllowed,
    /// A UDP batch found every worker queue full.
    QueueFull,
    /// A relay queue was full and its policy dropped a message.
    RelayQueueFull,
    /// The store could not write the message (disk full, permissions).
    WriteError,
}

impl DropReason {
    pub const ALL: [DropReason; 6] = [
        DropReason::FrameInvalid,
        DropReason::FrameTooLarge,
        DropReason::NotAllowed,
        DropReason::QueueFull,
        DropReason::RelayQueueFull,
        DropReason::WriteError,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::FrameInvalid => "frame_invalid",
            DropReason::FrameTooLarge => "frame_too_large",
            DropReason::NotAllowed => "not_allowed",
            DropReason::QueueFull => "queue_full",
            DropReason::RelayQueueFull => "relay_queue_full",
            DropReason::WriteError => "write_error",
        }
    }
}

/// Why a TCP or TLS connection was refused or ended, the `reason` label of
/// `sinkd_connections_closed_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionEvent {
    /// The peer sent a malformed frame header.
    FrameError,
    /// The connection sent nothing for `idle_timeout`.
    IdleTimeout,
    /// Reading or writing failed.
    IoError,
    /// The listener already had `max_connections` connections.
    LimitReached,
    /// The source address is not in the listener's `allow` list.
    NotAllowed,
    /// The peer closed the connection.
    PeerClosed,
    /// The server is shutting down.
    Shutdown,
    /// The TLS handshake failed (plaintext, bad or missing client certificate).
    TlsHandshake,
}

impl ConnectionEvent {
    pub const ALL: [ConnectionEvent; 8] = [
        ConnectionEvent::FrameError,
        ConnectionEvent::IdleTimeout,
        ConnectionEvent::IoError,
        ConnectionEvent::LimitReached,
        ConnectionEvent::NotAllowed,
        ConnectionEvent::PeerClosed,
        ConnectionEvent::Shutdown,
        ConnectionEvent::TlsHandshake,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            ConnectionEvent::FrameError => "frame_error",
            ConnectionEvent::IdleTimeout => "idle_timeout",
            ConnectionEvent::IoError => "io_error",
            ConnectionEvent::LimitReached => "limit_reached",
            ConnectionEvent::NotAllowed => "not_allowed",
            ConnectionEvent::PeerClosed => "peer_closed",
            ConnectionEvent::Shutdown => "shutdown",
            ConnectionEvent::TlsHandshake => "tls_handshake",
        }
    }
}

/// Counters of one sink, resolved once when the sink is built.
#[derive(Clone, Debug)]
pub struct SinkCounters {
    /// Messages the sink accepted (written to its store or relay queue).
    pub messages: IntCounter,
    /// Bytes of formatted output.
    pub bytes: IntCounter,
}

type ScrapeHook = Box<dyn Fn() + Send + Sync>;

/// Every sinkd metric, registered in one registry.
pub struct Metrics {
    registry: Registry,
    received: [IntCounter; 3],
    dropped: [IntCounter; 6],
    connections_closed: [IntCounter; 8],
    connections: [IntGauge; 3],
    /// Messages that no grammar recognised, kept as `unparsed`.
    pub unparsed: IntCounter,
    /// Messages that matched no sink's priority (filtered, not lost).
    pub unrouted: IntCounter,
    /// Datagrams the kernel dropped before sinkd could read them.
    pub udp_kernel_drops: IntCounter,
    /// Distinct devices seen since start.
    pub devices: IntGauge,
    /// Seconds from receiving a message to handing it to the store's writer.
    pub receive_to_write_seconds: Histogram,
    sink_messages: IntCounterVec,
    sink_bytes: IntCounterVec,
    relay_queue_depth: IntGaugeVec,
    /// Counters and gauges mirrored from other crates' atomics at scrape time.
    pub store_lines_written: IntCounter,
    pub store_bytes_written: IntCounter,
    pub store_segments_rotated: IntCounter,
    pub store_segments_compressed: IntCounter,
    pub store_write_errors: IntCounter,
    pub store_open_streams: IntGauge,
    pub store_fsyncs: IntCounter,
    pub reloads: IntCounterVec,
    scrape_hooks: Mutex<Vec<ScrapeHook>>,
}

/// Registration of a metric can only fail on a duplicate name or an invalid
/// name, both fixed in this file and covered by the tests below.
fn registered<T: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: T,
) -> T {
    #[allow(clippy::expect_used)]
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names in sinkd-metrics are unique and valid");
    metric
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    #[allow(clippy::expect_used)]
    let metric = IntCounter::new(name, help).expect("valid metric name");
    registered(registry, metric)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    #[allow(clippy::expect_used)]
    let metric = IntGauge::new(name, help).expect("valid metric name");
    registered(registry, metric)
}

fn counter_vec(registry: &Registry, name: &str, help: &str, label: &str) -> IntCounterVec {
    #[allow(clippy::expect_used)]
    let metric = IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid metric name");
    registered(registry, metric)
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, label: &str) -> IntGaugeVec {
    #[allow(clippy::expect_used)]
    let metric = IntGaugeVec::new(Opts::new(name, help), &[label]).expect("valid metric name");
    registered(registry, metric)
}

impl Metrics {
    /// Registers every metric. Labelled families are pre-populated so that a
    /// scrape shows each reason at 0 before anything happened.
    pub fn new() -> Arc<Metrics> {
        let registry = Registry::new();
        let received_vec = counter_vec(
            &registry,
            "sinkd_messages_received_total",
            "Messages received, by listener transport.",
            "transport",
        );
        let dropped_vec = counter_vec(
            &registry,
            "sinkd_messages_dropped_total",
            "Messages discarded, by reason.",
            "reason",
        );
        let closed_vec = counter_vec(
            &registry,
            "sinkd_connections_closed_total",
            "TCP and TLS connections refused or ended, by reason.",
            "reason",
        );
        let connections_vec = gauge_vec(
            &registry,
            "sinkd_tcp_connections",
            "Open stream connections, by transport.",
            "transport",
        );
        let latency_opts = HistogramOpts::new(
            "sinkd_receive_to_write_seconds",
            "Time from receiving a message to handing it to the store writer.",
        )
        .buckets(vec![
            0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
            0.25, 0.5, 1.0, 2.5,
        ]);
        #[allow(clippy::expect_used)]
        let receive_to_write_seconds = registered(
            &registry,
            Histogram::with_opts(latency_opts).expect("valid histogram"),
        );
        Arc::new(Metrics {
            received: Transport::ALL.map(|t| received_vec.with_label_values(&[t.label()])),
            dropped: DropReason::ALL.map(|r| dropped_vec.with_label_values(&[r.label()])),
            connections_closed: ConnectionEvent::ALL
                .map(|e| closed_vec.with_label_values(&[e.label()])),
            connections: Transport::ALL.map(|t| connections_vec.with_label_values(&[t.label()])),
            unparsed: counter(
                &registry,
                "sinkd_messages_unparsed_total",
                "Messages no grammar recognised; kept as raw text with PRI user.notice.",
            ),
            unrouted: counter(
                &registry,
                "sinkd_messages_unrouted_total",
                "Messages that matched no sink's priority expression.",
            ),
            udp_kernel_drops: counter(
                &registry,
                "sinkd_udp_kernel_drops_total",
                "Datagrams the kernel dropped on sinkd's UDP sockets (receive buffer full).",
            ),
            devices: gauge(
                &registry,
                "sinkd_devices",
                "Distinct devices seen since start.",
            ),
            receive_to_write_seconds,
            sink_messages: counter_vec(
                &registry,
                "sinkd_sink_messages_total",
                "Messages accepted by a sink.",
                "sink",
            ),
            sink_bytes: counter_vec(
                &registry,
                "sinkd_sink_bytes_total",
                "Formatted bytes accepted by a sink.",
                "sink",
            ),
            relay_queue_depth: gauge_vec(
                &registry,
                "sinkd_relay_queue_depth",
                "Messages waiting in a relay sink's queue.",
                "sink",
            ),
            store_lines_written: counter(
                &registry,
                "sinkd_store_lines_written_total",
                "Lines written to segment files.",
            ),
            store_bytes_written: counter(
                &registry,
                "sinkd_store_bytes_written_total",
                "Bytes written to segment files.",
            ),
            store_segments_rotated: counter(
                &registry,
                "sinkd_store_segments_rotated_total",
                "Segments closed by rotation.",
            ),
            store_segments_compressed: counter(
                &registry,
                "sinkd_store_segments_compressed_total",
                "Closed segments compressed with zstd.",
            ),
            store_write_errors: counter(
                &registry,
                "sinkd_store_write_errors_total",
                "Failed segment writes (each also counts its lines as write_error drops).",
            ),
            store_open_streams: gauge(
                &registry,
                "sinkd_store_open_streams",
                "Device streams with state in the store's writers.",
            ),
            store_fsyncs: counter(
                &registry,
                "sinkd_store_fsyncs_total",
                "fsync calls on segments.",
            ),
            reloads: counter_vec(
                &registry,
                "sinkd_config_reloads_total",
                "Configuration reloads on SIGHUP, by result.",
                "result",
            ),
            registry,
            scrape_hooks: Mutex::new(Vec::new()),
        })
    }

    /// Messages received on a transport.
    pub fn received(&self, transport: Transport) -> &IntCounter {
        &self.received[transport as usize]
    }

    /// Messages dropped for a reason.
    pub fn dropped(&self, reason: DropReason) -> &IntCounter {
        &self.dropped[DropReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0)]
    }

    /// Connections refused or closed for a reason.
    pub fn connection_closed(&self, event: ConnectionEvent) -> &IntCounter {
        &self.connections_closed[ConnectionEvent::ALL
            .iter()
            .position(|e| *e == event)
            .unwrap_or(0)]
    }

    /// Open connections on a stream transport.
    pub fn connections(&self, transport: Transport) -> &IntGauge {
        &self.connections[transport as usize]
    }

    /// The counters of the sink named `sink`.
    pub fn sink(&self, sink: &str) -> SinkCounters {
        SinkCounters {
            messages: self.sink_messages.with_label_values(&[sink]),
            bytes: self.sink_bytes.with_label_values(&[sink]),
        }
    }

    /// The queue-depth gauge of the relay sink named `sink`.
    pub fn relay_queue_depth(&self, sink: &str) -> IntGauge {
        self.relay_queue_depth.with_label_values(&[sink])
    }

    /// Runs `hook` before every scrape, to copy state kept elsewhere.
    pub fn add_scrape_hook(&self, hook: impl Fn() + Send + Sync + 'static) {
        if let Ok(mut hooks) = self.scrape_hooks.lock() {
            hooks.push(Box::new(hook));
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        if let Ok(hooks) = self.scrape_hooks.lock() {
            for hook in hooks.iter() {
                hook();
            }
        }
        let mut out = Vec::with_capacity(16 * 1024);
        let families = self.registry.gather();
        if let Err(error) = TextEncoder::new().encode(&families, &mut out) {
            tracing::warn!(%error, "metrics encoding failed");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Mirrors a monotonically increasing total kept elsewhere into a counter.
#[derive(Debug, Default)]
pub struct CounterMirror {
    last: AtomicU64,
}

impl CounterMirror {
    /// Adds to `counter` whatever `total` grew by since the last call.
    pub fn sync(&self, counter: &IntCounter, total: u64) {
        let previous = self.last.swap(total, Ordering::Relaxed);
        if total > previous {
            counter.inc_by(total - previous);
        }
    }
}

#[cfg(test)]
mod tests;
