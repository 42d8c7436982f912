//! `sinkd-write-cost`: what the kernel charges a process for appending to
//! many files, by the size of each write.
//!
//! sinkd keeps one open segment per device and appends each device's
//! buffered lines with one `writev`. With 10,000 devices and a 32 MiB
//! buffer a write carries a few kilobytes; with 100 devices it carries
//! 64 KiB. This program measures that floor without sinkd: it opens
//! `--files` files under `--dir`, then appends `--total` MiB to them in
//! rounds (every file once per round, in a shuffled order) with writes of
//! each `--sizes` value, and prints the system CPU time per 100 MB and per
//! write. First it measures what a new device costs before its first
//! append: a directory and, in it, a segment file. See
//! docs/performance.md.

use anyhow::Context as _;
use clap::Parser;
use rand::seq::SliceRandom as _;
use rand::SeedableRng as _;
use sinkd_load::compare;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Measure the kernel's cost of appending to many files, by write size.
#[derive(Parser, Debug)]
#[command(name = "sinkd-write-cost", version, about)]
struct Args {
    /// A scratch directory on the filesystem to measure (emptied of what
    /// this program creates when it ends).
    #[arg(long)]
    dir: PathBuf,
    /// Files appended to, all open at once.
    #[arg(long, default_value_t = 10_000)]
    files: usize,
    /// Bytes per write, comma-separated; each size gets fresh files.
    #[arg(long, value_delimiter = ',', default_value = "2750,5500,11000,65536")]
    sizes: Vec<usize>,
    /// MiB written per size.
    #[arg(long, default_value_t = 200)]
    total: usize,
    /// Seed of the order in which files are written.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// User and system CPU seconds of this process so far.
fn cpu_seconds() -> (f64, f64) {
    // SAFETY: an all-zero rusage is a valid value for getrusage to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (seconds(usage.ru_utime), seconds(usage.ru_stime))
}

/// `name` under `--dir`, created empty (a leftover of an earlier run is
/// removed first).
fn empty_dir(args: &Args, name: &str) -> anyhow::Result<PathBuf> {
    let dir = args.dir.join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// System CPU time of creating `--files` device directories, then a
/// segment file in each, as sinkd does on a device's first line.
fn measure_creation(args: &Args) -> anyhow::Result<()> {
    let dir = empty_dir(args, "sinkd-write-cost-create")?;
    let devices: Vec<PathBuf> = (0..args.files)
        .map(|n| dir.join(format!("device-{n:05}.example.net")))
        .collect();
    let (_, before) = cpu_seconds();
    for device in &devices {
        std::fs::create_dir(device)
            .with_context(|| format!("cannot create {}", device.display()))?;
    }
    let (_, made_dirs) = cpu_seconds();
    let files = devices
        .iter()
        .map(|device| {
            let mut file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(device.join("00000000000000000001.log"))?;
            file.write_all(&[b'x'; 200])?;
            Ok(file)
        })
        .collect::<std::io::Result<Vec<File>>>()
        .context("cannot create the files (is the open-file limit high enough?)")?;
    let (_, made_files) = cpu_seconds();
    let per_device = |seconds: f64| seconds / devices.len() as f64 * 1e6;
    println!(
        "devices={} mkdir_system_us={:.1} create_and_first_write_system_us={:.1}",
        devices.len(),
        per_device(made_dirs - before),
        per_device(made_files - made_dirs),
    );
    drop(files);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn measure(args: &Args, size: usize) -> anyhow::Result<()> {
    let dir = empty_dir(args, &format!("sinkd-write-cost-{size}"))?;
    let mut files: Vec<File> = (0..args.files)
        .map(|n| {
            let path = dir.join(n.to_string());
            let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
            // Every file exists and has a partly filled last page, as an
            // active segment does.
            file.write_all(&[b'x'; 100])?;
            Ok(file)
        })
        .collect::<std::io::Result<_>>()
        .context("cannot create the files (is the open-file limit high enough?)")?;
    let block = vec![b'y'; size];
    let total = args.total * 1024 * 1024;
    let mut order: Vec<usize> = (0..files.len()).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let (user_before, system_before) = cpu_seconds();
    let mut written = 0;
    let mut writes = 0u64;
    'rounds: loop {
        order.shuffle(&mut rng);
        for &n in &order {
            if written >= total {
                break 'rounds;
            }
            files[n].write_all(&block)?;
            written += size;
            writes += 1;
        }
    }
    let (user_after, system_after) = cpu_seconds();
    let system = system_after - system_before;
    println!(
        "files={} size={size} writes={writes} system_s_per_100MB={:.3} system_us_per_write={:.2} user_s={:.3}",
        files.len(),
        system / written as f64 * 100e6,
        system / writes as f64 * 1e6,
        user_after - user_before,
    );
    drop(files);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.files == 0 || args.total == 0 || args.sizes.contains(&0) {
        eprintln!("sinkd-write-cost: --files, --total and every size must be above 0");
        return ExitCode::FAILURE;
    }
    compare::raise_open_file_limit();
    compare::sync_disk();
    if let Err(error) = measure_creation(&args) {
        eprintln!("sinkd-write-cost: {error:#}");
        return ExitCode::FAILURE;
    }
    for &size in &args.sizes {
        // Start each size with the previous one's output on disk.
        compare::sync_disk();
        if let Err(error) = measure(&args, size) {
            eprintln!("sinkd-write-cost: {error:#}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
