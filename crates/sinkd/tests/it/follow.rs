//! `sinkd follow` against a real server: followers started on a device with
//! history (one with `--tail 3`, one from the end, one filtered) while lines
//! arrive over TCP in rounds large enough that segments rotate and are
//! compressed under them; every line must show exactly once, in order, and
//! SIGTERM or SIGINT must end a follower with status 0. Also the unknown-device exit.

use crate::harness::*;
use crate::support::sinkd_bin;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Lines stored before the followers start.
const HISTORY: usize = 30;
/// Rounds sent while following, and lines per round (a round is about two
/// 4 KiB segments).
const ROUNDS: usize = 4;
const PER_ROUND: usize = 100;

pub(crate) fn config(ports: &Ports) -> String {
    format!(
        r#"
[[listen]]
transport = "tcp"
address = "127.0.0.1:{}"

[[sink]]
name = "messages"
target = "file {{device}}/messages"
priority = "*.*"
format = "rfc5424"

[storage]
rotate_size = "4K"
rotate_count = 0
"#,
        ports.tcp
    )
}

/// Line `index` of `sw9`: every fifth is auth.notice, the rest user.info.
fn line(index: usize) -> String {
    let pri = if index.is_multiple_of(5) { 37 } else { 14 };
    format!(
        "<{pri}>1 2026-02-01T08:{:02}:{:02}Z sw9 app - - - n{index:04} padding so segments fill up\n",
        index / 60 % 60,
        index % 60
    )
}

fn send_lines(port: u16, range: std::ops::Range<usize>) {
    let text: String = range.map(line).collect();
    send_tcp(port, text.as_bytes());
}

/// A running `sinkd follow`, its stdout lines arriving on a channel.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<usize>,
}

impl Follower {
    fn start(data_dir: &Path, args: &[&str]) -> Follower {
        let mut child = Command::new(sinkd_bin())
            .arg("follow")
            .args(args)
            .arg("--data-dir")
            .arg(data_dir)
            .env("TZ", "UTC")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sinkd follow");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Follower {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Collects lines until `count` have been seen in all, or fails after
    /// [`PATIENCE`].
    fn wait_for(&mut self, count: usize) -> &[usize] {
        let deadline = Instant::now() + PATIENCE;
        while self.seen.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(text) => self.seen.push(number(&text)),
                Err(_) => panic!(
                    "{} of {count} lines within {PATIENCE:?}: {:?}",
                    self.seen.len(),
                    self.seen
                ),
            }
        }
        &self.seen
    }

    /// Sends `signal` (SIGTERM or SIGINT); the exit must be 0. Returns
    /// every line it printed.
    fn stop(mut self, signal: libc::c_int) -> Vec<usize> {
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        let result = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(result, 0, "kill");
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "follow did not exit on signal {signal}"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.code(), Some(0), "{status:?}");
        // The output ended with the process: take what is left.
        let rest: Vec<usize> = self.lines.iter().map(|text| number(&text)).collect();
        self.seen.extend(rest);
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `nNNNN` number of a `--json` line.
fn number(text: &str) -> usize {
    let object: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|error| panic!("{error}: {text:?}"));
    let msg = object["msg"].as_str().unwrap_or_else(|| panic!("{text}"));
    assert_eq!(object["device"], "sw9", "{text}");
    msg[1..5]
        .parse()
        .unwrap_or_else(|error| panic!("{error}: {text:?}"))
}

fn compressed_segments(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".log.zst"))
            .count()
    })
}

#[test]
fn follow_prints_new_lines_across_rotation_and_compression() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, config);
    let data_dir = sandbox.data_dir();
    send_lines(server.ports.tcp, 0..HISTORY);
    server.wait_count("sinkd_store_lines_written_total", HISTORY as u64);
    let stream = data_dir.join("sw9/messages");
    let zst_before = compressed_segments(&stream);

    // From the end: no history. It shows no sign of being ready, so it is
    // started first and judged only on what it must print once it is.
    let mut from_end = Follower::start(&data_dir, &["sw9/messages", "--json"]);
    let mut tail = Follower::start(&data_dir, &["sw9", "--json", "--tail", "3"]);
    let since = "2026-02-01T08:00:30Z"; // line HISTORY's timestamp
    let mut auth = Follower::start(
        &data_dir,
        &[
            "sw9",
            "--json",
            "--since",
            since,
            "--priority",
            "auth.*",
            "--grep",
            "n0[0-9]+5 ",
        ],
    );
    // --tail 3: the last three stored lines come first.
    assert_eq!(tail.wait_for(3), [HISTORY - 3, HISTORY - 2, HISTORY - 1]);

    for round in 0..ROUNDS {
        let start = HISTORY + round * PER_ROUND;
        send_lines(server.ports.tcp, start..start + PER_ROUND);
        let end = start + PER_ROUND;
        let expected: Vec<usize> = (HISTORY - 3..end).collect();
        assert_eq!(tail.wait_for(expected.len()), expected, "round {round}");
        let seen = from_end.wait_for(1);
        let first = seen[0];
        assert!((HISTORY..HISTORY + PER_ROUND).contains(&first), "{seen:?}");
        let expected: Vec<usize> = (first..end).collect();
        assert_eq!(from_end.wait_for(expected.len()), expected, "round {round}");
    }
    // Segments were closed and compressed while the followers read them.
    let deadline = Instant::now() + PATIENCE;
    while compressed_segments(&stream) < zst_before + 2 {
        assert!(Instant::now() < deadline, "no new .zst in {stream:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let total = HISTORY + ROUNDS * PER_ROUND;
    // Only the lines that pass, from --since on.
    let expected_auth: Vec<usize> = (HISTORY..total).filter(|n| n % 10 == 5).collect();
    assert_eq!(auth.wait_for(expected_auth.len()), expected_auth);

    // After SIGTERM or SIGINT nothing more was printed: each line exactly once.
    assert_eq!(
        tail.stop(libc::SIGTERM),
        (HISTORY - 3..total).collect::<Vec<_>>()
    );
    let first = from_end.wait_for(1)[0];
    assert_eq!(
        from_end.stop(libc::SIGTERM),
        (first..total).collect::<Vec<_>>()
    );
    assert_eq!(auth.stop(libc::SIGINT), expected_auth);

    // An unknown device: status 2 and the closest names, at once.
    let output = Command::new(sinkd_bin())
        .args(["follow", "sw8", "--data-dir"])
        .arg(&data_dir)
        .output()
        .expect("run sinkd follow");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown device \"sw8\"; closest: sw9"),
        "{stderr}"
    );
    server.stop().assert_clean_exit();
}
