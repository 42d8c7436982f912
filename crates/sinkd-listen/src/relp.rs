//! One RELP session (rsyslog's `omrelp`): frames in, messages to the
//! workers, `rsp 200` back once each message is stored.
//!
//! A RELP connection is admitted like any stream connection (`stream.rs`:
//! allow list, slots, TLS handshake in `connection.rs`); then
//! [`RelpSession::run`] reads, cuts frames with `sinkd_proto::relp`, and
//! checks the session's order: `open` first, transaction numbers each the
//! previous plus 1, only `open`, `syslog` and `close`. The `syslog`
//! commands of one read become one [`RawBatch`] carrying an [`Ack`]; the
//! session keeps the batch's [`AckWait`] in its queue of pending answers,
//! and when the workers and the store are done with the batch (see
//! `docs/relp.md` for what "stored" means) it answers every command of the
//! batch with `200 OK`. Answers go out in transaction order; the session
//! goes on reading while earlier batches are being stored, so the sender's
//! window keeps flowing, and writes its answers as the socket takes them
//! (a sender that does not read them cannot stop the session from
//! reading, nor make it buffer more than [`MAX_OUT`]).
//!
//! Whatever breaks the protocol (bytes that are not a frame, a DATALEN
//! above `max_frame`, a wrong transaction number, a command before `open`,
//! an unknown command) ends the session: what was stored before is
//! answered, then the `serverclose` hint is sent and the connection closed,
//! counted in `sinkd_connections_closed_total` (`frame_error`,
//! `protocol_error`). A batch that could not be stored whole (`not_stored`)
//! is never answered: the session closes the same way and the sender sends
//! those messages again. On shutdown the session stops reading, answers
//! what gets stored within [`DRAIN_LIMIT`], and sends `serverclose`.

use crate::batch::{now_unix_micros, Ack, AckWait, BatchSender, RawBatch};
use crate::budget::Held;
use crate::connection::{
    read_idle, wait_for_signal, Pacer, DRAIN_LIMIT, DRAIN_QUIET, INITIAL_READ, READ_HEADROOM,
};
use crate::slots::Slot;
use bytes::{Buf, BufMut, BytesMut};
use sinkd_metrics::{ConnectionEvent, DropReason, Transport};
use sinkd_proto::relp::{self, Command, MAX_HEADER_LEN};
use std::collections::VecDeque;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// What the `open` answer names as the server's software.
const SOFTWARE: &str = concat!("sinkd,", env!("CARGO_PKG_VERSION"));

/// Most commands read and not yet answered; past it the session reads no
/// more until answers go out. rsyslog's `omrelp` keeps 128 in flight by
/// default.
pub(crate) const MAX_UNANSWERED: usize = 16_384;

/// Most answer bytes waiting for the socket; past it the session reads no
/// more until the sender takes them.
pub(crate) const MAX_OUT: usize = 256 * 1024;

/// A command read and not yet answered, in transaction order.
enum Pending {
    /// An answer that is ready (to `open` or `close`).
    Ready(Vec<u8>),
    /// `count` `syslog` commands from `first_txnr` on, answered once their
    /// batch is stored.
    Stored {
        first_txnr: u32,
        count: usize,
        wait: AckWait,
        outcome: Option<bool>,
    },
}

/// Why the session stops reading.
enum End {
    /// The client sent `close`: answered, the session ends cleanly.
    Close,
    /// The client broke the protocol.
    Broken(ConnectionEvent),
}

/// What one step of the session's loop produced.
enum Step {
    Read(Option<io::Result<usize>>),
    Wrote(io::Result<usize>),
    Settled,
    Shutdown,
    Evicted,
}

/// One RELP connection's state.
pub(crate) struct RelpSession {
    pacer: Pacer,
    transport: Transport,
    queue: BatchSender,
    max_frame: usize,
    idle_timeout: Duration,
    opened: bool,
    next_txnr: u32,
    pending: VecDeque<Pending>,
    /// Commands in `pending`.
    unanswered: usize,
    /// Answers not yet written, from `written` on.
    out: Vec<u8>,
    written: usize,
}

impl RelpSession {
    pub(crate) fn new(
        pacer: Pacer,
        transport: Transport,
        queue: BatchSender,
        max_frame: usize,
        idle_timeout: Duration,
    ) -> RelpSession {
        RelpSession {
            pacer,
            transport,
            queue,
            max_frame,
            idle_timeout,
            opened: false,
            next_txnr: 1,
            pending: VecDeque::new(),
            unanswered: 0,
            out: Vec::new(),
            written: 0,
        }
    }

    /// Runs the session to its end and says how it ended.
    pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        shutdown: &mut watch::Receiver<bool>,
        slot: &mut Slot,
    ) -> ConnectionEvent {
        let (mut reader, mut writer) = tokio::io::split(stream);
        let buffer_limit = self
            .max_frame
            .saturating_add(MAX_HEADER_LEN + 2)
            .saturating_add(READ_HEADROOM);
        let mut buf = BytesMut::new();
        let mut held = Held::default();
        let mut read_size = INITIAL_READ;
        loop {
            let reading =
                self.unanswered < MAX_UNANSWERED && self.out.len() - self.written < MAX_OUT;
            let mut want = 0;
            if reading {
                let wanted = read_size.min(buffer_limit.saturating_sub(buf.len()));
                want = match self
                    .pacer
                    .make_room(&mut buf, &mut held, wanted, shutdown, slot)
                    .await
                {
                    Ok(want) => want,
                    Err(event) => return self.finish(&mut reader, &mut writer, event).await,
                };
            }
            let writing = self.written < self.out.len();
            let step = {
                let mut limited = (&mut buf).limit(want);
                let unwritten = &self.out[self.written..];
                tokio::select! {
                    biased;
                    () = wait_for_signal(shutdown) => Step::Shutdown,
                    () = slot.evicted(), if slot.unproven() => Step::Evicted,
                    wrote = write_some(&mut writer, unwritten), if writing => Step::Wrote(wrote),
                    () = settle_front(&mut self.pending), if !self.pending.is_empty() => Step::Settled,
                    read = read_idle(self.idle_timeout, reader.read_buf(&mut limited)), if reading => {
                        Step::Read(read)
                    }
                }
            };
            match step {
                Step::Shutdown => {
                    return self
                        .finish(&mut reader, &mut writer, ConnectionEvent::Shutdown)
                        .await
                }
                Step::Evicted => return ConnectionEvent::Evicted,
                Step::Wrote(Ok(n_written)) => {
                    self.written += n_written;
                    if self.written == self.out.len() {
                        self.out.clear();
                        self.written = 0;
                    }
                }
                Step::Wrote(Err(error)) => {
                    tracing::debug!(peer = %self.pacer.peer, %error, "RELP answer write failed");
                    return ConnectionEvent::IoError;
                }
                Step::Settled => {
                    if !self.collect_answers() {
                        return self
                            .finish(&mut reader, &mut writer, ConnectionEvent::NotStored)
                            .await;
                    }
                }
                Step::Read(None) => {
                    return self
                        .finish(&mut reader, &mut writer, ConnectionEvent::IdleTimeout)
                        .await
                }
                Step::Read(Some(Ok(0))) => {
                    return self
                        .finish(&mut reader, &mut writer, ConnectionEvent::PeerClosed)
                        .await
                }
                Step::Read(Some(Err(error))) if error.kind() == io::ErrorKind::UnexpectedEof => {
                    return self
                        .finish(&mut reader, &mut writer, ConnectionEvent::PeerClosed)
                        .await
                }
                Step::Read(Some(Err(error))) => {
                    tracing::debug!(peer = %self.pacer.peer, %error, "RELP read failed");
                    return ConnectionEvent::IoError;
                }
                Step::Read(Some(Ok(n_read))) => {
                    if n_read == want {
                        read_size = read_size.saturating_mul(2).min(READ_HEADROOM);
                    } else if n_read < want / 4 {
                        read_size = (read_size / 2).max(INITIAL_READ);
                    }
                    let mut batches = Vec::new();
                    let (n_messages, end) = self.take_frames(&mut buf, &mut batches);
                    if n_messages > 0 || !self.pending.is_empty() {
                        slot.prove();
                    }
                    if buf.is_empty() && buf.capacity() > 0 {
                        buf = BytesMut::new();
                        held.resize(0);
                    }
                    if let Some(event) = self.deliver(batches).await {
                        return event;
                    }
                    // Answers already known (to `open`) go out at once.
                    if !self.collect_answers() {
                        return self
                            .finish(&mut reader, &mut writer, ConnectionEvent::NotStored)
                            .await;
                    }
                    match end {
                        Some(End::Close) => {
                            return self
                                .finish(&mut reader, &mut writer, ConnectionEvent::PeerClosed)
                                .await
                        }
                        Some(End::Broken(event)) => {
                            return self.finish(&mut reader, &mut writer, event).await
                        }
                        None => {}
                    }
                    if let Some(event) = self.pacer.hold_to_rate(n_messages, shutdown, slot).await {
                        return event;
                    }
                }
            }
        }
    }

    /// Cuts every complete frame off `buf`: `syslog` data into batches (a
    /// new one after each other command, so answers keep their order),
    /// answers to `open` and `close` into the pending queue. Counts the
    /// messages received. Returns the number of messages and, if the
    /// session must stop reading, why.
    fn take_frames(
        &mut self,
        buf: &mut BytesMut,
        batches: &mut Vec<RawBatch>,
    ) -> (u64, Option<End>) {
        let mut used = 0;
        let mut n_messages = 0u64;
        let mut current: Option<RawBatch> = None;
        let end = loop {
            let (frame, len) = match relp::decode(&buf[used..], self.max_frame) {
                Ok(Some(decoded)) => decoded,
                Ok(None) => break None,
                Err(error) => {
                    if error.is_too_large() {
                        self.pacer.metrics.received(self.transport).inc();
                        self.pacer.metrics.dropped(DropReason::FrameTooLarge).inc();
                    }
                    tracing::warn!(peer = %self.pacer.peer, %error, "closing a RELP session on a framing error");
                    break Some(End::Broken(ConnectionEvent::FrameError));
                }
            };
            used += len;
            if frame.txnr != self.next_txnr {
                tracing::warn!(
                    peer = %self.pacer.peer,
                    txnr = frame.txnr,
                    expected = self.next_txnr,
                    "closing a RELP session: transaction number out of order"
                );
                break Some(End::Broken(ConnectionEvent::ProtocolError));
            }
            self.next_txnr = relp::next_txnr(self.next_txnr);
            if frame.command == Command::Syslog && self.opened {
                // A batch is sized for what is left of the read (this frame
                // on), not the whole buffer: reads that alternate messages
                // and other commands make many batches, and together they
                // never reserve more than the buffer holds.
                let data_capacity = buf.len() - (used - len);
                let batch = current.get_or_insert_with(|| {
                    let mut batch = RawBatch::with_capacity(
                        self.transport,
                        now_unix_micros(),
                        data_capacity
                            .min(frame.data.len() * 16)
                            .max(frame.data.len()),
                        16,
                    );
                    let (ack, wait) = Ack::new();
                    batch.ack = Some(ack);
                    self.pending.push_back(Pending::Stored {
                        first_txnr: frame.txnr,
                        count: 0,
                        wait,
                        outcome: None,
                    });
                    batch
                });
                // The buffer holds at most max_frame (16 MiB) plus headroom.
                batch.push(frame.data, self.pacer.peer);
                if let Some(Pending::Stored { count, .. }) = self.pending.back_mut() {
                    *count += 1;
                }
                self.unanswered += 1;
                n_messages += 1;
                continue;
            }
            // Any other command closes the batch being filled, so its
            // answer comes after the messages before it.
            if let Some(batch) = current.take() {
                batches.push(batch);
            }
            let mut answer = Vec::new();
            match frame.command {
                Command::Open if self.opened => {
                    tracing::warn!(peer = %self.pacer.peer, "closing a RELP session: open after open");
                    break Some(End::Broken(ConnectionEvent::ProtocolError));
                }
                Command::Open => match relp::read_offers(frame.data) {
                    Ok(offers) => {
                        relp::encode_open_reply(&mut answer, frame.txnr, &offers, SOFTWARE);
                        self.opened = true;
                    }
                    Err(error) => {
                        tracing::warn!(peer = %self.pacer.peer, %error, "closing a RELP session");
                        break Some(End::Broken(ConnectionEvent::ProtocolError));
                    }
                },
                Command::Close => {
                    relp::encode_close_reply(&mut answer, frame.txnr);
                    self.pending.push_back(Pending::Ready(answer));
                    self.unanswered += 1;
                    break Some(End::Close);
                }
                Command::Syslog => {
                    tracing::warn!(peer = %self.pacer.peer, "closing a RELP session: syslog before open");
                    break Some(End::Broken(ConnectionEvent::ProtocolError));
                }
                Command::Other => {
                    tracing::warn!(
                        peer = %self.pacer.peer,
                        command = %String::from_utf8_lossy(frame.command_name),
                        "closing a RELP session: unknown command"
                    );
                    break Some(End::Broken(ConnectionEvent::ProtocolError));
                }
            }
            self.pending.push_back(Pending::Ready(answer));
            self.unanswered += 1;
        };
        if let Some(batch) = current.take() {
            batches.push(batch);
        }
        buf.advance(used);
        if n_messages > 0 {
            self.pacer
                .metrics
                .received(self.transport)
                .inc_by(n_messages);
        }
        (n_messages, end)
    }

    /// Sends the batches to the connection's worker queue, waiting for
    /// room (the backpressure of every stream connection).
    async fn deliver(&self, batches: Vec<RawBatch>) -> Option<ConnectionEvent> {
        for batch in batches {
            if let Err(mpsc::error::SendError(batch)) = self.queue.send(batch).await {
                // The workers are gone, so the server is stopping.
                self.pacer
                    .metrics
                    .dropped(DropReason::QueueFull)
                    .inc_by(batch.len() as u64);
                return Some(ConnectionEvent::Shutdown);
            }
        }
        None
    }

    /// Moves every answer that is known, from the front of the queue, to
    /// the output. `false` when a batch was not stored whole: the session
    /// must close without answering it.
    fn collect_answers(&mut self) -> bool {
        while let Some(front) = self.pending.front_mut() {
            match front {
                Pending::Ready(answer) => {
                    self.out.extend_from_slice(answer);
                    self.unanswered -= 1;
                }
                Pending::Stored {
                    first_txnr,
                    count,
                    wait,
                    outcome,
                } => {
                    let stored = match outcome {
                        Some(stored) => *stored,
                        None => match wait.try_recv() {
                            Ok(stored) => stored,
                            Err(oneshot::error::TryRecvError::Empty) => return true,
                            Err(oneshot::error::TryRecvError::Closed) => false,
                        },
                    };
                    if !stored {
                        tracing::warn!(
                            peer = %self.pacer.peer,
                            messages = *count,
                            "closing a RELP session: messages not stored are left unanswered for the sender to send again"
                        );
                        return false;
                    }
                    let mut txnr = *first_txnr;
                    for _ in 0..*count {
                        relp::encode_ok(&mut self.out, txnr);
                        txnr = relp::next_txnr(txnr);
                    }
                    self.unanswered -= *count;
                }
            }
            self.pending.pop_front();
        }
        true
    }

    /// Ends the session: waits (at most [`DRAIN_LIMIT`]) for what was read
    /// to be stored, writes the answers, `serverclose` unless the client
    /// asked to close or is gone, and reads what the client still sends
    /// for a moment, so the close does not reset the connection and lose
    /// the answers.
    async fn finish<R, W>(
        &mut self,
        reader: &mut R,
        writer: &mut W,
        event: ConnectionEvent,
    ) -> ConnectionEvent
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let deadline = Instant::now() + DRAIN_LIMIT;
        let mut event = event;
        loop {
            if !self.collect_answers() {
                if matches!(
                    event,
                    ConnectionEvent::PeerClosed | ConnectionEvent::Shutdown
                ) {
                    event = ConnectionEvent::NotStored;
                }
                break;
            }
            if self.pending.is_empty()
                || tokio::time::timeout_at(deadline, settle_front(&mut self.pending))
                    .await
                    .is_err()
            {
                break;
            }
        }
        if event != ConnectionEvent::PeerClosed {
            relp::encode_serverclose(&mut self.out);
        }
        let unwritten = &self.out[self.written..];
        let sent = async {
            writer.write_all(unwritten).await?;
            writer.flush().await
        };
        if tokio::time::timeout_at(deadline + DRAIN_QUIET, sent)
            .await
            .is_ok_and(|sent| sent.is_ok())
        {
            let _ = tokio::time::timeout(DRAIN_QUIET, discard_until_eof(reader)).await;
        }
        event
    }
}

/// Resolves once the front of `pending` is answerable: a ready answer at
/// once, a batch when its ack resolves (its outcome kept).
async fn settle_front(pending: &mut VecDeque<Pending>) {
    if let Some(Pending::Stored {
        wait,
        outcome: outcome @ None,
        ..
    }) = pending.front_mut()
    {
        *outcome = Some(wait.await.unwrap_or(false));
    }
}

/// Writes what the socket takes of `bytes` (flushing TLS records once all
/// of it is taken).
async fn write_some<W: AsyncWrite + Unpin>(writer: &mut W, bytes: &[u8]) -> io::Result<usize> {
    let n_written = writer.write(bytes).await?;
    if n_written == 0 {
        return Err(io::ErrorKind::WriteZero.into());
    }
    if n_written == bytes.len() {
        writer.flush().await?;
    }
    Ok(n_written)
}

/// Reads and drops everything until EOF or an error.
async fn discard_until_eof<R: AsyncRead + Unpin>(reader: &mut R) {
    let mut sink = [0u8; 4096];
    while matches!(reader.read(&mut sink).await, Ok(n) if n > 0) {}
}
