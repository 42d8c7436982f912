//! Throwaway certificates for tests, behind the `test-pki` feature: the one
//! place sinkd's test suites make TLS material with rcgen.
//!
//! A [`Ca`] signs [`Leaf`] certificates for a server or a client; every leaf
//! names `localhost` and 127.0.0.1, so it passes a check of either name.
//! Both write themselves as PEM files (`NAME.pem`, and `NAME.key` for a
//! leaf's key) into a directory, for code under test that reads files, and
//! [`client_config`] and [`server_config`] build rustls peers from them
//! directly, for the other end of a test connection. A client that must be
//! refused gets a certificate from a second `Ca` its server does not trust.
//!
//! Everything panics on failure, as test setup should. The production
//! build never enables the feature, so the binary does not link rcgen
//! (`cargo tree -p sinkd -e normal` lists no rcgen).

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, SanType,
};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A certificate authority with its key, issuing [`Leaf`] certificates.
pub struct Ca {
    cert: Certificate,
    key: KeyPair,
}

/// A certificate signed by a [`Ca`], with its private key.
pub struct Leaf {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    /// A new self-signed CA whose common name is `name`.
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA certificate");
        Ca { cert, key }
    }

    /// A server certificate (extended key usage `serverAuth`) named `name`.
    pub fn server_cert(&self, name: &str) -> Leaf {
        self.issue(name, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate (extended key usage `clientAuth`) named `name`.
    pub fn client_cert(&self, name: &str) -> Leaf {
        self.issue(name, ExtendedKeyUsagePurpose::ClientAuth)
    }

    /// A certificate for `localhost` and 127.0.0.1, common name `name`,
    /// good for `purpose` only.
    fn issue(&self, name: &str, purpose: ExtendedKeyUsagePurpose) -> Leaf {
        let key = KeyPair::generate().expect("leaf key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned()]).expect("leaf parameters");
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![purpose];
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("leaf certificate");
        Leaf { cert, key }
    }

    /// The CA certificate as PEM.
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// Writes the CA certificate to `dir/STEM.pem` and returns that path.
    pub fn write_pem(&self, dir: &Path, stem: &str) -> PathBuf {
        write_whole(dir, &format!("{stem}.pem"), &self.cert_pem())
    }

    /// A root store holding only this CA.
    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.der().clone()).expect("CA root");
        roots
    }
}

impl Leaf {
    /// The certificate as PEM.
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// The private key as PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// Writes the certificate to `dir/STEM.pem` and the key to
    /// `dir/STEM.key`, and returns those two paths (certificate, key).
    pub fn write_pem(&self, dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
        let cert = write_whole(dir, &format!("{stem}.pem"), &self.cert_pem());
        let key = write_whole(dir, &format!("{stem}.key"), &self.key_pem());
        (cert, key)
    }

    fn chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.cert.der().clone()]
    }

    fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }
}

/// A rustls client that trusts `trusted` only and presents `client_cert`
/// when the server asks for one.
pub fn client_config(trusted: &Ca, client_cert: Option<&Leaf>) -> Arc<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(crate::provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(trusted.roots());
    let config = match client_cert {
        None => builder.with_no_client_auth(),
        Some(leaf) => builder
            .with_client_auth_cert(leaf.chain(), leaf.private_key())
            .expect("client certificate"),
    };
    Arc::new(config)
}

/// A rustls server presenting `server_cert`, and requiring a client
/// certificate from `client_ca` when one is given.
pub fn server_config(server_cert: &Leaf, client_ca: Option<&Ca>) -> Arc<ServerConfig> {
    let provider = crate::provider();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("protocol versions");
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(ca.roots()), provider)
                    .build()
                    .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(server_cert.chain(), server_cert.private_key())
        .expect("server certificate");
    Arc::new(config)
}

/// Writes `text` to `dir/name` through a temporary file and a rename, so a
/// server reloading at that moment reads the old file or the new one, never
/// half of one.
fn write_whole(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    let temporary = dir.join(format!("{name}.tmp"));
    std::fs::write(&temporary, text).expect("write PEM file");
    std::fs::rename(&temporary, &path).expect("rename PEM file");
    path
}

#[cfg(test)]
mod tests;
