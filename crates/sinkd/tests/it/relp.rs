//! The RELP listener against the real client: a private foreground
//! rsyslogd takes numbered lines on imtcp and forwards them with `omrelp`
//! to sinkd, which is stopped mid-stream (SIGTERM, and kill -9) and
//! started again on the same port; every message must end up stored, and
//! the duplicates (expected only around a kill) are counted and reported.
//! Bad input over a raw socket closes that session (counted) while a
//! parallel good session goes on being acknowledged.

use crate::harness::{connect, local, read_stream, Sandbox, Server, PATIENCE};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";
const DEVICE: &str = "relphost";

/// The configuration body: one RELP listener on `relp_port`, every
/// message stored per device.
fn body(relp_port: u16) -> String {
    format!(
        "[[listen]]\ntransport = \"relp\"\naddress = \"127.0.0.1:{relp_port}\"\n\n\
         [[sink]]\ntarget = \"file {{device}}/messages\"\n"
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// A foreground rsyslogd reading LF lines on imtcp and forwarding them
/// with omrelp (retrying forever, one second apart).
struct Rsyslog {
    child: Child,
    input_port: u16,
}

impl Rsyslog {
    fn start(dir: &Path, relp_port: u16) -> Rsyslog {
        assert!(
            Path::new(RSYSLOGD).exists(),
            "rsyslogd not found: install the Debian packages rsyslog and rsyslog-relp"
        );
        let input_port = free_port();
        let work = dir.join("rsyslog-work");
        std::fs::create_dir_all(&work).unwrap();
        let conf = dir.join("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                "global(workDirectory=\"{work}\")\n\
                 module(load=\"imtcp\")\n\
                 module(load=\"omrelp\")\n\
                 main_queue(queue.size=\"200000\")\n\
                 ruleset(name=\"fwd\") {{ action(type=\"omrelp\" target=\"127.0.0.1\" port=\"{relp_port}\" \
                 action.resumeRetryCount=\"-1\" action.resumeInterval=\"1\") }}\n\
                 input(type=\"imtcp\" port=\"{input_port}\" address=\"127.0.0.1\" ruleset=\"fwd\")\n",
                work = work.display(),
            ),
        )
        .unwrap();
        // Foreground (-n), with its own pid file (-i).
        let pid_file = dir.join("rsyslog.pid");
        let args = [
            OsStr::new("-n"),
            "-f".as_ref(),
            conf.as_ref(),
            "-i".as_ref(),
            pid_file.as_ref(),
        ];
        let child = Command::new(RSYSLOGD)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsyslogd");
        let rsyslog = Rsyslog { child, input_port };
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(local(input_port)).is_err() {
            assert!(Instant::now() < deadline, "rsyslog (imtcp) did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        rsyslog
    }

    /// Writes messages `range` to rsyslog's imtcp, one connection.
    fn send(&self, range: std::ops::Range<u32>) {
        let mut stream = connect(self.input_port);
        let mut bytes = Vec::new();
        for i in range {
            bytes.extend_from_slice(format!("<13>Mar  8 09:15:32 {DEVICE} app: m{i}\n").as_bytes());
        }
        stream.write_all(&bytes).expect("write to rsyslog");
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many times each message number was stored.
fn stored_counts(data_dir: &Path) -> HashMap<u32, u32> {
    let mut counts = HashMap::new();
    if !data_dir.join(DEVICE).join("messages").exists() {
        return counts;
    }
    for (_, line) in read_stream(data_dir, &format!("{DEVICE}/messages")) {
        let number = line
            .rsplit(" m")
            .next()
            .and_then(|number| number.parse().ok())
            .unwrap_or_else(|| panic!("unexpected line {line:?}"));
        *counts.entry(number).or_insert(0) += 1;
    }
    counts
}

fn wait_stored(data_dir: &Path, n: u32, patience: Duration) -> HashMap<u32, u32> {
    let deadline = Instant::now() + patience;
    loop {
        let counts = stored_counts(data_dir);
        if counts.len() as u32 >= n || Instant::now() > deadline {
            return counts;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends `n` messages through rsyslog, stops sinkd once some are stored
/// (`kill`: SIGTERM or SIGKILL), starts it again on the same port and
/// returns the duplicates once all `n` are stored.
fn through_a_restart(n: u32, kill9: bool) -> u32 {
    let sandbox = Sandbox::new();
    let relp_port = free_port();
    let server = Server::start(&sandbox, |_| body(relp_port));
    let data_dir: PathBuf = server.data_dir.clone();
    let rsyslog = Rsyslog::start(sandbox.root(), relp_port);
    rsyslog.send(0..n);
    let before = wait_stored(&data_dir, n / 10, PATIENCE);
    assert!(
        before.len() as u32 >= n / 10,
        "only {} stored before the restart:\n{}",
        before.len(),
        server.log()
    );
    let stopped = if kill9 { server.kill9() } else { server.stop() };
    if !kill9 {
        stopped.assert_clean_exit();
    }
    let server = Server::start(&sandbox, |_| body(relp_port));
    let counts = wait_stored(&data_dir, n, Duration::from_secs(90));
    let missing: Vec<u32> = (0..n)
        .filter(|i| !counts.contains_key(i))
        .take(10)
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {n} messages missing after a {} restart (first: {missing:?})\n{}",
        n - counts.len() as u32,
        if kill9 { "kill -9" } else { "SIGTERM" },
        server.log()
    );
    let duplicates: u32 = counts.values().map(|count| count - 1).sum();
    eprintln!(
        "relp: {n} messages through a {} restart: {} stored before it, all {n} after, {duplicates} duplicates",
        if kill9 { "kill -9" } else { "SIGTERM" },
        before.len()
    );
    server.stop().assert_clean_exit();
    duplicates
}

#[test]
fn omrelp_messages_survive_a_sigterm_restart() {
    let duplicates = through_a_restart(20_000, false);
    // SIGTERM answers what was stored before it closes; what it did not
    // answer it did not read, so rsyslog's resend duplicates nothing.
    assert_eq!(duplicates, 0, "duplicates after a clean restart");
}

#[test]
fn omrelp_messages_survive_a_kill9_restart() {
    // Messages stored but not yet answered when the process died come
    // again: duplicates are allowed (and reported), losses are not.
    through_a_restart(20_000, true);
}

/// A RELP session driven by hand.
struct Session {
    stream: BufReader<TcpStream>,
    next_txnr: u32,
}

impl Session {
    fn connect(port: u16) -> Session {
        let stream = connect(port);
        Session {
            stream: BufReader::new(stream),
            next_txnr: 1,
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).expect("write");
    }

    fn command(&mut self, command: &str, data: &[u8]) -> u32 {
        let txnr = self.next_txnr;
        self.next_txnr += 1;
        let mut frame = Vec::new();
        sinkd_proto::relp::encode(&mut frame, txnr, command, data);
        self.send_raw(&frame);
        txnr
    }

    /// Reads one frame (answers hold no LF except after `open`, whose
    /// data has its length).
    fn read_frame(&mut self) -> Option<(u32, String, Vec<u8>)> {
        let mut header = Vec::new();
        for _ in 0..3 {
            let mut field = Vec::new();
            let n = self.stream.read_until(b' ', &mut field).ok()?;
            if n == 0 {
                return None;
            }
            header.push(field);
            if header.len() == 3 || header.last()?.last() != Some(&b' ') {
                break;
            }
        }
        let field = |i: usize| {
            String::from_utf8_lossy(&header[i])
                .trim_end_matches([' ', '\n'])
                .to_owned()
        };
        let txnr = field(0).parse().ok()?;
        let command = field(1);
        let datalen_field = field(2);
        let datalen: usize = datalen_field.parse().ok()?;
        let mut data = vec![0; datalen];
        if datalen > 0 {
            self.stream.read_exact(&mut data).ok()?;
            let mut trailer = [0u8];
            self.stream.read_exact(&mut trailer).ok()?;
        }
        Some((txnr, command, data))
    }

    fn open(port: u16) -> Session {
        let mut session = Session::connect(port);
        let txnr = session.command(
            "open",
            b"relp_version=0\nrelp_software=test\ncommands=syslog",
        );
        let (answered, command, data) = session.read_frame().expect("open answered");
        assert_eq!((answered, command.as_str()), (txnr, "rsp"));
        assert!(data.starts_with(b"200 OK\n"), "{data:?}");
        session
    }

    /// Sends a message and waits for its `200 OK`.
    fn log(&mut self, message: &str) {
        let txnr = self.command("syslog", message.as_bytes());
        let (answered, command, data) = self.read_frame().expect("syslog answered");
        assert_eq!(
            (answered, command.as_str(), data.as_slice()),
            (txnr, "rsp", &b"200 OK"[..])
        );
    }

    /// Reads until the server closes; `true` if `serverclose` came first.
    fn wait_serverclose(&mut self) -> bool {
        let mut hinted = false;
        while let Some((txnr, command, _)) = self.read_frame() {
            hinted |= txnr == 0 && command == "serverclose";
        }
        hinted
    }
}

#[test]
fn bad_input_closes_only_its_own_session() {
    let sandbox = Sandbox::new();
    let relp_port = free_port();
    let server = Server::start(&sandbox, |_| body(relp_port));
    let mut good = Session::open(relp_port);
    good.log("<13>Mar  8 09:15:32 good app: first");
    let cases: [(&str, &[u8], &str); 6] = [
        ("garbage", b"GET / HTTP/1.1\r\n\r\n", "frame_error"),
        (
            "a huge DATALEN",
            b"1 open 999999999 relp_version=0",
            "frame_error",
        ),
        (
            "syslog before open",
            b"1 syslog 14 <13>bad: early\n",
            "protocol_error",
        ),
        (
            "an unknown command",
            b"1 open 14 relp_version=0\n2 starttls 0\n",
            "protocol_error",
        ),
        (
            "open after open",
            b"1 open 14 relp_version=0\n2 open 14 relp_version=0\n",
            "protocol_error",
        ),
        (
            "a txnr that is not the previous + 1",
            b"1 open 14 relp_version=0\n3 syslog 13 <13>bad: skip\n",
            "protocol_error",
        ),
    ];
    let cases_len = cases.len();
    let mut expected: HashMap<&str, u64> = HashMap::new();
    for (i, (what, bytes, reason)) in cases.into_iter().enumerate() {
        let mut bad = Session::connect(relp_port);
        bad.send_raw(bytes);
        assert!(
            bad.wait_serverclose(),
            "{what}: no serverclose before the close"
        );
        *expected.entry(reason).or_insert(0) += 1;
        server.wait_count(
            &format!("sinkd_connections_closed_total{{reason=\"{reason}\"}}"),
            expected[reason],
        );
        good.log(&format!("<13>Mar  8 09:15:32 good app: after {i}"));
    }
    server.wait_count(
        "sinkd_messages_dropped_total{reason=\"frame_too_large\"}",
        1,
    );
    // A close is answered and the session ends cleanly.
    let txnr = good.command("close", b"");
    let (answered, command, data) = good.read_frame().expect("close answered");
    assert_eq!((answered, command.as_str()), (txnr, "rsp"));
    assert!(data.is_empty());
    assert!(good.read_frame().is_none(), "closed after the answer");
    let lines = read_stream(&server.data_dir, "good/messages");
    // The first message and one after each bad case.
    assert_eq!(lines.len(), 1 + cases_len, "{lines:?}");
    assert!(!read_stream_exists(&server.data_dir, "bad"));
    let stopped = server.stop();
    stopped.assert_clean_exit();
}

fn read_stream_exists(data_dir: &Path, device: &str) -> bool {
    data_dir.join(device).exists()
}
