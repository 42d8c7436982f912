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
//! A sink's [`SinkFormat`] is one of the device's line formats, or — for a
//! Kafka sink only — the JSON object `sinkd show --json` prints
//! (`sinkd-read`'s `LineView`). A Kafka sink's messages are keyed records,
//! the device as key.
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

/// How a sink writes each message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkFormat {
    /// One of the device's line formats.
    Line(OutputFormat),
    /// The JSON object of `sinkd show --json` (Kafka sinks only).
    Json,
}

impl SinkFormat {
    /// The configuration keyword: `bsd`, `rfc3164`, `rfc5424` or `json`.
    pub fn name(self) -> &'static str {
        match self {
            SinkFormat::Line(format) => format.name(),
            SinkFormat::Json => "json",
        }
    }
}

/// Where a sink sends what it selects.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// `file PATH`: per-device segment streams under `data_dir`, named by
    /// expanding the template.
    File(PathTemplate),
    /// `udp|tcp|tls address HOST[:PORT]` or `kafka address HOST:PORT,...
    /// topic NAME`: a relay, with all its settings.
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
    pub format: SinkFormat,
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
    /// A sink other than a Kafka sink asked for JSON.
    #[error("sink {sink:?}: the json format is for kafka sinks only")]
    JsonNotKafka { sink: String },
}

/// Where a routed message goes, and in which format.
#[derive(Debug)]
pub(crate) enum Output {
    /// Per-device segment streams, named by expanding the template.
    File(PathTemplate, OutputFormat),
    /// A relay: messages are formatted (unescaped) into a batch per worker
    /// batch and handed over without blocking.
    Relay(RelayHandle, OutputFormat),
    /// A Kafka sink's relay: the same, each message a record keyed by its
    /// device.
    Kafka(RelayHandle, SinkFormat),
}

impl Output {
    /// The relay's handle, for relay and Kafka sinks.
    pub(crate) fn relay(&self) -> Option<&RelayHandle> {
        match self {
            Output::Relay(handle, _) | Output::Kafka(handle, _) => Some(handle),
            Output::File(..) => None,
        }
    }
}

/// One sink as a worker sees it.
#[derive(Debug)]
pub(crate) struct RouteSink {
    pub(crate) table: PriorityTable,
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
            let json_not_kafka = || RouteError::JsonNotKafka {
                sink: sink.name.clone(),
            };
            let output = match &sink.target {
                Target::File(template) => match sink.format {
                    SinkFormat::Line(format) => Output::File(template.clone(), format),
                    SinkFormat::Json => return Err(json_not_kafka()),
                },
                Target::Relay(config) => {
                    let handle = relay(config).ok_or_else(|| RouteError::NoRelay {
                        sink: sink.name.clone(),
                    })?;
                    match (&config.kafka, sink.format) {
                        (Some(_), format) => Output::Kafka(handle, format),
                        (None, SinkFormat::Line(format)) => Output::Relay(handle, format),
                        (None, SinkFormat::Json) => return Err(json_not_kafka()),
                    }
                }
            };
            routes.push(RouteSink {
                table: sink.table,
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
            .filter_map(|sink| sink.output.relay().map(RelayHandle::name))
            .collect()
    }
}
