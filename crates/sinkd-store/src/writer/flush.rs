//! Writing buffers out: when a stream's buffered lines reach its segment
//! file, and the open files they are written through.
//!
//! A stream's buffer (chunks from the thread's [`ChunkPool`]) is written
//! with one `write` when it passes [`STREAM_FLUSH_BYTES`], when the flush
//! interval ticks, when the thread's share of `max_buffered_bytes` is
//! exceeded (largest buffers first, down to [`FLUSH_DOWN_TO`] of it), before
//! a rotation, and at shutdown; the stream's pending index records are
//! written with it ([`super::index`]). Open segment files live in a
//! [`FileCache`] bounded by the thread's share of `max_open_files`; once it
//! is full, a stream without a slot mostly has its file opened for the one
//! write and closed after it.
//!
//! Nothing is written while the thread is paused for lack of space, and a
//! buffer is written only when `min_free` allows it ([`super::space`]). A
//! write that fails part-way counts the lines it completed as written and
//! keeps only the rest: held for a retry when the disk is full, dropped
//! when the stream fails for another reason.
//!
//! [`ChunkPool`]: crate::chunks::ChunkPool
//! [`FileCache`]: crate::fdcache::FileCache

use super::intake::PREFETCH_STATE_AHEAD;
use super::{now_micros, Writer};
use crate::beneath::How;
use crate::chunks::CHUNK_BYTES;
use crate::hint;
use crate::layout::{self, FileKind};
use crate::stats;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A stream's buffer is written once it holds this many bytes.
pub(crate) const STREAM_FLUSH_BYTES: usize = 64 * 1024;

/// When a writer's buffers pass its budget, the largest are written until
/// they hold this fraction (numerator, denominator) of it again. The fewer
/// bytes one round frees, the larger the buffers it writes: with 10,000
/// evenly busy devices and 32 MiB, ½ gave ~30,600 writes per million
/// messages and 9⁄10 ~24,700 in a simulation of the policy (the 10,000
/// writes at the end of the burst included), ~19% fewer. Each round costs
/// one pass over the dirty streams.
const FLUSH_DOWN_TO: (usize, usize) = (9, 10);

/// Buffer sizes (in chunks) `flush_largest` tells apart; larger ones count
/// as the largest. A buffer is written once it reaches
/// [`STREAM_FLUSH_BYTES`], so few are ever larger.
const SIZE_CLASSES: usize = STREAM_FLUSH_BYTES / CHUNK_BYTES + 2;

/// Where a buffer is written: a file the cache keeps, or one opened for
/// this write alone (closed after it) while the cache is full.
enum Target {
    Cached(u32),
    Passing(File),
}

impl Writer {
    /// Writes the stream's buffer and pending index records. `false` when
    /// they were not all written: the thread is paused for lack of space
    /// (what was not written stays), or the stream is in `Failed`.
    pub(super) fn flush_stream(&mut self, id: u32) -> bool {
        let stream = &self.streams[id as usize];
        if stream.buf.is_empty() && stream.pending_index.is_empty() {
            return true;
        }
        if self.paused.is_some() {
            return false;
        }
        if !stream.buf.is_empty() {
            let bytes = stream.buf.len() as u64;
            if let Err(reason) = self.space.admit(bytes, &self.shared.health) {
                if self.shared.config.pause_when_full {
                    self.pause(reason);
                } else {
                    let dir = self.stream_dir(id);
                    self.fail_stream(id, Instant::now(), "write", &dir, &reason.to_string());
                }
                return false;
            }
            let mut target = match self.open_for_write(id) {
                Ok(target) => target,
                Err((path, error)) => {
                    self.write_failed(id, "open", &path, &error);
                    return false;
                }
            };
            let stream = &mut self.streams[id as usize];
            let result = match &mut target {
                Target::Cached(slot) => match self.files.get(*slot) {
                    Some(file) => stream.buf.write_to(&mut self.pool, file),
                    None => Err((0, io::Error::other("segment file slot vanished"))),
                },
                Target::Passing(file) => stream.buf.write_to(&mut self.pool, file),
            };
            if let Err((landed, error)) = result {
                // The lines a partial write completed are on disk: they
                // count as written, and only the rest stays buffered.
                let lines_landed = stream.buf.count_in_prefix(&self.pool, landed, b'\n');
                stream.buf.drop_front(&mut self.pool, landed);
                stream.buf_lines -= lines_landed;
                self.local.lines_written += lines_landed;
                self.local.bytes_written += landed as u64;
                let first_seq = stream.active.as_ref().map(|active| active.first_seq);
                let dir = self.stream_dir(id);
                let path = first_seq.map_or_else(PathBuf::new, |first_seq| {
                    layout::file_path(&dir, first_seq, FileKind::Log)
                });
                if landed > 0 {
                    self.mark_unsynced(id);
                }
                self.write_failed(id, "write", &path, &error);
                return false;
            }
            self.local.lines_written += stream.buf_lines;
            self.local.bytes_written += stream.buf.len() as u64;
            if let Some(observer) = &self.shared.config.on_write {
                let waited_micros = now_micros().saturating_sub(stream.buf_oldest_micros).max(0);
                (observer.0)(Duration::from_micros(waited_micros as u64));
            }
            stream.buf.clear(&mut self.pool);
            stream.buf_lines = 0;
            self.mark_unsynced(id);
        }
        if !self.streams[id as usize].pending_index.is_empty() {
            if let Err((path, error)) = self.write_pending_index(id) {
                self.write_failed(id, "write", &path, &error);
                return false;
            }
        }
        true
    }

    /// The stream's active segment file, from the cache or opened now
    /// (and kept in the cache when it takes it).
    fn open_for_write(&mut self, id: u32) -> Result<Target, (PathBuf, io::Error)> {
        let stream = &self.streams[id as usize];
        if let Some(slot) = stream.slot {
            return Ok(Target::Cached(slot));
        }
        let Some(first_seq) = stream.active.as_ref().map(|active| active.first_seq) else {
            return Err((self.stream_dir(id), io::Error::other("no active segment")));
        };
        let file = self.open_segment(id, first_seq, How::Append)?;
        Ok(match self.install_file(id, file) {
            Ok(slot) => Target::Cached(slot),
            Err(file) => Target::Passing(file),
        })
    }

    /// Opens stream `id`'s segment log starting at `first_seq` as `how`
    /// says. The path goes to the kernel relative to `data_dir`, built in
    /// a buffer the thread keeps (with 100,000 devices most writes open
    /// their file); the full path is made only for an error.
    pub(super) fn open_segment(
        &mut self,
        id: u32,
        first_seq: u64,
        how: How,
    ) -> Result<File, (PathBuf, io::Error)> {
        use std::os::unix::ffi::OsStrExt;
        let mut relative = std::mem::take(&mut self.relative_path);
        relative.clear();
        relative.extend_from_slice(self.ids.key(id));
        relative.push(b'/');
        layout::push_file_name(first_seq, FileKind::Log, &mut relative);
        let opened = self
            .shared
            .beneath
            .open_relative(Path::new(std::ffi::OsStr::from_bytes(&relative)), how);
        self.relative_path = relative;
        opened.map_err(|error| {
            let path = layout::file_path(&self.stream_dir(id), first_seq, FileKind::Log);
            (path, error)
        })
    }

    /// Keeps `file` open as stream `id`'s active segment, in the cache's
    /// slot it returns; when the cache is full and keeps what it holds,
    /// `file` comes back.
    pub(super) fn install_file(&mut self, id: u32, file: File) -> Result<u32, File> {
        if let Some(old) = self.streams[id as usize].slot.take() {
            if self.files.remove(old).is_some() {
                stats::sub(&self.shared.stats.open_files, 1);
            }
        }
        let (slot, evicted) = self.files.insert(id, file)?;
        match evicted {
            Some((owner, _closed)) => {
                if let Some(owner_stream) = self.streams.get_mut(owner as usize) {
                    owner_stream.slot = None;
                }
            }
            None => stats::add(&self.shared.stats.open_files, 1),
        }
        self.streams[id as usize].slot = Some(slot);
        Ok(slot)
    }

    /// Writes every non-empty buffer.
    pub(super) fn flush_dirty(&mut self) {
        self.flush_dirty_older(Instant::now(), Duration::ZERO);
    }

    /// Writes the buffers whose first line has waited `min_age` or longer;
    /// younger ones stay in memory (a stream the budget flushed a moment
    /// ago is not written again for a handful of lines).
    pub(super) fn flush_dirty_older(&mut self, now: Instant, min_age: Duration) {
        let mut dirty = std::mem::take(&mut self.dirty);
        // In id order, which is the order the streams' files were created
        // in and so, roughly, inode order: consecutive writes update
        // inodes that share an inode-table block.
        dirty.sort_unstable();
        dirty.retain(|&id| {
            let stream = &mut self.streams[id as usize];
            if !stream.buf.is_empty() && now.saturating_duration_since(stream.buf_since) < min_age {
                return true;
            }
            stream.in_dirty = false;
            self.flush_stream(id);
            // What a paused thread could not write stays dirty.
            let stream = &mut self.streams[id as usize];
            stream.in_dirty = !stream.buf.is_empty() || !stream.pending_index.is_empty();
            stream.in_dirty
        });
        // Flushing never marks a stream dirty, so nothing was added.
        dirty.append(&mut self.dirty);
        self.dirty = dirty;
    }

    /// Writes the largest buffers until the thread is back under
    /// [`FLUSH_DOWN_TO`] of its budget. Which buffers are largest comes from
    /// a count of chunks per buffer size, so no sort is needed however
    /// often this runs.
    pub(super) fn flush_largest(&mut self) {
        let target = self.shared.buffer_budget / FLUSH_DOWN_TO.1 * FLUSH_DOWN_TO.0;
        let Some(excess) = self.pool.held_bytes().checked_sub(target) else {
            return;
        };
        let mut order = std::mem::take(&mut self.flush_order);
        order.clear();
        // Chunks held by the buffers of each size (in chunks).
        let mut by_size = [0usize; SIZE_CLASSES];
        for (index, &id) in self.dirty.iter().enumerate() {
            if let Some(&ahead) = self.dirty.get(index + PREFETCH_STATE_AHEAD) {
                hint::prefetch(&self.streams[ahead as usize].buf, 64);
            }
            let chunks = self.streams[id as usize].buf.held_bytes() / CHUNK_BYTES;
            if chunks > 0 {
                order.push((chunks, id));
                by_size[chunks.min(SIZE_CLASSES - 1)] += chunks;
            }
        }
        // The smallest size whose buffers, with all larger ones, free the
        // excess.
        let mut needed = excess.div_ceil(CHUNK_BYTES);
        let mut threshold = 1;
        for size in (1..SIZE_CLASSES).rev() {
            threshold = size;
            if by_size[size] >= needed {
                break;
            }
            needed -= by_size[size];
        }
        let mut victims = std::mem::take(&mut self.flush_victims);
        victims.clear();
        let mut freed = 0;
        for &(chunks, id) in &order {
            if chunks > threshold || (chunks == threshold && freed < excess) {
                victims.push(id);
                freed += chunks * CHUNK_BYTES;
            }
        }
        // In id order, as in `flush_dirty_older`.
        victims.sort_unstable();
        for &id in &victims {
            self.flush_stream(id);
        }
        self.flush_order = order;
        self.flush_victims = victims;
    }
}
