//! `sinkd-kafka-bench`: how fast sinkd moves syslog into Kafka, side by
//! side with the limit of the same broker on the same machine.
//!
//! Both sides push the same messages (RFC 5424 lines from `--devices`
//! devices, keyed by device) to one `tansu` broker on loopback (sqlite
//! storage under `--dir`), a fresh topic per run:
//!
//! - **producer**: an rdkafka producer loop in this process, with the
//!   settings sinkd's Kafka sink uses (idempotent, `acks=all`, lz4,
//!   `linger.ms` 5), timed from the first record handed over to the last
//!   delivery report;
//! - **sinkd**: a sinkd (`--sinkd`) with a TCP listener and a Kafka sink
//!   (format rfc5424, its write-through spool and acknowledged cursor on),
//!   fed over 8 TCP connections, timed from the first byte sent until
//!   `sinkd_relay_messages_sent_total` counts every message (each counted
//!   only once the broker acknowledged it).
//!
//! The two alternate for `--runs` rounds; medians and their ratio are
//! printed. Every loop is bounded in count and time; only loopback is used.
//! See docs/performance.md, section "Kafka".

use anyhow::{bail, Context as _};
use clap::Parser;
use rdkafka::config::ClientConfig;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer,
};
use rdkafka::ClientContext;
use sinkd_load::bench::{exit_code, free_port, median, terminate};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Longest one side of one run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// TCP connections feeding sinkd.
const CONNECTIONS: usize = 8;

/// Time sinkd → Kafka against an rdkafka producer loop on the same broker.
#[derive(Parser, Debug)]
#[command(name = "sinkd-kafka-bench", version, about)]
struct Args {
    /// The sinkd binary.
    #[arg(long, default_value = "target/release/sinkd")]
    sinkd: PathBuf,
    /// The tansu binary (`cargo install tansu --locked --features
    /// dynostore,libsql --version 0.6.0`).
    #[arg(long, default_value = "tansu")]
    tansu: PathBuf,
    /// Scratch directory (broker database, sinkd's data); emptied first.
    #[arg(long, default_value = "/tmp/sinkd-kafka-bench")]
    dir: PathBuf,
    /// Messages per run and side.
    #[arg(long, default_value_t = 200_000)]
    messages: u64,
    /// Devices the messages come from.
    #[arg(long, default_value_t = 1000)]
    devices: u64,
    /// Rounds (one run of each side per round).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Partitions of each topic.
    #[arg(long, default_value_t = 4)]
    partitions: u32,
    /// `linger.ms` of both producers (the sink's `linger` key).
    #[arg(long, default_value_t = 5)]
    linger_ms: u64,
}

fn main() -> ExitCode {
    exit_code("sinkd-kafka-bench", run(&Args::parse()))
}

fn run(args: &Args) -> anyhow::Result<()> {
    if args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)
            .with_context(|| format!("cannot empty {}", args.dir.display()))?;
    }
    let broker_dir = args.dir.join("broker");
    std::fs::create_dir_all(&broker_dir)?;
    let broker_port = free_port()?;
    let broker_url = format!("tcp://127.0.0.1:{broker_port}");
    let log = std::fs::File::create(broker_dir.join("tansu.log"))?;
    let broker = Process::start(
        Command::new(&args.tansu)
            .current_dir(&broker_dir)
            .args(["broker", "--listener-url", &broker_url])
            .args(["--advertised-listener-url", &broker_url])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone()?)
            .stderr(log),
        broker_port,
    )
    .with_context(|| format!("cannot start {}", args.tansu.display()))?;
    let lines: Vec<(String, Vec<u8>)> = (0..args.messages)
        .map(|i| {
            let device = format!("bench-{:04}", i % args.devices);
            let line = format!(
                "<134>1 2026-03-08T09:00:00.000000Z {device} app 4242 ID47 - bench message {i:09} \
                 interface ge-0/0/{} changed state to up",
                i % 48
            );
            (device, line.into_bytes())
        })
        .collect();
    let bytes: usize = lines.iter().map(|(_, line)| line.len()).sum();
    println!(
        "{} messages ({:.1} MB of lines) from {} devices per run, {} partitions, {} rounds",
        args.messages,
        bytes as f64 / 1e6,
        args.devices,
        args.partitions,
        args.runs
    );
    let mut direct = Vec::new();
    let mut through_sinkd = Vec::new();
    let per_message = |seconds: f64| seconds / args.messages as f64 * 1e6;
    for round in 0..args.runs {
        let topic = format!("direct-{round}");
        create_topic(&args.tansu, &broker_url, &topic, args.partitions)?;
        let broker_cpu = cpu_seconds(broker.0.id());
        let own_cpu = cpu_seconds(std::process::id());
        let seconds = produce(broker_port, &topic, args.linger_ms, &lines)?;
        let direct_broker_cpu = cpu_seconds(broker.0.id()) - broker_cpu;
        let producer_cpu = cpu_seconds(std::process::id()) - own_cpu;
        direct.push(args.messages as f64 / seconds);
        let topic = format!("sinkd-{round}");
        create_topic(&args.tansu, &broker_url, &topic, args.partitions)?;
        let broker_cpu = cpu_seconds(broker.0.id());
        let (seconds, sinkd_cpu) = via_sinkd(args, broker_port, &topic, round, &lines)?;
        let sinkd_broker_cpu = cpu_seconds(broker.0.id()) - broker_cpu;
        through_sinkd.push(args.messages as f64 / seconds);
        println!(
            "round {}: producer {:.0}/s (broker {:.1}, producer {:.1} us CPU/msg), \
             sinkd {:.0}/s (broker {:.1}, sinkd {:.1} us CPU/msg)",
            round + 1,
            direct[round],
            per_message(direct_broker_cpu),
            per_message(producer_cpu),
            through_sinkd[round],
            per_message(sinkd_broker_cpu),
            per_message(sinkd_cpu),
        );
    }
    drop(broker);
    let direct = median(&mut direct);
    let through_sinkd = median(&mut through_sinkd);
    println!(
        "median: producer {direct:.0} msg/s, sinkd {through_sinkd:.0} msg/s, ratio {:.2}",
        through_sinkd / direct
    );
    Ok(())
}

/// A child process listening on `port`, stopped with SIGTERM when dropped.
struct Process(Child);

/// CPU seconds (user and system) process `pid` has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) in `()`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) as f64 / hz
}

impl Process {
    fn start(command: &mut Command, port: u16) -> anyhow::Result<Process> {
        let process = Process(command.stdin(Stdio::null()).spawn()?);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("nothing listened on port {port} within 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(process)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        terminate(&mut self.0);
    }
}

fn create_topic(
    tansu: &Path,
    broker_url: &str,
    topic: &str,
    partitions: u32,
) -> anyhow::Result<()> {
    let output = Command::new(tansu)
        .args(["topic", "create", topic, "--broker", broker_url])
        .args(["--partitions", &partitions.to_string()])
        .output()
        .context("cannot run tansu topic create")?;
    if !output.status.success() {
        bail!(
            "tansu topic create {topic}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Counts delivery reports, good and failed.
#[derive(Default)]
struct Counting {
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, (): ()) {
        let counter = if result.is_ok() {
            &self.delivered
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The producer loop: every line to `topic` keyed by its device, with the
/// sink's settings; seconds until the last delivery report.
fn produce(
    port: u16,
    topic: &str,
    linger_ms: u64,
    lines: &[(String, Vec<u8>)],
) -> anyhow::Result<f64> {
    let producer: ThreadedProducer<Counting> = ClientConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.codec", "lz4")
        .set("linger.ms", linger_ms.to_string())
        .set("message.timeout.ms", "0")
        .set("queue.buffering.max.messages", "500000")
        .create_with_context(Counting::default())
        .context("cannot make the producer")?;
    let started = Instant::now();
    let deadline = started + RUN_TIMEOUT;
    for (device, line) in lines {
        let mut record = BaseRecord::to(topic)
            .key(device.as_str())
            .payload(line.as_slice());
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((error, back))
                    if error.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) =>
                {
                    if Instant::now() > deadline {
                        bail!("the producer's queue stayed full");
                    }
                    record = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((error, _)) => bail!("produce: {error}"),
            }
        }
    }
    let total = lines.len() as u64;
    let context = producer.context();
    while context.delivered.load(Ordering::Relaxed) + context.failed.load(Ordering::Relaxed) < total
    {
        if Instant::now() > deadline {
            bail!("delivery reports missing after {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let seconds = started.elapsed().as_secs_f64();
    let failed = context.failed.load(Ordering::Relaxed);
    if failed > 0 {
        bail!("{failed} records failed");
    }
    Ok(seconds)
}

/// One run through sinkd: seconds from the first byte sent until the sink
/// counts every message acknowledged, and the CPU seconds sinkd used.
fn via_sinkd(
    args: &Args,
    broker_port: u16,
    topic: &str,
    round: usize,
    lines: &[(String, Vec<u8>)],
) -> anyhow::Result<(f64, f64)> {
    let dir = args.dir.join(format!("sinkd-{round}"));
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let metrics = free_port()?;
    let config = dir.join("sinkd.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{data}\"\nmetrics = \"127.0.0.1:{metrics}\"\n\n\
             [[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{port}\"\n\n\
             [[sink]]\nname = \"bus\"\ntarget = \"kafka address 127.0.0.1:{broker_port} topic {topic}\"\n\
             format = \"rfc5424\"\nlinger = \"{linger}ms\"\n",
            data = dir.join("data").display(),
            linger = args.linger_ms
        ),
    )?;
    let server = Process::start(
        Command::new(&args.sinkd)
            .arg("--config")
            .arg(&config)
            .env("SINKD_LOG", "warn"),
        port,
    )
    .with_context(|| format!("cannot start {}", args.sinkd.display()))?;
    // Each connection carries whole devices, in order.
    let mut streams: Vec<Vec<u8>> = vec![Vec::new(); CONNECTIONS];
    for (device, line) in lines {
        let digits: u64 = device.trim_start_matches("bench-").parse().unwrap_or(0);
        let out = &mut streams[(digits % CONNECTIONS as u64) as usize];
        out.extend_from_slice(format!("{} ", line.len()).as_bytes());
        out.extend_from_slice(line);
    }
    let started = Instant::now();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let senders: Vec<_> = streams
            .iter()
            .map(|bytes| {
                scope.spawn(move || -> anyhow::Result<()> {
                    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
                    stream.write_all(bytes)?;
                    stream.shutdown(std::net::Shutdown::Write)?;
                    let mut scratch = [0u8; 64];
                    while matches!(stream.read(&mut scratch), Ok(n) if n > 0) {}
                    Ok(())
                })
            })
            .collect();
        for sender in senders {
            sender
                .join()
                .map_err(|_| anyhow::anyhow!("a sender panicked"))??;
        }
        Ok(())
    })?;
    let series = "sinkd_relay_messages_sent_total{sink=\"bus\"}";
    let deadline = started + RUN_TIMEOUT;
    loop {
        if scrape(metrics, series)? >= lines.len() as u64 {
            break;
        }
        if Instant::now() > deadline {
            bail!("sinkd did not deliver everything within {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(server.0.id());
    drop(server);
    Ok((seconds, cpu))
}

/// The value of `series` on sinkd's `/metrics` (0 before it appears).
fn scrape(port: u16, series: &str) -> anyhow::Result<u64> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse::<f64>().ok())
        .map_or(0, |value| value as u64))
}
