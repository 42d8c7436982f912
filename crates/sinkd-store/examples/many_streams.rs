//! Throughput of the store as the number of devices grows.
//!
//! Writes the same number of lines round-robin over 100 and over 10,000
//! streams (the worst case for locality: every batch of 1,024 lines touches
//! up to 1,024 streams) and reports lines per second, twice per run: "cold"
//! includes creating every stream's directory and first segment, "warm"
//! writes to streams that already exist. Run it in release mode:
//!
//! ```text
//! cargo run --release -p sinkd-store --example many_streams -- \
//!     [--dir PATH] [--lines N] [--streams 100,10000] [--writers N] [--open-files N] [--keep]
//! ```
//!
//! `--dir` decides the filesystem measured (the default is a fresh
//! temporary directory); each run uses a new subdirectory and removes it,
//! unless `--keep` is given. Keep the data when comparing builds on ext4:
//! for about 30 s after a large delete the inode allocator checks recently
//! freed inodes one by one (`recently_deleted`), which slows the next run's
//! stream creation by more than most differences being measured.

use sinkd_store::{Store, StoreConfig};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

struct Args {
    dir: Option<PathBuf>,
    lines: u64,
    streams: Vec<usize>,
    writers: usize,
    open_files: usize,
    keep: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        dir: None,
        lines: 1_000_000,
        streams: vec![100, 10_000],
        writers: 2,
        open_files: 1024,
        keep: false,
    };
    let mut raw = std::env::args().skip(1);
    while let Some(flag) = raw.next() {
        if flag == "--keep" {
            args.keep = true;
            continue;
        }
        let value = raw.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |value: &str| {
            value
                .parse::<u64>()
                .map_err(|error| format!("{flag}: {error}"))
        };
        match flag.as_str() {
            "--dir" => args.dir = Some(PathBuf::from(value)),
            "--lines" => args.lines = number(&value)?,
            "--writers" => args.writers = number(&value)? as usize,
            "--open-files" => args.open_files = number(&value)? as usize,
            "--streams" => {
                args.streams = value
                    .split(',')
                    .map(|part| number(part).map(|n| n as usize))
                    .collect::<Result<_, _>>()?
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

/// Submits `lines` lines round-robin over `names`, then waits until all
/// are written. Returns the elapsed time.
fn write_phase(store: &Store, names: &[String], lines: u64, phase: u64) -> Duration {
    let writer = store.writer();
    let started = Instant::now();
    let mut batch = writer.batch();
    for i in 0..lines {
        let name = &names[(i % names.len() as u64) as usize];
        let timestamp = 1_700_000_000_000_000 + i as i64;
        batch.push_with(name, timestamp, |arena| {
            // About 120 bytes, like a typical RFC 3164 line.
            let _ = write!(
                arena,
                "<134>Nov 14 22:13:20 {name} app[4242]: phase {phase} message {i} interface ge-0/0/1 changed state to up"
            );
        });
        if batch.len() == 1024 {
            let full = std::mem::replace(&mut batch, writer.batch());
            if writer.submit(full).is_err() {
                break;
            }
        }
    }
    if !batch.is_empty() {
        let _ = writer.submit(batch);
    }
    if let Err(error) = store.sync() {
        eprintln!("sync failed: {error}");
    }
    started.elapsed()
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("many_streams: {message}");
            std::process::exit(2);
        }
    };
    let base = match &args.dir {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    };
    let mut base = match base {
        Ok(base) => base,
        Err(error) => {
            eprintln!("many_streams: cannot create a directory: {error}");
            std::process::exit(1);
        }
    };
    base.disable_cleanup(args.keep);
    println!(
        "{} lines per phase, {} writer threads, max_open_files {}, in {}",
        args.lines,
        args.writers,
        args.open_files,
        base.path().display()
    );
    println!("streams  phase  seconds  lines/s     MB/s   errors  peak RSS MiB");
    for &streams in &args.streams {
        let data_dir = base.path().join(format!("run-{streams}"));
        let config = StoreConfig {
            writer_threads: args.writers,
            max_open_files: args.open_files,
            ..StoreConfig::new(&data_dir)
        };
        let store = match Store::open(config) {
            Ok(store) => store,
            Err(error) => {
                eprintln!("many_streams: {error}");
                std::process::exit(1);
            }
        };
        let names: Vec<String> = (0..streams)
            .map(|n| format!("dev{n:05}/messages"))
            .collect();
        let stats = store.stats();
        for (phase, label) in [(0, "cold"), (1, "warm")] {
            let before = stats.snapshot();
            let elapsed = write_phase(&store, &names, args.lines, phase);
            let after = stats.snapshot();
            let seconds = elapsed.as_secs_f64();
            let lines = after.lines_written - before.lines_written;
            let bytes = after.bytes_written - before.bytes_written;
            println!(
                "{streams:>7}  {label:>5}  {seconds:>7.3}  {:>9.0}  {:>7.1}  {:>6}  {:>12}",
                lines as f64 / seconds,
                bytes as f64 / seconds / 1e6,
                after.write_errors + after.lines_dropped,
                peak_rss_kib().map_or(0, |kib| kib / 1024),
            );
        }
        if let Err(error) = store.shutdown() {
            eprintln!("shutdown failed: {error}");
        }
        if !args.keep {
            let _ = std::fs::remove_dir_all(&data_dir);
        }
    }
    if args.keep {
        println!("kept {}", base.path().display());
    }
}
