//! `sinkd-compare`: runs the peer scenarios — sinkd, rsyslog and syslog-ng
//! driven by the same `sinkd-load` runs on loopback — and prints the
//! comparison as Markdown (and, with `--json`, every measurement).
//!
//! With `--smoke` it runs 2,000 messages per transport and fails when a
//! server did not write exactly the expected lines over TCP or TLS (UDP
//! loss is reported, not failed on); CI runs it through the load-tests
//! integration test. The machinery is in the library's `compare` module;
//! this file reads flags, optionally installs the peers with
//! `load-tests/install-peers.sh`, and prints.

use anyhow::Context as _;
use clap::Parser;
use sinkd_load::compare::servers::{Programs, ServerKind, Wire};
use sinkd_load::compare::{self, report, CompareOptions, Matrix};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Compare sinkd with rsyslog and syslog-ng on this machine (loopback only).
#[derive(Parser, Debug)]
#[command(name = "sinkd-compare", version, about)]
struct Args {
    /// Small runs (2,000 messages per transport) that check exact delivery
    /// over TCP and TLS; never judges speed.
    #[arg(long)]
    smoke: bool,
    /// Scenario set: `transports` (every wire, 1,000 devices) or `full`
    /// (also 100 and 10,000 devices, 50 connections, ~2 KiB messages, and
    /// 100 to 100,000 devices whose files exist).
    #[arg(long, default_value = "full")]
    matrix: String,
    /// Servers to run, comma-separated.
    #[arg(long, default_value = "sinkd,rsyslog,syslog-ng", value_delimiter = ',')]
    servers: Vec<String>,
    /// Only these wires (udp, tcp-lf, tcp-octet-counting, tls).
    #[arg(long, value_delimiter = ',')]
    wires: Vec<String>,
    /// Only these scenario groups (transports, udp-paced, devices,
    /// connections, size, devices-warm).
    #[arg(long, value_delimiter = ',')]
    groups: Vec<String>,
    /// Messages per run at most.
    #[arg(long, default_value_t = 1_000_000)]
    count: u64,
    /// Seconds of sending per run at most.
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// Seed of the message mix (the same for every server).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The sinkd binary (default: next to this program).
    #[arg(long)]
    sinkd: Option<PathBuf>,
    /// The sinkd-load binary (default: next to this program).
    #[arg(long)]
    load: Option<PathBuf>,
    #[arg(long, default_value = "/usr/sbin/rsyslogd")]
    rsyslogd: PathBuf,
    /// Where syslog-ng-core is unpacked (default: $SINKD_SYSLOG_NG_ROOT or
    /// /opt/sinkd-peers/syslog-ng).
    #[arg(long)]
    syslog_ng_root: Option<PathBuf>,
    /// Run directories go here.
    #[arg(long, default_value = "/tmp/sinkd-compare")]
    work_dir: PathBuf,
    /// Do not pin the generator and the server to separate CPUs.
    #[arg(long)]
    no_pin: bool,
    /// sinkd's `workers` setting (0: one per CPU sinkd may use, its
    /// default). With `--no-pin`, `1` against `2` shows how sinkd scales.
    #[arg(long, default_value_t = 0)]
    sinkd_workers: usize,
    /// Seconds the output must stay unchanged after the load to count as
    /// written.
    #[arg(long, default_value_t = 2.5)]
    quiet_period: f64,
    /// Install missing peers first (runs load-tests/install-peers.sh).
    #[arg(long)]
    install: bool,
    /// Keep each run's directory (configs, logs, output).
    #[arg(long)]
    keep: bool,
    /// Also write every measurement as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Run nothing: print the Markdown report of a JSON file written by
    /// an earlier `--json`.
    #[arg(long, value_name = "FILE")]
    render: Option<PathBuf>,
}

fn rustc_version() -> String {
    std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.render {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let results: Vec<compare::RunResult> = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a sinkd-compare --json file", path.display()))?;
        print!("{}", report::markdown(&results));
        return Ok(ExitCode::SUCCESS);
    }
    let mut programs = Programs::defaults();
    if let Some(sinkd) = &args.sinkd {
        programs.sinkd = sinkd.clone();
    }
    programs.rsyslogd = args.rsyslogd.clone();
    if let Some(root) = &args.syslog_ng_root {
        programs.syslog_ng_root = root.clone();
    }
    let servers = args
        .servers
        .iter()
        .map(|name| {
            ServerKind::parse(name.trim()).with_context(|| {
                format!("unknown server {name:?}: expected sinkd, rsyslog or syslog-ng")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let wires = args
        .wires
        .iter()
        .map(|name| {
            Wire::parse(name.trim()).with_context(|| {
                format!("unknown wire {name:?}: expected udp, tcp-lf, tcp-octet-counting or tls")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if args.install && servers.iter().any(|k| programs.check(*k).is_err()) {
        let script = compare::install_script();
        eprintln!("installing peers with {}", script.display());
        let status = std::process::Command::new("bash")
            .arg(script)
            .status()
            .context("cannot run the install script")?;
        if !status.success() {
            anyhow::bail!("{} failed ({status})", script.display());
        }
    }
    if !(args.duration.is_finite() && args.duration > 0.0 && args.duration <= 3600.0) {
        anyhow::bail!("--duration must be between 0 and 3600 seconds");
    }
    let matrix = if args.smoke {
        Matrix::Smoke
    } else {
        match args.matrix.as_str() {
            "full" => Matrix::Full,
            "transports" => Matrix::Transports,
            other => anyhow::bail!("unknown matrix {other:?}: expected full or transports"),
        }
    };
    let duration = Duration::from_secs_f64(if args.smoke {
        args.duration.min(30.0)
    } else {
        args.duration
    });
    let mut scenarios = matrix.scenarios(args.count, duration);
    if !wires.is_empty() {
        scenarios.retain(|s| wires.contains(&s.wire));
    }
    if !args.groups.is_empty() {
        scenarios.retain(|s| args.groups.iter().any(|g| g.trim() == s.group));
        if scenarios.is_empty() {
            anyhow::bail!(
                "no scenario of the {} matrix is in groups {:?}",
                args.matrix,
                args.groups
            );
        }
    }
    let options = CompareOptions {
        programs: programs.clone(),
        load: args
            .load
            .clone()
            .unwrap_or_else(compare::default_load_binary),
        servers: servers.clone(),
        scenarios,
        work_dir: args.work_dir.clone(),
        pin: if args.no_pin {
            None
        } else {
            compare::default_pinning()
        },
        quiet: Duration::from_secs_f64(args.quiet_period.clamp(0.5, 30.0)),
        settle_limit: Duration::from_secs(120),
        seed: args.seed,
        keep: args.keep,
        sinkd_workers: args.sinkd_workers,
    };
    for kind in &servers {
        programs.check(*kind)?;
    }
    println!("Machine: {}", compare::machine_description());
    let versions: Vec<String> = servers
        .iter()
        .map(|k| format!("{}: {}", k.name(), programs.version(*k)))
        .collect();
    println!("Versions: {}; {}", versions.join("; "), rustc_version());
    match options.pin {
        Some((generator, server)) => {
            println!("Pinning: sinkd-load on CPU {generator}, servers on CPU {server} (taskset)")
        }
        None => println!("Pinning: none"),
    }
    println!();
    let results = compare::run_all(&options, |result| match &result.error {
        Some(error) => eprintln!(
            "{} / {}: FAILED: {error}",
            result.server.name(),
            result.scenario.label()
        ),
        None => eprintln!(
            "{} / {}: {:.0} msg/s, wrote {} of {} expected, {:.2} CPU s/1M, peak RSS {:.1} MiB",
            result.server.name(),
            result.scenario.label(),
            result.msgs_per_second,
            result.written,
            result.expected,
            result.cpu_seconds_per_million,
            result.peak_rss_kib as f64 / 1024.0
        ),
    })?;
    print!("{}", report::markdown(&results));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&results)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.smoke {
        let failures = compare::smoke_failures(&results);
        if failures.is_empty() {
            println!("smoke: every TCP/TLS run wrote exactly the expected lines");
            return Ok(ExitCode::SUCCESS);
        }
        for failure in &failures {
            eprintln!("smoke failure: {failure}");
        }
        return Ok(ExitCode::FAILURE);
    }
    if results.iter().any(|r| r.error.is_some()) {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("sinkd-compare: {error:#}");
            ExitCode::FAILURE
        }
    }
}
