//! The web console in a real browser: a sinkd under test gets messages
//! from a few devices over TCP, then `tests/console/browser.mjs` drives
//! headless Chromium (playwright-core, `/usr/bin/chromium`) through the
//! devices page and a device page — the listing, the filter and the
//! keyboard, the messages, a message sent after the page opened showing
//! up within 2 s, pause and resume, a search, a bad priority expression's
//! error — recording every request the pages make (any to another host
//! fails it). Two ignored runs make the screenshots in docs/console/ and
//! measure the devices page with 10,000 devices.

use crate::harness::*;
use crate::read::config;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one browser run may take.
const BROWSER_PATIENCE: Duration = Duration::from_secs(240);

fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console")
}

/// Installs playwright-core from the lock file unless it is there.
fn npm_ready() {
    let dir = console_dir();
    if dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .expect("run npm (apt-get install npm)");
    assert!(status.success(), "npm ci in {} failed", dir.display());
}

/// `node browser.mjs ARGS`: its JSON report, or a panic with its output.
fn browser(args: &[&str]) -> Value {
    npm_ready();
    let mut child = Command::new("node")
        .arg(console_dir().join("browser.mjs"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node (apt-get install nodejs)");
    let deadline = Instant::now() + BROWSER_PATIENCE;
    while child.try_wait().expect("wait for node").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("node's output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser {args:?} failed ({}):\n{stderr}\n{stdout}",
        output.status
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// An RFC 5424 line from `device`, stamped `minutes_ago` before now.
fn line(pri: u8, minutes_ago: i64, device: &str, app: &str, text: &str) -> String {
    let at = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(minutes_ago * 60);
    format!("<{pri}>1 {at} {device} {app} - - - {text}")
}

/// A small fleet's last hour: a core switch with link flaps and a fan
/// warning, a firewall with logins, an access switch with little to say.
fn fleet() -> Vec<String> {
    let mut lines = Vec::new();
    // Oldest first, as the devices sent them.
    for minute in (0..50i32).step_by(2).rev().map(i64::from) {
        let port = minute % 9 + 1;
        lines.push(line(
            13,
            minute,
            "core-sw1",
            "ifmgr",
            &format!("link up on port {port}"),
        ));
        if minute % 6 == 0 {
            lines.push(line(11, minute, "core-sw1", "ifmgr", "link down on port 7"));
        }
        if minute % 10 == 0 {
            lines.push(line(
                12,
                minute,
                "core-sw1",
                "envmon",
                "fan 2 speed below threshold",
            ));
        }
        lines.push(line(
            38,
            minute,
            "edge-fw2",
            "sshd",
            "Accepted publickey for admin from 10.0.0.5",
        ));
        if minute % 8 == 0 {
            lines.push(line(
                36,
                minute,
                "edge-fw2",
                "sshd",
                "Failed password for root from 192.0.2.44",
            ));
        }
    }
    for minute in [31, 17, 3] {
        lines.push(line(
            14,
            minute,
            "access-17",
            "dhcpd",
            "lease renewed for 10.1.7.20",
        ));
    }
    lines.push(line(
        10,
        1,
        "core-sw1",
        "kernel",
        "watchdog: CPU 1 stuck for 22s",
    ));
    lines
}

/// A sinkd holding [`fleet`]'s messages.
fn fleet_server(sandbox: &Sandbox) -> Server {
    fleet_server_with(sandbox, "")
}

/// [`fleet_server`] with `extra` after the test configuration.
fn fleet_server_with(sandbox: &Sandbox, extra: &str) -> Server {
    let server = Server::start(sandbox, |ports| format!("{}{extra}", config(ports)));
    let lines = fleet();
    // One TCP connection keeps them in order (UDP datagrams spread over
    // the workers).
    let stream: String = lines.iter().map(|text| format!("{text}\n")).collect();
    send_tcp(server.ports.tcp, stream.as_bytes());
    // Every line goes to `messages`; the auth ones (facility 4) also to
    // `auth.log`.
    let auth = lines.iter().filter(|l| l.starts_with("<3")).count();
    server.wait_count(
        "sinkd_store_lines_written_total",
        (lines.len() + auth) as u64,
    );
    server
}

fn url(server: &Server) -> String {
    format!("http://{}", server.metrics_addr())
}

#[test]
fn the_console_works_in_a_browser_and_asks_nothing_of_other_hosts() {
    let sandbox = Sandbox::new();
    let server = fleet_server(&sandbox);
    let udp = server.ports.udp.to_string();
    let report = browser(&["test", &url(&server), &udp]);
    assert_eq!(
        report["origins"],
        serde_json::json!([url(&server)]),
        "{report}"
    );
    assert!(
        report["live_ms"].as_u64().is_some_and(|ms| ms < 2000),
        "{report}"
    );
    eprintln!("console: {report}");
}

#[test]
fn with_a_token_the_console_asks_for_it_and_then_works() {
    let sandbox = Sandbox::new();
    let token = sandbox.write("console-token", "5ecret-console-70ken\n");
    let server = fleet_server_with(
        &sandbox,
        &format!("\n[http]\ntoken_file = \"{}\"\n", token.display()),
    );
    let report = browser(&["token", &url(&server), "5ecret-console-70ken"]);
    assert_eq!(report["token"], "ok", "{report}");
    assert_eq!(
        report["origins"],
        serde_json::json!([url(&server)]),
        "{report}"
    );
    server.stop().assert_clean_exit();
}

#[test]
fn the_stats_and_histogram_endpoints_answer_for_the_fleet() {
    let sandbox = Sandbox::new();
    let server = fleet_server(&sandbox);
    let address = server.metrics_addr();
    // The listing kept since start is older than the files: they show
    // once it is made again (in the background, after 5 s).
    let deadline = Instant::now() + PATIENCE;
    let core = loop {
        let (status, body) = http_get(address, "/api/v1/stats/devices").unwrap();
        assert_eq!(status, 200, "{body}");
        let stats: Value = serde_json::from_str(&body).unwrap();
        let core = stats["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == "core-sw1")
            .unwrap_or_else(|| panic!("{stats}"))
            .clone();
        if core["files"] == serde_json::json!(["messages"]) {
            break core;
        }
        assert!(Instant::now() < deadline, "no files for core-sw1: {stats}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(core["last_from"], "received");
    // 25 link ups, 9 link downs (err), 5 fan warnings, 1 crit.
    assert_eq!(
        core["severities"],
        serde_json::json!([0, 0, 1, 9, 5, 25, 0, 0])
    );
    assert!(core["bytes"].as_u64().is_some_and(|n| n > 0), "{core}");
    let (status, body) = http_get(address, "/api/v1/devices/core-sw1/histogram?since=1h").unwrap();
    assert_eq!(status, 200, "{body}");
    let histogram: Value = serde_json::from_str(&body).unwrap();
    let counts = histogram["counts"].as_array().unwrap();
    assert!((60..=61).contains(&counts.len()), "{body}");
    let total: u64 = counts
        .iter()
        .flat_map(|minute| minute.as_array().unwrap())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(total, 40);
    assert_eq!(histogram["complete"], true);
    for (query, expected) in [
        ("since=2d", "at most 24 hours"),
        ("since=1h&until=2h", "later than since"),
        ("priority=auth.bogus", "priority"),
        ("limit=5", "unknown parameter"),
    ] {
        let (status, body) = http_get(
            address,
            &format!("/api/v1/devices/core-sw1/histogram?{query}"),
        )
        .unwrap();
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(expected), "{query}: {body}");
    }
}

/// Writes docs/console/devices.png and device.png from [`fleet`]:
/// `cargo test -p sinkd --test it console::screenshots -- --ignored`.
#[test]
#[ignore = "writes the screenshots in docs/console/"]
fn screenshots() {
    let sandbox = Sandbox::new();
    let server = fleet_server(&sandbox);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/console");
    std::fs::create_dir_all(&dir).unwrap();
    let report = browser(&["screenshots", &url(&server), dir.to_str().unwrap()]);
    eprintln!("console: {report}");
}

/// The devices page with 10,000 devices, each having sent one message
/// over UDP: `cargo test -p sinkd --test it console::ten_thousand --
/// --ignored --nocapture` prints the load time.
#[test]
#[ignore = "a measurement"]
fn ten_thousand_devices() {
    const DEVICES: usize = 10_000;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, config);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for index in 0..DEVICES {
        let text = line(
            [11, 12, 13, 14][index % 4],
            0,
            &format!("sw-{index:05}"),
            "ifmgr",
            "link up on port 3",
        );
        socket
            .send_to(text.as_bytes(), local(server.ports.udp))
            .unwrap();
        if index % 500 == 499 {
            // Paced, so the kernel's receive buffer keeps up.
            server.wait_count("sinkd_store_lines_written_total", index as u64 + 1);
        }
    }
    server.wait_count("sinkd_store_lines_written_total", DEVICES as u64);
    let mut reports = Vec::new();
    for _ in 0..3 {
        reports.push(browser(&["perf", &url(&server)]));
    }
    for report in &reports {
        assert!(
            report["summary"]
                .as_str()
                .is_some_and(|s| s.starts_with("10000 devices")),
            "{report}"
        );
    }
    eprintln!("console, 10,000 devices: {reports:?}");
}
