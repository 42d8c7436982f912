//! [`Routes`]: the sinks as the workers use them, built from a validated
//! configuration: compiled priority table, output format, where the output
//! goes, and the sink's pre-resolved counters.

use sinkd_config::{Config, Target};
use sinkd_metrics::{Metrics, SinkCounters};
use sinkd_proto::format::OutputFormat;
use sinkd_route::PriorityTable;
use sinkd_store::PathTemplate;

/// Why routes could not be built from a configuration.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("sink {sink:?}: relay targets ({target}) are not supported by this build; only `file PATH` sinks are")]
    RelayUnsupported { sink: String, target: String },
}

/// Where a routed message goes.
#[derive(Debug)]
pub(crate) enum Output {
    /// Per-device segment streams, named by expanding the template.
    File(PathTemplate),
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
    /// Builds the routes of `config`, resolving each sink's counters.
    pub fn build(config: &Config, metrics: &Metrics) -> Result<Routes, RouteError> {
        let mut sinks = Vec::with_capacity(config.sinks.len());
        for sink in &config.sinks {
            let output = match &sink.target {
                Target::File(template) => Output::File(template.clone()),
                Target::Relay(_) => {
                    return Err(RouteError::RelayUnsupported {
                        sink: sink.name.clone(),
                        target: sink.target_text.clone(),
                    })
                }
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
}
