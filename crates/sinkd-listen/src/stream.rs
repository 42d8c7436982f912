//! The TCP (RFC 6587) and TLS (RFC 5425) listener: binding, the accept loop,
//! admission, and live reconfiguration.
//!
//! [`bind_stream`] checks the settings, builds the TLS acceptor (reading
//! the certificate files) and binds the address; [`BoundStream::start`]
//! spawns the accept loop on the tokio runtime; [`start_stream`] does both.
//! The split lets a reload bind every new listener before it changes
//! anything. Each accepted connection passes two gates before it gets a task
//! of its own: the allow list (a stranger is disconnected at once) and the
//! connection limit (one too many is accepted and closed at once, which the
//! sender sees as a reset rather than a hanging connect). Both refusals are
//! counted in `sinkd_connections_closed_total`. What a connection does after
//! that (TLS handshake, framing, feeding the workers) lives in
//! `connection.rs`.
//!
//! The listener's settings sit in an `ArcSwap`. A connection takes a snapshot
//! when it is accepted and keeps it for life, so an update (SIGHUP) changes
//! what *new* connections get (allow list, limits, timeouts, framing,
//! certificates) without touching open ones. An update is built first
//! ([`StreamListener::prepare_update`]: checks, certificate files read
//! again) and swapped in later ([`StreamListener::commit_update`], which
//! cannot fail); [`StreamListener::update`] and
//! [`StreamListener::reload_tls`] do both at once.
//!
//! A switch between TCP and TLS on one address needs a new listener bound
//! while the old one still accepts: [`StreamListener::bind_beside`] binds
//! the new socket into the old one's SO_REUSEPORT group (every stream
//! listener is bound with SO_REUSEPORT for that reason), and it starts
//! listening only when started, so no connection waits on it before then.
//! Once the new one runs, the old one stops accepting: it first accepts and
//! serves what waits in its backlog (`admit_backlog`), then closes.
//! Outside of that, an address in use is refused as ever: [`bind_stream`]
//! first binds a probe socket without SO_REUSEPORT, which any listener on
//! the address, ours or another program's, makes fail.
//!
//! Shutdown follows mini-redis: every connection task holds a clone of an
//! `mpsc::Sender<()>` that nobody ever sends on; [`StreamListener::join`]
//! waits for the matching receiver to report that all clones are gone.

use crate::batch::WorkerQueues;
use crate::config::StreamConfig;
use crate::connection::{
    self, wait_for_signal, Connection, ConnectionGuard, Settings, TlsSettings,
};
use crate::error::ListenError;
use crate::slots::{Refusal, Slots};
use arc_swap::ArcSwap;
use sinkd_metrics::{ConnectionEvent, Metrics, Transport};
use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Longest the accept loop waits for evicted connections to free their
/// slots before judging a newcomer.
const EVICTION_PATIENCE: Duration = Duration::from_millis(200);

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
    slots: Arc<Slots>,
    next_connection_id: AtomicU64,
}

/// A running TCP or TLS listener.
pub struct StreamListener {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    stop_accepting: watch::Sender<bool>,
    /// `None` once joined, or when the listener never got to accept.
    accept_task: Option<JoinHandle<()>>,
    connections_done: Option<mpsc::Receiver<()>>,
}

impl std::fmt::Debug for StreamListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamListener")
            .field("transport", &self.shared.transport)
            .field("local_addr", &self.local_addr)
            .field("open_connections", &self.shared.slots.open())
            .finish()
    }
}

/// A TCP or TLS listener bound and not accepting yet: the first step of
/// [`start_stream`]. Dropping it closes the socket.
#[must_use = "a bound listener accepts nothing until it is started"]
pub struct BoundStream {
    config: StreamConfig,
    settings: Settings,
    socket: Socket,
    local_addr: SocketAddr,
    /// Whether `listen` was called (not yet for [`StreamListener::bind_beside`]).
    listening: bool,
}

impl std::fmt::Debug for BoundStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundStream")
            .field("transport", &self.config.transport_name())
            .field("local_addr", &self.local_addr)
            .field("listening", &self.listening)
            .finish()
    }
}

/// Checks `config`, builds the TLS acceptor (reading the certificate, key
/// and client CA files), binds `config.address` and listens. Nothing is
/// accepted until [`BoundStream::start`]: connections wait in the backlog.
///
/// An address in use, by another listener of this process or by any other
/// program, is a bind error (for a switch between TCP and TLS on the same
/// address, see [`StreamListener::bind_beside`]); a permission error on a
/// port below 1024 explains how to allow it. Needs no runtime.
pub fn bind_stream(config: &StreamConfig) -> Result<BoundStream, ListenError> {
    let settings = Settings::from_config(config)?;
    // The probe has no SO_REUSEPORT: it fails on an address that any
    // listener holds, which the real socket (with SO_REUSEPORT, so it can
    // be replaced later) would not notice if that listener were ours.
    let probe = new_socket(config, false)?;
    bind(config, &probe, config.address)?;
    let bound_addr = probe
        .local_addr()
        .ok()
        .and_then(|addr| addr.as_socket())
        .unwrap_or(config.address);
    drop(probe);
    let socket = new_socket(config, true)?;
    // With port 0 the probe picked the port.
    bind(config, &socket, bound_addr)?;
    listen(config, &socket)?;
    Ok(BoundStream::new(config, settings, socket, true))
}

/// Binds `config.address` and starts accepting connections:
/// [`bind_stream`] then [`BoundStream::start`].
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
    Ok(bind_stream(config)?.start(queues, metrics, shutdown))
}

impl BoundStream {
    fn new(config: &StreamConfig, settings: Settings, socket: Socket, listening: bool) -> Self {
        let local_addr = socket
            .local_addr()
            .ok()
            .and_then(|addr| addr.as_socket())
            .unwrap_or(config.address);
        BoundStream {
            config: config.clone(),
            settings,
            socket,
            local_addr,
            listening,
        }
    }

    /// The bound address (with the real port when the configuration said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Starts accepting: spawns the accept loop on the current tokio
    /// runtime (so it must be called inside one). Each connection feeds
    /// one worker queue (its connection id modulo the number of queues)
    /// with `send().await`: when that queue is full the connection stops
    /// reading, and TCP flow control slows the sender down. When
    /// `shutdown` turns true (or its sender is dropped), the listener stops
    /// accepting and every connection hands over the frames it has decoded,
    /// then closes.
    ///
    /// Nothing here fails for a foreseeable reason; should the kernel
    /// refuse what is left (`listen` on a socket from
    /// [`StreamListener::bind_beside`], registering it with the runtime),
    /// the error is logged and the listener accepts nothing. With no worker
    /// queue (which [`start_stream`] refuses), every connection is closed
    /// at once.
    pub fn start(
        self,
        queues: &WorkerQueues,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
    ) -> StreamListener {
        let BoundStream {
            config,
            settings,
            socket,
            local_addr,
            listening,
        } = self;
        if queues.is_empty() {
            tracing::error!(address = %local_addr, "stream listener started without a worker queue; it closes every connection");
        }
        let transport = config.transport();
        let socket = if listening {
            Some(socket)
        } else {
            match listen(&config, &socket) {
                Ok(()) => Some(socket),
                Err(error) => {
                    tracing::error!(%error, "stream listener cannot listen; it accepts nothing");
                    None
                }
            }
        };
        let shared = Arc::new(Shared {
            transport,
            configured_address: config.address,
            settings: ArcSwap::from_pointee(settings),
            reconfigure: Mutex::new(()),
            metrics,
            queues: queues.clone(),
            slots: Arc::new(Slots::default()),
            next_connection_id: AtomicU64::new(0),
        });
        let (stop_accepting, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = mpsc::channel(1);
        let accept_task = socket.map(|socket| {
            tokio::spawn(accept_loop(
                StdTcpListener::from(socket),
                Arc::clone(&shared),
                shutdown,
                stop_rx,
                done_tx,
            ))
        });
        tracing::info!(
            address = %local_addr,
            transport = transport.label(),
            "stream listener started"
        );
        StreamListener {
            local_addr,
            shared,
            stop_accepting,
            accept_task,
            connections_done: Some(done_rx),
        }
    }
}

/// A new configuration for a running stream listener, checked and with its
/// certificate files read, not applied yet: see
/// [`StreamListener::prepare_update`].
#[must_use = "an update changes nothing until it is committed"]
pub struct StreamUpdate {
    settings: Settings,
}

impl std::fmt::Debug for StreamUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamUpdate")
            .field("tls", &self.settings.tls.as_ref().map(|tls| &tls.config))
            .finish_non_exhaustive()
    }
}

impl StreamListener {
    /// The bound address (with the real port when the configuration said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `Tcp`, `Tls`, `Relp` or `RelpTls`.
    pub fn transport(&self) -> Transport {
        self.shared.transport
    }

    /// Connections open right now.
    pub fn open_connections(&self) -> usize {
        self.shared.slots.open()
    }

    /// Checks `config` and builds what connections accepted after
    /// [`StreamListener::commit_update`] will get: allow list, framing,
    /// `max_frame`, timeouts, `max_connections`, and certificates read
    /// again from the files (so a SIGHUP rotates them, and a file that
    /// became garbage is an error here). Changes nothing.
    ///
    /// A different address, or a switch between TCP and TLS, cannot be
    /// applied in place and returns [`ListenError::ChangeNeedsRestart`]
    /// (for the switch, see [`StreamListener::bind_beside`]).
    pub fn prepare_update(&self, config: &StreamConfig) -> Result<StreamUpdate, ListenError> {
        let transport_name = self.shared.transport.label();
        let needs_restart = |what| ListenError::ChangeNeedsRestart {
            transport: transport_name,
            address: self.shared.configured_address,
            what,
        };
        if config.address != self.shared.configured_address {
            return Err(needs_restart("the address"));
        }
        if config.transport() != self.shared.transport {
            return Err(needs_restart("the transport (tcp, tls, relp or relp_tls)"));
        }
        Ok(StreamUpdate {
            settings: Settings::from_config(config)?,
        })
    }

    /// Applies a prepared update to the connections accepted from now on.
    /// Open connections keep their settings; a lower `max_connections`
    /// closes none of them, it only holds back new ones until enough have
    /// ended. Cannot fail.
    pub fn commit_update(&self, update: StreamUpdate) {
        let _serialised = self.reconfiguring();
        self.swap_settings(update);
    }

    /// [`StreamListener::prepare_update`] and, when it succeeds,
    /// [`StreamListener::commit_update`]. On any error nothing changes.
    pub fn update(&self, config: &StreamConfig) -> Result<(), ListenError> {
        let _serialised = self.reconfiguring();
        let update = self.prepare_update(config)?;
        self.swap_settings(update);
        Ok(())
    }

    /// Re-reads the certificate, key and client CA files, for new
    /// connections, keeping every other setting. On error the old
    /// certificates stay in use and the error says which file is at fault.
    /// A plain TCP listener has nothing to reload and returns `Ok`.
    pub fn reload_tls(&self) -> Result<(), ListenError> {
        let _serialised = self.reconfiguring();
        let current = self.shared.settings.load_full();
        let Some(current_tls) = &current.tls else {
            return Ok(());
        };
        let mut settings = Settings::clone(&current);
        settings.tls = Some(TlsSettings::load(&current_tls.config)?);
        self.swap_settings(StreamUpdate { settings });
        Ok(())
    }

    /// Binds `config` (a listener for this one's address, typically the
    /// other of TCP and TLS) next to this running listener, for replacing
    /// it without a moment in which the address refuses connections: the
    /// new socket joins this one's SO_REUSEPORT group. It is checked and
    /// its certificates read like [`bind_stream`]'s, but it listens only
    /// once [`BoundStream::start`]ed, so until then every connection still
    /// comes here. Then [`StreamListener::stop_accepting`] this one: it
    /// accepts and serves what already waits in its backlog, and closes.
    /// (A connection the kernel hands this socket in the instant between
    /// that last accept and the close is reset; its sender connects again.)
    ///
    /// `config.address` must be this listener's configured address; the
    /// new socket is bound to the real port when that said 0.
    pub fn bind_beside(&self, config: &StreamConfig) -> Result<BoundStream, ListenError> {
        if config.address != self.shared.configured_address {
            return Err(ListenError::ChangeNeedsRestart {
                transport: self.shared.transport.label(),
                address: self.shared.configured_address,
                what: "the address (a listener bound beside must share it)",
            });
        }
        let settings = Settings::from_config(config)?;
        let socket = new_socket(config, true)?;
        bind(config, &socket, self.local_addr)?;
        Ok(BoundStream::new(config, settings, socket, false))
    }

    fn reconfiguring(&self) -> std::sync::MutexGuard<'_, ()> {
        self.shared
            .reconfigure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn swap_settings(&self, update: StreamUpdate) {
        if let Some(tls) = &update.settings.tls {
            tracing::info!(
                address = %self.local_addr,
                cert = %tls.config.cert.display(),
                "TLS certificates loaded for new connections"
            );
        }
        self.shared.settings.store(Arc::new(update.settings));
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

/// A stream socket for `config`, non-blocking, with SO_REUSEADDR (so a
/// restart does not wait for old connections in TIME_WAIT) and, when
/// `reuse_port`, SO_REUSEPORT (so a replacement can be bound beside it).
///
/// SO_REUSEPORT lets only sockets of the same user share an address, and
/// [`bind_stream`] still refuses an address in use (its probe has no
/// SO_REUSEPORT), so the flag only matters to [`StreamListener::bind_beside`].
fn new_socket(config: &StreamConfig, reuse_port: bool) -> Result<Socket, ListenError> {
    let socket_error = |operation, source| ListenError::Socket {
        transport: config.transport_name(),
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
    if reuse_port {
        socket
            .set_reuse_port(true)
            .map_err(|source| socket_error("set SO_REUSEPORT", source))?;
    }
    socket
        .set_nonblocking(true)
        .map_err(|source| socket_error("set O_NONBLOCK", source))?;
    Ok(socket)
}

fn bind(config: &StreamConfig, socket: &Socket, address: SocketAddr) -> Result<(), ListenError> {
    socket
        .bind(&address.into())
        .map_err(|source| ListenError::Bind {
            transport: config.transport_name(),
            address: config.address,
            source,
        })
}

fn listen(config: &StreamConfig, socket: &Socket) -> Result<(), ListenError> {
    socket
        .listen(LISTEN_BACKLOG)
        .map_err(|source| ListenError::Socket {
            transport: config.transport_name(),
            address: config.address,
            operation: "listen",
            source,
        })
}

async fn accept_loop(
    listener: StdTcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    mut stop_accepting: watch::Receiver<bool>,
    connections_done: mpsc::Sender<()>,
) {
    let address = listener.local_addr().ok();
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(?address, %error, "cannot register a stream listener with the runtime; it accepts nothing");
            return;
        }
    };
    loop {
        let accepted = tokio::select! {
            biased;
            () = wait_for_signal(&mut shutdown) => break,
            () = wait_for_signal(&mut stop_accepting) => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let limits = shared.settings.load().limits;
                shared
                    .slots
                    .wait_unsaturated(limits, EVICTION_PATIENCE)
                    .await;
                admit(&shared, stream, peer, &shutdown, &connections_done);
            }
            Err(error) => {
                tracing::warn!(%error, transport = shared.transport.label(), "accept failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
    if let Ok(listener) = listener.into_std() {
        admit_backlog(&listener, &shared, &shutdown, &connections_done);
    }
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
    listener: &StdTcpListener,
    shared: &Shared,
    shutdown: &watch::Receiver<bool>,
    connections_done: &mpsc::Sender<()>,
) {
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
    let guard = match ConnectionGuard::reserve(
        &shared.slots,
        peer.ip(),
        settings.limits,
        Arc::clone(metrics),
        shared.transport,
        connections_done.clone(),
    ) {
        Ok(guard) => guard,
        Err(refusal) => {
            let (event, why) = match refusal {
                Refusal::Full => (
                    ConnectionEvent::LimitReached,
                    "every connection slot is taken by a connection that has delivered",
                ),
                Refusal::SourceLimit => (
                    ConnectionEvent::SourceLimit,
                    "its source has max_connections_per_source open",
                ),
            };
            metrics.connection_closed(event).inc();
            tracing::debug!(
                %peer,
                max_connections = settings.limits.max_connections,
                max_connections_per_source = settings.limits.max_per_source,
                "connection refused: {why}"
            );
            return;
        }
    };
    let keepalive = TcpKeepalive::new()
        .with_time(KEEPALIVE_TIME)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_RETRIES);
    if let Err(error) = SockRef::from(&stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!(%peer, %error, "cannot enable TCP keepalive");
    }
    // RELP answers are small writes the sender waits for: Nagle would hold
    // each one until the previous is acknowledged, which the sender's
    // delayed ACK puts off by up to 200 ms.
    if settings.relp {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
        }
    }
    let connection_id = shared.next_connection_id.fetch_add(1, Ordering::Relaxed);
    let Some(queue) = shared.queues.for_key(connection_id) else {
        // Only when started without a queue (`start_stream` refuses that):
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
