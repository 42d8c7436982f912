//! HTTPS on the http address: the server certificate and key, and with a
//! client CA, client certificates that are asked for but not required —
//! a client without one still gets `/metrics` and `/healthz`, and the
//! access rule decides the read API — while a certificate that does not
//! chain to the CA fails the handshake.

use crate::config::HttpTlsConfig;
use crate::error::HttpError;
use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// Reads the files and builds the acceptor.
pub(crate) fn acceptor(config: &HttpTlsConfig) -> Result<TlsAcceptor, HttpError> {
    let file_error = |role: &'static str, path: &std::path::Path| {
        let path = path.to_owned();
        move |reason: String| HttpError::File { role, path, reason }
    };
    let chain = sinkd_tls::read_certificates(&config.cert)
        .map_err(file_error("certificate chain", &config.cert))?;
    let key =
        sinkd_tls::read_private_key(&config.key).map_err(file_error("private key", &config.key))?;
    let provider = sinkd_tls::provider();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| HttpError::Tls(error.to_string()))?;
    let builder = match &config.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let roots =
                sinkd_tls::read_root_store(ca).map_err(file_error("client CA certificates", ca))?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|error| file_error("client CA certificates", ca)(error.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server = builder
        .with_single_cert(chain, key)
        .map_err(|error| HttpError::Tls(error.to_string()))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server)))
}
