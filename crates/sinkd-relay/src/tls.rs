//! The rustls client side of a TLS relay (RFC 5425).
//!
//! [`connector`] reads the CA file (and the client certificate and key, when
//! configured) once when the relay starts and returns a
//! `tokio_rustls::TlsConnector` plus the name the target's certificate must
//! carry. The provider is rustls' `ring`, as for the listeners in
//! `sinkd-listen` (design §10), with rustls' safe default protocol versions.
//! The target is verified by rustls' WebPKI verifier against exactly the
//! configured CA file, and by name: `server_name` when configured, the
//! target's host otherwise (a DNS name or an IP address, matched against the
//! certificate's subjectAltName).

use crate::config::TlsClientFiles;
use crate::error::RelayError;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::TlsConnector;

/// Builds the connector and the server name of a TLS relay named `sink`.
pub(crate) fn connector(
    sink: &str,
    files: &TlsClientFiles,
) -> Result<(TlsConnector, ServerName<'static>), RelayError> {
    let tls_error = |reason: String| RelayError::Tls {
        sink: sink.to_owned(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    for certificate in load_certificates(sink, &files.ca, "CA certificates")? {
        roots
            .add(certificate)
            .map_err(|error| RelayError::TlsFile {
                sink: sink.to_owned(),
                role: "CA certificates",
                path: files.ca.clone(),
                reason: error.to_string(),
            })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| tls_error(error.to_string()))?
        .with_root_certificates(roots);
    let config = match &files.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = load_certificates(sink, cert, "client certificate chain")?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|error| RelayError::TlsFile {
                sink: sink.to_owned(),
                role: "client key",
                path: key.clone(),
                reason: pem_reason(&error, "no PRIVATE KEY block found"),
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|error| tls_error(error.to_string()))?
        }
    };
    let server_name = ServerName::try_from(files.server_name.clone()).map_err(|_| {
        tls_error(format!(
            "server_name {:?} is neither a DNS name nor an IP address",
            files.server_name
        ))
    })?;
    Ok((TlsConnector::from(Arc::new(config)), server_name))
}

/// Every CERTIFICATE block of a PEM file; none is an error.
fn load_certificates(
    sink: &str,
    path: &Path,
    role: &'static str,
) -> Result<Vec<CertificateDer<'static>>, RelayError> {
    let file_error = |reason: String| RelayError::TlsFile {
        sink: sink.to_owned(),
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

fn pem_reason(error: &rustls_pki_types::pem::Error, no_items: &str) -> String {
    match error {
        rustls_pki_types::pem::Error::NoItemsFound if !no_items.is_empty() => no_items.to_owned(),
        rustls_pki_types::pem::Error::Io(io_error) => io_error.to_string(),
        other => other.to_string(),
    }
}
