//! End-to-end checks of the two binaries, run by `cargo test`.
//!
//! `smoke_all_servers_write_exactly_what_passes_the_filter` is the CI
//! smoke scenario: `sinkd-compare --smoke` drives sinkd, rsyslog and
//! syslog-ng with 2,000 messages per transport (UDP, TCP with LF and with
//! octet-counting framing, TLS) and fails unless each wrote exactly the
//! lines that pass `*.notice;auth.*` over TCP and TLS. It needs the peers
//! (`load-tests/install-peers.sh`, which `.ci/run` runs) and the `sinkd`
//! binary that `cargo test --workspace` builds next to this test; it says
//! so plainly when either is missing. `SINKD_SMOKE_SERVERS=sinkd` limits
//! it to sinkd on a machine without the peers.

use std::path::PathBuf;
use std::process::Command;

/// The `sinkd` binary: `$SINKD_BIN`, else the one cargo built into this
/// test's profile directory (`target/debug/sinkd`).
fn sinkd_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SINKD_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/it-HASH -> target/debug/sinkd
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable inside target/PROFILE/deps");
    profile_dir.join("sinkd")
}

#[test]
fn smoke_all_servers_write_exactly_what_passes_the_filter() {
    let sinkd = sinkd_binary();
    assert!(
        sinkd.is_file(),
        "the sinkd binary is missing at {}: run `cargo test --workspace` (which builds it) or `cargo build -p sinkd`, or set SINKD_BIN",
        sinkd.display()
    );
    let servers =
        std::env::var("SINKD_SMOKE_SERVERS").unwrap_or_else(|_| "sinkd,rsyslog,syslog-ng".into());
    let work = tempfile::tempdir().expect("work dir");
    let report = work.path().join("smoke.json");
    let output = Command::new(env!("CARGO_BIN_EXE_sinkd-compare"))
        .arg("--smoke")
        .arg("--servers")
        .arg(&servers)
        .arg("--sinkd")
        .arg(&sinkd)
        .arg("--load")
        .arg(env!("CARGO_BIN_EXE_sinkd-load"))
        .arg("--work-dir")
        .arg(work.path().join("runs"))
        .arg("--json")
        .arg(&report)
        .output()
        .expect("run sinkd-compare");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "sinkd-compare --smoke failed ({}).\nIf rsyslog or syslog-ng is reported missing, install the peers with `bash load-tests/install-peers.sh` (as .ci/run does).\n{stderr}",
        output.status
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("smoke.json")).expect("JSON");
    let results = results.as_array().expect("array of runs");
    let n_servers = servers.split(',').count();
    assert_eq!(results.len(), 4 * n_servers, "one run per server and wire");
    for run in results {
        let server = run["server"].as_str().unwrap_or("?");
        let wire = run["scenario"]["wire"].as_str().unwrap_or("?");
        assert!(run["error"].is_null(), "{server}/{wire}: {}", run["error"]);
        assert_eq!(run["sent"], 2000, "{server}/{wire}");
        let expected = run["expected"].as_u64().expect("expected");
        assert!(
            (600..=1600).contains(&expected),
            "{server}/{wire}: the filter passed {expected} of 2000"
        );
        if wire != "udp" {
            assert_eq!(run["written"].as_u64(), Some(expected), "{server}/{wire}");
        }
        assert!(
            run["peak_rss_kib"].as_u64().unwrap_or(0) > 0,
            "{server}/{wire}"
        );
        assert!(
            run["device_dirs"].as_u64().unwrap_or(0) > 10,
            "{server}/{wire}: output was not split per device"
        );
    }
    for server in servers.split(',') {
        assert!(stdout.contains(&format!("| {server} |")), "{stdout}");
    }
}

#[test]
fn sinkd_load_refuses_to_send_off_this_machine() {
    let output = Command::new(env!("CARGO_BIN_EXE_sinkd-load"))
        .args(["--target", "192.0.2.10:514", "--count", "10"])
        .output()
        .expect("run sinkd-load");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
}

#[test]
fn sinkd_load_json_summary_counts_what_the_priority_selects() {
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let target = receiver.local_addr().expect("addr").to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_sinkd-load"))
        .args(["--target", &target, "--count", "500", "--devices", "7"])
        .args(["--priority", "*.*;*.!info", "--json", "--duration", "10"])
        .output()
        .expect("run sinkd-load");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(summary["sent"], 500);
    assert_eq!(summary["transport"], "udp");
    assert_eq!(summary["stopped_by"], "count");
    let passing = summary["passing"].as_u64().expect("passing");
    // `*.*;*.!info` keeps only debug: about a tenth of the mix.
    assert!((10..=120).contains(&passing), "{passing}");
    assert!(summary["udp_eagain"].is_u64() && summary["udp_enobufs"].is_u64());
}
