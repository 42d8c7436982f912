//! The UDP listener (RFC 5426): SO_REUSEPORT sockets read with `recvmmsg`
//! on plain OS threads.
//!
//! UDP is where the collector is most likely to lose messages, and nothing
//! can push back on a UDP sender, so this path is built to read fast and to
//! count everything it cannot keep. [`bind_udp`] binds `threads` sockets to
//! one address with SO_REUSEPORT; the kernel spreads senders across them by
//! address hash, so each thread sees its own share of devices.
//! [`BoundUdp::start`] then gives each socket a thread, which owns a
//! `Receiver` (`udp/recvmmsg.rs`): fixed buffers for `batch_size`
//! datagrams, their peer addresses and their control messages, filled by a
//! single `recvmmsg` call (`MSG_WAITFORONE`: wait for one datagram, then take
//! whatever else is already queued). What one call returned becomes one
//! [`RawBatch`] for the thread's worker queue (several when its frames pass
//! [`MAX_BATCH_BYTES`], which only long datagrams do). A call that empties the
//! socket is followed by a 1 ms pause ([`COALESCE`]), so that under load
//! datagrams are taken a full batch at a time rather than a few per wake-up.
//!
//! Binding and starting are two steps so that a reload can bind every new
//! listener before it changes anything (`sinkd` binds the new sockets of a
//! changed UDP listener next to the running ones, SO_REUSEPORT allowing,
//! and retires the old ones only once everything is ready). A bound socket
//! gets its share of the senders at once, so a [`BoundUdp`] that is not
//! started must be [`BoundUdp::abandon`]ed: its sockets are read empty
//! into the worker queues before they close.
//!
//! Losses are counted at every step: datagrams from sources outside the
//! allow list (`not_allowed`), empty datagrams (`frame_invalid`), batches
//! whose worker queue is closed (`queue_full`, only during shutdown), and
//! datagrams the kernel dropped because the socket buffer was full. When a
//! worker queue is full the thread waits for it, so bursts queue up in the
//! socket's receive buffer instead of being dropped by sinkd; but while the
//! store is paused for lack of space the queues stay full, and a batch that
//! finds its queue full is dropped and counted as `disk_full`. The kernel
//! keeps a running count of the datagrams it dropped on each socket; the
//! thread reads it (`SO_MEMINFO`) after every call that returned datagrams,
//! on every idle receive timeout and before it ends, and adds what it grew
//! by to `sinkd_udp_kernel_drops_total`.
//!
//! Every socket has a 100 ms receive timeout so its thread notices
//! [`UdpListener::shutdown`] promptly even when no datagram arrives. A
//! stopping thread first reads what the kernel already queued, until the
//! socket is empty or two seconds have passed.

mod recvmmsg;

use crate::allow::AllowList;
use crate::batch::{now_unix_micros, RawBatch, WorkerQueues};
use crate::config::UdpConfig;
use crate::error::ListenError;
use crate::ratelimit::RateLimiter;
use recvmmsg::{kernel_drops, set_int_option, Receiver};
use sinkd_metrics::{DropReason, Metrics, Transport};
use sinkd_proto::trim_trailer;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TrySendError;

#[cfg(test)]
mod tests;

/// Longest a stopping thread keeps draining its socket.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// How long a receive call waits before the thread checks for shutdown.
const RECV_TIMEOUT: Duration = Duration::from_millis(100);
/// After a call that emptied the socket, the thread sleeps this long before
/// the next one. Without the pause, a fast sender's datagrams wake the
/// thread a few at a time: at 300,000 datagrams per second that was ~25,000
/// wake-ups a second, each preempting the worker on a shared core, and
/// batches of ~9 datagrams. With it, the socket collects a full batch or
/// more between calls (a millisecond at that rate is ~300 datagrams, 0.4 MB
/// of a 32 MiB buffer), and a message waits at most this long longer.
const COALESCE: Duration = Duration::from_millis(1);
/// Most frame bytes in one batch handed to a worker: what the default of
/// 64 datagrams of 64 KiB could hold. A call that read more (a larger
/// `batch_size` of long datagrams) hands its frames over in several
/// batches, so the worker queues (32 batches each) hold at most 128 MiB
/// whatever the batch size; typical datagrams never reach the bound.
const MAX_BATCH_BYTES: usize = 64 * 64 * 1024;
/// Least time between two log lines about the same recurring condition.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// A running UDP listener: its receive threads and their stop flag.
#[derive(Debug)]
pub struct UdpListener {
    local_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl UdpListener {
    /// The bound address (with the real port when the configuration said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops the receive threads and waits for them. Each first reads what
    /// the kernel already queued on its socket into the worker queues,
    /// until the socket has been empty for a receive timeout (100 ms) or
    /// for at most two seconds; a datagram that arrives between the last
    /// read and the close is lost with the socket.
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::Release);
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                tracing::error!("a UDP receive thread panicked");
            }
        }
    }
}

impl Drop for UdpListener {
    /// Dropping the listener without [`UdpListener::shutdown`] still stops
    /// its threads, without waiting for them.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// The sockets of a UDP listener, bound and not read yet: the first step
/// of [`start_udp`]. Either [`BoundUdp::start`] it or, to give it up,
/// [`BoundUdp::abandon`] it.
#[derive(Debug)]
#[must_use = "a bound UDP listener must be started or abandoned"]
pub struct BoundUdp {
    config: UdpConfig,
    local_addr: SocketAddr,
    sockets: Vec<Socket>,
    /// The buckets of `rate_limit`, shared by every socket's thread.
    limiter: Option<Arc<RateLimiter>>,
}

/// Checks `config` and binds its sockets: `config.threads` of them, or one
/// per worker queue (`n_queues`) when `threads` is 0. No thread starts and
/// nothing is read yet.
///
/// Every socket has SO_REUSEPORT, so the address may be one a running UDP
/// listener of this process holds: the new sockets join it, and the kernel
/// spreads senders over old and new sockets alike from then on. Bind errors
/// come back at once; a permission error on a port below 1024 explains how
/// to allow it.
pub fn bind_udp(config: &UdpConfig, n_queues: usize) -> Result<BoundUdp, ListenError> {
    config.validate()?;
    if n_queues == 0 {
        return Err(ListenError::NoWorkerQueues);
    }
    let mut config = config.clone();
    config.threads = config.resolved_threads(n_queues);
    let mut sockets = Vec::with_capacity(config.threads);
    let first = bind_socket(&config, config.address, true)?;
    let local_addr = first
        .local_addr()
        .ok()
        .and_then(|addr| addr.as_socket())
        .unwrap_or(config.address);
    sockets.push(first);
    for _ in 1..config.threads {
        // With port 0 the first socket picked a port; the others join it.
        sockets.push(bind_socket(&config, local_addr, false)?);
    }
    let limiter = config
        .rate_limit
        .map(|limit| Arc::new(RateLimiter::new(limit)));
    Ok(BoundUdp {
        config,
        local_addr,
        sockets,
        limiter,
    })
}

/// Binds `config.threads` sockets on `config.address` (one per worker
/// queue when 0) and starts one receive thread per socket: [`bind_udp`]
/// then [`BoundUdp::start`]. Thread `i` feeds worker queue
/// `i % queues.len()`.
pub fn start_udp(
    config: &UdpConfig,
    queues: &WorkerQueues,
    metrics: Arc<Metrics>,
) -> Result<UdpListener, ListenError> {
    bind_udp(config, queues.len())?.start(queues, metrics)
}

impl BoundUdp {
    /// The bound address (with the real port when the configuration said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The settings the sockets were bound with, `threads` resolved.
    pub fn config(&self) -> &UdpConfig {
        &self.config
    }

    /// Starts one receive thread per socket; thread `i` feeds worker queue
    /// `i % queues.len()`. Fails only when there is no queue or the system
    /// refuses a thread; the threads already started are then stopped.
    pub fn start(
        mut self,
        queues: &WorkerQueues,
        metrics: Arc<Metrics>,
    ) -> Result<UdpListener, ListenError> {
        if queues.is_empty() {
            return Err(ListenError::NoWorkerQueues);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let sockets = std::mem::take(&mut self.sockets);
        let mut threads = Vec::with_capacity(sockets.len());
        for (thread_idx, socket) in sockets.into_iter().enumerate() {
            let context = self.context(thread_idx, socket, queues, &metrics, &stop);
            let spawned = std::thread::Builder::new()
                .name(format!("sinkd-udp-{thread_idx}"))
                .spawn(move || receive_loop(&context));
            match spawned {
                Ok(thread) => threads.push(thread),
                Err(source) => {
                    // Stop the threads already running before reporting.
                    drop(UdpListener {
                        local_addr: self.local_addr,
                        stop,
                        threads,
                    });
                    return Err(ListenError::Thread { source });
                }
            }
        }
        tracing::info!(address = %self.local_addr, threads = threads.len(), "UDP listener started");
        Ok(UdpListener {
            local_addr: self.local_addr,
            stop,
            threads,
        })
    }

    /// Gives the sockets up without losing what they already hold: reads
    /// every datagram the kernel queued on them into the worker queues,
    /// counted as a running listener counts them, then closes them (as
    /// [`UdpListener::shutdown`] drains). Blocks for about a receive timeout
    /// (100 ms), at most two seconds under a steady stream.
    ///
    /// A reload that bound this next to a running listener and then fails
    /// elsewhere must call this rather than drop it: from the moment of the
    /// bind the kernel has sent part of the address's traffic here.
    pub fn abandon(mut self, queues: &WorkerQueues, metrics: Arc<Metrics>) {
        let stop = Arc::new(AtomicBool::new(true));
        let sockets = std::mem::take(&mut self.sockets);
        let contexts: Vec<ThreadContext> = sockets
            .into_iter()
            .enumerate()
            .map(|(thread_idx, socket)| self.context(thread_idx, socket, queues, &metrics, &stop))
            .collect();
        // One thread per socket, so the receive timeouts overlap; a socket
        // whose thread cannot start is read on this one.
        std::thread::scope(|scope| {
            for (thread_idx, context) in contexts.iter().enumerate() {
                let spawned = std::thread::Builder::new()
                    .name(format!("sinkd-udp-{thread_idx}"))
                    .spawn_scoped(scope, || receive_loop(context));
                if spawned.is_err() {
                    receive_loop(context);
                }
            }
        });
        tracing::info!(address = %self.local_addr, "bound UDP sockets abandoned after reading them empty");
    }

    fn context(
        &self,
        thread_idx: usize,
        socket: Socket,
        queues: &WorkerQueues,
        metrics: &Arc<Metrics>,
        stop: &Arc<AtomicBool>,
    ) -> ThreadContext {
        ThreadContext {
            socket,
            allow: self.config.allow.clone(),
            batch_size: self.config.batch_size,
            max_frame: self.config.max_frame,
            queue_key: thread_idx as u64,
            queues: queues.clone(),
            metrics: Arc::clone(metrics),
            stop: Arc::clone(stop),
            limiter: self.limiter.clone(),
            name: format!("udp {}", self.local_addr),
        }
    }
}

impl Drop for BoundUdp {
    /// A `BoundUdp` dropped with its sockets (neither started nor
    /// abandoned) loses what the kernel queued on them; say so.
    fn drop(&mut self) {
        if !self.sockets.is_empty() {
            tracing::warn!(
                address = %self.local_addr,
                "bound UDP sockets dropped without being read; datagrams queued on them are lost"
            );
        }
    }
}

/// Creates, configures and binds one socket of the listener. `first` is set
/// for the first socket only, so buffer-size advice is logged once.
fn bind_socket(
    config: &UdpConfig,
    bind_addr: SocketAddr,
    first: bool,
) -> Result<Socket, ListenError> {
    let socket_error = |operation, source| ListenError::Socket {
        transport: "udp",
        address: config.address,
        operation,
        source,
    };
    let socket = Socket::new(
        Domain::for_address(bind_addr),
        Type::DGRAM,
        Some(Protocol::UDP),
    )
    .map_err(|source| socket_error("create socket", source))?;
    socket
        .set_reuse_port(true)
        .map_err(|source| socket_error("set SO_REUSEPORT", source))?;
    socket
        .set_read_timeout(Some(RECV_TIMEOUT))
        .map_err(|source| socket_error("set SO_RCVTIMEO", source))?;
    // The drop count is read with SO_MEMINFO; fail here, not silently
    // later, on a kernel without it.
    kernel_drops(socket.as_raw_fd()).map_err(|source| socket_error("read SO_MEMINFO", source))?;
    set_recv_buffer(&socket, config.recv_buffer, first);
    socket
        .bind(&bind_addr.into())
        .map_err(|source| ListenError::Bind {
            transport: "udp",
            address: config.address,
            source,
        })?;
    Ok(socket)
}

/// Sets SO_RCVBUF to `size`, with SO_RCVBUFFORCE first (allowed to root,
/// or with CAP_NET_ADMIN) so that `net.core.rmem_max` does not cap it.
fn set_recv_buffer(socket: &Socket, size: usize, log_shortfall: bool) {
    let value = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    let forced = set_int_option(
        socket.as_raw_fd(),
        libc::SOL_SOCKET,
        libc::SO_RCVBUFFORCE,
        value,
    )
    .is_ok();
    if !forced {
        if let Err(error) = socket.set_recv_buffer_size(size) {
            tracing::warn!(%error, requested = size, "cannot set the UDP receive buffer size");
            return;
        }
    }
    // Linux reports twice the usable size (the rest is bookkeeping).
    let granted = socket.recv_buffer_size().map_or(0, |reported| reported / 2);
    if log_shortfall && granted < size {
        tracing::warn!(
            requested = size,
            granted,
            "UDP receive buffer smaller than requested; raise net.core.rmem_max \
             (sysctl -w net.core.rmem_max=...) or run sinkd as root to avoid kernel drops \
             during bursts"
        );
    }
}

/// Everything one receive thread owns.
struct ThreadContext {
    socket: Socket,
    allow: AllowList,
    batch_size: usize,
    max_frame: usize,
    queue_key: u64,
    queues: WorkerQueues,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
    limiter: Option<Arc<RateLimiter>>,
    /// `udp ADDRESS`, for the rate-limit report.
    name: String,
}

/// Reads batches until the stop flag is set, then reads the socket empty.
fn receive_loop(context: &ThreadContext) {
    let fd = context.socket.as_raw_fd();
    let mut receiver = Receiver::new(context.batch_size, context.max_frame);
    let metrics = &context.metrics;
    let received = metrics.received(Transport::Udp).clone();
    let not_allowed = metrics.dropped(DropReason::NotAllowed).clone();
    let frame_invalid = metrics.dropped(DropReason::FrameInvalid).clone();
    let rate_limited = metrics.dropped(DropReason::RateLimited).clone();
    let mut drops = KernelDrops { fd, counted: 0 };
    let mut n_truncated: u64 = 0;
    let mut last_error_log: Option<Instant> = None;
    let mut last_truncation_log: Option<Instant> = None;

    // Once stopped, the thread keeps reading until the socket is empty (one
    // receive timeout with nothing), for at most `DRAIN_LIMIT`: datagrams
    // the kernel already queued are handed over instead of lost uncounted.
    let mut stopped_at: Option<Instant> = None;
    // Set when the last call emptied the socket (returned less than a full
    // batch): the next call is then deferred by `COALESCE`.
    let mut drained = false;
    loop {
        if stopped_at.is_none() && context.stop.load(Ordering::Acquire) {
            stopped_at = Some(Instant::now());
        }
        if stopped_at.is_some_and(|at| at.elapsed() >= DRAIN_LIMIT) {
            break;
        }
        if drained && stopped_at.is_none() {
            std::thread::sleep(COALESCE);
        }
        let n_datagrams = match receiver.recv(fd) {
            Ok(n_datagrams) => {
                drained = n_datagrams < receiver.capacity();
                n_datagrams
            }
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                // Idle: drops followed by silence are counted now.
                drops.poll(metrics);
                if stopped_at.is_some() {
                    break;
                }
                continue;
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                if due(&mut last_error_log) {
                    tracing::warn!(%error, "UDP receive failed");
                }
                // Do not spin on a persistent error.
                std::thread::sleep(RECV_TIMEOUT);
                continue;
            }
        };
        let received_at = now_unix_micros();
        let total_bytes: usize = (0..n_datagrams)
            .map(|idx| receiver.datagram(idx).payload.len())
            .sum();
        let mut batch = RawBatch::with_capacity(
            Transport::Udp,
            received_at,
            total_bytes.min(MAX_BATCH_BYTES),
            n_datagrams,
        );
        let mut n_not_allowed = 0u64;
        let mut n_empty = 0u64;
        let mut n_rate_limited = 0u64;
        for idx in 0..n_datagrams {
            let datagram = receiver.datagram(idx);
            // A datagram's source is always an IPv4 or IPv6 address; were it
            // ever missing, the unspecified address stands in, which only an
            // empty allow list admits.
            let peer = datagram
                .peer
                .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
            if !context.allow.contains(peer.ip()) {
                n_not_allowed += 1;
                continue;
            }
            if let Some(limiter) = &context.limiter {
                if !limiter.admit(peer.ip()) {
                    n_rate_limited += 1;
                    continue;
                }
            }
            let payload = trim_trailer(datagram.payload);
            if payload.is_empty() {
                n_empty += 1;
                continue;
            }
            if datagram.truncated {
                n_truncated += 1;
            }
            if batch.data.len() + payload.len() > MAX_BATCH_BYTES && !batch.is_empty() {
                // Long datagrams: the call's frames go over in several
                // batches, so a queued batch stays within the bound.
                let rest: usize = (idx..n_datagrams)
                    .map(|idx| receiver.datagram(idx).payload.len())
                    .sum();
                let next = RawBatch::with_capacity(
                    Transport::Udp,
                    received_at,
                    rest.min(MAX_BATCH_BYTES),
                    n_datagrams - idx,
                );
                hand_over(context, std::mem::replace(&mut batch, next));
            }
            // The batch holds at most 4 MiB and a datagram, far below 4 GiB.
            batch.push(payload, peer);
        }

        received.inc_by(n_datagrams as u64);
        if n_not_allowed > 0 {
            not_allowed.inc_by(n_not_allowed);
        }
        if n_empty > 0 {
            frame_invalid.inc_by(n_empty);
        }
        if n_rate_limited > 0 {
            rate_limited.inc_by(n_rate_limited);
        }
        if let Some(limiter) = &context.limiter {
            limiter.report(metrics, &context.name);
        }
        drops.poll(metrics);
        if n_truncated > 0 && due(&mut last_truncation_log) {
            tracing::warn!(
                truncated = n_truncated,
                max_frame = context.max_frame,
                "UDP datagrams longer than max_frame were truncated"
            );
            n_truncated = 0;
        }
        if !batch.is_empty() {
            hand_over(context, batch);
        }
    }
    drops.poll(metrics);
}

/// The kernel's drop count of one socket, and the part of it already added
/// to `sinkd_udp_kernel_drops_total`.
struct KernelDrops {
    fd: std::os::fd::RawFd,
    counted: u32,
}

impl KernelDrops {
    /// Reads the count and adds what it grew by since the last read. One
    /// `getsockopt`, once per batch: the kernel then adds nothing to each
    /// datagram. A failed read is tried again at the next poll.
    fn poll(&mut self, metrics: &Metrics) {
        if let Ok(Some(total)) = kernel_drops(self.fd) {
            // Cumulative per socket, wrapping at 2^32.
            let grown = total.wrapping_sub(self.counted);
            self.counted = total;
            if grown > 0 {
                metrics.udp_kernel_drops.inc_by(u64::from(grown));
            }
        }
    }
}

/// Queues `batch` for the thread's worker, waiting for room while the
/// worker is behind; what cannot be queued is counted as dropped.
fn hand_over(context: &ThreadContext, batch: RawBatch) {
    let dropped = |reason, n| context.metrics.dropped(reason).inc_by(n);
    let Some(queue) = context.queues.for_key(context.queue_key) else {
        dropped(DropReason::QueueFull, batch.len() as u64);
        return;
    };
    match queue.try_send(batch) {
        Ok(()) => {}
        // The worker is behind: wait for it rather than drop. While this
        // thread waits, datagrams collect in the socket's receive buffer
        // (`recv_buffer`, 32 MiB by default), which absorbs the burst;
        // only if that fills too does the kernel drop, and those drops
        // are counted from its per-socket count.
        Err(TrySendError::Full(batch)) => match wait_for_room(queue, batch, &context.queues) {
            Waited::Queued => {}
            Waited::StorePaused(n) => dropped(DropReason::DiskFull, n),
            Waited::Closed(n) => dropped(DropReason::QueueFull, n),
        },
        Err(TrySendError::Closed(batch)) => dropped(DropReason::QueueFull, batch.len() as u64),
    }
}

/// Hands `batch` to a full `queue`, waiting for room as long as the store
/// writes: a worker that is merely behind catches up. While the store is
/// paused for lack of space the queue stays full until space returns, so
/// the batch is dropped and counted as `disk_full` instead, and the thread
/// goes on reading (its socket buffer would only fill and the kernel drop
/// uncounted by reason). The wait polls every [`COALESCE`] so a pause that
/// begins while it waits is noticed.
fn wait_for_room(
    queue: &crate::batch::BatchSender,
    mut batch: RawBatch,
    queues: &WorkerQueues,
) -> Waited {
    loop {
        if queues.store_paused() {
            return Waited::StorePaused(batch.len() as u64);
        }
        match queue.try_send(batch) {
            Ok(()) => return Waited::Queued,
            Err(TrySendError::Full(refused)) => {
                batch = refused;
                std::thread::sleep(COALESCE);
            }
            Err(TrySendError::Closed(refused)) => return Waited::Closed(refused.len() as u64),
        }
    }
}

/// How [`wait_for_room`] ended, with the frames not queued.
enum Waited {
    Queued,
    StorePaused(u64),
    Closed(u64),
}

/// Whether a rate-limited log line may be written now; records the time.
fn due(last: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    match last {
        Some(previous) if now.duration_since(*previous) < LOG_INTERVAL => false,
        _ => {
            *last = Some(now);
            true
        }
    }
}
