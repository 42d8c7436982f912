//! Unit tests of loading certificates into a rustls configuration, with
//! certificates made by `sinkd_tls::test_pki` in a temporary directory.

use super::*;
use sinkd_tls::test_pki::Ca;
use std::fs;
use std::path::PathBuf;
use tempfile::TempDir;

struct Files {
    dir: TempDir,
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
}

fn files() -> Files {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ca = Ca::new("test CA");
    let (cert, key) = ca.server_cert("server").write_pem(dir.path(), "server");
    let ca = ca.write_pem(dir.path(), "ca");
    Files { dir, cert, key, ca }
}

fn error_text(config: &TlsConfig) -> String {
    match acceptor(config) {
        Ok(_) => panic!("expected an error for {config:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn good_files_build_an_acceptor() {
    let files = files();
    let mut config = TlsConfig::new(&files.cert, &files.key);
    assert!(acceptor(&config).is_ok());
    config.client_ca = Some(files.ca.clone());
    assert!(acceptor(&config).is_ok());
}

#[test]
fn a_missing_certificate_file_is_named() {
    let files = files();
    let missing = files.dir.path().join("nope.pem");
    let message = error_text(&TlsConfig::new(&missing, &files.key));
    assert!(message.contains("certificate chain"), "{message}");
    assert!(message.contains("nope.pem"), "{message}");
}

#[test]
fn a_file_without_certificates_is_named() {
    let files = files();
    let message = error_text(&TlsConfig::new(&files.key, &files.key));
    assert!(message.contains("no CERTIFICATE block"), "{message}");
    assert!(message.contains("server.key"), "{message}");
}

#[test]
fn a_file_without_a_key_is_named() {
    let files = files();
    let message = error_text(&TlsConfig::new(&files.cert, &files.cert));
    assert!(message.contains("private key"), "{message}");
    assert!(message.contains("no PRIVATE KEY block"), "{message}");
}

#[test]
fn garbage_in_a_client_ca_file_is_named() {
    let files = files();
    let garbage = files.dir.path().join("garbage.pem");
    fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let mut config = TlsConfig::new(&files.cert, &files.key);
    config.client_ca = Some(garbage);
    let message = error_text(&config);
    assert!(message.contains("client CA certificates"), "{message}");
    assert!(message.contains("garbage.pem"), "{message}");
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_rejected() {
    let files = files();
    let (_, other_key) = Ca::new("other CA")
        .server_cert("other")
        .write_pem(files.dir.path(), "other");
    let message = error_text(&TlsConfig::new(&files.cert, &other_key));
    assert!(message.contains("invalid TLS configuration"), "{message}");
}
