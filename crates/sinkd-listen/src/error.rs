//! The one error type of the listeners, [`ListenError`].
//!
//! Everything here happens while starting or reconfiguring a listener, never
//! per message, so the variants carry owned, human-oriented detail: the
//! address that could not be bound and how to fix a permission error, the
//! PEM file that could not be read. Per-connection trouble (a bad frame, a
//! failed TLS handshake) is not an error of this kind: it closes that one
//! connection and is counted in the metrics.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

#[cfg(test)]
mod tests;

/// Why a listener could not be started, reconfigured or reloaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// The new configuration moves the listener to another address or
    /// switches it between TCP and TLS; that needs a new listener.
    #[error("cannot change the {transport} listener on {address} in place: {what} differs; restart the listener instead")]
    ChangeNeedsRestart {
        /// The listener's transport (`tcp`, `tls`).
        transport: &'static str,
        /// The configured address of the running listener.
        address: SocketAddr,
        /// What changed.
        what: &'static str,
    },
    /// Binding the socket failed; for a permission error on a privileged
    /// port the message explains the ways around it.
    #[error("cannot listen on {address}/{transport}: {source}{}", bind_hint(.address, .source))]
    Bind {
        /// The listener's transport (`udp`, `tcp`, `tls`).
        transport: &'static str,
        /// The address from the configuration.
        address: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// A configuration value is out of range.
    #[error("invalid {transport} listener setting `{setting}`: {reason}")]
    Config {
        /// The listener's transport.
        transport: &'static str,
        /// The setting's name, as in the configuration file.
        setting: &'static str,
        /// The accepted range.
        reason: &'static str,
    },
    /// No worker queue was given to feed.
    #[error("the listener needs at least one worker queue")]
    NoWorkerQueues,
    /// Setting up a socket (other than binding it) failed.
    #[error("cannot set up the {transport} socket on {address} ({operation}): {source}")]
    Socket {
        /// The listener's transport.
        transport: &'static str,
        /// The address from the configuration.
        address: SocketAddr,
        /// The step that failed, such as `listen` or `set SO_REUSEPORT`.
        operation: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// A receive thread could not be started.
    #[error("cannot start a UDP receive thread: {source}")]
    Thread {
        /// The operating system's error.
        source: io::Error,
    },
    /// rustls rejected the certificates or key as a whole (for example a key
    /// that does not match the certificate, or an unusable client CA).
    #[error("invalid TLS configuration (certificate {cert}, key {key}): {reason}")]
    Tls {
        /// The certificate chain file.
        cert: PathBuf,
        /// The private key file.
        key: PathBuf,
        /// rustls' explanation.
        reason: String,
    },
    /// A PEM file is missing, unreadable or holds nothing usable.
    #[error("cannot load the TLS {role} from {}: {reason}", .path.display())]
    TlsFile {
        /// What the file should hold: `certificate chain`, `private key` or
        /// `client CA certificates`.
        role: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// The advice appended to a bind error: only for a permission error on a
/// port below 1024, the ports Linux reserves for privileged processes.
fn bind_hint(address: &SocketAddr, source: &io::Error) -> String {
    if source.kind() != io::ErrorKind::PermissionDenied || address.port() >= 1024 {
        return String::new();
    }
    format!(
        " (port {port} is privileged; run sinkd as root, or grant the binary the capability with \
         `setcap cap_net_bind_service=+ep /path/to/sinkd` (systemd: \
         AmbientCapabilities=CAP_NET_BIND_SERVICE), or lower the privileged range with \
         `sysctl net.ipv4.ip_unprivileged_port_start={port}`, or listen on a port >= 1024)",
        port = address.port()
    )
}
