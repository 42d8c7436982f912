//! [`RelayConfig`]: everything one relay needs to run.
//!
//! This crate owns the relay settings and their defaults
//! ([`DEFAULT_QUEUE_MEMORY`] and the rest): `sinkd-config` checks the TOML
//! keys of a `[[sink]]` whose target is `udp|tcp|tls address HOST[:PORT]`
//! or `kafka address HOST:PORT[,HOST:PORT...] topic NAME` (whose own
//! settings are [`KafkaSettings`]) and builds this struct from them; [`RelayConfig::validate`] checks the
//! ranges again when a relay is prepared. Nothing here is a string that
//! still needs parsing except the host, which is resolved again on every
//! connection attempt so a DNS change reaches a running relay.
//! [`Relays`](crate::Relays) compares whole configs to decide whether a
//! reload may keep a running relay.

use crate::error::RelayError;
use sinkd_proto::framing::Framing;
use std::path::PathBuf;
use std::time::Duration;

/// How a relay reaches its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelayTransport {
    /// One stream connection, messages framed per RFC 6587.
    Tcp,
    /// TCP wrapped in TLS (RFC 5425), verified against a CA file.
    Tls,
    /// One datagram per message (RFC 5426).
    Udp,
    /// Records to a Kafka topic through librdkafka (idempotent producer,
    /// `acks=all`), keyed by device.
    Kafka,
}

impl RelayTransport {
    /// The name used in targets and logs: `tcp`, `tls`, `udp`, `kafka`.
    pub fn name(self) -> &'static str {
        match self {
            RelayTransport::Tcp => "tcp",
            RelayTransport::Tls => "tls",
            RelayTransport::Udp => "udp",
            RelayTransport::Kafka => "kafka",
        }
    }

    /// The port a target without one gets: 514 for UDP (RFC 5426) and TCP
    /// (RFC 6587), 6514 for TLS (RFC 5425), 9092 for a Kafka broker.
    pub fn default_port(self) -> u16 {
        match self {
            RelayTransport::Tcp | RelayTransport::Udp => 514,
            RelayTransport::Tls => 6514,
            RelayTransport::Kafka => 9092,
        }
    }
}

/// What happens when the disk spool has reached `queue_disk`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Overflow {
    /// Delete the oldest spool segment (its unsent messages are counted as
    /// dropped) to make room: recent messages win.
    DropOldest,
    /// Keep the spool as it is and count every new message as dropped:
    /// old messages win.
    RefuseNew,
}

impl Overflow {
    /// The configuration keyword: `drop-oldest` or `refuse-new`.
    pub fn name(self) -> &'static str {
        match self {
            Overflow::DropOldest => "drop-oldest",
            Overflow::RefuseNew => "refuse-new",
        }
    }
}

/// How a Kafka sink compresses its record batches (codecs built into
/// librdkafka, so none needs a system library).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Lz4,
    Snappy,
}

impl Compression {
    /// The configuration keyword, which is also librdkafka's name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Lz4 => "lz4",
            Compression::Snappy => "snappy",
        }
    }
}

/// What a Kafka sink needs beyond the relay settings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KafkaSettings {
    /// The bootstrap brokers, in order (host or address, port); the first
    /// is also the relay's `host` and `port`.
    pub brokers: Vec<(String, u16)>,
    /// The topic every record goes to.
    pub topic: String,
    /// Record batch compression.
    pub compression: Compression,
    /// How long the producer waits to fill a record batch (librdkafka's
    /// `linger.ms`).
    pub linger: Duration,
}

/// Default Kafka `compression`.
pub const DEFAULT_KAFKA_COMPRESSION: Compression = Compression::Lz4;
/// Default Kafka `linger`.
pub const DEFAULT_KAFKA_LINGER: Duration = Duration::from_millis(5);
/// Longest Kafka `linger`.
pub const MAX_KAFKA_LINGER: Duration = Duration::from_secs(10);

impl KafkaSettings {
    /// Settings for `topic` on `brokers`, with the default compression and
    /// linger.
    pub fn new(brokers: Vec<(String, u16)>, topic: &str) -> KafkaSettings {
        KafkaSettings {
            brokers,
            topic: topic.to_owned(),
            compression: DEFAULT_KAFKA_COMPRESSION,
            linger: DEFAULT_KAFKA_LINGER,
        }
    }

    /// `host:port,host:port`, as librdkafka's `bootstrap.servers` and the
    /// target take it.
    pub fn bootstrap_servers(&self) -> String {
        let mut text = String::new();
        for (index, (host, port)) in self.brokers.iter().enumerate() {
            if index > 0 {
                text.push(',');
            }
            text.push_str(&host_port(host, *port));
        }
        text
    }
}

/// Whether `topic` is a name Kafka accepts: 1 to 249 ASCII letters,
/// digits, `.`, `_` or `-`, and not `.` or `..`.
pub fn valid_topic(topic: &str) -> bool {
    (1..=249).contains(&topic.len())
        && topic != "."
        && topic != ".."
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The files of a TLS relay.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TlsClientFiles {
    /// PEM file of the CA certificates the target's certificate must chain
    /// to. There is no fallback to a system store: a relay trusts exactly
    /// what it is told to.
    pub ca: PathBuf,
    /// Client certificate chain and key (PEM), presented when the target
    /// asks for one; both or neither.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// The name the target's certificate must carry (DNS name or IP
    /// address); the host of the target when not configured.
    pub server_name: String,
}

/// One relay sink, as it runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RelayConfig {
    /// The sink's name: metric label, log field, and spool directory name.
    pub name: String,
    pub transport: RelayTransport,
    /// Host name or IP address of the target; names are resolved on every
    /// connection attempt.
    pub host: String,
    pub port: u16,
    /// Stream framing (TCP and TLS); octet counting unless configured.
    pub framing: Framing,
    /// Present exactly when `transport` is TLS.
    pub tls: Option<TlsClientFiles>,
    /// Present exactly when `transport` is Kafka (boxed: most relays are
    /// not).
    pub kafka: Option<Box<KafkaSettings>>,
    /// Messages held in memory (queued or sent and unacknowledged) before
    /// new ones spill to the disk spool.
    pub queue_memory: usize,
    /// Bytes the disk spool may occupy.
    pub queue_disk: u64,
    /// What a full spool does.
    pub overflow: Overflow,
    /// A connection attempt (name lookup, connect, TLS handshake) that takes
    /// longer, or a connection that makes no progress writing or getting
    /// bytes acknowledged for this long, is abandoned and retried.
    pub send_timeout: Duration,
    /// The spool directory: `data_dir/.relay/<name>`.
    pub spool_dir: PathBuf,
}

/// Default `queue_memory`: messages held in memory before spilling.
pub const DEFAULT_QUEUE_MEMORY: usize = 100_000;
/// Default `queue_disk`: 1 GiB of disk spool.
pub const DEFAULT_QUEUE_DISK: u64 = 1 << 30;
/// Default `send_timeout`.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Smallest `queue_disk`: 8 spool segments of 64 KiB.
pub const MIN_QUEUE_DISK: u64 = 512 * 1024;

impl RelayConfig {
    /// A configuration with every default: octet counting, 100,000
    /// messages in memory, 1 GiB on disk, drop-oldest, 10 s timeout, spool
    /// under `data_dir/.relay/<name>`. TLS relays still need
    /// [`RelayConfig::tls`] set.
    pub fn new(
        name: &str,
        transport: RelayTransport,
        host: &str,
        port: u16,
        data_dir: &std::path::Path,
    ) -> RelayConfig {
        RelayConfig {
            name: name.to_owned(),
            transport,
            host: host.to_owned(),
            port,
            framing: Framing::OctetCounting,
            tls: None,
            kafka: None,
            queue_memory: DEFAULT_QUEUE_MEMORY,
            queue_disk: DEFAULT_QUEUE_DISK,
            overflow: Overflow::DropOldest,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            spool_dir: spool_dir(data_dir, name),
        }
    }

    /// A Kafka sink's configuration with every default (as
    /// [`RelayConfig::new`], the first broker as host and port).
    pub fn kafka(name: &str, settings: KafkaSettings, data_dir: &std::path::Path) -> RelayConfig {
        let (host, port) = settings
            .brokers
            .first()
            .cloned()
            .unwrap_or_else(|| (String::new(), RelayTransport::Kafka.default_port()));
        let mut config = RelayConfig::new(name, RelayTransport::Kafka, &host, port, data_dir);
        config.kafka = Some(Box::new(settings));
        config
    }

    /// Checks the ranges: `queue_memory` at least 1, `queue_disk` at least
    /// [`MIN_QUEUE_DISK`], a positive `send_timeout`, TLS files exactly
    /// for a TLS relay, and Kafka settings (brokers, a valid topic, linger
    /// within [`MAX_KAFKA_LINGER`]) exactly for a Kafka sink. The files
    /// themselves are read when the relay is prepared.
    pub fn validate(&self) -> Result<(), RelayError> {
        let invalid = |reason: &'static str| RelayError::InvalidConfig {
            sink: self.name.clone(),
            reason,
        };
        if self.queue_memory == 0 {
            return Err(invalid("queue_memory must be at least 1"));
        }
        if self.queue_disk < MIN_QUEUE_DISK {
            return Err(invalid("queue_disk must be at least 512K"));
        }
        if self.send_timeout.is_zero() {
            return Err(invalid("send_timeout must be positive"));
        }
        match (&self.kafka, self.transport) {
            (None, RelayTransport::Kafka) => return Err(invalid("a kafka sink needs a topic")),
            (Some(_), RelayTransport::Tcp | RelayTransport::Tls | RelayTransport::Udp) => {
                return Err(invalid("Kafka settings apply to kafka sinks only"))
            }
            (Some(kafka), RelayTransport::Kafka) => {
                if kafka.brokers.is_empty() {
                    return Err(invalid("a kafka sink needs at least one broker"));
                }
                if !valid_topic(&kafka.topic) {
                    return Err(invalid(
                        "a Kafka topic is 1 to 249 letters, digits, '.', '_' or '-'",
                    ));
                }
                if kafka.linger > MAX_KAFKA_LINGER {
                    return Err(invalid("linger must be at most 10s"));
                }
            }
            (None, _) => {}
        }
        match (&self.tls, self.transport) {
            (None, RelayTransport::Tls) => Err(invalid("a tls relay needs a CA file (ca)")),
            (Some(_), RelayTransport::Tcp | RelayTransport::Udp | RelayTransport::Kafka) => {
                Err(invalid("TLS files apply to tls relays only"))
            }
            _ => Ok(()),
        }
    }

    /// `transport address host:port` (for Kafka, every broker and `topic
    /// NAME`), as in the sink's target.
    pub fn target_text(&self) -> String {
        match &self.kafka {
            Some(kafka) => format!(
                "kafka address {} topic {}",
                kafka.bootstrap_servers(),
                kafka.topic
            ),
            None => format!(
                "{} address {}",
                self.transport.name(),
                host_port(&self.host, self.port)
            ),
        }
    }
}

/// `host:port`, with an IPv6 address in brackets.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The spool directory of the relay sink `name` under `data_dir`.
pub fn spool_dir(data_dir: &std::path::Path, name: &str) -> PathBuf {
    data_dir.join(".relay").join(name)
}
