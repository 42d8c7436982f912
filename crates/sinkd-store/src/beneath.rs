//! Opening and creating paths under `data_dir` without ever leaving it.
//!
//! Every path the store writes is `data_dir` joined with names it made
//! itself (sanitised device keys, segment numbers), so the only way out is
//! what is already in the directory: a symbolic link where a device
//! directory, a stream directory or a segment file should be (`data_dir/sw1
//! -> /etc`). The store therefore never lets the kernel follow a link below
//! `data_dir`: paths are resolved from a descriptor of `data_dir` with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, or, on kernels without
//! it, one component at a time with `O_NOFOLLOW`. A link anywhere on the
//! way fails with [`escape`]'s error and nothing is created or written
//! there. `data_dir` itself may be a link (it is opened as configured).

use rustix::fs::{Mode, OFlags, ResolveFlags, CWD};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// How a file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// Read only.
    Read,
    /// Read and write, existing only (recovery cuts a torn tail).
    ReadWrite,
    /// Append, existing only.
    Append,
    /// Append to a new file; an existing one is an error.
    CreateNew,
    /// Write, created or emptied.
    Truncate,
}

/// `data_dir`, held open, and the way paths below it are resolved.
#[derive(Debug)]
pub struct Beneath {
    root: OwnedFd,
    root_path: PathBuf,
    /// Cleared the first time the kernel says it has no `openat2`.
    openat2: AtomicBool,
}

/// The error for a path that leads through a symbolic link.
pub fn escape(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "{} leads through a symbolic link; sinkd writes nothing outside data_dir and follows no link inside it",
            path.display()
        ),
    )
}

impl Beneath {
    /// Opens `data_dir` (which must exist).
    pub fn new(data_dir: &Path) -> io::Result<Beneath> {
        let root = rustix::fs::open(
            data_dir,
            OFlags::DIRECTORY | OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Beneath {
            root,
            root_path: data_dir.to_owned(),
            openat2: AtomicBool::new(true),
        })
    }

    /// `path` relative to `data_dir`: only plain names, at least one.
    fn relative<'p>(&self, path: &'p Path) -> io::Result<Vec<&'p OsStr>> {
        let rest = path.strip_prefix(&self.root_path).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is not under {}",
                    path.display(),
                    self.root_path.display()
                ),
            )
        })?;
        let mut names = Vec::new();
        for component in rest.components() {
            match component {
                Component::Normal(name) => names.push(name),
                Component::CurDir => {}
                _ => return Err(escape(path)),
            }
        }
        if names.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} names data_dir itself", path.display()),
            ));
        }
        Ok(names)
    }

    /// Opens the file at `path` (under `data_dir`) as `how` says.
    pub fn open(&self, path: &Path, how: How) -> io::Result<File> {
        let names = self.relative(path)?;
        let (flags, mode) = open_flags(how);
        let fd = self
            .resolve(&names, flags, mode)
            .map_err(|errno| judge(path, errno))?;
        regular_file(fd, || path.to_owned())
    }

    /// [`Beneath::open`] for a path given relative to `data_dir`, as the
    /// writers build it for every segment file they reopen: with
    /// `openat2` it goes to the kernel as it is (which keeps it beneath
    /// `data_dir` and refuses links), so the path is not taken apart or
    /// copied; the full path is made only for an error, or for the walk
    /// on kernels without `openat2`.
    pub fn open_relative(&self, relative: &Path, how: How) -> io::Result<File> {
        use std::os::unix::ffi::OsStrExt;
        let (flags, mode) = open_flags(how);
        let full = || self.root_path.join(relative);
        if self.openat2.load(Ordering::Relaxed) && !relative.is_absolute() {
            match rustix::fs::openat2(&self.root, relative, flags, mode, BENEATH) {
                Ok(fd) => return regular_file(fd, full),
                Err(Errno::NOSYS | Errno::PERM) => self.openat2.store(false, Ordering::Relaxed),
                Err(errno) => return Err(judge(&full(), errno)),
            }
        }
        // The walk, on kernels without openat2: only plain names pass;
        // anything else is left to `open`, which says what is wrong.
        let bytes = relative.as_os_str().as_bytes();
        let names: Vec<&OsStr> = bytes
            .split(|&byte| byte == b'/')
            .map(OsStr::from_bytes)
            .collect();
        let plain = names
            .iter()
            .all(|name| !name.is_empty() && *name != "." && *name != "..");
        if !plain {
            return self.open(&full(), how);
        }
        match self.resolve(&names, flags, mode) {
            Ok(fd) => regular_file(fd, full),
            Err(errno) => Err(judge(&full(), errno)),
        }
    }

    /// Opens the directory at `path` (under `data_dir`, or `data_dir`
    /// itself) for `*at` calls.
    fn open_dir(&self, path: &Path) -> io::Result<OwnedFd> {
        if path == self.root_path {
            return Ok(rustix::io::fcntl_dupfd_cloexec(&self.root, 0)?);
        }
        let names = self.relative(path)?;
        self.resolve(
            &names,
            OFlags::DIRECTORY | OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|errno| judge(path, errno))
    }

    /// Resolves `names` (plain names, at least one) from the root without
    /// following any link.
    fn resolve(&self, names: &[&OsStr], flags: OFlags, mode: Mode) -> Result<OwnedFd, Errno> {
        if self.openat2.load(Ordering::Relaxed) {
            let relative: PathBuf = names.iter().collect();
            match rustix::fs::openat2(&self.root, &relative, flags, mode, BENEATH) {
                Ok(fd) => return Ok(fd),
                // No openat2 (an old kernel), or a seccomp filter that
                // refuses it: the per-component walk below does the same.
                Err(Errno::NOSYS | Errno::PERM) => self.openat2.store(false, Ordering::Relaxed),
                Err(errno) => return Err(errno),
            }
        }
        let (last, parents) = names.split_last().expect("at least one name");
        let mut dir: Option<OwnedFd> = None;
        for name in parents {
            let at = dir.as_ref().map_or(self.root.as_fd(), AsFd::as_fd);
            let next = rustix::fs::openat(
                at,
                *name,
                OFlags::DIRECTORY | OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            dir = Some(next);
        }
        let at = dir.as_ref().map_or(self.root.as_fd(), AsFd::as_fd);
        rustix::fs::openat(at, *last, flags | OFlags::NOFOLLOW, mode)
    }

    /// Creates the directory `dir` (under `data_dir`) and any missing
    /// parents, one at a time, refusing links. `true` when `dir` itself was
    /// created by this call (so it is empty).
    pub fn create_dir_all(&self, dir: &Path) -> io::Result<bool> {
        let names = self.relative(dir)?;
        let mut at: OwnedFd = rustix::io::fcntl_dupfd_cloexec(&self.root, 0)?;
        let mut created = false;
        for name in names {
            created = match rustix::fs::mkdirat(&at, name, Mode::from_raw_mode(0o777)) {
                Ok(()) => true,
                Err(Errno::EXIST) => false,
                Err(errno) => return Err(judge(dir, errno)),
            };
            at = rustix::fs::openat(
                &at,
                name,
                OFlags::DIRECTORY | OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|errno| judge(dir, errno))?;
        }
        Ok(created)
    }

    /// Renames `from` to `to`, both in the same directory under `data_dir`.
    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (Some(parent), Some(from_name), Some(to_name)) =
            (from.parent(), from.file_name(), to.file_name())
        else {
            return Err(escape(from));
        };
        if to.parent() != Some(parent) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "rename across directories",
            ));
        }
        let dir = self.open_dir(parent)?;
        rustix::fs::renameat(&dir, from_name, &dir, to_name).map_err(|errno| judge(from, errno))
    }

    /// Removes the file `path` under `data_dir` (a link there is removed
    /// itself, never followed); one already gone is no error.
    pub fn remove_if_exists(&self, path: &Path) -> io::Result<()> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(escape(path));
        };
        let dir = match self.open_dir(parent) {
            Ok(dir) => dir,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        match rustix::fs::unlinkat(&dir, name, rustix::fs::AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(errno) => Err(judge(path, errno)),
        }
    }
}

/// How `openat2` resolves every path: below the root, through no link.
const BENEATH: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

/// The flags and mode that open a file as `how` says. Non-blocking for the
/// open itself, so a FIFO left in a segment's place cannot hang the
/// thread; then only regular files pass ([`regular_file`]), on which the
/// flag changes nothing (their reads and writes never wait), so it stays.
fn open_flags(how: How) -> (OFlags, Mode) {
    let flags = OFlags::CLOEXEC
        | OFlags::NONBLOCK
        | match how {
            How::Read => OFlags::RDONLY,
            How::ReadWrite => OFlags::RDWR,
            How::Append => OFlags::WRONLY | OFlags::APPEND,
            How::CreateNew => OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::EXCL,
            How::Truncate => OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC,
        };
    // openat2 refuses a mode without O_CREAT.
    let mode = if flags.contains(OFlags::CREATE) {
        Mode::from_raw_mode(0o666)
    } else {
        Mode::empty()
    };
    (flags, mode)
}

/// `fd` as a file if it is a regular one; `path` names it in the error.
fn regular_file(fd: OwnedFd, path: impl FnOnce() -> PathBuf) -> io::Result<File> {
    let stat = rustix::fs::fstat(&fd)?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path().display()),
        ));
    }
    Ok(File::from(fd))
}

/// The error for `errno` on `path`: a link met on the way (`ELOOP`, or
/// `EXDEV` for a path climbing out) reads as [`escape`]; a link where a
/// directory should be gives `ENOTDIR` under `O_NOFOLLOW|O_DIRECTORY`.
fn judge(path: &Path, errno: Errno) -> io::Error {
    match errno {
        Errno::LOOP | Errno::XDEV => escape(path),
        Errno::NOTDIR if is_link_on_the_way(path) => escape(path),
        other => io::Error::from(other),
    }
}

/// Whether a component of `path` is a symbolic link (for the message only).
fn is_link_on_the_way(path: &Path) -> bool {
    path.ancestors().any(|ancestor| {
        rustix::fs::statat(CWD, ancestor, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|stat| {
            rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::Symlink
        })
    })
}

#[cfg(test)]
mod tests;
