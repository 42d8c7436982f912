//! `[[sink]]` tables into `sinkd-worker`'s [`SinkConfig`]: the target in
//! the device's syntax, the priority expression compiled against the
//! templates, the output format, the name, and — for a relay target — the
//! relay keys read into `sinkd-relay`'s [`RelayConfig`], starting from its
//! defaults ([`RelayConfig::new`], [`RelayConfig::kafka`] for `kafka
//! address HOST:PORT[,HOST:PORT...] topic NAME`, whose `compression` and
//! `linger` keys fill its [`KafkaSettings`]). Keys that the target's kind
//! cannot use are errors with their line.

use super::{keyword, split_host_port, Checker};
use crate::model::ConfigError;
use crate::raw::RawSink;
use sinkd_proto::format::OutputFormat;
use sinkd_proto::framing::Framing;
use sinkd_relay::{
    Compression, KafkaSettings, Overflow, RelayConfig, RelayTransport, TlsClientFiles,
    MAX_KAFKA_LINGER, MIN_QUEUE_DISK,
};
use sinkd_route::{PriorityTable, Templates};
use sinkd_store::PathTemplate;
use sinkd_worker::{SinkConfig, SinkFormat, Target};
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// Most messages a relay may hold in memory.
const MAX_QUEUE_MEMORY: usize = 100_000_000;
/// Shortest relay `send_timeout`.
const MIN_SEND_TIMEOUT: Duration = Duration::from_millis(100);

/// Reads a target in the device's syntax. A relay target becomes a
/// [`RelayConfig`] with every default, named `name`, spooling under
/// `data_dir`.
pub(crate) fn parse_target(text: &str, name: &str, data_dir: &Path) -> Result<Target, String> {
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
                "udp" => RelayTransport::Udp,
                "tcp" => RelayTransport::Tcp,
                _ => RelayTransport::Tls,
            };
            let (host, port) = split_host_port(host_port, transport.default_port())?;
            Ok(Target::Relay(RelayConfig::new(
                name, transport, &host, port, data_dir,
            )))
        }
        ["kafka", "address", brokers, "topic", topic] => {
            let brokers = brokers
                .split(',')
                .map(|broker| split_host_port(broker, RelayTransport::Kafka.default_port()))
                .collect::<Result<Vec<_>, _>>()?;
            if !sinkd_relay::valid_topic(topic) {
                return Err(format!(
                    "kafka topic {topic:?}: use 1 to 249 letters, digits, '.', '_' or '-'"
                ));
            }
            Ok(Target::Relay(RelayConfig::kafka(
                name,
                KafkaSettings::new(brokers, topic),
                data_dir,
            )))
        }
        ["kafka", ..] => Err(format!(
            "kafka target {text:?}: expected `kafka address HOST:PORT[,HOST:PORT...] topic NAME`"
        )),
        _ => Err(format!(
            "unknown target {text:?}: expected `file PATH`, `udp address HOST[:PORT]`, `tcp address HOST[:PORT]`, `tls address HOST[:PORT]` or `kafka address HOST:PORT[,HOST:PORT...] topic NAME`"
        )),
    }
}

pub(super) fn check_sink(
    checker: &Checker<'_>,
    sink: &Spanned<RawSink>,
    index: usize,
    templates: &Templates,
    data_dir: &Path,
) -> Result<SinkConfig, ConfigError> {
    let raw = sink.get_ref();
    let target_text = raw
        .target
        .get_ref()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    // The relay's name and spool follow once the name is checked, so errors
    // come in the order of the keys' importance: target, priority, format,
    // name.
    let mut target = parse_target(&target_text, "", data_dir)
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
    let is_kafka = matches!(&target, Target::Relay(relay) if relay.kafka.is_some());
    let format = match &raw.format {
        None => SinkFormat::Line(OutputFormat::Rfc3164),
        Some(text) if text.get_ref() == "json" => {
            if !is_kafka {
                return Err(checker.invalid(text.span(), "format json applies to kafka sinks only"));
            }
            SinkFormat::Json
        }
        Some(text) => SinkFormat::Line(
            text.get_ref()
                .parse::<OutputFormat>()
                .map_err(|error| checker.invalid(text.span(), error.to_string()))?,
        ),
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
    if let Target::Relay(relay) = &mut target {
        relay.name.clone_from(&name);
        relay.spool_dir = sinkd_relay::spool_dir(data_dir, &name);
    }
    match &mut target {
        Target::Relay(relay) => check_relay(checker, sink, relay)?,
        Target::File(_) => check_file(checker, sink)?,
    }
    check_kafka(checker, sink, &mut target)?;
    Ok(SinkConfig {
        name,
        target,
        target_text,
        priority_text,
        table,
        format,
    })
}

/// The relay keys of a sink, as written, with their spans.
fn relay_keys(raw: &RawSink) -> [(&'static str, Option<std::ops::Range<usize>>); 9] {
    [
        ("framing", raw.framing.as_ref().map(Spanned::span)),
        ("ca", raw.ca.as_ref().map(Spanned::span)),
        ("cert", raw.cert.as_ref().map(Spanned::span)),
        ("key", raw.key.as_ref().map(Spanned::span)),
        ("server_name", raw.server_name.as_ref().map(Spanned::span)),
        ("queue_memory", raw.queue_memory.as_ref().map(Spanned::span)),
        ("queue_disk", raw.queue_disk.as_ref().map(Spanned::span)),
        ("overflow", raw.overflow.as_ref().map(Spanned::span)),
        ("send_timeout", raw.send_timeout.as_ref().map(Spanned::span)),
    ]
}

/// A file sink takes none of the relay keys.
fn check_file(checker: &Checker<'_>, sink: &Spanned<RawSink>) -> Result<(), ConfigError> {
    match relay_keys(sink.get_ref())
        .into_iter()
        .find(|(_, span)| span.is_some())
    {
        Some((key, span)) => Err(checker.invalid(
            span.unwrap_or_else(|| sink.span()),
            format!("{key} applies to relay sinks (udp|tcp|tls address), not file sinks"),
        )),
        None => Ok(()),
    }
}

/// Reads the relay keys of a sink into `relay` (which holds the defaults):
/// errors for keys the target's transport cannot use.
fn check_relay(
    checker: &Checker<'_>,
    sink: &Spanned<RawSink>,
    relay: &mut RelayConfig,
) -> Result<(), ConfigError> {
    let raw = sink.get_ref();
    let present = relay_keys(raw);
    let span_of = |value: Option<std::ops::Range<usize>>| value.unwrap_or_else(|| sink.span());
    let transport = relay.transport;
    if let Some(span) = &present[0].1 {
        match transport {
            RelayTransport::Udp => {
                return Err(checker.invalid(
                    span.clone(),
                    "framing applies to tcp and tls relays; udp sends one message per datagram",
                ))
            }
            RelayTransport::Kafka => {
                return Err(checker.invalid(
                    span.clone(),
                    "framing applies to tcp and tls relays; kafka sends one record per message",
                ))
            }
            RelayTransport::Tcp | RelayTransport::Tls => {}
        }
    }
    if transport != RelayTransport::Tls {
        if let Some((key, span)) = present[1..5].iter().find(|(_, span)| span.is_some()) {
            return Err(checker.invalid(
                span_of(span.clone()),
                format!("{key} applies to tls relays only"),
            ));
        }
    }
    if let Some(text) = &raw.framing {
        relay.framing = keyword(
            checker,
            "framing",
            text,
            &[
                ("octet-counting", Framing::OctetCounting),
                ("lf", Framing::NonTransparent),
            ],
        )?;
    }
    if transport == RelayTransport::Tls {
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
            Some(name) => name.get_ref().trim().to_owned(),
            None => relay.host.clone(),
        };
        relay.tls = Some(TlsClientFiles {
            ca: PathBuf::from(ca.get_ref()),
            client_cert,
            server_name,
        });
    }
    if let Some(n) = &raw.queue_memory {
        if !(1..=MAX_QUEUE_MEMORY).contains(n.get_ref()) {
            return Err(checker.invalid(n.span(), "queue_memory must be 1 to 100000000 messages"));
        }
        relay.queue_memory = *n.get_ref();
    }
    if let Some(size) = &raw.queue_disk {
        if size.get_ref().0 < MIN_QUEUE_DISK {
            return Err(checker.invalid(size.span(), "queue_disk must be at least 512k"));
        }
        relay.queue_disk = size.get_ref().0;
    }
    if let Some(text) = &raw.overflow {
        relay.overflow = keyword(
            checker,
            "overflow",
            text,
            &[
                ("drop-oldest", Overflow::DropOldest),
                ("refuse-new", Overflow::RefuseNew),
            ],
        )?;
    }
    if let Some(timeout) = &raw.send_timeout {
        if timeout.get_ref().0 < MIN_SEND_TIMEOUT {
            return Err(checker.invalid(timeout.span(), "send_timeout must be at least 100ms"));
        }
        relay.send_timeout = timeout.get_ref().0;
    }
    Ok(())
}

/// Reads the Kafka keys (`compression`, `linger`) of a Kafka sink into its
/// settings; on any other sink they are errors.
fn check_kafka(
    checker: &Checker<'_>,
    sink: &Spanned<RawSink>,
    target: &mut Target,
) -> Result<(), ConfigError> {
    let raw = sink.get_ref();
    let Some(kafka) = (match target {
        Target::Relay(relay) => relay.kafka.as_mut(),
        Target::File(_) => None,
    }) else {
        let present = [
            ("compression", raw.compression.as_ref().map(Spanned::span)),
            ("linger", raw.linger.as_ref().map(Spanned::span)),
        ];
        return match present
            .into_iter()
            .find_map(|(key, span)| Some((key, span?)))
        {
            Some((key, span)) => {
                Err(checker.invalid(span, format!("{key} applies to kafka sinks only")))
            }
            None => Ok(()),
        };
    };
    if let Some(text) = &raw.compression {
        kafka.compression = keyword(
            checker,
            "compression",
            text,
            &[
                ("lz4", Compression::Lz4),
                ("snappy", Compression::Snappy),
                ("none", Compression::None),
            ],
        )?;
    }
    if let Some(linger) = &raw.linger {
        if linger.get_ref().0 > MAX_KAFKA_LINGER {
            return Err(checker.invalid(linger.span(), "linger must be at most 10s"));
        }
        kafka.linger = linger.get_ref().0;
    }
    Ok(())
}
