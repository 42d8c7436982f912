//! SIGHUP: read the configuration again and apply it without dropping a
//! connection or a message — or, when any part of it fails, without
//! changing anything.
//!
//! A reload is built whole before it is committed. Building reads and
//! checks the file (TLS files included), prepares the relays (TLS material
//! read, spools of new relays opened, threads parked), builds the routes
//! against those relays, and prepares the listeners (sockets bound beside
//! the running ones, certificates read). Any error drops what was built —
//! prepared relays and bound sockets are released, datagrams that reached
//! new UDP sockets handed to the workers — and the running configuration
//! carries on untouched; `sinkd_config_reloads_total{result="error"}`
//! counts it. Only then are routes swapped (between two batches),
//! listeners started, updated or retired, and relays kept, restarted
//! behind the same handle, started or stopped. Settings that need a
//! restart (`data_dir`, `[storage]`, `workers`, `metrics`) are reported,
//! not applied.

use super::listeners::Listeners;
use super::ConfigSource;
use anyhow::Context as _;
use arc_swap::ArcSwap;
use sinkd_config::Config;
use sinkd_metrics::Metrics;
use sinkd_relay::{RelayPlan, Relays};
use sinkd_store::StoreConfig;
use sinkd_worker::Routes;
use std::sync::Arc;

/// Prepares the relays of `config` and builds its routes against them;
/// nothing running changes until the plan is committed.
pub(crate) fn prepare_routes<'r>(
    config: &Config,
    relays: &'r Relays,
    metrics: &Metrics,
) -> anyhow::Result<(RelayPlan<'r>, Routes)> {
    let plan = relays
        .prepare(config.relays().cloned().collect())
        .context("relays")?;
    let routes = Routes::build(&config.sinks, metrics, |relay| plan.handle(&relay.name))?;
    Ok((plan, routes))
}

pub(crate) fn reload(
    source: &ConfigSource,
    current: &mut Config,
    listeners: &mut Listeners,
    routes: &Arc<ArcSwap<Routes>>,
    relays: &Relays,
    metrics: &Arc<Metrics>,
) {
    match apply(source, current, listeners, routes, relays, metrics) {
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

fn apply(
    source: &ConfigSource,
    current: &mut Config,
    listeners: &mut Listeners,
    routes: &Arc<ArcSwap<Routes>>,
    relays: &Relays,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<()> {
    // Build. Preparing relays reads files, opens spools and may wait for
    // threads: blocking work, kept off the other tasks.
    let config = tokio::task::block_in_place(|| source.load())?;
    let (relay_plan, new_routes) =
        tokio::task::block_in_place(|| prepare_routes(&config, relays, metrics))?;
    let listener_plan = listeners.prepare(&config.listeners)?;
    // Commit: nothing from here on fails for what the file says.
    let storage_without_dir = |storage: &StoreConfig| StoreConfig {
        data_dir: Default::default(),
        ..storage.clone()
    };
    for (setting, changed) in [
        ("data_dir", config.data_dir() != current.data_dir()),
        (
            "[storage]",
            storage_without_dir(&config.storage) != storage_without_dir(&current.storage),
        ),
        ("workers", config.workers != current.workers),
        ("metrics", config.metrics != current.metrics),
    ] {
        if changed {
            tracing::warn!(setting, "changed, but takes effect only after a restart");
        }
    }
    routes.store(Arc::new(new_routes));
    let failed = listeners.commit(listener_plan);
    // Relays whose sinks are gone (no route points at them any more) write
    // their queues to their spools; changed ones restart behind the same
    // handle.
    tokio::task::block_in_place(|| relay_plan.commit());
    *current = config;
    for error in failed {
        tracing::error!(error = format!("{error:#}"), "listener not started");
    }
    Ok(())
}
