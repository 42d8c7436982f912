//! Appending and rotation: a line into its stream's buffer, and the life of
//! the stream's segments.
//!
//! `append` is the per-line path. It makes sure the stream is open
//! (recovered from disk on its first line, or after a failed write once the
//! pause is over), rotates the active segment when the line would take it
//! past `segment_max_bytes` or it is `segment_max_age` old, copies the line
//! into the buffer and notes an index record when one is due. A segment is
//! created by its first line, as its `N.log` alone; beyond
//! `segment_max_count` the oldest segments are deleted. Rotation writes the
//! buffer out, closes the file and hands the segment to the compressor
//! thread, never compressing here; jobs that thread's queue has no room
//! for wait in a backlog. Streams that stay idle are rotated by age from
//! the tick.
//!
//! A line is *taken* when it is buffered or counted as dropped. One that
//! cannot be taken because the disk is full (its directory or segment
//! cannot be created, or the rotation before it cannot write) is left to
//! the caller, which holds it until the paused thread resumes.

use super::flush::STREAM_FLUSH_BYTES;
use super::{now_micros, Active, Phase, Writer};
use crate::beneath::How;
use crate::compress::CompressJob;
use crate::config::FsyncPolicy;
use crate::layout::{self, FileKind, IndexRecord};
use crate::recover::{self, ActiveSegment, Recovered};
use crate::stats;
use crate::sys;
use crossbeam_channel::TrySendError;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Writer {
    /// Appends `line` to stream `id`; `(timestamp_micros, received_micros)`
    /// are the time that keys the index and the receive time. `false` when
    /// the line was not taken because the thread paused for lack of space.
    pub(super) fn append(
        &mut self,
        id: u32,
        (timestamp_micros, received_micros): (i64, i64),
        line: &[u8],
        now: Instant,
        wall: i64,
    ) -> bool {
        if !self.ensure_ready(id, now, wall) {
            if self.paused.is_some() {
                return false;
            }
            self.local.lines_dropped += 1;
            self.note_lost(id);
            // A refused line keeps the stream from looking idle (its
            // buffer is empty, so this is only the idle check's clock).
            self.streams[id as usize].buf_since = now;
            return true;
        }
        let max_bytes = self.shared.config.segment_max_bytes;
        let max_age = self.shared.config.segment_max_age;
        let line_bytes = line.len() as u64 + 1;
        if let Some(active) = &self.streams[id as usize].active {
            let too_big = active.size > 0 && active.size + line_bytes > max_bytes;
            let too_old = active.size > 0
                && max_age.is_some_and(|age| age_exceeded(active.created_micros, wall, age));
            if too_big || too_old {
                self.rotate(id);
                if self.paused.is_some() {
                    return false;
                }
            }
        }
        if self.streams[id as usize].active.is_none() && !self.start_segment(id, wall) {
            if self.paused.is_some() {
                return false;
            }
            self.local.lines_dropped += 1;
            self.note_lost(id);
            return true;
        }
        let interval = self.shared.config.index_interval_bytes.max(1);
        let stream = &mut self.streams[id as usize];
        let Some(active) = stream.active.as_mut() else {
            self.local.lines_dropped += 1;
            self.note_lost(id);
            return true;
        };
        let len_before = stream.buf.len();
        let pushed = stream
            .buf
            .extend(&mut self.pool, line)
            .and_then(|()| stream.buf.extend(&mut self.pool, b"\n"));
        if let Err(error) = pushed {
            // No memory for the line: it is dropped, the buffer unchanged.
            stream.buf.truncate(&mut self.pool, len_before);
            self.local.lines_dropped += 1;
            self.note_lost(id);
            let dir = self.stream_dir(id);
            self.warn("buffer", &dir, &error.to_string());
            return true;
        }
        active.running_max = active.running_max.max(timestamp_micros);
        if active.size >= active.next_index_at {
            stream.pending_index.push(IndexRecord {
                max_timestamp_micros: active.running_max,
                seq: stream.next_seq,
                offset: active.size,
            });
            active.next_index_at = active.size + interval;
            active.last_index_offset = Some(active.size);
        }
        if len_before == 0 {
            stream.buf_oldest_micros = received_micros;
            stream.buf_since = now;
        }
        active.size += line_bytes;
        stream.next_seq += 1;
        stream.buf_lines += 1;
        if !stream.in_dirty {
            stream.in_dirty = true;
            self.dirty.push(id);
        }
        if stream.buf.len() >= STREAM_FLUSH_BYTES {
            self.flush_stream(id);
        }
        true
    }

    /// Recovers the stream if needed; `false` when it cannot take lines now.
    fn ensure_ready(&mut self, id: u32, now: Instant, wall: i64) -> bool {
        match self.streams[id as usize].phase {
            Phase::Ready => true,
            // A line never reaches a free id (ids are resolved afresh for
            // every batch); refusing is the safe answer if one did.
            Phase::Invalid | Phase::Vacant => false,
            Phase::Failed { retry_at } if now < retry_at => false,
            Phase::Failed { .. } | Phase::Unopened => self.open_stream(id, now, wall),
        }
    }

    fn open_stream(&mut self, id: u32, now: Instant, wall: i64) -> bool {
        let dir = self.stream_dir(id);
        let created = match self.shared.beneath.create_dir_all(&dir) {
            Ok(created) => created,
            Err(error) => {
                self.write_failed(id, "create directory", &dir, &error);
                return false;
            }
        };
        // A directory made just now holds nothing to recover: a new
        // device costs no directory scan.
        let recovered = if created {
            Recovered::empty()
        } else {
            match recover::recover_stream(
                &self.shared.beneath,
                &dir,
                self.shared.config.index_interval_bytes.max(1),
                wall,
            ) {
                Ok(recovered) => recovered,
                Err(error) => {
                    self.fail_stream(id, now, "recover", &dir, &error.to_string());
                    return false;
                }
            }
        };
        self.local.torn_bytes_cut += recovered.torn_bytes;
        for first_seq in recovered.closed_logs {
            self.send_job(
                id,
                CompressJob::Compress {
                    dir: dir.clone(),
                    first_seq,
                    done: None,
                },
            );
        }
        let stream = &mut self.streams[id as usize];
        stream.phase = Phase::Ready;
        stream.next_seq = recovered.next_seq;
        stream.segments = recovered.segments.into();
        stream.active = recovered.active.map(|active: ActiveSegment| Active {
            first_seq: active.first_seq,
            size: active.size,
            created_micros: active.created_micros,
            running_max: active.running_max,
            next_index_at: active.next_index_at,
            last_index_offset: active.last_index_offset,
            index_on_disk: active.index_on_disk,
        });
        self.enforce_count(id);
        true
    }

    /// Creates the segment starting at the stream's next seq: only its
    /// `N.log`; the index comes with its first record.
    fn start_segment(&mut self, id: u32, wall: i64) -> bool {
        let first_seq = self.streams[id as usize].next_seq;
        let log = match self.open_segment(id, first_seq, How::CreateNew) {
            Ok(file) => file,
            Err((log_path, error)) => {
                self.write_failed(id, "create", &log_path, &error);
                return false;
            }
        };
        let interval = self.shared.config.index_interval_bytes.max(1);
        let sync_now = self.shared.config.fsync == FsyncPolicy::EveryBatch;
        let stream = &mut self.streams[id as usize];
        stream.segments.push(first_seq);
        stream.active = Some(Active {
            first_seq,
            size: 0,
            created_micros: wall,
            running_max: i64::MIN,
            next_index_at: interval,
            last_index_offset: None,
            index_on_disk: false,
        });
        stream.dir_unsynced = true;
        // With the cache full it keeps what it holds and the new file is
        // closed again here; the first write opens it.
        drop(self.install_file(id, log));
        self.mark_unsynced(id);
        if sync_now {
            let dir = self.stream_dir(id);
            if let Err(error) = sys::sync_dir(&dir) {
                self.local.write_errors += 1;
                self.warn("fsync", &dir, &error.to_string());
            } else {
                self.local.fsyncs += 1;
                self.streams[id as usize].dir_unsynced = false;
            }
        }
        self.enforce_count(id);
        true
    }

    /// Closes the active segment: writes it out, records its end in the
    /// index, and hands it to the compressor. The next line starts a new
    /// segment.
    fn rotate(&mut self, id: u32) {
        self.push_end_record(id);
        if !self.flush_stream(id) {
            return;
        }
        let policy = self.shared.config.fsync;
        let dir = self.stream_dir(id);
        let stream = &mut self.streams[id as usize];
        let Some(active) = stream.active.take() else {
            return;
        };
        if let Some(slot) = stream.slot.take() {
            if let Some(file) = self.files.remove(slot) {
                stats::sub(&self.shared.stats.open_files, 1);
                if policy != FsyncPolicy::Never {
                    let path = layout::file_path(&dir, active.first_seq, FileKind::Log);
                    self.sync_closed(file, path);
                }
            }
        }
        self.local.segments_rotated += 1;
        self.send_job(
            id,
            CompressJob::Compress {
                dir,
                first_seq: active.first_seq,
                done: None,
            },
        );
    }

    /// Rotates every stream whose active segment holds lines and is
    /// `max_age` old, idle streams included (called from the tick).
    pub(super) fn rotate_expired(&mut self, max_age: Duration) {
        let wall = now_micros();
        for id in 0..self.streams.len() as u32 {
            let expired = self.streams[id as usize]
                .active
                .as_ref()
                .is_some_and(|active| {
                    active.size > 0 && age_exceeded(active.created_micros, wall, max_age)
                });
            if expired {
                self.rotate(id);
            }
        }
    }

    /// Deletes the oldest segments beyond `segment_max_count`, never the
    /// active one.
    fn enforce_count(&mut self, id: u32) {
        let max_count = self.shared.config.segment_max_count;
        if max_count == 0 {
            return;
        }
        let stream = &mut self.streams[id as usize];
        let active = stream.active.as_ref().map(|active| active.first_seq);
        let excess = stream.segments.len().saturating_sub(max_count);
        let doomed = stream.segments[..excess]
            .iter()
            .take_while(|&&first_seq| Some(first_seq) != active)
            .count();
        if doomed == 0 {
            return;
        }
        let doomed: Vec<u64> = stream.segments.drain(..doomed).collect();
        let dir = self.stream_dir(id);
        for first_seq in doomed {
            self.send_job(
                id,
                CompressJob::Delete {
                    dir: dir.clone(),
                    first_seq,
                    done: None,
                },
            );
        }
    }

    /// Queues a job on stream `id`'s files for the compressor, numbered so
    /// the stream is not forgotten before the job is done.
    fn send_job(&mut self, id: u32, mut job: CompressJob) {
        if let CompressJob::Compress { done, .. } | CompressJob::Delete { done, .. } = &mut job {
            *done = Some(Arc::clone(&self.jobs_done));
            self.jobs_sent += 1;
            self.streams[id as usize].last_job = self.jobs_sent;
        }
        if !self.backlog.is_empty() {
            self.backlog.push_back(job);
            return;
        }
        match self.shared.compress_tx.try_send(job) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(job)) => self.backlog.push_back(job),
        }
    }

    /// Hands queued jobs to the compressor; `blocking` waits for room.
    pub(super) fn retry_backlog(&mut self, blocking: bool) {
        while let Some(job) = self.backlog.pop_front() {
            let result = if blocking {
                self.shared
                    .compress_tx
                    .send(job)
                    .map_err(|error| TrySendError::Disconnected(error.0))
            } else {
                self.shared.compress_tx.try_send(job)
            };
            match result {
                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(job)) => {
                    self.backlog.push_front(job);
                    return;
                }
            }
        }
    }
}

fn age_exceeded(created_micros: i64, wall: i64, max_age: Duration) -> bool {
    let max_age = i64::try_from(max_age.as_micros()).unwrap_or(i64::MAX);
    wall.saturating_sub(created_micros) >= max_age
}
