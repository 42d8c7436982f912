//! TLS (RFC 5425) with client certificates, end to end: a CA, a server
//! certificate and client certificates made by `sinkd_tls::test_pki`; a
//! rustls client with a good certificate, one without any and one signed by
//! another CA; and `openssl s_client` as a real, independent peer. The
//! listener's files and `[[listen]]` table are written here for every
//! end-to-end test that needs a TLS listener.

use crate::harness::{read_stream, stream_names, Sandbox, Server};
use crate::support::run_fed;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use sinkd_tls::test_pki::{client_config, Ca};
use std::io::{Read, Write as _};
use std::process::Command;
use std::sync::Arc;

/// Writes a server certificate signed by `ca` into the sandbox and returns
/// the `cert = ..., key = ...` lines of a TLS listener.
pub(crate) fn server_files(sandbox: &Sandbox, ca: &Ca) -> String {
    let (cert, key) = ca.server_cert("server").write_pem(sandbox.root(), "server");
    format!(
        "cert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    )
}

/// [`server_files`] and a `client_ca = ...` line: the listener admits only
/// clients with a certificate signed by `ca`.
pub(crate) fn mutual_server_files(sandbox: &Sandbox, ca: &Ca) -> String {
    let client_ca = ca.write_pem(sandbox.root(), "client-ca");
    format!(
        "{}client_ca = \"{}\"\n",
        server_files(sandbox, ca),
        client_ca.display()
    )
}

/// A `[[listen]]` table for TLS on 127.0.0.1:`port` with the lines of
/// [`server_files`] or [`mutual_server_files`].
pub(crate) fn tls_listener(port: u16, files: &str) -> String {
    format!("[[listen]]\ntransport = \"tls\"\naddress = \"127.0.0.1:{port}\"\n{files}\n")
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
    let client = ca.client_cert("client");
    let stranger = other_ca.client_cert("stranger");
    let server_lines = mutual_server_files(&sandbox, &ca);
    let server = Server::start(&sandbox, |ports| {
        tls_listener(ports.tls, &server_lines) + "[[sink]]\ntarget = \"file {device}/messages\"\n"
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
    let (cert, key) = client.write_pem(sandbox.root(), "ossl");
    let ca_file = ca.write_pem(sandbox.root(), "ca");
    let mut openssl = Command::new("openssl");
    openssl
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", "localhost", "-quiet", "-no_ign_eof"])
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .arg("-CAfile")
        .arg(&ca_file)
        .args(["-verify_return_error"]);
    let output = run_fed(
        &mut openssl,
        b"<13>Oct 11 22:14:15 ossl app: via openssl s_client\n",
        "openssl is installed; .ci/run installs it",
    );
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
