//! Completions: a batch that carries one is reported stored only once its
//! lines are in the segment files, whatever `flush_interval` says, and a
//! batch split between writer threads only once every part is.

use crate::support::*;
use sinkd_store::{AppendBatch, Completion, FsyncPolicy};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// Sends `true` (stored) or `false` (a line lost) when the last clone goes.
#[derive(Debug)]
struct Probe {
    failed: AtomicBool,
    done: Mutex<Option<mpsc::Sender<bool>>>,
}

impl Completion for Probe {
    fn fail(&self) {
        self.failed.store(true, Ordering::SeqCst);
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if let Some(done) = self.done.lock().unwrap().take() {
            let _ = done.send(!self.failed.load(Ordering::SeqCst));
        }
    }
}

fn probe() -> (Arc<Probe>, mpsc::Receiver<bool>) {
    let (tx, rx) = mpsc::channel();
    let probe = Arc::new(Probe {
        failed: AtomicBool::new(false),
        done: Mutex::new(Some(tx)),
    });
    (probe, rx)
}

const PATIENCE: Duration = Duration::from_secs(10);

#[test]
fn a_completed_batch_is_in_the_files_before_the_flush_interval() {
    let (dir, store) = temp_store_with(|config| {
        config.flush_interval = Duration::from_secs(3600);
        config.quiet_flush = Duration::ZERO;
        config.fsync = FsyncPolicy::Never;
        config.writer_threads = 3;
    });
    let (probe, done) = probe();
    let mut batch = AppendBatch::new();
    for device in 0..20 {
        batch.push(&format!("d{device}/messages"), 0, b"acknowledged");
    }
    batch.set_completion(probe);
    store.writer().submit(batch).unwrap();
    assert_eq!(done.recv_timeout(PATIENCE), Ok(true));
    for device in 0..20 {
        let path = dir
            .path()
            .join(format!("d{device}/messages/00000000000000000001.log"));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "acknowledged\n",
            "d{device}"
        );
    }
    store.shutdown().unwrap();
}

#[test]
fn a_lost_line_fails_the_completion() {
    let (_dir, store) = temp_store();
    let (probe, done) = probe();
    let mut batch = AppendBatch::new();
    batch.push("good/messages", 0, b"kept");
    batch.push("../escape/messages", 0, b"refused");
    batch.set_completion(probe);
    store.writer().submit(batch).unwrap();
    assert_eq!(done.recv_timeout(PATIENCE), Ok(false));
    store.shutdown().unwrap();
}

#[test]
fn batches_without_a_completion_keep_the_flush_interval() {
    let (dir, store) = temp_store_with(|config| {
        config.flush_interval = Duration::from_secs(3600);
        config.quiet_flush = Duration::ZERO;
        config.fsync = FsyncPolicy::Never;
        config.writer_threads = 1;
    });
    write_lines(&store, "plain/messages", "p", 0..3);
    let (probe, done) = probe();
    let mut batch = AppendBatch::new();
    batch.push("acked/messages", 0, b"a");
    batch.set_completion(probe);
    store.writer().submit(batch).unwrap();
    assert_eq!(done.recv_timeout(PATIENCE), Ok(true));
    let plain = dir.path().join("plain/messages/00000000000000000001.log");
    assert_eq!(std::fs::metadata(plain).unwrap().len(), 0);
    store.shutdown().unwrap();
    assert_eq!(
        read_all(dir.path(), "plain/messages"),
        expected("p", 1..4, 0)
    );
}

#[test]
fn a_line_lost_elsewhere_does_not_fail_a_healthy_batch() {
    // One writer: an unacknowledged batch with a refused line, then an
    // acknowledged batch whose own streams are healthy, then one that
    // touches the refused stream.
    let (_dir, store) = temp_store_with(|config| config.writer_threads = 1);
    let writer = store.writer();
    let mut other = AppendBatch::new();
    other.push("../escape/messages", 0, b"refused, not acknowledged");
    writer.submit(other).unwrap();
    let (healthy, healthy_done) = probe();
    let mut batch = AppendBatch::new();
    batch.push("fine/messages", 0, b"kept");
    batch.set_completion(healthy);
    writer.submit(batch).unwrap();
    assert_eq!(healthy_done.recv_timeout(PATIENCE), Ok(true));
    let (touched, touched_done) = probe();
    let mut batch = AppendBatch::new();
    batch.push("fine/messages", 0, b"kept too");
    batch.push("../escape/messages", 0, b"refused again");
    batch.set_completion(touched);
    writer.submit(batch).unwrap();
    assert_eq!(touched_done.recv_timeout(PATIENCE), Ok(false));
    store.shutdown().unwrap();
}
