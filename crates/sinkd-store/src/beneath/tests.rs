//! Unit tests: links anywhere below `data_dir` are refused, with both ways
//! of resolving.

use super::*;
use std::os::unix::fs::symlink;

fn both_ways(root: &Path) -> [Beneath; 2] {
    let with_openat2 = Beneath::new(root).unwrap();
    let by_components = Beneath::new(root).unwrap();
    by_components.openat2.store(false, Ordering::Relaxed);
    [with_openat2, by_components]
}

/// A data directory, and a directory outside it holding a file `victim`
/// that links below the data directory must never reach.
fn data_dir_and_outside() -> (tempfile::TempDir, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("victim"), b"keep me\n").unwrap();
    (dir, outside)
}

#[test]
fn plain_paths_open_and_create() {
    let dir = tempfile::tempdir().unwrap();
    for (n, beneath) in both_ways(dir.path()).iter().enumerate() {
        let stream = dir.path().join(format!("sw{n}/messages"));
        assert!(beneath.create_dir_all(&stream).unwrap());
        assert!(!beneath.create_dir_all(&stream).unwrap());
        let log = stream.join("1.log");
        let mut file = beneath.open(&log, How::CreateNew).unwrap();
        std::io::Write::write_all(&mut file, b"line\n").unwrap();
        assert!(beneath.open(&log, How::CreateNew).is_err());
        beneath.open(&log, How::Append).unwrap();
        beneath.open(&log, How::Read).unwrap();
        beneath.rename(&log, &stream.join("2.log")).unwrap();
        beneath.remove_if_exists(&stream.join("2.log")).unwrap();
        assert!(!stream.join("2.log").exists());
        beneath.remove_if_exists(&stream.join("2.log")).unwrap();
    }
}

#[test]
fn links_anywhere_below_are_refused() {
    let (dir, outside) = data_dir_and_outside();
    let root = dir.path();
    // A device directory, a stream directory and a segment that are links.
    symlink(outside.path(), root.join("evil")).unwrap();
    std::fs::create_dir(root.join("sw1")).unwrap();
    symlink(outside.path(), root.join("sw1/messages")).unwrap();
    std::fs::create_dir_all(root.join("sw2/messages")).unwrap();
    symlink(
        outside.path().join("victim"),
        root.join("sw2/messages/1.log"),
    )
    .unwrap();
    for beneath in both_ways(root) {
        for dir in ["evil/messages", "sw1/messages", "evil"] {
            let error = beneath.create_dir_all(&root.join(dir)).unwrap_err();
            assert_eq!(
                error.kind(),
                io::ErrorKind::PermissionDenied,
                "{dir}: {error}"
            );
            assert!(error.to_string().contains("symbolic link"), "{error}");
        }
        for (file, how) in [
            ("evil/messages/1.log", How::CreateNew),
            ("sw1/messages/1.log", How::Truncate),
            ("sw2/messages/1.log", How::Append),
            ("sw2/messages/1.log", How::ReadWrite),
            ("sw2/messages/1.log", How::Read),
        ] {
            let error = beneath.open(&root.join(file), how).unwrap_err();
            assert_eq!(
                error.kind(),
                io::ErrorKind::PermissionDenied,
                "{file}: {error}"
            );
        }
    }
    assert_eq!(
        std::fs::read(outside.path().join("victim")).unwrap(),
        b"keep me\n"
    );
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
}

#[test]
fn names_that_climb_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let beneath = Beneath::new(dir.path()).unwrap();
    for path in [
        dir.path().join("../x"),
        dir.path().join("a/../../x"),
        PathBuf::from("/etc/x"),
    ] {
        assert!(beneath.open(&path, How::Truncate).is_err(), "{path:?}");
        assert!(beneath.create_dir_all(&path).is_err(), "{path:?}");
    }
    assert!(beneath.open(dir.path(), How::Read).is_err());
}

#[test]
fn a_fifo_in_a_segment_place_is_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("sw/messages");
    std::fs::create_dir_all(&stream).unwrap();
    let fifo = stream.join("1.log");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    for beneath in both_ways(dir.path()) {
        // Writing to a FIFO nobody reads fails at once (ENXIO); the others
        // open without waiting and are refused as not regular files.
        assert!(beneath.open(&fifo, How::Append).is_err());
        for how in [How::ReadWrite, How::Read] {
            let error = beneath.open(&fifo, how).unwrap_err();
            assert!(error.to_string().contains("not a regular file"), "{error}");
        }
    }
}

#[test]
fn relative_paths_open_as_full_ones_do_and_refuse_the_same() {
    let (dir, outside) = data_dir_and_outside();
    let root = dir.path();
    std::fs::create_dir_all(root.join("sw1/messages")).unwrap();
    symlink(outside.path(), root.join("evil")).unwrap();
    symlink(
        outside.path().join("victim"),
        root.join("sw1/messages/2.log"),
    )
    .unwrap();
    std::fs::create_dir(root.join("sw1/messages/3.log")).unwrap();
    for beneath in both_ways(root) {
        let log = Path::new("sw1/messages/1.log");
        let mut file = beneath.open_relative(log, How::CreateNew).unwrap();
        std::io::Write::write_all(&mut file, b"line\n").unwrap();
        let mut file = beneath.open_relative(log, How::Append).unwrap();
        std::io::Write::write_all(&mut file, b"more\n").unwrap();
        assert_eq!(
            std::fs::read(root.join(log)).unwrap(),
            b"line\nmore\n".to_vec()
        );
        std::fs::remove_file(root.join(log)).unwrap();
        for (path, how) in [
            ("sw1/messages/2.log", How::Append),
            ("evil/victim", How::Append),
            ("evil/new.log", How::CreateNew),
            ("sw1/../evil/victim", How::Append),
        ] {
            let error = beneath.open_relative(Path::new(path), how).unwrap_err();
            assert_eq!(
                error.kind(),
                io::ErrorKind::PermissionDenied,
                "{path}: {error}"
            );
            assert!(
                error.to_string().contains(path.rsplit('/').next().unwrap()),
                "{error}"
            );
        }
        // Not a regular file, and a path that leaves the root.
        assert!(beneath
            .open_relative(Path::new("sw1/messages/3.log"), How::Read)
            .is_err());
        assert!(beneath
            .open_relative(&outside.path().join("victim"), How::Append)
            .is_err());
    }
    assert_eq!(
        std::fs::read(outside.path().join("victim")).unwrap(),
        b"keep me\n".to_vec()
    );
    assert!(!outside.path().join("new.log").exists());
}
