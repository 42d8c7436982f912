//! A full disk: `data_dir` on a 30 MiB tmpfs, filled by a file the test
//! controls. While the store cannot write, sinkd must stop reading TCP (the
//! sender feels it), drop UDP that finds the queues full under its own
//! reason (`disk_full`), say so on `/healthz` (503 with the reason) and in
//! the log (once, then once per interval, then once when it ends), and
//! once the filler is deleted store every TCP message exactly once and
//! answer 200 again. `min_free` makes the store stop before the disk is
//! full. Needs root for `mount` (CI runs as root); skipped otherwise.

use crate::harness::{http_get, read_stream, root_for, Sandbox, Scrape, Server, PATIENCE};
use std::io::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The tmpfs the data directory lives on.
const DISK_BYTES: u64 = 30 << 20;

/// A tmpfs mounted on a directory for the life of the value.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("create the mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={DISK_BYTES}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount a tmpfs on {}", dir.display());
        Tmpfs {
            dir: dir.to_path_buf(),
        }
    }

    /// Free bytes, as sinkd sees them.
    fn free(&self) -> u64 {
        sinkd_metrics::filesystem_bytes(&self.dir)
            .expect("statvfs")
            .0
    }

    /// Writes a file of `bytes` that leaves the rest to sinkd.
    fn fill(&self, bytes: u64) -> PathBuf {
        let path = self.dir.join(".filler");
        let mut file = std::fs::File::create(&path).expect("create the filler");
        let block = vec![0xa5u8; 1 << 20];
        for _ in 0..bytes >> 20 {
            file.write_all(&block).expect("fill");
        }
        file.sync_all().expect("sync the filler");
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

/// Message `n` of the TCP sender, about 100 bytes.
fn tcp_message(n: u64) -> String {
    format!(
        "<13>Jan  1 00:00:00 disktest app: message {n:08} {}\n",
        "x".repeat(48)
    )
}

/// Sends `total` messages on one connection from a thread, counting what
/// the kernel took; the thread ends when all were written.
fn spawn_sender(port: u16, total: u64, sent: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut stream =
            TcpStream::connect(("127.0.0.1", port)).expect("connect to sinkd's TCP listener");
        // A pause of minutes must not fail the write; the test's own
        // deadlines end a stuck run first.
        stream
            .set_write_timeout(Some(Duration::from_secs(600)))
            .expect("write timeout");
        let mut chunk = String::new();
        for first in (0..total).step_by(100) {
            chunk.clear();
            for n in first..(first + 100).min(total) {
                chunk.push_str(&tcp_message(n));
            }
            stream.write_all(chunk.as_bytes()).expect("write to sinkd");
            sent.store((first + 100).min(total), Ordering::Relaxed);
        }
        stream.flush().expect("flush");
    })
}

fn config(ports: &crate::harness::Ports, min_free: &str) -> String {
    format!(
        "[[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{}\"\n\n\
         [[listen]]\ntransport = \"udp\"\naddress = \"127.0.0.1:{}\"\n\n\
         [[sink]]\ntarget = \"file {{device}}/messages\"\n\n\
         [storage]\nmin_free = {min_free}\n",
        ports.tcp, ports.udp
    )
}

/// Polls `/healthz` until its status is `want`; the body then.
fn wait_health(server: &Server, want: u16) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok((status, body)) = http_get(server.metrics_addr(), "/healthz") {
            if status == want {
                return body;
            }
        }
        assert!(
            Instant::now() < deadline,
            "/healthz never answered {want}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Scrapes until `series` has kept one value for two seconds; that value.
fn wait_steady(server: &Server, series: &str) -> u64 {
    let deadline = Instant::now() + PATIENCE;
    let mut last = (server.scrape().count(series), Instant::now());
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = server.scrape().count(series);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() >= Duration::from_secs(2) {
            return now;
        }
        assert!(Instant::now() < deadline, "{series} never settled");
    }
}

/// Checks that the stream holds messages `0..total` of [`tcp_message`],
/// each once, in order, with consecutive sequence numbers.
fn assert_exactly_once(data_dir: &Path, total: u64) {
    let lines = read_stream(data_dir, "disktest/messages");
    assert_eq!(lines.len() as u64, total, "stored TCP messages");
    for (index, (seq, line)) in lines.iter().enumerate() {
        let wanted = format!("message {index:08} ");
        assert!(
            line.contains(&wanted),
            "line {index} (seq {seq}) is {line:?}, not message {index}"
        );
        assert_eq!(*seq, index as u64 + 1, "sequence of line {index}");
    }
}

fn log_count(log: &str, needle: &str) -> usize {
    log.lines().filter(|line| line.contains(needle)).count()
}

#[test]
fn a_full_disk_holds_tcp_drops_udp_as_disk_full_and_loses_nothing_accepted() {
    if !root_for("mounting a small tmpfs") {
        return;
    }
    let sandbox = Sandbox::new();
    let disk = Tmpfs::mount(&sandbox.data_dir());
    // About 4 MiB left for sinkd: the disk fills early in the run.
    let filler = disk.fill(26 << 20);
    // min_free off: the store stops when a write fails with ENOSPC.
    let server = Server::start(&sandbox, |ports| config(ports, "0"));
    let total: u64 = 200_000;
    let sent = Arc::new(AtomicU64::new(0));
    let sender = spawn_sender(server.ports.tcp, total, Arc::clone(&sent));

    let body = wait_health(&server, 503);
    let paused_at = Instant::now();
    assert!(body.contains("store paused"), "{body}");
    assert!(body.contains("No space left"), "{body}");
    let scrape = server.wait_for("the paused gauge", |scrape| {
        scrape.count("sinkd_store_paused") == 1
    });
    assert_eq!(scrape.count("sinkd_store_min_free_bytes"), 0);

    // TCP is no longer read: the count stays put for as long as the pause
    // lasts (past one log interval), and the sender cannot finish.
    let tcp = "sinkd_messages_received_total{transport=\"tcp\"}";
    let read_when_paused = wait_steady(&server, tcp);

    // UDP while paused: what finds the queues full is dropped as disk_full.
    let udp_total = 5_000u64;
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("UDP socket");
    for n in 0..udp_total {
        let datagram = format!("<13>Jan  1 00:00:00 udpdev app: datagram {n}");
        socket
            .send_to(datagram.as_bytes(), ("127.0.0.1", server.ports.udp))
            .expect("send a datagram");
        if n % 10 == 9 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    server.wait_count(
        "sinkd_messages_received_total{transport=\"udp\"}",
        udp_total,
    );
    let disk_full = wait_steady(
        &server,
        "sinkd_messages_dropped_total{reason=\"disk_full\"}",
    );
    assert!(disk_full > 0, "no UDP dropped as disk_full");

    while paused_at.elapsed() < Duration::from_secs(12) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let scrape = server.scrape();
    assert_eq!(scrape.count(tcp), read_when_paused, "TCP read while paused");
    assert!(read_when_paused < total);
    assert!(
        sent.load(Ordering::Relaxed) < total,
        "the sender never felt the pause"
    );
    assert!(wait_health(&server, 503).contains("No space left"));
    let paused_secs = paused_at.elapsed().as_secs();
    let log = server.log();
    assert_eq!(log_count(&log, "store paused: cannot write"), 1, "{log}");
    let again = log_count(&log, "store still paused");
    assert!(
        (1..=(paused_secs / 10 + 1) as usize).contains(&again),
        "{again} reminders in {paused_secs} s:\n{log}"
    );

    // Space returns: writing resumes by itself.
    std::fs::remove_file(&filler).expect("delete the filler");
    wait_health(&server, 200);
    let pause = paused_at.elapsed();
    sender.join().expect("the sender finishes");
    let udp_kernel = scrape.count("sinkd_udp_kernel_drops_total");
    let udp_queued = udp_total - disk_full - udp_kernel;
    let scrape = server.wait_count("sinkd_store_lines_written_total", total + udp_queued);
    assert_eq!(scrape.count("sinkd_store_paused"), 0);
    assert_eq!(
        scrape.count("sinkd_messages_dropped_total{reason=\"write_error\"}"),
        0
    );
    assert_eq!(
        scrape.count("sinkd_messages_dropped_total{reason=\"disk_full\"}"),
        disk_full
    );
    assert!(server.log().contains("store writing again"));
    let data_dir = server.data_dir.clone();
    let stopped = server.stop();
    stopped.assert_clean_exit();
    assert_exactly_once(&data_dir, total);
    let udp_stored = if udp_queued == 0 {
        0
    } else {
        read_stream(&data_dir, "udpdev/messages").len() as u64
    };
    assert_eq!(udp_stored, udp_queued);
    eprintln!(
        "full disk: {total} TCP messages sent, {total} stored once each; {udp_total} UDP \
         datagrams: {udp_stored} stored, {disk_full} dropped as disk_full, {udp_kernel} kernel \
         drops; /healthz 503 for {:.1} s (freed after {paused_secs} s); TCP read before the \
         pause held: {read_when_paused}",
        pause.as_secs_f64()
    );
}

#[test]
fn min_free_stops_the_store_before_the_disk_is_full() {
    if !root_for("mounting a small tmpfs") {
        return;
    }
    let sandbox = Sandbox::new();
    let disk = Tmpfs::mount(&sandbox.data_dir());
    let filler = disk.fill(6 << 20);
    let min_free: u64 = 20 << 20;
    // About 4 MiB between the filler and min_free.
    let server = Server::start(&sandbox, |ports| config(ports, "\"20M\""));
    let total: u64 = 80_000;
    let sent = Arc::new(AtomicU64::new(0));
    let sender = spawn_sender(server.ports.tcp, total, Arc::clone(&sent));

    let body = wait_health(&server, 503);
    assert!(body.contains("below min_free"), "{body}");
    let scrape: Scrape = server.wait_for("the paused gauge", |scrape| {
        scrape.count("sinkd_store_paused") == 1
    });
    assert_eq!(scrape.count("sinkd_store_min_free_bytes"), min_free);
    assert!(scrape.count("sinkd_data_dir_free_bytes") >= min_free);
    // What the store wrote left min_free alone (an index record or a
    // directory may take a few pages more).
    wait_steady(&server, "sinkd_store_bytes_written_total");
    let free_while_paused = disk.free();
    assert!(
        free_while_paused + (256 << 10) >= min_free,
        "free {free_while_paused} below min_free {min_free}"
    );

    std::fs::remove_file(&filler).expect("delete the filler");
    wait_health(&server, 200);
    sender.join().expect("the sender finishes");
    server.wait_count("sinkd_store_lines_written_total", total);
    let free_after = disk.free();
    assert!(free_after >= min_free, "free {free_after} below min_free");
    let data_dir = server.data_dir.clone();
    let stopped = server.stop();
    stopped.assert_clean_exit();
    assert_exactly_once(&data_dir, total);
    eprintln!(
        "min_free 20 MiB: {total} TCP messages stored once each; free while paused \
         {free_while_paused} bytes, after {free_after} bytes"
    );
}

#[test]
fn sigterm_while_the_disk_is_full_ends_and_counts_what_it_could_not_write() {
    if !root_for("mounting a small tmpfs") {
        return;
    }
    let sandbox = Sandbox::new();
    let disk = Tmpfs::mount(&sandbox.data_dir());
    let _filler = disk.fill(26 << 20);
    let server = Server::start(&sandbox, |ports| config(ports, "0"));
    let sent = Arc::new(AtomicU64::new(0));
    let sender = spawn_sender(server.ports.tcp, 200_000, Arc::clone(&sent));
    wait_health(&server, 503);
    // Connections are blocked on the paused store; SIGTERM must still end
    // the process (after the store's few seconds of grace), with what it
    // could not write counted rather than lost silently.
    let asked = Instant::now();
    let stopped = server.stop();
    let took = asked.elapsed();
    assert!(
        stopped.status.success(),
        "{:?}\n{}",
        stopped.status,
        stopped.log
    );
    assert!(took < PATIENCE, "took {took:?}");
    assert!(
        stopped.log.contains("disk_full") || stopped.log.contains("could not write"),
        "{}",
        stopped.log
    );
    drop(sender);
}
