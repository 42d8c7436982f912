//! Scenario matrices and the smoke verdict.

use super::servers::{ServerKind, Wire};
use super::{smoke_failures, Matrix, RunResult, Scenario, SMOKE_COUNT};
use crate::pool::SizeClass;
use std::time::Duration;

#[test]
fn matrices_cover_the_transports_and_the_scaling_runs() {
    let duration = Duration::from_secs(60);
    let transports = Matrix::Transports.scenarios(1_000_000, duration);
    let flat_out: Vec<Wire> = transports
        .iter()
        .filter(|s| s.rate.is_none())
        .map(|s| s.wire)
        .collect();
    assert_eq!(flat_out, Wire::ALL.to_vec());
    let paced: Vec<(Wire, u64)> = transports
        .iter()
        .filter_map(|s| Some((s.wire, s.rate? as u64)))
        .collect();
    assert_eq!(paced, vec![(Wire::Udp, 50_000), (Wire::Udp, 100_000)]);
    assert!(transports.iter().all(|s| s.count <= 1_000_000));
    let full = Matrix::Full.scenarios(1_000_000, duration);
    let devices: Vec<(u32, bool)> = full
        .iter()
        .filter(|s| s.wire == Wire::TcpLf && s.connections == 1 && s.size == SizeClass::Small)
        .map(|s| (s.devices, s.warm))
        .collect();
    assert_eq!(
        devices,
        vec![
            (1000, false),
            (100, false),
            (10_000, false),
            (100, true),
            (1000, true),
            (10_000, true),
            (100_000, true)
        ]
    );
    assert!(transports.iter().all(|s| !s.warm));
    assert!(full
        .iter()
        .filter(|s| s.warm)
        .all(|s| s.group == "devices-warm" && s.label().ends_with(", files exist (second run)")));
    assert!(full.iter().any(|s| s.connections == 50));
    assert!(full.iter().any(|s| s.size == SizeClass::Large));
    assert!(full
        .iter()
        .all(|s| s.count <= 1_000_000 && s.duration == duration));
    let smoke = Matrix::Smoke.scenarios(1_000_000, duration);
    assert_eq!(smoke.len(), 4);
    assert!(smoke.iter().all(|s| s.count == SMOKE_COUNT));
}

fn smoke_result(wire: Wire, expected: u64, written: u64) -> RunResult {
    let scenario = Scenario {
        group: "smoke".to_string(),
        wire,
        devices: 50,
        connections: 1,
        size: SizeClass::Small,
        count: SMOKE_COUNT,
        duration: Duration::from_secs(30),
        rate: None,
        warm: false,
    };
    let mut result = RunResult::failed(ServerKind::Sinkd, &scenario, String::new());
    result.error = None;
    result.sent = SMOKE_COUNT;
    result.expected = expected;
    result.written = written;
    result.settled = true;
    result
}

#[test]
fn smoke_fails_on_stream_loss_but_only_reports_udp_loss() {
    assert!(smoke_failures(&[smoke_result(Wire::TcpLf, 1000, 1000)]).is_empty());
    assert!(smoke_failures(&[smoke_result(Wire::Udp, 1000, 900)]).is_empty());
    let failures = smoke_failures(&[
        smoke_result(Wire::Tls, 1000, 999),
        smoke_result(Wire::TcpOctet, 1000, 1001),
    ]);
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures[0].contains("sinkd over tls: wrote 999 lines, expected exactly 1000"));
    let mut errored = smoke_result(Wire::Udp, 0, 0);
    errored.error = Some("rsyslogd not found".to_string());
    assert_eq!(smoke_failures(&[errored]).len(), 1);
}
