//! Fsync bookkeeping: which streams were written since the last sync, and
//! how they are made durable under each [`FsyncPolicy`].
//!
//! Every write notes its stream as unsynced (its segment file, and its
//! index and directory when those changed). `EveryBatch` fsyncs them on
//! this thread after each batch; `Interval` hands them to the sync thread
//! ([`crate::syncer`]) once per interval and goes on writing, doing the
//! work here only when that thread's queue is full; `Never` leaves them to
//! an explicit [`crate::Store::sync`] and to shutdown. Beyond
//! [`SYNCFS_ABOVE`] streams one `syncfs` replaces the per-file fsyncs. A
//! segment closed by rotation is fsynced once more as it is closed, unless
//! the policy is `Never`.
//!
//! [`FsyncPolicy`]: crate::FsyncPolicy

use super::Writer;
use crate::error::StoreError;
use crate::layout::{self, FileKind};
use crate::syncer::{self, SyncJob, SyncWork};
use crate::sys;
use crossbeam_channel::TrySendError;
use std::fs::File;
use std::path::PathBuf;
use std::time::Instant;

/// Up to this many unsynced streams are fsynced one by one; beyond it one
/// `syncfs` is cheaper.
const SYNCFS_ABOVE: usize = 8;

impl Writer {
    pub(super) fn mark_unsynced(&mut self, id: u32) {
        let stream = &mut self.streams[id as usize];
        if !stream.in_unsynced {
            stream.in_unsynced = true;
            self.unsynced.push(id);
        }
    }

    /// A closed segment's file: fsynced by the sync thread under
    /// `Interval`, here otherwise (or when its queue is full).
    pub(super) fn sync_closed(&mut self, file: File, path: PathBuf) {
        let work = SyncWork::file(file, path);
        let work = match &self.shared.sync_tx {
            Some(sync_tx) => match sync_tx.try_send(SyncJob::Work(work)) {
                Ok(()) => return,
                Err(TrySendError::Full(SyncJob::Work(work))) => work,
                Err(_) => return,
            },
            None => work,
        };
        self.sync_here(work);
    }

    /// The `Interval` policy's sync: what was written since the last one
    /// is handed to the sync thread, and this thread goes on writing. Done
    /// here instead when there is no sync thread or its queue is full.
    pub(super) fn sync_in_background(&mut self) {
        if self.unsynced.is_empty() {
            return;
        }
        let Some(sync_tx) = self.shared.sync_tx.clone() else {
            self.sync_unsynced();
            return;
        };
        match sync_tx.try_send(SyncJob::Work(self.unsynced_work())) {
            Ok(()) => {}
            Err(TrySendError::Full(SyncJob::Work(work))) => self.sync_here(work),
            Err(_) => {
                let work = self.unsynced_work();
                self.sync_here(work);
            }
        }
        self.mark_synced();
    }

    /// Fsyncs what was written since the last sync, on this thread.
    pub(super) fn sync_unsynced(&mut self) {
        if self.unsynced.is_empty() && !self.forgot_unsynced {
            return;
        }
        let work = self.unsynced_work();
        self.sync_here(work);
        self.mark_synced();
    }

    /// What makes the streams written since the last sync durable: one
    /// `syncfs` when many are concerned (or some were forgotten unsynced),
    /// else their files one by one.
    fn unsynced_work(&self) -> SyncWork {
        if sys::HAS_SYNCFS && (self.unsynced.len() > SYNCFS_ABOVE || self.forgot_unsynced) {
            SyncWork::FileSystem
        } else {
            self.unsynced_files()
        }
    }

    /// Per stream written since the last sync: its active segment (through
    /// a duplicate of the open descriptor when there is one), its index
    /// and its directory if they changed.
    fn unsynced_files(&self) -> SyncWork {
        let (mut open, mut paths, mut dirs) = (Vec::new(), Vec::new(), Vec::new());
        for &id in &self.unsynced {
            let stream = &self.streams[id as usize];
            let Some(active) = stream.active.as_ref() else {
                continue;
            };
            let dir = self.stream_dir(id);
            let log_path = layout::file_path(&dir, active.first_seq, FileKind::Log);
            let duplicate = stream
                .slot
                .and_then(|slot| self.files.peek(slot))
                .and_then(|file| file.try_clone().ok());
            match duplicate {
                Some(file) => open.push((file, log_path)),
                None => paths.push(log_path),
            }
            if stream.index_unsynced && active.index_on_disk {
                paths.push(layout::file_path(&dir, active.first_seq, FileKind::Index));
            }
            if stream.dir_unsynced {
                dirs.push(dir);
            }
        }
        SyncWork::Files { open, paths, dirs }
    }

    /// Does `work` on this thread, counting each call. A failed `syncfs`
    /// falls back to syncing the unsynced streams' files one by one.
    pub(super) fn sync_here(&mut self, work: SyncWork) {
        let mut outcomes = Vec::new();
        syncer::perform(
            work,
            &self.shared.config.data_dir,
            self.data_dir_file.as_ref(),
            &mut outcomes,
        );
        let mut syncfs_failed = false;
        for outcome in &outcomes {
            if outcome.counted() {
                self.local.fsyncs += 1;
            }
            if let Some(error) = outcome.error() {
                self.local.write_errors += 1;
                syncfs_failed |= outcome.op == "syncfs";
                self.warn(outcome.op, &outcome.path, &error.to_string());
            }
        }
        if syncfs_failed {
            let work = self.unsynced_files();
            self.sync_here(work);
        }
    }

    /// Forgets which streams were unsynced: their sync is done or queued.
    pub(super) fn mark_synced(&mut self) {
        for &id in &self.unsynced {
            let stream = &mut self.streams[id as usize];
            stream.in_unsynced = false;
            stream.index_unsynced = false;
            stream.dir_unsynced = false;
        }
        self.unsynced.clear();
        self.forgot_unsynced = false;
        self.last_sync = Instant::now();
    }

    /// Answers a [`WriterMsg::Sync`](super::WriterMsg::Sync): everything
    /// written and fsynced, every job handed to the compressor.
    pub(super) fn sync_everything(&mut self) -> Result<(), StoreError> {
        self.flush_dirty();
        // Streams already handed to the sync thread are no longer in
        // `unsynced`: wait until it has done them.
        if let Some(sync_tx) = &self.shared.sync_tx {
            let (done_tx, done_rx) = crossbeam_channel::bounded(1);
            if sync_tx.send(SyncJob::Barrier(done_tx)).is_ok() {
                let _ = done_rx.recv();
            }
        }
        self.sync_unsynced();
        self.retry_backlog(true);
        self.publish();
        Ok(())
    }
}
