//! From the raw TOML keys (`raw.rs`) to a [`Config`]: every value read in
//! context into its stage's settings type, every error with its line.
//!
//! One file per part of the file: `listen.rs` (`[[listen]]` into
//! `ListenerConfig`), `sink.rs` (`[[sink]]`, its target in the device's
//! syntax and a relay's keys, into `SinkConfig`), `storage.rs` (`data_dir`
//! and `[storage]` into `StoreConfig`), `http.rs` (`metrics` and `[http]`
//! into `HttpConfig`). This module runs them in order and
//! holds what they share: the line finder and the address readers.

mod http;
mod listen;
mod sink;
mod storage;

#[cfg(test)]
pub(crate) use sink::parse_target;

use crate::model::{Config, ConfigError, RunAs};
use crate::raw::RawConfig;
use sinkd_route::Templates;
use sinkd_worker::{SinkConfig, WorkerConfig};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use toml::Spanned;

/// Turns byte offsets of the source into line numbers for errors.
pub(crate) struct Checker<'s> {
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

    pub(crate) fn invalid(
        &self,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            line: self.line_of(span.start),
            message: message.into(),
        }
    }
}

/// Reads and validates a configuration file's text.
pub(crate) fn config(source: &str) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(source)?;
    let checker = Checker { source };
    let data_dir = match &raw.data_dir {
        None => PathBuf::from("./sinkd-data"),
        Some(dir) if dir.get_ref().trim().is_empty() => {
            return Err(checker.invalid(
                dir.span(),
                "data_dir: an empty path; name the directory sinkd stores into",
            ))
        }
        Some(dir) => PathBuf::from(dir.get_ref()),
    };
    let http = http::check_http(&checker, &raw)?;
    let run_as = check_run_as(&checker, &raw)?;
    let max_input_buffered =
        match &raw.max_input_buffered {
            None => sinkd_listen::DEFAULT_INPUT_BUDGET,
            Some(size) if size.get_ref().0 < 1024 * 1024 => return Err(checker.invalid(
                size.span(),
                "max_input_buffered must be at least 1M (connections need room for a frame each)",
            )),
            Some(size) => usize::try_from(size.get_ref().0).unwrap_or(usize::MAX),
        };
    let workers = WorkerConfig {
        threads: raw.workers.map(Spanned::into_inner).unwrap_or(0),
        ..WorkerConfig::default()
    };
    let listeners = raw
        .listen
        .iter()
        .map(|listen| listen::check_listener(&checker, listen))
        .collect::<Result<Vec<_>, _>>()?;
    listen::check_unique_listeners(&checker, &raw.listen, &listeners)?;
    let mut templates = Templates::with_defaults();
    for (name, body) in &raw.templates {
        templates
            .define(name, body.get_ref())
            .map_err(|error| checker.invalid(body.span(), format!("template {name:?}: {error}")))?;
    }
    let mut sinks: Vec<SinkConfig> = Vec::with_capacity(raw.sink.len());
    for (index, sink) in raw.sink.iter().enumerate() {
        let checked = sink::check_sink(&checker, sink, index, &templates, &data_dir)?;
        if let Some(previous) = sinks.iter().find(|s| s.name == checked.name) {
            return Err(checker.invalid(
                sink.span(),
                format!(
                    "sink name {:?} is used twice (first for {:?})",
                    checked.name, previous.target_text
                ),
            ));
        }
        if let Some(previous) = sinks.iter().find(|s| s.target_text == checked.target_text) {
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
    let storage = storage::check_storage(&checker, &raw.storage, data_dir)?;
    Ok(Config {
        http,
        run_as,
        workers,
        max_input_buffered,
        listeners,
        templates,
        sinks,
        storage,
    })
}

/// `user` and `group`: names only (looked up when sinkd starts, on the
/// machine it runs on); a group alone has no user to belong to.
fn check_run_as(checker: &Checker<'_>, raw: &RawConfig) -> Result<Option<RunAs>, ConfigError> {
    let name = |key: &str, value: &Spanned<String>| {
        let text = value.get_ref();
        let valid = !text.is_empty()
            && !text.starts_with('-')
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$'));
        if valid {
            Ok(text.clone())
        } else {
            Err(checker.invalid(
                value.span(),
                format!("{key}: {text:?} is not a user or group name"),
            ))
        }
    };
    match (&raw.user, &raw.group) {
        (None, None) => Ok(None),
        (None, Some(group)) => Err(checker.invalid(
            group.span(),
            "group: needs `user` too (the group sinkd switches to with that user)",
        )),
        (Some(user), group) => Ok(Some(RunAs {
            user: name("user", user)?,
            group: group
                .as_ref()
                .map(|group| name("group", group))
                .transpose()?,
        })),
    }
}

/// The value of `key` among its keywords: `choices` pairs each keyword
/// with what it means; anything else is an error at `text`'s line that
/// lists them.
pub(crate) fn keyword<T: Copy>(
    checker: &Checker<'_>,
    key: &str,
    text: &Spanned<String>,
    choices: &[(&str, T)],
) -> Result<T, ConfigError> {
    let written = text.get_ref().as_str();
    if let Some((_, value)) = choices.iter().find(|(name, _)| *name == written) {
        return Ok(*value);
    }
    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
    let expected = match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    Err(checker.invalid(
        text.span(),
        format!("unknown {key} {written:?}: expected {expected}"),
    ))
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

/// Reads a target's `HOST[:PORT]`, `[IPv6][:PORT]` or bare IPv6 address.
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
