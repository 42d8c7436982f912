//! The disk spool of one relay: a segment-store stream plus a cursor.
//!
//! When a relay's target is slow or down, its memory queue fills and the
//! overflow goes here. The spool is an ordinary `sinkd-store` [`Store`] of
//! its own, rooted at `data_dir/.relay/<sink>/`, holding one stream,
//! `queue/`: append-only segments named by the sequence number of their
//! first message, rotated at a sixteenth of `queue_disk` and zstd-compressed
//! when closed (ADR 0001 describes the layout). Messages may contain any
//! byte, but a segment line may not contain LF, so each message is stored
//! escaped: `\` as `\\`, LF as `\n`, CR as `\r`; [`unescape`] reverses it
//! exactly.
//!
//! Next to the stream lies `cursor`, the sequence number of the last message
//! the target acknowledged, written as a whole new file and renamed over the
//! old one, so it is always either the old or the new value. On start the
//! relay reads from the message after the cursor (or the oldest message
//! still on disk); segments that lie wholly at or before the cursor are
//! deleted as the cursor passes them.
//!
//! The spool keeps three positions: `acked` (the cursor), `read_seq` (the
//! next message to hand to the sender) and `next_seq` (the sequence number
//! the next appended message gets). Messages in `read_seq..next_seq` wait on
//! disk; those in `acked+1..read_seq` are in the sender's in-flight window.
//!
//! A relay restarted with new settings keeps its spool open: the old engine
//! hands it to the new one, which calls [`Spool::resume`] to take on the
//! new limits and read again from the cursor.
//!
//! Size: the bytes of the stream's files are measured once a second and
//! added to as messages are appended. Before an append would take the
//! spool past `queue_disk`, [`Overflow::DropOldest`] deletes the oldest
//! closed segment (counting its unsent messages as dropped) and
//! [`Overflow::RefuseNew`] refuses the new messages (counting them).

use crate::batch::RelayBatch;
use crate::config::{Overflow, RelayConfig};
use crate::error::RelayError;
use sinkd_store::{
    AppendBatch, Beneath, FsyncPolicy, How, Store, StoreConfig, StoreWriter, StreamReader,
};
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[cfg(test)]
mod tests;

/// The stream inside the spool's store.
const STREAM: &str = "queue";
/// The cursor file and its temporary twin.
const CURSOR_FILE: &str = "cursor";
const CURSOR_TEMP: &str = ".cursor.tmp";
/// First line of the cursor file: its format and version.
const CURSOR_MAGIC: &str = "sinkd-relay-cursor 1";
/// Segments a full spool is cut into: drop-oldest frees a sixteenth.
const SEGMENTS_PER_SPOOL: u64 = 16;
/// How often the disk usage is measured and acknowledged segments deleted.
const MAINTAIN_EVERY: Duration = Duration::from_secs(1);
/// The cursor is fsynced at most this often (it is renamed into place on
/// every change; a process crash keeps the rename, an OS crash may lose
/// up to this much progress and resend it).
const CURSOR_FSYNC_EVERY: Duration = Duration::from_secs(1);
/// Digits of a segment's sequence number in its file name.
const SEQ_DIGITS: usize = 20;

/// The outcome of [`Spool::append`].
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Appended {
    /// Sequence numbers given to the batch, when it was written.
    pub(crate) seqs: Option<(u64, u64)>,
    /// New messages refused (full spool under refuse-new, or too large for
    /// the whole spool).
    pub(crate) refused: u64,
    /// Unsent messages deleted with old segments (drop-oldest).
    pub(crate) dropped_old: u64,
    /// Messages the store could not take (it was shut down or failed).
    pub(crate) failed: u64,
}

/// What [`Spool::read_into`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Read {
    /// Sequence number of the last message read, when any was.
    pub(crate) last_seq: Option<u64>,
    /// Messages that should have been on disk and were not (a failed spool
    /// write, a damaged segment).
    pub(crate) lost: u64,
}

/// One relay's spool.
pub(crate) struct Spool {
    sink: String,
    root: PathBuf,
    stream_dir: PathBuf,
    /// The directory the spool lives under, through which its own files
    /// are replaced and removed without following a link.
    beneath: Beneath,
    store: Option<Store>,
    writer: StoreWriter,
    reader: StreamReader,
    stats: Arc<sinkd_store::StoreStats>,
    append_batch: AppendBatch,
    acked: u64,
    persisted_acked: u64,
    cursor_synced_at: Instant,
    read_seq: u64,
    next_seq: u64,
    max_bytes: u64,
    overflow: Overflow,
    disk_bytes: u64,
    /// Line bytes handed to the store's writer since the spool opened
    /// (compare the store's `bytes_written` for what is still pending).
    appended_bytes: u64,
    maintained_at: Instant,
    lines_dropped_seen: u64,
}

impl Spool {
    /// Opens (creating if needed) the spool of `config` and positions it
    /// after the persisted cursor.
    pub(crate) fn open(config: &RelayConfig) -> Result<Spool, RelayError> {
        let sink = config.name.clone();
        let root = config.spool_dir.clone();
        let stream_dir = root.join(STREAM);
        // The spool lives in `data_dir/.relay/<sink>/`: no link on that way
        // is followed (a `.relay` that is a link would carry the spool out
        // of data_dir); below it the spool's store follows none either.
        let beneath_of = root
            .parent()
            .and_then(Path::parent)
            .filter(|base| !base.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let beneath = Beneath::new(beneath_of).map_err(|source| RelayError::SpoolFile {
            sink: sink.clone(),
            op: "open directory",
            path: beneath_of.to_owned(),
            source,
        })?;
        beneath
            .create_dir_all(&stream_dir)
            .map_err(|source| RelayError::SpoolFile {
                sink: sink.clone(),
                op: "create directory",
                path: stream_dir.clone(),
                source,
            })?;
        let spool_error = |source| RelayError::Spool {
            sink: sink.clone(),
            source,
        };
        let store = Store::open(store_config(config)).map_err(spool_error)?;
        let (first_seq, next_seq) =
            stream_bounds(&stream_dir).map_err(|source| RelayError::SpoolFile {
                sink: sink.clone(),
                op: "read",
                path: stream_dir.clone(),
                source,
            })?;
        let cursor_path = root.join(CURSOR_FILE);
        let acked = match read_cursor(&cursor_path) {
            Ok(Some(acked)) => acked,
            Ok(None) => first_seq.saturating_sub(1),
            Err(error) => {
                tracing::warn!(
                    sink = %sink,
                    path = %cursor_path.display(),
                    %error,
                    "relay cursor unreadable; resending the whole spool"
                );
                first_seq.saturating_sub(1)
            }
        };
        // A cursor past the end (a spool deleted by hand) restarts at the end.
        let acked = acked.min(next_seq.saturating_sub(1));
        let read_seq = (acked + 1).max(first_seq);
        let mut reader = StreamReader::open_dir(&stream_dir).map_err(spool_error)?;
        reader.seek_seq(read_seq).map_err(spool_error)?;
        let disk_bytes = measure(&stream_dir).unwrap_or(0);
        let stats = store.stats();
        let writer = store.writer();
        let now = Instant::now();
        Ok(Spool {
            sink,
            root,
            beneath,
            stream_dir,
            store: Some(store),
            writer,
            reader,
            stats,
            append_batch: AppendBatch::new(),
            acked,
            persisted_acked: acked,
            cursor_synced_at: now,
            read_seq,
            next_seq,
            max_bytes: config.queue_disk,
            overflow: config.overflow,
            disk_bytes,
            appended_bytes: 0,
            maintained_at: now,
            lines_dropped_seen: 0,
        })
    }

    /// Takes the spool over for a relay restarted with `config` (same
    /// spool directory): applies its `queue_disk` and `overflow`, makes
    /// everything appended durable, writes the cursor, and puts the reader
    /// back at the message after the cursor, as closing and reopening the
    /// spool would (what was in the old engine's window is sent again).
    ///
    /// The store's segment size follows `queue_disk` (a sixteenth of it)
    /// and is fixed while the store is open, so when it changes the store
    /// is shut down and opened again here, in place. Should that fail (the
    /// disk failed between two calls), the error is logged and the spool
    /// goes on without a store: what spills is dropped and counted as
    /// `relay_spool_error` until the relay is restarted (by a reload that
    /// changes it, or with sinkd).
    pub(crate) fn resume(&mut self, config: &RelayConfig) {
        self.max_bytes = config.queue_disk;
        self.overflow = config.overflow;
        let wanted = store_config(config);
        // A store lost to an earlier failed reopen gets another chance.
        let reopen = self
            .store
            .as_ref()
            .is_none_or(|store| store.config().segment_max_bytes != wanted.segment_max_bytes);
        if reopen {
            self.reopen_store(wanted);
        } else if let Some(store) = &self.store {
            if let Err(error) = store.sync() {
                tracing::warn!(sink = %self.sink, %error, "relay spool sync failed");
            }
        }
        if let Err(error) = write_cursor(&self.beneath, &self.root, self.acked, true) {
            tracing::warn!(sink = %self.sink, %error, "cannot write the relay cursor");
        }
        self.persisted_acked = self.acked;
        self.cursor_synced_at = Instant::now();
        self.read_seq = (self.acked + 1).min(self.next_seq);
        if let Err(error) = self.reader.seek_seq(self.read_seq) {
            tracing::warn!(sink = %self.sink, %error, "relay spool seek failed");
        }
        self.remeasure();
    }

    /// Shuts the store down (writing and fsyncing everything) and opens it
    /// again with `store_config`.
    fn reopen_store(&mut self, store_config: StoreConfig) {
        if let Some(store) = self.store.take() {
            if let Err(error) = store.shutdown() {
                tracing::warn!(sink = %self.sink, %error, "relay spool store stopped with an error");
            }
        }
        match Store::open(store_config) {
            Ok(store) => {
                self.stats = store.stats();
                self.writer = store.writer();
                self.appended_bytes = 0;
                self.lines_dropped_seen = 0;
                self.store = Some(store);
                match stream_bounds(&self.stream_dir) {
                    Ok((_, next_seq)) if next_seq != self.next_seq => {
                        // Lines the old store failed to write are not on
                        // disk; number from what is.
                        self.next_seq = next_seq;
                        self.acked = self.acked.min(next_seq.saturating_sub(1));
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(sink = %self.sink, %error, "cannot read the relay spool's bounds");
                    }
                }
                tracing::info!(sink = %self.sink, "relay spool reopened with the new queue_disk");
            }
            Err(error) => tracing::error!(
                sink = %self.sink,
                %error,
                "cannot reopen the relay spool with the new queue_disk; messages that spill are \
                 dropped (relay_spool_error) until the relay is started again"
            ),
        }
    }

    /// Messages written and not yet handed to the sender.
    pub(crate) fn unread(&self) -> u64 {
        self.next_seq - self.read_seq
    }

    /// Messages on disk not yet acknowledged (in-flight ones included).
    pub(crate) fn unacked(&self) -> u64 {
        self.next_seq.saturating_sub(self.acked + 1)
    }

    /// Bytes the spool occupies on disk (measured, plus appended since).
    pub(crate) fn disk_bytes(&self) -> u64 {
        self.disk_bytes
    }

    /// The cursor: the last acknowledged sequence number.
    pub(crate) fn acked(&self) -> u64 {
        self.acked
    }

    /// Writes `batch` at the end of the spool, applying the overflow policy.
    /// Blocks while the spool's writer thread is behind (disk speed).
    pub(crate) fn append(&mut self, batch: &RelayBatch) -> Appended {
        let mut outcome = Appended::default();
        if batch.is_empty() {
            return outcome;
        }
        let incoming = (batch.bytes() + batch.len()) as u64;
        if incoming > self.max_bytes {
            outcome.refused = batch.len() as u64;
            return outcome;
        }
        while self.disk_bytes + incoming > self.max_bytes {
            match self.overflow {
                Overflow::RefuseNew => {
                    // The measurement may be stale: look again before refusing.
                    self.remeasure();
                    if self.disk_bytes + incoming > self.max_bytes {
                        outcome.refused = batch.len() as u64;
                        return outcome;
                    }
                }
                Overflow::DropOldest => match self.delete_oldest() {
                    Some(dropped) => outcome.dropped_old += dropped,
                    None => {
                        self.remeasure();
                        if self.disk_bytes + incoming > self.max_bytes {
                            outcome.refused = batch.len() as u64;
                            return outcome;
                        }
                    }
                },
            }
        }
        let mut spool_batch = std::mem::take(&mut self.append_batch);
        spool_batch.clear();
        let now_micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_micros() as i64)
            .unwrap_or(0);
        let mut written = 0u64;
        for message in batch.iter() {
            spool_batch.push_with(STREAM, now_micros, |line| {
                let start = line.len();
                escape(message, line);
                written += (line.len() - start) as u64 + 1;
            });
        }
        let n_lines = spool_batch.len() as u64;
        match self.writer.submit(spool_batch) {
            Ok(()) => {
                let first = self.next_seq;
                self.next_seq += n_lines;
                self.disk_bytes += written;
                self.appended_bytes += written;
                outcome.seqs = Some((first, self.next_seq - 1));
            }
            Err(refused) => {
                outcome.failed = n_lines;
                self.append_batch = refused.0;
            }
        }
        outcome
    }

    /// Marks `first..=last` (just appended) as already in the sender's
    /// hands, so the reader will not hand them out again.
    pub(crate) fn mark_read(&mut self, last: u64) {
        if last >= self.read_seq {
            self.read_seq = last + 1;
        }
    }

    /// Appends up to `max_messages` messages or about `max_bytes` bytes from
    /// the spool to `out`, unescaped.
    pub(crate) fn read_into(
        &mut self,
        out: &mut RelayBatch,
        max_messages: usize,
        max_bytes: usize,
    ) -> Read {
        let mut found = Read::default();
        while self.read_seq < self.next_seq && out.len() < max_messages && out.bytes() < max_bytes {
            match self.reader.next_line() {
                Ok(Some((seq, line))) => {
                    if seq < self.read_seq {
                        continue;
                    }
                    if seq >= self.next_seq {
                        // Only after a lost write made `next_seq` run
                        // behind the store; the resync below fixes it.
                        self.next_seq = seq + 1;
                    }
                    found.lost += seq - self.read_seq;
                    out.push_with(|buf| unescape(line, buf));
                    self.read_seq = seq + 1;
                    found.last_seq = Some(seq);
                }
                Ok(None) => break,
                Err(error) => {
                    found.lost += self.skip_damaged_segment(&error);
                    break;
                }
            }
        }
        // The reader went past a damaged spool file; the lines it could not
        // give back show as a jump in sequence numbers, counted in `lost`.
        for warning in self.reader.take_warnings() {
            tracing::warn!(sink = %self.sink, %warning, "relay spool file damaged; its unreadable messages are counted as lost");
        }
        found
    }

    /// The reader found nothing although messages should be waiting: make
    /// the store write everything it holds and look again; what is still
    /// missing then was lost by a failed write. Returns the number lost.
    pub(crate) fn resync(&mut self) -> u64 {
        if self.unread() == 0 {
            return 0;
        }
        if let Some(store) = &self.store {
            if let Err(error) = store.sync() {
                tracing::warn!(sink = %self.sink, %error, "relay spool sync failed");
            }
        }
        let mut probe = RelayBatch::new();
        let read = self.read_into(&mut probe, 1, usize::MAX);
        if read.last_seq.is_some() {
            // Data is there after all; put the reader back one line.
            let seq = self.read_seq - 1;
            self.read_seq = seq;
            if let Err(error) = self.reader.seek_seq(seq) {
                tracing::warn!(sink = %self.sink, %error, "relay spool seek failed");
            }
            return read.lost;
        }
        let lost = self.unread() + read.lost;
        self.next_seq = self.read_seq;
        self.acked = self.acked.min(self.next_seq.saturating_sub(1));
        lost
    }

    /// Records that the target acknowledged everything up to `seq`.
    pub(crate) fn ack(&mut self, seq: u64) {
        let seq = seq.min(self.next_seq.saturating_sub(1));
        if seq > self.acked {
            self.acked = seq;
        }
    }

    /// Periodic work: persist the cursor, delete acknowledged segments,
    /// measure the disk usage, notice lines the store dropped. Returns the
    /// number of messages the store reported lost since the last call.
    pub(crate) fn maintain(&mut self, now: Instant) -> u64 {
        if let Err(error) = self.persist_cursor(now) {
            tracing::warn!(sink = %self.sink, %error, "cannot write the relay cursor");
        }
        if now.duration_since(self.maintained_at) < MAINTAIN_EVERY {
            return 0;
        }
        self.maintained_at = now;
        self.delete_acknowledged();
        self.remeasure();
        let dropped = self.stats.snapshot().lines_dropped;
        let lost = dropped.saturating_sub(self.lines_dropped_seen);
        self.lines_dropped_seen = dropped;
        lost
    }

    /// Writes the cursor if it moved: a new file renamed over the old one,
    /// fsynced at most once a second ([`Spool::close`] always fsyncs).
    fn persist_cursor(&mut self, now: Instant) -> io::Result<()> {
        if self.acked == self.persisted_acked {
            return Ok(());
        }
        let sync = now.duration_since(self.cursor_synced_at) >= CURSOR_FSYNC_EVERY;
        write_cursor(&self.beneath, &self.root, self.acked, sync)?;
        if sync {
            self.cursor_synced_at = now;
        }
        self.persisted_acked = self.acked;
        Ok(())
    }

    /// Stops the spool's store (everything appended is written and fsynced)
    /// and writes the cursor with an fsync.
    pub(crate) fn close(mut self) -> Result<(), RelayError> {
        let mut result = Ok(());
        if let Some(store) = self.store.take() {
            if let Err(source) = store.shutdown() {
                result = Err(RelayError::Spool {
                    sink: self.sink.clone(),
                    source,
                });
            }
        }
        if let Err(source) = write_cursor(&self.beneath, &self.root, self.acked, true) {
            result = Err(RelayError::SpoolFile {
                sink: self.sink.clone(),
                op: "write",
                path: self.root.join(CURSOR_FILE),
                source,
            });
        }
        result
    }

    /// The bytes on disk plus what the writer thread has not written yet.
    fn remeasure(&mut self) {
        if let Ok(bytes) = measure(&self.stream_dir) {
            let pending = self
                .appended_bytes
                .saturating_sub(self.stats.snapshot().bytes_written);
            self.disk_bytes = bytes + pending;
        }
    }

    /// Deletes every closed segment whose messages are all acknowledged.
    fn delete_acknowledged(&mut self) {
        let Ok(segments) = scan(&self.stream_dir) else {
            return;
        };
        let firsts: Vec<u64> = segments.keys().copied().collect();
        for pair in firsts.windows(2) {
            let (first, successor) = (pair[0], pair[1]);
            if successor > self.acked + 1 || successor > self.read_seq {
                break;
            }
            self.delete_segment(first, &segments);
        }
    }

    /// Deletes the oldest closed segment; returns how many of its messages
    /// had not been handed to the sender yet, or `None` when there is no
    /// closed segment to delete.
    fn delete_oldest(&mut self) -> Option<u64> {
        let segments = scan(&self.stream_dir).ok()?;
        let mut firsts = segments.keys().copied();
        let first = firsts.next()?;
        let successor = firsts.next()?;
        self.delete_segment(first, &segments);
        let unsent = successor.saturating_sub(first.max(self.read_seq));
        if successor > self.read_seq {
            self.read_seq = successor;
        }
        if successor > self.acked + 1 {
            // The messages are gone from disk; a restart must not look for
            // them, and in-flight ones still count as sent when acked.
            self.acked = successor - 1;
        }
        Some(unsent)
    }

    fn delete_segment(&mut self, first: u64, segments: &BTreeMap<u64, Vec<PathBuf>>) {
        for path in segments.get(&first).into_iter().flatten() {
            let size = fs::metadata(path).map(|meta| meta.len()).unwrap_or(0);
            match self.beneath.remove_if_exists(path) {
                Ok(()) => self.disk_bytes = self.disk_bytes.saturating_sub(size),
                Err(error) => {
                    tracing::warn!(sink = %self.sink, path = %path.display(), %error, "cannot delete a relay spool segment");
                }
            }
        }
    }

    /// A segment could not be read: skip to the next one, returning the
    /// number of messages skipped.
    fn skip_damaged_segment(&mut self, error: &sinkd_store::StoreError) -> u64 {
        tracing::error!(sink = %self.sink, %error, "relay spool segment unreadable; skipping it");
        let next = scan(&self.stream_dir)
            .ok()
            .and_then(|segments| {
                segments
                    .keys()
                    .copied()
                    .find(|&first| first > self.read_seq)
            })
            .unwrap_or(self.next_seq);
        let skipped = next.saturating_sub(self.read_seq);
        self.read_seq = next;
        if let Err(error) = self.reader.seek_seq(next) {
            tracing::warn!(sink = %self.sink, %error, "relay spool seek failed");
        }
        skipped
    }
}

/// The settings of a spool's store: one writer thread, segments of a
/// sixteenth of `queue_disk` (at least 64 KiB), never deleted by count, and
/// lack of space (a full disk, or less free than the store's default
/// `min_free`) a write error rather than a pause.
fn store_config(config: &RelayConfig) -> StoreConfig {
    let mut store_config = StoreConfig::new(&config.spool_dir);
    store_config.segment_max_bytes = (config.queue_disk / SEGMENTS_PER_SPOOL).max(64 * 1024);
    store_config.segment_max_count = 0;
    store_config.fsync = FsyncPolicy::Interval(Duration::from_secs(1));
    store_config.writer_threads = 1;
    store_config.flush_interval = Duration::from_millis(20);
    store_config.max_buffered_bytes = 4 * 1024 * 1024;
    store_config.max_open_files = 4;
    store_config.compression_level = 1;
    store_config.queue_batches = 16;
    // The relay's one thread appends and sends: a full disk must not stop
    // it. What cannot be written is dropped and counted (relay_spool_error,
    // through the store's lines_dropped); the memory queue and the sender
    // go on.
    store_config.pause_when_full = false;
    store_config
}

/// Appends `message` escaped for one spool line.
pub(crate) fn escape(message: &[u8], out: &mut Vec<u8>) {
    let mut rest = message;
    while let Some(at) = rest
        .iter()
        .position(|&byte| matches!(byte, b'\\' | b'\n' | b'\r'))
    {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(match rest[at] {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            _ => b"\\r",
        });
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
}

/// Appends the message that `escape` turned into `line`. A backslash
/// followed by anything else (never written by `escape`) is kept as it is.
pub(crate) fn unescape(line: &[u8], out: &mut Vec<u8>) {
    let mut rest = line;
    while let Some(at) = rest.iter().position(|&byte| byte == b'\\') {
        out.extend_from_slice(&rest[..at]);
        match rest.get(at + 1) {
            Some(b'\\') => out.push(b'\\'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(&other) => out.extend_from_slice(&[b'\\', other]),
            None => {
                out.push(b'\\');
                return;
            }
        }
        rest = &rest[at + 2..];
    }
    out.extend_from_slice(rest);
}

/// The files of each segment of a stream directory, by first sequence
/// number (`N.log`, `N.log.zst`, `N.idx`, `.N.log.zst.tmp`).
fn scan(dir: &Path) -> io::Result<BTreeMap<u64, Vec<PathBuf>>> {
    let mut segments: BTreeMap<u64, Vec<PathBuf>> = BTreeMap::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let body = name.strip_prefix('.').unwrap_or(name);
        let (Some(digits), Some(suffix)) = (body.get(..SEQ_DIGITS), body.get(SEQ_DIGITS..)) else {
            continue;
        };
        if !digits.bytes().all(|byte| byte.is_ascii_digit())
            || !matches!(suffix, ".log" | ".log.zst" | ".idx" | ".log.zst.tmp")
        {
            continue;
        }
        if let Ok(seq) = digits.parse::<u64>() {
            segments.entry(seq).or_default().push(entry.path());
        }
    }
    Ok(segments)
}

/// Bytes of every file in the stream directory.
fn measure(dir: &Path) -> io::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        if let Ok(metadata) = entry?.metadata() {
            if metadata.is_file() {
                total += metadata.len();
            }
        }
    }
    Ok(total)
}

/// The first sequence number on disk and the one the next line will get.
fn stream_bounds(stream_dir: &Path) -> io::Result<(u64, u64)> {
    let root = stream_dir.parent().unwrap_or(stream_dir);
    let streams =
        sinkd_store::list_streams(root).map_err(|error| io::Error::other(error.to_string()))?;
    match streams.iter().find(|stream| stream.path == STREAM) {
        Some(info) => {
            let next = info.last_seq.map_or(info.first_seq, |last| last + 1);
            Ok((info.first_seq, next))
        }
        None => Ok((1, 1)),
    }
}

/// The persisted cursor; `None` when there is no cursor file.
fn read_cursor(path: &Path) -> io::Result<Option<u64>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let mut lines = text.lines();
    let invalid = || io::Error::new(io::ErrorKind::InvalidData, "not a relay cursor file");
    if lines.next() != Some(CURSOR_MAGIC) {
        return Err(invalid());
    }
    let acked = lines
        .next()
        .and_then(|line| line.strip_prefix("acked "))
        .and_then(|value| value.parse::<u64>().ok())
        .ok_or_else(invalid)?;
    Ok(Some(acked))
}

/// Writes the cursor file atomically: a temporary file renamed over it.
fn write_cursor(beneath: &Beneath, root: &Path, acked: u64, sync: bool) -> io::Result<()> {
    let temp = root.join(CURSOR_TEMP);
    // No link on the way, or in the temp file's place, is followed.
    let mut file = beneath.open(&temp, How::Truncate)?;
    let mut text = [0u8; 64];
    let mut cursor = io::Cursor::new(&mut text[..]);
    write!(cursor, "{CURSOR_MAGIC}\nacked {acked}\n")?;
    let len = cursor.position() as usize;
    file.write_all(&text[..len])?;
    if sync {
        file.sync_data()?;
    }
    beneath.rename(&temp, &root.join(CURSOR_FILE))?;
    if sync {
        if let Ok(dir) = fs::File::open(root) {
            dir.sync_all()?;
        }
    }
    Ok(())
}
