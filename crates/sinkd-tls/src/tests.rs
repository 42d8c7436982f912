//! PEM reading on files made by `test_pki`: good material, wrong kinds of
//! blocks, and files that are not there.

use super::*;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn reads_certificates_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let leaf = test_pki::Ca::new("test CA").server_cert("server");
    let both = format!("{}{}", leaf.cert_pem(), leaf.cert_pem());
    let cert_path = write(dir.path(), "cert.pem", &both);
    let key_path = write(dir.path(), "key.pem", &leaf.key_pem());
    assert_eq!(read_certificates(&cert_path).unwrap().len(), 2);
    assert!(read_private_key(&key_path).is_ok());
    // Each file holds the other kind of block.
    assert_eq!(
        read_certificates(&key_path).unwrap_err(),
        "no CERTIFICATE block found"
    );
    assert_eq!(
        read_private_key(&cert_path).unwrap_err(),
        "no PRIVATE KEY block found"
    );
}

#[test]
fn missing_and_empty_files_are_described() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem");
    assert!(read_certificates(&missing)
        .unwrap_err()
        .contains("No such file"));
    let empty = write(dir.path(), "empty.pem", "");
    assert_eq!(
        read_certificates(&empty).unwrap_err(),
        "no CERTIFICATE block found"
    );
}
