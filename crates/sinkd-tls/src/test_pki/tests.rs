//! The test PKI checked against rustls itself, with both ends of a handshake
//! in memory: the server certificate holds for `localhost` and 127.0.0.1
//! only, and a server that requires client certificates admits one from its
//! CA and refuses none or one from another CA. Then the PEM files, read back
//! by the readers every TLS user in sinkd goes through.

use super::*;
use crate::{read_certificates, read_private_key};
use rustls::{ClientConnection, Connection, ServerConnection};
use rustls_pki_types::ServerName;

/// Runs a handshake between `client` (connecting to `name`) and `server`,
/// flight by flight, until both sides finish or one of them fails.
fn handshake(
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    name: &str,
) -> Result<(), rustls::Error> {
    let name = ServerName::try_from(name.to_owned()).expect("server name");
    let mut client = Connection::from(ClientConnection::new(client, name)?);
    let mut server = Connection::from(ServerConnection::new(server)?);
    for _ in 0..8 {
        fly(&mut client, &mut server)?;
        fly(&mut server, &mut client)?;
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(());
        }
    }
    panic!("the handshake did not finish in 8 round trips");
}

/// Hands everything `from` has to send to `to`, which processes it.
fn fly(from: &mut Connection, to: &mut Connection) -> Result<(), rustls::Error> {
    let mut flight = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut flight).expect("write a flight");
    }
    let mut rest = flight.as_slice();
    while !rest.is_empty() {
        to.read_tls(&mut rest).expect("read a flight");
        to.process_new_packets()?;
    }
    Ok(())
}

#[test]
fn the_server_certificate_names_localhost_and_127_0_0_1() {
    let ca = Ca::new("test CA");
    let server = server_config(&ca.server_cert("server"), None);
    for name in ["localhost", "127.0.0.1"] {
        let result = handshake(client_config(&ca, None), Arc::clone(&server), name);
        assert!(result.is_ok(), "{name}: {result:?}");
    }
    let result = handshake(client_config(&ca, None), server, "central.example.net");
    assert!(result.is_err(), "another name was accepted");
}

#[test]
fn client_certificates_are_checked_against_the_client_ca() {
    let ca = Ca::new("test CA");
    let other_ca = Ca::new("other CA");
    let server = server_config(&ca.server_cert("server"), Some(&ca));
    let client = ca.client_cert("client");
    let result = handshake(
        client_config(&ca, Some(&client)),
        Arc::clone(&server),
        "localhost",
    );
    assert!(result.is_ok(), "{result:?}");
    let anonymous = handshake(client_config(&ca, None), Arc::clone(&server), "localhost");
    assert!(anonymous.is_err(), "a client without a certificate");
    let stranger = other_ca.client_cert("stranger");
    let stranger = handshake(client_config(&ca, Some(&stranger)), server, "localhost");
    assert!(stranger.is_err(), "a client with another CA's certificate");
}

#[test]
fn pem_files_are_written_whole_where_asked() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ca = Ca::new("test CA");
    let ca_path = ca.write_pem(dir.path(), "ca");
    let (cert, key) = ca.server_cert("server").write_pem(dir.path(), "server");
    assert_eq!(ca_path, dir.path().join("ca.pem"));
    assert_eq!(cert, dir.path().join("server.pem"));
    assert_eq!(key, dir.path().join("server.key"));
    assert_eq!(read_certificates(&ca_path).expect("CA").len(), 1);
    assert_eq!(read_certificates(&cert).expect("certificate").len(), 1);
    assert!(read_private_key(&key).is_ok());
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["ca.pem", "server.key", "server.pem"]);
}
