//! [`Routes`]: the sinks as the workers use them, built from a validated
//! configuration: compiled priority table, output format, where the output
//! goes, and the sink's pre-resolved counters.
//!
//! Relay sinks point at a running relay (`sinkd-relay`): building routes
//! asks the server's [`Relays`] for each relay sink's handle, which reuses
//! the running relay when its settings did not change, so a SIGHUP swaps
//! routes without dropping a relay's connection or queue.

use sinkd_config::{Config, ListenTransport, RelayOverflow, Sink, Target};
use sinkd_metrics::{Metrics, SinkCounters};
use sinkd_proto::format::OutputFormat;
use sinkd_relay::{
    Overflow, RelayConfig, RelayError, RelayHandle, RelayTransport, Relays, TlsClientFiles,
};
use sinkd_route::PriorityTable;
use sinkd_store::PathTemplate;

/// Why routes could not be built from a configuration.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// A relay sink's relay could not be started (spool, TLS files).
    #[error(transparent)]
    Relay(#[from] RelayError),
}

/// Where a routed message goes.
#[derive(Debug)]
pub(crate) enum Output {
    /// Per-device segment streams, named by expanding the template.
    File(PathTemplate),
    /// A relay: messages are formatted (unescaped) into a batch per worker
    /// batch and handed over without blocking.
    Relay(RelayHandle),
}

/// One sink as a worker sees it.
#[derive(Debug)]
pub(crate) struct RouteSink {
    pub(crate) table: PriorityTable,
    pub(crate) format: OutputFormat,
    pub(crate) output: Output,
    pub(crate) counters: SinkCounters,
}

/// Every sink, in configuration order (the order messages are offered in).
#[derive(Debug)]
pub struct Routes {
    pub(crate) sinks: Vec<RouteSink>,
}

impl Routes {
    /// Builds the routes of `config`, resolving each sink's counters and
    /// starting (or reusing, from `relays`) the relay of each relay sink.
    pub fn build(
        config: &Config,
        metrics: &Metrics,
        relays: &Relays,
    ) -> Result<Routes, RouteError> {
        let mut sinks = Vec::with_capacity(config.sinks.len());
        for sink in &config.sinks {
            let output = match &sink.target {
                Target::File(template) => Output::File(template.clone()),
                Target::Relay(_) => Output::Relay(relays.ensure(relay_config(config, sink))?),
            };
            sinks.push(RouteSink {
                table: sink.table,
                format: sink.format,
                output,
                counters: metrics.sink(&sink.name),
            });
        }
        Ok(Routes { sinks })
    }

    /// Number of sinks.
    pub fn len(&self) -> usize {
        self.sinks.len()
    }

    /// Whether there is no sink (every message is then only counted).
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Names of the relay sinks, for [`Relays::retain`] after a swap.
    pub fn relay_names(&self) -> Vec<&str> {
        self.sinks
            .iter()
            .filter_map(|sink| match &sink.output {
                Output::Relay(handle) => Some(handle.name()),
                Output::File(_) => None,
            })
            .collect()
    }
}

/// The relay settings of a relay sink.
fn relay_config(config: &Config, sink: &Sink) -> RelayConfig {
    let (transport, host, port) = match &sink.target {
        Target::Relay(target) => (
            match target.transport {
                ListenTransport::Tcp => RelayTransport::Tcp,
                ListenTransport::Tls => RelayTransport::Tls,
                ListenTransport::Udp => RelayTransport::Udp,
            },
            target.host.as_str(),
            target.port,
        ),
        // Only called for relay targets.
        Target::File(_) => (RelayTransport::Udp, "", 0),
    };
    let mut relay = RelayConfig::new(&sink.name, transport, host, port, &config.data_dir);
    if let Some(options) = &sink.relay {
        relay.framing = options.framing;
        relay.queue_memory = options.queue_memory;
        relay.queue_disk = options.queue_disk;
        relay.overflow = match options.overflow {
            RelayOverflow::DropOldest => Overflow::DropOldest,
            RelayOverflow::RefuseNew => Overflow::RefuseNew,
        };
        relay.send_timeout = options.send_timeout;
        relay.tls = options.tls.as_ref().map(|tls| TlsClientFiles {
            ca: tls.ca.clone(),
            client_cert: tls.client_cert.clone(),
            server_name: tls.server_name.clone().unwrap_or_else(|| host.to_owned()),
        });
    }
    relay
}
