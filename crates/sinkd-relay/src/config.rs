//! [`RelayConfig`]: everything one relay needs to run.
//!
//! This crate owns the relay settings and their defaults
//! ([`DEFAULT_QUEUE_MEMORY`] and the rest): `sinkd-config` checks the TOML
//! keys of a `[[sink]]` whose target is `udp|tcp|tls address HOST[:PORT]`
//! and builds this struct from them; [`RelayConfig::validate`] checks the
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
}

impl RelayTransport {
    /// The name used in targets and logs: `tcp`, `tls`, `udp`.
    pub fn name(self) -> &'static str {
        match self {
            RelayTransport::Tcp => "tcp",
            RelayTransport::Tls => "tls",
            RelayTransport::Udp => "udp",
        }
    }

    /// The port a target without one gets: 514 for UDP (RFC 5426) and TCP
    /// (RFC 6587), 6514 for TLS (RFC 5425).
    pub fn default_port(self) -> u16 {
        match self {
            RelayTransport::Tcp | RelayTransport::Udp => 514,
            RelayTransport::Tls => 6514,
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
            queue_memory: DEFAULT_QUEUE_MEMORY,
            queue_disk: DEFAULT_QUEUE_DISK,
            overflow: Overflow::DropOldest,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            spool_dir: spool_dir(data_dir, name),
        }
    }

    /// Checks the ranges: `queue_memory` at least 1, `queue_disk` at least
    /// [`MIN_QUEUE_DISK`], a positive `send_timeout`, and TLS files exactly
    /// for a TLS relay. The files themselves are read when the relay is
    /// prepared.
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
        match (&self.tls, self.transport) {
            (None, RelayTransport::Tls) => Err(invalid("a tls relay needs a CA file (ca)")),
            (Some(_), RelayTransport::Tcp | RelayTransport::Udp) => {
                Err(invalid("TLS files apply to tls relays only"))
            }
            _ => Ok(()),
        }
    }

    /// `transport address host:port`, as in the sink's target.
    pub fn target_text(&self) -> String {
        if self.host.contains(':') {
            format!(
                "{} address [{}]:{}",
                self.transport.name(),
                self.host,
                self.port
            )
        } else {
            format!(
                "{} address {}:{}",
                self.transport.name(),
                self.host,
                self.port
            )
        }
    }
}

/// The spool directory of the relay sink `name` under `data_dir`.
pub fn spool_dir(data_dir: &std::path::Path, name: &str) -> PathBuf {
    data_dir.join(".relay").join(name)
}
