//! `sinkd-load`: sends a seeded, realistic syslog mix to one server on
//! loopback and reports what it sent.
//!
//! This file only turns command-line flags into [`LoadOptions`] and prints
//! the [`sinkd_load::load::Summary`]; the generator, the senders and the
//! loopback guard live in the library (`src/pool.rs`, `src/send.rs`,
//! `src/target.rs`). Every run is bounded twice: by `--count` and by
//! `--duration` (60 s unless given).

use clap::{Parser, ValueEnum};
use sinkd_load::load::{self, LoadOptions, Transport};
use sinkd_load::pool::SizeClass;
use sinkd_load::send::{Framing, TlsFiles};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TransportArg {
    Udp,
    Tcp,
    Tls,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FramingArg {
    Lf,
    OctetCounting,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SizeArg {
    /// About 200 bytes (150–250).
    Small,
    /// About 2 KiB (1900–2200 bytes).
    Large,
}

/// Load generator for syslog servers; sends only to loopback addresses.
#[derive(Parser, Debug)]
#[command(name = "sinkd-load", version, about)]
struct Args {
    /// Server address: 127.0.0.0/8, [::1] or localhost, with a port.
    #[arg(long, default_value = "127.0.0.1:514")]
    target: String,
    #[arg(long, value_enum, default_value = "udp")]
    transport: TransportArg,
    /// TCP/TLS framing (RFC 6587).
    #[arg(long, value_enum, default_value = "lf")]
    framing: FramingArg,
    /// TCP/TLS connections (UDP: sockets), one sender thread each.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Messages per second in total; omit to send flat out.
    #[arg(long)]
    rate: Option<f64>,
    /// Messages to send at most.
    #[arg(long, default_value_t = 100_000)]
    count: u64,
    /// Seconds to send at most.
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// Message size class.
    #[arg(long, value_enum, default_value = "small")]
    size: SizeArg,
    /// Distinct device hostnames.
    #[arg(long, default_value_t = 100)]
    devices: u32,
    /// Seed of the message mix.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Count how many sent messages this priority expression selects
    /// (device syntax, e.g. '*.notice;auth.*').
    #[arg(long)]
    priority: Option<String>,
    /// CA certificate (PEM) that signed the server's certificate (TLS).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Client certificate chain (PEM), for servers that require one.
    #[arg(long, requires = "client_key")]
    client_cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long, requires = "client_cert")]
    client_key: Option<PathBuf>,
    /// Name to check in the server certificate.
    #[arg(long, default_value = "localhost")]
    server_name: String,
    /// Datagrams per sendmmsg call (UDP).
    #[arg(long, default_value_t = 64)]
    udp_batch: usize,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
    /// No progress line, even on a terminal.
    #[arg(long)]
    quiet: bool,
}

fn options(args: &Args) -> anyhow::Result<LoadOptions> {
    let target = sinkd_load::target::loopback_target(&args.target)?;
    if !(args.duration.is_finite() && args.duration > 0.0 && args.duration <= 86_400.0) {
        anyhow::bail!("--duration must be between 0 and 86400 seconds");
    }
    Ok(LoadOptions {
        target,
        transport: match args.transport {
            TransportArg::Udp => Transport::Udp,
            TransportArg::Tcp => Transport::Tcp,
            TransportArg::Tls => Transport::Tls,
        },
        framing: match args.framing {
            FramingArg::Lf => Framing::Lf,
            FramingArg::OctetCounting => Framing::OctetCounting,
        },
        connections: args.connections,
        rate: args.rate,
        count: args.count,
        duration: Duration::from_secs_f64(args.duration),
        size: match args.size {
            SizeArg::Small => SizeClass::Small,
            SizeArg::Large => SizeClass::Large,
        },
        devices: args.devices,
        seed: args.seed,
        priority: args.priority.clone(),
        tls: args.ca.as_ref().map(|ca| TlsFiles {
            ca: ca.clone(),
            client: args.client_cert.clone().zip(args.client_key.clone()),
            server_name: args.server_name.clone(),
        }),
        udp_batch: args.udp_batch,
        progress: !args.quiet && !args.json,
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = options(&args).and_then(|options| load::run(&options));
    match result {
        Ok(summary) => {
            if args.json {
                match serde_json::to_string(&summary) {
                    Ok(text) => println!("{text}"),
                    Err(error) => {
                        eprintln!("sinkd-load: {error}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print!("{}", summary.to_text());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("sinkd-load: {error:#}");
            ExitCode::FAILURE
        }
    }
}
