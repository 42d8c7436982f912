//! Throwaway TLS material for the TLS scenarios: a CA and a server
//! certificate for `localhost` and 127.0.0.1, written as PEM files that all
//! three servers read (sinkd via rustls, rsyslog via GnuTLS, syslog-ng via
//! OpenSSL) and that `sinkd-load --ca` trusts.

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

/// Paths of the generated PEM files.
#[derive(Clone, Debug)]
pub struct CertFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Generates the CA and server certificate into `dir`.
pub fn generate(dir: &Path) -> anyhow::Result<CertFiles> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let ca_key = KeyPair::generate().context("CA key")?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).context("CA parameters")?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "sinkd-compare test CA");
    let ca = ca_params.self_signed(&ca_key).context("CA certificate")?;
    let server_key = KeyPair::generate().context("server key")?;
    let mut params =
        CertificateParams::new(vec!["localhost".to_string()]).context("server parameters")?;
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = params
        .signed_by(&server_key, &ca, &ca_key)
        .context("server certificate")?;
    let files = CertFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    std::fs::write(&files.ca, ca.pem())?;
    std::fs::write(&files.cert, server.pem())?;
    std::fs::write(&files.key, server_key.serialize_pem())?;
    Ok(files)
}
