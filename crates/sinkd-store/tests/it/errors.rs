//! Write errors: counted, logged, never a panic, and the store keeps
//! serving the other streams. Lack of space instead pauses the writers,
//! which hold their lines and resume without loss.

use crate::support::*;
use sinkd_store::{AppendBatch, MinFree, PauseReason, SpaceProbe, StreamReader, TrySubmitError};
use std::fs;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn a_file_where_a_directory_should_be_drops_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("blocked"), b"not a directory").unwrap();
    let store = open(dir.path());
    write_lines(&store, "blocked/messages", "lost", 0..5);
    write_lines(&store, "fine/messages", "kept", 0..5);
    store.sync().unwrap();
    let stats = store.stats().snapshot();
    assert_eq!(stats.lines_dropped, 5);
    assert!(stats.write_errors >= 1);
    assert_eq!(
        read_all(dir.path(), "fine/messages"),
        expected("kept", 1..6, 0)
    );

    // Once the obstacle is gone, the stream recovers after its pause.
    fs::remove_file(dir.path().join("blocked")).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    write_lines(&store, "blocked/messages", "back", 0..2);
    store.shutdown().unwrap();
    assert_eq!(
        read_all(dir.path(), "blocked/messages"),
        expected("back", 1..3, 0)
    );
}

/// A 1 MiB tmpfs mounted on a temporary directory, nearly filled by a
/// filler file; unmounted on drop. `None` (the test is skipped) when not
/// root, except under CI, which runs the suite as root.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Option<SmallDisk> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                std::env::var_os("CI").is_none(),
                "a tmpfs needs root, and CI runs the suite as root"
            );
            eprintln!("SKIPPED: mounting a tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "mount a tmpfs");
        Some(SmallDisk { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Fills what is left with a filler file.
    fn fill(&self) {
        let mut filler = fs::File::create(self.path().join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while std::io::Write::write_all(&mut filler, &block).is_ok() {}
    }

    fn free_up(&self) {
        fs::remove_file(self.path().join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_full_disk_pauses_the_writer_which_holds_its_lines_until_space_returns() {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    let store = open_with(disk.path(), |config| {
        config.writer_threads = 1;
        // The real disk is full; no floor on top of it.
        config.min_free = MinFree::bytes(0);
    });
    disk.fill();
    write_lines(&store, "full/messages", "held", 0..7);
    write_lines(&store, "other", "queued", 0..2);
    let health = store.health();
    assert!(eventually(|| health.is_paused()));
    let reason = health.pause_reason().expect("a reason").to_string();
    assert!(reason.contains("No space left"), "{reason}");
    // Nothing was dropped; the writer waits.
    let stats = store.stats().snapshot();
    assert_eq!(stats.lines_dropped, 0);

    disk.free_up();
    assert!(eventually(|| !health.is_paused()));
    store.sync().unwrap();
    assert_eq!(
        read_all(disk.path(), "full/messages"),
        expected("held", 1..8, 0)
    );
    assert_eq!(read_all(disk.path(), "other"), expected("queued", 1..3, 0));
    let stats = store.stats().snapshot();
    assert_eq!((stats.lines_dropped, stats.lines_written), (0, 9));
    assert!(health.pauses() >= 1);
    store.shutdown().unwrap();
}

#[test]
fn without_pause_when_full_a_full_disk_drops_and_counts_without_stopping() {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    let store = open_with(disk.path(), |config| {
        config.pause_when_full = false;
        config.min_free = MinFree::bytes(0);
    });
    disk.fill();
    write_lines(&store, "full/messages", "lost", 0..7);
    store.sync().unwrap();
    let stats = store.stats().snapshot();
    assert_eq!(stats.lines_dropped, 7);
    assert!(stats.write_errors >= 1);
    assert!(!store.health().is_paused());
    disk.free_up();
    write_lines(&store, "other", "kept", 0..2);
    store.sync().unwrap();
    assert_eq!(read_all(disk.path(), "other"), expected("kept", 1..3, 0));
    store.shutdown().unwrap();
}

#[test]
fn a_segment_that_is_a_link_is_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    fs::write(&victim, b"untouched\n").unwrap();
    let stream_dir = dir.path().join("linked/messages");
    fs::create_dir_all(&stream_dir).unwrap();
    std::os::unix::fs::symlink(&victim, stream_dir.join(LOG_1)).unwrap();
    let store = open(dir.path());
    write_lines(&store, "linked/messages", "refused", 0..3);
    write_lines(&store, "fine/messages", "kept", 0..2);
    store.sync().unwrap();
    let stats = store.stats().snapshot();
    assert_eq!(stats.lines_dropped, 3);
    assert!(stats.write_errors >= 1);
    assert!(!store.health().is_paused());
    assert_eq!(
        read_all(dir.path(), "fine/messages"),
        expected("kept", 1..3, 0)
    );
    store.shutdown().unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"untouched\n");
}

/// A disk whose free space the test sets.
fn fake_disk(free: &Arc<AtomicU64>) -> SpaceProbe {
    let free = Arc::clone(free);
    SpaceProbe(Arc::new(move |_| {
        Some((free.load(Ordering::Relaxed), 1 << 40))
    }))
}

#[test]
fn below_min_free_the_store_stops_taking_batches_and_resumes_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let free = Arc::new(AtomicU64::new(1 << 30));
    let store = open_with(dir.path(), |config| {
        config.writer_threads = 1;
        config.queue_batches = 2;
        config.min_free = MinFree::bytes(64 << 20);
        config.space_probe = Some(fake_disk(&free));
    });
    let health = store.health();
    write_lines(&store, "d/messages", "before", 0..50);
    store.sync().unwrap();
    assert_eq!(health.min_free_bytes(), 64 << 20);

    free.store(10 << 20, Ordering::Relaxed);
    let writer = store.writer();
    let mut sent = 0u64;
    let mut refused = None;
    // The writer pauses at its next write, holds what it has, and its
    // queue fills: a non-blocking submit is refused.
    let mut round = 0u64;
    let mut batch = None;
    for _ in 0..20_000 {
        let next = batch.take().unwrap_or_else(|| {
            let mut fresh = writer.batch();
            fresh.push("d/messages", 0, format!("during {round}").as_bytes());
            fresh
        });
        match writer.try_submit(next) {
            Ok(()) => {
                sent += 1;
                round += 1;
            }
            // Full because the writer is paused, not merely busy.
            Err(TrySubmitError::Full(back)) if health.is_paused() => {
                refused = Some(back);
                break;
            }
            Err(TrySubmitError::Full(back)) => batch = Some(back),
            Err(TrySubmitError::Closed(_)) => panic!("store closed"),
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(refused.is_some(), "the queue never filled");
    assert!(health.is_paused());
    let reason = health.pause_reason().expect("a reason");
    assert_eq!(
        reason,
        PauseReason::BelowMinFree {
            free: 10 << 20,
            min_free: 64 << 20
        }
    );
    assert_eq!(store.stats().snapshot().lines_dropped, 0);

    free.store(1 << 30, Ordering::Relaxed);
    assert!(eventually(|| !health.is_paused()));
    store.sync().unwrap();
    let lines = read_all(dir.path(), "d/messages");
    let during: Vec<String> = (0..sent).map(|round| format!("during {round}")).collect();
    assert_eq!(lines.len() as u64, 50 + sent);
    assert_eq!(
        lines[50..]
            .iter()
            .map(|(_, line)| line.clone())
            .collect::<Vec<_>>(),
        during
    );
    assert!(lines
        .iter()
        .enumerate()
        .all(|(i, (seq, _))| *seq == i as u64 + 1));
    store.shutdown().unwrap();
}

/// One batch of `round`'s line for each of `streams` streams: with several
/// writers it is split into parts that share its arena.
fn batch_across(writer: &sinkd_store::StoreWriter, streams: usize, round: u64) -> AppendBatch {
    let mut batch = writer.batch();
    for s in 0..streams {
        batch.push(
            &format!("dev{s}/messages"),
            0,
            format!("{s} {round}").as_bytes(),
        );
    }
    batch
}

#[test]
fn batches_split_between_paused_writers_are_all_stored_once_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let free = Arc::new(AtomicU64::new(0));
    let store = open_with(dir.path(), |config| {
        config.writer_threads = 3;
        config.queue_batches = 2;
        config.min_free = MinFree::bytes(1);
        config.space_probe = Some(fake_disk(&free));
    });
    let health = store.health();
    let writer = store.writer();
    writer.submit(batch_across(&writer, 9, 0)).unwrap();
    assert!(eventually(|| health.is_paused()));
    // More batches than the queues and the held parts take: the sender
    // blocks while the writers are paused.
    let sender = std::thread::spawn(move || {
        for round in 1..40 {
            writer.submit(batch_across(&writer, 9, round)).unwrap();
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    assert!(!sender.is_finished(), "the paused writers took everything");
    free.store(1 << 30, Ordering::Relaxed);
    sender.join().unwrap();
    store.sync().unwrap();
    for s in 0..9 {
        let expected: Vec<(u64, String)> = (0..40)
            .map(|round| (round + 1, format!("{s} {round}")))
            .collect();
        assert_eq!(read_all(dir.path(), &format!("dev{s}/messages")), expected);
    }
    let stats = store.stats().snapshot();
    assert_eq!((stats.lines_written, stats.lines_dropped), (360, 0));
    store.shutdown().unwrap();
}

#[test]
fn parts_refused_by_every_writer_come_back_as_one_batch_in_order() {
    // Three paused writers, each holding one part and with one more in its
    // queue: a batch split three ways is refused by all three, and its
    // parts come back merged into one batch with an arena of its own.
    let dir = tempfile::tempdir().unwrap();
    let free = Arc::new(AtomicU64::new(0));
    let store = open_with(dir.path(), |config| {
        config.writer_threads = 3;
        config.queue_batches = 1;
        config.min_free = MinFree::bytes(1);
        config.space_probe = Some(fake_disk(&free));
    });
    let health = store.health();
    let writer = store.writer();
    // Two lines per stream a round, so the merge has an order to keep.
    let round = |round: u64| {
        let mut batch = writer.batch();
        for half in ["a", "b"] {
            for s in 0..9 {
                let line = format!("{s} {round}{half}");
                batch.push(&format!("dev{s}/messages"), 0, line.as_bytes());
            }
        }
        batch
    };
    writer.submit(round(0)).unwrap();
    assert!(eventually(|| health.paused_writers() == 3));
    // Each paused writer takes nothing more: its queue holds this round.
    writer.submit(round(1)).unwrap();
    let back = match writer.try_submit(round(2)) {
        Err(TrySubmitError::Full(back)) => back,
        Err(TrySubmitError::Closed(_)) => panic!("store is open"),
        Ok(()) => panic!("a paused writer took a part"),
    };
    let lines: Vec<(String, String)> = back
        .iter()
        .map(|(stream, _, line)| {
            (
                String::from_utf8(stream.to_vec()).unwrap(),
                String::from_utf8(line.to_vec()).unwrap(),
            )
        })
        .collect();
    assert_eq!(lines.len(), 18, "every writer refused its part: {lines:?}");
    for s in 0..9 {
        let stream = format!("dev{s}/messages");
        let of_stream: Vec<&str> = lines
            .iter()
            .filter(|(name, _)| *name == stream)
            .map(|(_, line)| line.as_str())
            .collect();
        let expected = [format!("{s} 2a"), format!("{s} 2b")];
        assert_eq!(of_stream, expected, "{stream}");
    }
    free.store(1 << 30, Ordering::Relaxed);
    writer.submit(back).unwrap();
    store.sync().unwrap();
    for s in 0..9 {
        let expected: Vec<(u64, String)> = ["0a", "0b", "1a", "1b", "2a", "2b"]
            .iter()
            .enumerate()
            .map(|(n, line)| (n as u64 + 1, format!("{s} {line}")))
            .collect();
        assert_eq!(read_all(dir.path(), &format!("dev{s}/messages")), expected);
    }
    let stats = store.stats().snapshot();
    assert_eq!((stats.lines_written, stats.lines_dropped), (54, 0));
    assert_eq!(health.paused_writers(), 0);
    store.shutdown().unwrap();
}

#[test]
fn without_pause_when_full_min_free_refuses_writes_as_errors() {
    let dir = tempfile::tempdir().unwrap();
    let free = Arc::new(AtomicU64::new(0));
    let store = open_with(dir.path(), |config| {
        config.pause_when_full = false;
        config.min_free = MinFree::bytes(1 << 20);
        config.space_probe = Some(fake_disk(&free));
    });
    write_lines(&store, "d/messages", "refused", 0..5);
    store.sync().unwrap();
    let stats = store.stats().snapshot();
    assert_eq!((stats.lines_dropped, stats.lines_written), (5, 0));
    assert!(!store.health().is_paused());
    store.shutdown().unwrap();
}

#[test]
fn a_shutdown_while_the_disk_stays_full_drops_and_counts_what_is_held() {
    // With three writers the batches are split into parts that share an
    // arena, and a writer may meet the full disk only at its last flush.
    for writers in [1, 3] {
        let dir = tempfile::tempdir().unwrap();
        let free = Arc::new(AtomicU64::new(0));
        let store = open_with(dir.path(), |config| {
            config.writer_threads = writers;
            config.min_free = MinFree::bytes(1);
            config.space_probe = Some(fake_disk(&free));
        });
        let writer = store.writer();
        for round in 0..3 {
            writer.submit(batch_across(&writer, 10, round)).unwrap();
        }
        let health = store.health();
        assert!(eventually(|| health.is_paused()));
        let stats = store.stats();
        store.shutdown().unwrap();
        let snapshot = stats.snapshot();
        assert_eq!(
            snapshot.lines_dropped_disk_full, 30,
            "{writers} writers: {snapshot:?}"
        );
        assert_eq!((snapshot.lines_dropped, snapshot.lines_written), (0, 0));
    }
}

#[test]
fn an_unsafe_stream_path_is_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let store = open(&data_dir);
    let writer = store.writer();
    for stream in ["../escape", "/abs", "a//b", "", "x/../../y"] {
        writer.submit(batch_of(stream, &["evil"])).unwrap();
    }
    store.sync().unwrap();
    assert_eq!(store.stats().snapshot().lines_dropped, 5);
    store.shutdown().unwrap();
    assert!(!dir.path().join("escape").exists());
    assert!(!dir.path().join("y").exists());
    let mut outside = files_in(dir.path());
    outside.retain(|name| name != "data");
    assert!(outside.is_empty(), "{outside:?}");
    assert!(StreamReader::open(&data_dir, "../escape").is_err());
}
