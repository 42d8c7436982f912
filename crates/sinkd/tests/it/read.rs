//! Reading back what was stored: `sinkd dir` and `sinkd show` against a
//! real server's data directory — several devices over UDP and TCP, small
//! segments so the history spans closed (zstd) and active segments, every
//! filter alone and combined, `--json`, `--tail`, unknown names, and the
//! same reads once the server has stopped.

use crate::harness::*;
use crate::support::sinkd_bin;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `sw2`'s history: one line a second from 2026-01-10T10:00:00Z.
const SW2_LINES: usize = 300;
/// `sw1`'s lines, stamped with the current time.
const SW1_LINES: usize = 40;
/// `core`'s lines.
const CORE_LINES: usize = 5;

pub(crate) fn config(ports: &Ports) -> String {
    let listeners: String = [("udp", ports.udp), ("tcp", ports.tcp)]
        .iter()
        .map(|(transport, port)| {
            format!("[[listen]]\ntransport = \"{transport}\"\naddress = \"127.0.0.1:{port}\"\n\n")
        })
        .collect();
    listeners
        + r#"
[[sink]]
name = "messages"
target = "file {device}/messages"
priority = "*.*"
format = "rfc5424"

[[sink]]
name = "auth"
target = "file {device}/auth.log"
priority = "auth.*;authpriv.*"
format = "rfc5424"

[storage]
rotate_size = "4K"
rotate_count = 0
"#
}

/// Line `index` of `sw2`: every tenth is auth.notice, the rest user.info.
pub(crate) fn sw2_line(index: usize) -> String {
    let pri = if index.is_multiple_of(10) { 37 } else { 14 };
    format!(
        "<{pri}>1 2026-01-10T10:{:02}:{:02}Z sw2 app - - - n{index:04} some padding to fill segments\n",
        index / 60,
        index % 60
    )
}

/// Starts a server, stores the three devices' lines and waits until `sw2`
/// has compressed segments.
pub(crate) fn populated(sandbox: &Sandbox) -> Server {
    let server = Server::start(sandbox, config);
    let sw2: String = (0..SW2_LINES).map(sw2_line).collect();
    send_tcp(server.ports.tcp, sw2.as_bytes());
    let core: String = (0..CORE_LINES)
        .map(|index| format!("<13>1 2026-01-11T08:00:0{index}Z core kernel - - - core{index}\n"))
        .collect();
    send_tcp(server.ports.tcp, core.as_bytes());
    let now = utc_now();
    for index in 0..SW1_LINES {
        send_udp(
            server.ports.udp,
            format!("<86>1 {now} sw1 sshd - - - session s{index:02}").as_bytes(),
        );
    }
    let auth_lines = SW2_LINES / 10 + SW1_LINES;
    let total = (SW2_LINES + CORE_LINES + SW1_LINES + auth_lines) as u64;
    server.wait_count("sinkd_store_lines_written_total", total);
    let stream = server.data_dir.join("sw2/messages");
    let deadline = Instant::now() + PATIENCE;
    while !has_zst(&stream) {
        assert!(Instant::now() < deadline, "no .zst segment in {stream:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

/// Checks a JSON device listing (`sinkd dir --json`, `GET
/// /api/v1/devices`) of what [`populated`] stored.
pub(crate) fn assert_populated_listing(json: &serde_json::Value) {
    let names: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|device| device["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["core", "sw1", "sw2"]);
    assert_eq!(
        json[2]["files"],
        serde_json::json!(["auth.log", "messages"])
    );
    assert!(json[2]["bytes"].as_u64().unwrap() > 4096);
    assert!(json[2]["last_modified"].as_str().unwrap().ends_with('Z'));
}

/// Now as RFC 3339 UTC seconds, without a date library in the tests.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let days = (secs / 86_400) as i64;
    let (year, month, day) = civil_from_days(days);
    let rest = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn has_zst(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| entry.file_name().to_string_lossy().ends_with(".log.zst"))
    })
}

/// Runs `sinkd ARGS --data-dir DIR` (TZ=UTC, so local times are UTC).
pub(crate) fn sinkd(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(sinkd_bin())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("TZ", "UTC")
        .output()
        .expect("run sinkd")
}

/// Stdout of a run that must succeed, as lines.
fn lines(output: &Output) -> Vec<String> {
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The `nNNNN` numbers of `sw2` lines shown.
fn numbers(lines: &[String]) -> Vec<usize> {
    lines
        .iter()
        .map(|line| {
            let at = line
                .find(" n")
                .unwrap_or_else(|| panic!("no number in {line:?}"));
            line[at + 2..at + 6].parse().expect("four digits")
        })
        .collect()
}

#[test]
fn dir_lists_devices_and_their_files() {
    let sandbox = Sandbox::new();
    let server = populated(&sandbox);
    let data_dir = sandbox.data_dir();

    let table = lines(&sinkd(&data_dir, &["dir"]));
    assert!(table[0].contains("DEVICE"), "{table:?}");
    let devices: Vec<&str> = table[1..]
        .iter()
        .map(|row| row.split_whitespace().last().unwrap())
        .collect();
    assert_eq!(devices, ["core", "sw1", "sw2"]);

    // --config FILE reads the file's data_dir.
    let by_config = Command::new(sinkd_bin())
        .args(["dir", "--json", "--config"])
        .arg(sandbox.config_path())
        .output()
        .expect("run sinkd");
    let json: serde_json::Value = serde_json::from_slice(&by_config.stdout)
        .unwrap_or_else(|error| panic!("{error}: {by_config:?}"));
    assert_populated_listing(&json);

    let files = lines(&sinkd(&data_dir, &["dir", "sw2"]));
    let names: Vec<&str> = files[1..]
        .iter()
        .map(|row| row.split_whitespace().last().unwrap())
        .collect();
    assert_eq!(names, ["auth.log", "messages"]);
    let json: serde_json::Value =
        serde_json::from_slice(&sinkd(&data_dir, &["dir", "sw2", "--json"]).stdout).unwrap();
    assert_eq!(json[1]["name"], "messages");
    assert!(json[1]["segments"].as_u64().unwrap() >= 2);

    let unknown = sinkd(&data_dir, &["dir", "sw3"]);
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("unknown device \"sw3\"; closest: sw1, sw2, core"),
        "{stderr}"
    );
    let missing = sinkd(&sandbox.root().join("nowhere"), &["dir"]);
    assert_eq!(missing.status.code(), Some(2));
    server.stop().assert_clean_exit();
}

#[test]
fn show_filters_stored_lines_while_running_and_after_stop() {
    let sandbox = Sandbox::new();
    let server = populated(&sandbox);
    let data_dir = sandbox.data_dir();
    let show = |args: &[&str]| lines(&sinkd(&data_dir, &[&["show"], args].concat()));

    // Everything, in order, across closed and active segments.
    let all = show(&["sw2"]);
    assert_eq!(numbers(&all), (0..SW2_LINES).collect::<Vec<_>>());
    assert_eq!(show(&["sw2/messages"]), all);
    let auth = show(&["sw2/auth.log"]);
    assert_eq!(
        numbers(&auth),
        (0..SW2_LINES).step_by(10).collect::<Vec<_>>()
    );
    assert_eq!(show(&["core"]).len(), CORE_LINES);

    // Time bounds: --since inclusive, --until exclusive, three spellings.
    let minute = (60..120).collect::<Vec<_>>();
    for (since, until) in [
        ("2026-01-10T10:01:00Z", "2026-01-10T10:02:00Z"),
        ("2026-01-10T11:01:00+01:00", "2026-01-10T11:02:00+01:00"),
        ("2026-01-10 10:01", "2026-01-10 10:02:00"),
    ] {
        let shown = show(&["sw2", "--since", since, "--until", until]);
        assert_eq!(numbers(&shown), minute, "{since} .. {until}");
    }
    assert!(show(&["sw2", "--since", "2026-01-11"]).is_empty());
    // Durations ago: sw1's lines carry the current time, sw2's are old.
    assert_eq!(show(&["sw1", "--since", "1h"]).len(), SW1_LINES);
    assert_eq!(show(&["sw1", "--since", "1d", "--until", "2h"]).len(), 0);
    assert!(show(&["sw2", "--since", "7d"]).is_empty());

    // Priority, in the device's syntax.
    assert_eq!(show(&["sw2", "--priority", "auth.*"]), auth);
    assert_eq!(
        show(&["sw2", "--priority", "*.=info"]).len(),
        SW2_LINES - auth.len()
    );
    assert_eq!(
        show(&["sw1", "--priority", "authpriv.info"]).len(),
        SW1_LINES
    );

    // Grep: a literal and a regular expression.
    assert_eq!(numbers(&show(&["sw2", "--grep", "n0042"])), [42]);
    assert_eq!(
        numbers(&show(&["sw2", "--grep", "n01[0-9]5 "])),
        (105..200).step_by(10).collect::<Vec<_>>()
    );

    // All together.
    let combined = show(&[
        "sw2",
        "--since",
        "2026-01-10T10:01:00Z",
        "--until",
        "2026-01-10T10:03:00Z",
        "--priority",
        "auth.notice",
        "--grep",
        "n01[2-9]0",
    ]);
    assert_eq!(numbers(&combined), [120, 130, 140, 150, 160, 170]);

    // --tail keeps the last N that pass.
    assert_eq!(
        numbers(&show(&["sw2", "--tail", "5"])),
        [295, 296, 297, 298, 299]
    );
    assert_eq!(
        numbers(&show(&["sw2", "--tail", "3", "--priority", "auth.*"])),
        [270, 280, 290]
    );

    // --json: the keys of `sinkd parse`, plus the device.
    let output = sinkd(&data_dir, &["show", "sw2", "--json", "--tail", "2"]);
    let objects = crate::support::json_lines(&output);
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[0]["device"], "sw2");
    assert_eq!(objects[0]["hostname"], "sw2");
    assert_eq!(objects[0]["app_name"], "app");
    assert_eq!(objects[0]["format"], "rfc5424");
    assert_eq!(objects[0]["facility"], 1);
    assert_eq!(objects[0]["severity"], 6);
    assert!(objects[0]["timestamp"]
        .as_str()
        .unwrap()
        .starts_with("2026-01-10T10:04:58"));
    assert!(objects[1]["msg"].as_str().unwrap().starts_with("n0299 "));

    // Unknown names: exit 2 and the closest existing ones.
    for (target, expected) in [
        ("sw3", "unknown device \"sw3\"; closest: sw1, sw2, core"),
        ("sw2/auth", "\"auth\"; closest: auth.log, messages"),
    ] {
        let output = sinkd(&data_dir, &["show", target]);
        assert_eq!(output.status.code(), Some(2), "{target}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{target}: {stderr}");
    }
    for bad in [
        &["sw2", "--since", "yesterday"][..],
        &["sw2", "--priority", "nonsense.*"],
        &["sw2", "--grep", "("],
    ] {
        let output = sinkd(&data_dir, &[&["show"], bad].concat());
        assert_eq!(output.status.code(), Some(2), "{bad:?}: {output:?}");
    }

    // Stopped: the same reads, nothing written by them.
    server.stop().assert_clean_exit();
    let before = files_under(&data_dir);
    assert_eq!(show(&["sw2"]), all);
    assert_eq!(numbers(&show(&["sw2", "--tail", "1"])), [299]);
    assert_eq!(lines(&sinkd(&data_dir, &["dir"])).len(), 4);
    assert_eq!(files_under(&data_dir), before);
}

#[test]
fn show_reads_past_a_truncated_segment_and_names_it() {
    let sandbox = Sandbox::new();
    let server = populated(&sandbox);
    server.stop().assert_clean_exit();
    let data_dir = sandbox.data_dir();
    let stream = data_dir.join("sw2/messages");
    let mut compressed: Vec<PathBuf> = std::fs::read_dir(&stream)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().ends_with(".log.zst"))
        .collect();
    compressed.sort();
    let damaged = &compressed[0];
    let length = std::fs::metadata(damaged).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(damaged)
        .unwrap()
        .set_len(length / 2)
        .unwrap();

    let output = sinkd(&data_dir, &["show", "sw2"]);
    let shown = numbers(&lines(&output));
    // The lines before the damage and every later segment's, in order.
    assert!(shown.len() < SW2_LINES, "{}", shown.len());
    assert!(shown.windows(2).all(|pair| pair[0] < pair[1]));
    assert_eq!(shown.last(), Some(&(SW2_LINES - 1)));
    let gap = (0..shown.len()).find(|&at| shown[at] != at).unwrap();
    assert_eq!(
        shown[gap..],
        (shown[gap]..SW2_LINES).collect::<Vec<_>>()[..]
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("sinkd: {}: damaged after", damaged.display()))
            && stderr.contains("rest skipped"),
        "{stderr}"
    );
}
