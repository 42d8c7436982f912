//! One `sinkd-load` run: options in, a [`Summary`] out.
//!
//! [`run`] checks the target is loopback, compiles the optional priority
//! expression, generates the [`Pool`], opens every connection (TLS
//! handshakes included) *before* the clock starts, then runs one sender
//! thread per connection over its share of the message indices. The main
//! thread draws a progress line on a terminal. The summary records what was
//! sent, how fast, how many of those messages the priority expression
//! selects (what a server filtering with it should write), and for UDP the
//! sends the kernel refused plus the machine's UDP receive-buffer drops
//! during the run (`/proc/net/snmp`, `/proc/net/snmp6`).
//!
//! Start and end are also given as `CLOCK_MONOTONIC` nanoseconds, a clock
//! every process on the machine shares, so `sinkd-compare` can measure
//! end-to-end time from the first send to the last byte a server wrote.

use crate::pool::{Pool, PoolOptions, SizeClass};
use crate::send::{self, Counters, Framing, SendPlan, Stop, TlsFiles};
use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};
use sinkd_route::{PriorityTable, Templates};
use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[cfg(test)]
mod tests;

/// Most connections (and sender threads) a run may open.
pub const MAX_CONNECTIONS: usize = 1024;

/// The wire transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Tls,
    Udp,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Udp => "udp",
        }
    }
}

/// Everything a run needs.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Must be loopback; see `target.rs`.
    pub target: SocketAddr,
    pub transport: Transport,
    /// TCP/TLS framing (ignored for UDP).
    pub framing: Framing,
    /// Connections (TCP/TLS) or sockets (UDP), each with its own thread.
    pub connections: usize,
    /// Total messages per second; `None` sends flat out.
    pub rate: Option<f64>,
    /// Messages to send at most.
    pub count: u64,
    /// Time to send at most.
    pub duration: Duration,
    pub size: SizeClass,
    pub devices: u32,
    pub seed: u64,
    /// Priority expression whose passing messages are counted.
    pub priority: Option<String>,
    /// Required for TLS.
    pub tls: Option<TlsFiles>,
    /// Datagrams per `sendmmsg` call.
    pub udp_batch: usize,
    /// Draw a progress line on stderr (only if it is a terminal).
    pub progress: bool,
}

/// What a run did; printed as text or, with `--json`, as one JSON object.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub transport: Transport,
    pub framing: Option<String>,
    pub target: String,
    pub connections: usize,
    pub devices: u32,
    pub size: SizeClass,
    pub seed: u64,
    pub rate_limit: Option<f64>,
    pub requested: u64,
    pub duration_limit_seconds: f64,
    /// Messages handed to the kernel.
    pub sent: u64,
    /// Their bytes, without framing.
    pub bytes: u64,
    pub seconds: f64,
    /// Messages per second.
    pub rate: f64,
    pub mib_per_second: f64,
    /// `count` or `duration`: which bound ended the run.
    pub stopped_by: String,
    pub priority: Option<String>,
    /// Of the sent messages, how many `priority` selects.
    pub passing: Option<u64>,
    /// `sendmmsg` calls the kernel refused with EAGAIN (UDP only).
    pub udp_eagain: Option<u64>,
    /// `sendmmsg` calls the kernel refused with ENOBUFS (UDP only).
    pub udp_enobufs: Option<u64>,
    /// Machine-wide UDP receive-buffer drops during the run (UDP only):
    /// the datagrams some receiver had no room for.
    pub kernel_udp_rcvbuf_errors: Option<u64>,
    /// CLOCK_MONOTONIC at the first send and after the last, nanoseconds
    /// (before connections are closed).
    pub start_monotonic_ns: u64,
    pub end_monotonic_ns: u64,
}

/// CLOCK_MONOTONIC now, in nanoseconds: comparable across processes.
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec it is given.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now);
    }
    (now.tv_sec as u64).saturating_mul(1_000_000_000) + now.tv_nsec as u64
}

/// Reads a counter from `/proc/net/snmp`'s header/value line pairs.
pub fn parse_snmp(text: &str, protocol: &str, field: &str) -> Option<u64> {
    let mut lines = text.lines();
    while let Some(header) = lines.next() {
        let Some(names) = header
            .strip_prefix(protocol)
            .and_then(|r| r.strip_prefix(':'))
        else {
            continue;
        };
        let values = lines.next()?;
        let values = values.strip_prefix(protocol)?.strip_prefix(':')?;
        let position = names.split_whitespace().position(|n| n == field)?;
        return values.split_whitespace().nth(position)?.parse().ok();
    }
    None
}

/// Reads a counter from `/proc/net/snmp6`'s `Name value` lines.
pub fn parse_snmp6(text: &str, field: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next()? == field).then(|| words.next()?.parse().ok())?
    })
}

/// Machine-wide UDP receive-buffer errors, IPv4 plus IPv6.
pub fn udp_rcvbuf_errors() -> u64 {
    let v4 = std::fs::read_to_string("/proc/net/snmp")
        .ok()
        .and_then(|t| parse_snmp(&t, "Udp", "RcvbufErrors"))
        .unwrap_or(0);
    let v6 = std::fs::read_to_string("/proc/net/snmp6")
        .ok()
        .and_then(|t| parse_snmp6(&t, "Udp6RcvbufErrors"))
        .unwrap_or(0);
    v4 + v6
}

/// Splits `count` messages into `parts` contiguous ranges (first, len).
pub fn split_ranges(count: u64, parts: usize) -> Vec<(u64, u64)> {
    let parts = parts.max(1) as u64;
    let base = count / parts;
    let extra = count % parts;
    let mut first = 0;
    (0..parts)
        .map(|part| {
            let len = base + u64::from(part < extra);
            let range = (first, len);
            first += len;
            range
        })
        .collect()
}

fn check(options: &LoadOptions) -> anyhow::Result<()> {
    if !options.target.ip().is_loopback() {
        bail!("refusing non-loopback target {}", options.target);
    }
    if options.count == 0 {
        bail!("--count must be at least 1");
    }
    if options.duration.is_zero() {
        bail!("--duration must be positive");
    }
    if !(1..=MAX_CONNECTIONS).contains(&options.connections) {
        bail!("--connections must be 1 to {MAX_CONNECTIONS}");
    }
    if options.devices == 0 {
        bail!("--devices must be at least 1");
    }
    if let Some(rate) = options.rate {
        if !(rate.is_finite() && rate > 0.0) {
            bail!("--rate must be a positive number of messages per second");
        }
    }
    if options.transport == Transport::Tls && options.tls.is_none() {
        bail!("TLS needs --ca (the CA that signed the server's certificate)");
    }
    Ok(())
}

/// An open connection, ready to send.
enum Connection {
    Udp(std::net::UdpSocket),
    Tcp(std::net::TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>>),
}

fn open_connections(options: &LoadOptions) -> anyhow::Result<Vec<Connection>> {
    let tls_config = match (&options.transport, &options.tls) {
        (Transport::Tls, Some(files)) => Some(send::tls_client_config(files)?),
        _ => None,
    };
    (0..options.connections)
        .map(|_| {
            Ok(match options.transport {
                Transport::Udp => Connection::Udp(send::udp_socket(options.target)?),
                Transport::Tcp => Connection::Tcp(send::tcp_connect(options.target)?),
                Transport::Tls => {
                    let (Some(config), Some(files)) = (&tls_config, &options.tls) else {
                        bail!("TLS needs --ca");
                    };
                    Connection::Tls(Box::new(send::tls_connect(
                        options.target,
                        config,
                        &files.server_name,
                    )?))
                }
            })
        })
        .collect()
}

/// Sends one connection's share; returns why it stopped and when its last
/// message went out (before the polite close, which may wait for the
/// server).
fn run_one(
    connection: &mut Connection,
    plan: &SendPlan<'_>,
    options: &LoadOptions,
    counters: &Counters,
) -> anyhow::Result<(Stop, Instant, u64)> {
    match connection {
        Connection::Udp(socket) => {
            let stop = send::send_udp(socket, plan, options.udp_batch, counters)?;
            Ok((stop, Instant::now(), monotonic_ns()))
        }
        Connection::Tcp(stream) => {
            let stop = send::send_stream(stream, plan, options.framing, counters)?;
            let (done, done_ns) = (Instant::now(), monotonic_ns());
            send::tcp_close(stream);
            Ok((stop, done, done_ns))
        }
        Connection::Tls(stream) => {
            let stop = send::send_stream(stream.as_mut(), plan, options.framing, counters)?;
            let (done, done_ns) = (Instant::now(), monotonic_ns());
            send::tls_close(stream);
            Ok((stop, done, done_ns))
        }
    }
}

fn draw_progress(counters: &Counters, started: Instant, total: u64) {
    let sent = counters.sent.load(Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    let percent = sent as f64 * 100.0 / total.max(1) as f64;
    let mut stderr = std::io::stderr().lock();
    let _ = write!(
        stderr,
        "\r{sent:>12} / {total} sent ({percent:5.1}%), {:>10.0} msg/s, {seconds:6.1}s ",
        sent as f64 / seconds
    );
    let _ = stderr.flush();
}

/// Runs the load described by `options` and returns its summary.
pub fn run(options: &LoadOptions) -> anyhow::Result<Summary> {
    check(options)?;
    let table: Option<PriorityTable> = match &options.priority {
        Some(text) => Some(
            sinkd_route::compile(text, &Templates::with_defaults())
                .with_context(|| format!("--priority {text:?}"))?,
        ),
        None => None,
    };
    let pool = Pool::generate(&PoolOptions {
        seed: options.seed,
        devices: options.devices,
        size: options.size,
        entries: PoolOptions::entries_for(options.count, options.devices, options.size),
        base_time: jiff::Timestamp::now(),
    });
    if pool.is_empty() {
        bail!("the message pool came out empty");
    }
    let mut connections = open_connections(options)?;
    let counters = Counters::default();
    let ranges = split_ranges(options.count, connections.len());
    let per_sender_rate = options.rate.map(|r| r / connections.len() as f64);
    let show_progress = options.progress && std::io::stderr().is_terminal();
    let kernel_before = udp_rcvbuf_errors();
    let start_monotonic_ns = monotonic_ns();
    let started = Instant::now();
    let deadline = started + options.duration;
    let outcomes: Vec<anyhow::Result<(Stop, Instant, u64)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = connections
            .iter_mut()
            .zip(&ranges)
            .map(|(connection, (first, len))| {
                let plan = SendPlan {
                    pool: &pool,
                    table: table.as_ref(),
                    first: *first,
                    count: *len,
                    deadline,
                    rate: per_sender_rate,
                };
                let counters = &counters;
                scope.spawn(move || run_one(connection, &plan, options, counters))
            })
            .collect();
        if show_progress {
            while handles.iter().any(|h| !h.is_finished()) {
                draw_progress(&counters, started, options.count);
                std::thread::sleep(Duration::from_millis(200));
            }
            draw_progress(&counters, started, options.count);
            eprintln!();
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a sender thread panicked")))
            })
            .collect()
    });
    drop(connections);
    let mut stopped_by = "count";
    let mut last_send = started;
    let mut end_monotonic_ns = start_monotonic_ns;
    for outcome in outcomes {
        let (stop, done, done_ns) = outcome?;
        if stop == Stop::Deadline {
            stopped_by = "duration";
        }
        last_send = last_send.max(done);
        end_monotonic_ns = end_monotonic_ns.max(done_ns);
    }
    let seconds = last_send.duration_since(started).as_secs_f64();
    let sent = counters.sent.load(Ordering::Relaxed);
    let bytes = counters.bytes.load(Ordering::Relaxed);
    let udp = options.transport == Transport::Udp;
    Ok(Summary {
        transport: options.transport,
        framing: (!udp).then(|| options.framing.name().to_string()),
        target: options.target.to_string(),
        connections: options.connections,
        devices: options.devices,
        size: options.size,
        seed: options.seed,
        rate_limit: options.rate,
        requested: options.count,
        duration_limit_seconds: options.duration.as_secs_f64(),
        sent,
        bytes,
        seconds,
        rate: sent as f64 / seconds.max(1e-9),
        mib_per_second: bytes as f64 / (1024.0 * 1024.0) / seconds.max(1e-9),
        stopped_by: stopped_by.to_string(),
        priority: options.priority.clone(),
        passing: table
            .as_ref()
            .map(|_| counters.passing.load(Ordering::Relaxed)),
        udp_eagain: udp.then(|| counters.udp_eagain.load(Ordering::Relaxed)),
        udp_enobufs: udp.then(|| counters.udp_enobufs.load(Ordering::Relaxed)),
        kernel_udp_rcvbuf_errors: udp.then(|| udp_rcvbuf_errors().saturating_sub(kernel_before)),
        start_monotonic_ns,
        end_monotonic_ns,
    })
}

impl Summary {
    /// The human-readable summary.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "sent {} {} messages ({} bytes) to {} in {:.3}s: {:.0} msg/s, {:.1} MiB/s (stopped by {})\n",
            self.sent,
            self.transport.name(),
            self.bytes,
            self.target,
            self.seconds,
            self.rate,
            self.mib_per_second,
            self.stopped_by
        );
        if let (Some(priority), Some(passing)) = (&self.priority, self.passing) {
            text.push_str(&format!("{passing} of them pass {priority:?}\n"));
        }
        if let (Some(eagain), Some(enobufs)) = (self.udp_eagain, self.udp_enobufs) {
            text.push_str(&format!(
                "kernel refused sends: {eagain} EAGAIN, {enobufs} ENOBUFS; UDP receive-buffer drops on this machine during the run: {}\n",
                self.kernel_udp_rcvbuf_errors.unwrap_or(0)
            ));
        }
        text
    }
}
