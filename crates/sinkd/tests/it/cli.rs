//! `sinkd parse`, `sinkd priority` and `sinkd check-config` end to end: the JSON shapes of
//! docs/specs/cli.md, framing options, strict mode and exit codes.

use crate::support::{json_lines, run_with_stdin, sinkd_bin};
use serde_json::json;

const RECEIVED: &str = "--received=2026-01-01T00:00:05+01:00";

#[test]
fn parse_prints_design_keys_for_each_format() {
    let input = b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xef\xbb\xbf'su root' failed\n\
<165>1 2003-10-11T22:14:15.003Z host evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"App\\\"x\\\"\"] An event\n\
<34>Dec 31 23:59:58 mymachine su: 'su root' failed\n\
<13>just a message\n\
no pri at all\n";
    let output = run_with_stdin(&["parse", RECEIVED], input);
    assert!(output.status.success(), "{output:?}");
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 5);
    assert_eq!(
        lines[0],
        json!({"format": "rfc5424", "facility": 4, "severity": 2, "version": 1,
               "timestamp": "2003-10-11T22:14:15.003Z", "hostname": "mymachine.example.com",
               "app_name": "su", "procid": null, "msgid": "ID47", "structured_data": null,
               "msg": "'su root' failed"})
    );
    assert_eq!(
        lines[1]["structured_data"],
        json!([{"id": "exampleSDID@32473", "params": [["iut", "3"], ["eventSource", "App\"x\""]]}])
    );
    // A December message received on 1 January belongs to the previous year.
    assert_eq!(lines[2]["format"], "rfc3164");
    assert_eq!(lines[2]["timestamp"], "2025-12-31T23:59:58+01:00");
    assert_eq!(lines[2]["hostname"], "mymachine");
    assert_eq!(lines[3]["format"], "bsd");
    assert_eq!(lines[3]["msg"], "just a message");
    assert_eq!(
        lines[4],
        json!({"format": "unparsed", "facility": 1, "severity": 5, "version": null,
        "timestamp": null, "hostname": null, "app_name": null, "procid": null, "msgid": null,
        "structured_data": null, "msg": "no pri at all"})
    );
}

#[test]
fn parse_octet_counting_carries_newlines() {
    let message = b"<13>1 - host app - - - line one\nline two";
    let mut input = format!("{} ", message.len()).into_bytes();
    input.extend_from_slice(message);
    input.extend_from_slice(b"5 <13>x");
    let output = run_with_stdin(&["parse", "--framing", "octet-counting", RECEIVED], &input);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 2, "{output:?}");
    assert_eq!(lines[0]["msg"], "line one\nline two");
    assert_eq!(lines[1]["msg"], "x");
}

#[test]
fn parse_strict_reports_and_continues() {
    let input = b"<34>Oct 11 22:14:15 mymachine su: x\n<34>1 2003-13-11T22:14:15Z h a - - -\n<34>1 - h a - - - fine\n";
    let output = run_with_stdin(&["parse", "--strict"], input);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0]["error"].as_str().unwrap().contains("VERSION"),
        "{lines:?}"
    );
    let error = lines[1]["error"].as_str().unwrap();
    assert!(
        error.contains("TIMESTAMP") && error.contains("column 12"),
        "{error}"
    );
    assert_eq!(lines[2]["msg"], "fine");
}

#[test]
fn parse_bad_octet_count_is_reported() {
    let output = run_with_stdin(
        &["parse", "--framing", "octet-counting"],
        b"2000000000 <13>x",
    );
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0]["error"].as_str().unwrap().contains("2000000000"),
        "{lines:?}"
    );
    assert!(!output.status.success());
}

#[test]
fn priority_prints_the_table() {
    let output = run_with_stdin(&["priority", "*.*;auth.!*;kern.=debug"], b"");
    assert!(output.status.success());
    let table: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let object = table.as_object().unwrap();
    assert_eq!(object.len(), 24);
    assert_eq!(table["auth"], json!([]));
    assert_eq!(table["user"].as_array().unwrap().len(), 8);
    assert_eq!(table["local7"][0], "emerg");
    // Facilities appear in numeric order, facility 15 under its number.
    let text = String::from_utf8_lossy(&output.stdout);
    let positions: Vec<usize> = [
        "\"kern\"",
        "\"user\"",
        "\"console\"",
        "\"15\"",
        "\"local0\"",
        "\"local7\"",
    ]
    .iter()
    .map(|key| {
        text.find(key)
            .unwrap_or_else(|| panic!("{key} missing in {text}"))
    })
    .collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
}

#[test]
fn priority_with_templates() {
    let output = run_with_stdin(
        &[
            "priority",
            "template sec",
            "--template",
            "sec=auth.*;security.warning",
        ],
        b"",
    );
    assert!(output.status.success(), "{output:?}");
    let table: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(table["auth"].as_array().unwrap().len(), 8);
    assert_eq!(
        table["security"],
        json!(["emerg", "alert", "crit", "err", "warning"])
    );
    assert_eq!(table["user"], json!([]));
}

#[test]
fn bad_priority_exits_2_naming_the_expression() {
    let output = run_with_stdin(&["priority", "auth.*;kern.bogus"], b"");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("kern.bogus") && stderr.contains("expression 2"),
        "{stderr}"
    );
    let output = run_with_stdin(&["priority", "template nope"], b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope"));
}

#[test]
fn printing_into_a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt as _;
    // Enough output to fill a pipe (2,000 sinks), printed by commands whose
    // reader has already gone.
    let dir = tempfile::tempdir().expect("temporary directory");
    let sinks: String = (0..2000)
        .map(|n| format!("[[sink]]\ntarget = \"file {{device}}/file{n}\"\npriority = \"*.*\"\n"))
        .collect();
    let config = dir.path().join("many.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n{sinks}",
            dir.path().join("data").display()
        ),
    )
    .expect("write configuration");
    let big_input: String = (0..20_000).map(|n| format!("<13>line {n}\n")).collect();
    for args in [
        vec![String::from("check-config"), config.display().to_string()],
        vec![String::from("parse")],
    ] {
        let mut child = std::process::Command::new(sinkd_bin())
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run sinkd");
        drop(child.stdout.take());
        let mut stdin = child.stdin.take().expect("stdin");
        // parse reads it; check-config does not, and its end is closed.
        let _ = std::io::Write::write_all(&mut stdin, big_input.as_bytes());
        drop(stdin);
        let output = child.wait_with_output().expect("wait for sinkd");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(
            output.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {output:?}"
        );
    }
}
