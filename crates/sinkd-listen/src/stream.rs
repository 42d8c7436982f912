//! The TCP (RFC 6587) and TLS (RFC 5425) listener: binding, the accept loop,
//! admission, and live reconfiguration.
//!
//! [`start_stream`] binds the address and spawns an accept loop on the tokio
//! runtime. Each accepted connection passes two gates before it gets a task
//! of its own: the allow list (a stranger is disconnected at once) and the
//! connection limit (one too many is accepted and closed at once, which the
//! sender sees as a reset rather than a hanging connect). Both refusals are
//! counted in `sinkd_connections_closed_total`. What a connection does after
//! that (TLS handshake, framing, feeding the workers) lives in
//! `connection.rs`.
//!
//! The listener's settings sit in an `ArcSwap`. A connection takes a snapshot
//! when it is accepted and keeps it for life, so [`StreamListener::update`]
//! and [`StreamListener::reload_tls`] (SIGHUP) change what *new* connections
//! get (allow list, limits, timeouts, framing, certificates) without
//! touching open ones.
//!
//! Shutdown follows mini-redis: every connection task holds a clone of an
//! `mpsc::Sender<()>` that nobody ever sends on; [`StreamListener::join`]
//! waits for the matching receiver to report that all clones are gone.

use crate::allow::AllowList;
use crate::batch::WorkerQueues;
use crate::config::{StreamConfig, TlsConfig};
use crate::connection::{self, Connection, ConnectionGuard};
use crate::error::ListenError;
use crate::tls;
use arc_swap::ArcSwap;
use sinkd_metrics::{ConnectionEvent, Metrics, Transport};
use sinkd_proto::framing::Framing;
use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// Pending connections the kernel may queue before `accept`.
const LISTEN_BACKLOG: i32 = 1024;
/// Pause after a failed `accept` (such as running out of file descriptors),
/// so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);
/// TCP keepalive: first probe after a minute of silence, then every 15 s;
/// a peer that vanished is detected in about two minutes.
const KEEPALIVE_TIME: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
const KEEPALIVE_RETRIES: u32 = 4;

/// What a connection needs to know from the configuration, fixed when it is
/// accepted.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) allow: AllowList,
    pub(crate) framing: Option<Framing>,
    pub(crate) max_frame: usize,
    pub(crate) idle_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) tls: Option<TlsSettings>,
}

/// The certificate files and the acceptor built from them.
#[derive(Clone)]
pub(crate) struct TlsSettings {
    pub(crate) config: TlsConfig,
    pub(crate) acceptor: TlsAcceptor,
}

impl Settings {
    /// Validates `config` and loads its certificates.
    fn from_config(config: &StreamConfig) -> Result<Settings, ListenError> {
        config.validate()?;
        let tls = match &config.tls {
            None => None,
            Some(tls_config) => Some(TlsSettings {
                config: tls_config.clone(),
                acceptor: tls::acceptor(tls_config)?,
            }),
        };
        Ok(Settings {
            allow: config.allow.clone(),
            framing: config.framing,
            max_frame: config.max_frame,
            idle_timeout: config.idle_timeout,
            handshake_timeout: config.handshake_timeout,
            max_connections: config.max_connections,
            tls,
        })
    }
}

/// State shared by the listener handle and its accept loop.
struct Shared {
    transport: Transport,
    /// The address from the configuration (port 0 stays 0), to recognise an
    /// update that moves the listener.
    configured_address: SocketAddr,
    settings: ArcSwap<Settings>,
    /// Serialises `update` and `reload_tls` so neither undoes the other.
    reconfigure: Mutex<()>,
    metrics: Arc<Metrics>,
    queues: WorkerQueues,
    open_connections: Arc<AtomicUsize>,
    next_connection_id: AtomicU64,
}

/// A running TCP or TLS listener.
pub struct StreamListener {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    stop_accepting: watch::Sender<bool>,
    accept_task: Option<JoinHandle<()>>,
    connections_done: Option<mpsc::Receiver<()>>,
}

impl std::fmt::Debug for StreamListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamListener")
            .field("transport", &self.shared.transport)
            .field("local_addr", &self.local_addr)
            .field(
                "open_connections",
                &self.shared.open_connections.load(Ordering::Relaxed),
            )
            .finish()
    }
}

/// Binds `config.address` and starts accepting connections.
///
/// Each connection feeds one worker queue (its connection id modulo the
/// number of queues) with `send().await`: when that queue is full the
/// connection stops reading, and TCP flow control slows the sender down.
/// When `shutdown` turns true (or its sender is dropped), the listener stops
/// accepting and every connection hands over the frames it has decoded, then
/// closes. Bind errors come back at once; a permission error on a port below
/// 1024 explains how to allow it.
pub async fn start_stream(
    config: &StreamConfig,
    queues: &WorkerQueues,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) -> Result<StreamListener, ListenError> {
    if queues.is_empty() {
        return Err(ListenError::NoWorkerQueues);
    }
    let settings = Settings::from_config(config)?;
    let transport = if config.tls.is_some() {
        Transport::Tls
    } else {
        Transport::Tcp
    };
    let listener = bind_listener(config)?;
    let local_addr = listener.local_addr().unwrap_or(config.address);
    let shared = Arc::new(Shared {
        transport,
        configured_address: config.address,
        settings: ArcSwap::from_pointee(settings),
        reconfigure: Mutex::new(()),
        metrics,
        queues: queues.clone(),
        open_connections: Arc::new(AtomicUsize::new(0)),
        next_connection_id: AtomicU64::new(0),
    });
    let (stop_accepting, stop_rx) = watch::channel(false);
    let (done_tx, done_rx) = mpsc::channel(1);
    let accept_task = tokio::spawn(accept_loop(
        listener,
        Arc::clone(&shared),
        shutdown,
        stop_rx,
        done_tx,
    ));
    tracing::info!(
        address = %local_addr,
        transport = transport.label(),
        "stream listener started"
    );
    Ok(StreamListener {
        local_addr,
        shared,
        stop_accepting,
        accept_task: Some(accept_task),
        connections_done: Some(done_rx),
    })
}

impl StreamListener {
    /// The bound address (with the real port when the configuration said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `Tcp` or `Tls`.
    pub fn transport(&self) -> Transport {
        self.shared.transport
    }

    /// Connections open right now.
    pub fn open_connections(&self) -> usize {
        self.shared.open_connections.load(Ordering::Relaxed)
    }

    /// Applies `config` to connections accepted from now on: allow list,
    /// framing, `max_frame`, timeouts, `max_connections` and certificates
    /// (re-read from the files). Open connections keep their settings; a
    /// lower `max_connections` closes none of them, it only holds back new
    /// ones until enough have ended.
    ///
    /// A different address, or a switch between TCP and TLS, cannot be
    /// applied in place and returns [`ListenError::ChangeNeedsRestart`].
    /// On any error nothing changes.
    pub fn update(&self, config: &StreamConfig) -> Result<(), ListenError> {
        let transport_name = self.shared.transport.label();
        let needs_restart = |what| ListenError::ChangeNeedsRestart {
            transport: transport_name,
            address: self.shared.configured_address,
            what,
        };
        if config.address != self.shared.configured_address {
            return Err(needs_restart("the address"));
        }
        if config.tls.is_some() != (self.shared.transport == Transport::Tls) {
            return Err(needs_restart("the transport (tcp or tls)"));
        }
        let _serialised = self.shared.reconfigure.lock();
        let settings = Settings::from_config(config)?;
        self.shared.settings.store(Arc::new(settings));
        Ok(())
    }

    /// Re-reads the certificate, key and client CA files, for new
    /// connections. On error the old certificates stay in use and the error
    /// says which file is at fault. A plain TCP listener has nothing to
    /// reload and returns `Ok`.
    pub fn reload_tls(&self) -> Result<(), ListenError> {
        let _serialised = self.shared.reconfigure.lock();
        let current = self.shared.settings.load_full();
        let Some(current_tls) = &current.tls else {
            return Ok(());
        };
        let acceptor = tls::acceptor(&current_tls.config)?;
        let mut next = Settings::clone(&current);
        next.tls = Some(TlsSettings {
            config: current_tls.config.clone(),
            acceptor,
        });
        self.shared.settings.store(Arc::new(next));
        tracing::info!(
            address = %self.local_addr,
            cert = %current_tls.config.cert.display(),
            "TLS certificates reloaded"
        );
        Ok(())
    }

    /// Stops accepting and closes the listening socket; open connections go
    /// on until their peers close them or shutdown is signalled.
    pub fn stop_accepting(&self) {
        self.stop_accepting.send_replace(true);
    }

    /// Stops accepting, then waits until every connection task has ended.
    /// Connections end when their peers close them, on an error or timeout,
    /// or when the shutdown watch turns true, after handing their decoded
    /// frames to the worker queues. Once this returns, the listener sends no
    /// more batches, so the caller can close the queues and drain them.
    pub async fn join(mut self) {
        self.stop_accepting();
        if let Some(accept_task) = self.accept_task.take() {
            if let Err(error) = accept_task.await {
                tracing::error!(%error, "stream accept loop failed");
            }
        }
        if let Some(mut connections_done) = self.connections_done.take() {
            // Nothing is ever sent: `None` means every task dropped its
            // sender, that is, ended.
            while connections_done.recv().await.is_some() {}
        }
    }
}

impl Drop for StreamListener {
    /// Dropping the handle stops accepting; open connections run on.
    fn drop(&mut self) {
        self.stop_accepting.send_replace(true);
    }
}

/// Binds with SO_REUSEADDR, so a restart does not wait for old connections
/// in TIME_WAIT.
fn bind_listener(config: &StreamConfig) -> Result<TcpListener, ListenError> {
    let transport = config.transport_name();
    let socket_error = |operation, source| ListenError::Socket {
        transport,
        address: config.address,
        operation,
        source,
    };
    let socket = Socket::new(
        Domain::for_address(config.address),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(|source| socket_error("create socket", source))?;
    socket
        .set_reuse_address(true)
        .map_err(|source| socket_error("set SO_REUSEADDR", source))?;
    socket
        .set_nonblocking(true)
        .map_err(|source| socket_error("set O_NONBLOCK", source))?;
    socket
        .bind(&config.address.into())
        .map_err(|source| ListenError::Bind {
            transport,
            address: config.address,
            source,
        })?;
    socket
        .listen(LISTEN_BACKLOG)
        .map_err(|source| socket_error("listen", source))?;
    TcpListener::from_std(std::net::TcpListener::from(socket))
        .map_err(|source| socket_error("register with the runtime", source))
}

/// Resolves once `signal` holds `true` or its sender is gone.
pub(crate) async fn wait_for_signal(signal: &mut watch::Receiver<bool>) {
    // An error means the sender was dropped, which counts as the signal.
    let _ = signal.wait_for(|raised| *raised).await;
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    mut stop_accepting: watch::Receiver<bool>,
    connections_done: mpsc::Sender<()>,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            () = wait_for_signal(&mut shutdown) => break,
            () = wait_for_signal(&mut stop_accepting) => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => admit(&shared, stream, peer, &shutdown, &connections_done),
            Err(error) => {
                tracing::warn!(%error, transport = shared.transport.label(), "accept failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
    let address = listener.local_addr().ok();
    admit_backlog(listener, &shared, &shutdown, &connections_done);
    tracing::info!(
        address = ?address,
        transport = shared.transport.label(),
        "stream listener stopped accepting"
    );
}

/// Admits the connections the kernel has already completed, before the
/// listening socket closes: their senders may have written everything
/// already, and closing the socket would reset them and lose it. During
/// shutdown they only drain what was sent. The backlog is read with plain
/// non-blocking `accept` calls (not the runtime's readiness, which may lag),
/// and is bounded by the kernel's `somaxconn`.
fn admit_backlog(
    listener: TcpListener,
    shared: &Shared,
    shutdown: &watch::Receiver<bool>,
    connections_done: &mpsc::Sender<()>,
) {
    let Ok(listener) = listener.into_std() else {
        return;
    };
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                let stream = stream
                    .set_nonblocking(true)
                    .and_then(|()| TcpStream::from_std(stream));
                match stream {
                    Ok(stream) => admit(shared, stream, peer, shutdown, connections_done),
                    Err(error) => tracing::debug!(%peer, %error, "cannot adopt a connection"),
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_would_block_or_error) => return,
        }
    }
}

/// Applies the allow list and the connection limit, then spawns the
/// connection's task.
fn admit(
    shared: &Shared,
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: &watch::Receiver<bool>,
    connections_done: &mpsc::Sender<()>,
) {
    let settings = shared.settings.load_full();
    let metrics = &shared.metrics;
    if !settings.allow.contains(peer.ip()) {
        metrics.connection_closed(ConnectionEvent::NotAllowed).inc();
        tracing::debug!(%peer, "connection refused: source not in the allow list");
        return;
    }
    let Some(guard) = ConnectionGuard::reserve(
        Arc::clone(&shared.open_connections),
        settings.max_connections,
        Arc::clone(metrics),
        shared.transport,
        connections_done.clone(),
    ) else {
        metrics
            .connection_closed(ConnectionEvent::LimitReached)
            .inc();
        tracing::debug!(
            %peer,
            max_connections = settings.max_connections,
            "connection refused: too many open connections"
        );
        return;
    };
    let keepalive = TcpKeepalive::new()
        .with_time(KEEPALIVE_TIME)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_RETRIES);
    if let Err(error) = SockRef::from(&stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!(%peer, %error, "cannot enable TCP keepalive");
    }
    let connection_id = shared.next_connection_id.fetch_add(1, Ordering::Relaxed);
    let Some(queue) = shared.queues.for_key(connection_id) else {
        // `start_stream` refused an empty queue list, so this is unreachable;
        // the connection is closed rather than served without a queue.
        return;
    };
    tokio::spawn(connection::serve(Connection {
        stream,
        peer,
        settings,
        transport: shared.transport,
        queue: queue.clone(),
        metrics: Arc::clone(metrics),
        shutdown: shutdown.clone(),
        guard,
    }));
}
