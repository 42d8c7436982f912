//! One TCP or TLS connection: handshake, read loop, deframing, and handing
//! batches to a worker queue.
//!
//! [`serve`] is the body of every connection task spawned by the accept loop
//! in `stream.rs`. For TLS it first runs the rustls handshake under a
//! timeout. Then it repeats one cycle: read what the socket has into a
//! `BytesMut` (never more than `max_frame` + 64 KiB buffered), let
//! `sinkd_proto`'s RFC 6587 [`Deframer`] find the complete frames at the
//! front, split that front off as a fresh [`RawBatch`]'s arena (no copy),
//! and `send().await` that batch to the
//! connection's worker queue before reading again. Sending after every read
//! keeps latency low (nothing waits for a fuller batch), and awaiting the
//! send is the backpressure: while the queue is full the socket is not read,
//! the kernel's receive window fills, and the sender's writes block.
//!
//! How a connection ends is counted once in
//! `sinkd_connections_closed_total` (see [`ConnectionEvent`]); messages lost
//! along the way are counted in `sinkd_messages_dropped_total`, and every
//! message read, kept or not, in `sinkd_messages_received_total`. Frames
//! that were decoded are always handed over, even when the connection ends
//! because of a framing error or shutdown. On shutdown a connection first
//! drains: it reads on until its peer's data stops (EOF, a short quiet
//! spell, or a time limit), so what a sender wrote before SIGTERM is kept.
//!
//! A RELP listener's connections run a [`RelpSession`] instead of the
//! deframer once admitted (and handshaken); the input budget and rate
//! limit ([`Pacer`]) serve both.
//!
//! [`Settings`] is what a connection takes from its listener's
//! configuration when it is accepted (the listener swaps in new ones on a
//! reload; open connections keep theirs).

use crate::allow::AllowList;
use crate::batch::{now_unix_micros, BatchSender, RawBatch, RawFrame};
use crate::budget::{Held, BUDGET_PATIENCE};
use crate::config::{StreamConfig, TlsConfig};
use crate::error::ListenError;
use crate::ratelimit::RateLimiter;
use crate::relp::RelpSession;
use crate::slots::{Limits, Refusal, Slot, Slots};
use crate::tls;
use bytes::{Buf, BufMut, BytesMut};
use sinkd_metrics::{ConnectionEvent, DropReason, Metrics, Transport};
use sinkd_proto::framing::{Deframer, FrameError, Framing};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// What a connection needs to know from the configuration, fixed when it is
/// accepted.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) allow: AllowList,
    pub(crate) framing: Option<Framing>,
    pub(crate) max_frame: usize,
    pub(crate) idle_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) limits: Limits,
    pub(crate) tls: Option<TlsSettings>,
    /// The buckets of `rate_limit`, shared by the listener's connections
    /// (new settings on a reload start new buckets).
    pub(crate) limiter: Option<Arc<RateLimiter>>,
    /// `tcp ADDRESS`, `tls ADDRESS`…, for the rate-limit report.
    pub(crate) name: String,
    /// Speak RELP rather than RFC 6587.
    pub(crate) relp: bool,
}

/// The certificate files and the acceptor built from them.
#[derive(Clone)]
pub(crate) struct TlsSettings {
    pub(crate) config: TlsConfig,
    pub(crate) acceptor: TlsAcceptor,
}

impl TlsSettings {
    /// Reads the files of `config` and builds the acceptor.
    pub(crate) fn load(config: &TlsConfig) -> Result<TlsSettings, ListenError> {
        Ok(TlsSettings {
            config: config.clone(),
            acceptor: tls::acceptor(config)?,
        })
    }
}

impl Settings {
    /// Validates `config` and loads its certificates.
    pub(crate) fn from_config(config: &StreamConfig) -> Result<Settings, ListenError> {
        config.validate()?;
        let tls = match &config.tls {
            None => None,
            Some(tls_config) => Some(TlsSettings::load(tls_config)?),
        };
        Ok(Settings {
            allow: config.allow.clone(),
            framing: config.framing,
            max_frame: config.max_frame,
            idle_timeout: config.idle_timeout,
            handshake_timeout: config.handshake_timeout,
            limits: Limits {
                max_connections: config.max_connections,
                max_per_source: config.max_connections_per_source,
            },
            tls,
            limiter: config
                .rate_limit
                .map(|limit| Arc::new(RateLimiter::new(limit))),
            name: format!("{} {}", config.transport_name(), config.address),
            relp: config.relp,
        })
    }
}

/// Resolves once `signal` holds `true` or its sender is gone.
pub(crate) async fn wait_for_signal(signal: &mut watch::Receiver<bool>) {
    // An error means the sender was dropped, which counts as the signal.
    let _ = signal.wait_for(|raised| *raised).await;
}

#[cfg(test)]
mod tests;

/// Buffered bytes allowed beyond `max_frame`: room for the next read while a
/// maximal frame is still incomplete.
pub(crate) const READ_HEADROOM: usize = 64 * 1024;
/// After shutdown is signalled, a connection goes on reading what its peer
/// already sent, until EOF, until the peer has been quiet this long, or
/// until [`DRAIN_LIMIT`] has passed: a sender that wrote its messages and
/// closed just before SIGTERM loses none of them.
pub(crate) const DRAIN_QUIET: Duration = Duration::from_millis(200);
/// Longest drain after shutdown is signalled, so a sender that never stops
/// cannot hold the shutdown up.
pub(crate) const DRAIN_LIMIT: Duration = Duration::from_secs(2);
/// Longest wait for the TLS close_notify to be written when a connection
/// ends.
const CLOSE_NOTIFY_TIMEOUT: Duration = Duration::from_secs(1);
/// Buffer every connection may hold without drawing on the input budget,
/// so senders of ordinary lines are never held up by connections hoarding
/// incomplete frames.
pub(crate) const FREE_BUFFER: usize = INITIAL_READ;

/// The part of a `capacity`-byte buffer drawn from the input budget.
pub(crate) fn charged(capacity: usize) -> usize {
    capacity.saturating_sub(FREE_BUFFER)
}

/// How often a connection waiting for the input budget looks again.
const BUDGET_RETRY: Duration = Duration::from_millis(20);
/// The largest read buffer a batch may take its arena from without a copy:
/// what a connection reading in `READ_HEADROOM` bites with a pending frame
/// of the default `max_frame` allocates. A batch keeps the whole
/// allocation alive while it waits in a queue, so a larger buffer (grown
/// for a long frame) has its frames copied out instead.
pub(crate) const SPLIT_MAX: usize = 2 * READ_HEADROOM;
/// First read size; doubled (up to `READ_HEADROOM`) while reads fill it, so
/// an idle connection holds a small buffer and a busy one reads in big bites.
pub(crate) const INITIAL_READ: usize = 8 * 1024;

/// A connection's slot in the listener's table ([`Slots`]). Taking one
/// raises the `sinkd_tcp_connections` gauge; dropping it, when the task
/// ends, frees the slot and lowers the gauge. It also holds the task's
/// clone of the listener's "connections done" sender (see
/// `StreamListener::join`).
pub(crate) struct ConnectionGuard {
    slot: Slot,
    metrics: Arc<Metrics>,
    transport: Transport,
    _done: mpsc::Sender<()>,
}

impl ConnectionGuard {
    /// Takes a slot for a connection from `peer` under `limits` (evicting
    /// the oldest silent connection when the table is full), or says why
    /// not.
    pub(crate) fn reserve(
        slots: &Arc<Slots>,
        peer: IpAddr,
        limits: Limits,
        metrics: Arc<Metrics>,
        transport: Transport,
        done: mpsc::Sender<()>,
    ) -> Result<ConnectionGuard, Refusal> {
        let slot = slots.admit(peer, limits)?;
        metrics.connections(transport).inc();
        Ok(ConnectionGuard {
            slot,
            metrics,
            transport,
            _done: done,
        })
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.metrics.connections(self.transport).dec();
    }
}

/// An admitted connection and everything its task needs.
pub(crate) struct Connection {
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    pub(crate) settings: Arc<Settings>,
    pub(crate) transport: Transport,
    pub(crate) queue: BatchSender,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) guard: ConnectionGuard,
}

/// Runs a connection to its end and counts how it ended.
pub(crate) async fn serve(connection: Connection) {
    let Connection {
        stream,
        peer,
        settings,
        transport,
        queue,
        metrics,
        mut shutdown,
        mut guard,
    } = connection;
    let pacer = Pacer {
        peer,
        metrics: Arc::clone(&metrics),
        limiter: settings.limiter.clone(),
        name: settings.name.clone(),
    };
    let mut reader = if settings.relp {
        Reader::Relp(RelpSession::new(
            pacer,
            transport,
            queue,
            settings.max_frame,
            settings.idle_timeout,
        ))
    } else {
        Reader::Syslog(FrameReader {
            pacer,
            transport,
            queue,
            deframer: match settings.framing {
                Some(framing) => Deframer::with_framing(framing, settings.max_frame),
                None => Deframer::new(settings.max_frame),
            },
            idle_timeout: settings.idle_timeout,
        })
    };
    let event = match &settings.tls {
        None => {
            let mut stream = stream;
            reader
                .run(&mut stream, &mut shutdown, &mut guard.slot)
                .await
        }
        Some(tls) => {
            let handshake =
                tokio::time::timeout(settings.handshake_timeout, tls.acceptor.accept(stream));
            let handshaken = tokio::select! {
                biased;
                () = wait_for_signal(&mut shutdown) => Err(ConnectionEvent::Shutdown),
                () = guard.slot.evicted() => Err(ConnectionEvent::Evicted),
                result = handshake => match result {
                    Ok(Ok(tls_stream)) => Ok(tls_stream),
                    Ok(Err(error)) => {
                        tracing::debug!(%peer, %error, "TLS handshake failed");
                        Err(ConnectionEvent::TlsHandshake)
                    }
                    Err(_elapsed) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        Err(ConnectionEvent::TlsHandshake)
                    }
                },
            };
            match handshaken {
                Ok(mut tls_stream) => {
                    let event = reader
                        .run(&mut tls_stream, &mut shutdown, &mut guard.slot)
                        .await;
                    if event != ConnectionEvent::IoError {
                        // RFC 5425 §4.4: answer the client's close_notify
                        // with ours (and announce our own closes), so the
                        // client can tell a clean end from a truncation.
                        // Bounded: a peer that reads nothing cannot hold
                        // the task.
                        let _ =
                            tokio::time::timeout(CLOSE_NOTIFY_TIMEOUT, tls_stream.shutdown()).await;
                    }
                    event
                }
                Err(event) => event,
            }
        }
    };
    metrics.connection_closed(event).inc();
    tracing::debug!(%peer, reason = event.label(), "connection closed");
    drop(guard);
}

/// What a connection runs once admitted (and, for TLS, handshaken): the
/// syslog deframer or a RELP session.
enum Reader {
    Syslog(FrameReader),
    Relp(RelpSession),
}

impl Reader {
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        shutdown: &mut watch::Receiver<bool>,
        slot: &mut Slot,
    ) -> ConnectionEvent {
        match self {
            Reader::Syslog(reader) => reader.run(stream, shutdown, slot).await,
            Reader::Relp(session) => session.run(stream, shutdown, slot).await,
        }
    }
}

/// The read–deframe–send cycle of one syslog connection.
struct FrameReader {
    pacer: Pacer,
    transport: Transport,
    queue: BatchSender,
    deframer: Deframer,
    idle_timeout: Duration,
}

/// What paces a connection's reading, whatever its protocol: the input
/// budget and the source's rate limit.
pub(crate) struct Pacer {
    pub(crate) peer: SocketAddr,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) limiter: Option<Arc<RateLimiter>>,
    /// `tcp ADDRESS`, `tls ADDRESS`…, for the rate-limit report.
    pub(crate) name: String,
}

/// What one pass of the deframer over the buffer produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// Frames put in the batch.
    pub(crate) n_frames: u64,
    /// LF lines dropped for exceeding `max_frame`.
    pub(crate) n_too_large: u64,
    /// The error that ended the stream, if any.
    pub(crate) fatal: Option<FrameError>,
}

impl FrameReader {
    async fn run<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        shutdown: &mut watch::Receiver<bool>,
        slot: &mut Slot,
    ) -> ConnectionEvent {
        let buffer_limit = self.deframer.max_frame().saturating_add(READ_HEADROOM);
        // Allocated on the first read, from the budget of every
        // connection's buffers.
        let mut buf = BytesMut::new();
        let mut held = Held::default();
        let mut read_size = INITIAL_READ;
        // Whether a batch may take the buffer's decoded front without a
        // copy (see below).
        let mut split_ok = true;
        // Set when shutdown is signalled: from then on the connection only
        // drains what its peer already sent.
        let mut drain_deadline: Option<Instant> = None;
        loop {
            // `decode` leaves at most `max_buffered()` bytes, below the
            // limit, so there is always room to read.
            let want = read_size.min(buffer_limit.saturating_sub(buf.len()));
            let want = match self
                .pacer
                .make_room(&mut buf, &mut held, want, shutdown, slot)
                .await
            {
                Ok(want) => want,
                Err(event) => return event,
            };
            let outcome = {
                let mut limited = (&mut buf).limit(want);
                match drain_deadline {
                    None => {
                        let read = read_idle(self.idle_timeout, stream.read_buf(&mut limited));
                        tokio::select! {
                            biased;
                            () = wait_for_signal(shutdown) => {
                                drain_deadline = Some(Instant::now() + DRAIN_LIMIT);
                                continue;
                            }
                            () = slot.evicted(), if slot.unproven() => {
                                return ConnectionEvent::Evicted;
                            }
                            outcome = read => outcome,
                        }
                    }
                    Some(deadline) => {
                        let quiet_until = (Instant::now() + DRAIN_QUIET).min(deadline);
                        let read = stream.read_buf(&mut limited);
                        match tokio::time::timeout_at(quiet_until, read).await {
                            Ok(outcome) => Some(outcome),
                            Err(_elapsed) => return ConnectionEvent::Shutdown,
                        }
                    }
                }
            };
            let at_eof = match outcome {
                None => return ConnectionEvent::IdleTimeout,
                Some(Ok(0)) => true,
                Some(Ok(n_read)) => {
                    if n_read == want {
                        read_size = read_size.saturating_mul(2).min(READ_HEADROOM);
                    } else if n_read < want / 4 {
                        read_size = (read_size / 2).max(INITIAL_READ);
                    }
                    false
                }
                // A TLS peer that closes without close_notify.
                Some(Err(error)) if error.kind() == io::ErrorKind::UnexpectedEof => true,
                Some(Err(error)) => {
                    tracing::debug!(peer = %self.pacer.peer, %error, "connection read failed");
                    return ConnectionEvent::IoError;
                }
            };
            // A batch may keep the read buffer's allocation only while it
            // is small: one that grew for a long frame is not pinned by
            // batches waiting in a queue (their frames are copied out
            // instead) until what is pending has moved to a small one.
            if buf.capacity() > SPLIT_MAX {
                split_ok = false;
            }
            let mut batch = None;
            let decoded = decode_into(
                &mut self.deframer,
                &mut buf,
                at_eof,
                &mut batch,
                (self.transport, self.pacer.peer),
                split_ok,
            );
            if decoded.n_frames > 0 {
                slot.prove();
            }
            settle(&mut buf, &mut held, &mut split_ok);
            if let Some(event) = self.deliver(batch, &decoded).await {
                return event;
            }
            if let Some(event) = self
                .pacer
                .hold_to_rate(decoded.n_frames, shutdown, slot)
                .await
            {
                return event;
            }
            if let Some(error) = decoded.fatal {
                if at_eof {
                    tracing::debug!(peer = %self.pacer.peer, %error, "stream ended inside a frame");
                    return ConnectionEvent::PeerClosed;
                }
                tracing::warn!(peer = %self.pacer.peer, %error, "closing connection on a framing error");
                return ConnectionEvent::FrameError;
            }
            if at_eof {
                return ConnectionEvent::PeerClosed;
            }
        }
    }

    /// Counts what one read produced and sends its batch, waiting for room
    /// in the queue. Returns the closing event if the queue is gone.
    async fn deliver(&self, batch: Option<RawBatch>, decoded: &Decoded) -> Option<ConnectionEvent> {
        // A fatal error loses the frame it was cutting: an octet count past
        // max_frame is a frame too large, any other a malformed frame.
        let (n_too_large, n_invalid) = match &decoded.fatal {
            Some(error) if error.is_too_large() => (decoded.n_too_large + 1, 0),
            Some(_) => (decoded.n_too_large, 1),
            None => (decoded.n_too_large, 0),
        };
        let n_read = decoded.n_frames + n_too_large + n_invalid;
        if n_read == 0 {
            return None;
        }
        let metrics = &self.pacer.metrics;
        metrics.received(self.transport).inc_by(n_read);
        if n_too_large > 0 {
            metrics
                .dropped(DropReason::FrameTooLarge)
                .inc_by(n_too_large);
            tracing::debug!(
                peer = %self.pacer.peer,
                dropped = n_too_large,
                max_frame = self.deframer.max_frame(),
                "dropped lines longer than max_frame"
            );
        }
        if n_invalid > 0 {
            metrics.dropped(DropReason::FrameInvalid).inc_by(n_invalid);
        }
        let batch = batch?;
        match self.queue.send(batch).await {
            Ok(()) => None,
            Err(mpsc::error::SendError(batch)) => {
                // The workers are gone, so the server is stopping.
                metrics
                    .dropped(DropReason::QueueFull)
                    .inc_by(batch.len() as u64);
                Some(ConnectionEvent::Shutdown)
            }
        }
    }
}

impl Pacer {
    /// Makes room in `buf` for a read of `want` bytes, charged to the
    /// budget of all connections: without budget, a buffer under
    /// [`FREE_BUFFER`] reads within what every connection may hold, a
    /// larger one waits for budget ([`Pacer::take_budget`]). Returns how
    /// much to read, or why the connection ends.
    pub(crate) async fn make_room(
        &self,
        buf: &mut BytesMut,
        held: &mut Held,
        mut want: usize,
        shutdown: &mut watch::Receiver<bool>,
        slot: &Slot,
    ) -> Result<usize, ConnectionEvent> {
        if !held.resize(charged(buf.len() + want)) {
            if buf.len() < FREE_BUFFER {
                want = FREE_BUFFER - buf.len();
            } else if let Some(event) = self
                .take_budget(held, charged(buf.len() + want), shutdown, slot)
                .await
            {
                return Err(event);
            }
        }
        buf.reserve(want);
        // `reserve` may round up: what is allocated is what is held.
        held.force(charged(buf.capacity()));
        Ok(want)
    }

    /// Takes `bytes` from the budget of all connections for an incomplete
    /// frame longer than [`FREE_BUFFER`], waiting (unread) while it is
    /// spent; after [`BUDGET_PATIENCE`] the connection is closed instead.
    pub(crate) async fn take_budget(
        &self,
        held: &mut Held,
        bytes: usize,
        shutdown: &mut watch::Receiver<bool>,
        slot: &Slot,
    ) -> Option<ConnectionEvent> {
        if held.resize(bytes) {
            return None;
        }
        let deadline = Instant::now() + BUDGET_PATIENCE;
        loop {
            tokio::select! {
                biased;
                () = wait_for_signal(shutdown) => return Some(ConnectionEvent::Shutdown),
                () = slot.evicted(), if slot.unproven() => return Some(ConnectionEvent::Evicted),
                () = tokio::time::sleep(BUDGET_RETRY) => {}
            }
            if held.resize(bytes) {
                return None;
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    peer = %self.peer,
                    held = crate::budget::input_buffered(),
                    "closing a connection: the input buffer budget (max_input_buffered) stayed spent"
                );
                return Some(ConnectionEvent::BufferBudget);
            }
        }
    }

    /// Over the source's rate limit, waits until its bucket is out of
    /// debt before the next read: the socket is not read meanwhile, so the
    /// sender feels backpressure and nothing is lost. Shutdown cuts the
    /// wait short (and starts the drain).
    pub(crate) async fn hold_to_rate(
        &self,
        n_frames: u64,
        shutdown: &mut watch::Receiver<bool>,
        slot: &Slot,
    ) -> Option<ConnectionEvent> {
        let limiter = self.limiter.as_ref()?;
        let mut n = n_frames;
        loop {
            let wait = limiter.debit(self.peer.ip(), n);
            limiter.report(&self.metrics, &self.name);
            if wait.is_zero() || *shutdown.borrow() {
                return None;
            }
            n = 0;
            tokio::select! {
                biased;
                () = wait_for_signal(shutdown) => return None,
                () = slot.evicted(), if slot.unproven() => return Some(ConnectionEvent::Evicted),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// After a decoding pass: an emptied buffer goes back, so a connection
/// between messages holds no memory; a buffer too large to split, once
/// little is pending in it, moves that to a buffer of its own size, so
/// the large allocation is freed and batches may split again.
pub(crate) fn settle(buf: &mut BytesMut, held: &mut Held, split_ok: &mut bool) {
    if buf.is_empty() && buf.capacity() > 0 {
        *buf = BytesMut::new();
        held.resize(0);
        *split_ok = true;
    } else if !*split_ok && buf.len() <= FREE_BUFFER {
        *buf = BytesMut::from(&buf[..]);
        held.force(charged(buf.capacity()));
        *split_ok = true;
    }
}

/// Awaits `read`, giving up after `idle_timeout` (never, if zero); `None`
/// means the time ran out.
pub(crate) async fn read_idle<F>(idle_timeout: Duration, read: F) -> Option<io::Result<usize>>
where
    F: Future<Output = io::Result<usize>>,
{
    if idle_timeout.is_zero() {
        Some(read.await)
    } else {
        tokio::time::timeout(idle_timeout, read).await.ok()
    }
}

/// Cuts every complete frame off `buf` into `batch` (created on the first
/// frame, stamped with the current time) for frames from `source` (the
/// transport and the peer). At EOF a final unterminated LF line is a frame
/// too. Oversized LF lines are skipped and counted; a fatal error stops
/// decoding and is returned.
///
/// The frames are found as ranges of the buffer. When `split` allows it, a
/// batch made here takes the decoded front of the buffer as its arena,
/// split off without a copy (the framing and any empty line between frames
/// come along). Otherwise, and when a line was skipped (its bytes are not
/// carried to the worker) or the batch already existed, each frame is
/// copied in.
pub(crate) fn decode_into(
    deframer: &mut Deframer,
    buf: &mut BytesMut,
    at_eof: bool,
    batch: &mut Option<RawBatch>,
    source: (Transport, SocketAddr),
    split: bool,
) -> Decoded {
    let (transport, peer) = source;
    let mut decoded = Decoded::default();
    let made_here = batch.is_none();
    // This pass's frames are indexed by their place in `buf` first.
    let first_new = batch.as_ref().map_or(0, |batch| batch.frames.len());
    let mut at = 0;
    loop {
        let next = if at_eof {
            deframer.decode_eof_at(buf, &mut at)
        } else {
            deframer.decode_at(buf, &mut at)
        };
        match next {
            Ok(Some(frame)) => {
                let batch = batch.get_or_insert_with(|| {
                    RawBatch::with_capacity(transport, now_unix_micros(), 0, 16)
                });
                // The buffer is bounded by max_frame (at most 16 MiB) plus
                // 64 KiB, so its offsets fit `u32`.
                if let (Ok(start), Ok(len)) =
                    (u32::try_from(frame.start), u32::try_from(frame.len()))
                {
                    batch.frames.push(RawFrame { start, len, peer });
                    decoded.n_frames += 1;
                }
            }
            Ok(None) => break,
            Err(error) if !error.is_fatal() => decoded.n_too_large += 1,
            Err(error) => {
                decoded.fatal = Some(error);
                break;
            }
        }
    }
    let at = at.min(buf.len());
    match batch.as_mut() {
        Some(batch) if decoded.n_frames > 0 => {
            if made_here && split && decoded.n_too_large == 0 {
                batch.data = buf.split_to(at);
                return decoded;
            }
            // Each frame is copied to the end of the arena, nothing between
            // them.
            for frame in batch.frames.split_off(first_new) {
                let bytes = &buf[frame.start as usize..][..frame.len as usize];
                // Only a batch grown past 4 GiB by hand refuses one.
                if !batch.push(bytes, frame.peer) {
                    decoded.n_frames -= 1;
                    decoded.n_too_large += 1;
                }
            }
        }
        _ => {}
    }
    buf.advance(at);
    decoded
}
