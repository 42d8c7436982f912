//! The settings of the HTTP surface: where it listens, and how a client
//! other than loopback may read logs (a bearer token file, or TLS with
//! client certificates). `/metrics` and `/healthz` need neither.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// The default port of the http address.
pub const DEFAULT_PORT: u16 = 9514;

/// The default http address: loopback only.
pub const DEFAULT_ADDRESS: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), DEFAULT_PORT);

/// The `[http]` settings (and the top-level `metrics` address).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    /// Where `/metrics`, `/healthz` and `/api/v1/` are served.
    pub address: SocketAddr,
    /// A file whose content (surrounding whitespace aside) is the bearer
    /// token that opens the read API to any client presenting it.
    pub token_file: Option<PathBuf>,
    /// HTTPS instead of HTTP.
    pub tls: Option<HttpTlsConfig>,
}

/// HTTPS on the http address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpTlsConfig {
    /// The server's certificate chain (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// CAs whose client certificates open the read API (PEM). Clients
    /// without a certificate still get `/metrics` and `/healthz`.
    pub client_ca: Option<PathBuf>,
}

impl HttpConfig {
    /// Plain HTTP on `address`, the read API for loopback clients only.
    pub fn open(address: SocketAddr) -> HttpConfig {
        HttpConfig {
            address,
            token_file: None,
            tls: None,
        }
    }

    /// Whether some client authentication is configured; without it the
    /// read API answers loopback clients only.
    pub fn authenticates(&self) -> bool {
        self.token_file.is_some() || self.tls.as_ref().is_some_and(|tls| tls.client_ca.is_some())
    }
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig::open(DEFAULT_ADDRESS)
    }
}
