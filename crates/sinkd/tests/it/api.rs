//! The read API on the http address, asked with `curl` as an operator
//! would: devices and files, messages with every filter (checked against
//! `sinkd show --json` on the same data), the JSON errors, the Server-Sent
//! Events follow across rotation and its resumption by `Last-Event-ID`, and
//! the access rule — loopback only without authentication (a client in a
//! network namespace of the test's own is refused), a bearer token, and
//! HTTPS with client certificates.

use crate::harness::*;
use crate::netns::Namespace;
use crate::read::{assert_populated_listing, populated, sinkd};
use serde_json::Value;
use sinkd_tls::test_pki::Ca;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `curl ARGS URL`: the status and the body.
fn curl(args: &[&str], url: &str) -> (u16, String) {
    curl_through(&[], args, url)
}

/// `PREFIX curl ARGS URL` (a prefix such as `ip netns exec NS`): the
/// status (0 when there was no answer) and the body.
fn curl_through(prefix: &[&str], args: &[&str], url: &str) -> (u16, String) {
    let mut words = prefix.iter().chain(["curl"].iter());
    let mut command = Command::new(words.next().expect("a program"));
    let output = command
        .args(words)
        .args(["-s", "--max-time", "20", "-w", "\n%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .expect("run curl (apt-get install curl)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.trim().parse().unwrap_or(0), body.to_owned())
}

/// GET `path` on the server's http address; the status and the body as
/// JSON.
fn get(server: &Server, path: &str) -> (u16, Value) {
    let (status, body) = curl(&[], &format!("http://{}{path}", server.metrics_addr()));
    let json =
        serde_json::from_str(&body).unwrap_or_else(|error| panic!("GET {path}: {error}: {body:?}"));
    (status, json)
}

/// The `error` of a JSON error answer, asserting its status.
fn error_of(server: &Server, path: &str, status: u16) -> String {
    let (got, json) = get(server, path);
    assert_eq!(got, status, "GET {path}: {json}");
    json["error"]
        .as_str()
        .unwrap_or_else(|| panic!("GET {path}: no error in {json}"))
        .to_owned()
}

#[test]
fn devices_files_and_messages_as_show_gives_them() {
    let sandbox = Sandbox::new();
    let server = populated(&sandbox);
    let data_dir = sandbox.data_dir();

    let (status, devices) = get(&server, "/api/v1/devices");
    assert_eq!(status, 200);
    assert_populated_listing(&devices);
    let (status, files) = get(&server, "/api/v1/devices/sw2");
    assert_eq!(status, 200);
    assert_eq!(files[1]["name"], "messages");
    assert!(files[1]["segments"].as_u64().unwrap() > 1, "{files}");

    // Each query next to the `sinkd show` that must give the same objects.
    let cases: [(&str, &[&str]); 8] = [
        ("", &[]),
        (
            "since=2026-01-10T10:01:00Z&until=2026-01-10T10:02:00Z",
            &[
                "--since",
                "2026-01-10T10:01:00Z",
                "--until",
                "2026-01-10T10:02:00Z",
            ],
        ),
        ("priority=auth.*", &["--priority", "auth.*"]),
        (
            "priority=*.info%3B*.!notice",
            &["--priority", "*.info;*.!notice"],
        ),
        ("grep=n00%5B0-4%5D%20", &["--grep", "n00[0-4] "]),
        ("grep=n0123", &["--grep", "n0123"]),
        (
            "since=2026-01-10T10:02:00Z&priority=user.*&grep=padding&limit=7",
            &[
                "--since",
                "2026-01-10T10:02:00Z",
                "--priority",
                "user.*",
                "--grep",
                "padding",
                "--tail",
                "7",
            ],
        ),
        ("limit=0", &["--tail", "0"]),
    ];
    for (query, show_args) in cases {
        let (status, listed) = get(&server, &format!("/api/v1/devices/sw2/messages?{query}"));
        assert_eq!(status, 200, "{query}: {listed}");
        let mut args = vec!["show", "sw2", "--json"];
        args.extend_from_slice(show_args);
        let shown = sinkd(&data_dir, &args);
        assert!(shown.status.success(), "{args:?}: {shown:?}");
        let shown: Vec<Value> = String::from_utf8_lossy(&shown.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).expect("show --json line"))
            .collect();
        assert_eq!(listed.as_array().unwrap(), &shown, "{query} vs {args:?}");
        if query.is_empty() {
            assert_eq!(shown.len(), 300);
        }
    }
    let (_, auth) = get(&server, "/api/v1/devices/sw2/messages?file=auth.log");
    assert_eq!(auth.as_array().unwrap().len(), 30);
    assert!(auth.as_array().unwrap().iter().all(|m| m["facility"] == 4));
    let (_, newest) = get(&server, "/api/v1/devices/sw2/messages?limit=2");
    let msgs: Vec<&str> = newest
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["msg"].as_str().unwrap())
        .collect();
    assert_eq!(
        msgs,
        [
            "n0298 some padding to fill segments",
            "n0299 some padding to fill segments"
        ]
    );

    // Unknown names: 404, the closest existing first.
    let unknown = error_of(&server, "/api/v1/devices/sw3/messages", 404);
    assert!(
        unknown.contains("sw3") && unknown.contains("closest: sw1, sw2"),
        "{unknown}"
    );
    let unknown = error_of(&server, "/api/v1/devices/sw3", 404);
    assert!(unknown.contains("sw3"), "{unknown}");
    let unknown = error_of(&server, "/api/v1/devices/sw2/messages?file=auth", 404);
    assert!(unknown.contains("auth.log"), "{unknown}");
    let unknown = error_of(&server, "/api/v1/things", 404);
    assert!(unknown.contains("/api/v1/devices"), "{unknown}");
    // Bad parameters: 400, naming what is wrong.
    for (query, fragment) in [
        ("since=yesterday", "since \"yesterday\""),
        ("until=2026-13-01", "until"),
        ("priority=auth.bogus", "priority \"auth.bogus\""),
        ("grep=(", "grep \"(\""),
        ("limit=ten", "limit \"ten\""),
        ("limit=100001", "limit"),
        ("tail=3", "unknown parameter \"tail\""),
        ("limit=1&limit=2", "twice"),
    ] {
        let message = error_of(
            &server,
            &format!("/api/v1/devices/sw2/messages?{query}"),
            400,
        );
        assert!(message.contains(fragment), "{query}: {message}");
    }
    let (status, body) = curl(
        &["-X", "POST", "-i"],
        &format!("http://{}/api/v1/devices", server.metrics_addr()),
    );
    assert_eq!(status, 405, "{body}");
    assert!(body.to_ascii_lowercase().contains("allow: get"), "{body}");
    server.stop().assert_clean_exit();
}

/// A running `curl -N` on an SSE endpoint, its lines read on a thread;
/// `open` returns once the server has fixed where the stream starts.
struct EventStream {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl EventStream {
    fn open(url: &str, extra: &[&str]) -> EventStream {
        let mut child = Command::new("curl")
            .args(["-sN", "--max-time", "120"])
            .args(extra)
            .arg(url)
            .stdout(Stdio::piped())
            .spawn()
            .expect("run curl");
        let stdout = child.stdout.take().expect("curl stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        // The server sends its opening comment once the stream's start is
        // fixed; what is stored after that is the stream's to see.
        match lines.recv_timeout(PATIENCE) {
            Ok(first) => assert_eq!(first, ": following", "{url}"),
            Err(_) => panic!("{url}: no opening comment"),
        }
        EventStream { child, lines }
    }

    /// The next `n` events as (id, JSON object), skipping comments.
    fn events(&self, n: usize) -> Vec<(u64, Value)> {
        let deadline = Instant::now() + PATIENCE;
        let mut events = Vec::new();
        let mut id = None;
        while events.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("only {} of {n} events: {events:?}", events.len()));
            if let Some(value) = line.strip_prefix("id: ") {
                id = Some(value.parse::<u64>().expect("numeric id"));
            } else if let Some(data) = line.strip_prefix("data: ") {
                let object = serde_json::from_str(data).expect("JSON data");
                events.push((id.take().expect("id before data"), object));
            }
        }
        events
    }

    /// Whether an event arrives within `wait` (comments do not count).
    fn quiet_for(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with("data: ") => return false,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        true
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn line(index: usize) -> String {
    let pri = if index.is_multiple_of(3) { 38 } else { 14 };
    format!("<{pri}>1 2026-03-01T08:00:00Z fw1 app - - - f{index:04} padding for rotation\n")
}

fn lines(range: std::ops::Range<usize>) -> String {
    range.map(line).collect()
}

fn msg_numbers(events: &[(u64, Value)]) -> Vec<usize> {
    events
        .iter()
        .map(|(_, object)| object["msg"].as_str().unwrap()[1..5].parse().unwrap())
        .collect()
}

#[test]
fn follow_streams_new_messages_across_rotation_and_resumes() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, crate::follow::config);
    send_tcp(server.ports.tcp, lines(0..10).as_bytes());
    server.wait_count("sinkd_store_lines_written_total", 10);
    let base = format!("http://{}/api/v1/devices/fw1/follow", server.metrics_addr());

    // tail=3: the last three stored, then what comes; a filtered follow
    // beside it sees only its own.
    let all = EventStream::open(&format!("{base}?tail=3"), &[]);
    let auth = EventStream::open(&format!("{base}?priority=auth.*"), &[]);
    assert_eq!(msg_numbers(&all.events(3)), [7, 8, 9]);
    // 200 lines of ~80 bytes: several rotations of 4K segments while
    // following.
    send_tcp(server.ports.tcp, lines(10..210).as_bytes());
    let events = all.events(200);
    assert_eq!(msg_numbers(&events), (10..210).collect::<Vec<_>>());
    let ids: Vec<u64> = events.iter().map(|(id, _)| *id).collect();
    assert!(
        ids.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "ids {ids:?}"
    );
    let auth_events = auth.events(200 / 3);
    assert!(msg_numbers(&auth_events).iter().all(|n| n % 3 == 0));
    assert!(
        std::fs::read_dir(server.data_dir.join("fw1/messages"))
            .unwrap()
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".zst"))
            .count()
            >= 2
    );

    // A client that lost the stream resumes after the last id it saw.
    let last_id = ids.last().copied().unwrap();
    drop(all);
    send_tcp(server.ports.tcp, lines(210..215).as_bytes());
    let resumed = EventStream::open(&base, &["-H", &format!("Last-Event-ID: {}", last_id)]);
    let events = resumed.events(5);
    assert_eq!(msg_numbers(&events), [210, 211, 212, 213, 214]);
    assert_eq!(events[0].0, last_id + 1);
    // Without a start of its own, a follow begins at the end.
    let fresh = EventStream::open(&base, &[]);
    assert!(fresh.quiet_for(Duration::from_millis(700)));
    send_tcp(server.ports.tcp, lines(215..216).as_bytes());
    assert_eq!(msg_numbers(&fresh.events(1)), [215]);

    let (status, body) = curl(&[], &format!("{base}?until=1h"));
    assert_eq!(status, 400, "{body}");
    let (status, body) = curl(&["-H", "Last-Event-ID: x"], &base);
    assert_eq!(status, 400, "{body}");
    let (status, _) = curl(
        &[],
        &format!("http://{}/api/v1/devices/fw9/follow", server.metrics_addr()),
    );
    assert_eq!(status, 404);
    drop((fresh, resumed, auth));
    server.stop().assert_clean_exit();
}

/// `curl ARGS URL` run inside `namespace`.
fn curl_in(namespace: &Namespace, args: &[&str], url: &str) -> (u16, String) {
    curl_through(&["ip", "netns", "exec", &namespace.name], args, url)
}

/// Waits until a `.log` segment of `stream` holds `text` (for a server
/// whose `/metrics` is behind HTTPS).
fn wait_stored(stream: &std::path::Path, text: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let stored = std::fs::read_dir(stream)
            .into_iter()
            .flatten()
            .flatten()
            .any(|entry| {
                entry.file_name().to_string_lossy().ends_with(".log")
                    && std::fs::read_to_string(entry.path())
                        .is_ok_and(|content| content.contains(text))
            });
        if stored {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{text:?} never stored in {stream:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn small_config(ports: &Ports, http: &str) -> String {
    format!(
        "[[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{}\"\n\n[[sink]]\ntarget = \"file {{device}}/messages\"\npriority = \"*.*\"\n\n{http}",
        ports.tcp
    )
}

#[test]
fn other_hosts_read_only_with_a_token() {
    if !root_for("a network namespace") {
        return;
    }
    let namespace = Namespace::new("api", 231);
    let sandbox = Sandbox::new();

    // No authentication configured: loopback reads, others get 403 and
    // still get /metrics and /healthz.
    let server = Server::start_http_on(&sandbox, &[], "0.0.0.0", |ports| small_config(ports, ""));
    send_tcp(
        server.ports.tcp,
        b"<13>1 2026-03-01T08:00:00Z r1 app - - - one\n",
    );
    server.wait_count("sinkd_store_lines_written_total", 1);
    let remote = format!("http://{}:{}", namespace.host_ip, server.ports.metrics);
    let (status, body) = curl_in(&namespace, &[], &format!("{remote}/api/v1/devices"));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("loopback"), "{body}");
    let (status, body) = curl_in(
        &namespace,
        &[],
        &format!("{remote}/api/v1/devices/r1/messages"),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        curl_in(&namespace, &[], &format!("{remote}/healthz")).0,
        200
    );
    let (status, body) = curl_in(&namespace, &[], &format!("{remote}/metrics"));
    assert_eq!(status, 200);
    assert!(body.contains("sinkd_store_lines_written_total"));
    assert_eq!(get(&server, "/api/v1/devices").0, 200);
    server.stop().assert_clean_exit();

    // A token: everyone presents it, loopback included.
    let token = sandbox.write("api-token", "  c0ffee-70ken\n");
    let http = format!("[http]\ntoken_file = \"{}\"\n", token.display());
    let server =
        Server::start_http_on(&sandbox, &[], "0.0.0.0", |ports| small_config(ports, &http));
    let remote = format!("http://{}:{}", namespace.host_ip, server.ports.metrics);
    let good = ["-H", "Authorization: Bearer c0ffee-70ken"];
    let (status, body) = curl_in(
        &namespace,
        &good,
        &format!("{remote}/api/v1/devices/r1/messages"),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"msg\":\"one\""), "{body}");
    let (status, body) = curl_in(&namespace, &[], &format!("{remote}/api/v1/devices"));
    assert_eq!(status, 401, "{body}");
    let (status, _) = curl_in(
        &namespace,
        &["-H", "Authorization: Bearer c0ffee-70kem"],
        &format!("{remote}/api/v1/devices"),
    );
    assert_eq!(status, 401);
    let (status, _) = curl(
        &[],
        &format!("http://{}/api/v1/devices", server.metrics_addr()),
    );
    assert_eq!(status, 401);
    let (status, _) = curl(
        &good,
        &format!("http://{}/api/v1/devices", server.metrics_addr()),
    );
    assert_eq!(status, 200);
    assert_eq!(
        curl_in(&namespace, &[], &format!("{remote}/metrics")).0,
        200
    );
    server.stop().assert_clean_exit();
}

#[test]
fn https_with_client_certificates() {
    let sandbox = Sandbox::new();
    let ca = Ca::new("sinkd test http CA");
    let ca_file = ca.write_pem(sandbox.root(), "ca");
    let (cert, key) = ca
        .server_cert("localhost")
        .write_pem(sandbox.root(), "server");
    let (client_cert, client_key) = ca
        .client_cert("operator")
        .write_pem(sandbox.root(), "client");
    let stranger = Ca::new("another CA");
    let (bad_cert, bad_key) = stranger
        .client_cert("stranger")
        .write_pem(sandbox.root(), "stranger");
    let http = format!(
        "[http]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n",
        cert.display(),
        key.display(),
        ca_file.display()
    );
    let server = Server::start(&sandbox, |ports| small_config(ports, &http));
    send_tcp(
        server.ports.tcp,
        b"<13>1 2026-03-01T08:00:00Z r2 app - - - secret\n",
    );
    wait_stored(&server.data_dir.join("r2/messages"), "secret");
    let base = format!("https://localhost:{}", server.ports.metrics);
    let resolve = format!("localhost:{}:127.0.0.1", server.ports.metrics);
    let ca_path = ca_file.display().to_string();
    let trust = ["--resolve", resolve.as_str(), "--cacert", ca_path.as_str()];

    let (status, body) = curl(&trust, &format!("{base}/metrics"));
    assert_eq!(status, 200, "{body}");
    let (status, body) = curl(&trust, &format!("{base}/api/v1/devices"));
    assert_eq!(status, 401, "{body}");
    let (client_cert, client_key) = (
        client_cert.display().to_string(),
        client_key.display().to_string(),
    );
    let mut with_cert = trust.to_vec();
    with_cert.extend_from_slice(&["--cert", &client_cert, "--key", &client_key]);
    let (status, body) = curl(&with_cert, &format!("{base}/api/v1/devices/r2/messages"));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"msg\":\"secret\""), "{body}");
    // A certificate from another CA fails the handshake.
    let (bad_cert, bad_key) = (
        bad_cert.display().to_string(),
        bad_key.display().to_string(),
    );
    let mut with_bad = trust.to_vec();
    with_bad.extend_from_slice(&["--cert", &bad_cert, "--key", &bad_key]);
    let (status, _) = curl(&with_bad, &format!("{base}/api/v1/devices"));
    assert_eq!(status, 0);
    // The container's probe reads the configuration and pins its
    // certificate; plain HTTP on the HTTPS address gets nothing.
    let probe = Command::new(crate::support::sinkd_bin())
        .arg("--config")
        .arg(sandbox.config_path())
        .arg("healthcheck")
        .output()
        .expect("run sinkd healthcheck");
    assert!(probe.status.success(), "{probe:?}");
    let plain_probe = Command::new(crate::support::sinkd_bin())
        .args(["healthcheck", "--timeout", "1", "--address"])
        .arg(server.metrics_addr().to_string())
        .output()
        .expect("run sinkd healthcheck");
    assert!(!plain_probe.status.success(), "{plain_probe:?}");
    let (status, _) = curl(&[], &format!("http://{}/healthz", server.metrics_addr()));
    assert_ne!(status, 200);
    server.stop().assert_clean_exit();
}
