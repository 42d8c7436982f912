//! The sinks: [`SinkConfig`], what one `[[sink]]` table says once checked,
//! and [`Routes`], the sinks as the workers use them — compiled priority
//! table, output format, where the output goes, and the sink's
//! pre-resolved counters.
//!
//! This crate owns the sink settings, since routing is what a worker does:
//! `sinkd-config` reads each `[[sink]]` table straight into a
//! [`SinkConfig`], whose [`Target`] carries everything its kind needs (a
//! path template for a file sink, a whole [`RelayConfig`] for a relay).
//!
//! Relay sinks point at a relay (`sinkd-relay`): building routes asks the
//! caller for each relay sink's handle, which the server takes from a
//! prepared relay plan, so routes are built before anything running
//! changes and a SIGHUP swaps them without dropping a relay's connection
//! or queue.

use sinkd_metrics::{Metrics, SinkCounters};
use sinkd_proto::format::OutputFormat;
use sinkd_relay::{RelayConfig, RelayHandle};
use sinkd_route::PriorityTable;
use sinkd_store::PathTemplate;

/// Where a sink sends what it selects.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// `file PATH`: per-device segment streams under `data_dir`, named by
    /// expanding the template.
    File(PathTemplate),
    /// `udp|tcp|tls address HOST[:PORT]`: a relay, with all its settings.
    Relay(RelayConfig),
}

/// One sink: which messages it takes, how it writes them, where they go.
#[derive(Clone, Debug, PartialEq)]
pub struct SinkConfig {
    /// Metric label and log name: `name`, or `sink-N` by position, like
    /// the device.
    pub name: String,
    pub target: Target,
    /// The target as written (whitespace folded), for display.
    pub target_text: String,
    /// The priority as written; `table` is what it compiled to.
    pub priority_text: String,
    pub table: PriorityTable,
    pub format: OutputFormat,
}

impl SinkConfig {
    /// The relay settings, for a relay sink.
    pub fn relay(&self) -> Option<&RelayConfig> {
        match &self.target {
            Target::Relay(relay) => Some(relay),
            Target::File(_) => None,
        }
    }
}

/// Why routes could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// No relay was prepared for a relay sink.
    #[error("sink {sink:?}: no relay was prepared for it")]
    NoRelay { sink: String },
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
    /// Builds the routes of `sinks`, resolving each sink's counters and
    /// taking each relay sink's handle from `relay` (the relay prepared for
    /// it).
    pub fn build(
        sinks: &[SinkConfig],
        metrics: &Metrics,
        relay: impl Fn(&RelayConfig) -> Option<RelayHandle>,
    ) -> Result<Routes, RouteError> {
        let mut routes = Vec::with_capacity(sinks.len());
        for sink in sinks {
            let output = match &sink.target {
                Target::File(template) => Output::File(template.clone()),
                Target::Relay(config) => {
                    Output::Relay(relay(config).ok_or_else(|| RouteError::NoRelay {
                        sink: sink.name.clone(),
                    })?)
                }
            };
            routes.push(RouteSink {
                table: sink.table,
                format: sink.format,
                output,
                counters: metrics.sink(&sink.name),
            });
        }
        Ok(Routes { sinks: routes })
    }

    /// Number of sinks.
    pub fn len(&self) -> usize {
        self.sinks.len()
    }

    /// Whether there is no sink (every message is then only counted).
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Names of the relay sinks.
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
