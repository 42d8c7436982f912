//! Building the rustls server configuration of a TLS listener (RFC 5425).
//!
//! [`acceptor`] reads the PEM files named by a [`TlsConfig`] and returns a
//! `tokio_rustls::TlsAcceptor`. It runs when a listener is bound, when an
//! update is prepared (`StreamListener::prepare_update`, `update`) and on
//! `StreamListener::reload_tls` (SIGHUP), so replacing certificate files on
//! disk and sending SIGHUP rotates them; open connections keep the acceptor
//! they were accepted with.
//!
//! The crypto provider is rustls' `ring` (`sinkd_tls::provider`: half the
//! build time of aws-lc-rs), with its default, safe protocol versions (TLS
//! 1.2 and 1.3).
//! With `client_ca` set, rustls' WebPKI verifier requires every client to
//! present a certificate chaining to one of those CAs; the handshake of a
//! client without one fails and is counted by the connection code.

use crate::config::TlsConfig;
use crate::error::ListenError;
use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;
use rustls_pki_types::CertificateDer;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

#[cfg(test)]
mod tests;

/// Loads the certificates and key and builds an acceptor.
pub(crate) fn acceptor(config: &TlsConfig) -> Result<TlsAcceptor, ListenError> {
    server_config(config).map(|server_config| TlsAcceptor::from(Arc::new(server_config)))
}

fn server_config(config: &TlsConfig) -> Result<ServerConfig, ListenError> {
    let cert_chain = load_certificates(&config.cert, "certificate chain")?;
    let key = sinkd_tls::read_private_key(&config.key).map_err(|reason| ListenError::TlsFile {
        role: "private key",
        path: config.key.clone(),
        reason,
    })?;
    let tls_error = |reason: String| ListenError::Tls {
        cert: config.cert.clone(),
        key: config.key.clone(),
        reason,
    };
    let provider = sinkd_tls::provider();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| tls_error(error.to_string()))?;
    let builder = match &config.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca_path) => {
            let roots =
                sinkd_tls::read_root_store(ca_path).map_err(|reason| ListenError::TlsFile {
                    role: "client CA certificates",
                    path: ca_path.clone(),
                    reason,
                })?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|error| ListenError::TlsFile {
                    role: "client CA certificates",
                    path: ca_path.clone(),
                    reason: error.to_string(),
                })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server_config = builder
        .with_single_cert(cert_chain, key)
        .map_err(|error| tls_error(error.to_string()))?;
    // No TLS 1.3 session tickets: syslog clients never read from the
    // connection, so tickets would sit unread in their receive buffer, and
    // a client closing with unread data makes its kernel send a reset —
    // which discards messages that reached sinkd's socket but were not yet
    // read. Syslog connections are long-lived; resumption gains nothing.
    server_config.send_tls13_tickets = 0;
    Ok(server_config)
}

/// Every CERTIFICATE block of a PEM file (`sinkd-tls`), errors naming the
/// role and the file.
fn load_certificates(
    path: &Path,
    role: &'static str,
) -> Result<Vec<CertificateDer<'static>>, ListenError> {
    sinkd_tls::read_certificates(path).map_err(|reason| ListenError::TlsFile {
        role,
        path: path.to_path_buf(),
        reason,
    })
}
