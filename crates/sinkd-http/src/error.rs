//! Why the HTTP surface cannot start.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A file it needs cannot be read or holds nothing usable.
    #[error("{role} {}: {reason}", path.display())]
    File {
        role: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// The certificate and key do not make a TLS server.
    #[error("TLS: {0}")]
    Tls(String),
    /// The address cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
}
