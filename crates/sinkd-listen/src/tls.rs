//! Building the rustls server configuration of a TLS listener (RFC 5425).
//!
//! [`acceptor`] reads the PEM files named by a [`TlsConfig`] and returns a
//! `tokio_rustls::TlsAcceptor`. It runs when a listener starts, on
//! `StreamListener::update` and on `StreamListener::reload_tls` (SIGHUP), so
//! replacing certificate files on disk and sending SIGHUP rotates them; open
//! connections keep the acceptor they were accepted with.
//!
//! The crypto provider is rustls' `ring` (design §10: half the build time of
//! aws-lc-rs), with its default, safe protocol versions (TLS 1.2 and 1.3).
//! With `client_ca` set, rustls' WebPKI verifier requires every client to
//! present a certificate chaining to one of those CAs; the handshake of a
//! client without one fails and is counted by the connection code.

use crate::config::TlsConfig;
use crate::error::ListenError;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
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
    let key = PrivateKeyDer::from_pem_file(&config.key).map_err(|error| ListenError::TlsFile {
        role: "private key",
        path: config.key.clone(),
        reason: pem_reason(&error, "no PRIVATE KEY block found"),
    })?;
    let tls_error = |reason: String| ListenError::Tls {
        cert: config.cert.clone(),
        key: config.key.clone(),
        reason,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| tls_error(error.to_string()))?;
    let builder = match &config.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca_path) => {
            let mut roots = RootCertStore::empty();
            for ca_cert in load_certificates(ca_path, "client CA certificates")? {
                roots.add(ca_cert).map_err(|error| ListenError::TlsFile {
                    role: "client CA certificates",
                    path: ca_path.clone(),
                    reason: error.to_string(),
                })?;
            }
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

/// Every CERTIFICATE block of a PEM file; none at all is an error.
fn load_certificates(
    path: &Path,
    role: &'static str,
) -> Result<Vec<CertificateDer<'static>>, ListenError> {
    let file_error = |reason: String| ListenError::TlsFile {
        role,
        path: path.to_path_buf(),
        reason,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| file_error(pem_reason(&error, "")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| file_error(pem_reason(&error, "")))?;
    if certificates.is_empty() {
        return Err(file_error("no CERTIFICATE block found".to_owned()));
    }
    Ok(certificates)
}

/// A PEM error in words; `no_items` replaces the terse "no items found" when
/// given.
fn pem_reason(error: &rustls_pki_types::pem::Error, no_items: &str) -> String {
    match error {
        rustls_pki_types::pem::Error::NoItemsFound if !no_items.is_empty() => no_items.to_owned(),
        rustls_pki_types::pem::Error::Io(io_error) => io_error.to_string(),
        other => other.to_string(),
    }
}
