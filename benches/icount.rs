//! `sinkd-icount`: a fixed, deterministic run of the message path for an
//! instruction counter. It builds the pieces the server wires together —
//! a store on a temporary directory, the routes of the embedded default
//! configuration (`messages` and `auth.log`, RFC 5424) and one worker —
//! and pushes a generated mix of device messages (the load generator's
//! pool: same seed, same bytes) through them: copied into `RawBatch`es as
//! a listener does, processed by the worker (parse, device key, priority
//! tables, formatting into the store's batch) and written by the store's
//! writer thread. No sockets, no clock reads in the input.
//!
//! Run natively it prints what it did; `benches/icount.sh` runs it under
//! `valgrind --tool=callgrind` and divides each stage's instructions by
//! the messages, a figure that does not move with the machine's load (as
//! rustls' ci-bench counts instructions). The stages are functions the
//! profile names: `RawBatch::push` (the copy into the batch),
//! `Worker::process` (parse, route, format, append to the store's batch),
//! within it `sinkd_proto::parse` and `write_escaped`, and the writer
//! thread's work: `handle_batch` (appending to stream buffers, and writing
//! those that fill) and `flush_dirty_older` (writing the rest, by age and
//! at shutdown). Waiting is left out on purpose: a thread that spins
//! before it sleeps counts a different number of instructions each run,
//! so the store's queue holds the whole run and the writer's idle loop is
//! not counted.

use anyhow::{ensure, Context, Result};
use arc_swap::ArcSwap;
use clap::Parser;
use sinkd_listen::RawBatch;
use sinkd_load::pool::{Pool, PoolOptions, SizeClass};
use sinkd_metrics::{Metrics, Transport};
use sinkd_store::{FsyncPolicy, Store, StoreConfig};
use sinkd_worker::{DeviceSet, Routes, Worker};
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "sinkd-icount",
    about = "A fixed run of sinkd's message path, for callgrind"
)]
struct Args {
    /// Messages to push through.
    #[arg(long, default_value_t = 100_000)]
    messages: u64,
    /// Distinct devices in the message mix.
    #[arg(long, default_value_t = 100)]
    devices: u32,
    /// Frames per RawBatch (a UDP receive batch is up to 64 datagrams, a
    /// TCP read a few hundred lines).
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Worker threads, each with batches of its own (run natively, the
    /// printed rate shows how the path scales from one worker to two).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Store writer threads. With more than one, a batch whose lines
    /// belong to several writers is split by `StoreWriter::submit` into
    /// parts sharing its arena, as on a server with many cores.
    #[arg(long, default_value_t = 1)]
    writers: usize,
    /// Data directory (default: a temporary directory, removed after).
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
}

/// The received time every batch carries: 2026-03-08T09:15:32Z, so the
/// message path does the same work on every run.
const RECEIVED_MICROS: i64 = 1_772_961_332_000_000;

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.batch > 0, "--batch must be at least 1");
    ensure!(args.writers > 0, "--writers must be at least 1");
    ensure!(args.workers > 0, "--workers must be at least 1");
    let temp = tempfile::tempdir().context("temporary data directory")?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());

    let config = sinkd_config::Config::default_config();
    let metrics = Metrics::new();
    let routes = Routes::build(&config.sinks, &metrics, |_| None)
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let store = Store::open(StoreConfig {
        fsync: FsyncPolicy::Never,
        writer_threads: args.writers,
        // Room for every batch of the run: the worker never waits for the
        // writer, so no spinning in a full queue enters the count.
        queue_batches: usize::try_from(args.messages.div_ceil(args.batch as u64))
            .unwrap_or(usize::MAX)
            .max(1),
        // Buffers are written when full, over the memory budget and at
        // shutdown, never by the clock: the same run writes the same way.
        flush_interval: std::time::Duration::from_secs(3600),
        quiet_flush: std::time::Duration::ZERO,
        ..StoreConfig::new(&data_dir)
    })
    .context("open the store")?;
    let routes = Arc::new(ArcSwap::from_pointee(routes));
    let devices = DeviceSet::new(Arc::clone(&metrics));

    let pool = Pool::generate(&PoolOptions {
        seed: 1,
        devices: args.devices,
        size: SizeClass::Small,
        entries: PoolOptions::entries_for(args.messages, args.devices, SizeClass::Small),
        base_time: jiff::Timestamp::from_microsecond(RECEIVED_MICROS - 60_000_000)
            .context("base time")?,
    });
    let peer: SocketAddr = "192.0.2.7:40000".parse().context("peer")?;
    let batches = args.messages.div_ceil(args.batch as u64);
    // Pool::max_len walks the whole pool: once, not per batch.
    let max_len = pool.max_len();
    let started = std::time::Instant::now();
    // Worker `k` takes batches k, k + workers, …: with one worker this is
    // the plain sequence; with more, each runs on its own thread as the
    // server's workers do.
    let sent: u64 = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..args.workers)
            .map(|k| {
                let mut worker = Worker::new(
                    Arc::clone(&routes),
                    store.writer(),
                    Arc::clone(&metrics),
                    Arc::clone(&devices),
                    jiff::tz::TimeZone::UTC,
                );
                let (pool, args) = (&pool, &args);
                scope.spawn(move || -> Result<u64> {
                    let mut message = Vec::with_capacity(max_len);
                    let mut sent = 0u64;
                    for b in (k as u64..batches).step_by(args.workers) {
                        let first = b * args.batch as u64;
                        let frames = (args.messages - first).min(args.batch as u64) as usize;
                        let mut batch = RawBatch::with_capacity(
                            Transport::Tcp,
                            RECEIVED_MICROS,
                            frames * max_len,
                            frames,
                        );
                        for i in first..first + frames as u64 {
                            message.clear();
                            pool.write_message(i, &mut message);
                            ensure!(batch.push(&message, peer), "a frame did not fit its batch");
                            sent += 1;
                        }
                        worker.process(&batch);
                    }
                    Ok(sent)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| thread.join().expect("a worker thread panicked"))
            .sum::<Result<u64>>()
    })?;
    store.shutdown().context("shut the store down")?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "sinkd-icount: {sent} messages from {} devices in batches of {}, {} worker(s), {} store writer(s): {seconds:.3} s, {:.0} messages/s",
        args.devices,
        args.batch,
        args.workers,
        args.writers,
        sent as f64 / seconds
    );
    Ok(())
}
