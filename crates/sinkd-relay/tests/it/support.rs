//! Test receivers on loopback and certificates: a TCP or TLS syslog
//! receiver that records every frame (optionally one that accepts and never
//! reads), a UDP receiver, a CA issuing server and client certificates, and
//! polling helpers.

use bytes::BytesMut;
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use sinkd_metrics::Metrics;
use sinkd_proto::framing::{Deframer, Framing};
use sinkd_relay::{RelayConfig, RelayTransport, TlsClientFiles};
use sinkd_tls::test_pki::{self, Ca};
use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Polls `check` every 10 ms until it holds or `timeout` passes.
pub(crate) fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A port nothing listens on (bound, then released).
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// What a receiver does with its connections.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// Read and record every frame.
    Record,
    /// Accept, then never read a byte.
    NeverRead,
}

/// A stream syslog receiver on 127.0.0.1.
pub(crate) struct StreamReceiver {
    pub(crate) addr: SocketAddr,
    messages: Arc<Mutex<Vec<Vec<u8>>>>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
    accepted: Arc<Mutex<usize>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Connection reader threads, joined on stop so every frame read
    /// before the close is recorded.
    readers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl StreamReceiver {
    /// Listens on `port` (0 for any) with the given framing and, when
    /// `tls` is set, TLS.
    pub(crate) fn start(
        port: u16,
        framing: Framing,
        tls: Option<Arc<ServerConfig>>,
        behaviour: Behaviour,
    ) -> StreamReceiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind receiver");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(Mutex::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let readers = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let readers = Arc::clone(&readers);
            let messages = Arc::clone(&messages);
            let connections = Arc::clone(&connections);
            let accepted = Arc::clone(&accepted);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            stream.set_nonblocking(false).expect("blocking");
                            *accepted.lock().unwrap() += 1;
                            connections
                                .lock()
                                .unwrap()
                                .push(stream.try_clone().expect("clone"));
                            if behaviour == Behaviour::NeverRead {
                                continue;
                            }
                            let messages = Arc::clone(&messages);
                            let tls = tls.clone();
                            readers.lock().unwrap().push(std::thread::spawn(move || {
                                read_frames(stream, framing, tls, &messages)
                            }));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        StreamReceiver {
            addr,
            messages,
            connections,
            accepted,
            stop,
            thread: Some(thread),
            readers,
        }
    }

    /// An octet-counting TLS receiver on `port` (0 for any) that records
    /// every frame, presenting a server certificate of `pki`.
    pub(crate) fn tls(port: u16, pki: &Pki) -> StreamReceiver {
        StreamReceiver::start(
            port,
            Framing::OctetCounting,
            Some(pki.server_config(false)),
            Behaviour::Record,
        )
    }

    pub(crate) fn messages(&self) -> Vec<Vec<u8>> {
        self.messages.lock().unwrap().clone()
    }

    pub(crate) fn count(&self) -> usize {
        self.messages.lock().unwrap().len()
    }

    pub(crate) fn accepted(&self) -> usize {
        *self.accepted.lock().unwrap()
    }

    /// Stops listening and resets every connection.
    pub(crate) fn stop(mut self) -> Vec<Vec<u8>> {
        self.halt();
        self.messages()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("receiver thread");
        }
        // Like a receiver that exits: stop reading and close. A socket
        // closed with unread data sends a reset, otherwise a FIN.
        for connection in self.connections.lock().unwrap().drain(..) {
            let _ = connection.shutdown(Shutdown::Read);
        }
        for reader in self.readers.lock().unwrap().drain(..) {
            let _ = reader.join();
        }
    }
}

impl Drop for StreamReceiver {
    fn drop(&mut self) {
        self.halt();
    }
}

fn read_frames(
    stream: TcpStream,
    framing: Framing,
    tls: Option<Arc<ServerConfig>>,
    messages: &Mutex<Vec<Vec<u8>>>,
) {
    let mut source: Box<dyn Read> = match tls {
        None => Box::new(stream),
        Some(config) => {
            let connection = ServerConnection::new(config).expect("server connection");
            Box::new(StreamOwned::new(connection, stream))
        }
    };
    let mut deframer = Deframer::with_framing(framing, 1 << 20);
    let mut buf = BytesMut::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match source.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Ok(Some(frame)) = deframer.decode(&mut buf) {
            messages.lock().unwrap().push(frame.to_vec());
        }
    }
}

/// A UDP receiver on 127.0.0.1 recording every datagram.
pub(crate) struct UdpReceiver {
    pub(crate) addr: SocketAddr,
    messages: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpReceiver {
    pub(crate) fn start() -> UdpReceiver {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        let addr = socket.local_addr().expect("addr");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let messages = Arc::clone(&messages);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65_536];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(n) = socket.recv(&mut buf) {
                        messages.lock().unwrap().push(buf[..n].to_vec());
                    }
                }
            })
        };
        UdpReceiver {
            addr,
            messages,
            stop,
            thread: Some(thread),
        }
    }

    pub(crate) fn messages(&self) -> Vec<Vec<u8>> {
        self.messages.lock().unwrap().clone()
    }
}

impl Drop for UdpReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A test CA in a directory: its certificate is `ca.pem` there, and the
/// certificates it issues are written beside it.
pub(crate) struct Pki {
    pub(crate) dir: PathBuf,
    ca: Ca,
}

impl Pki {
    pub(crate) fn new(dir: &Path) -> Pki {
        let ca = Ca::new("sinkd test CA");
        ca.write_pem(dir, "ca");
        Pki {
            dir: dir.to_path_buf(),
            ca,
        }
    }

    pub(crate) fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Issues a server certificate named `name` as `NAME.pem` and
    /// `NAME.key`.
    pub(crate) fn server_files(&self, name: &str) -> (PathBuf, PathBuf) {
        self.ca.server_cert(name).write_pem(&self.dir, name)
    }

    /// A rustls server configuration with a `server` certificate, requiring
    /// a client certificate from this CA when `client_auth` is set.
    pub(crate) fn server_config(&self, client_auth: bool) -> Arc<ServerConfig> {
        let server = self.ca.server_cert("server");
        test_pki::server_config(&server, client_auth.then_some(&self.ca))
    }

    /// TLS files for a relay: this CA, and a client certificate when
    /// `client` is set.
    pub(crate) fn client_files(&self, client: bool, server_name: &str) -> TlsClientFiles {
        TlsClientFiles {
            ca: self.ca_path(),
            client_cert: client
                .then(|| self.ca.client_cert("client").write_pem(&self.dir, "client")),
            server_name: server_name.to_owned(),
        }
    }
}

/// A relay configuration for a target on 127.0.0.1.
pub(crate) fn relay_config(
    name: &str,
    transport: RelayTransport,
    port: u16,
    data_dir: &Path,
) -> RelayConfig {
    let mut config = RelayConfig::new(name, transport, "127.0.0.1", port, data_dir);
    config.send_timeout = Duration::from_secs(2);
    config
}

/// Fresh metrics.
pub(crate) fn metrics() -> Arc<Metrics> {
    Metrics::new()
}

/// `<13>message NNNNNNNN from DEVICE` for `range`, in batches of `per_batch`.
pub(crate) fn numbered(device: &str, range: std::ops::Range<u32>) -> Vec<Vec<u8>> {
    range
        .map(|index| format!("<13>message {index:08} from {device}").into_bytes())
        .collect()
}

/// Asserts `got == want` with a short report (lengths, first difference,
/// how many of `want` are missing) instead of printing both lists.
pub(crate) fn assert_same(got: &[Vec<u8>], want: &[Vec<u8>]) {
    if got == want {
        return;
    }
    let first = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let present: std::collections::HashSet<&Vec<u8>> = got.iter().collect();
    let missing: Vec<String> = want
        .iter()
        .filter(|message| !present.contains(message))
        .take(5)
        .map(|message| String::from_utf8_lossy(message).into_owned())
        .collect();
    let n_missing = want
        .iter()
        .filter(|message| !present.contains(message))
        .count();
    panic!(
        "got {} messages, want {}; first difference at {first}: got {:?}, want {:?}; {n_missing} missing, e.g. {missing:?}",
        got.len(),
        want.len(),
        got.get(first).map(|m| String::from_utf8_lossy(m).into_owned()),
        want.get(first).map(|m| String::from_utf8_lossy(m).into_owned()),
    );
}
