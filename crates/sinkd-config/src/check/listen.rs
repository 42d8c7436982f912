//! `[[listen]]` tables into `sinkd-listen`'s [`ListenerConfig`]: the
//! transport, the address (default port by transport), the allow list, and
//! the keys that apply to UDP or to TCP/TLS/RELP only (RELP is a stream
//! listener that speaks RELP, over TLS when given `cert` and `key`). A key left out keeps the
//! listen crate's default ([`UdpConfig::new`], [`StreamConfig::new`]).

use super::{keyword, parse_socket_addr, Checker};
use crate::model::ConfigError;
use crate::raw::RawListen;
use ipnet::IpNet;
use sinkd_listen::{
    AllowList, Framing, ListenerConfig, RateLimit, StreamConfig, TlsConfig, UdpConfig,
    UDP_BATCH_SIZE_LIMIT, UDP_MAX_FRAME_LIMIT, UDP_THREADS_LIMIT,
};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use toml::Spanned;

/// Smallest `max_frame`: RFC 5426's minimum datagram every receiver must
/// accept.
const MIN_MAX_FRAME: u64 = 480;
/// Largest `max_frame` of any transport.
const MAX_MAX_FRAME: u64 = sinkd_listen::STREAM_MAX_FRAME_LIMIT as u64;

pub(super) fn check_listener(
    checker: &Checker<'_>,
    listen: &Spanned<RawListen>,
) -> Result<ListenerConfig, ConfigError> {
    let raw = listen.get_ref();
    let transport = raw.transport.get_ref().as_str();
    if !matches!(transport, "udp" | "tcp" | "tls" | "relp") {
        return Err(checker.invalid(
            raw.transport.span(),
            format!("unknown transport {transport:?}: expected udp, tcp, tls or relp"),
        ));
    }
    let relp = transport == "relp";
    if relp {
        if let Some(framing) = &raw.framing {
            return Err(checker.invalid(
                framing.span(),
                "framing applies to tcp and tls listeners, not relp (RELP frames itself)",
            ));
        }
    }
    let udp = transport == "udp";
    let default_port = ListenerConfig::default_port(transport);
    let address = match &raw.address {
        Some(text) => parse_socket_addr(text.get_ref(), default_port)
            .map_err(|message| checker.invalid(text.span(), message))?,
        None => SocketAddr::from(([0, 0, 0, 0], default_port)),
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
    let allow = AllowList::new(allow);
    // Keys of the other kind of listener.
    let (foreign, applies_to) = if udp {
        (
            vec![
                ("framing", raw.framing.is_some()),
                ("idle_timeout", raw.idle_timeout.is_some()),
                ("max_connections", raw.max_connections.is_some()),
                (
                    "max_connections_per_source",
                    raw.max_connections_per_source.is_some(),
                ),
                ("handshake_timeout", raw.handshake_timeout.is_some()),
            ],
            "tcp and tls (and relp) listeners, not udp",
        )
    } else {
        (
            vec![
                ("recv_buffer", raw.recv_buffer.is_some()),
                ("batch_size", raw.batch_size.is_some()),
                ("threads", raw.threads.is_some()),
            ],
            "udp listeners only",
        )
    };
    if let Some((key, _)) = foreign.iter().find(|(_, present)| *present) {
        return Err(checker.invalid(listen.span(), format!("{key} applies to {applies_to}")));
    }
    let max_frame = match &raw.max_frame {
        None => None,
        Some(size) => {
            let bytes = size.get_ref().0;
            if !(MIN_MAX_FRAME..=MAX_MAX_FRAME).contains(&bytes) {
                return Err(checker.invalid(
                    size.span(),
                    "max_frame must be between 480 bytes (RFC 5426's minimum) and 16M",
                ));
            }
            Some(bytes as usize)
        }
    };
    let tls = check_tls(checker, listen, transport)?;
    let positive = |value: &Option<Spanned<usize>>, key: &str| match value {
        Some(v) if *v.get_ref() == 0 => {
            Err(checker.invalid(v.span(), format!("{key} must be at least 1")))
        }
        Some(v) => Ok(Some(*v.get_ref())),
        None => Ok(None),
    };
    let rate_limit = match (&raw.rate_limit, &raw.rate_burst) {
        (None, None) => None,
        (None, Some(burst)) => {
            return Err(checker.invalid(burst.span(), "rate_burst needs rate_limit too"));
        }
        (Some(text), burst) => {
            let per_hour = RateLimit::parse_rate(text.get_ref())
                .map_err(|message| checker.invalid(text.span(), format!("rate_limit {message}")))?;
            let burst = match burst {
                None => RateLimit::default_burst(per_hour),
                Some(burst) => u32::try_from(*burst.get_ref())
                    .ok()
                    .filter(|burst| *burst >= 1)
                    .ok_or_else(|| {
                        checker.invalid(burst.span(), "rate_burst must be 1 to 4294967295")
                    })?,
            };
            Some(RateLimit { per_hour, burst })
        }
    };
    if udp {
        let mut config = UdpConfig::new(address);
        config.allow = allow;
        config.rate_limit = rate_limit;
        if let Some(size) = raw.recv_buffer {
            config.recv_buffer = size.0 as usize;
        }
        if let Some(batch_size) = positive(&raw.batch_size, "batch_size")? {
            config.batch_size = batch_size.min(UDP_BATCH_SIZE_LIMIT);
        }
        if let Some(threads) = &raw.threads {
            if *threads.get_ref() > UDP_THREADS_LIMIT {
                return Err(
                    checker.invalid(threads.span(), "threads must be 0 (one per worker) to 1024")
                );
            }
            config.threads = *threads.get_ref();
        }
        if let Some(max_frame) = max_frame {
            // No datagram is longer; a larger setting means "whole datagrams".
            config.max_frame = max_frame.min(UDP_MAX_FRAME_LIMIT);
        }
        return Ok(ListenerConfig::Udp(config));
    }
    let mut config = StreamConfig::new(address);
    config.allow = allow;
    config.tls = tls;
    config.relp = relp;
    config.rate_limit = rate_limit;
    if let Some(text) = &raw.framing {
        config.framing = keyword(
            checker,
            "framing",
            text,
            &[
                ("auto", None),
                ("lf", Some(Framing::NonTransparent)),
                ("octet-counting", Some(Framing::OctetCounting)),
            ],
        )?;
    }
    if let Some(max_frame) = max_frame {
        config.max_frame = max_frame;
    }
    if let Some(timeout) = raw.idle_timeout {
        config.idle_timeout = timeout.0;
    }
    if let Some(max_connections) = positive(&raw.max_connections, "max_connections")? {
        config.max_connections = max_connections;
    }
    if let Some(per_source) = positive(
        &raw.max_connections_per_source,
        "max_connections_per_source",
    )? {
        config.max_connections_per_source = per_source;
    }
    if let Some(timeout) = &raw.handshake_timeout {
        if config.tls.is_none() {
            return Err(checker.invalid(
                timeout.span(),
                "handshake_timeout applies to tls listeners (and relp with cert and key) only",
            ));
        }
        if timeout.get_ref().0.is_zero() {
            return Err(
                checker.invalid(timeout.span(), "handshake_timeout must be longer than zero")
            );
        }
        config.handshake_timeout = timeout.get_ref().0;
    }
    Ok(ListenerConfig::Stream(config))
}

fn check_tls(
    checker: &Checker<'_>,
    listen: &Spanned<RawListen>,
    transport: &str,
) -> Result<Option<TlsConfig>, ConfigError> {
    let raw = listen.get_ref();
    // RELP runs over TLS when it has a certificate and key.
    let relp_tls = transport == "relp" && (raw.cert.is_some() || raw.key.is_some());
    if transport != "tls" && !relp_tls {
        if let Some((key, _)) = [
            ("cert", &raw.cert),
            ("key", &raw.key),
            ("client_ca", &raw.client_ca),
        ]
        .iter()
        .find(|(_, value)| value.is_some())
        {
            return Err(checker.invalid(
                listen.span(),
                format!(
                    "{key} applies to tls listeners only (and to relp over tls, with cert and key)"
                ),
            ));
        }
        return Ok(None);
    }
    let (Some(cert), Some(key)) = (&raw.cert, &raw.key) else {
        return Err(checker.invalid(
            listen.span(),
            format!(
                "a {} needs cert and key (PEM files: the server certificate chain and its private key)",
                if transport == "tls" { "tls listener" } else { "relp listener over tls" }
            ),
        ));
    };
    let mut tls = TlsConfig::new(cert.get_ref(), key.get_ref());
    tls.client_ca = raw.client_ca.as_ref().map(|ca| PathBuf::from(ca.get_ref()));
    Ok(Some(tls))
}

/// Two stream listeners cannot share an address, nor two UDP ones; a UDP
/// and a stream listener can.
pub(super) fn check_unique_listeners(
    checker: &Checker<'_>,
    raw: &[Spanned<RawListen>],
    listeners: &[ListenerConfig],
) -> Result<(), ConfigError> {
    let is_udp = |listener: &ListenerConfig| matches!(listener, ListenerConfig::Udp(_));
    for (index, listener) in listeners.iter().enumerate() {
        if let Some(previous) = listeners[..index].iter().find(|other| {
            other.address() == listener.address() && is_udp(other) == is_udp(listener)
        }) {
            return Err(checker.invalid(
                raw[index].span(),
                format!(
                    "{} listener on {} clashes with the {} listener on the same address",
                    listener.transport_name(),
                    listener.address(),
                    previous.transport_name()
                ),
            ));
        }
    }
    Ok(())
}
