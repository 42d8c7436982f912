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
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Group, Uid, User};
use sinkd_config::RunAs;
use std::ffi::{CStr, CString};
use std::os::fd::OwnedFd;
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
        let (euid, egid) = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
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
        refuse_system_directory(data_dir)?;
        walk.top(data_dir)
            .with_context(|| format!("cannot hand {} to {}", data_dir.display(), self.name))?;
        self.drop_root()?;
        // The directories above data_dir are the operator's: say now, not
        // at the first write, if they keep the user out.
        nix::unistd::access(
            data_dir,
            nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
        )
        .map_err(std::io::Error::from)
        .with_context(|| {
            format!(
                "{} cannot write in data_dir {} (check the directories above it)",
                self.name,
                data_dir.display()
            )
        })?;
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
        let failed = |call: &str, errno: Errno| {
            anyhow::Error::new(std::io::Error::from(errno))
                .context(format!("{call} while switching to {}", self.name))
        };
        // nix calls glibc's wrappers, which apply each change to every
        // thread of the process.
        nix::unistd::setgroups(&[]).map_err(|errno| failed("setgroups([])", errno))?;
        nix::unistd::setgid(Gid::from_raw(self.gid)).map_err(|errno| failed("setgid", errno))?;
        nix::unistd::setuid(Uid::from_raw(self.uid)).map_err(|errno| failed("setuid", errno))?;
        if self.uid != 0
            && (nix::unistd::setuid(Uid::from_raw(0)).is_ok()
                || nix::unistd::seteuid(Uid::from_raw(0)).is_ok())
        {
            bail!("switched to {}, but could become root again", self.name);
        }
        Ok(())
    }
}

/// Directories whose whole tree must never be handed to a user, however
/// `data_dir` was mistyped.
const SYSTEM_DIRECTORIES: [&str; 18] = [
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc", "/root",
    "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var",
];

/// Refuses a `data_dir` that is (or resolves to) a system directory.
fn refuse_system_directory(data_dir: &Path) -> anyhow::Result<()> {
    let resolved = data_dir
        .canonicalize()
        .with_context(|| format!("data_dir {}", data_dir.display()))?;
    if SYSTEM_DIRECTORIES
        .iter()
        .any(|system| resolved == Path::new(system))
    {
        bail!(
            "data_dir {} is the system directory {}; sinkd hands data_dir to its user, so it must be a directory of its own (such as /var/lib/sinkd)",
            data_dir.display(),
            resolved.display()
        );
    }
    Ok(())
}

/// The uid and primary gid of `name`.
fn lookup_user(name: &str) -> anyhow::Result<(libc::uid_t, libc::gid_t)> {
    match User::from_name(name).with_context(|| format!("cannot look up user {name:?}"))? {
        Some(user) => Ok((user.uid.as_raw(), user.gid.as_raw())),
        None => bail!("user {name:?} does not exist on this system (see `getent passwd {name}`)"),
    }
}

/// The gid of group `name`.
fn lookup_group(name: &str) -> anyhow::Result<libc::gid_t> {
    match Group::from_name(name).with_context(|| format!("cannot look up group {name:?}"))? {
        Some(group) => Ok(group.gid.as_raw()),
        None => bail!("group {name:?} does not exist on this system (see `getent group {name}`)"),
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
        let dir = nix::fcntl::open(
            data_dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        self.directory(dir)
    }

    /// Gives the open directory `dir` and everything below it away.
    fn directory(&mut self, dir: OwnedFd) -> std::io::Result<()> {
        self.chown(&dir)?;
        for name in entry_names(&dir)? {
            self.entry(&dir, &name)?;
        }
        Ok(())
    }

    fn entry(&mut self, parent: &OwnedFd, name: &CStr) -> std::io::Result<()> {
        // A real directory opens with O_DIRECTORY|O_NOFOLLOW; a link or
        // anything else fails to, and is looked at without being opened.
        match open_at(parent, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
            Ok(child) => return self.directory(child),
            Err(Errno::ENOTDIR | Errno::ELOOP) => {}
            // Removed since it was listed (the store deletes old segments).
            Err(Errno::ENOENT) => return Ok(()),
            Err(errno) => return Err(errno.into()),
        }
        let handle = match open_at(parent, name, OFlag::O_PATH) {
            Ok(handle) => handle,
            Err(Errno::ENOENT) => return Ok(()),
            Err(errno) => return Err(errno.into()),
        };
        let status = nix::sys::stat::fstat(&handle)?;
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
        let status = nix::sys::stat::fstat(fd)?;
        if status.st_uid == self.uid && status.st_gid == self.gid {
            return Ok(());
        }
        // An empty path with AT_EMPTY_PATH changes exactly the inode the
        // descriptor refers to.
        nix::unistd::fchownat(
            fd,
            c"",
            Some(Uid::from_raw(self.uid)),
            Some(Gid::from_raw(self.gid)),
            AtFlags::AT_EMPTY_PATH | AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
        self.changed += 1;
        Ok(())
    }
}

/// `openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC)`.
fn open_at(dir: &OwnedFd, name: &CStr, flags: OFlag) -> Result<OwnedFd, Errno> {
    nix::fcntl::openat(
        dir,
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// The names in the open directory `dir`, without `.` and `..`, read
/// through a duplicate of its descriptor (so `dir` stays usable for the
/// `*at` calls on them).
fn entry_names(dir: &OwnedFd) -> std::io::Result<Vec<CString>> {
    let mut stream = Dir::from_fd(dir.try_clone()?)?;
    let mut names = Vec::new();
    for entry in stream.iter() {
        let name = entry?.file_name().to_owned();
        if name.as_c_str() != c"." && name.as_c_str() != c".." {
            names.push(name);
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_system_directory_is_never_handed_over() {
        for system in ["/", "/var", "/etc/", "/usr/../var"] {
            let error = refuse_system_directory(Path::new(system)).unwrap_err();
            assert!(
                format!("{error:#}").contains("system directory"),
                "{error:#}"
            );
        }
        let own = tempfile::tempdir().unwrap();
        refuse_system_directory(own.path()).unwrap();
    }

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
        let (uid, gid) = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        let name = User::from_uid(Uid::from_raw(uid)).unwrap().unwrap().name;
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

    #[test]
    fn the_walk_skips_links_and_stays_inside() {
        let (uid, gid) = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
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
