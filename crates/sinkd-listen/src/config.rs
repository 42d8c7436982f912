//! Listener settings as plain data: [`UdpConfig`], [`StreamConfig`] and
//! [`TlsConfig`].
//!
//! This crate owns the listener settings, their defaults (the `DEFAULT_*`
//! constants, used by the `new(address)` constructors) and their ranges
//! (the `*_LIMIT` and `MIN_*` constants): `sinkd-config` maps each
//! `[[listen]]` table of the TOML file onto one of these structs, starting
//! from `new(address)`, so a table only needs the keys it changes. The
//! values are checked once when a listener is bound (or an update is
//! prepared), with errors that name the setting; after that the listeners
//! trust them. The structs compare with `==`, so a reload can tell a
//! listener whose settings did not change.

use crate::allow::AllowList;
use crate::error::ListenError;
use crate::ratelimit::RateLimit;
use sinkd_metrics::Transport;
use sinkd_proto::framing::Framing;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The syslog port of UDP (RFC 5426) and TCP (RFC 6587) listeners.
pub const DEFAULT_PORT: u16 = 514;
/// The syslog port of TLS listeners (RFC 5425).
pub const DEFAULT_TLS_PORT: u16 = 6514;
/// The port of RELP listeners (rsyslog's `omrelp` has no default; 2514 is
/// the customary one).
pub const DEFAULT_RELP_PORT: u16 = 2514;
/// Default SO_RCVBUF of a UDP socket. Linux doubles the request for its
/// bookkeeping and charges each small datagram about 1.3 KB, so 32 MiB holds
/// some 50,000 typical messages: 140 ms of a 350,000 msg/s burst while the
/// workers are busy creating a thousand new devices' files (8 MiB lost 3-4%
/// of such a burst). Only datagrams actually waiting use the memory.
pub const DEFAULT_UDP_RECV_BUFFER: usize = 32 * 1024 * 1024;
/// Default number of datagrams one `recvmmsg` call may return. Flat out
/// (170,000 datagrams a second on loopback) a call then takes about 210
/// instead of 60, a third as many calls and worker wake-ups. The receive
/// buffers take `batch_size` × `max_frame` of address space per thread, of
/// which only the pages datagrams reach are touched: 1 MiB for small ones.
pub const DEFAULT_UDP_BATCH_SIZE: usize = 256;
/// Default largest frame: 64 KiB, which holds any UDP datagram.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;
/// Smallest `max_frame`: 480 bytes, what RFC 5426 §3.2 requires every
/// receiver to accept.
pub const MIN_MAX_FRAME: usize = 480;
/// Default number of UDP receive threads: 0, one per worker queue,
/// resolved when the listener is bound ([`crate::bind_udp`]).
pub const DEFAULT_UDP_THREADS: usize = 0;
/// Most UDP receive threads (sockets) of one listener.
pub const UDP_THREADS_LIMIT: usize = 1024;
/// Largest UDP `max_frame`: no datagram is longer than 64 KiB.
pub const UDP_MAX_FRAME_LIMIT: usize = 64 * 1024;
/// Largest `recvmmsg` batch (the kernel's UIO_MAXIOV).
pub const UDP_BATCH_SIZE_LIMIT: usize = 1024;
/// Largest stream `max_frame`: 16 MiB.
pub const STREAM_MAX_FRAME_LIMIT: usize = 16 * 1024 * 1024;
/// Default idle timeout of a stream connection.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);
/// Default time a TLS client gets to complete its handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on open connections per stream listener.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default most connections open at once from one source address.
pub const DEFAULT_MAX_CONNECTIONS_PER_SOURCE: usize = 256;

/// A UDP listener (RFC 5426).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpConfig {
    /// Where to listen, such as `0.0.0.0:514`.
    pub address: SocketAddr,
    /// Sources allowed to send; datagrams from others are dropped and
    /// counted as `not_allowed`. Empty allows all.
    pub allow: AllowList,
    /// Requested SO_RCVBUF of each socket, in bytes. The kernel caps it at
    /// `net.core.rmem_max` unless sinkd runs as root (then SO_RCVBUFFORCE is
    /// used); a shortfall is logged at start.
    pub recv_buffer: usize,
    /// Datagrams read per `recvmmsg` call (1 to 1024).
    pub batch_size: usize,
    /// Largest datagram kept whole (480 to 65536 bytes). A longer datagram is
    /// kept *truncated* to this size, as RFC 5424 §6.1 recommends (a log line
    /// cut short is worth more than none); with the default of 64 KiB no
    /// datagram is ever cut.
    pub max_frame: usize,
    /// Receive threads, each with its own SO_REUSEPORT socket on `address`;
    /// the kernel spreads senders across them by address hash. 0 (the
    /// default) means one per worker queue, resolved when the listener is
    /// bound; at most 1024.
    pub threads: usize,
    /// Per-source limit: datagrams over it are dropped and counted as
    /// `rate_limited`. `None` (the default): no limit.
    pub rate_limit: Option<RateLimit>,
}

impl UdpConfig {
    /// The defaults: allow all, 32 MiB buffer, batches of 256, 64 KiB frames,
    /// one thread per worker queue (`threads` 0).
    pub fn new(address: SocketAddr) -> UdpConfig {
        UdpConfig {
            address,
            allow: AllowList::default(),
            recv_buffer: DEFAULT_UDP_RECV_BUFFER,
            batch_size: DEFAULT_UDP_BATCH_SIZE,
            max_frame: DEFAULT_MAX_FRAME,
            threads: DEFAULT_UDP_THREADS,
            rate_limit: None,
        }
    }

    /// The number of receive threads for `n_queues` worker queues:
    /// `threads`, or `n_queues` (at most 1024) when `threads` is 0.
    pub fn resolved_threads(&self, n_queues: usize) -> usize {
        if self.threads == 0 {
            n_queues.clamp(1, UDP_THREADS_LIMIT)
        } else {
            self.threads
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ListenError> {
        let error = |setting, reason| ListenError::Config {
            transport: "udp",
            setting,
            reason,
        };
        if !(1..=UDP_BATCH_SIZE_LIMIT).contains(&self.batch_size) {
            return Err(error("batch_size", "must be between 1 and 1024"));
        }
        if !(MIN_MAX_FRAME..=UDP_MAX_FRAME_LIMIT).contains(&self.max_frame) {
            return Err(error("max_frame", "must be between 480 and 65536 bytes"));
        }
        if self.threads > UDP_THREADS_LIMIT {
            return Err(error(
                "threads",
                "must be between 1 and 1024, or 0 for one per worker",
            ));
        }
        Ok(())
    }
}

/// Certificates of a TLS listener (RFC 5425), as PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// The server's certificate chain, leaf first.
    pub cert: PathBuf,
    /// The server's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates that client certificates must chain to. When set,
    /// every client must present a valid certificate.
    pub client_ca: Option<PathBuf>,
}

impl TlsConfig {
    /// Server authentication only; no client certificates asked for.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> TlsConfig {
        TlsConfig {
            cert: cert.into(),
            key: key.into(),
            client_ca: None,
        }
    }
}

/// A TCP (RFC 6587) or, with `tls` set, TLS (RFC 5425) listener; with
/// `relp` set, a RELP listener (over TLS when `tls` is set too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamConfig {
    /// Where to listen, such as `0.0.0.0:514`.
    pub address: SocketAddr,
    /// Sources allowed to connect; others are disconnected at once and
    /// counted. Empty allows all.
    pub allow: AllowList,
    /// How messages are delimited; `None` detects it per connection from
    /// the first byte (a digit means octet counting).
    pub framing: Option<Framing>,
    /// Largest message (480 bytes to 16 MiB). Longer LF-framed lines are dropped
    /// and counted as `frame_too_large`, and the connection goes on; an
    /// octet-counted frame claiming more closes the connection, as the stream
    /// can no longer be trusted.
    pub max_frame: usize,
    /// A connection that sends nothing for this long is closed. The default
    /// of one hour is long on purpose: a sender often learns of a close only
    /// by losing the next message it writes, and TCP keepalive already
    /// clears away peers that vanished. `Duration::ZERO` disables it.
    pub idle_timeout: Duration,
    /// Time a TLS client gets to finish its handshake.
    pub handshake_timeout: Duration,
    /// Most connections open at once. When all are taken, the oldest
    /// connection that has not yet delivered a frame (nor finished its TLS
    /// handshake) is closed to make room (counted as `evicted`); when every
    /// open one has delivered, the newcomer is closed at once (counted as
    /// `limit_reached`).
    pub max_connections: usize,
    /// Most connections open at once from one source address; past it the
    /// source's own oldest silent connection makes room, else the newcomer
    /// is closed (counted as `source_limit`).
    pub max_connections_per_source: usize,
    /// Serve TLS with these certificates instead of plain TCP.
    pub tls: Option<TlsConfig>,
    /// Per-source limit: a connection whose source is over it is read more
    /// slowly (nothing is dropped). `None` (the default): no limit.
    pub rate_limit: Option<RateLimit>,
    /// Speak RELP (rsyslog's `omrelp`) instead of RFC 6587 syslog: every
    /// message is acknowledged once it is stored. `framing` does not apply.
    pub relp: bool,
}

impl StreamConfig {
    /// A plain TCP listener with the defaults: allow all, detect framing,
    /// 64 KiB frames, one hour idle timeout, 4096 connections.
    pub fn new(address: SocketAddr) -> StreamConfig {
        StreamConfig {
            address,
            allow: AllowList::default(),
            framing: None,
            max_frame: DEFAULT_MAX_FRAME,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_source: DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
            tls: None,
            rate_limit: None,
            relp: false,
        }
    }

    /// A RELP listener with the same defaults (plain TCP; set `tls` for
    /// RELP over TLS).
    pub fn new_relp(address: SocketAddr) -> StreamConfig {
        StreamConfig {
            relp: true,
            ..StreamConfig::new(address)
        }
    }

    /// A TLS listener with the same defaults.
    pub fn new_tls(address: SocketAddr, tls: TlsConfig) -> StreamConfig {
        StreamConfig {
            tls: Some(tls),
            ..StreamConfig::new(address)
        }
    }

    /// `tcp`, `tls`, `relp` or `relp_tls`.
    pub fn transport_name(&self) -> &'static str {
        self.transport().label()
    }

    /// The metric label of the listener's connections and messages.
    pub fn transport(&self) -> Transport {
        match (self.relp, self.tls.is_some()) {
            (false, false) => Transport::Tcp,
            (false, true) => Transport::Tls,
            (true, false) => Transport::Relp,
            (true, true) => Transport::RelpTls,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ListenError> {
        let error = |setting, reason| ListenError::Config {
            transport: self.transport_name(),
            setting,
            reason,
        };
        if !(MIN_MAX_FRAME..=STREAM_MAX_FRAME_LIMIT).contains(&self.max_frame) {
            return Err(error("max_frame", "must be between 480 bytes and 16 MiB"));
        }
        if self.max_connections == 0 {
            return Err(error("max_connections", "must be at least 1"));
        }
        if self.max_connections_per_source == 0 {
            return Err(error("max_connections_per_source", "must be at least 1"));
        }
        if self.handshake_timeout.is_zero() {
            return Err(error("handshake_timeout", "must be longer than zero"));
        }
        Ok(())
    }
}

/// One listener of any transport: what a `[[listen]]` table describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenerConfig {
    /// `transport = "udp"`.
    Udp(UdpConfig),
    /// `transport = "tcp"`, or `"tls"` when its `tls` is set.
    Stream(StreamConfig),
}

impl ListenerConfig {
    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        match self {
            ListenerConfig::Udp(udp) => udp.address,
            ListenerConfig::Stream(stream) => stream.address,
        }
    }

    /// `udp`, `tcp`, `tls`, `relp` or `relp_tls`.
    pub fn transport_name(&self) -> &'static str {
        match self {
            ListenerConfig::Udp(_) => "udp",
            ListenerConfig::Stream(stream) => stream.transport_name(),
        }
    }

    /// The sources it admits; empty admits all.
    pub fn allow(&self) -> &AllowList {
        match self {
            ListenerConfig::Udp(udp) => &udp.allow,
            ListenerConfig::Stream(stream) => &stream.allow,
        }
    }

    /// The default port of a transport: 514 for UDP and TCP, 6514 for TLS
    /// (RFC 5425), 2514 for RELP.
    pub fn default_port(transport: &str) -> u16 {
        match transport {
            "tls" => DEFAULT_TLS_PORT,
            "relp" => DEFAULT_RELP_PORT,
            _ => DEFAULT_PORT,
        }
    }
}
