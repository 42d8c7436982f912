//! The sync thread: the `Interval` fsync policy's work, done off the writer
//! threads.
//!
//! An fsync or a `syncfs` waits for the disk; on a virtual disk a second's
//! worth of writes from 1,000 devices took tens of milliseconds. Done on a
//! writer thread, that wait stopped the writer, then (through the bounded
//! queues) the workers, then the UDP readers, and a burst arriving meanwhile
//! overflowed the socket buffers. So under `Interval` a writer only decides
//! what must become durable and hands it here as a [`SyncJob`]; it goes on
//! writing while this thread waits for the disk. Data written after the job
//! was made is simply part of the next interval's job.
//!
//! Explicit syncs ([`crate::Store::sync`], the `EveryBatch` policy,
//! shutdown) still run on the writer, because their callers wait for them;
//! `Store::sync` first waits, with a [`SyncJob::Barrier`], for the jobs its
//! writer handed over earlier.

use crate::stats::{self, StoreStats};
use crate::sys;
use crate::warnings::WarnLimit;
use crossbeam_channel::{Receiver, Sender};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Work for the sync thread.
pub(crate) enum SyncJob {
    /// One `syncfs` of the filesystem holding the data directory.
    FileSystem,
    /// Individual syncs: open files (a writer's duplicate descriptor, with
    /// the path for messages), files by path, directories by path. A file
    /// that no longer exists (compressed and removed since) is skipped.
    Files {
        open: Vec<(File, PathBuf)>,
        paths: Vec<PathBuf>,
        dirs: Vec<PathBuf>,
    },
    /// Answer once every job queued before this one is done.
    Barrier(Sender<()>),
    /// Finish the queued jobs and exit.
    Shutdown,
}

impl SyncJob {
    /// A job for one open file.
    pub(crate) fn file(file: File, path: PathBuf) -> SyncJob {
        SyncJob::Files {
            open: vec![(file, path)],
            paths: Vec::new(),
            dirs: Vec::new(),
        }
    }
}

pub(crate) struct Syncer {
    data_dir: PathBuf,
    /// `data_dir`, open for `syncfs`.
    data_dir_file: Option<File>,
    rx: Receiver<SyncJob>,
    stats: Arc<StoreStats>,
    warnings: WarnLimit,
}

impl Syncer {
    pub(crate) fn new(data_dir: PathBuf, rx: Receiver<SyncJob>, stats: Arc<StoreStats>) -> Syncer {
        Syncer {
            data_dir_file: File::open(&data_dir).ok(),
            data_dir,
            rx,
            stats,
            warnings: WarnLimit::default(),
        }
    }

    /// The thread body: runs jobs until `Shutdown` or until every sender is
    /// gone.
    pub(crate) fn run(mut self) {
        while let Ok(job) = self.rx.recv() {
            match job {
                SyncJob::FileSystem => self.sync_file_system(),
                SyncJob::Files { open, paths, dirs } => {
                    for (file, path) in open {
                        self.count(file.sync_data(), "fsync", &path);
                    }
                    for path in paths {
                        let result = File::open(&path).and_then(|file| file.sync_data());
                        self.count(result, "fsync", &path);
                    }
                    for dir in dirs {
                        self.count(sys::sync_dir(&dir), "fsync", &dir);
                    }
                }
                SyncJob::Barrier(done) => {
                    let _ = done.send(());
                }
                SyncJob::Shutdown => break,
            }
        }
    }

    fn sync_file_system(&mut self) {
        let result = match &self.data_dir_file {
            Some(dir) => sys::syncfs(dir),
            None => Err(io::Error::other("data directory could not be opened")),
        };
        let data_dir = self.data_dir.clone();
        self.count(result, "syncfs", &data_dir);
    }

    /// Counts one sync call and its failure, if any. A file removed since
    /// the job was made (its segment compressed) is not a failure.
    fn count(&mut self, result: io::Result<()>, op: &'static str, path: &Path) {
        match result {
            Ok(()) => stats::add(&self.stats.fsyncs, 1),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                stats::add(&self.stats.fsyncs, 1);
                stats::add(&self.stats.write_errors, 1);
                self.warn(op, path, &error);
            }
        }
    }

    /// A warning, unless one was logged in the last ten seconds.
    fn warn(&mut self, op: &'static str, path: &Path, error: &io::Error) {
        if let Some(suppressed) = self.warnings.admit() {
            tracing::warn!(op, path = %path.display(), %error, suppressed, "background sync failed");
        }
    }
}
