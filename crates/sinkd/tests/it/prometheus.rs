//! The shipped monitoring files against the real tools: `promtool` checks
//! `deploy/prometheus/` and runs its rule unit tests; then a real
//! `prometheus` server (Debian package `prometheus`) scrapes a real sinkd
//! every second with the shipped configuration and rules (durations
//! shortened), and its alerts go to firing for real causes: a device that
//! stops sending, a reload refused after SIGHUP. Every query of
//! `deploy/grafana/sinkd.json` names only metrics sinkd exports and is
//! evaluated by that server.

use crate::harness::{local, send_udp, Sandbox, Server, PATIENCE};
use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `deploy/` at the top of the repository.
fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// Runs `promtool ARGS` in `dir` and fails the test with its output unless
/// it succeeds.
fn promtool(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run promtool (Debian package prometheus)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn shipped_prometheus_files_pass_promtool() {
    let dir = deploy_dir().join("prometheus");
    let rules = promtool(&dir, &["check", "rules", "sinkd-rules.yml"]);
    assert!(rules.contains("SUCCESS"), "{rules}");
    // check config also checks the rule files it names.
    promtool(&dir, &["check", "config", "prometheus.yml"]);
    let tests = promtool(&dir, &["test", "rules", "sinkd-rules.test.yml"]);
    assert!(tests.contains("SUCCESS"), "{tests}");
}

/// Replaces `from` (which must occur) by `to` everywhere in `text`.
fn replace_present(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the shipped file");
    text.replace(from, to)
}

/// The shipped rules with the waits shortened: a device is silent after 3
/// seconds instead of 10 minutes, and every `for:` is 1 second.
fn shortened_rules() -> String {
    let shipped = std::fs::read_to_string(deploy_dir().join("prometheus/sinkd-rules.yml"))
        .expect("read sinkd-rules.yml");
    let silent = replace_present(&shipped, "> 10 * 60", "> 3");
    silent
        .lines()
        .map(|line| match line.split_once("for: ") {
            Some((indent, _)) if indent.trim().is_empty() => format!("{indent}for: 1s"),
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The shipped scrape configuration, scraping `target` every second and
/// loading `rules`.
fn scrape_config(target: &str, rules: &Path) -> String {
    let shipped = std::fs::read_to_string(deploy_dir().join("prometheus/prometheus.yml"))
        .expect("read prometheus.yml");
    let text = replace_present(&shipped, "127.0.0.1:9514", target);
    let text = replace_present(&text, "scrape_interval: 15s", "scrape_interval: 1s");
    let text = replace_present(&text, "evaluation_interval: 15s", "evaluation_interval: 1s");
    replace_present(
        &text,
        "- sinkd-rules.yml",
        &format!("- {}", rules.display()),
    )
}

/// Percent-encodes a query parameter.
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// A `prometheus` server in a sandbox, killed when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Prometheus {
    fn start(sandbox: &Sandbox, config: &Path) -> Prometheus {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("reserve a port")
            .port();
        let log = sandbox.root().join("prometheus.log");
        let log_file = std::fs::File::create(&log).expect("create prometheus.log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                sandbox.root().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start prometheus (Debian package prometheus)");
        let server = Prometheus { child, port, log };
        server.wait("Prometheus ready", || {
            server
                .get("/-/ready")
                .is_some_and(|(status, _)| status == 200)
        });
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET over HTTP/1.0 (so the answer is never chunked).
    fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut stream =
            TcpStream::connect_timeout(&local(self.port), Duration::from_secs(2)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let status = response.split_whitespace().nth(1)?.parse().ok()?;
        let (_, body) = response.split_once("\r\n\r\n")?;
        Some((status, body.to_owned()))
    }

    /// The JSON answer of an API call.
    fn api(&self, path: &str) -> serde_json::Value {
        let (status, body) = self
            .get(path)
            .unwrap_or_else(|| panic!("no answer to {path}\n{}", self.log()));
        serde_json::from_str(&body)
            .unwrap_or_else(|error| panic!("{path} answered {status} {body:?}: {error}"))
    }

    /// `/api/v1/query` for `expr`.
    fn query(&self, expr: &str) -> serde_json::Value {
        self.api(&format!("/api/v1/query?query={}", url_encode(expr)))
    }

    /// Polls `condition` until it holds; fails after twice [`PATIENCE`].
    fn wait(&self, what: &str, condition: impl Fn() -> bool) {
        let deadline = Instant::now() + 2 * PATIENCE;
        while !condition() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n--- prometheus log ---\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Waits until `alertname` fires with every label in `labels`.
    fn wait_firing(&self, alertname: &str, labels: &[(&str, &str)]) -> serde_json::Value {
        let found = std::cell::RefCell::new(serde_json::Value::Null);
        self.wait(&format!("{alertname} {labels:?} firing"), || {
            let answer = self.api("/api/v1/alerts");
            let alerts = answer["data"]["alerts"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let hit = alerts.into_iter().find(|alert| {
                alert["state"] == "firing"
                    && alert["labels"]["alertname"] == alertname
                    && labels
                        .iter()
                        .all(|(name, value)| alert["labels"][name] == *value)
            });
            hit.map(|alert| found.replace(alert)).is_some()
        });
        found.into_inner()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port that accepts connections and reads them to the end: a
/// relay target that takes everything.
fn discarding_target() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay target");
    let port = listener.local_addr().expect("local address").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut stream, &mut std::io::sink());
            });
        }
    });
    port
}

/// A UDP listener, a file sink and a relay sink (so the relay metrics the
/// dashboard reads exist).
fn config(ports: &crate::harness::Ports, relay_port: u16) -> String {
    format!(
        r#"
[[listen]]
transport = "udp"
address = "127.0.0.1:{udp}"

[[sink]]
name = "messages"
target = "file {{device}}/messages"
priority = "*.*"

[[sink]]
name = "central"
target = "tcp address 127.0.0.1:{relay_port}"
priority = "*.*"
"#,
        udp = ports.udp
    )
}

/// Aggregation operators: followed by `by (...)` as often as by `(`.
const AGGREGATIONS: [&str; 12] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];

/// Identifiers that are PromQL keywords, not metric names.
const KEYWORDS: [&str; 11] = [
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names `expr` reads: identifiers outside strings, label
/// matchers, ranges and grouping lists that are not functions or keywords.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut skip_group = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                let mut quoted = false;
                while i < chars.len() && (quoted || chars[i] != close) {
                    match chars[i] {
                        '\\' if quoted => i += 1,
                        '"' => quoted = !quoted,
                        _ => {}
                    }
                    i += 1;
                }
                i += 1;
            }
            '(' if skip_group => {
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
                skip_group = false;
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..].iter().find(|c| !c.is_whitespace());
                // Only a grouping keyword's own list is skipped.
                skip_group = matches!(
                    word.as_str(),
                    "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                );
                let keyword =
                    KEYWORDS.contains(&word.as_str()) || AGGREGATIONS.contains(&word.as_str());
                if !keyword && next != Some(&'(') {
                    names.insert(word);
                }
            }
            c if c.is_ascii_digit() => {
                // A number (or a duration after offset): digits, dots,
                // exponent and unit letters.
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    names
}

#[test]
fn metric_names_skip_functions_labels_and_groupings() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (le) (rate(a_bucket{instance=~"$x", b="c{d}"}[1m]))) / on (instance) group_left b_total > 0.5e3 or vector(0) + count(time() - c_seconds offset 5m)"#,
    );
    assert_eq!(
        names,
        BTreeSet::from([
            "a_bucket".to_owned(),
            "b_total".to_owned(),
            "c_seconds".to_owned()
        ])
    );
}

/// Every `expr` in a Grafana dashboard, wherever it is nested.
fn dashboard_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                    _ => dashboard_exprs(item, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| dashboard_exprs(item, out)),
        _ => {}
    }
}

/// The names of every sample in a scrape (histograms with their suffixes).
fn exported_names(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn real_prometheus_fires_the_shipped_rules_and_evaluates_the_dashboard() {
    let sandbox = Sandbox::new();
    let relay_port = discarding_target();
    let server = Server::start(&sandbox, |ports| config(ports, relay_port));
    let target = format!("127.0.0.1:{}", server.ports.metrics);
    let rules = sandbox.write("sinkd-rules.yml", shortened_rules());
    let prometheus_yml = sandbox.write("prometheus.yml", scrape_config(&target, &rules));
    promtool(sandbox.root(), &["check", "config", "prometheus.yml"]);

    // A device sends a few messages, then falls silent.
    for seq in 0..5 {
        send_udp(
            server.ports.udp,
            format!("<14>Oct 11 22:14:15 fw-prom app: message {seq}").as_bytes(),
        );
    }
    server.wait_for("fw-prom's last-seen time", |scrape| {
        scrape
            .value("sinkd_device_last_seen_seconds{device=\"fw-prom\"}")
            .is_some()
    });

    let prometheus = Prometheus::start(&sandbox, &prometheus_yml);
    prometheus.wait("sinkd scraped", || {
        let answer = prometheus.query("up{job=\"sinkd\"} == 1");
        answer["data"]["result"]
            .as_array()
            .is_some_and(|result| !result.is_empty())
    });

    let silent = prometheus.wait_firing("DeviceSilent", &[("device", "fw-prom")]);
    assert_eq!(silent["labels"]["severity"], "warning", "{silent}");
    assert_eq!(silent["labels"]["instance"], target.as_str(), "{silent}");

    // A configuration that does not parse: sinkd refuses the reload and
    // runs on; the alert says so.
    server.rewrite_config("[[sink]\nname = broken\n");
    server.signal(libc::SIGHUP);
    server.wait_count("sinkd_config_reloads_total{result=\"error\"}", 1);
    let failed = prometheus.wait_firing("ReloadFailed", &[("instance", target.as_str())]);
    assert!(
        failed["annotations"]["summary"]
            .as_str()
            .is_some_and(|summary| summary.contains("reload")),
        "{failed}"
    );

    // The dashboard: every metric it names is exported, every query runs.
    let exported = exported_names(server.scrape().text());
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(deploy_dir().join("grafana/sinkd.json")).expect("read sinkd.json"),
    )
    .expect("sinkd.json is JSON");
    assert_eq!(dashboard["schemaVersion"], 39);
    let mut exprs = Vec::new();
    dashboard_exprs(&dashboard["panels"], &mut exprs);
    assert!(exprs.len() >= 20, "{exprs:?}");
    let mut answered = 0;
    for expr in &exprs {
        for name in metric_names(expr) {
            assert!(
                name == "up" || exported.contains(&name),
                "{expr} names {name}, which sinkd does not export"
            );
        }
        let concrete = expr
            .replace("$__rate_interval", "1m")
            .replace("$instance", ".*");
        let answer = prometheus.query(&concrete);
        assert_eq!(answer["status"], "success", "{concrete}: {answer}");
        if answer["data"]["result"]
            .as_array()
            .is_some_and(|result| !result.is_empty())
        {
            answered += 1;
        }
    }
    // Most panels have data already (relays and connections need traffic
    // this run does not make).
    assert!(answered * 2 > exprs.len(), "{answered} of {}", exprs.len());
    let received = prometheus.query("sum(sinkd_messages_received_total{transport=\"udp\"})");
    assert_eq!(received["data"]["result"][0]["value"][1], "5", "{received}");

    drop(prometheus);
    server.stop().assert_clean_exit();
}
