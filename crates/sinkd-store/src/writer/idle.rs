//! Forgetting idle streams, so that a writer's memory follows the devices
//! that are talking rather than every device seen since start.
//!
//! Every stream costs its state (a [`Stream`], its key in the id table,
//! its directory path and segment list: about half a kilobyte) and
//! possibly an open file. A device that stopped sending (replaced,
//! renamed, a hostname that was a one-off) would keep all of it until a
//! restart. From the tick, at most every [`IDLE_CHECK_EVERY`], the writer
//! forgets each stream that has taken no line for `stream_idle_timeout`:
//! its file is closed, its state dropped and its id given back for reuse.
//! Its next line recovers it from its directory as after a restart
//! (continuing the sequence from what is on disk), which costs a directory
//! listing and a read of the active segment's tail since its last index
//! record — at most once per idle period per stream.
//!
//! Only a stream with nothing in flight is forgotten: its buffer written,
//! no index record pending, its files fsynced (unless the policy is
//! `never`; then the next sync, explicit or at shutdown, is a `syncfs`),
//! and every compressor job on its files done (recovering while its newest
//! segment is still being compressed would take that segment for the
//! active one). With `segment_max_age`, a non-empty active segment keeps
//! its stream until it is closed by age, so idle devices still get their
//! last segment compressed. An indexed active segment first gets the
//! record of where it ends, as at shutdown, so seeks stay exact after the
//! stream comes back; an active segment too small to have an index stays
//! without one (recovery then treats the times of its lines as unknown,
//! as after a restart). Nothing is forgotten while the writer is paused
//! for lack of space, holds part of a batch or has acknowledgements to
//! settle: those refer to streams by id.

use super::{Phase, Stream, Writer};
use crate::chunks::ChunkBuf;
use crate::config::FsyncPolicy;
use crate::stats;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often the writer looks for idle streams (more often when the
/// timeout is shorter).
const IDLE_CHECK_EVERY: Duration = Duration::from_secs(5);

/// What the idle check decided for one stream.
enum Idle {
    Keep,
    /// Idle, but its index lacks the record of where the segment ends: it
    /// is written now and the stream forgotten at a later check.
    RecordEnd,
    Forget,
}

impl Writer {
    /// Forgets the streams idle for `stream_idle_timeout`; called from the
    /// tick, does the work at most every [`IDLE_CHECK_EVERY`].
    pub(super) fn forget_idle(&mut self, now: Instant) {
        let Some(timeout) = self.shared.config.stream_idle_timeout else {
            return;
        };
        if self.paused.is_some() || self.held.is_some() || self.acks.is_pending() {
            return;
        }
        if now.duration_since(self.last_idle_check) < IDLE_CHECK_EVERY.min(timeout) {
            return;
        }
        self.last_idle_check = now;
        // A buffer is written within `flush_interval` of its first line,
        // and `buf_since` is when that line came: a stream whose buffer is
        // empty and whose `buf_since` is older than this took its last
        // line at least `timeout` ago.
        let idle_for = timeout + self.shared.config.flush_interval;
        let done = self.jobs_done.load(Ordering::Acquire);
        let mut forgot_unsynced = false;
        let mut forgotten = 0;
        for id in 0..self.streams.len() as u32 {
            match self.idle_state(id, now, idle_for, done) {
                Idle::Keep => {}
                Idle::RecordEnd => {
                    self.push_end_record(id);
                    self.flush_stream(id);
                }
                Idle::Forget => {
                    forgot_unsynced |= self.streams[id as usize].in_unsynced;
                    self.forget(id);
                    forgotten += 1;
                }
            }
        }
        if forgot_unsynced {
            let streams = &self.streams;
            self.unsynced.retain(|&id| streams[id as usize].in_unsynced);
            self.forgot_unsynced = true;
        }
        if forgotten > 0 {
            stats::sub(&self.shared.stats.open_streams, forgotten);
        }
    }

    fn idle_state(&self, id: u32, now: Instant, idle_for: Duration, done: u64) -> Idle {
        let stream = &self.streams[id as usize];
        let settled = match stream.phase {
            Phase::Vacant => false,
            Phase::Failed { retry_at } => now >= retry_at,
            Phase::Unopened | Phase::Ready | Phase::Invalid => true,
        };
        let never_syncs = self.shared.config.fsync == FsyncPolicy::Never;
        let quiet = settled
            && stream.buf.is_empty()
            && !stream.in_dirty
            && stream.pending_index.is_empty()
            && stream.last_job <= done
            && now.saturating_duration_since(stream.buf_since) >= idle_for;
        if !quiet {
            return Idle::Keep;
        }
        let Some(active) = &stream.active else {
            return Idle::Forget;
        };
        if self.shared.config.segment_max_age.is_some() && active.size > 0 {
            // Closed by age from the tick; forgotten once that is done.
            return Idle::Keep;
        }
        if active.index_on_disk && active.size > 0 && active.last_index_offset != Some(active.size)
        {
            return Idle::RecordEnd;
        }
        if stream.in_unsynced && !(never_syncs && crate::sys::HAS_SYNCFS) {
            // The next sync (within the interval, or after the next batch)
            // clears it; under `never`, only a `syncfs` can cover a
            // forgotten stream.
            return Idle::Keep;
        }
        Idle::Forget
    }

    /// Drops stream `id`'s state and gives its id back.
    fn forget(&mut self, id: u32) {
        self.close_file(id);
        self.ids.remove(id);
        self.streams[id as usize] = Stream::vacant();
    }
}

impl Stream {
    /// The state of a free id, nothing allocated; a new stream starts from
    /// it.
    pub(super) fn vacant() -> Stream {
        Stream {
            phase: Phase::Vacant,
            next_seq: 1,
            active: None,
            segments: Vec::new(),
            buf: ChunkBuf::default(),
            buf_lines: 0,
            buf_oldest_micros: 0,
            buf_since: Instant::now(),
            pending_index: super::index::PendingIndex::default(),
            slot: None,
            in_dirty: false,
            in_unsynced: false,
            index_unsynced: false,
            dir_unsynced: false,
            last_job: 0,
        }
    }
}
