//! The senders: one loop per connection (or UDP socket), each sending its
//! own contiguous range of message indices from the shared [`Pool`].
//!
//! - UDP uses `sendmmsg(2)` on a connected socket: a batch of datagrams per
//!   system call, built in one reused buffer. When the kernel refuses a
//!   send (`EAGAIN`, `ENOBUFS`) the refusal is counted and the rest of the
//!   batch is retried after a short pause, so `sent` is what the kernel
//!   accepted; what the receiver's socket then drops is counted by the
//!   kernel (see `load.rs`).
//! - TCP and TLS write chunks of about 64 KiB of framed messages (RFC 6587
//!   LF or octet-counting). Sockets carry a short write timeout so a server
//!   that stops reading cannot hold a sender past its deadline for long; a
//!   chunk already started is finished (frames are never cut), within a
//!   grace period.
//!
//! Every loop stops at the first of its count and the run's deadline, and
//! optionally paces itself to a rate: batches are sized so that a paced
//! sender wakes up at most about a thousand times a second.

use crate::pool::Pool;
use anyhow::{bail, Context as _};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use sinkd_route::PriorityTable;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[cfg(test)]
mod tests;

/// Bytes of framed messages per stream write.
const WRITE_CHUNK: usize = 64 * 1024;

/// Most messages per stream chunk or UDP batch.
pub const MAX_BATCH: usize = 1024;

/// How long a stream write may block before the loop looks at the clock.
const WRITE_TIMEOUT: Duration = Duration::from_millis(200);

/// How long past the deadline a chunk already started may take to finish.
const FINISH_GRACE: Duration = Duration::from_secs(30);

/// Stream framing (RFC 6587).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Each message followed by `\n` (non-transparent framing).
    Lf,
    /// `LEN SP MSG`.
    OctetCounting,
}

impl Framing {
    pub fn name(self) -> &'static str {
        match self {
            Framing::Lf => "lf",
            Framing::OctetCounting => "octet-counting",
        }
    }
}

/// Counters shared by all senders of a run; read by the progress display
/// while the run goes on.
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages handed to the kernel.
    pub sent: AtomicU64,
    /// Bytes of those messages (without framing).
    pub bytes: AtomicU64,
    /// Of the sent messages, how many the `--priority` expression selects.
    pub passing: AtomicU64,
    /// `sendmmsg` calls refused with EAGAIN/EWOULDBLOCK.
    pub udp_eagain: AtomicU64,
    /// `sendmmsg` calls refused with ENOBUFS.
    pub udp_enobufs: AtomicU64,
}

/// Why a sender stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// It sent its whole range.
    Count,
    /// The run's deadline came first.
    Deadline,
}

/// One sender's share of a run.
pub struct SendPlan<'a> {
    pub pool: &'a Pool,
    /// When given, passing messages are counted.
    pub table: Option<&'a PriorityTable>,
    /// Global index of this sender's first message.
    pub first: u64,
    /// Messages in this sender's range.
    pub count: u64,
    pub deadline: Instant,
    /// Messages per second for this sender; `None` sends flat out.
    pub rate: Option<f64>,
}

impl SendPlan<'_> {
    /// Messages per batch: large flat out, small enough when paced that
    /// batches go about a thousand times a second.
    fn batch_size(&self, most: usize) -> usize {
        let most = most.clamp(1, MAX_BATCH);
        match self.rate {
            Some(rate) if rate > 0.0 => ((rate / 1000.0).ceil() as usize).clamp(1, most),
            _ => most,
        }
    }

    /// Sleeps until `done` messages are due, or until the deadline.
    fn pace(&self, started: Instant, done: u64) {
        let Some(rate) = self.rate.filter(|r| *r > 0.0) else {
            return;
        };
        let due = started + Duration::from_secs_f64(done as f64 / rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due.min(self.deadline).saturating_duration_since(now));
        }
    }

    fn passing_in(&self, first: u64, count: u64) -> u64 {
        match self.table {
            Some(table) => (first..first + count)
                .filter(|index| self.pool.passes(table, *index))
                .count() as u64,
            None => 0,
        }
    }

    fn account(&self, counters: &Counters, first: u64, count: u64, bytes: u64) {
        counters.sent.fetch_add(count, Ordering::Relaxed);
        counters.bytes.fetch_add(bytes, Ordering::Relaxed);
        if self.table.is_some() {
            counters
                .passing
                .fetch_add(self.passing_in(first, count), Ordering::Relaxed);
        }
    }
}

/// A UDP socket bound to the loopback address of `target`'s family and
/// connected to it.
pub fn udp_socket(target: SocketAddr) -> anyhow::Result<UdpSocket> {
    let local: SocketAddr = if target.is_ipv4() {
        "127.0.0.1:0".parse()?
    } else {
        "[::1]:0".parse()?
    };
    let socket = UdpSocket::bind(local).context("cannot bind a UDP socket on loopback")?;
    socket
        .connect(target)
        .with_context(|| format!("cannot connect the UDP socket to {target}"))?;
    Ok(socket)
}

/// Sends `plan` over `socket` (connected) with `sendmmsg`, `batch`
/// datagrams per call.
pub fn send_udp(
    socket: &UdpSocket,
    plan: &SendPlan<'_>,
    batch: usize,
    counters: &Counters,
) -> anyhow::Result<Stop> {
    let fd = socket.as_raw_fd();
    let batch = plan.batch_size(batch);
    let mut buffer: Vec<u8> = Vec::with_capacity(batch * plan.pool.max_len().max(1));
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(batch);
    // SAFETY: iovec and mmsghdr are plain C structs for which all-zero
    // bytes (null pointers, zero lengths) are a valid value.
    let mut iovecs: Vec<libc::iovec> = vec![unsafe { std::mem::zeroed() }; batch];
    // SAFETY: as above, all-zero bytes are a valid mmsghdr.
    let mut headers: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; batch];
    let started = Instant::now();
    let mut done: u64 = 0;
    loop {
        if done >= plan.count {
            return Ok(Stop::Count);
        }
        if Instant::now() >= plan.deadline {
            return Ok(Stop::Deadline);
        }
        plan.pace(started, done);
        let n = (batch as u64).min(plan.count - done) as usize;
        let first = plan.first + done;
        buffer.clear();
        spans.clear();
        for k in 0..n {
            let start = buffer.len();
            let len = plan.pool.write_message(first + k as u64, &mut buffer);
            spans.push((start, len));
        }
        // The buffer is complete and is not touched again until the batch
        // is sent, so the pointers below stay valid.
        for (k, (start, len)) in spans.iter().enumerate() {
            iovecs[k] = libc::iovec {
                iov_base: buffer[*start..].as_ptr() as *mut libc::c_void,
                iov_len: *len,
            };
            // SAFETY: as above, all-zero is a valid mmsghdr.
            headers[k] = unsafe { std::mem::zeroed() };
            headers[k].msg_hdr.msg_iov = &mut iovecs[k];
            headers[k].msg_hdr.msg_iovlen = 1;
        }
        let mut offset = 0usize;
        while offset < n {
            // SAFETY: `headers[offset..n]` are initialised mmsghdrs whose
            // iovecs point into `buffer`, which outlives the call; the
            // socket is connected, so no destination address is needed.
            let result = unsafe {
                libc::sendmmsg(
                    fd,
                    headers[offset..].as_mut_ptr(),
                    (n - offset) as libc::c_uint,
                    0,
                )
            };
            if result > 0 {
                offset += result as usize;
                continue;
            }
            let error = std::io::Error::last_os_error();
            let refused = match error.raw_os_error() {
                // Zero datagrams sent without an error: treat as "try again".
                _ if result == 0 => &counters.udp_eagain,
                Some(libc::EINTR) => continue,
                Some(code) if code == libc::EAGAIN || code == libc::EWOULDBLOCK => {
                    &counters.udp_eagain
                }
                Some(libc::ENOBUFS) => &counters.udp_enobufs,
                Some(libc::ECONNREFUSED) => {
                    bail!(
                        "nothing listens on UDP {} (the kernel got ICMP port unreachable)",
                        socket
                            .peer_addr()
                            .map(|a| a.to_string())
                            .unwrap_or_default()
                    )
                }
                _ => return Err(error).context("sendmmsg failed"),
            };
            refused.fetch_add(1, Ordering::Relaxed);
            if Instant::now() >= plan.deadline {
                break;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        let bytes: usize = spans[..offset].iter().map(|(_, len)| len).sum();
        plan.account(counters, first, offset as u64, bytes as u64);
        done += offset as u64;
        if offset < n {
            return Ok(Stop::Deadline);
        }
    }
}

/// Appends `value` in decimal.
fn push_decimal(value: usize, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends message `index` framed as `framing` asks; returns the message's
/// own length.
pub fn push_framed(pool: &Pool, index: u64, framing: Framing, out: &mut Vec<u8>) -> usize {
    match framing {
        Framing::Lf => {
            let len = pool.write_message(index, out);
            out.push(b'\n');
            len
        }
        Framing::OctetCounting => {
            push_decimal(pool.message_len(index), out);
            out.push(b' ');
            pool.write_message(index, out)
        }
    }
}

/// Writes all of `data`, looking at the clock whenever the socket's write
/// timeout expires; gives up `FINISH_GRACE` after the deadline.
fn write_chunk<W: Write>(writer: &mut W, data: &[u8], deadline: Instant) -> anyhow::Result<()> {
    let mut offset = 0;
    while offset < data.len() {
        // `write` rather than `write_all`: a timeout must not lose track
        // of how much of the chunk already went out.
        #[allow(clippy::disallowed_methods)]
        let result = writer.write(&data[offset..]);
        match result {
            Ok(0) => bail!("the server closed the connection"),
            Ok(written) => offset += written,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if Instant::now() >= deadline + FINISH_GRACE {
                    bail!(
                        "the server stopped reading: a write was still blocked {}s after the deadline",
                        FINISH_GRACE.as_secs()
                    );
                }
            }
            Err(error) => return Err(error).context("write failed"),
        }
    }
    Ok(())
}

/// Sends `plan` over a byte stream (a TCP socket or a TLS session on one).
pub fn send_stream<W: Write>(
    writer: &mut W,
    plan: &SendPlan<'_>,
    framing: Framing,
    counters: &Counters,
) -> anyhow::Result<Stop> {
    let batch = plan.batch_size(MAX_BATCH);
    let mut buffer: Vec<u8> = Vec::with_capacity(WRITE_CHUNK + plan.pool.max_len() + 16);
    let started = Instant::now();
    let mut done: u64 = 0;
    let stop = loop {
        if done >= plan.count {
            break Stop::Count;
        }
        if Instant::now() >= plan.deadline {
            break Stop::Deadline;
        }
        plan.pace(started, done);
        buffer.clear();
        let first = plan.first + done;
        let mut n: u64 = 0;
        let mut bytes: u64 = 0;
        while (n as usize) < batch && buffer.len() < WRITE_CHUNK && done + n < plan.count {
            bytes += push_framed(plan.pool, first + n, framing, &mut buffer) as u64;
            n += 1;
        }
        write_chunk(writer, &buffer, plan.deadline)?;
        plan.account(counters, first, n, bytes);
        done += n;
    };
    loop {
        match writer.flush() {
            Ok(()) => break,
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if Instant::now() >= plan.deadline + FINISH_GRACE {
                    bail!("the server stopped reading while the last chunk was flushed");
                }
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error).context("flush failed"),
        }
    }
    Ok(stop)
}

/// A TCP connection to `target` with the write timeout the stream loop
/// relies on.
pub fn tcp_connect(target: SocketAddr) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&target, Duration::from_secs(5))
        .with_context(|| format!("cannot connect to TCP {target}"))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    stream.set_nodelay(false)?;
    Ok(stream)
}

/// Certificate files for TLS.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// CA that signed the server's certificate (PEM).
    pub ca: std::path::PathBuf,
    /// Client certificate chain and key (PEM), when the server asks for one.
    pub client: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// Name checked against the server certificate.
    pub server_name: String,
}

/// A rustls client configuration (ring provider) trusting `files.ca`.
pub fn tls_client_config(files: &TlsFiles) -> anyhow::Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&files.ca)
        .with_context(|| format!("cannot read CA file {}", files.ca.display()))?
    {
        let cert = cert.with_context(|| format!("bad PEM in {}", files.ca.display()))?;
        roots
            .add(cert)
            .with_context(|| format!("unusable CA certificate in {}", files.ca.display()))?;
    }
    if roots.is_empty() {
        bail!("no certificate in CA file {}", files.ca.display());
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_root_certificates(roots);
    let config = match &files.client {
        Some((cert_path, key_path)) => {
            let chain = CertificateDer::pem_file_iter(cert_path)
                .with_context(|| format!("cannot read {}", cert_path.display()))?
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("bad PEM in {}", cert_path.display()))?;
            let key = PrivateKeyDer::from_pem_file(key_path).with_context(|| {
                format!("cannot read a private key from {}", key_path.display())
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .context("client certificate")?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A TLS session to `target`, with the handshake already done so that
/// sending time is not handshake time.
pub fn tls_connect(
    target: SocketAddr,
    config: &Arc<ClientConfig>,
    server_name: &str,
) -> anyhow::Result<StreamOwned<ClientConnection, TcpStream>> {
    let name = ServerName::try_from(server_name.to_string())
        .with_context(|| format!("invalid TLS server name {server_name:?}"))?;
    let mut tcp = TcpStream::connect_timeout(&target, Duration::from_secs(5))
        .with_context(|| format!("cannot connect to TLS {target}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut connection =
        ClientConnection::new(Arc::clone(config), name).context("TLS client session")?;
    while connection.is_handshaking() {
        connection
            .complete_io(&mut tcp)
            .with_context(|| format!("TLS handshake with {target} failed"))?;
    }
    // rustls may try to read while it writes (it wants to see the server's
    // session tickets or alerts); a read timeout keeps that from blocking
    // a sender forever, and the loops treat it like a write timeout.
    tcp.set_read_timeout(Some(WRITE_TIMEOUT))?;
    tcp.set_write_timeout(Some(WRITE_TIMEOUT))?;
    Ok(StreamOwned::new(connection, tcp))
}

/// How long a closing connection waits for the server to close its side.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// Reads and discards until the peer closes, an error, or `CLOSE_WAIT`.
///
/// Closing a socket that still has unread incoming bytes (a TLS 1.3
/// server's session tickets, say) makes the kernel send a reset instead of
/// a FIN, and a reset can discard data the server has received but not yet
/// read. Waiting for the server's own close after shutting our write side
/// avoids that, so every message sent is a message the server could read.
fn drain_until_closed<R: Read>(reader: &mut R, socket: &TcpStream) {
    let _ = socket.set_read_timeout(Some(Duration::from_millis(500)));
    let give_up = Instant::now() + CLOSE_WAIT;
    let mut scratch = [0u8; 4096];
    while Instant::now() < give_up {
        match reader.read(&mut scratch) {
            Ok(0) => return,
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return,
        }
    }
}

/// Ends a TCP connection: write side shut, then wait for the server's
/// close (see `drain_until_closed`).
pub fn tcp_close(stream: &mut TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let socket = match stream.try_clone() {
        Ok(socket) => socket,
        Err(_) => return,
    };
    drain_until_closed(stream, &socket);
}

/// Ends a TLS session politely: close_notify, flushed, the write side of
/// the socket shut, then the server's close awaited.
pub fn tls_close(stream: &mut StreamOwned<ClientConnection, TcpStream>) {
    stream.conn.send_close_notify();
    let give_up = Instant::now() + Duration::from_secs(5);
    while stream.conn.wants_write() && Instant::now() < give_up {
        match stream.conn.write_tls(&mut stream.sock) {
            Ok(_) => {}
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = stream.sock.shutdown(std::net::Shutdown::Write);
    let socket = match stream.sock.try_clone() {
        Ok(socket) => socket,
        Err(_) => return,
    };
    drain_until_closed(stream, &socket);
}
