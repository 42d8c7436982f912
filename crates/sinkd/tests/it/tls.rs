//! TLS (RFC 5425) with client certificates, end to end: a CA, a server
//! certificate and client certificates made with rcgen; a rustls client with
//! a good certificate, one without any and one signed by another CA; and
//! `openssl s_client` as a real, independent peer.

use crate::harness::{read_stream, stream_names, Sandbox, Server};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::io::{Read, Write as _};
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::sync::Arc;

/// A certificate authority.
pub(crate) struct Ca {
    cert: Certificate,
    key: KeyPair,
}

/// A certificate and its private key.
pub(crate) struct Leaf {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    pub(crate) fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA certificate");
        Ca { cert, key }
    }

    /// A certificate for `localhost` and 127.0.0.1.
    pub(crate) fn issue(&self, purpose: ExtendedKeyUsagePurpose) -> Leaf {
        let key = KeyPair::generate().expect("leaf key");
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params.extended_key_usages = vec![purpose];
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("leaf certificate");
        Leaf { cert, key }
    }

    pub(crate) fn pem(&self) -> String {
        self.cert.pem()
    }
}

impl Leaf {
    pub(crate) fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    pub(crate) fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }
}

/// Writes a server certificate signed by `ca` into the sandbox and returns
/// the `cert = ..., key = ...` lines of a TLS listener.
pub(crate) fn server_files(sandbox: &Sandbox, ca: &Ca) -> String {
    let server = ca.issue(ExtendedKeyUsagePurpose::ServerAuth);
    let cert = sandbox.write("server.pem", server.cert_pem());
    let key = sandbox.write("server.key", server.key_pem());
    format!(
        "cert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    )
}

/// A rustls client that trusts `ca` and presents `client` when given.
fn client_config(ca: &Ca, client: Option<&Leaf>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.cert.der().clone()).expect("CA root");
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots);
    let config = match client {
        Some(leaf) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(leaf.cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.serialize_der())),
            )
            .expect("client certificate"),
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

/// Connects over TLS, writes `payload`, sends close_notify and reads to
/// the server's close. `Ok` means the session ended cleanly, with the
/// server's own close_notify (RFC 5425 §4.4); a rejected client gets the
/// server's alert as an error here (with TLS 1.3 the server judges the
/// client certificate after the client has finished its side of the
/// handshake, so the first write may still succeed).
fn tls_send(port: u16, config: Arc<ClientConfig>, payload: &[u8]) -> std::io::Result<()> {
    let tcp = crate::harness::connect(port);
    let name = ServerName::try_from("localhost").expect("server name");
    let connection = ClientConnection::new(config, name).expect("client connection");
    let mut stream = StreamOwned::new(connection, tcp);
    stream.write_all(payload)?;
    stream.flush()?;
    stream.conn.send_close_notify();
    stream.flush()?;
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest)?;
    Ok(())
}

#[test]
fn tls_listener_admits_only_clients_with_a_certificate_from_its_ca() {
    let sandbox = Sandbox::new();
    let ca = Ca::new("sinkd test CA");
    let other_ca = Ca::new("someone else's CA");
    let client = ca.issue(ExtendedKeyUsagePurpose::ClientAuth);
    let stranger = other_ca.issue(ExtendedKeyUsagePurpose::ClientAuth);
    let server_lines = server_files(&sandbox, &ca);
    let client_ca = sandbox.write("client-ca.pem", ca.pem());
    let server = Server::start(&sandbox, |ports| {
        format!(
            "[[listen]]\ntransport = \"tls\"\naddress = \"127.0.0.1:{}\"\n{server_lines}client_ca = \"{}\"\n\n\
             [[sink]]\ntarget = \"file {{device}}/messages\"\n",
            ports.tls,
            client_ca.display()
        )
    });
    let port = server.ports.tls;

    let good = tls_send(
        port,
        client_config(&ca, Some(&client)),
        b"<13>Oct 11 22:14:15 tls-ok app: with a good certificate\n\
          <13>Oct 11 22:14:15 tls-ok app: second line\n",
    );
    assert!(good.is_ok(), "good client: {good:?}");
    let anonymous = tls_send(
        port,
        client_config(&ca, None),
        b"<13>Oct 11 22:14:15 tls-anon app: no certificate\n",
    );
    assert!(
        anonymous.is_err(),
        "a client without a certificate was admitted"
    );
    let stranger = tls_send(
        port,
        client_config(&ca, Some(&stranger)),
        b"<13>Oct 11 22:14:15 tls-stranger app: wrong CA\n",
    );
    assert!(
        stranger.is_err(),
        "a client with another CA's certificate was admitted"
    );
    server.wait_count(
        "sinkd_connections_closed_total{reason=\"tls_handshake\"}",
        2,
    );

    // openssl as an independent peer.
    let files = [
        ("ossl.pem", client.cert_pem()),
        ("ossl.key", client.key_pem()),
        ("ca.pem", ca.pem()),
    ]
    .map(|(name, text)| sandbox.write(name, text));
    let mut openssl = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", "localhost", "-quiet", "-no_ign_eof"])
        .arg("-cert")
        .arg(&files[0])
        .arg("-key")
        .arg(&files[1])
        .arg("-CAfile")
        .arg(&files[2])
        .args(["-verify_return_error"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed; .ci/run installs it");
    openssl
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"<13>Oct 11 22:14:15 ossl app: via openssl s_client\n")
        .expect("write to openssl");
    let output = openssl.wait_with_output().expect("openssl runs");
    assert!(output.status.success(), "{output:?}");

    let scrape = server.wait_count("sinkd_store_lines_written_total", 3);
    assert_eq!(
        scrape.count("sinkd_messages_received_total{transport=\"tls\"}"),
        3
    );
    assert_eq!(
        scrape.count("sinkd_connections_closed_total{reason=\"tls_handshake\"}"),
        2
    );
    server.stop().assert_clean_exit();
    let data_dir = sandbox.data_dir();
    assert_eq!(
        stream_names(&data_dir),
        ["ossl/messages", "tls-ok/messages"]
    );
    assert_eq!(read_stream(&data_dir, "tls-ok/messages").len(), 2);
    let ossl = read_stream(&data_dir, "ossl/messages");
    assert_eq!(ossl.len(), 1);
    assert!(ossl[0].1.ends_with("via openssl s_client"));
}
