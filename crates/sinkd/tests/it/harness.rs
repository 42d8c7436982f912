//! The end-to-end harness: runs the real `sinkd` binary on 127.0.0.1 in a
//! temporary sandbox and lets a test talk to it the way a device and an
//! operator would — sockets in, `/metrics` and the segment files out,
//! signals to steer it.
//!
//! A [`Sandbox`] is a temporary directory holding the configuration file and
//! a data directory nested a few levels down (`var/lib/sinkd/data`), so a
//! hostname that tried to climb out of `data_dir` with `../` would still land
//! inside the sandbox, where `hostile.rs` looks for it. A [`Server`] is one
//! run of the binary on that sandbox: the harness reserves free ports, writes
//! the configuration (the test supplies the `[[listen]]`/`[[sink]]` part,
//! with the ports it was given), starts `sinkd --config`, collects stderr on
//! a thread, and waits until `/healthz` answers — which, since the server
//! binds its listeners before the metrics endpoint, also means every
//! listener is up. A port taken by someone else between reservation and
//! bind makes the harness retry with fresh ports.
//!
//! Nothing here sleeps for a fixed time to let something happen: every wait
//! polls a condition under [`PATIENCE`], so tests assert outcomes, never
//! timings.

use std::ffi::OsString;
use std::io::{Read, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::{run_fed, sinkd_bin};

/// How long any expected event may take before a test fails. Generous: the
/// suite runs a debug build on two shared cores.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// Where the data directory lies inside a sandbox.
const DATA_SUBDIR: &str = "var/lib/sinkd/data";

/// A temporary directory for one test's configuration, certificates and
/// data.
pub(crate) struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub(crate) fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir.path().join(DATA_SUBDIR)
    }

    pub(crate) fn config_path(&self) -> PathBuf {
        self.dir.path().join("sinkd.toml")
    }

    /// Writes `contents` to `name` in the sandbox root and returns its path.
    pub(crate) fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write sandbox file");
        path
    }
}

/// Ports reserved on 127.0.0.1 for one server run. `udp` and `udp2` are
/// free for UDP, the others for TCP.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ports {
    pub(crate) udp: u16,
    pub(crate) udp2: u16,
    pub(crate) tcp: u16,
    pub(crate) tcp2: u16,
    pub(crate) tls: u16,
    pub(crate) metrics: u16,
}

impl Ports {
    /// Asks the kernel for free ports, holding every socket until all are
    /// chosen so no two coincide; they are released when this returns.
    fn reserve() -> Ports {
        let tcp = || TcpListener::bind("127.0.0.1:0").expect("reserve a TCP port");
        let udp = || UdpSocket::bind("127.0.0.1:0").expect("reserve a UDP port");
        let tcp_sockets = [tcp(), tcp(), tcp(), tcp()];
        let udp_sockets = [udp(), udp()];
        let tcp_port = |i: usize| tcp_sockets[i].local_addr().expect("local address").port();
        let udp_port = |i: usize| udp_sockets[i].local_addr().expect("local address").port();
        Ports {
            udp: udp_port(0),
            udp2: udp_port(1),
            tcp: tcp_port(0),
            tcp2: tcp_port(1),
            tls: tcp_port(2),
            metrics: tcp_port(3),
        }
    }
}

/// 127.0.0.1:`port`.
pub(crate) fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One `/metrics` scrape.
#[derive(Clone, Debug)]
pub(crate) struct Scrape {
    text: String,
}

impl Scrape {
    /// The value of one series, written exactly as Prometheus shows it
    /// (`sinkd_messages_received_total{transport="udp"}`).
    pub(crate) fn value(&self, series: &str) -> Option<f64> {
        self.text.lines().find_map(|line| {
            let rest = line.strip_prefix(series)?;
            rest.strip_prefix(' ')?.trim().parse().ok()
        })
    }

    /// A counter or gauge as an integer; a series that has not appeared yet
    /// counts as 0 (labelled series appear on first use).
    pub(crate) fn count(&self, series: &str) -> u64 {
        self.value(series).map_or(0, |value| value as u64)
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }
}

/// GET `path` over HTTP/1.1 and return the status and the body.
pub(crate) fn http_get(address: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_owned());
    Ok((status, body))
}

/// How a server run ended.
#[derive(Debug)]
pub(crate) struct Stopped {
    pub(crate) status: ExitStatus,
    pub(crate) log: String,
}

impl Stopped {
    /// `received=N` from the `sinkd stopped` line the server logs last.
    pub(crate) fn received(&self) -> u64 {
        let line = self
            .log
            .lines()
            .find(|line| line.contains("sinkd stopped"))
            .unwrap_or_else(|| panic!("no `sinkd stopped` line in the log:\n{}", self.log));
        line.split_whitespace()
            .find_map(|word| word.strip_prefix("received="))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no received=N in {line:?}"))
    }

    pub(crate) fn assert_clean_exit(&self) {
        assert!(
            self.status.success(),
            "sinkd exited with {}:\n{}",
            self.status,
            self.log
        );
    }
}

/// A running `sinkd` process.
pub(crate) struct Server {
    child: Child,
    pub(crate) ports: Ports,
    pub(crate) data_dir: PathBuf,
    config_path: PathBuf,
    log: Arc<Mutex<String>>,
    log_thread: Option<JoinHandle<()>>,
}

/// The part of the configuration every run shares.
fn config_header(data_dir: &Path, ports: &Ports, metrics_host: &str) -> String {
    format!(
        "data_dir = \"{}\"\nmetrics = \"{metrics_host}:{}\"\nworkers = 2\n\n",
        data_dir.display(),
        ports.metrics
    )
}

impl Server {
    /// Starts `sinkd` on `sandbox` with the configuration `body(ports)`
    /// (listeners, sinks, storage) below a header setting `data_dir`,
    /// `metrics` and `workers`, and waits until it serves `/healthz`.
    pub(crate) fn start(sandbox: &Sandbox, body: impl Fn(&Ports) -> String) -> Server {
        Server::start_with_env(sandbox, &[], body)
    }

    /// [`Server::start`] with extra environment variables (`NOTIFY_SOCKET`
    /// standing in for systemd, for one).
    pub(crate) fn start_with_env(
        sandbox: &Sandbox,
        env: &[(&str, &str)],
        body: impl Fn(&Ports) -> String,
    ) -> Server {
        Server::start_http_on(sandbox, env, "127.0.0.1", body)
    }

    /// [`Server::start_with_env`] with the http address on `metrics_host`
    /// (`0.0.0.0` to be reachable from a network namespace). Readiness is
    /// `/healthz` over plain HTTP or, for HTTPS, the "sinkd ready" log line.
    pub(crate) fn start_http_on(
        sandbox: &Sandbox,
        env: &[(&str, &str)],
        metrics_host: &str,
        body: impl Fn(&Ports) -> String,
    ) -> Server {
        let mut last_log = String::new();
        for _attempt in 0..4 {
            let ports = Ports::reserve();
            let data_dir = sandbox.data_dir();
            let config_path = sandbox.write(
                "sinkd.toml",
                config_header(&data_dir, &ports, metrics_host) + &body(&ports),
            );
            let args = [OsString::from("--config"), config_path.clone().into()];
            let mut server =
                Server::spawn(ports, data_dir, config_path, sandbox.root(), &args, env);
            match server.wait_ready() {
                Ok(()) => return server,
                Err(log) if log.contains("in use") => last_log = log,
                Err(log) => panic!("sinkd did not start:\n{log}"),
            }
        }
        panic!("sinkd found its ports taken four times:\n{last_log}");
    }

    /// Starts plain `sinkd` (the embedded default configuration: 514/udp,
    /// 514/tcp, metrics on 127.0.0.1:9514, data in `./sinkd-data`) with
    /// the sandbox as its working directory. `Err` carries the log when it
    /// could not start (a port taken, no permission).
    pub(crate) fn start_embedded_default(sandbox: &Sandbox) -> Result<Server, String> {
        let ports = Ports {
            udp: 514,
            udp2: 0,
            tcp: 514,
            tcp2: 0,
            tls: 0,
            metrics: 9514,
        };
        let data_dir = sandbox.root().join("sinkd-data");
        let mut server = Server::spawn(
            ports,
            data_dir,
            sandbox.config_path(),
            sandbox.root(),
            &[],
            &[],
        );
        server.wait_ready().map(|()| server)
    }

    fn spawn(
        ports: Ports,
        data_dir: PathBuf,
        config_path: PathBuf,
        cwd: &Path,
        args: &[OsString],
        env: &[(&str, &str)],
    ) -> Server {
        let mut child = Command::new(sinkd_bin())
            .args(args)
            .current_dir(cwd)
            .env("SINKD_LOG", "info")
            // Never notify a systemd the test suite itself runs under.
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sinkd");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&log);
        let log_thread = std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n_read) = stderr.read(&mut chunk) {
                if n_read == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&chunk[..n_read]);
                sink.lock().expect("log lock").push_str(&text);
            }
        });
        Server {
            child,
            ports,
            data_dir,
            config_path,
            log,
            log_thread: Some(log_thread),
        }
    }

    /// Waits for `/healthz`; on failure returns the log (and reaps the
    /// process).
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(Some(_status)) = self.child.try_wait() {
                self.join_log();
                return Err(self.log());
            }
            if let Ok((200, _)) = http_get(local(self.ports.metrics), "/healthz") {
                return Ok(());
            }
            if self.log().contains("sinkd ready") {
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.join_log();
                return Err(format!("no /healthz within {PATIENCE:?}\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn join_log(&mut self) {
        if let Some(thread) = self.log_thread.take() {
            let _ = thread.join();
        }
    }

    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Everything the server has logged so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    pub(crate) fn metrics_addr(&self) -> SocketAddr {
        local(self.ports.metrics)
    }

    pub(crate) fn scrape(&self) -> Scrape {
        match http_get(self.metrics_addr(), "/metrics") {
            Ok((200, text)) => Scrape { text },
            other => panic!("scrape failed: {other:?}\n{}", self.log()),
        }
    }

    /// Scrapes until `condition` holds and returns that scrape; fails the
    /// test after [`PATIENCE`] with the last scrape and the log.
    pub(crate) fn wait_for(&self, what: &str, condition: impl Fn(&Scrape) -> bool) -> Scrape {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let scrape = self.scrape();
            if condition(&scrape) {
                return scrape;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}\n--- metrics ---\n{}\n--- log ---\n{}",
                    scrape.text(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `series` reaches at least `n`.
    pub(crate) fn wait_count(&self, series: &str, n: u64) -> Scrape {
        self.wait_for(&format!("{series} >= {n}"), |scrape| {
            scrape.count(series) >= n
        })
    }

    /// Rewrites the configuration file (same header and ports) for a
    /// SIGHUP.
    pub(crate) fn rewrite_config(&self, body: &str) {
        std::fs::write(
            &self.config_path,
            config_header(&self.data_dir, &self.ports, "127.0.0.1") + body,
        )
        .expect("rewrite configuration");
    }

    pub(crate) fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) with a child's pid has no memory effects.
        let result = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(result, 0, "kill({}, {signal})", self.pid());
    }

    /// Waits for the process to exit (after a signal) and collects its log.
    pub(crate) fn wait_exit(mut self) -> Stopped {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for sinkd") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.join_log();
                panic!("sinkd did not exit within {PATIENCE:?}\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.join_log();
        Stopped {
            status,
            log: self.log(),
        }
    }

    /// SIGTERM, then wait for the drain to finish.
    pub(crate) fn stop(self) -> Stopped {
        self.signal(libc::SIGTERM);
        self.wait_exit()
    }

    /// SIGKILL: no drain, no flush.
    pub(crate) fn kill9(self) -> Stopped {
        self.signal(libc::SIGKILL);
        self.wait_exit()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends one datagram to 127.0.0.1:`port`.
pub(crate) fn send_udp(port: u16, payload: &[u8]) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("UDP client socket");
    socket.send_to(payload, local(port)).expect("send datagram");
}

/// Connects to 127.0.0.1:`port`, with read and write timeouts so a test
/// never hangs on a silent server.
pub(crate) fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect_timeout(&local(port), Duration::from_secs(5)).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    stream.set_write_timeout(Some(PATIENCE)).expect("timeout");
    stream
}

/// Waits until the peer closes `stream`, discarding anything it sends.
/// Returns whether it closed (EOF or reset) rather than timing out.
pub(crate) fn wait_closed(stream: &mut TcpStream) -> bool {
    let mut scratch = [0u8; 1024];
    loop {
        match stream.read(&mut scratch) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// Sends `bytes` on a fresh TCP connection, half-closes it and waits until
/// the server closes its side too — by then the server has read and handed
/// on everything.
pub(crate) fn send_tcp(port: u16, bytes: &[u8]) {
    let mut stream = connect(port);
    stream.write_all(bytes).expect("write");
    stream.shutdown(Shutdown::Write).expect("half-close");
    assert!(wait_closed(&mut stream), "server did not close after EOF");
}

/// `LEN SP MSG` (RFC 6587 octet counting).
pub(crate) fn octet_counted(message: &[u8]) -> Vec<u8> {
    let mut framed = format!("{} ", message.len()).into_bytes();
    framed.extend_from_slice(message);
    framed
}

/// Runs util-linux `logger` with `args` and asserts it succeeded.
pub(crate) fn logger(args: &[&str], stdin: &str) {
    let output = run_fed(
        Command::new("logger").args(args),
        stdin.as_bytes(),
        "logger (util-linux) is installed; .ci/run installs bsdutils",
    );
    assert!(output.status.success(), "logger {args:?}: {output:?}");
}

/// Every line of a stream with its sequence number.
pub(crate) fn read_stream(data_dir: &Path, stream: &str) -> Vec<(u64, String)> {
    let mut reader = sinkd_store::StreamReader::open(data_dir, stream)
        .unwrap_or_else(|error| panic!("open stream {stream}: {error}"));
    let mut lines = Vec::new();
    while let Some((seq, line)) = reader
        .next_line()
        .unwrap_or_else(|error| panic!("read stream {stream}: {error}"))
    {
        lines.push((seq, String::from_utf8_lossy(line).into_owned()));
    }
    lines
}

/// The stream paths under `data_dir`, sorted.
pub(crate) fn stream_names(data_dir: &Path) -> Vec<String> {
    sinkd_store::list_streams(data_dir)
        .expect("list streams")
        .into_iter()
        .map(|info| info.path)
        .collect()
}

/// Every file (not directory) below `dir`, recursively, symlinks included
/// as files.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("read_dir") {
            let entry = entry.expect("dir entry");
            let kind = entry.file_type().expect("file type");
            if kind.is_dir() {
                pending.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    files
}

/// This machine's hostname as `logger` reads it.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("read the hostname")
        .trim()
        .to_owned()
}

/// Whether the tests run as root.
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `true` as root; otherwise says the test is skipped for `what` and
/// returns `false` — except under CI, which runs the suite as root, where
/// it fails.
pub(crate) fn root_for(what: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} needs root, and CI runs the suite as root"
    );
    eprintln!("SKIPPED: {what} needs root (CI runs the suite as root)");
    false
}

/// A TCP connection to 127.0.0.1:`port` from `source` (any address of
/// 127.0.0.0/8 is local), for tests that need several senders.
pub(crate) fn connect_from(source: [u8; 4], port: u16) -> TcpStream {
    try_connect_from(source, port).expect("connect from a loopback address")
}

/// [`connect_from`], with the error instead of a panic (for floods that
/// may outrun the listener), giving up after two seconds.
pub(crate) fn try_connect_from(source: [u8; 4], port: u16) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((source, 0)).into())?;
    socket.connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)).into(),
        Duration::from_secs(2),
    )?;
    Ok(socket.into())
}
