//! sinkd's telemetry: every metric name and label lives here (sinkd-http
//! serves them on `/metrics`).
//!
//! Other crates never spell a metric name: they take a [`Metrics`] (shared in
//! an `Arc`) and increment the pre-resolved counters it hands out, choosing
//! labels from the [`Transport`], [`DropReason`] and [`ConnectionEvent`]
//! enums. Counters are bumped once per batch with `inc_by`, never once per
//! message with a label lookup. State kept elsewhere as plain atomics (the
//! store's statistics, the kernel's UDP drop count) is copied in by scrape
//! hooks that run just before each scrape. Names follow
//! `docs/specs/metrics.md`. Health checks registered here (the store's
//! pause) are what `/healthz` reports.

mod system;

pub use system::filesystem_bytes;

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
    /// RELP over TCP.
    Relp,
    /// RELP over TLS.
    RelpTls,
}

impl Transport {
    pub const ALL: [Transport; 5] = [
        Transport::Tcp,
        Transport::Tls,
        Transport::Udp,
        Transport::Relp,
        Transport::RelpTls,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Udp => "udp",
            Transport::Relp => "relp",
            Transport::RelpTls => "relp_tls",
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
    /// A UDP datagram from a source over the listener's `rate_limit`.
    RateLimited,
    /// A relay queue was full and its policy dropped a message: the disk
    /// spool reached `queue_disk` (the oldest spooled messages under
    /// `drop-oldest`, the new ones under `refuse-new`), or the hand-off from
    /// the workers found the relay's intake full or the relay stopped.
    RelayQueueFull,
    /// A UDP relay could not send a datagram (larger than a datagram can
    /// be, or refused by the local socket).
    RelaySendError,
    /// A relay's disk spool failed to write messages (disk full,
    /// permissions) or lost them to a failed write.
    RelaySpoolError,
    /// The store could not write the message (permissions, I/O error). A
    /// full disk is not a write error: the store pauses instead.
    WriteError,
    /// The store was paused for lack of space (a full disk, or free space
    /// under `min_free`): a UDP batch that found its worker queue full was
    /// dropped instead of waiting, and a shutdown that found the disk still
    /// full dropped what the store held.
    DiskFull,
}

impl DropReason {
    pub const ALL: [DropReason; 10] = [
        DropReason::DiskFull,
        DropReason::FrameInvalid,
        DropReason::FrameTooLarge,
        DropReason::NotAllowed,
        DropReason::QueueFull,
        DropReason::RateLimited,
        DropReason::RelayQueueFull,
        DropReason::RelaySendError,
        DropReason::RelaySpoolError,
        DropReason::WriteError,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::DiskFull => "disk_full",
            DropReason::FrameInvalid => "frame_invalid",
            DropReason::FrameTooLarge => "frame_too_large",
            DropReason::NotAllowed => "not_allowed",
            DropReason::QueueFull => "queue_full",
            DropReason::RateLimited => "rate_limited",
            DropReason::RelayQueueFull => "relay_queue_full",
            DropReason::RelaySendError => "relay_send_error",
            DropReason::RelaySpoolError => "relay_spool_error",
            DropReason::WriteError => "write_error",
        }
    }
}

/// Why a TCP or TLS connection was refused or ended, the `reason` label of
/// `sinkd_connections_closed_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionEvent {
    /// The peer sent a malformed frame header (an RFC 6587 octet count, a
    /// RELP frame, or a RELP DATALEN above `max_frame`).
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
    /// Evicted before it delivered a frame, to make room for a newer
    /// connection while every slot was taken.
    Evicted,
    /// It needed buffer for an incomplete frame while every connection's
    /// buffers together held `max_input_buffered`, and none came free.
    BufferBudget,
    /// Its source already had `max_connections_per_source` open.
    SourceLimit,
    /// A RELP session broke the protocol's order: a transaction number
    /// that is not the previous one plus 1, a command before `open`, an
    /// unknown command, an `open` without a usable version.
    ProtocolError,
    /// A RELP session whose messages could not all be stored (a relay's
    /// intake full, a write error): closed unacknowledged, so the sender
    /// sends them again.
    NotStored,
}

impl ConnectionEvent {
    pub const ALL: [ConnectionEvent; 13] = [
        ConnectionEvent::BufferBudget,
        ConnectionEvent::Evicted,
        ConnectionEvent::FrameError,
        ConnectionEvent::IdleTimeout,
        ConnectionEvent::IoError,
        ConnectionEvent::LimitReached,
        ConnectionEvent::NotAllowed,
        ConnectionEvent::NotStored,
        ConnectionEvent::PeerClosed,
        ConnectionEvent::ProtocolError,
        ConnectionEvent::Shutdown,
        ConnectionEvent::SourceLimit,
        ConnectionEvent::TlsHandshake,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            ConnectionEvent::BufferBudget => "buffer_budget",
            ConnectionEvent::Evicted => "evicted",
            ConnectionEvent::FrameError => "frame_error",
            ConnectionEvent::IdleTimeout => "idle_timeout",
            ConnectionEvent::IoError => "io_error",
            ConnectionEvent::LimitReached => "limit_reached",
            ConnectionEvent::NotAllowed => "not_allowed",
            ConnectionEvent::NotStored => "not_stored",
            ConnectionEvent::ProtocolError => "protocol_error",
            ConnectionEvent::PeerClosed => "peer_closed",
            ConnectionEvent::Shutdown => "shutdown",
            ConnectionEvent::SourceLimit => "source_limit",
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

/// The state of a relay's connection, the value of
/// `sinkd_relay_connection_state{sink}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelayConnectionState {
    /// Not connected: waiting out the reconnect backoff (or never tried).
    Down = 0,
    /// Resolving the name, connecting, or in the TLS handshake.
    Connecting = 1,
    /// Connected and sending.
    Up = 2,
}

/// Counters and gauges of one relay sink, resolved once when the relay
/// starts. `sinkd-relay` updates them per batch, never per message.
#[derive(Clone, Debug)]
pub struct RelayCounters {
    /// Messages waiting in memory: queued, or sent and not yet acknowledged.
    pub queue_depth: IntGauge,
    /// Messages in the disk spool not yet acknowledged by the target.
    pub queue_disk_messages: IntGauge,
    /// Bytes the disk spool occupies (segments and indexes).
    pub queue_disk_bytes: IntGauge,
    /// Messages the target acknowledged (TCP/TLS) or that were sent (UDP).
    pub messages_sent: IntCounter,
    /// Framed bytes of those messages.
    pub bytes_sent: IntCounter,
    /// Messages written again after a connection broke before the target
    /// acknowledged them: the upper bound of duplicates the target may see.
    pub messages_resent: IntCounter,
    /// Connections established.
    pub connects: IntCounter,
    /// Connection attempts that failed, and connections that broke.
    pub connect_errors: IntCounter,
    /// 0 down, 1 connecting, 2 up (see [`RelayConnectionState`]).
    pub connection_state: IntGauge,
    dropped: [IntCounter; 3],
}

impl RelayCounters {
    /// Reasons a relay counts in its own `sinkd_relay_dropped_total`.
    pub const DROP_REASONS: [DropReason; 3] = [
        DropReason::RelayQueueFull,
        DropReason::RelaySendError,
        DropReason::RelaySpoolError,
    ];

    /// The relay's own drop counter for `reason` (one of
    /// [`RelayCounters::DROP_REASONS`]; other reasons share the first).
    /// Callers also count the drop in `sinkd_messages_dropped_total`
    /// through [`Metrics::dropped`]; [`Metrics::relay_dropped`] does both.
    pub fn dropped(&self, reason: DropReason) -> &IntCounter {
        &self.dropped[RelayCounters::DROP_REASONS
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0)]
    }

    /// Sets the connection-state gauge.
    pub fn set_state(&self, state: RelayConnectionState) {
        self.connection_state.set(state as i64);
    }
}

type ScrapeHook = Box<dyn Fn() + Send + Sync>;

/// Every sinkd metric, registered in one registry.
pub struct Metrics {
    registry: Registry,
    received: [IntCounter; 5],
    dropped: [IntCounter; 10],
    connections_closed: [IntCounter; 13],
    connections: [IntGauge; 5],
    /// Messages that no grammar recognised, kept as `unparsed`.
    pub unparsed: IntCounter,
    /// Messages that matched no sink's priority (filtered, not lost).
    pub unrouted: IntCounter,
    /// Datagrams the kernel dropped before sinkd could read them.
    pub udp_kernel_drops: IntCounter,
    /// Distinct devices seen since start.
    pub devices: IntGauge,
    /// Sources that went over a listener's `rate_limit` in the last report
    /// interval.
    pub rate_limited_sources: IntGauge,
    /// Bytes held in TCP/TLS connections' read buffers (set at scrape time).
    pub input_buffered_bytes: IntGauge,
    /// When each recently seen device last sent, in Unix seconds; filled
    /// at scrape time through [`Metrics::set_devices_last_seen`].
    device_last_seen: IntGaugeVec,
    /// Free and total bytes of the filesystem under `data_dir`.
    data_dir_free_bytes: IntGauge,
    data_dir_size_bytes: IntGauge,
    process: system::ProcessMetrics,
    /// Seconds from receiving a message to its write into a segment file.
    pub receive_to_write_seconds: Histogram,
    sink_messages: IntCounterVec,
    sink_bytes: IntCounterVec,
    relay_queue_depth: IntGaugeVec,
    relay_queue_disk_messages: IntGaugeVec,
    relay_queue_disk_bytes: IntGaugeVec,
    relay_messages_sent: IntCounterVec,
    relay_bytes_sent: IntCounterVec,
    relay_messages_resent: IntCounterVec,
    relay_connects: IntCounterVec,
    relay_connect_errors: IntCounterVec,
    relay_connection_state: IntGaugeVec,
    relay_dropped: IntCounterVec,
    /// Counters and gauges mirrored from other crates' atomics at scrape time.
    pub store_lines_written: IntCounter,
    pub store_bytes_written: IntCounter,
    pub store_segments_rotated: IntCounter,
    pub store_segments_compressed: IntCounter,
    pub store_write_errors: IntCounter,
    pub store_open_streams: IntGauge,
    pub store_fsyncs: IntCounter,
    /// 1 while the store is paused for lack of space, else 0.
    pub store_paused: IntGauge,
    /// The free space under `data_dir` the store keeps (`min_free`, in
    /// bytes, as resolved for the filesystem's size).
    pub store_min_free_bytes: IntGauge,
    pub reloads: IntCounterVec,
    scrape_hooks: Mutex<Vec<ScrapeHook>>,
    health_checks: Mutex<Vec<HealthCheck>>,
}

type HealthCheck = Box<dyn Fn() -> Option<String> + Send + Sync>;

/// Registration of a metric can only fail on a duplicate name or an invalid
/// name, both fixed in this file and covered by the tests below.
pub(crate) fn registered<T: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: T,
) -> T {
    #[allow(clippy::expect_used)]
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names in sinkd-metrics are unique and valid");
    metric
}

pub(crate) fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    #[allow(clippy::expect_used)]
    let metric = IntCounter::new(name, help).expect("valid metric name");
    registered(registry, metric)
}

pub(crate) fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
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
            "TCP, TLS and RELP connections refused or ended, by reason.",
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
            "Time from receiving a message to its write to a segment file (per write, for its oldest line).",
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
            input_buffered_bytes: gauge(
                &registry,
                "sinkd_input_buffered_bytes",
                "Bytes held in TCP and TLS connections' read buffers (incomplete frames and reads in progress), bounded by max_input_buffered.",
            ),
            rate_limited_sources: gauge(
                &registry,
                "sinkd_rate_limited_sources",
                "Sources that went over a listener's rate_limit in the last report interval (10 s); the log names the top ones.",
            ),
            device_last_seen: gauge_vec(
                &registry,
                "sinkd_device_last_seen_seconds",
                "When a device last sent, in Unix seconds (only the most recently seen devices, a bounded number).",
                "device",
            ),
            data_dir_free_bytes: gauge(
                &registry,
                "sinkd_data_dir_free_bytes",
                "Bytes still available to sinkd on the filesystem holding data_dir.",
            ),
            data_dir_size_bytes: gauge(
                &registry,
                "sinkd_data_dir_size_bytes",
                "Total bytes of the filesystem holding data_dir.",
            ),
            process: system::ProcessMetrics::register(&registry),
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
            relay_queue_disk_messages: gauge_vec(
                &registry,
                "sinkd_relay_queue_disk_messages",
                "Messages in a relay sink's disk spool not yet acknowledged by its target.",
                "sink",
            ),
            relay_queue_disk_bytes: gauge_vec(
                &registry,
                "sinkd_relay_queue_disk_bytes",
                "Bytes a relay sink's disk spool occupies.",
                "sink",
            ),
            relay_messages_sent: counter_vec(
                &registry,
                "sinkd_relay_messages_sent_total",
                "Messages a relay's target acknowledged (TCP/TLS: its TCP stack) or that were sent (UDP).",
                "sink",
            ),
            relay_bytes_sent: counter_vec(
                &registry,
                "sinkd_relay_bytes_sent_total",
                "Framed bytes of the messages counted in sinkd_relay_messages_sent_total.",
                "sink",
            ),
            relay_messages_resent: counter_vec(
                &registry,
                "sinkd_relay_messages_resent_total",
                "Messages sent again after a relay connection broke before they were acknowledged (possible duplicates).",
                "sink",
            ),
            relay_connects: counter_vec(
                &registry,
                "sinkd_relay_connects_total",
                "Relay connections established.",
                "sink",
            ),
            relay_connect_errors: counter_vec(
                &registry,
                "sinkd_relay_connect_errors_total",
                "Relay connection attempts that failed and connections that broke.",
                "sink",
            ),
            relay_connection_state: gauge_vec(
                &registry,
                "sinkd_relay_connection_state",
                "Relay connection state: 0 down, 1 connecting, 2 up.",
                "sink",
            ),
            relay_dropped: {
                #[allow(clippy::expect_used)]
                let metric = IntCounterVec::new(
                    Opts::new(
                        "sinkd_relay_dropped_total",
                        "Messages a relay sink discarded, by reason (also in sinkd_messages_dropped_total).",
                    ),
                    &["sink", "reason"],
                )
                .expect("valid metric name");
                registered(&registry, metric)
            },
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
            store_paused: gauge(
                &registry,
                "sinkd_store_paused",
                "1 while the store cannot write for lack of space (disk full or free space under min_free): TCP/TLS input is not read, UDP is dropped as disk_full.",
            ),
            store_min_free_bytes: gauge(
                &registry,
                "sinkd_store_min_free_bytes",
                "Free bytes the store leaves on the filesystem holding data_dir (min_free); it pauses below.",
            ),
            reloads: {
                let reloads = counter_vec(
                    &registry,
                    "sinkd_config_reloads_total",
                    "Configuration reloads on SIGHUP, by result.",
                    "result",
                );
                // Both results start at 0, so the first failure is an
                // increase a rule can see.
                for result in ["ok", "error"] {
                    reloads.with_label_values(&[result]);
                }
                reloads
            },
            registry,
            scrape_hooks: Mutex::new(Vec::new()),
            health_checks: Mutex::new(Vec::new()),
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

    /// The counters and gauges of the relay sink named `sink`.
    pub fn relay(&self, sink: &str) -> RelayCounters {
        RelayCounters {
            queue_depth: self.relay_queue_depth.with_label_values(&[sink]),
            queue_disk_messages: self.relay_queue_disk_messages.with_label_values(&[sink]),
            queue_disk_bytes: self.relay_queue_disk_bytes.with_label_values(&[sink]),
            messages_sent: self.relay_messages_sent.with_label_values(&[sink]),
            bytes_sent: self.relay_bytes_sent.with_label_values(&[sink]),
            messages_resent: self.relay_messages_resent.with_label_values(&[sink]),
            connects: self.relay_connects.with_label_values(&[sink]),
            connect_errors: self.relay_connect_errors.with_label_values(&[sink]),
            connection_state: self.relay_connection_state.with_label_values(&[sink]),
            dropped: RelayCounters::DROP_REASONS.map(|reason| {
                self.relay_dropped
                    .with_label_values(&[sink, reason.label()])
            }),
        }
    }

    /// Counts `n` messages a relay dropped for `reason`, both in
    /// `sinkd_messages_dropped_total` and in the relay's own counter.
    pub fn relay_dropped(&self, relay: &RelayCounters, reason: DropReason, n: u64) {
        if n > 0 {
            self.dropped(reason).inc_by(n);
            relay.dropped(reason).inc_by(n);
        }
    }

    /// Replaces the `sinkd_device_last_seen_seconds` series with `devices`
    /// (device name, Unix seconds). The caller bounds their number.
    pub fn set_devices_last_seen<'a>(&self, devices: impl IntoIterator<Item = (&'a str, i64)>) {
        self.device_last_seen.reset();
        for (device, seconds) in devices {
            self.device_last_seen
                .with_label_values(&[device])
                .set(seconds);
        }
    }

    /// Runs `hook` before every scrape, to copy state kept elsewhere.
    pub fn add_scrape_hook(&self, hook: impl Fn() + Send + Sync + 'static) {
        if let Ok(mut hooks) = self.scrape_hooks.lock() {
            hooks.push(Box::new(hook));
        }
    }

    /// Adds a check to what `/healthz` asks: `check` returns why sinkd is
    /// not healthy, or `None` when it is.
    pub fn add_health_check(&self, check: impl Fn() -> Option<String> + Send + Sync + 'static) {
        if let Ok(mut checks) = self.health_checks.lock() {
            checks.push(Box::new(check));
        }
    }

    /// What every health check reports as wrong now; empty when healthy.
    pub fn health_problems(&self) -> Vec<String> {
        match self.health_checks.lock() {
            Ok(checks) => checks.iter().filter_map(|check| check()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        self.process.refresh();
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
