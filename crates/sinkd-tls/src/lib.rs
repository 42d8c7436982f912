//! Reading TLS material from PEM files, the one way sinkd does it.
//!
//! TLS listeners (`sinkd-listen`) load a server certificate chain, its key
//! and optionally a client CA; TLS relays (`sinkd-relay`) load a CA and
//! optionally a client certificate and key; `sinkd check-config` checks all
//! of them before anything starts. All three read files through the
//! functions here, so a bad file is described the same way everywhere. The
//! errors are plain reasons ("no CERTIFICATE block found", an I/O error);
//! each caller wraps them with the role and path it knows. PEM is parsed by
//! rustls-pki-types' `PemObject`, and [`provider`] is the `ring` crypto
//! provider every rustls config in sinkd uses.
//!
//! With the `test-pki` feature, `test_pki` makes the CAs and certificates
//! that the test suites of the listener, the relay and the binary use.

use rustls::crypto::CryptoProvider;
use rustls::RootCertStore;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// The crypto provider of every rustls configuration in sinkd: `ring`
/// (half the build time and a third of the binary of aws-lc-rs).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every CERTIFICATE block of a PEM file, in order; none at all is an error.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| reason(&error, "no CERTIFICATE block found"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| reason(&error, "no CERTIFICATE block found"))?;
    if certificates.is_empty() {
        return Err("no CERTIFICATE block found".to_owned());
    }
    Ok(certificates)
}

/// The CA certificates of a PEM file as trust anchors: every CERTIFICATE
/// block must be one rustls can verify against (a block whose contents do
/// not decode is an error here, not at the first handshake).
pub fn read_root_store(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for certificate in read_certificates(path)? {
        roots.add(certificate).map_err(|error| error.to_string())?;
    }
    Ok(roots)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) of a PEM file.
pub fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|error| reason(&error, "no PRIVATE KEY block found"))
}

/// A PEM error in words: `no_items` for the terse "no items found", the
/// I/O error itself for an unreadable file.
fn reason(error: &pem::Error, no_items: &str) -> String {
    match error {
        pem::Error::NoItemsFound => no_items.to_owned(),
        pem::Error::Io(io_error) => io_error.to_string(),
        other => other.to_string(),
    }
}

#[cfg(any(test, feature = "test-pki"))]
pub mod test_pki;

#[cfg(test)]
mod tests;
