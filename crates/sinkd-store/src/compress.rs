//! The compressor threads: zstd for closed segments, deletion of segments
//! beyond `segment_max_count`, and clean-up after a crash.
//!
//! Writer threads never compress or delete: they send a [`CompressJob`]
//! to their compressor and go on writing. Each writer has one compressor,
//! so a stream's jobs are done one at a time in the order they were sent;
//! the start-up walk (compressor 0's) can meet a stream another compressor
//! is working on, so every job holds its stream directory's entry in
//! [`DirLocks`] while it runs, and compressions, deletions and temp-file
//! removals of one directory never race with each other. A compression writes `.N.log.zst.tmp`, fsyncs it, renames it to
//! `N.log.zst`, fsyncs the directory and only then removes `N.log`; a crash
//! at any point leaves either a complete `.log` or a complete `.log.zst`
//! (or both, which the next run resolves by keeping the `.log.zst`).
//!
//! At start compressor 0 walks `data_dir` once: it removes leftover temp files and
//! (re)compresses closed segments still in `.log` form, so a device that
//! never speaks again still has its old segments compressed.

use crate::beneath::{Beneath, How};
use crate::layout::{self, FileKind};
use crate::segment;
use crate::stats::{self, StoreStats};
use crate::sys;
use crate::warnings::WarnLimit;
use crossbeam_channel::{Receiver, Sender};
use std::collections::HashSet;
use std::fs;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// Tells a writer its job is finished.
fn count_done(done: Option<JobsDone>) {
    if let Some(done) = done {
        done.fetch_add(1, Ordering::Release);
    }
}

/// Deepest directory nesting the start-up walk descends into.
const MAX_WALK_DEPTH: usize = 32;

/// Counts the jobs of one writer thread the compressor has finished. Jobs
/// are done in the order they were queued, so a writer that numbers the
/// jobs it sends knows from this count whether a stream's last job is
/// done (it forgets an idle stream only then: recovering the stream while
/// its newest segment is still being compressed would take that segment
/// for the active one).
pub(crate) type JobsDone = Arc<AtomicU64>;

/// The stream directories a compressor is working on right now, shared by
/// every compressor of a store. A job waits while another thread holds its
/// directory; each thread holds at most one, so waiting cannot deadlock.
#[derive(Default)]
pub(crate) struct DirLocks {
    busy: Mutex<HashSet<PathBuf>>,
    freed: Condvar,
}

impl DirLocks {
    /// Holds `dir` until the guard is dropped, waiting while another
    /// compressor holds it.
    pub(crate) fn hold(&self, dir: &Path) -> DirGuard<'_> {
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        while busy.contains(dir) {
            busy = self
                .freed
                .wait(busy)
                .unwrap_or_else(PoisonError::into_inner);
        }
        busy.insert(dir.to_path_buf());
        DirGuard {
            locks: self,
            dir: dir.to_path_buf(),
        }
    }
}

/// A directory held in [`DirLocks`].
pub(crate) struct DirGuard<'a> {
    locks: &'a DirLocks,
    dir: PathBuf,
}

impl Drop for DirGuard<'_> {
    fn drop(&mut self) {
        self.locks
            .busy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.dir);
        self.locks.freed.notify_all();
    }
}

/// Work for a compressor thread.
pub(crate) enum CompressJob {
    /// Compress the closed segment `first_seq` of `dir` (or, if its
    /// `.log.zst` is already complete, just remove its `.log`).
    Compress {
        dir: PathBuf,
        first_seq: u64,
        done: Option<JobsDone>,
    },
    /// Delete every file of segment `first_seq` of `dir`.
    Delete {
        dir: PathBuf,
        first_seq: u64,
        done: Option<JobsDone>,
    },
    /// Answer once every job queued before this one is done.
    Barrier(Sender<()>),
    /// Finish the queued deletions, skip queued compressions (the next
    /// start-up walk does them) and exit.
    Shutdown,
}

/// One compressor thread's state.
pub(crate) struct Compressor {
    /// Every file is opened through it, following no link.
    beneath: Arc<Beneath>,
    pub(crate) data_dir: PathBuf,
    pub(crate) level: i32,
    pub(crate) jobs: Receiver<CompressJob>,
    pub(crate) stats: Arc<StoreStats>,
    /// The directories any compressor of this store is working on.
    dir_locks: Arc<DirLocks>,
    /// Whether this one does the start-up walk.
    walks: bool,
    warnings: WarnLimit,
}

impl Compressor {
    pub(crate) fn new(
        beneath: Arc<Beneath>,
        data_dir: PathBuf,
        level: i32,
        jobs: Receiver<CompressJob>,
        stats: Arc<StoreStats>,
        dir_locks: Arc<DirLocks>,
        walks: bool,
    ) -> Compressor {
        Compressor {
            beneath,
            data_dir,
            level,
            jobs,
            stats,
            dir_locks,
            walks,
            warnings: WarnLimit::default(),
        }
    }

    /// The thread body.
    pub(crate) fn run(mut self) {
        if self.walks {
            let data_dir = self.data_dir.clone();
            self.walk(&data_dir, 0);
        }
        let mut shutting_down = false;
        loop {
            let job = if shutting_down {
                match self.jobs.try_recv() {
                    Ok(job) => job,
                    Err(_) => return,
                }
            } else {
                match self.jobs.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                }
            };
            match job {
                CompressJob::Compress {
                    dir,
                    first_seq,
                    done,
                } => {
                    if !shutting_down {
                        let locks = Arc::clone(&self.dir_locks);
                        let _held = locks.hold(&dir);
                        self.compress(&dir, first_seq);
                    }
                    count_done(done);
                }
                CompressJob::Delete {
                    dir,
                    first_seq,
                    done,
                } => {
                    let locks = Arc::clone(&self.dir_locks);
                    let _held = locks.hold(&dir);
                    self.delete(&dir, first_seq);
                    count_done(done);
                }
                CompressJob::Barrier(done) => {
                    let _ = done.send(());
                }
                CompressJob::Shutdown => shutting_down = true,
            }
        }
    }

    /// The start-up walk: every directory below `dir` that holds segments.
    fn walk(&mut self, dir: &Path, depth: usize) {
        if depth > MAX_WALK_DEPTH {
            return;
        }
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        let mut subdirs = Vec::new();
        for entry in entries.flatten() {
            // Hidden directories (relay spools) belong to other stores.
            let hidden = entry.file_name().as_encoded_bytes().first() == Some(&b'.');
            if !hidden && entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                subdirs.push(entry.path());
            }
        }
        if depth > 0 {
            self.tidy_stream_dir(dir);
        }
        for subdir in subdirs {
            self.walk(&subdir, depth + 1);
        }
    }

    /// Removes compression temp files and compresses closed `.log`s of one
    /// stream directory.
    fn tidy_stream_dir(&mut self, dir: &Path) {
        let locks = Arc::clone(&self.dir_locks);
        let _held = locks.hold(dir);
        let Ok(segments) = segment::scan_dir(dir) else {
            return;
        };
        let newest = segments.keys().next_back().copied();
        for (&first_seq, files) in &segments {
            if files.compress_temp {
                let path = layout::file_path(dir, first_seq, FileKind::CompressTemp);
                if let Err(error) = self.beneath.remove_if_exists(&path) {
                    self.warn("remove", &path, &error);
                }
            }
            if files.log && Some(first_seq) != newest {
                self.compress(dir, first_seq);
            }
        }
    }

    fn compress(&mut self, dir: &Path, first_seq: u64) {
        match compress_segment(&self.beneath, dir, first_seq, self.level) {
            Ok(true) => stats::add(&self.stats.segments_compressed, 1),
            Ok(false) => {}
            Err((path, error)) => {
                stats::add(&self.stats.write_errors, 1);
                let temp = layout::file_path(dir, first_seq, FileKind::CompressTemp);
                let _ = self.beneath.remove_if_exists(&temp);
                self.warn("compress", &path, &error);
            }
        }
    }

    fn delete(&mut self, dir: &Path, first_seq: u64) {
        let mut removed = false;
        for kind in [
            FileKind::Log,
            FileKind::Zst,
            FileKind::CompressTemp,
            FileKind::Index,
        ] {
            let path = layout::file_path(dir, first_seq, kind);
            let existed = path.symlink_metadata().is_ok();
            match self.beneath.remove_if_exists(&path) {
                Ok(()) => removed |= existed,
                Err(error) => {
                    stats::add(&self.stats.write_errors, 1);
                    self.warn("remove", &path, &error);
                }
            }
        }
        if removed {
            stats::add(&self.stats.segments_deleted, 1);
        }
    }

    /// At most one warning per ten seconds: a broken disk must not flood
    /// the log.
    fn warn(&mut self, op: &'static str, path: &Path, error: &io::Error) {
        if let Some(suppressed) = self.warnings.admit() {
            tracing::warn!(op, path = %path.display(), %error, suppressed, "segment maintenance failed");
        }
    }
}

/// Compresses segment `first_seq` of `dir`. `Ok(true)` when a `.log.zst`
/// was written, `Ok(false)` when there was nothing to do. On error, the path
/// concerned and the error.
fn compress_segment(
    beneath: &Beneath,
    dir: &Path,
    first_seq: u64,
    level: i32,
) -> Result<bool, (PathBuf, io::Error)> {
    let log_path = layout::file_path(dir, first_seq, FileKind::Log);
    let zst_path = layout::file_path(dir, first_seq, FileKind::Zst);
    let temp_path = layout::file_path(dir, first_seq, FileKind::CompressTemp);
    if zst_path.exists() {
        // A previous run renamed the compressed file but died before
        // removing the plain one; the rename happened after an fsync, so
        // the .log.zst is complete.
        beneath
            .remove_if_exists(&log_path)
            .map_err(|error| (log_path.clone(), error))?;
        return Ok(false);
    }
    let source = match beneath.open(&log_path, How::Read) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err((log_path, error)),
    };
    let len = source
        .metadata()
        .map_err(|error| (log_path.clone(), error))?
        .len();
    let temp_error = |error| (temp_path.clone(), error);
    let output = beneath
        .open(&temp_path, How::Truncate)
        .map_err(temp_error)?;
    let mut encoder =
        zstd::stream::write::Encoder::new(BufWriter::with_capacity(256 * 1024, output), level)
            .map_err(temp_error)?;
    encoder.include_checksum(true).map_err(temp_error)?;
    encoder
        .set_pledged_src_size(Some(len))
        .map_err(temp_error)?;
    let mut input = BufReader::with_capacity(256 * 1024, source).take(len);
    io::copy(&mut input, &mut encoder).map_err(temp_error)?;
    let mut buffered = encoder.finish().map_err(temp_error)?;
    buffered.flush().map_err(temp_error)?;
    let output = buffered
        .into_inner()
        .map_err(|error| (temp_path.clone(), error.into_error()))?;
    output.sync_all().map_err(temp_error)?;
    drop(output);
    beneath.rename(&temp_path, &zst_path).map_err(temp_error)?;
    sys::sync_dir(dir).map_err(|error| (dir.to_path_buf(), error))?;
    beneath
        .remove_if_exists(&log_path)
        .map_err(|error| (log_path.clone(), error))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::DirLocks;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_held_directory_waits_for_its_holder_and_others_do_not() {
        let locks = Arc::new(DirLocks::default());
        let held = locks.hold(Path::new("/data/sw1"));
        // Another directory is not held up.
        drop(locks.hold(Path::new("/data/sw2")));
        let entered = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (locks, entered) = (Arc::clone(&locks), Arc::clone(&entered));
            std::thread::spawn(move || {
                let _held = locks.hold(Path::new("/data/sw1"));
                entered.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!entered.load(Ordering::SeqCst), "held twice at once");
        drop(held);
        waiter.join().unwrap();
        assert!(entered.load(Ordering::SeqCst));
        assert!(locks.busy.lock().unwrap().is_empty());
    }
}
