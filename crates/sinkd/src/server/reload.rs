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
use sinkd_worker::Routes;
use std::sync::Arc;

pub(crate) async fn reload(
    source: &ConfigSource,
    current: &mut Config,
    listeners: &mut Listeners,
    routes: &Arc<ArcSwap<Routes>>,
    metrics: &Arc<Metrics>,
) {
    let result = match source.load() {
        Ok(config) => apply(config, current, listeners, routes, metrics).await,
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
    metrics: &Arc<Metrics>,
) -> anyhow::Result<()> {
    let new_routes = Routes::build(&config, metrics)?;
    for (setting, changed) in [
        ("data_dir", config.data_dir != current.data_dir),
        ("[storage]", config.storage != current.storage),
        ("workers", config.workers != current.workers),
        ("metrics", config.metrics != current.metrics),
    ] {
        if changed {
            tracing::warn!(setting, "changed, but takes effect only after a restart");
        }
    }
    routes.store(Arc::new(new_routes));
    let listener_result = listeners.apply(&config.listeners).await;
    *current = config;
    listener_result
}
