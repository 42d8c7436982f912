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
//! counts it. Only then are relays kept, restarted behind the same handle
//! or started, routes swapped (between two batches), listeners started,
//! updated or retired, and — once no worker holds the old routes — the
//! relays of removed sinks stopped. Settings that need a restart
//! (`data_dir`, `[storage]`, `workers`, `metrics`, `user`) are reported and keep
//! their running values.

use super::listeners::Listeners;
use super::ConfigSource;
use anyhow::Context as _;
use arc_swap::ArcSwap;
use sinkd_config::Config;
use sinkd_metrics::Metrics;
use sinkd_relay::{RelayPlan, Relays};
use sinkd_store::StoreConfig;
use sinkd_worker::{Routes, Target};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// The parts of a running sinkd that a reload changes.
pub(crate) struct Live<'a> {
    pub(crate) listeners: &'a mut Listeners,
    pub(crate) routes: &'a Arc<ArcSwap<Routes>>,
    pub(crate) relays: &'a Relays,
    pub(crate) metrics: &'a Arc<Metrics>,
}

/// Reloads from `source` over `current`, counting the outcome; whether the
/// new configuration was applied.
pub(crate) fn reload(source: &ConfigSource, current: &mut Config, mut live: Live<'_>) -> bool {
    let metrics = live.metrics;
    match apply(source, current, &mut live) {
        Ok(()) => {
            metrics.reloads.with_label_values(&["ok"]).inc();
            tracing::info!(
                sinks = current.sinks.len(),
                listeners = current.listeners.len(),
                "configuration reloaded"
            );
            true
        }
        Err(error) => {
            metrics.reloads.with_label_values(&["error"]).inc();
            tracing::error!(
                error = format!("{error:#}"),
                "configuration reload failed; keeping the running configuration"
            );
            false
        }
    }
}

fn apply(source: &ConfigSource, current: &mut Config, live: &mut Live<'_>) -> anyhow::Result<()> {
    let Live {
        listeners,
        routes,
        relays,
        metrics,
    } = live;
    // Build. Preparing relays reads files, opens spools and may wait for
    // threads: blocking work, kept off the other tasks.
    let mut config = tokio::task::block_in_place(|| source.load())?;
    keep_restart_settings(&mut config, current);
    let (relay_plan, new_routes) =
        tokio::task::block_in_place(|| prepare_routes(&config, relays, metrics))?;
    let listener_plan = listeners.prepare(&config.listeners)?;
    // Commit: nothing from here on fails for what the file says. New and
    // changed relays run before routes point at them; relays of removed
    // sinks stop only once no worker holds the old routes.
    let retired = tokio::task::block_in_place(|| relay_plan.commit());
    let old_routes = routes.swap(Arc::new(new_routes));
    sinkd_listen::set_input_budget(config.max_input_buffered);
    let failed = listeners.commit(listener_plan);
    tokio::task::block_in_place(|| {
        wait_unshared(&old_routes);
        retired.stop();
    });
    *current = config;
    // Only a receive thread the system refused gets here: the listener it
    // would have replaced runs on, and the reload is reported as failed.
    let mut failed = failed.into_iter();
    match failed.next() {
        None => Ok(()),
        Some(first) => {
            for error in failed {
                tracing::error!(error = format!("{error:#}"), "listener not started");
            }
            Err(first.context("applied, but a listener could not start"))
        }
    }
}

/// Settings that take effect only at the next start keep their running
/// values (a warning says which changed), so relays keep their spools under
/// the running `data_dir` and the next reload compares against what runs.
fn keep_restart_settings(config: &mut Config, current: &Config) {
    for (setting, changed) in [
        ("data_dir", config.data_dir() != current.data_dir()),
        (
            "[storage]",
            StoreConfig {
                data_dir: current.storage.data_dir.clone(),
                ..config.storage.clone()
            } != current.storage,
        ),
        ("workers", config.workers != current.workers),
        ("metrics / [http]", config.http != current.http),
        ("user", config.run_as != current.run_as),
    ] {
        if changed {
            tracing::warn!(setting, "changed, but takes effect only after a restart");
        }
    }
    config.storage = current.storage.clone();
    config.workers = current.workers;
    config.http = current.http.clone();
    config.run_as = current.run_as.clone();
    for sink in &mut config.sinks {
        if let Target::Relay(relay) = &mut sink.target {
            relay.spool_dir = sinkd_relay::spool_dir(current.data_dir(), &relay.name);
        }
    }
}

/// Longest wait for workers to finish the batches they routed with the
/// previous routes.
const OLD_ROUTES_GRACE: Duration = Duration::from_secs(5);

/// Waits until no worker holds `old` (each holds its routes for one batch),
/// at most [`OLD_ROUTES_GRACE`]: a worker blocked on a full store may hold
/// them longer, and what it then offers to a stopped relay is counted as
/// `relay_queue_full`.
fn wait_unshared(old: &Arc<Routes>) {
    let deadline = Instant::now() + OLD_ROUTES_GRACE;
    while Arc::strong_count(old) > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}
