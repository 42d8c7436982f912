//! The few system calls std does not wrap: an exclusive `flock` on the data
//! directory's lock file and Linux `syncfs`, plus directory fsync; and
//! opening a segment file to read without waiting on what is not one.
//!
//! `syncfs` lets a writer thread make thousands of freshly written stream
//! files durable with one call instead of one fsync per file, which is what
//! keeps the `Interval` fsync policy and shutdown cheap with 10,000 devices.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Takes an exclusive, non-blocking `flock` on `file`. `Ok(false)` when
/// another open file description holds it.
pub(crate) fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    // SAFETY: flock only reads the descriptor number, which `file` keeps
    // open for the duration of the call.
    let result = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if result == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
        return Ok(false);
    }
    Err(error)
}

/// Flushes every dirty page and inode of the filesystem holding `file`.
#[cfg(target_os = "linux")]
pub(crate) fn syncfs(file: &File) -> io::Result<()> {
    // SAFETY: syncfs only reads the descriptor number, which `file` keeps
    // open for the duration of the call.
    let result = unsafe { libc::syncfs(file.as_raw_fd()) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether [`syncfs`] exists on this platform.
pub(crate) const HAS_SYNCFS: bool = cfg!(target_os = "linux");

/// Elsewhere there is no `syncfs`; callers fall back to per-file fsync.
#[cfg(not(target_os = "linux"))]
pub(crate) fn syncfs(_file: &File) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "syncfs is Linux-only",
    ))
}

/// Fsyncs a directory, making the names created or removed in it durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The process's soft limit on open file descriptors (1024 when it cannot
/// be read).
pub(crate) fn open_file_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct passed in, which lives for
    // the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1024;
    }
    limit.rlim_cur
}

/// Free bytes (what an unprivileged process may still use) and total bytes
/// of the filesystem holding `path`; `None` when `statvfs` fails.
pub(crate) fn free_and_total(path: &Path) -> Option<(u64, u64)> {
    let stat = rustix::fs::statvfs(path).ok()?;
    Some((
        stat.f_bavail.saturating_mul(stat.f_frsize),
        stat.f_blocks.saturating_mul(stat.f_frsize),
    ))
}

/// Whether `error` means the filesystem or the quota is full: writing
/// again later may work, so the lines are held rather than dropped.
pub(crate) fn is_no_space(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// Opens `path` to read, refusing (instead of waiting on) anything but a
/// regular file: a FIFO left where a segment should be would otherwise
/// block the opening thread until something writes to it.
pub(crate) fn open_regular(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    // O_NONBLOCK changes nothing for a regular file: it stays.
    Ok(file)
}
