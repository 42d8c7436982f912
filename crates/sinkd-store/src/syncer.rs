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
//! writer handed over earlier. Both sides plan the work as a [`SyncWork`]
//! and carry it out with [`perform`].

use crate::stats::{self, StoreStats};
use crate::sys;
use crate::warnings::WarnLimit;
use crossbeam_channel::{Receiver, Sender};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What has to become durable.
pub(crate) enum SyncWork {
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
}

impl SyncWork {
    /// The work of syncing one open file.
    pub(crate) fn file(file: File, path: PathBuf) -> SyncWork {
        SyncWork::Files {
            open: vec![(file, path)],
            paths: Vec::new(),
            dirs: Vec::new(),
        }
    }
}

/// A message to the sync thread.
pub(crate) enum SyncJob {
    Work(SyncWork),
    /// Answer once every job queued before this one is done.
    Barrier(Sender<()>),
    /// Finish the queued jobs and exit.
    Shutdown,
}

/// One sync call and how it went.
pub(crate) struct Outcome {
    pub(crate) op: &'static str,
    pub(crate) path: PathBuf,
    pub(crate) result: io::Result<()>,
}

impl Outcome {
    /// Whether the call counts as made: a file removed since the work was
    /// planned (its segment compressed) is skipped, not failed.
    pub(crate) fn counted(&self) -> bool {
        !matches!(&self.result, Err(error) if error.kind() == io::ErrorKind::NotFound)
    }

    /// The failure worth counting and reporting, if any.
    pub(crate) fn error(&self) -> Option<&io::Error> {
        self.result.as_ref().err().filter(|_| self.counted())
    }
}

/// Does `work` on the calling thread, appending one [`Outcome`] per call.
/// `data_dir_file` is the data directory held open for `syncfs`. Used by
/// the sync thread and, when it cannot be, by the writers themselves.
pub(crate) fn perform(
    work: SyncWork,
    data_dir: &Path,
    data_dir_file: Option<&File>,
    outcomes: &mut Vec<Outcome>,
) {
    match work {
        SyncWork::FileSystem => outcomes.push(Outcome {
            op: "syncfs",
            path: data_dir.to_path_buf(),
            result: match data_dir_file {
                Some(dir) => sys::syncfs(dir),
                None => Err(io::Error::other("data directory could not be opened")),
            },
        }),
        SyncWork::Files { open, paths, dirs } => {
            for (file, path) in open {
                let result = file.sync_data();
                outcomes.push(Outcome {
                    op: "fsync",
                    path,
                    result,
                });
            }
            for path in paths {
                let result = File::open(&path).and_then(|file| file.sync_data());
                outcomes.push(Outcome {
                    op: "fsync",
                    path,
                    result,
                });
            }
            for dir in dirs {
                let result = sys::sync_dir(&dir);
                outcomes.push(Outcome {
                    op: "fsync",
                    path: dir,
                    result,
                });
            }
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
        let mut outcomes = Vec::new();
        while let Ok(job) = self.rx.recv() {
            match job {
                SyncJob::Work(work) => {
                    perform(
                        work,
                        &self.data_dir,
                        self.data_dir_file.as_ref(),
                        &mut outcomes,
                    );
                    for outcome in outcomes.drain(..) {
                        if outcome.counted() {
                            stats::add(&self.stats.fsyncs, 1);
                        }
                        if let Some(error) = outcome.error() {
                            stats::add(&self.stats.write_errors, 1);
                            if let Some(suppressed) = self.warnings.admit() {
                                tracing::warn!(op = outcome.op, path = %outcome.path.display(), %error, suppressed, "background sync failed");
                            }
                        }
                    }
                }
                SyncJob::Barrier(done) => {
                    let _ = done.send(());
                }
                SyncJob::Shutdown => break,
            }
        }
    }
}
