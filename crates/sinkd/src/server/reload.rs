//! SIGHUP: read the configuration again and apply it without dropping a
//! connection or a message.
//!
//! A new configuration is validated whole before anything changes; an
//! invalid one is logged and the running configuration stays. Routes
//! (sinks, templates, priorities) are swapped atomically between two
//! batches; listeners are started, updated or retired (`listeners.rs`), and
//! TLS certificates re-read. Settings that need a restart (`data_dir`,
//! `[storage]`, `workers`, `metrics`) are reported, not applied.

use super::listeners::Listeners;
use super::ConfigSource;
use arc_swap::ArcSwap;
use sinkd_config::Config;
use sinkd_metrics::Metrics;
use sinkd_relay::Relays;
use sinkd_worker::Routes;
use std::sync::Arc;

pub(crate) async fn reload(
    source: &ConfigSource,
    current: &mut Config,
    listeners: &mut Listeners,
    routes: &Arc<ArcSwap<Routes>>,
    relays: &Relays,
    metrics: &Arc<Metrics>,
) {
    let result = match source.load() {
        Ok(config) => apply(config, current, listeners, routes, relays, metrics).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => {
            metrics.reloads.with_label_values(&["ok"]).inc();
            tracing::info!(
                sinks = current.sinks.len(),
                listeners = current.listeners.len(),
                "configuration reloaded"
            );
        }
        Err(error) => {
            metrics.reloads.with_label_values(&["error"]).inc();
            tracing::error!(
                error = format!("{error:#}"),
                "configuration reload failed; keeping the running configuration"
            );
        }
    }
}

async fn apply(
    config: Config,
    current: &mut Config,
    listeners: &mut Listeners,
    routes: &Arc<ArcSwap<Routes>>,
    relays: &Relays,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<()> {
    // Starting or restarting a relay opens its spool and may wait for the
    // old one to write its queue: blocking work, kept off the other tasks.
    let new_routes = tokio::task::block_in_place(|| {
        Routes::build(&config.sinks, metrics, |relay| relays.ensure(relay.clone()))
    })?;
    let relay_names: Vec<String> = new_routes
        .relay_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    for (setting, changed) in [
        ("data_dir", config.data_dir() != current.data_dir()),
        ("[storage]", config.storage != current.storage),
        ("workers", config.workers != current.workers),
        ("metrics", config.metrics != current.metrics),
    ] {
        if changed {
            tracing::warn!(setting, "changed, but takes effect only after a restart");
        }
    }
    routes.store(Arc::new(new_routes));
    // Relays whose sinks are gone write their queues to their spools.
    let keep: Vec<&str> = relay_names.iter().map(String::as_str).collect();
    tokio::task::block_in_place(|| relays.retain(&keep));
    let listener_result = listeners.apply(&config.listeners).await;
    *current = config;
    listener_result
}
