//! The peer comparison: the same `sinkd-load` run against sinkd, rsyslog
//! and syslog-ng, one server at a time, each measured the same way.
//!
//! For every scenario (a [`Wire`], a device count, a connection count, a
//! message size) and every server, [`run_scenario`]:
//!
//! 1. writes the server's configuration into a fresh run directory
//!    (`servers.rs`) and starts it in the foreground, pinned with
//!    `taskset` to its own CPU, and waits until its port is bound;
//! 2. samples its CPU time, then runs `sinkd-load` pinned to another CPU
//!    with `--priority '*.notice;auth.*' --json`, which reports how many of
//!    the messages it sent pass that filter — what the server must write;
//! 3. polls the size of the output files until they have not changed for
//!    a quiet period after the load ended (the server has caught up), and
//!    notes when they last changed;
//! 4. samples CPU time and peak RSS, counts the written lines, stops the
//!    server with SIGTERM, and counts again.
//!
//! The throughput is end to end: lines written when the output settled,
//! divided by the time from the first send to the last change on disk.
//! Loss is expected minus written after the server stopped. CPU is per
//! million messages the server received (for UDP, sent minus the kernel's
//! receive-buffer drops during the run). Every load is bounded by a count
//! and a duration, and every wait here has a time limit, so a stuck server
//! ends its run with an error instead of hanging the comparison.

pub mod certs;
pub mod measure;
pub mod report;
pub mod servers;

use crate::load::{monotonic_ns, Summary};
use crate::pool::SizeClass;
use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};
use servers::{Programs, ServerKind, Setup, Wire, PRIORITY};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[cfg(test)]
mod tests;

/// One load shape, run against every server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Scenario {
    /// The table this scenario belongs to (`transports`, `devices`, ...).
    pub group: String,
    pub wire: Wire,
    pub devices: u32,
    pub connections: usize,
    pub size: SizeClass,
    pub count: u64,
    #[serde(serialize_with = "seconds", deserialize_with = "from_seconds")]
    pub duration: Duration,
    /// Messages per second the generator holds; `None` is flat out.
    pub rate: Option<f64>,
    /// The same load is sent once before the measured run, so every
    /// device's directory and file already exist: the steady state of a
    /// collector whose devices it has seen before, without the one-time
    /// cost of creating thousands of files.
    #[serde(default)]
    pub warm: bool,
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

fn from_seconds<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let seconds = f64::deserialize(deserializer)?;
    Duration::try_from_secs_f64(seconds).map_err(serde::de::Error::custom)
}

impl Scenario {
    /// A short label: `tcp-lf, 1000 devices, 1 conn, ~200 B, flat out`.
    pub fn label(&self) -> String {
        format!(
            "{}, {} devices, {} conn, {}, {}{}",
            self.wire.name(),
            self.devices,
            self.connections,
            match self.size {
                SizeClass::Small => "~200 B",
                SizeClass::Large => "~2 KiB",
            },
            match self.rate {
                Some(rate) => format!("paced at {} msg/s", report::thousands(rate as u64)),
                None => "flat out".to_string(),
            },
            if self.warm {
                ", files exist (second run)"
            } else {
                ""
            }
        )
    }
}

/// The scenario sets `sinkd-compare` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Matrix {
    /// Every wire at 1,000 devices, 1 connection, ~200 B, flat out; and
    /// UDP paced at 50,000 and 100,000 msg/s (flat-out UDP measures how
    /// much of a burst a server's buffers absorb; paced UDP measures what
    /// it sustains).
    Transports,
    /// Transports plus scaling runs on TCP (LF): 100 and 10,000 devices,
    /// 50 connections, ~2 KiB messages; and 100, 1,000 and 10,000 devices
    /// again with their files already created (`Scenario::warm`).
    Full,
    /// Every wire, 2,000 messages, 50 devices: a correctness check that
    /// runs in CI.
    Smoke,
}

impl Matrix {
    pub fn scenarios(self, count: u64, duration: Duration) -> Vec<Scenario> {
        let scenario = |group: &str, wire, devices, connections, size| Scenario {
            group: group.to_string(),
            wire,
            devices,
            connections,
            size,
            count,
            duration,
            rate: None,
            warm: false,
        };
        match self {
            Matrix::Smoke => Wire::ALL
                .into_iter()
                .map(|wire| Scenario {
                    count: count.min(SMOKE_COUNT),
                    ..scenario("smoke", wire, 50, 1, SizeClass::Small)
                })
                .collect(),
            Matrix::Transports => {
                let mut all: Vec<Scenario> = Wire::ALL
                    .into_iter()
                    .map(|wire| scenario("transports", wire, 1000, 1, SizeClass::Small))
                    .collect();
                for rate in [50_000.0, 100_000.0] {
                    all.push(Scenario {
                        rate: Some(rate),
                        // Ten seconds of traffic at most.
                        count: count.min(rate as u64 * 10),
                        ..scenario("udp-paced", Wire::Udp, 1000, 1, SizeClass::Small)
                    });
                }
                all
            }
            Matrix::Full => {
                let mut all = Matrix::Transports.scenarios(count, duration);
                for devices in [100, 10_000] {
                    all.push(scenario(
                        "devices",
                        Wire::TcpLf,
                        devices,
                        1,
                        SizeClass::Small,
                    ));
                }
                all.push(scenario(
                    "connections",
                    Wire::TcpLf,
                    1000,
                    50,
                    SizeClass::Small,
                ));
                all.push(scenario("size", Wire::TcpLf, 1000, 1, SizeClass::Large));
                for devices in [100, 1000, 10_000, 100_000] {
                    all.push(Scenario {
                        warm: true,
                        ..scenario("devices-warm", Wire::TcpLf, devices, 1, SizeClass::Small)
                    });
                }
                all
            }
        }
    }
}

/// Messages per transport in smoke mode.
pub const SMOKE_COUNT: u64 = 2_000;

/// How the comparison runs.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    pub programs: Programs,
    /// The `sinkd-load` binary.
    pub load: PathBuf,
    pub servers: Vec<ServerKind>,
    pub scenarios: Vec<Scenario>,
    /// Run directories go here (removed when the comparison ends, unless
    /// `keep`).
    pub work_dir: PathBuf,
    /// (generator CPU, server CPU) for `taskset`; `None` runs unpinned.
    pub pin: Option<(usize, usize)>,
    /// Output unchanged this long after the load ended = settled.
    pub quiet: Duration,
    /// Longest wait for the output to settle after the load ended.
    pub settle_limit: Duration,
    pub seed: u64,
    pub keep: bool,
    /// sinkd's `workers` (`0`: sinkd's default).
    pub sinkd_workers: usize,
}

/// What one server did in one scenario.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunResult {
    pub server: ServerKind,
    pub scenario: Scenario,
    /// Messages `sinkd-load` sent.
    pub sent: u64,
    /// Of those, the ones the filter selects: what should be written.
    pub expected: u64,
    /// Lines on disk once the output settled.
    pub written_settled: u64,
    /// Lines on disk after the server stopped.
    pub written: u64,
    /// Directories (devices) that received output.
    pub device_dirs: u64,
    /// First send to last change on disk.
    pub seconds: f64,
    /// Written lines per second, end to end.
    pub msgs_per_second: f64,
    /// `expected - written` (0 when more was written).
    pub loss: u64,
    /// Lines beyond the expected count (duplicates or filter differences).
    pub extra: u64,
    /// Messages the server received (UDP: sent minus kernel drops).
    pub received: u64,
    pub cpu_seconds: f64,
    pub cpu_seconds_per_million: f64,
    pub peak_rss_kib: u64,
    /// Whether the output stopped changing within the settle limit.
    pub settled: bool,
    pub load: Option<Summary>,
    /// Set when the run failed; the numbers above are then incomplete.
    pub error: Option<String>,
}

impl RunResult {
    fn failed(server: ServerKind, scenario: &Scenario, error: String) -> RunResult {
        RunResult {
            server,
            scenario: scenario.clone(),
            sent: 0,
            expected: 0,
            written_settled: 0,
            written: 0,
            device_dirs: 0,
            seconds: 0.0,
            msgs_per_second: 0.0,
            loss: 0,
            extra: 0,
            received: 0,
            cpu_seconds: 0.0,
            cpu_seconds_per_million: 0.0,
            peak_rss_kib: 0,
            settled: false,
            load: None,
            error: Some(error),
        }
    }
}

/// A started server; killed on drop if still running, so an error path
/// never leaves one behind. Only this child is ever signalled.
struct Server {
    child: Child,
    kind: ServerKind,
    log: PathBuf,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// SIGTERM, then SIGKILL if it has not exited within `limit`.
    fn stop(&mut self, limit: Duration) -> anyhow::Result<()> {
        if self.child.try_wait()?.is_some() {
            bail!(
                "{} had already exited:\n{}",
                self.kind.name(),
                self.log_tail()
            );
        }
        let pid = libc::pid_t::try_from(self.pid()).context("pid out of range")?;
        // SAFETY: kill only sends a signal, to our own child's pid.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let give_up = Instant::now() + limit;
        while Instant::now() < give_up {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        bail!(
            "{} did not exit within {}s of SIGTERM",
            self.kind.name(),
            limit.as_secs()
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The running `sinkd-load`; stopped on drop if a failed run leaves it
/// behind (it would stop at its own deadline anyway).
struct Loader(Child);

impl Drop for Loader {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn pinned(program: Command, cpu: Option<usize>) -> Command {
    let Some(cpu) = cpu else {
        return program;
    };
    let mut command = Command::new("taskset");
    command.arg("-c").arg(cpu.to_string());
    command.arg(program.get_program());
    command.args(program.get_args());
    for (key, value) in program.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command
}

fn start_server(options: &CompareOptions, setup: &Setup) -> anyhow::Result<Server> {
    let command = servers::prepare(&options.programs, setup)?;
    let log = setup.dir.join("server.log");
    let log_file = std::fs::File::create(&log)?;
    let mut command = pinned(command, options.pin.map(|(_, server)| server));
    command
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
    let child = command
        .spawn()
        .with_context(|| format!("cannot start {}", setup.kind.name()))?;
    let mut server = Server {
        child,
        kind: setup.kind,
        log,
    };
    let udp = setup.wire == Wire::Udp;
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = server.child.try_wait()? {
            bail!(
                "{} exited during startup ({status}):\n{}",
                setup.kind.name(),
                server.log_tail()
            );
        }
        if measure::port_bound(setup.port, udp) {
            break;
        }
        if Instant::now() >= give_up {
            bail!(
                "{} did not bind port {} within 20s:\n{}",
                setup.kind.name(),
                setup.port,
                server.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Bound is not always serving: let the server finish starting.
    std::thread::sleep(Duration::from_millis(300));
    Ok(server)
}

fn load_command(
    options: &CompareOptions,
    scenario: &Scenario,
    port: u16,
    certs: Option<&certs::CertFiles>,
) -> Command {
    let mut command = Command::new(&options.load);
    command
        .arg("--target")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--transport")
        .arg(scenario.wire.transport().name())
        .arg("--framing")
        .arg(scenario.wire.framing().name())
        .arg("--connections")
        .arg(scenario.connections.to_string())
        .arg("--count")
        .arg(scenario.count.to_string())
        .arg("--duration")
        .arg(scenario.duration.as_secs_f64().to_string())
        .arg("--size")
        .arg(scenario.size.name())
        .arg("--devices")
        .arg(scenario.devices.to_string())
        .arg("--seed")
        .arg(options.seed.to_string())
        .arg("--priority")
        .arg(PRIORITY)
        .arg("--json");
    if let Some(rate) = scenario.rate {
        command.arg("--rate").arg(rate.to_string());
    }
    if let (Wire::Tls, Some(certs)) = (scenario.wire, certs) {
        command.arg("--ca").arg(&certs.ca);
    }
    pinned(command, options.pin.map(|(generator, _)| generator))
}

/// Runs one scenario against one server.
pub fn run_scenario(
    options: &CompareOptions,
    kind: ServerKind,
    scenario: &Scenario,
    certs: Option<&certs::CertFiles>,
) -> anyhow::Result<RunResult> {
    let port = measure::free_port()?;
    let dir = options.work_dir.join(
        format!(
            "{}-{}-{}d-{}c-{}-{}",
            kind.name(),
            scenario.wire.name(),
            scenario.devices,
            scenario.connections,
            scenario.size.name(),
            scenario
                .rate
                .map_or("max".to_string(), |r| format!("{r:.0}"))
        ) + if scenario.warm { "-warm" } else { "" },
    );
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    sync_disk();
    std::fs::create_dir_all(&dir)?;
    let setup = Setup {
        kind,
        wire: scenario.wire,
        port,
        devices: scenario.devices,
        connections: scenario.connections,
        out: dir.join("out"),
        dir: dir.clone(),
        certs: certs.cloned(),
        sinkd_workers: options.sinkd_workers,
    };
    let mut server = start_server(options, &setup)?;
    let mut lines_before = 0;
    if scenario.warm {
        let warm_up = drive(options, scenario, port, certs, &setup, &mut server)?;
        if !warm_up.settled {
            bail!("the output of the warm-up run did not settle");
        }
        lines_before = measure::count_lines(&setup.out)?.0;
    }
    let before = measure::sample(server.pid())?;
    let Drive {
        summary,
        settled,
        last_change_ns,
    } = drive(options, scenario, port, certs, &setup, &mut server)?;
    let after = measure::sample(server.pid())?;
    let written_settled = measure::count_lines(&setup.out)?
        .0
        .saturating_sub(lines_before);
    let stopped = server.stop(Duration::from_secs(60));
    let (written, device_dirs) = measure::count_lines(&setup.out)?;
    let written = written.saturating_sub(lines_before);
    stopped?;
    let expected = summary.passing.unwrap_or(summary.sent);
    let seconds = if last_change_ns > summary.start_monotonic_ns {
        (last_change_ns - summary.start_monotonic_ns) as f64 / 1e9
    } else {
        summary.seconds
    };
    let received = summary
        .sent
        .saturating_sub(summary.kernel_udp_rcvbuf_errors.unwrap_or(0));
    let cpu_seconds = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64
        / measure::clock_ticks_per_second() as f64;
    let result = RunResult {
        server: kind,
        scenario: scenario.clone(),
        sent: summary.sent,
        expected,
        written_settled,
        written,
        device_dirs,
        seconds,
        msgs_per_second: written_settled as f64 / seconds.max(1e-9),
        loss: expected.saturating_sub(written),
        extra: written.saturating_sub(expected),
        received,
        cpu_seconds,
        cpu_seconds_per_million: cpu_seconds / (received.max(1) as f64) * 1e6,
        peak_rss_kib: after.peak_rss_kib,
        settled,
        load: Some(summary),
        error: None,
    };
    Ok(result)
}

/// How often the settle loop looks at the server's writes.
const POLL: Duration = Duration::from_millis(10);

/// One `sinkd-load` run and its wait for the output to settle.
struct Drive {
    summary: Summary,
    /// Whether the output stopped changing within the settle limit.
    settled: bool,
    /// When the output last grew (`CLOCK_MONOTONIC`, ns).
    last_change_ns: u64,
}

/// Sends the scenario's load to `server` and waits until its output has
/// not changed for `options.quiet` (or the settle limit passed).
fn drive(
    options: &CompareOptions,
    scenario: &Scenario,
    port: u16,
    certs: Option<&certs::CertFiles>,
    setup: &Setup,
    server: &mut Server,
) -> anyhow::Result<Drive> {
    let kind = setup.kind;
    let mut loader = Loader(
        load_command(options, scenario, port, certs)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start sinkd-load")?,
    );
    // Drain the loader's pipes on threads so it never blocks on them.
    let stdout = loader.0.stdout.take().context("loader stdout")?;
    let stderr = loader.0.stderr.take().context("loader stderr")?;
    let read_all = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout_reader = read_all(Box::new(stdout));
    let stderr_reader = read_all(Box::new(stderr));
    let load_limit = scenario.duration + Duration::from_secs(60);
    let load_started = Instant::now();
    let mut last_bytes = 0u64;
    let mut last_change_ns = 0u64;
    let mut quiet_since = Instant::now();
    let mut load_status = None;
    let mut load_ended = Instant::now();
    let settled = loop {
        // The last change is known to within one poll: at 10 ms that is
        // ~1% of a one-second run (at 100 ms it was up to 15% of the
        // shortest ones). A poll reads one small /proc file.
        std::thread::sleep(POLL);
        let bytes = measure::written_bytes(server.pid())?;
        if bytes != last_bytes {
            last_bytes = bytes;
            last_change_ns = monotonic_ns();
            quiet_since = Instant::now();
        }
        match load_status {
            None => {
                if let Some(status) = loader.0.try_wait()? {
                    load_status = Some(status);
                    load_ended = Instant::now();
                    quiet_since = quiet_since.max(load_ended);
                } else if load_started.elapsed() > load_limit {
                    drop(loader);
                    let said = stderr_reader.join().unwrap_or_default();
                    bail!(
                        "sinkd-load ran {}s past its own time limit and was stopped; it said: {}",
                        (load_started.elapsed() - scenario.duration).as_secs(),
                        said.trim()
                    );
                }
            }
            Some(_) => {
                if quiet_since.elapsed() >= options.quiet {
                    break true;
                }
                if load_ended.elapsed() >= options.settle_limit {
                    break false;
                }
            }
        }
        if server.child.try_wait()?.is_some() {
            bail!(
                "{} exited during the run:\n{}",
                kind.name(),
                server.log_tail()
            );
        }
    };
    let load_stdout = stdout_reader.join().unwrap_or_default();
    let load_stderr = stderr_reader.join().unwrap_or_default();
    if !load_status.is_some_and(|s| s.success()) {
        bail!("sinkd-load failed: {}", load_stderr.trim());
    }
    let summary: Summary = serde_json::from_str(load_stdout.trim())
        .with_context(|| format!("unreadable sinkd-load output {load_stdout:?}"))?;
    Ok(Drive {
        summary,
        settled,
        last_change_ns,
    })
}

/// Runs every scenario against every server, in order, calling `progress`
/// after each run. A failed run is recorded with its error and the
/// comparison goes on.
pub fn run_all(
    options: &CompareOptions,
    mut progress: impl FnMut(&RunResult),
) -> anyhow::Result<Vec<RunResult>> {
    for kind in &options.servers {
        options.programs.check(*kind)?;
    }
    if !options.load.is_file() {
        bail!(
            "sinkd-load not found at {} (build the load-tests crate)",
            options.load.display()
        );
    }
    raise_open_file_limit();
    if let Some((generator, _)) = options.pin {
        // This thread's polling (and the pipe readers it starts) stays off
        // the server's CPU.
        pin_this_thread(generator);
    }
    if remove_run_dirs(&options.work_dir)? > 0 {
        // When it allocates inodes, ext4 without a journal skips (one
        // inode-table lookup each) those freed in the last 60 s, or 300 s
        // while their table block is dirty, which makes creating thousands
        // of per-device files right after deleting an earlier comparison's
        // output many times slower than usual (seen as `recently_deleted`
        // in profiles). Write the deletions back, then let the window pass.
        eprintln!("removed the previous run directories; waiting 65s for the filesystem");
        sync_disk();
        std::thread::sleep(Duration::from_secs(65));
    }
    std::fs::create_dir_all(&options.work_dir)
        .with_context(|| format!("cannot create {}", options.work_dir.display()))?;
    let certs = if options.scenarios.iter().any(|s| s.wire == Wire::Tls) {
        Some(certs::generate(&options.work_dir.join("certs"))?)
    } else {
        None
    };
    let mut results = Vec::new();
    for scenario in &options.scenarios {
        for kind in &options.servers {
            let result = run_scenario(options, *kind, scenario, certs.as_ref())
                .unwrap_or_else(|error| RunResult::failed(*kind, scenario, format!("{error:#}")));
            progress(&result);
            results.push(result);
        }
    }
    // Output is removed only now, not after each run, for the reason above.
    if !options.keep {
        remove_run_dirs(&options.work_dir)?;
    }
    Ok(results)
}

/// Writes every dirty page back (`sync(2)`). Called before each run so it
/// starts from a clean page cache: the previous run's output is written
/// back now, not by kernel threads competing with the next server.
pub fn sync_disk() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

/// Removes the run directories (`SERVER-WIRE-...`) under `work_dir`, not
/// anything else; returns how many there were.
fn remove_run_dirs(work_dir: &Path) -> anyhow::Result<usize> {
    let Ok(entries) = std::fs::read_dir(work_dir) else {
        return Ok(0);
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let is_run_dir = ServerKind::ALL
            .iter()
            .any(|kind| name.starts_with(&format!("{}-", kind.name())));
        if is_run_dir && entry.path().is_dir() {
            std::fs::remove_dir_all(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// What makes a smoke run fail: any run error, an unsettled output, and on
/// TCP/TLS any difference between expected and written lines. UDP loss is
/// reported, never failed on.
pub fn smoke_failures(results: &[RunResult]) -> Vec<String> {
    let mut failures = Vec::new();
    for result in results {
        let what = format!(
            "{} over {}",
            result.server.name(),
            result.scenario.wire.name()
        );
        if let Some(error) = &result.error {
            failures.push(format!("{what}: {error}"));
            continue;
        }
        if !result.settled {
            failures.push(format!("{what}: output did not settle"));
        }
        if result.sent != result.scenario.count {
            failures.push(format!(
                "{what}: sent {} of {} messages",
                result.sent, result.scenario.count
            ));
        }
        if result.scenario.wire.is_reliable() && result.written != result.expected {
            failures.push(format!(
                "{what}: wrote {} lines, expected exactly {}",
                result.written, result.expected
            ));
        }
    }
    failures
}

/// Open files the comparison asks for: a 100,000-device fleet with a
/// file per device and the connections beside them, as a server for such
/// a fleet is configured (`LimitNOFILE` in deploy/systemd/sinkd.service).
const WANTED_OPEN_FILES: libc::rlim_t = 262_144;

/// Raises this process's open-file limit, so that it and the servers it
/// starts can hold a file per device open: the soft limit to the hard
/// one, and as root (which may raise the hard limit) both to
/// [`WANTED_OPEN_FILES`] when they are lower.
pub fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        if limit.rlim_max < WANTED_OPEN_FILES {
            let raised = libc::rlimit {
                rlim_cur: WANTED_OPEN_FILES,
                rlim_max: WANTED_OPEN_FILES,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return;
            }
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Restricts the calling thread, and the threads it starts later, to `cpu`.
/// Best effort: a failure only means the polling may share the server's CPU.
fn pin_this_thread(cpu: usize) {
    // SAFETY: an all-zero cpu_set_t is the empty set; CPU_SET is given a
    // CPU number it checks against CPU_SETSIZE, and sched_setaffinity reads
    // at most size_of::<cpu_set_t>() bytes.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu < libc::CPU_SETSIZE as usize {
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }
}

/// The CPUs to pin to: the generator on the first CPU this process may
/// use and the server on the second, when there are two and `taskset`
/// exists.
pub fn default_pinning() -> Option<(usize, usize)> {
    // SAFETY: cpu_set_t is a plain bit set; all-zero is a valid value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: sched_getaffinity writes at most size_of::<cpu_set_t>() bytes
    // into `set`, which lives for the call.
    let ok =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) }
            == 0;
    if !ok {
        return None;
    }
    let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE.
        .filter(|cpu| unsafe { libc::CPU_ISSET(*cpu, &set) })
        .take(2)
        .collect();
    let taskset = Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    match (cpus.as_slice(), taskset) {
        ([generator, server], true) => Some((*generator, *server)),
        _ => None,
    }
}

/// The machine, for the report header: CPUs, CPU model, kernel.
pub fn machine_description() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_string())
        .unwrap_or_else(|_| "unknown kernel".to_string());
    format!("{cpus} CPUs ({model}), Linux {kernel}")
}

/// Where `sinkd-load` is by default: next to this executable.
pub fn default_load_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("sinkd-load")))
        .unwrap_or_else(|| PathBuf::from("sinkd-load"))
}

/// The script that installs the peers, in this crate's source directory.
pub fn install_script() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/install-peers.sh"))
}
