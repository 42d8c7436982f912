//! The rustls client side of a TLS relay (RFC 5425).
//!
//! [`connector`] reads the CA file (and the client certificate and key, when
//! configured) whenever a relay is prepared (started, and on every reload,
//! whether its settings changed or not) and returns a
//! `tokio_rustls::TlsConnector` plus the name the target's certificate must
//! carry. The provider is rustls' `ring`, as for the listeners in
//! `sinkd-listen` (`sinkd_tls::provider`), with rustls' safe default
//! protocol versions.
//! The target is verified by rustls' WebPKI verifier against exactly the
//! configured CA file, and by name: `server_name` when configured, the
//! target's host otherwise (a DNS name or an IP address, matched against the
//! certificate's subjectAltName).

use crate::config::TlsClientFiles;
use crate::error::RelayError;
use rustls::ClientConfig;
use rustls_pki_types::{CertificateDer, ServerName};
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
    let roots = sinkd_tls::read_root_store(&files.ca).map_err(|reason| RelayError::TlsFile {
        sink: sink.to_owned(),
        role: "CA certificates",
        path: files.ca.clone(),
        reason,
    })?;
    let builder = ClientConfig::builder_with_provider(sinkd_tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| tls_error(error.to_string()))?
        .with_root_certificates(roots);
    let config = match &files.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = load_certificates(sink, cert, "client certificate chain")?;
            let key = sinkd_tls::read_private_key(key).map_err(|reason| RelayError::TlsFile {
                sink: sink.to_owned(),
                role: "client key",
                path: key.clone(),
                reason,
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

/// Every CERTIFICATE block of a PEM file (`sinkd-tls`), errors naming the
/// sink, the role and the file.
fn load_certificates(
    sink: &str,
    path: &Path,
    role: &'static str,
) -> Result<Vec<CertificateDer<'static>>, RelayError> {
    sinkd_tls::read_certificates(path).map_err(|reason| RelayError::TlsFile {
        sink: sink.to_owned(),
        role,
        path: path.to_path_buf(),
        reason,
    })
}
