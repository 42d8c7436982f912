//! `sinkd` without a subcommand: the running collector.
//!
//! This module only wires the crates together (the message path in
//! docs/ARCHITECTURE.md): it loads the
//! configuration, opens the store, starts the worker threads and the
//! listeners, serves metrics, and handles signals. SIGHUP reloads the
//! configuration in place (`reload.rs`); SIGTERM and SIGINT run the drain
//! sequence in `shutdown` below, in the order that guarantees nothing
//! accepted is lost: listeners stop and hand over what they decoded → the
//! worker queues close → workers finish every queued batch → relays take
//! what the workers handed them and write their memory queues to their disk
//! spools → the store flushes and fsyncs every file. Relays start when the
//! routes are first built (`Routes::build` asks the [`Relays`] set) and
//! survive SIGHUP route swaps.
//!
//! Under systemd (`Type=notify`) the loop reports its state through
//! `notify.rs`: ready once every listener serves, reloading around SIGHUP,
//! stopping on SIGTERM, and a watchdog ping from the loop itself. Started
//! as root with a `user` set, sinkd switches to that user (`privilege.rs`)
//! after the store is open and every listener bound, before any listener
//! reads.

mod listeners;
mod notify;
mod privilege;
mod reload;

use crate::clock::Clock;
use anyhow::Context as _;
use arc_swap::ArcSwap;
use listeners::Listeners;
use notify::Notifier;
use privilege::Switch;
use sinkd_config::{Config, RunAs};
use sinkd_http::{DeviceActivity, HttpServer, Reading};
use sinkd_listen::WorkerQueues;
use sinkd_metrics::{CounterMirror, DropReason, Metrics};
use sinkd_relay::{RelayPlan, Relays};
use sinkd_store::{Store, WriteObserver};
use sinkd_worker::{DeviceSet, Routes, Worker};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// Where the configuration came from, so SIGHUP can read it again.
#[derive(Clone, Debug)]
pub(crate) enum ConfigSource {
    Embedded,
    File(PathBuf),
}

impl ConfigSource {
    /// Reads and validates the configuration whole, the TLS files it names
    /// included.
    pub(crate) fn load(&self) -> anyhow::Result<Config> {
        let config = match self {
            ConfigSource::Embedded => Config::default_config(),
            ConfigSource::File(path) => Config::from_file(path)
                .with_context(|| format!("configuration {}", path.display()))?,
        };
        config.check_files()?;
        Ok(config)
    }
}

/// Copies the store's statistics and pause state into the metrics at
/// every scrape, and makes `/healthz` report a pause with its reason.
fn mirror_store_stats(metrics: &Arc<Metrics>, store: &Store) {
    let stats = store.stats();
    let health = store.health();
    let checked = store.health();
    metrics.add_health_check(move || {
        let reason = checked.pause_reason()?;
        let secs = checked.paused_for().map_or(0, |paused| paused.as_secs());
        Some(format!("store paused for {secs} s, cannot write: {reason}"))
    });
    let target = Arc::clone(metrics);
    let mirrors: [CounterMirror; 8] = Default::default();
    metrics.add_scrape_hook(move || {
        let snapshot = stats.snapshot();
        mirrors[0].sync(&target.store_lines_written, snapshot.lines_written);
        mirrors[1].sync(&target.store_bytes_written, snapshot.bytes_written);
        mirrors[2].sync(&target.store_segments_rotated, snapshot.segments_rotated);
        mirrors[3].sync(
            &target.store_segments_compressed,
            snapshot.segments_compressed,
        );
        mirrors[4].sync(&target.store_write_errors, snapshot.write_errors);
        mirrors[5].sync(&target.store_fsyncs, snapshot.fsyncs);
        mirrors[6].sync(
            target.dropped(DropReason::WriteError),
            snapshot.lines_dropped,
        );
        mirrors[7].sync(
            target.dropped(DropReason::DiskFull),
            snapshot.lines_dropped_disk_full,
        );
        target.store_open_streams.set(snapshot.open_streams as i64);
        target.store_paused.set(i64::from(health.is_paused()));
        target
            .store_min_free_bytes
            .set(i64::try_from(health.min_free_bytes()).unwrap_or(i64::MAX));
    });
}

/// The next tick of `interval`, or never when there is none.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Lets sinkd hold as many files open as the hard limit allows (the store
/// caches segment files and every TCP connection is a descriptor). The
/// store sizes its descriptor cache from the limit in force.
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            // On failure the soft limit stays as it was.
            libc::setrlimit(libc::RLIMIT_NOFILE, &raised);
        }
    }
}

/// Runs the collector until SIGTERM or SIGINT. `user` (from `--user`)
/// overrides the configuration's `user` and `group`.
pub(crate) fn run(source: ConfigSource, user: Option<RunAs>) -> anyhow::Result<ExitCode> {
    let config = source.load()?;
    let switch = Switch::plan(user.as_ref().or(config.run_as.as_ref()))?;
    raise_open_file_limit();
    let n_workers = config.workers.resolved_threads();
    let metrics = Metrics::new();
    let data_dir = config.data_dir();
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data_dir {}", data_dir.display()))?;
    metrics.watch_data_dir(data_dir.to_path_buf());
    let mut store_settings = config.storage.resolved(n_workers);
    if store_settings.max_open_files < config.storage.max_open_files {
        tracing::warn!(
            configured = config.storage.max_open_files,
            used = store_settings.max_open_files,
            "max_open_files is more than the descriptor limit leaves after connections; \
             lowered (raise LimitNOFILE / ulimit -n to keep more files open)"
        );
    }
    // Lines are stamped with their receive time (worker.rs), so the store's
    // write observer measures receive-to-written latency.
    let latency = metrics.receive_to_write_seconds.clone();
    store_settings.on_write = Some(WriteObserver(Arc::new(move |waited| {
        latency.observe(waited.as_secs_f64());
    })));
    let store = Store::open(store_settings)
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    mirror_store_stats(&metrics, &store);
    sinkd_listen::set_input_budget(config.max_input_buffered);
    let buffered = Arc::clone(&metrics);
    metrics.add_scrape_hook(move || {
        let held = i64::try_from(sinkd_listen::input_buffered()).unwrap_or(i64::MAX);
        buffered.input_buffered_bytes.set(held);
    });
    let relays = Arc::new(Relays::new(Arc::clone(&metrics)));
    // The relays start in `serve`, after the switch to `user` (if any),
    // so none of them connects or writes its spool as root; the routes hold
    // their handles already.
    let (relay_plan, first_routes) = reload::prepare_routes(&config, &relays, &metrics)?;
    let routes = Arc::new(ArcSwap::from_pointee(first_routes));
    let devices = DeviceSet::new(Arc::clone(&metrics));
    let (queues, receivers) = WorkerQueues::bounded(n_workers, config.workers.queue_batches);
    // While the store is paused for lack of space, UDP drops (disk_full)
    // what finds the queues full instead of waiting.
    let queues = queues.with_store_paused(store.health().paused_flag());
    let zone = Clock::system().zone().clone();
    let mut worker_threads = Vec::with_capacity(n_workers);
    for (index, receiver) in receivers.into_iter().enumerate() {
        let worker = Worker::new(
            Arc::clone(&routes),
            store.writer(),
            Arc::clone(&metrics),
            Arc::clone(&devices),
            zone.clone(),
        );
        let thread = std::thread::Builder::new()
            .name(format!("sinkd-worker-{index}"))
            .spawn(move || worker.run(receiver))
            .context("cannot start a worker thread")?;
        worker_threads.push(thread);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(n_workers)
        .thread_name("sinkd-io")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = runtime.block_on(serve(
        source,
        config,
        BeforeReading {
            switch,
            relay_plan,
            stop_store: Box::new(store.shutdown_trigger()),
        },
        queues,
        (Arc::clone(&metrics), Arc::clone(&devices)),
        routes,
        Arc::clone(&relays),
    ));
    // Every sender of the worker queues is gone once `serve` returns: the
    // workers drain what is queued and stop. A store paused for lack of
    // space would hold them forever; told that the end is near, it gives
    // the disk a few seconds more, then drops (counted) what it cannot
    // write.
    store.begin_shutdown();
    for thread in worker_threads {
        if thread.join().is_err() {
            tracing::error!("a worker thread panicked");
        }
    }
    // The workers are done: every relay takes what they handed over and
    // writes its memory queue to its spool before the store stops.
    for error in relays.shutdown() {
        tracing::error!(%error, "relay shutdown failed");
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    store.shutdown().context("store shutdown")?;
    let received: u64 = sinkd_metrics::Transport::ALL
        .iter()
        .map(|t| metrics.received(*t).get())
        .sum();
    tracing::info!(
        received,
        devices = devices.len(),
        unparsed = metrics.unparsed.get(),
        "sinkd stopped; every accepted message was handed to the store"
    );
    outcome.map(|()| ExitCode::SUCCESS)
}

/// What the workers keep of the devices they saw, for the console.
fn device_activity(devices: &DeviceSet, clock: &Clock) -> Vec<DeviceActivity> {
    let now = clock.now().local.unix_micros().div_euclid(1_000_000);
    let mut found = Vec::with_capacity(devices.recent_len());
    devices.activity(now, |seen| {
        found.push(DeviceActivity {
            name: seen.name.to_owned(),
            last_seen: i64::from(seen.last_seen),
            per_minute: seen.per_minute,
            severities: *seen.severities,
        });
    });
    found
}

/// The async part: listeners, metrics endpoint, signals, and telling
/// systemd about each.
/// What happens between binding every socket and reading from any: the
/// switch to `user` (if any), then the relays' start (as that user).
struct BeforeReading<'r> {
    switch: Option<Switch>,
    relay_plan: RelayPlan<'r>,
    /// Tells the store the end is near (see `Store::begin_shutdown`).
    stop_store: Box<dyn Fn() + Send + Sync>,
}

async fn serve(
    source: ConfigSource,
    config: Config,
    before_reading: BeforeReading<'_>,
    queues: WorkerQueues,
    (metrics, devices): (Arc<Metrics>, Arc<DeviceSet>),
    routes: Arc<ArcSwap<Routes>>,
    relays: Arc<Relays>,
) -> anyhow::Result<()> {
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let notifier = Notifier::from_env();
    let mut listeners = Listeners::new(queues, Arc::clone(&metrics), shutdown_rx.clone());
    // Every socket is bound (as root, when switching) before anything
    // reads from one; the switch comes in between.
    let plan = listeners.prepare(&config.listeners)?;
    let http_server = match &config.http {
        Some(http) => match HttpServer::bind(http).await {
            Ok(server) => Some(server),
            Err(error) => {
                listeners.abandon(plan);
                return Err(error).context("cannot serve http");
            }
        },
        None => None,
    };
    let BeforeReading {
        switch,
        relay_plan,
        stop_store,
    } = before_reading;
    if let Some(switch) = &switch {
        let switched = tokio::task::block_in_place(|| switch.apply(config.data_dir()));
        if let Err(error) = switched {
            listeners.abandon(plan);
            return Err(error);
        }
    }
    // Nothing runs yet, so nothing is retired.
    drop(tokio::task::block_in_place(|| relay_plan.commit()));
    if let Some(error) = listeners.commit(plan).into_iter().next() {
        listeners.shutdown().await;
        return Err(error);
    }
    let http_task = http_server.map(|server| {
        tracing::info!(
            address = ?server.local_addr().ok(),
            "http: /metrics, /healthz and the read API /api/v1/"
        );
        let clock = Arc::new(Clock::system());
        let now = Arc::clone(&clock);
        let reading = Reading {
            data_dir: config.data_dir().to_owned(),
            zone: clock.zone().clone(),
            now: Arc::new(move || now.now()),
            activity: Arc::new(move || device_activity(&devices, &clock)),
        };
        tokio::spawn(server.run(Arc::clone(&metrics), reading, shutdown_rx.clone()))
    });
    tracing::info!(
        data_dir = %config.data_dir().display(),
        sinks = config.sinks.len(),
        "sinkd ready"
    );
    notifier.ready("serving");
    // The watchdog ticks in this loop, so a ping proves the loop runs; with
    // no WATCHDOG_USEC the timer never fires.
    let mut watchdog = notify::watchdog_interval().map(tokio::time::interval);
    let mut current = config;
    loop {
        tokio::select! {
            _ = hangup.recv() => {
                notifier.reloading();
                let live = reload::Live {
                    listeners: &mut listeners,
                    routes: &routes,
                    relays: &relays,
                    metrics: &metrics,
                };
                let applied = reload::reload(&source, &mut current, live);
                notifier.ready(if applied {
                    "serving; configuration reloaded"
                } else {
                    "serving; configuration reload failed, see the log"
                });
            }
            _ = tick(&mut watchdog) => notifier.watchdog(),
            _ = terminate.recv() => {
                tracing::info!("SIGTERM: draining");
                break;
            }
            _ = interrupt.recv() => {
                tracing::info!("SIGINT: draining");
                break;
            }
        }
    }
    notifier.stopping();
    let _ = shutdown_tx.send(true);
    // A store paused for lack of space holds the workers, the workers the
    // queues and the queues the connections draining: told now, it gives
    // the disk a few seconds more, then lets go (counted).
    stop_store();
    listeners.shutdown().await;
    if let Some(task) = http_task {
        let _ = task.await;
    }
    Ok(())
}
