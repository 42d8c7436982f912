//! Running as an unprivileged user after a root start (the `user` and
//! `group` settings, `--user`), the way rsyslog's `$PrivDropToUser` does.
//!
//! Started as root with a user set, `mod.rs` opens the store and binds
//! every listener as root, then calls [`Switch::apply`] before any
//! listener starts reading: everything below `data_dir` is handed to the
//! user (so the files stay theirs across restarts, including those the
//! root-run store just created), then the supplementary groups are
//! cleared and the group and user set, in that order. glibc applies each
//! of these calls to every thread of the process, so the worker, store and
//! runtime threads started earlier switch too. A process that could become
//! root again afterwards refuses to run.
//!
//! Started as someone else (systemd's `User=`), a user setting must name
//! that identity: sinkd cannot switch, and says so rather than run as the
//! wrong user.
//!
//! The walk of `data_dir` works on directory descriptors and never follows
//! a symbolic link, so an entry swapped for a link while it runs cannot
//! hand a file outside `data_dir` to the user; a regular file with several
//! links (possibly a hard link to something outside) is left alone and
//! reported.

use anyhow::{bail, Context as _};
use sinkd_config::RunAs;
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::path::Path;

/// The identity to run as, resolved from the system's user database.
#[derive(Debug)]
pub(crate) struct Switch {
    name: String,
    uid: libc::uid_t,
    gid: libc::gid_t,
}

impl Switch {
    /// Resolves `run_as` and decides what to do: `None` when nothing
    /// changes (no user set, or the process already runs as it). Unknown
    /// names, and a non-root process asked to become someone else, are
    /// errors.
    pub(crate) fn plan(run_as: Option<&RunAs>) -> anyhow::Result<Option<Switch>> {
        let Some(run_as) = run_as else {
            return Ok(None);
        };
        let (uid, primary_gid) = lookup_user(&run_as.user)?;
        let gid = match &run_as.group {
            Some(group) => lookup_group(group)?,
            None => primary_gid,
        };
        let name = match &run_as.group {
            Some(group) => format!("{}:{group}", run_as.user),
            None => run_as.user.clone(),
        };
        // SAFETY: these calls only read the process's credentials.
        let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if euid == uid && egid == gid {
            return Ok(None);
        }
        if euid != 0 {
            bail!(
                "sinkd runs as uid {euid} gid {egid}, not as root, so it cannot switch to {name} \
                 (uid {uid} gid {gid}); start it as root or as that user"
            );
        }
        Ok(Some(Switch { name, uid, gid }))
    }

    /// Hands `data_dir` to the user, then becomes that user for good.
    pub(crate) fn apply(&self, data_dir: &Path) -> anyhow::Result<()> {
        let mut walk = Walk {
            uid: self.uid,
            gid: self.gid,
            changed: 0,
        };
        walk.top(data_dir)
            .with_context(|| format!("cannot hand {} to {}", data_dir.display(), self.name))?;
        self.drop_root()?;
        tracing::info!(
            user = %self.name,
            uid = self.uid,
            gid = self.gid,
            chowned = walk.changed,
            "switched to the configured user"
        );
        Ok(())
    }

    fn drop_root(&self) -> anyhow::Result<()> {
        let os_error = |call: &str| {
            anyhow::Error::new(std::io::Error::last_os_error())
                .context(format!("{call} while switching to {}", self.name))
        };
        // SAFETY: credential calls with plain integer arguments; glibc
        // applies them to every thread.
        unsafe {
            if libc::setgroups(0, std::ptr::null()) != 0 {
                return Err(os_error("setgroups([])"));
            }
            if libc::setgid(self.gid) != 0 {
                return Err(os_error("setgid"));
            }
            if libc::setuid(self.uid) != 0 {
                return Err(os_error("setuid"));
            }
            if self.uid != 0 && (libc::setuid(0) == 0 || libc::seteuid(0) == 0) {
                bail!("switched to {}, but could become root again", self.name);
            }
        }
        Ok(())
    }
}

/// The uid and primary gid of `name`.
fn lookup_user(name: &str) -> anyhow::Result<(libc::uid_t, libc::gid_t)> {
    let c_name = CString::new(name).with_context(|| format!("user {name:?}"))?;
    // SAFETY: passwd is plain data, valid when zeroed.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    // SAFETY: getpwnam_r fills `entry`, points its strings into `buffer`
    // and writes at most `buffer.len()` bytes; only the integers are read.
    let found = lookup(|buffer, result| unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            result as *mut *mut libc::passwd,
        )
    })
    .with_context(|| format!("cannot look up user {name:?}"))?;
    if !found {
        bail!("user {name:?} does not exist on this system (see `getent passwd {name}`)");
    }
    Ok((entry.pw_uid, entry.pw_gid))
}

/// The gid of group `name`.
fn lookup_group(name: &str) -> anyhow::Result<libc::gid_t> {
    let c_name = CString::new(name).with_context(|| format!("group {name:?}"))?;
    // SAFETY: group is plain data, valid when zeroed.
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    // SAFETY: as in lookup_user, with getgrnam_r and struct group.
    let found = lookup(|buffer, result| unsafe {
        libc::getgrnam_r(
            c_name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            result as *mut *mut libc::group,
        )
    })
    .with_context(|| format!("cannot look up group {name:?}"))?;
    if !found {
        bail!("group {name:?} does not exist on this system (see `getent group {name}`)");
    }
    Ok(entry.gr_gid)
}

/// Runs a `get*nam_r` call with a buffer that grows while it is too small;
/// whether an entry was found.
fn lookup(
    mut call: impl FnMut(&mut Vec<libc::c_char>, *mut *mut libc::c_void) -> libc::c_int,
) -> std::io::Result<bool> {
    let mut buffer: Vec<libc::c_char> = vec![0; 1024];
    loop {
        let mut result: *mut libc::c_void = std::ptr::null_mut();
        match call(&mut buffer, &mut result) {
            0 => return Ok(!result.is_null()),
            libc::ERANGE if buffer.len() < 1 << 20 => buffer.resize(buffer.len() * 4, 0),
            error => return Err(std::io::Error::from_raw_os_error(error)),
        }
    }
}

/// One pass over `data_dir`, giving every entry to `uid:gid`.
struct Walk {
    uid: libc::uid_t,
    gid: libc::gid_t,
    changed: u64,
}

impl Walk {
    /// `data_dir` itself may be reached through links the operator made
    /// (it is their path); nothing below it is.
    fn top(&mut self, data_dir: &Path) -> std::io::Result<()> {
        let c_path = CString::new(data_dir.as_os_str().as_encoded_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        // SAFETY: open with a valid C string; the descriptor is owned below.
        let fd = unsafe {
            libc::open(
                c_path.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and nothing else owns it.
        self.directory(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Gives the open directory `dir` and everything below it away.
    fn directory(&mut self, dir: OwnedFd) -> std::io::Result<()> {
        self.chown(&dir)?;
        let entries = Entries::open(dir)?;
        while let Some(name) = entries.next()? {
            self.entry(&entries, &name)?;
        }
        Ok(())
    }

    fn entry(&mut self, parent: &Entries, name: &CStr) -> std::io::Result<()> {
        // A real directory opens with O_DIRECTORY|O_NOFOLLOW; a link or
        // anything else fails to, and is looked at without being opened.
        match open_at(parent.fd(), name, libc::O_RDONLY | libc::O_DIRECTORY) {
            Ok(child) => return self.directory(child),
            Err(error) if matches!(error.raw_os_error(), Some(libc::ENOTDIR | libc::ELOOP)) => {}
            Err(error) => return Err(error),
        }
        let handle = open_at(parent.fd(), name, libc::O_PATH)?;
        let status = fstat(&handle)?;
        match status.st_mode & libc::S_IFMT {
            libc::S_IFLNK => Ok(()),
            libc::S_IFREG if status.st_nlink > 1 => {
                tracing::warn!(
                    file = %name.to_string_lossy(),
                    links = status.st_nlink,
                    "a file under data_dir has several hard links; its owner is left as it is"
                );
                Ok(())
            }
            _ => self.chown(&handle),
        }
    }

    /// Changes the owner of what `fd` refers to (a directory, or an
    /// `O_PATH` handle) unless it is already right.
    fn chown(&mut self, fd: &OwnedFd) -> std::io::Result<()> {
        let status = fstat(fd)?;
        if status.st_uid == self.uid && status.st_gid == self.gid {
            return Ok(());
        }
        // SAFETY: fchownat on an open descriptor with an empty path changes
        // exactly the inode the descriptor refers to.
        let result = unsafe {
            libc::fchownat(
                fd.as_raw_fd(),
                c"".as_ptr(),
                self.uid,
                self.gid,
                libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if result != 0 {
            return Err(std::io::Error::last_os_error());
        }
        self.changed += 1;
        Ok(())
    }
}

/// `openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC)`.
fn open_at(dir: libc::c_int, name: &CStr, flags: libc::c_int) -> std::io::Result<OwnedFd> {
    // SAFETY: openat with a valid directory descriptor and C string.
    let fd = unsafe {
        libc::openat(
            dir,
            name.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn fstat(fd: &OwnedFd) -> std::io::Result<libc::stat> {
    // SAFETY: stat is plain data, valid when zeroed.
    let mut status: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat fills the struct passed in.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut status) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(status)
}

/// The entries of an open directory (`fdopendir`/`readdir`), without `.`
/// and `..`.
struct Entries {
    stream: *mut libc::DIR,
}

impl Entries {
    fn open(dir: OwnedFd) -> std::io::Result<Entries> {
        use std::os::fd::IntoRawFd as _;
        let fd = dir.into_raw_fd();
        // SAFETY: fdopendir takes over `fd` on success; on failure it is
        // still ours and is closed here.
        let stream = unsafe { libc::fdopendir(fd) };
        if stream.is_null() {
            let error = std::io::Error::last_os_error();
            // SAFETY: `fd` is still ours after a failed fdopendir.
            unsafe { libc::close(fd) };
            return Err(error);
        }
        Ok(Entries { stream })
    }

    fn fd(&self) -> libc::c_int {
        // SAFETY: the stream is open until drop.
        unsafe { libc::dirfd(self.stream) }
    }

    fn next(&self) -> std::io::Result<Option<CString>> {
        loop {
            // SAFETY: readdir on an open stream; errno is cleared first so
            // that the end of the directory tells apart from an error. The
            // entry's name is copied out before the next call.
            unsafe {
                *libc::__errno_location() = 0;
                let entry = libc::readdir(self.stream);
                if entry.is_null() {
                    return match *libc::__errno_location() {
                        0 => Ok(None),
                        errno => Err(std::io::Error::from_raw_os_error(errno)),
                    };
                }
                let name = CStr::from_ptr((*entry).d_name.as_ptr());
                if name != c"." && name != c".." {
                    return Ok(Some(name.to_owned()));
                }
            }
        }
    }
}

impl Drop for Entries {
    fn drop(&mut self) {
        // SAFETY: the stream was opened by fdopendir and is closed once.
        unsafe { libc::closedir(self.stream) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_named_in_the_error() {
        let error = Switch::plan(Some(&RunAs {
            user: "no-such-sinkd-user".into(),
            group: None,
        }))
        .unwrap_err();
        assert!(
            format!("{error:#}").contains("user \"no-such-sinkd-user\" does not exist"),
            "{error:#}"
        );
        let error = Switch::plan(Some(&RunAs {
            user: "root".into(),
            group: Some("no-such-sinkd-group".into()),
        }))
        .unwrap_err();
        assert!(
            format!("{error:#}").contains("group \"no-such-sinkd-group\" does not exist"),
            "{error:#}"
        );
    }

    #[test]
    fn running_as_the_configured_user_already_needs_no_switch() {
        // SAFETY: reads the process's own credentials.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let name = passwd_name(uid);
        let (_, primary) = lookup_user(&name).unwrap();
        if primary == gid {
            let plan = Switch::plan(Some(&RunAs {
                user: name,
                group: None,
            }));
            assert!(plan.unwrap().is_none());
        }
        assert!(Switch::plan(None).unwrap().is_none());
    }

    fn passwd_name(uid: libc::uid_t) -> String {
        // SAFETY: getpwuid returns a pointer into static storage, read at
        // once (tests here run no other passwd lookup on this thread).
        unsafe {
            let entry = libc::getpwuid(uid);
            assert!(!entry.is_null(), "uid {uid} has a passwd entry");
            CStr::from_ptr((*entry).pw_name)
                .to_string_lossy()
                .into_owned()
        }
    }

    #[test]
    fn the_walk_skips_links_and_stays_inside() {
        // SAFETY: reads the process's own credentials.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let outside = tempfile::tempdir().unwrap();
        let data_dir = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "x").unwrap();
        std::fs::create_dir_all(data_dir.path().join("host/stream")).unwrap();
        std::fs::write(data_dir.path().join("host/stream/0001.log"), "line\n").unwrap();
        std::os::unix::fs::symlink(outside.path(), data_dir.path().join("escape")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret"),
            data_dir.path().join("host/secret"),
        )
        .unwrap();
        // As root, hand the tree to nobody; otherwise to ourselves (a
        // walk that changes nothing, but still must not fail on the links).
        let (to_uid, to_gid) = if uid == 0 { (65534, 65534) } else { (uid, gid) };
        let mut walk = Walk {
            uid: to_uid,
            gid: to_gid,
            changed: 0,
        };
        walk.top(data_dir.path()).unwrap();
        use std::os::unix::fs::MetadataExt as _;
        for inside in ["", "host", "host/stream", "host/stream/0001.log"] {
            let meta = std::fs::symlink_metadata(data_dir.path().join(inside)).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (to_uid, to_gid), "{inside}");
        }
        for outside in [outside.path().to_path_buf(), outside.path().join("secret")] {
            let meta = std::fs::metadata(&outside).unwrap();
            assert_eq!(
                (meta.uid(), meta.gid()),
                (uid, gid),
                "{}",
                outside.display()
            );
        }
        assert_eq!(walk.changed, if uid == 0 { 4 } else { 0 });
    }
}
