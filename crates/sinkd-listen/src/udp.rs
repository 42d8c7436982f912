//! The UDP listener (RFC 5426): SO_REUSEPORT sockets read with `recvmmsg`
//! on plain OS threads.
//!
//! UDP is where the collector is most likely to lose messages, and nothing
//! can push back on a UDP sender, so this path is built to read fast and to
//! count everything it cannot keep. [`start_udp`] binds `threads` sockets to
//! one address with SO_REUSEPORT; the kernel spreads senders across them by
//! address hash, so each thread sees its own share of devices. Each thread
//! owns a [`Receiver`]: fixed buffers for `batch_size` datagrams, their peer
//! addresses and their control messages, filled by a single `recvmmsg` call
//! (`MSG_WAITFORONE`: wait for one datagram, then take whatever else is
//! already queued). What one call returned becomes one [`RawBatch`] for the
//! thread's worker queue. A call that empties the socket is followed by a
//! 1 ms pause ([`COALESCE`]), so that under load datagrams are taken a full
//! batch at a time rather than a few per wake-up.
//!
//! Losses are counted at every step: datagrams from sources outside the
//! allow list (`not_allowed`), empty datagrams (`frame_invalid`), batches
//! whose worker queue is closed (`queue_full`, only during shutdown), and
//! datagrams the kernel dropped because the socket buffer was full. When a
//! worker queue is full the thread waits for it, so bursts queue up in the
//! socket's receive buffer instead of being dropped by sinkd. The last come from SO_RXQ_OVFL: the kernel attaches its running
//! per-socket drop count to each datagram, and the thread adds what it grew
//! by to `sinkd_udp_kernel_drops_total`.
//!
//! Every socket has a 100 ms receive timeout so its thread notices
//! [`UdpListener::shutdown`] promptly even when no datagram arrives. A
//! stopping thread first reads what the kernel already queued, until the
//! socket is empty or two seconds have passed.

use crate::allow::AllowList;
use crate::batch::{now_unix_micros, RawBatch, WorkerQueues};
use crate::config::UdpConfig;
use crate::error::ListenError;
use sinkd_metrics::{DropReason, Metrics, Transport};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};
use std::ptr;
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
/// Room for the control messages of one datagram: SO_RXQ_OVFL needs
/// `CMSG_SPACE(4)` (24 bytes on 64-bit Linux); the rest is slack.
const CONTROL_WORDS: usize = 8;
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

    /// Stops the receive threads and waits for them (at most about 100 ms).
    /// Datagrams already read are in the worker queues by then; those still
    /// in the kernel's buffers are lost with the sockets.
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

/// Binds `config.threads` sockets (one per worker queue when 0) on
/// `config.address` and starts one receive thread per socket. Thread `i`
/// feeds worker queue `i % queues.len()`.
///
/// Bind errors come back at once; a permission error on a port below 1024
/// explains how to allow it.
pub fn start_udp(
    config: &UdpConfig,
    queues: &WorkerQueues,
    metrics: Arc<Metrics>,
) -> Result<UdpListener, ListenError> {
    config.validate()?;
    if queues.is_empty() {
        return Err(ListenError::NoWorkerQueues);
    }
    let n_threads = config.threads_for(queues.len());
    let mut sockets = Vec::with_capacity(n_threads);
    let first = bind_socket(config, config.address, true)?;
    let local_addr = first
        .local_addr()
        .ok()
        .and_then(|addr| addr.as_socket())
        .unwrap_or(config.address);
    sockets.push(first);
    for _ in 1..n_threads {
        // With port 0 the first socket picked a port; the others join it.
        sockets.push(bind_socket(config, local_addr, false)?);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::with_capacity(sockets.len());
    for (thread_idx, socket) in sockets.into_iter().enumerate() {
        let context = ThreadContext {
            socket,
            allow: config.allow.clone(),
            batch_size: config.batch_size,
            max_frame: config.max_frame,
            queue_key: thread_idx as u64,
            queues: queues.clone(),
            metrics: Arc::clone(&metrics),
            stop: Arc::clone(&stop),
        };
        let spawned = std::thread::Builder::new()
            .name(format!("sinkd-udp-{thread_idx}"))
            .spawn(move || receive_loop(context));
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(source) => {
                // Stop the threads already running before reporting.
                drop(UdpListener {
                    local_addr,
                    stop,
                    threads,
                });
                return Err(ListenError::Thread { source });
            }
        }
    }
    tracing::info!(address = %local_addr, threads = threads.len(), "UDP listener started");
    Ok(UdpListener {
        local_addr,
        stop,
        threads,
    })
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
    enable_kernel_drop_counter(socket.as_raw_fd())
        .map_err(|source| socket_error("set SO_RXQ_OVFL", source))?;
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

/// Asks the kernel to attach the socket's drop count to every datagram.
fn enable_kernel_drop_counter(fd: RawFd) -> io::Result<()> {
    set_int_option(fd, libc::SOL_SOCKET, libc::SO_RXQ_OVFL, 1)
}

fn set_int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` outlives the call and its size is passed along; the
    // kernel only reads from the pointer.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            ptr::addr_of!(value).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
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
}

/// Reads batches until the stop flag is set.
fn receive_loop(context: ThreadContext) {
    let fd = context.socket.as_raw_fd();
    let mut receiver = Receiver::new(context.batch_size, context.max_frame);
    let metrics = &context.metrics;
    let received = metrics.received(Transport::Udp).clone();
    let not_allowed = metrics.dropped(DropReason::NotAllowed).clone();
    let frame_invalid = metrics.dropped(DropReason::FrameInvalid).clone();
    let queue_full = metrics.dropped(DropReason::QueueFull).clone();
    let kernel_drops = metrics.udp_kernel_drops.clone();
    let mut last_kernel_drops: u32 = 0;
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
        let mut batch =
            RawBatch::with_capacity(Transport::Udp, received_at, total_bytes, n_datagrams);
        let mut n_not_allowed = 0u64;
        let mut n_empty = 0u64;
        let mut latest_kernel_drops = None;
        for idx in 0..n_datagrams {
            let datagram = receiver.datagram(idx);
            if datagram.kernel_drops.is_some() {
                latest_kernel_drops = datagram.kernel_drops;
            }
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
            let payload = trim_trailer(datagram.payload);
            if payload.is_empty() {
                n_empty += 1;
                continue;
            }
            if datagram.truncated {
                n_truncated += 1;
            }
            // The batch holds at most 1024 × 64 KiB, far below 4 GiB.
            batch.push(payload, peer);
        }

        received.inc_by(n_datagrams as u64);
        if n_not_allowed > 0 {
            not_allowed.inc_by(n_not_allowed);
        }
        if n_empty > 0 {
            frame_invalid.inc_by(n_empty);
        }
        if let Some(total) = latest_kernel_drops {
            // The kernel's count is cumulative per socket and wraps at 2^32.
            let grown = total.wrapping_sub(last_kernel_drops);
            last_kernel_drops = total;
            if grown > 0 {
                kernel_drops.inc_by(u64::from(grown));
            }
        }
        if n_truncated > 0 && due(&mut last_truncation_log) {
            tracing::warn!(
                truncated = n_truncated,
                max_frame = context.max_frame,
                "UDP datagrams longer than max_frame were truncated"
            );
            n_truncated = 0;
        }
        if batch.is_empty() {
            continue;
        }
        let Some(queue) = context.queues.for_key(context.queue_key) else {
            queue_full.inc_by(batch.len() as u64);
            continue;
        };
        match queue.try_send(batch) {
            Ok(()) => {}
            // The worker is behind: wait for it rather than drop. While this
            // thread waits, datagrams collect in the socket's receive buffer
            // (`recv_buffer`, 32 MiB by default), which absorbs the burst;
            // only if that fills too does the kernel drop, and those drops
            // are counted through SO_RXQ_OVFL.
            Err(TrySendError::Full(batch)) => {
                if let Err(refused) = queue.blocking_send(batch) {
                    queue_full.inc_by(refused.0.len() as u64);
                }
            }
            Err(TrySendError::Closed(batch)) => {
                queue_full.inc_by(batch.len() as u64);
            }
        }
    }
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

/// Strips the LF, CR LF or NUL bytes some senders put after a UDP message;
/// they are transport residue, not message text.
pub(crate) fn trim_trailer(mut payload: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r' | b'\0'] = payload {
        payload = rest;
    }
    payload
}

/// One datagram as `recvmmsg` left it.
#[derive(Debug)]
pub(crate) struct Datagram<'a> {
    /// The payload, at most `max_frame` bytes.
    pub(crate) payload: &'a [u8],
    /// The sender.
    pub(crate) peer: Option<SocketAddr>,
    /// The datagram was longer than the buffer and was cut (MSG_TRUNC).
    pub(crate) truncated: bool,
    /// The socket's cumulative kernel drop count, when the kernel attached
    /// it (it does so once the count is non-zero).
    pub(crate) kernel_drops: Option<u32>,
}

impl Datagram<'_> {
    const EMPTY: Datagram<'static> = Datagram {
        payload: &[],
        peer: None,
        truncated: false,
        kernel_drops: None,
    };
}

/// Reusable buffers for `recvmmsg`: payload slots, addresses, control
/// messages and the headers pointing at them.
///
/// The headers hold raw pointers into the other vectors. Those vectors are
/// allocated once in [`Receiver::new`] and never resized, so their heap
/// buffers stay put even when the `Receiver` itself moves.
pub(crate) struct Receiver {
    max_frame: usize,
    payloads: Vec<u8>,
    iovecs: Vec<libc::iovec>,
    addresses: Vec<libc::sockaddr_storage>,
    controls: Vec<[u64; CONTROL_WORDS]>,
    headers: Vec<libc::mmsghdr>,
    n_filled: usize,
}

impl Receiver {
    /// Buffers for `batch_size` datagrams of up to `max_frame` bytes (both
    /// at least 1).
    pub(crate) fn new(batch_size: usize, max_frame: usize) -> Receiver {
        let batch_size = batch_size.max(1);
        let max_frame = max_frame.max(1);
        let mut receiver = Receiver {
            max_frame,
            payloads: vec![0; batch_size * max_frame],
            iovecs: Vec::with_capacity(batch_size),
            // SAFETY (zeroed): all-zero bytes are a valid value of these
            // plain C structs (integers and null pointers).
            addresses: vec![unsafe { mem::zeroed() }; batch_size],
            controls: vec![[0; CONTROL_WORDS]; batch_size],
            headers: Vec::with_capacity(batch_size),
            n_filled: 0,
        };
        for slot in receiver.payloads.chunks_exact_mut(max_frame) {
            receiver.iovecs.push(libc::iovec {
                iov_base: slot.as_mut_ptr().cast(),
                iov_len: max_frame,
            });
        }
        for idx in 0..batch_size {
            // SAFETY: as above, a zeroed mmsghdr is valid; its pointers are
            // filled in right away.
            let mut header: libc::mmsghdr = unsafe { mem::zeroed() };
            header.msg_hdr.msg_name = ptr::addr_of_mut!(receiver.addresses[idx]).cast();
            header.msg_hdr.msg_iov = ptr::addr_of_mut!(receiver.iovecs[idx]);
            header.msg_hdr.msg_iovlen = 1;
            header.msg_hdr.msg_control = receiver.controls[idx].as_mut_ptr().cast();
            receiver.headers.push(header);
        }
        receiver
    }

    /// Datagrams one call can return (`batch_size`).
    pub(crate) fn capacity(&self) -> usize {
        self.headers.len()
    }

    /// Receives up to `batch_size` datagrams: waits (up to the socket's
    /// receive timeout) for the first, then takes those already queued.
    pub(crate) fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.n_filled = 0;
        for header in &mut self.headers {
            // The kernel overwrites these on every call.
            header.msg_hdr.msg_namelen =
                mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_hdr.msg_controllen = mem::size_of::<[u64; CONTROL_WORDS]>();
            header.msg_hdr.msg_flags = 0;
            header.msg_len = 0;
        }
        let vlen = libc::c_uint::try_from(self.headers.len()).unwrap_or(libc::c_uint::MAX);
        // SAFETY: every header points at an address, an iovec and a control
        // buffer owned by `self`, with their true sizes; the iovecs point at
        // distinct `max_frame`-byte slots of `self.payloads`. The kernel
        // writes only within those bounds, and `&mut self` guarantees no
        // one reads the buffers meanwhile.
        let rc = unsafe {
            libc::recvmmsg(
                fd,
                self.headers.as_mut_ptr(),
                vlen,
                libc::MSG_WAITFORONE,
                ptr::null_mut(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        self.n_filled = usize::try_from(rc).unwrap_or(0).min(self.headers.len());
        Ok(self.n_filled)
    }

    /// Datagram `idx` of the last [`Receiver::recv`]; an empty one past
    /// the number it returned.
    pub(crate) fn datagram(&self, idx: usize) -> Datagram<'_> {
        let (Some(header), Some(address)) = (self.headers.get(idx), self.addresses.get(idx)) else {
            return Datagram::EMPTY;
        };
        if idx >= self.n_filled {
            return Datagram::EMPTY;
        }
        let len = (header.msg_len as usize).min(self.max_frame);
        let start = idx * self.max_frame;
        let payload = self.payloads.get(start..start + len).unwrap_or(&[]);
        Datagram {
            payload,
            peer: socket_addr(address, header.msg_hdr.msg_namelen),
            truncated: header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
            kernel_drops: kernel_drop_count(&header.msg_hdr),
        }
    }
}

/// The SO_RXQ_OVFL value among a received datagram's control messages.
fn kernel_drop_count(header: &libc::msghdr) -> Option<u32> {
    if header.msg_control.is_null() || header.msg_controllen == 0 {
        return None;
    }
    // SAFETY: after `recvmmsg`, `msg_control`/`msg_controllen` describe the
    // control messages the kernel wrote into our buffer; the CMSG_* macros
    // walk them without leaving it, and the payload is read unaligned.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(header);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SO_RXQ_OVFL {
                return Some(ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<u32>()));
            }
            cmsg = libc::CMSG_NXTHDR(header, cmsg);
        }
    }
    None
}

/// Converts a socket address the kernel wrote.
fn socket_addr(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET if len >= mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, and
            // sockaddr_storage is large and aligned enough for any address.
            let sin = unsafe { &*ptr::addr_of!(*storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &*ptr::addr_of!(*storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}
