//! `sinkd-readbench`: how fast `sinkd show` and `sinkd follow` read a
//! device's history, side by side with what people do without them
//! (`zstdcat *.zst | grep`).
//!
//! It builds the history through a real sinkd: a server started on a
//! loopback TCP port with the default sinks (`{device}/messages`, RFC 5424)
//! and keep-everything rotation, fed one device's messages whose own
//! timestamps run in order over `--days` days up to now, until the stored
//! text passes `--gib`. Going through the server rather than the store's
//! API keeps the worker (which completes timestamps and keys the index)
//! in what is measured. Then, in one run, each figure `--runs` times in
//! turns, medians reported:
//!
//! - a literal `--grep` against `{ zstdcat *.log.zst; cat *.log; } | grep`;
//! - a regular expression against the same pipeline with `grep -E`;
//! - `show --since` (2 days and 15 days back): time until the first byte
//!   of output arrives on the pipe;
//! - the store's reader with and without read-ahead (decompressing the
//!   next segments on helper threads), in this process;
//! - `follow` latency: a message sent over TCP to the running server, the
//!   time until `sinkd follow` prints it, against the flush interval.
//!
//! Every loop is bounded in count and time; only loopback is used. See
//! docs/performance.md, section "Reading".

use anyhow::{bail, Context as _};
use clap::Parser;
use memchr::memmem;
use sinkd_load::bench::{exit_code, free_port, median, terminate};
use sinkd_store::{list_streams, StreamReader};
use std::fs;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The one device of the history.
const DEVICE: &str = "bench1";
/// A literal that about one line in 50,000 carries.
const LITERAL: &str = "PANIC-7731";
/// A regular expression both `grep -E` and the `regex` crate read alike.
const REGEX: &str = "port (4[0-9]|5[0-2]) link (up|down) .*flaps=[0-9]{3}";
/// Longest any one measured command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// Time reading a device's stored history against zstdcat | grep.
#[derive(Parser, Debug)]
#[command(name = "sinkd-readbench", version, about)]
struct Args {
    /// The sinkd binary.
    #[arg(long, default_value = "target/release/sinkd")]
    sinkd: PathBuf,
    /// Scratch directory (the history lives in DIR/data); needs about 1.3×
    /// --gib of free space.
    #[arg(long, default_value = "/tmp/sinkd-readbench")]
    dir: PathBuf,
    /// Stored text to build, GiB.
    #[arg(long, default_value_t = 1.05)]
    gib: f64,
    /// Days the messages' timestamps span, ending now.
    #[arg(long, default_value_t = 30)]
    days: u64,
    /// Keep a history already in DIR/data instead of building it again.
    #[arg(long)]
    reuse: bool,
    /// Runs of each figure.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Messages sent to measure follow's latency.
    #[arg(long, default_value_t = 20)]
    follow_messages: usize,
    /// `[storage] flush_interval` of the server, milliseconds.
    #[arg(long, default_value_t = 1000)]
    flush_ms: u64,
}

fn main() -> ExitCode {
    exit_code("sinkd-readbench", run(&Args::parse()))
}

fn run(args: &Args) -> anyhow::Result<()> {
    let data = args.dir.join("data");
    let stream_dir = data.join(DEVICE).join("messages");
    let port = free_port()?;
    let config = write_config(&args.dir, &data, port, args.flush_ms)?;
    if !(args.reuse && stream_dir.is_dir()) {
        if data.exists() {
            fs::remove_dir_all(&data).context("cannot empty the data directory")?;
        }
        let mut server = Server::start(&args.sinkd, &config, port)?;
        let lines = build_history(port, args.gib, args.days)?;
        wait_for_lines(&data, lines)?;
        wait_for_compression(&stream_dir)?;
        server.stop();
    }
    let (zst, log) = segment_files(&stream_dir)?;
    let stored: u64 = text_bytes(&stream_dir)?;
    println!(
        "history: {DEVICE}/messages, {} closed segments (.zst, {:.0} MiB), {} active .log; {:.2} GiB of text",
        zst.len(),
        zst.iter().map(|p| fs::metadata(p).map_or(0, |m| m.len())).sum::<u64>() as f64 / 1048576.0,
        log.len(),
        stored as f64 / (1u64 << 30) as f64
    );
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let sinkd = args.sinkd.display().to_string();
    let data_text = data.display().to_string();
    let pipeline = |grep: &str, pattern: &str| {
        format!(
            "{{ zstdcat -q {dir}/*.log.zst; cat {dir}/*.log; }} | {grep} '{pattern}'",
            dir = stream_dir.display()
        )
    };
    let show = |extra: &[&str]| -> Vec<String> {
        let mut command = vec![sinkd.clone(), String::from("show"), DEVICE.to_owned()];
        command.extend(extra.iter().map(|&s| s.to_owned()));
        command.extend([String::from("--data-dir"), data_text.clone()]);
        command
    };
    let shell = |text: String| vec![String::from("sh"), String::from("-c"), text];

    println!(
        "\n{:<44} {:>10} {:>10} {:>8}",
        "figure", "sinkd", "pipeline", "ratio"
    );
    for (label, ours, theirs) in [
        (
            format!("show --grep {LITERAL}"),
            show(&["--grep", LITERAL]),
            shell(pipeline("grep", LITERAL)),
        ),
        (
            String::from("show --grep REGEX / grep -E"),
            show(&["--grep", REGEX]),
            shell(pipeline("grep -E", REGEX)),
        ),
    ] {
        let (ours_s, theirs_s, lines) = side_by_side(&ours, &theirs, args.runs)?;
        println!(
            "{label:<44} {:>9.3}s {:>9.3}s {:>7.2}x   ({lines} lines)",
            ours_s,
            theirs_s,
            theirs_s / ours_s
        );
    }

    println!();
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    for days in [2u64, 15] {
        let since = jiff::Timestamp::from_second((now - days * 86_400) as i64)?.to_string();
        let command = show(&["--since", &since]);
        let mut times = Vec::new();
        for _ in 0..args.runs {
            times.push(first_byte(&command)?);
        }
        println!(
            "show --since {days}d: first byte after {:.1} ms (median of {}; min {:.1}, max {:.1})",
            median(&mut times) * 1e3,
            times.len(),
            times[0] * 1e3,
            times[times.len() - 1] * 1e3
        );
    }

    println!();
    read_ahead_figures(&data, args.runs)?;

    if args.follow_messages == 0 {
        return Ok(());
    }
    println!();
    let mut server = Server::start(&args.sinkd, &config, port)?;
    let result = follow_latency(&sinkd, &data_text, port, args.follow_messages);
    server.stop();
    let mut latencies = result?;
    let med = median(&mut latencies);
    println!(
        "follow latency: median {:.0} ms, max {:.0} ms over {} messages (flush_interval {} ms; goal ≤ {} ms)",
        med * 1e3,
        latencies[latencies.len() - 1] * 1e3,
        latencies.len(),
        args.flush_ms,
        args.flush_ms + 100
    );
    Ok(())
}

/// The server's configuration: the default sinks, a TCP listener on
/// loopback, every segment kept.
fn write_config(dir: &Path, data: &Path, port: u16, flush_ms: u64) -> anyhow::Result<PathBuf> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let text = format!(
        "data_dir = {data:?}\nmetrics = \"off\"\n\n[[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{port}\"\n\n\
         [[sink]]\nname = \"messages\"\ntarget = \"file {{device}}/messages\"\npriority = \"*.*\"\nformat = \"rfc5424\"\n\n\
         [storage]\nrotate_size = \"10M\"\nrotate_count = 0\nfsync = \"never\"\nflush_interval = \"{flush_ms}ms\"\n",
        data = data.display().to_string()
    );
    let path = dir.join("sinkd.toml");
    fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// A running sinkd, stopped with SIGTERM.
struct Server {
    child: Child,
}

impl Server {
    fn start(sinkd: &Path, config: &Path, port: u16) -> anyhow::Result<Server> {
        let child = Command::new(sinkd)
            .arg("--config")
            .arg(config)
            .env("SINKD_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", sinkd.display()))?;
        let server = Server { child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("sinkd did not listen on port {port} within 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    fn stop(&mut self) {
        terminate(&mut self.child);
    }
}

/// One realistic message, its timestamp `micros`, number `i`.
fn message(i: u64, micros: i64, out: &mut Vec<u8>) {
    let time = jiff::Timestamp::from_microsecond(micros).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let (pri, app, text) = match i % 7 {
        0 => (30, "ifmgr", format!("port {} link {} speed 1000 duplex full flaps={}", 1 + i % 52, if i.is_multiple_of(2) { "up" } else { "down" }, 100 + i % 900)),
        1 => (86, "sshd", format!("Accepted publickey for admin{} from 198.51.100.{} port {} ssh2: ED25519 SHA256:{:016x}", i % 9, i % 250, 30000 + i % 30000, i.wrapping_mul(0x9e37_79b9_7f4a_7c15))),
        2 => (134, "bgpd", format!("neighbor 192.0.2.{} state change Established -> Idle (hold timer expired) after {} updates", i % 200, i % 100_000)),
        3 => (190, "dhcpd", format!("DHCPACK on 10.{}.{}.{} to 00:1b:21:{:02x}:{:02x}:{:02x} via vlan{}", i % 200, i % 250, i % 254, i % 256, (i / 256) % 256, (i / 65536) % 256, i % 4094)),
        4 => (29, "kernel", format!("temperature sensor {} reads {} C, fan {} at {} rpm", i % 8, 30 + i % 40, i % 4, 3000 + i % 5000)),
        5 => (165, "audit", format!("user op{} ran 'show running-config' on vty{} session {:08x}", i % 20, i % 16, i.wrapping_mul(2_654_435_761) as u32)),
        _ => (27, "snmpd", format!("request from 203.0.113.{} community denied, {} requests dropped so far", i % 250, i)),
    };
    let marker = if i % 50_000 == 25_000 {
        " PANIC-7731 watchdog reset"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "<{pri}>1 {time} {DEVICE} {app} {} - - {text}{marker}",
        1000 + i % 5000
    );
}

/// Sends one device's history, timestamps in order over `days` days up to
/// now, until about `gib` GiB of text has gone out; the line count.
fn build_history(port: u16, gib: f64, days: u64) -> anyhow::Result<u64> {
    let target_bytes = (gib * (1u64 << 30) as f64) as u64;
    // Lines average about 135 bytes; the count fixes the timestamp step.
    let estimate = target_bytes / 135 + 1;
    let span_micros = (days * 86_400 * 1_000_000) as i64;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_micros() as i64;
    let start = now - span_micros;
    let step = (span_micros / estimate as i64).max(1);
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    let mut buf = Vec::with_capacity(1 << 20);
    let (mut sent, mut i) = (0u64, 0u64);
    let started = Instant::now();
    while sent < target_bytes {
        if started.elapsed() > Duration::from_secs(1200) {
            bail!("building the history took over 20 minutes");
        }
        buf.clear();
        while buf.len() < (1 << 20) - 512 {
            message(i, (start + step * i as i64).min(now), &mut buf);
            i += 1;
        }
        stream.write_all(&buf)?;
        sent += buf.len() as u64;
    }
    stream.flush()?;
    drop(stream);
    println!(
        "sent {i} messages, {:.2} GiB, in {:.1} s",
        sent as f64 / (1u64 << 30) as f64,
        started.elapsed().as_secs_f64()
    );
    Ok(i)
}

fn wait_for_lines(data: &Path, lines: u64) -> anyhow::Result<()> {
    let path = format!("{DEVICE}/messages");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let stored = list_streams(data)?
            .into_iter()
            .find(|stream| stream.path == path)
            .and_then(|stream| stream.last_seq)
            .unwrap_or(0);
        if stored >= lines {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {stored} of {lines} lines stored after 5 minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until every closed segment is compressed (one `.log` left).
fn wait_for_compression(stream_dir: &Path) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    while segment_files(stream_dir)?.1.len() > 1 {
        if Instant::now() > deadline {
            bail!("segments still uncompressed after 5 minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// The `.log.zst` and `.log` files of the stream, in order.
fn segment_files(stream_dir: &Path) -> anyhow::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut names: Vec<PathBuf> = fs::read_dir(stream_dir)
        .with_context(|| format!("cannot read {}", stream_dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    names.sort();
    let has = |path: &PathBuf, suffix: &str| {
        path.file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.ends_with(suffix) && !name.starts_with('.'))
    };
    let zst = names
        .iter()
        .filter(|p| has(p, ".log.zst"))
        .cloned()
        .collect();
    let log = names.iter().filter(|p| has(p, ".log")).cloned().collect();
    Ok((zst, log))
}

/// Uncompressed bytes of the stream's text (the index's end records
/// would do, but reading is what this program is about).
fn text_bytes(stream_dir: &Path) -> anyhow::Result<u64> {
    let (zst, log) = segment_files(stream_dir)?;
    let mut total = 0;
    for path in zst {
        let mut decoder = zstd::stream::read::Decoder::new(fs::File::open(&path)?)?;
        total += std::io::copy(&mut decoder, &mut std::io::sink())?;
    }
    for path in log {
        total += fs::metadata(path)?.len();
    }
    Ok(total)
}

/// Starts `command` with its output on a pipe.
fn spawn_piped(command: &[String]) -> anyhow::Result<(Child, ChildStdout)> {
    let mut child = Command::new(&command[0])
        .args(&command[1..])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", command[0]))?;
    let stdout = child.stdout.take().context("no stdout")?;
    Ok((child, stdout))
}

/// Runs `command` to its end, output on a pipe; (seconds, lines printed).
fn timed(command: &[String]) -> anyhow::Result<(f64, u64)> {
    let started = Instant::now();
    let (mut child, mut stdout) = spawn_piped(command)?;
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 0u64;
    loop {
        let n = stdout.read(&mut buf)?;
        if n == 0 {
            break;
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        if started.elapsed() > COMMAND_TIMEOUT {
            let _ = child.kill();
            bail!("{} took over {COMMAND_TIMEOUT:?}", command.join(" "));
        }
    }
    child.wait()?;
    Ok((started.elapsed().as_secs_f64(), lines))
}

/// `ours` and `theirs` in turns, `runs` times each after one warm-up of
/// each; medians, and the line count (which must agree).
fn side_by_side(
    ours: &[String],
    theirs: &[String],
    runs: usize,
) -> anyhow::Result<(f64, f64, u64)> {
    let (_, ours_lines) = timed(ours)?;
    let (_, theirs_lines) = timed(theirs)?;
    if ours_lines != theirs_lines {
        bail!(
            "{} printed {ours_lines} lines, {} printed {theirs_lines}",
            ours.join(" "),
            theirs.join(" ")
        );
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        a.push(timed(ours)?.0);
        b.push(timed(theirs)?.0);
    }
    Ok((median(&mut a), median(&mut b), ours_lines))
}

/// Seconds from starting `command` until its first byte of output; the
/// command is then ended.
fn first_byte(command: &[String]) -> anyhow::Result<f64> {
    let started = Instant::now();
    let (mut child, mut stdout) = spawn_piped(command)?;
    let mut byte = [0u8; 1];
    let n = stdout.read(&mut byte)?;
    let elapsed = started.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    if n == 0 {
        bail!("{} printed nothing", command.join(" "));
    }
    Ok(elapsed)
}

/// The store's reader over the whole stream, counting lines with the
/// literal, with read-ahead `depth` (0: none); seconds and the count.
fn read_stream(data: &Path, depth: usize) -> anyhow::Result<(f64, u64)> {
    let started = Instant::now();
    let finder = memmem::Finder::new(LITERAL);
    let mut reader = StreamReader::open(data, &format!("{DEVICE}/messages"))?;
    reader.set_read_ahead(depth);
    let mut found = 0u64;
    while reader.next_line_containing(&finder)?.is_some() {
        found += 1;
    }
    Ok((started.elapsed().as_secs_f64(), found))
}

fn read_ahead_figures(data: &Path, runs: usize) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut depths = vec![0, 1, cores];
    depths.dedup();
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); depths.len()];
    let mut counts = Vec::new();
    for _ in 0..runs {
        for (at, &depth) in depths.iter().enumerate() {
            let (seconds, found) = read_stream(data, depth)?;
            times[at].push(seconds);
            counts.push(found);
        }
    }
    counts.dedup();
    if counts.len() != 1 {
        bail!("read-ahead changed what was read: {counts:?}");
    }
    let base = median(&mut times[0].clone());
    for (at, depth) in depths.iter().enumerate() {
        let seconds = median(&mut times[at]);
        println!(
            "reader, literal search, read-ahead {depth}: {seconds:.3} s ({:.2}x of none)",
            base / seconds
        );
    }
    Ok(())
}

/// Latencies (seconds) from sending a message to the server until
/// `sinkd follow` prints it, `count` messages at irregular intervals.
fn follow_latency(sinkd: &str, data: &str, port: u16, count: usize) -> anyhow::Result<Vec<f64>> {
    let mut child = Command::new(sinkd)
        .args(["follow", DEVICE, "--data-dir", data])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .context("cannot start sinkd follow")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = mpsc::channel::<(Instant, String)>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    let result = (|| -> anyhow::Result<Vec<f64>> {
        std::thread::sleep(Duration::from_millis(1500));
        let mut connection = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port)))?;
        let mut latencies = Vec::new();
        for n in 0..count {
            let marker = format!("FOLLOW-{n}-{}", std::process::id());
            let now = jiff::Timestamp::now();
            let line = format!("<134>1 {now} {DEVICE} bench - - - {marker}\n");
            let sent = Instant::now();
            connection.write_all(line.as_bytes())?;
            loop {
                let (at, line) = rx
                    .recv_timeout(Duration::from_secs(10))
                    .with_context(|| format!("{marker} not followed within 10 s"))?;
                if line.contains(&marker) {
                    latencies.push(at.duration_since(sent).as_secs_f64());
                    break;
                }
            }
            // Irregular gaps, so the sends fall at every phase of the
            // server's flush and follow's poll.
            std::thread::sleep(Duration::from_millis(300 + (n as u64 * 370) % 900));
        }
        Ok(latencies)
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}
