//! The Markdown report: numbers, ratios and failures as printed.

use super::{markdown, thousands};
use crate::compare::servers::{ServerKind, Wire};
use crate::compare::{RunResult, Scenario};
use crate::pool::SizeClass;
use std::time::Duration;

fn scenario() -> Scenario {
    Scenario {
        group: "transports".to_string(),
        wire: Wire::TcpLf,
        devices: 1000,
        connections: 1,
        size: SizeClass::Small,
        count: 1_000_000,
        duration: Duration::from_secs(60),
        rate: None,
        warm: false,
    }
}

fn result(server: ServerKind, rate: f64, cpu: f64, rss_kib: u64, loss: u64) -> RunResult {
    RunResult {
        server,
        scenario: scenario(),
        sent: 1_000_000,
        expected: 520_000,
        written_settled: 520_000 - loss,
        written: 520_000 - loss,
        device_dirs: 1000,
        seconds: 2.0,
        msgs_per_second: rate,
        loss,
        extra: 0,
        received: 1_000_000,
        cpu_seconds: cpu,
        cpu_seconds_per_million: cpu,
        peak_rss_kib: rss_kib,
        settled: true,
        load: None,
        error: None,
    }
}

#[test]
fn thousands_separators() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(1_234_567), "1,234,567");
}

#[test]
fn ratios_favour_sinkd_above_one_and_show_where_it_is_worse() {
    let results = vec![
        result(ServerKind::Sinkd, 400_000.0, 2.0, 40 * 1024, 0),
        result(ServerKind::Rsyslog, 100_000.0, 6.0, 20 * 1024, 0),
        result(ServerKind::SyslogNg, 800_000.0, 1.0, 80 * 1024, 5_200),
    ];
    let text = markdown(&results);
    assert!(
        text.contains(
            "**tcp-lf, 1000 devices, 1 conn, ~200 B, flat out** (1,000,000 messages sent per server)"
        ),
        "{text}"
    );
    assert!(
        text.contains("| sinkd | 400,000 | 500,000 | 0 of 520,000 | 2.00 | 40.0 | — | — | — |"),
        "{text}"
    );
    assert!(
        text.contains(
            "| rsyslog | 100,000 | 500,000 | 0 of 520,000 | 6.00 | 20.0 | 4.00× | 3.00× | 0.50× |"
        ),
        "{text}"
    );
    assert!(text.contains("| syslog-ng | 800,000 | 500,000 | 5,200 of 520,000 (1.00%) | 1.00 | 80.0 | 0.50× | 0.50× | 2.00× |"), "{text}");
}

#[test]
fn failed_runs_are_shown_not_hidden() {
    let mut failed = result(ServerKind::Rsyslog, 0.0, 0.0, 0, 0);
    failed.error = Some("rsyslog exited during startup\nmore".to_string());
    let text = markdown(&[result(ServerKind::Sinkd, 1.0, 1.0, 1, 0), failed]);
    assert!(
        text.contains("| rsyslog | failed: rsyslog exited during startup |"),
        "{text}"
    );
}

#[test]
fn results_survive_a_json_round_trip_for_rendering_later() {
    let results = vec![
        result(ServerKind::Sinkd, 400_000.0, 2.0, 40 * 1024, 0),
        result(ServerKind::SyslogNg, 800_000.0, 1.0, 80 * 1024, 5_200),
    ];
    let json = serde_json::to_string(&results).unwrap();
    let back: Vec<RunResult> = serde_json::from_str(&json).unwrap();
    assert_eq!(markdown(&back), markdown(&results));
}
