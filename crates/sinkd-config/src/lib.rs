//! sinkd's configuration: TOML in, typed and validated settings out.
//!
//! Loading goes in two steps, like ripgrep's LowArgs → HiArgs: `raw.rs`
//! deserializes the keys exactly as written (unknown keys are errors), then
//! [`Config::from_toml`] checks every value in context — priority
//! expressions against the templates, targets in the device's vocabulary
//! (`file PATH`, `udp|tcp|tls address HOST[:PORT]`), TLS files, CIDRs — and
//! produces a [`Config`] in which nothing is a string that still needs
//! checking. Every error names its line. The runtime crates never see TOML:
//! the binary maps these settings onto each component's own config struct.
//! `docs/config.md` documents every key and default.

mod import;
mod raw;
pub mod units;

pub use import::{import_device_config, ImportError};

use ipnet::IpNet;
use raw::{RawConfig, RawListen, RawSink, RawStorage};
use sinkd_proto::format::OutputFormat;
pub use sinkd_proto::framing::Framing;
use sinkd_route::{PriorityTable, Templates};
use sinkd_store::PathTemplate;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use toml::Spanned;

/// The configuration `sinkd` runs when started without `--config`.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

/// A configuration error, with the 1-based line it points at when known.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    #[error("line {line}: {message}")]
    Invalid { line: usize, message: String },
    #[error("{0}")]
    Global(String),
}

/// What a PEM file named by the configuration must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PemKind {
    /// One or more CERTIFICATE blocks.
    Certificates,
    /// A private key.
    PrivateKey,
}

/// A listener's transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListenTransport {
    Tcp,
    Tls,
    Udp,
}

impl ListenTransport {
    /// The default port: 514 for UDP and TCP, 6514 for TLS (RFC 5425).
    pub fn default_port(self) -> u16 {
        match self {
            ListenTransport::Tcp | ListenTransport::Udp => 514,
            ListenTransport::Tls => 6514,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ListenTransport::Tcp => "tcp",
            ListenTransport::Tls => "tls",
            ListenTransport::Udp => "udp",
        }
    }
}

/// Stream framing of a TCP/TLS listener (RFC 6587).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FramingChoice {
    /// Decided per connection from its first byte.
    Auto,
    /// One message per line.
    Lf,
    /// `LEN SP MSG`.
    OctetCounting,
}

/// Certificate files of a TLS listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by this CA.
    pub client_ca: Option<PathBuf>,
}

/// One `[[listen]]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct Listener {
    pub transport: ListenTransport,
    pub address: SocketAddr,
    /// Sources allowed to send; empty allows everyone.
    pub allow: Vec<IpNet>,
    /// UDP socket receive buffer (SO_RCVBUF).
    pub recv_buffer: u64,
    /// UDP datagrams read per `recvmmsg` call.
    pub batch_size: usize,
    /// UDP receive threads (sockets sharing the port with SO_REUSEPORT); 0 = one per worker.
    pub threads: usize,
    pub framing: FramingChoice,
    /// Largest accepted message in bytes.
    pub max_frame: usize,
    /// A TCP/TLS connection that sends nothing this long is closed.
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub tls: Option<TlsFiles>,
}

/// Where a sink sends what it selects.
#[derive(Clone, Debug)]
pub enum Target {
    /// `file PATH`: per-device segment directories under `data_dir`.
    File(PathTemplate),
    /// `udp|tcp|tls address HOST[:PORT]`: a relay.
    Relay(RelayTarget),
}

/// A relay destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayTarget {
    pub transport: ListenTransport,
    pub host: String,
    pub port: u16,
}

/// What a full relay spool does (`overflow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayOverflow {
    /// Delete the oldest spooled messages (counted) to make room.
    DropOldest,
    /// Keep the spool and drop (and count) new messages.
    RefuseNew,
}

/// TLS settings of a `tls address` relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayTls {
    /// CA certificates (PEM) the target's certificate must chain to.
    pub ca: PathBuf,
    /// Client certificate chain and key (PEM), both or neither.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Name the target's certificate must carry; `None` means the host.
    pub server_name: Option<String>,
}

/// The relay settings of a `udp|tcp|tls address` sink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayOptions {
    /// TCP/TLS framing: octet counting unless `framing = "lf"`.
    pub framing: Framing,
    /// Present exactly for `tls address` targets.
    pub tls: Option<RelayTls>,
    /// Messages held in memory before spilling to the disk spool.
    pub queue_memory: usize,
    /// Bytes the disk spool may occupy.
    pub queue_disk: u64,
    pub overflow: RelayOverflow,
    /// Connection attempt / no-progress timeout.
    pub send_timeout: Duration,
}

/// Default relay `queue_memory` (messages).
pub const DEFAULT_RELAY_QUEUE_MEMORY: usize = 100_000;
/// Default relay `queue_disk`: 1G.
pub const DEFAULT_RELAY_QUEUE_DISK: u64 = 1 << 30;
/// Default relay `send_timeout`.
pub const DEFAULT_RELAY_SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Smallest relay `queue_disk`: 8 spool segments of 64 KiB.
pub const MIN_RELAY_QUEUE_DISK: u64 = 512 * 1024;

/// One `[[sink]]` table.
#[derive(Clone, Debug)]
pub struct Sink {
    /// Metric label and log name: `name`, or `sink-N` by position like the device.
    pub name: String,
    pub target: Target,
    /// The target as written, for display.
    pub target_text: String,
    /// The priority as written (canonical form is in `table`).
    pub priority_text: String,
    pub table: PriorityTable,
    pub format: OutputFormat,
    /// Relay settings; `Some` exactly when the target is a relay.
    pub relay: Option<RelayOptions>,
}

/// When segment files are fsynced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncSetting {
    /// After every batch a writer writes.
    Batch,
    /// At most this often per file, and at shutdown.
    Interval(Duration),
    /// Only at rotation and shutdown; the page cache is trusted.
    Never,
}

/// The `[storage]` table: how file sinks write segments.
#[derive(Clone, Debug, PartialEq)]
pub struct Storage {
    pub rotate_size: u64,
    pub rotate_count: usize,
    pub rotate_age: Option<Duration>,
    pub fsync: FsyncSetting,
    pub flush_interval: Duration,
    /// 0 = chosen from the process's descriptor limit.
    pub max_open_files: usize,
    pub max_buffered: u64,
    pub compression_level: i32,
    /// 0 = chosen from the number of cores.
    pub writer_threads: usize,
}

/// A validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Address of `/metrics` and `/healthz`; `None` when disabled.
    pub metrics: Option<SocketAddr>,
    /// Worker threads; 0 = one per core.
    pub workers: usize,
    pub listeners: Vec<Listener>,
    pub templates: Templates,
    pub sinks: Vec<Sink>,
    pub storage: Storage,
}

/// Default maximum frame: 64 KiB, the largest UDP payload and plenty for TCP.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;

struct Checker<'s> {
    source: &'s str,
}

impl Checker<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.source
            .as_bytes()
            .iter()
            .take(offset)
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    fn invalid(&self, span: std::ops::Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            line: self.line_of(span.start),
            message: message.into(),
        }
    }
}

impl Config {
    /// The embedded default configuration.
    pub fn default_config() -> Config {
        // The embedded text is covered by a test; failing here would be a
        // build-time mistake, not an input error.
        #[allow(clippy::expect_used)]
        Config::from_toml(DEFAULT_CONFIG).expect("the embedded default configuration is valid")
    }

    /// Reads and validates a configuration file's text.
    pub fn from_toml(source: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(source)?;
        let checker = Checker { source };
        let data_dir = raw
            .data_dir
            .map(|dir| PathBuf::from(dir.into_inner()))
            .unwrap_or_else(|| PathBuf::from("./sinkd-data"));
        let metrics =
            match &raw.metrics {
                None => Some(SocketAddr::from(([127, 0, 0, 1], 9514))),
                Some(text) if matches!(text.get_ref().as_str(), "" | "off" | "false") => None,
                Some(text) => Some(parse_socket_addr(text.get_ref(), 9514).map_err(|message| {
                    checker.invalid(text.span(), format!("metrics: {message}"))
                })?),
            };
        let workers = raw.workers.map(Spanned::into_inner).unwrap_or(0);
        let listeners = raw
            .listen
            .iter()
            .map(|listen| check_listener(&checker, listen))
            .collect::<Result<Vec<_>, _>>()?;
        check_unique_listeners(&checker, &raw.listen, &listeners)?;
        let mut templates = Templates::with_defaults();
        for (name, body) in &raw.templates {
            templates.define(name, body.get_ref()).map_err(|error| {
                checker.invalid(body.span(), format!("template {name:?}: {error}"))
            })?;
        }
        let mut sinks = Vec::with_capacity(raw.sink.len());
        for (index, sink) in raw.sink.iter().enumerate() {
            let checked = check_sink(&checker, sink, index, &templates)?;
            if let Some(previous) = sinks.iter().find(|s: &&Sink| s.name == checked.name) {
                return Err(checker.invalid(
                    sink.span(),
                    format!(
                        "sink name {:?} is used twice (first for {:?})",
                        checked.name, previous.target_text
                    ),
                ));
            }
            if let Some(previous) = sinks
                .iter()
                .find(|s: &&Sink| s.target_text == checked.target_text)
            {
                return Err(checker.invalid(
                    sink.span(),
                    format!(
                        "target {:?} is already used by sink {:?}; as on the device, a target cannot be shared by two sinks",
                        checked.target_text, previous.name
                    ),
                ));
            }
            sinks.push(checked);
        }
        let storage = check_storage(&checker, &raw.storage)?;
        Ok(Config {
            data_dir,
            metrics,
            workers,
            listeners,
            templates,
            sinks,
            storage,
        })
    }

    /// Every PEM file the configuration names that sinkd reads only later
    /// (TLS certificates, keys and CAs of listeners and relays), each with
    /// a description of who needs it and what it must hold.
    pub fn referenced_files(&self) -> Vec<(String, &std::path::Path, PemKind)> {
        let mut files = Vec::new();
        for listener in &self.listeners {
            let Some(tls) = &listener.tls else { continue };
            let who = format!("tls listener on {}", listener.address);
            files.push((
                format!("{who}: cert"),
                tls.cert.as_path(),
                PemKind::Certificates,
            ));
            files.push((
                format!("{who}: key"),
                tls.key.as_path(),
                PemKind::PrivateKey,
            ));
            if let Some(ca) = &tls.client_ca {
                files.push((
                    format!("{who}: client_ca"),
                    ca.as_path(),
                    PemKind::Certificates,
                ));
            }
        }
        for sink in &self.sinks {
            let Some(tls) = sink.relay.as_ref().and_then(|relay| relay.tls.as_ref()) else {
                continue;
            };
            let who = format!("sink {:?}", sink.name);
            files.push((
                format!("{who}: ca"),
                tls.ca.as_path(),
                PemKind::Certificates,
            ));
            if let Some((cert, key)) = &tls.client_cert {
                files.push((
                    format!("{who}: cert"),
                    cert.as_path(),
                    PemKind::Certificates,
                ));
                files.push((format!("{who}: key"), key.as_path(), PemKind::PrivateKey));
            }
        }
        files
    }

    /// Reads every file of [`Config::referenced_files`] as the server will
    /// (through `sinkd-tls`), so a configuration that passes `check-config`
    /// does not fail later at start or at a relay's first connection.
    pub fn check_files(&self) -> Result<(), ConfigError> {
        for (who, path, kind) in self.referenced_files() {
            let result = match kind {
                PemKind::Certificates => sinkd_tls::read_certificates(path).map(|_| ()),
                PemKind::PrivateKey => sinkd_tls::read_private_key(path).map(|_| ()),
            };
            if let Err(reason) = result {
                return Err(ConfigError::Global(format!(
                    "{who}: cannot use {}: {reason}",
                    path.display()
                )));
            }
        }
        Ok(())
    }

    /// Reads and validates a configuration file.
    pub fn from_file(path: &std::path::Path) -> Result<Config, ConfigError> {
        let source = std::fs::read_to_string(path).map_err(|error| {
            ConfigError::Global(format!("cannot read {}: {error}", path.display()))
        })?;
        Config::from_toml(&source)
    }
}

/// Reads `IP:PORT`, `[IPv6]:PORT`, `:PORT` or a bare `PORT` (all
/// addresses), or a bare IP (default port).
fn parse_socket_addr(text: &str, default_port: u16) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    if let Ok(ip) = text
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, default_port));
    }
    let port_text = text.strip_prefix(':').unwrap_or(text);
    if let Ok(port) = port_text.parse::<u16>() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    Err(format!(
        "invalid address {text:?}: expected IP:PORT, [IPv6]:PORT or PORT"
    ))
}

fn check_listener(
    checker: &Checker<'_>,
    listen: &Spanned<RawListen>,
) -> Result<Listener, ConfigError> {
    let raw = listen.get_ref();
    let transport = match raw.transport.get_ref().as_str() {
        "udp" => ListenTransport::Udp,
        "tcp" => ListenTransport::Tcp,
        "tls" => ListenTransport::Tls,
        other => {
            return Err(checker.invalid(
                raw.transport.span(),
                format!("unknown transport {other:?}: expected udp, tcp or tls"),
            ))
        }
    };
    let address = match &raw.address {
        Some(text) => parse_socket_addr(text.get_ref(), transport.default_port())
            .map_err(|message| checker.invalid(text.span(), message))?,
        None => SocketAddr::from(([0, 0, 0, 0], transport.default_port())),
    };
    let mut allow = Vec::with_capacity(raw.allow.len());
    for entry in &raw.allow {
        let text = entry.get_ref().trim();
        let net = text
            .parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| {
                checker.invalid(
                    entry.span(),
                    format!("allow: {text:?} is not an IP address or CIDR (e.g. 10.0.0.0/8)"),
                )
            })?;
        allow.push(net);
    }
    let stream_only = |key: &str, present: bool, span: std::ops::Range<usize>| {
        if present && transport == ListenTransport::Udp {
            Err(checker.invalid(
                span,
                format!("{key} applies to tcp and tls listeners, not udp"),
            ))
        } else {
            Ok(())
        }
    };
    stream_only("framing", raw.framing.is_some(), listen.span())?;
    stream_only("idle_timeout", raw.idle_timeout.is_some(), listen.span())?;
    stream_only(
        "max_connections",
        raw.max_connections.is_some(),
        listen.span(),
    )?;
    if transport != ListenTransport::Udp {
        for (key, present) in [
            ("recv_buffer", raw.recv_buffer.is_some()),
            ("batch_size", raw.batch_size.is_some()),
            ("threads", raw.threads.is_some()),
        ] {
            if present {
                return Err(checker.invalid(
                    listen.span(),
                    format!("{key} applies to udp listeners only"),
                ));
            }
        }
    }
    let framing = match &raw.framing {
        None => FramingChoice::Auto,
        Some(text) => match text.get_ref().as_str() {
            "auto" => FramingChoice::Auto,
            "lf" => FramingChoice::Lf,
            "octet-counting" => FramingChoice::OctetCounting,
            other => {
                return Err(checker.invalid(
                    text.span(),
                    format!("unknown framing {other:?}: expected auto, lf or octet-counting"),
                ))
            }
        },
    };
    let max_frame = match &raw.max_frame {
        None => DEFAULT_MAX_FRAME,
        Some(size) => {
            let bytes = size.get_ref().0;
            if !(480..=16 * 1024 * 1024).contains(&bytes) {
                return Err(checker.invalid(
                    size.span(),
                    "max_frame must be between 480 bytes (RFC 5426's minimum) and 16M",
                ));
            }
            bytes as usize
        }
    };
    let tls = check_tls(checker, listen, transport)?;
    let positive = |value: &Option<Spanned<usize>>, key: &str, default: usize| match value {
        None => Ok(default),
        Some(v) if *v.get_ref() == 0 => {
            Err(checker.invalid(v.span(), format!("{key} must be at least 1")))
        }
        Some(v) => Ok(*v.get_ref()),
    };
    Ok(Listener {
        transport,
        address,
        allow,
        recv_buffer: raw.recv_buffer.map(|size| size.0).unwrap_or(32 << 20),
        batch_size: positive(&raw.batch_size, "batch_size", 64)?.min(1024),
        threads: raw.threads.as_ref().map(|t| *t.get_ref()).unwrap_or(0),
        framing,
        max_frame,
        idle_timeout: raw
            .idle_timeout
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(3600)),
        max_connections: positive(&raw.max_connections, "max_connections", 4096)?,
        tls,
    })
}

fn check_tls(
    checker: &Checker<'_>,
    listen: &Spanned<RawListen>,
    transport: ListenTransport,
) -> Result<Option<TlsFiles>, ConfigError> {
    let raw = listen.get_ref();
    if transport != ListenTransport::Tls {
        if let Some(key) = [
            ("cert", &raw.cert),
            ("key", &raw.key),
            ("client_ca", &raw.client_ca),
        ]
        .iter()
        .find(|(_, value)| value.is_some())
        {
            return Err(checker.invalid(
                listen.span(),
                format!("{} applies to tls listeners only", key.0),
            ));
        }
        return Ok(None);
    }
    let (Some(cert), Some(key)) = (&raw.cert, &raw.key) else {
        return Err(checker.invalid(
            listen.span(),
            "a tls listener needs cert and key (PEM files: the server certificate chain and its private key)",
        ));
    };
    Ok(Some(TlsFiles {
        cert: PathBuf::from(cert.get_ref()),
        key: PathBuf::from(key.get_ref()),
        client_ca: raw.client_ca.as_ref().map(|ca| PathBuf::from(ca.get_ref())),
    }))
}

fn check_unique_listeners(
    checker: &Checker<'_>,
    raw: &[Spanned<RawListen>],
    listeners: &[Listener],
) -> Result<(), ConfigError> {
    for (index, listener) in listeners.iter().enumerate() {
        let udp = listener.transport == ListenTransport::Udp;
        if let Some(previous) = listeners[..index].iter().find(|other| {
            other.address == listener.address && (other.transport == ListenTransport::Udp) == udp
        }) {
            return Err(checker.invalid(
                raw[index].span(),
                format!(
                    "{} listener on {} clashes with the {} listener on the same address",
                    listener.transport.name(),
                    listener.address,
                    previous.transport.name()
                ),
            ));
        }
    }
    Ok(())
}

/// Reads a target in the device's syntax.
pub fn parse_target(text: &str) -> Result<Target, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        ["file", path] => PathTemplate::parse(path)
            .map(Target::File)
            .map_err(|error| format!("file target {path:?}: {error}")),
        ["file", media, path] => Err(format!(
            "file target: media names ({media:?}) are a device feature; on the server write `file {path}` (relative to data_dir)"
        )),
        [transport @ ("udp" | "tcp" | "tls"), "dhcp"] => Err(format!(
            "`{transport} dhcp` takes the server from a DHCP lease on the device; on the server name it: `{transport} address HOST[:PORT]`"
        )),
        [transport @ ("udp" | "tcp" | "tls"), "address", host_port] => {
            let transport = match *transport {
                "udp" => ListenTransport::Udp,
                "tcp" => ListenTransport::Tcp,
                _ => ListenTransport::Tls,
            };
            let (host, port) = split_host_port(host_port, transport.default_port())?;
            Ok(Target::Relay(RelayTarget { transport, host, port }))
        }
        _ => Err(format!(
            "unknown target {text:?}: expected `file PATH`, `udp address HOST[:PORT]`, `tcp address HOST[:PORT]` or `tls address HOST[:PORT]`"
        )),
    }
}

fn split_host_port(text: &str, default_port: u16) -> Result<(String, u16), String> {
    let bad_port = |port: &str| format!("invalid port {port:?} in {text:?}");
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("unclosed [ in address {text:?}"))?;
        let port = match after.strip_prefix(':') {
            Some(port) => port.parse().map_err(|_| bad_port(port))?,
            None if after.is_empty() => default_port,
            None => return Err(format!("unexpected {after:?} after ] in {text:?}")),
        };
        return Ok((host.to_string(), port));
    }
    if text.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok((text.to_string(), default_port));
    }
    match text.rsplit_once(':') {
        Some((host, port)) => Ok((host.to_string(), port.parse().map_err(|_| bad_port(port))?)),
        None if !text.is_empty() => Ok((text.to_string(), default_port)),
        None => Err("empty address".to_string()),
    }
}

fn check_sink(
    checker: &Checker<'_>,
    sink: &Spanned<RawSink>,
    index: usize,
    templates: &Templates,
) -> Result<Sink, ConfigError> {
    let raw = sink.get_ref();
    let target_text = raw
        .target
        .get_ref()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let target = parse_target(&target_text)
        .map_err(|message| checker.invalid(raw.target.span(), message))?;
    let (priority_text, table) = match &raw.priority {
        None => ("*.*".to_string(), PriorityTable::all()),
        Some(text) => {
            let table = sinkd_route::compile(text.get_ref(), templates).map_err(|error| {
                checker.invalid(
                    text.span(),
                    format!("priority {:?}: {error}", text.get_ref()),
                )
            })?;
            (text.get_ref().clone(), table)
        }
    };
    let format = match &raw.format {
        None => OutputFormat::Rfc3164,
        Some(text) => text
            .get_ref()
            .parse::<OutputFormat>()
            .map_err(|error| checker.invalid(text.span(), error.to_string()))?,
    };
    let name = match &raw.name {
        Some(name) => {
            let text = name.get_ref();
            if text.is_empty()
                || text.len() > 64
                || !text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                return Err(checker.invalid(
                    name.span(),
                    format!("sink name {text:?}: use 1 to 64 letters, digits, '-', '_' or '.'"),
                ));
            }
            text.clone()
        }
        None => format!("sink-{}", index + 1),
    };
    let relay = check_relay(checker, sink, &target)?;
    Ok(Sink {
        name,
        target,
        target_text,
        priority_text,
        table,
        format,
        relay,
    })
}

/// The relay keys of a sink: errors for keys a file sink or the target's
/// transport cannot use, defaults for the rest.
fn check_relay(
    checker: &Checker<'_>,
    sink: &Spanned<RawSink>,
    target: &Target,
) -> Result<Option<RelayOptions>, ConfigError> {
    let raw = sink.get_ref();
    let span_of = |value: Option<std::ops::Range<usize>>| value.unwrap_or_else(|| sink.span());
    let present: [(&str, Option<std::ops::Range<usize>>); 9] = [
        ("framing", raw.framing.as_ref().map(Spanned::span)),
        ("ca", raw.ca.as_ref().map(Spanned::span)),
        ("cert", raw.cert.as_ref().map(Spanned::span)),
        ("key", raw.key.as_ref().map(Spanned::span)),
        ("server_name", raw.server_name.as_ref().map(Spanned::span)),
        ("queue_memory", raw.queue_memory.as_ref().map(Spanned::span)),
        ("queue_disk", raw.queue_disk.as_ref().map(Spanned::span)),
        ("overflow", raw.overflow.as_ref().map(Spanned::span)),
        ("send_timeout", raw.send_timeout.as_ref().map(Spanned::span)),
    ];
    let Target::Relay(relay_target) = target else {
        if let Some((key, span)) = present.iter().find(|(_, span)| span.is_some()) {
            return Err(checker.invalid(
                span_of(span.clone()),
                format!("{key} applies to relay sinks (udp|tcp|tls address), not file sinks"),
            ));
        }
        return Ok(None);
    };
    let transport = relay_target.transport;
    if transport == ListenTransport::Udp {
        if let Some(span) = &present[0].1 {
            return Err(checker.invalid(
                span.clone(),
                "framing applies to tcp and tls relays; udp sends one message per datagram",
            ));
        }
    }
    if transport != ListenTransport::Tls {
        if let Some((key, span)) = present[1..5].iter().find(|(_, span)| span.is_some()) {
            return Err(checker.invalid(
                span_of(span.clone()),
                format!("{key} applies to tls relays only"),
            ));
        }
    }
    let framing = match &raw.framing {
        None => Framing::OctetCounting,
        Some(text) => match text.get_ref().as_str() {
            "octet-counting" => Framing::OctetCounting,
            "lf" => Framing::NonTransparent,
            other => {
                return Err(checker.invalid(
                    text.span(),
                    format!("unknown framing {other:?}: expected octet-counting or lf"),
                ))
            }
        },
    };
    let tls = if transport == ListenTransport::Tls {
        let Some(ca) = &raw.ca else {
            return Err(checker.invalid(
                sink.span(),
                "a tls relay needs ca (PEM file of the CA certificates the target's certificate must chain to)",
            ));
        };
        let client_cert = match (&raw.cert, &raw.key) {
            (Some(cert), Some(key)) => {
                Some((PathBuf::from(cert.get_ref()), PathBuf::from(key.get_ref())))
            }
            (None, None) => None,
            (Some(cert), None) => {
                return Err(checker.invalid(
                    cert.span(),
                    "cert needs key (the client certificate's private key)",
                ))
            }
            (None, Some(key)) => {
                return Err(
                    checker.invalid(key.span(), "key needs cert (the client certificate chain)")
                )
            }
        };
        let server_name = match &raw.server_name {
            Some(name) if name.get_ref().trim().is_empty() => {
                return Err(checker.invalid(name.span(), "server_name must not be empty"))
            }
            Some(name) => Some(name.get_ref().trim().to_owned()),
            None => None,
        };
        Some(RelayTls {
            ca: PathBuf::from(ca.get_ref()),
            client_cert,
            server_name,
        })
    } else {
        None
    };
    let queue_memory = match &raw.queue_memory {
        None => DEFAULT_RELAY_QUEUE_MEMORY,
        Some(n) if (1..=100_000_000).contains(n.get_ref()) => *n.get_ref(),
        Some(n) => {
            return Err(checker.invalid(n.span(), "queue_memory must be 1 to 100000000 messages"))
        }
    };
    let queue_disk = match &raw.queue_disk {
        None => DEFAULT_RELAY_QUEUE_DISK,
        Some(size) if size.get_ref().0 >= MIN_RELAY_QUEUE_DISK => size.get_ref().0,
        Some(size) => return Err(checker.invalid(size.span(), "queue_disk must be at least 512k")),
    };
    let overflow = match &raw.overflow {
        None => RelayOverflow::DropOldest,
        Some(text) => match text.get_ref().as_str() {
            "drop-oldest" => RelayOverflow::DropOldest,
            "refuse-new" => RelayOverflow::RefuseNew,
            other => {
                return Err(checker.invalid(
                    text.span(),
                    format!("unknown overflow {other:?}: expected drop-oldest or refuse-new"),
                ))
            }
        },
    };
    let send_timeout = match &raw.send_timeout {
        None => DEFAULT_RELAY_SEND_TIMEOUT,
        Some(timeout) if timeout.get_ref().0 >= Duration::from_millis(100) => timeout.get_ref().0,
        Some(timeout) => {
            return Err(checker.invalid(timeout.span(), "send_timeout must be at least 100ms"))
        }
    };
    Ok(Some(RelayOptions {
        framing,
        tls,
        queue_memory,
        queue_disk,
        overflow,
        send_timeout,
    }))
}

fn check_storage(checker: &Checker<'_>, raw: &RawStorage) -> Result<Storage, ConfigError> {
    let fsync = match &raw.fsync {
        None => FsyncSetting::Interval(Duration::from_secs(1)),
        Some(text) => match text.get_ref().as_str() {
            "never" => FsyncSetting::Never,
            "batch" => FsyncSetting::Batch,
            other => units::parse_duration(other)
                .map(FsyncSetting::Interval)
                .map_err(|_| {
                    checker.invalid(
                        text.span(),
                        format!("fsync {other:?}: expected \"never\", \"batch\" or an interval such as \"1s\""),
                    )
                })?,
        },
    };
    let compression_level = match &raw.compression_level {
        None => 3,
        Some(level) if (1..=19).contains(level.get_ref()) => *level.get_ref(),
        Some(level) => {
            return Err(checker.invalid(level.span(), "compression_level must be 1 to 19 (zstd)"))
        }
    };
    let max_open_files = raw
        .max_open_files
        .as_ref()
        .map(|n| *n.get_ref())
        .unwrap_or(0);
    Ok(Storage {
        rotate_size: raw.rotate_size.map(|s| s.0).unwrap_or(10 << 20).max(4096),
        rotate_count: raw.rotate_count.unwrap_or(10),
        rotate_age: raw.rotate_age.map(|d| d.0),
        fsync,
        flush_interval: raw
            .flush_interval
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(1)),
        max_open_files,
        max_buffered: raw.max_buffered.map(|s| s.0).unwrap_or(32 << 20),
        compression_level,
        writer_threads: raw
            .writer_threads
            .as_ref()
            .map(|t| *t.get_ref())
            .unwrap_or(0),
    })
}

#[cfg(test)]
mod tests;
