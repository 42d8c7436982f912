//! The TLS listener: client certificates, plaintext on the TLS port, and
//! certificate reloads, with certificates made by `sinkd_tls::test_pki` and
//! a tokio-rustls client.

use crate::support::{any_port, eventually, StreamHarness};
use rustls::pki_types::ServerName;
use sinkd_listen::{ListenError, StreamConfig, TlsConfig};
use sinkd_metrics::{ConnectionEvent, Transport};
use sinkd_tls::test_pki::{client_config, Ca, Leaf};
use std::fs;
use std::net::SocketAddr;
use std::path::PathBuf;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Server certificate files in a temporary directory.
pub(crate) struct ServerFiles {
    dir: TempDir,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    client_ca: PathBuf,
}

impl ServerFiles {
    pub(crate) fn new(server_ca: &Ca, client_ca: &Ca) -> ServerFiles {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (cert, key) = server_ca
            .server_cert("server")
            .write_pem(dir.path(), "server");
        let client_ca = client_ca.write_pem(dir.path(), "client-ca");
        ServerFiles {
            dir,
            cert,
            key,
            client_ca,
        }
    }

    /// Replaces the server certificate and key with ones from `ca`.
    pub(crate) fn write_server(&self, ca: &Ca) {
        ca.server_cert("server")
            .write_pem(self.dir.path(), "server");
    }

    pub(crate) fn config(&self, require_client_cert: bool) -> StreamConfig {
        let mut tls = TlsConfig::new(&self.cert, &self.key);
        if require_client_cert {
            tls.client_ca = Some(self.client_ca.clone());
        }
        StreamConfig::new_tls(any_port(), tls)
    }
}

pub(crate) fn client(server_ca: &Ca, client_cert: Option<&Leaf>) -> TlsConnector {
    TlsConnector::from(client_config(server_ca, client_cert))
}

/// Connects, handshakes and sends `payload`; errors are ignored, since a
/// rejected client may only find out after its handshake "succeeded".
pub(crate) async fn send(connector: &TlsConnector, addr: SocketAddr, payload: &[u8]) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("server name");
    if let Ok(mut stream) = connector.connect(name, tcp).await {
        if stream.write_all(payload).await.is_ok() {
            let _ = stream.shutdown().await;
        }
        // Wait for the server to close; it never sends data, so a small
        // bounded buffer is enough.
        let mut rest = [0u8; 1024];
        while matches!(stream.read(&mut rest).await, Ok(n) if n > 0) {}
    }
}

pub(crate) fn handshake_failures(harness: &StreamHarness) -> u64 {
    harness
        .metrics
        .connection_closed(ConnectionEvent::TlsHandshake)
        .get()
}

#[tokio::test]
async fn client_certificates_are_required_when_a_client_ca_is_set() {
    let server_ca = Ca::new("server CA");
    let client_ca = Ca::new("client CA");
    let files = ServerFiles::new(&server_ca, &client_ca);
    let harness = StreamHarness::start(files.config(true)).await;
    assert_eq!(harness.listener.transport(), Transport::Tls);

    let good = client(&server_ca, Some(&client_ca.client_cert("client")));
    send(&good, harness.addr(), b"<13>over tls\n<14>second").await;
    assert_eq!(
        harness.collected.wait_for(2).await,
        vec![b"<13>over tls".to_vec(), b"<14>second".to_vec()]
    );
    assert_eq!(harness.metrics.received(Transport::Tls).get(), 2);

    let anonymous = client(&server_ca, None);
    send(&anonymous, harness.addr(), b"<13>anonymous\n").await;
    eventually("the missing certificate is counted", || {
        handshake_failures(&harness) == 1
    })
    .await;

    let stranger_ca = Ca::new("someone else's CA");
    let stranger = client(&server_ca, Some(&stranger_ca.client_cert("stranger")));
    send(&stranger, harness.addr(), b"<13>stranger\n").await;
    eventually("the untrusted certificate is counted", || {
        handshake_failures(&harness) == 2
    })
    .await;
    assert_eq!(harness.collected.len(), 2);
    eventually("every connection closed", || {
        harness.metrics.connections(Transport::Tls).get() == 0
    })
    .await;
}

#[tokio::test]
async fn plaintext_on_the_tls_port_is_a_handshake_failure() {
    let ca = Ca::new("CA");
    let files = ServerFiles::new(&ca, &ca);
    let harness = StreamHarness::start(files.config(false)).await;
    let mut plain = TcpStream::connect(harness.addr()).await.expect("connect");
    plain
        .write_all(b"<13>Jan  1 00:00:00 host app: plaintext\n")
        .await
        .expect("write");
    eventually("the plaintext client is counted", || {
        handshake_failures(&harness) == 1
    })
    .await;
    assert_eq!(harness.collected.len(), 0);
    assert_eq!(harness.metrics.received(Transport::Tls).get(), 0);
}

#[tokio::test]
async fn certificates_reload_for_new_connections() {
    let old_ca = Ca::new("old CA");
    let new_ca = Ca::new("new CA");
    let files = ServerFiles::new(&old_ca, &old_ca);
    let harness = StreamHarness::start(files.config(false)).await;
    let trusts_new = client(&new_ca, None);
    send(&trusts_new, harness.addr(), b"<13>too early\n").await;
    eventually("the client's rejection is counted", || {
        handshake_failures(&harness) == 1
    })
    .await;

    files.write_server(&new_ca);
    harness.listener.reload_tls().expect("reload");
    send(&trusts_new, harness.addr(), b"<13>after reload\n").await;
    assert_eq!(
        harness.collected.wait_for(1).await,
        vec![b"<13>after reload".to_vec()]
    );

    // A broken file is reported by name and the working certificates stay.
    fs::write(&files.key, "not a key").expect("write");
    let error = harness.listener.reload_tls().expect_err("broken key");
    assert!(matches!(error, ListenError::TlsFile { .. }), "{error:?}");
    assert!(error.to_string().contains("server.key"), "{error}");
    send(&trusts_new, harness.addr(), b"<13>old certs kept\n").await;
    assert_eq!(
        harness.collected.wait_for(2).await[1],
        b"<13>old certs kept".to_vec()
    );
    // `update` re-reads the files too, and fails the same way.
    assert!(harness.listener.update(&files.config(false)).is_err());
}

/// A device that writes its messages and closes at once, never reading,
/// must lose nothing, even while sinkd is not reading (backpressure). With
/// TLS 1.3 session tickets the tickets sat unread in the client's receive
/// buffer, so closing made the client's kernel send a reset, and the reset
/// discarded what waited unread in sinkd's socket (found by `sinkd-load`).
#[tokio::test]
async fn a_client_that_never_reads_loses_nothing_on_close() {
    let ca = Ca::new("CA");
    let files = ServerFiles::new(&ca, &ca);
    // One queue of one batch, drained only after the client is gone: the
    // connection stops reading and the rest waits in the kernel.
    let (queues, mut receivers) = sinkd_listen::WorkerQueues::bounded(1, 1);
    let metrics = sinkd_metrics::Metrics::new();
    let (_shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let listener = sinkd_listen::start_stream(&files.config(false), &queues, metrics, shutdown_rx)
        .await
        .expect("listener starts");
    let connector = client(&ca, None);
    let mut payload = Vec::new();
    let n_messages = 20_000;
    for n in 0..n_messages {
        payload.extend_from_slice(format!("<13>message {n}\n").as_bytes());
    }
    let tcp = TcpStream::connect(listener.local_addr())
        .await
        .expect("connect");
    let name = ServerName::try_from("localhost").expect("server name");
    let mut stream = connector.connect(name, tcp).await.expect("handshake");
    stream.write_all(&payload).await.expect("write");
    stream.flush().await.expect("flush");
    // Let the server receive what it can, then close without close_notify
    // and without reading anything.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (tcp, _) = stream.into_inner();
    drop(tcp);
    let mut n_frames = 0;
    let mut last = Vec::new();
    while n_frames < n_messages {
        let batch = tokio::time::timeout(std::time::Duration::from_secs(10), receivers[0].recv())
            .await
            .unwrap_or_else(|_| panic!("only {n_frames} of {n_messages} frames arrived"))
            .expect("queue open");
        n_frames += batch.len();
        if let Some((frame, _)) = batch.iter().last() {
            last = frame.to_vec();
        }
    }
    assert_eq!(n_frames, n_messages);
    assert_eq!(last, format!("<13>message {}", n_messages - 1).into_bytes());
}
