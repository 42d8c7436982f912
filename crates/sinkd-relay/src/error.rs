//! The errors of the relay crate.
//!
//! [`RelayError`] is what starting a relay can fail with: its spool cannot
//! be opened, its TLS files cannot be read, its settings are out of range.
//! Those are reported when the configuration is applied, with the sink's
//! name. Once a relay runs, nothing fails upwards any more: a connection
//! problem is a [`ConnError`], which records where the fault lies and
//! whether trying again can help (after Pingora's `ErrorSource` and
//! `RetryType`), is logged and counted, and leads to a reconnect with
//! backoff while the queue holds the messages.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a relay could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// A setting is out of range.
    #[error("relay {sink}: {reason}")]
    InvalidConfig {
        /// The sink's name.
        sink: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The disk spool could not be opened or read.
    #[error("relay {sink}: spool: {source}")]
    Spool {
        /// The sink's name.
        sink: String,
        /// The store's error.
        #[source]
        source: sinkd_store::StoreError,
    },
    /// A file of the spool (the cursor) could not be read or written.
    #[error("relay {sink}: {op} {path}: {source}")]
    SpoolFile {
        /// The sink's name.
        sink: String,
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A TLS file (CA, client certificate, key) is missing or malformed.
    #[error("relay {sink}: {role} {path}: {reason}")]
    TlsFile {
        /// The sink's name.
        sink: String,
        /// `CA certificates`, `client certificate chain` or `client key`.
        role: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS client configuration could not be built (for example a key
    /// that does not match its certificate, or an invalid server name).
    #[error("relay {sink}: TLS: {reason}")]
    Tls {
        /// The sink's name.
        sink: String,
        /// rustls' explanation.
        reason: String,
    },
    /// The relay's thread could not be started.
    #[error("relay {sink}: cannot start its thread: {source}")]
    Spawn {
        /// The sink's name.
        sink: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Where a connection problem lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The target: it refused, closed, reset, stopped reading, or presented
    /// a certificate we do not accept.
    Downstream,
    /// Between us and the target: name resolution, routing, timeouts.
    Network,
    /// sinkd itself: a socket option or another local call failed.
    Internal,
}

/// What went wrong with a relay connection.
#[derive(Debug)]
pub struct ConnError {
    /// Where the fault lies.
    pub fault: Fault,
    /// Whether trying again (after the backoff) can help. Always true for
    /// network and target faults; a certificate rejected by name or CA is
    /// retried too, since the target may be fixed, but is logged as such.
    pub retry: bool,
    /// What was being done: `resolve`, `connect`, `handshake`, `write`,
    /// `read`, `acknowledge`.
    pub op: &'static str,
    /// The underlying error.
    pub source: io::Error,
}

impl ConnError {
    pub(crate) fn new(fault: Fault, op: &'static str, source: io::Error) -> ConnError {
        ConnError {
            fault,
            retry: true,
            op,
            source,
        }
    }

    pub(crate) fn timeout(op: &'static str) -> ConnError {
        ConnError::new(
            Fault::Network,
            op,
            io::Error::new(io::ErrorKind::TimedOut, "send_timeout elapsed"),
        )
    }
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fault = match self.fault {
            Fault::Downstream => "target",
            Fault::Network => "network",
            Fault::Internal => "internal",
        };
        write!(f, "{} failed ({fault}): {}", self.op, self.source)
    }
}

impl std::error::Error for ConnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
